/**
 * A small PNG encoder (8-bit grayscale, RGB or RGBA) and colormaps.
 *
 * Compression: in Node, `node:zlib` deflate (loaded by dynamic import, so this file
 * stays browser-safe); in a browser, its CompressionStream (zlib too); elsewhere, or with
 * `encodePngSync`, zlib "stored" blocks (valid, uncompressed deflate) that every PNG decoder reads.
 */
import { base64, isNode } from "./util.js";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function adler32(bytes: Uint8Array): number {
  let a = 1, b = 0;
  const MOD = 65521;
  for (let i = 0; i < bytes.length; ) {
    const end = Math.min(i + 3800, bytes.length);
    for (; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= MOD;
    b %= MOD;
  }
  return ((b << 16) | a) >>> 0;
}

/** A zlib stream of stored (uncompressed) deflate blocks. */
export function zlibStored(data: Uint8Array): Uint8Array {
  const nBlocks = Math.max(1, Math.ceil(data.length / 65535));
  const out = new Uint8Array(2 + data.length + nBlocks * 5 + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let o = 2;
  for (let b = 0; b < nBlocks; b++) {
    const start = b * 65535;
    const len = Math.min(65535, data.length - start);
    out[o++] = b === nBlocks - 1 ? 1 : 0;
    out[o++] = len & 0xff;
    out[o++] = len >>> 8;
    out[o++] = ~len & 0xff;
    out[o++] = (~len >>> 8) & 0xff;
    out.set(data.subarray(start, start + len), o);
    o += len;
  }
  const ad = adler32(data);
  out[o++] = ad >>> 24;
  out[o++] = (ad >>> 16) & 0xff;
  out[o++] = (ad >>> 8) & 0xff;
  out[o++] = ad & 0xff;
  return out;
}

export interface PngImage {
  width: number;
  height: number;
  /** 1 (gray), 3 (RGB) or 4 (RGBA). */
  channels: 1 | 3 | 4;
  /** Row-major 8-bit pixels, `width * height * channels` of them. */
  pixels: Uint8Array;
}

function rawScanlines(img: PngImage): Uint8Array {
  const { width, height, channels, pixels } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0)
    throw new Error(`encodePng: bad image size ${width}x${height}`);
  if (pixels.length !== width * height * channels)
    throw new Error(`encodePng: ${pixels.length} bytes do not fill a ${width}x${height} image with ${channels} channels`);
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter: none
    raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  return raw;
}

function assemble(img: PngImage, idat: Uint8Array): Uint8Array {
  const colorType = img.channels === 1 ? 0 : img.channels === 3 ? 2 : 6;
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, img.width);
  dv.setUint32(4, img.height);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  const chunks: [string, Uint8Array][] = [["IHDR", ihdr], ["IDAT", idat], ["IEND", new Uint8Array(0)]];
  const total = 8 + chunks.reduce((s, [, d]) => s + 12 + d.length, 0);
  const out = new Uint8Array(total);
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
  let o = 8;
  const odv = new DataView(out.buffer);
  for (const [type, data] of chunks) {
    odv.setUint32(o, data.length);
    for (let i = 0; i < 4; i++) out[o + 4 + i] = type.charCodeAt(i);
    out.set(data, o + 8);
    odv.setUint32(o + 8 + data.length, crc32(out, o + 4, o + 8 + data.length));
    o += 12 + data.length;
  }
  return out;
}

/** Encodes a PNG with stored (uncompressed) deflate — synchronous, works everywhere. */
export function encodePngSync(img: PngImage): Uint8Array {
  return assemble(img, zlibStored(rawScanlines(img)));
}

/** zlib's deflate through the platform's CompressionStream (browsers, Web Workers), or null without one. */
async function deflateStream(raw: Uint8Array): Promise<Uint8Array | null> {
  const CS = (globalThis as { CompressionStream?: new (format: string) => TransformStream<Uint8Array, Uint8Array> }).CompressionStream;
  if (!CS) return null;
  const stream = new Blob([raw as BlobPart]).stream().pipeThrough(new CS("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Encodes a PNG, compressed with node:zlib or a CompressionStream where available (else as `encodePngSync`). */
export async function encodePng(img: PngImage): Promise<Uint8Array> {
  const raw = rawScanlines(img);
  let idat: Uint8Array | null = null;
  if (isNode()) {
    try {
      const zlib: any = await import("node:zlib");
      const z: Uint8Array = zlib.deflateSync(raw, { level: 6 });
      idat = new Uint8Array(z.buffer, z.byteOffset, z.byteLength);
    } catch {
      idat = null;
    }
  } else {
    try {
      idat = await deflateStream(raw);
    } catch {
      idat = null;
    }
  }
  return assemble(img, idat ?? zlibStored(raw));
}

/** A PNG as a `data:` URI. */
export function pngDataUri(png: Uint8Array): string {
  return `data:image/png;base64,${base64(png)}`;
}

// ---- colormaps ----

export type ColormapName = "gray" | "viridis" | "magma" | "rdbu" | "hot";

// Key colours, low to high, evenly spaced; interpolated linearly.
const STOPS: Record<Exclude<ColormapName, "gray">, string[]> = {
  viridis: ["440154", "472c7a", "3b518b", "2c718e", "21908d", "27ad81", "5cc863", "aadc32", "fde725"],
  magma: ["000004", "1c1044", "4f127b", "812581", "b5367a", "e55064", "fb8761", "fec287", "fcfdbf"],
  // Diverging, blue (low/negative) -> white -> red (high/positive): weights and filters.
  rdbu: ["053061", "2166ac", "4393c3", "92c5de", "f7f7f7", "f4a582", "d6604d", "b2182b", "67001f"],
  hot: ["0b0000", "4c0000", "8e0000", "d00000", "ff1300", "ff5500", "ff9700", "ffd800", "ffffff"],
};

const LUTS = new Map<string, Uint8Array>();

/** 256 RGB entries of a colormap. */
export function colormapLut(name: ColormapName): Uint8Array {
  let lut = LUTS.get(name);
  if (lut) return lut;
  lut = new Uint8Array(256 * 3);
  if (name === "gray") {
    for (let i = 0; i < 256; i++) lut[i * 3] = lut[i * 3 + 1] = lut[i * 3 + 2] = i;
  } else {
    const stops = STOPS[name];
    if (!stops) throw new Error(`colormap: unknown colormap '${name}' (gray, viridis, magma, rdbu, hot)`);
    const rgb = stops.map((h) => [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)]);
    for (let i = 0; i < 256; i++) {
      const t = (i / 255) * (rgb.length - 1);
      const k = Math.min(rgb.length - 2, Math.floor(t));
      const f = t - k;
      for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(rgb[k][c] * (1 - f) + rgb[k + 1][c] * f);
    }
  }
  LUTS.set(name, lut);
  return lut;
}

/** Plotly colorscale for a colormap name ([[0, "rgb(..)"], ..., [1, ...]]). */
export function plotlyColorscale(name: ColormapName, steps = 9): [number, string][] {
  const lut = colormapLut(name);
  const out: [number, string][] = [];
  for (let i = 0; i < steps; i++) {
    const j = Math.round((i / (steps - 1)) * 255);
    out.push([i / (steps - 1), `rgb(${lut[j * 3]},${lut[j * 3 + 1]},${lut[j * 3 + 2]})`]);
  }
  return out;
}
