// Generates the kernelspec logos (a loss curve on TypeScript blue) as PNGs,
// with a minimal PNG encoder: node kernel/kernelspec/make-logos.mjs
import { deflateSync } from "node:zlib";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) raw.set(pixel(x, y), y * (size * 4 + 1) + 1 + x * 4);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}
function logo(size) {
  const S = 4; // supersampling
  return png(size, (x, y) => {
    let inside = 0, line = 0;
    for (let i = 0; i < S; i++)
      for (let j = 0; j < S; j++) {
        const u = (x + (i + 0.5) / S) / size, v = (y + (j + 0.5) / S) / size;
        const r = 0.18, dx = Math.max(r - u, 0, u - (1 - r)), dy = Math.max(r - v, 0, v - (1 - r));
        if (dx * dx + dy * dy <= r * r) inside++;
        // loss curve: v = 0.74 - 0.54 * exp(-5 (u - 0.15)), drawn between u = 0.15 and 0.85
        if (u > 0.14 && u < 0.86) {
          const cv = 0.74 - 0.54 * Math.exp(-5 * (u - 0.15));
          if (Math.abs(v - cv) < 0.045) line++;
        }
        // axes
        if ((Math.abs(u - 0.15) < 0.03 && v > 0.15 && v < 0.85) || (Math.abs(v - 0.85) < 0.03 && u > 0.15 && u < 0.87)) line++;
      }
    const a = inside / (S * S), l = Math.min(1, line / (S * S));
    const blue = [49, 120, 198], white = [255, 255, 255];
    const c = blue.map((b, k) => Math.round(b * (1 - l) + white[k] * l));
    return [...c, Math.round(255 * a)];
  });
}
for (const size of [32, 64]) writeFileSync(join(here, `logo-${size}x${size}.png`), logo(size));
