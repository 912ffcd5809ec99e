import { describe, expect, it } from "vitest";
import { inflateSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as gb from "../../engine/index.js";
import { encodePng, encodePngSync, imageGrid, gridPixels, colormapLut } from "../../widgets/index.js";
import { crc32 } from "../../widgets/png.js";

/** A minimal independent PNG reader: chunk CRCs, IHDR, zlib inflate, filter-0 scanlines. */
function readPng(png: Uint8Array) {
  expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let o = 8, width = 0, height = 0, colorType = 0;
  const idat: Uint8Array[] = [];
  const types: string[] = [];
  while (o < png.length) {
    const len = dv.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    types.push(type);
    const data = png.subarray(o + 8, o + 8 + len);
    // CRC computed with node's zlib.crc32 when present, else ours
    const want = dv.getUint32(o + 8 + len);
    expect(crc32(png, o + 4, o + 8 + len)).toBe(want);
    if (type === "IHDR") {
      width = new DataView(data.buffer, data.byteOffset).getUint32(0);
      height = new DataView(data.buffer, data.byteOffset).getUint32(4);
      colorType = data[9];
    }
    if (type === "IDAT") idat.push(data);
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const ch = colorType === 0 ? 1 : colorType === 2 ? 3 : 4;
  const pixels = new Uint8Array(width * height * ch);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * ch + 1)]).toBe(0);
    pixels.set(raw.subarray(y * (width * ch + 1) + 1, (y + 1) * (width * ch + 1)), y * width * ch);
  }
  return { width, height, ch, pixels, types };
}

describe("PNG encoder", () => {
  const pixels = new Uint8Array(7 * 5 * 3).map((_, i) => (i * 37) % 256);
  const img = { width: 7, height: 5, channels: 3 as const, pixels };

  it("compressed (node:zlib) and stored (uncompressed deflate) PNGs decode to the same pixels", async () => {
    for (const png of [await encodePng(img), encodePngSync(img)]) {
      const r = readPng(png);
      expect(r.types).toEqual(["IHDR", "IDAT", "IEND"]);
      expect([r.width, r.height, r.ch]).toEqual([7, 5, 3]);
      expect(Array.from(r.pixels)).toEqual(Array.from(pixels));
    }
  });

  it("stored deflate spans several 64 KiB blocks", () => {
    const big = { width: 300, height: 100, channels: 3 as const, pixels: new Uint8Array(300 * 100 * 3).map((_, i) => i % 251) };
    const r = readPng(encodePngSync(big));
    expect(Array.from(r.pixels.subarray(0, 1000))).toEqual(Array.from(big.pixels.subarray(0, 1000)));
    expect(r.pixels.length).toBe(big.pixels.length);
  });

  it("decodes with Pillow (an independent decoder)", async () => {
    if (!existsSync("/usr/bin/python3")) return;
    const dir = mkdtempSync(join(tmpdir(), "gbpng-"));
    const a = join(dir, "a.png"), b = join(dir, "b.png");
    writeFileSync(a, await encodePng(img));
    writeFileSync(b, encodePngSync({ width: 4, height: 3, channels: 1, pixels: Uint8Array.from([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 255]) }));
    const out = execFileSync("/usr/bin/python3", ["-c", "import sys,json;from PIL import Image\nr=[]\nfor f in sys.argv[1:]:\n im=Image.open(f);r.append([im.mode,im.size,list(im.tobytes())])\nprint(json.dumps(r))", a, b], { encoding: "utf8" });
    const [ra, rb] = JSON.parse(out);
    expect(ra[0]).toBe("RGB");
    expect(ra[1]).toEqual([7, 5]);
    expect(ra[2]).toEqual(Array.from(pixels));
    expect(rb[0]).toBe("L");
    expect(rb[2]).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 255]);
  });

  it("rejects pixel buffers of the wrong size", () => {
    expect(() => encodePngSync({ width: 2, height: 2, channels: 3, pixels: new Uint8Array(5) })).toThrow(/encodePng: 5 bytes do not fill a 2x2 image with 3 channels/);
  });
});

describe("imageGrid", () => {
  it("tiles [N,1,H,W] digits with padding; every tile's pixels land in place", async () => {
    // 5 "digits" of 3x4, tile i filled with value i/4
    const vals: number[] = [];
    for (let i = 0; i < 5; i++) for (let p = 0; p < 12; p++) vals.push(i / 4);
    const x = gb.tensor(vals).reshape([5, 1, 3, 4]);
    const g = await gridPixels(x, { nrow: 3, padding: 1, scale: 1 });
    expect([g.count, g.nrow, g.rows, g.tileH, g.tileW]).toEqual([5, 3, 2, 3, 4]);
    expect([g.width, g.height]).toEqual([3 * 4 + 4 * 1, 2 * 3 + 3 * 1]);
    for (let i = 0; i < 5; i++) {
      const ox = 1 + (i % 3) * 5, oy = 1 + Math.floor(i / 3) * 4;
      for (let yy = 0; yy < 3; yy++)
        for (let xx = 0; xx < 4; xx++) {
          const o = ((oy + yy) * g.width + ox + xx) * 3;
          expect(g.pixels[o]).toBe(Math.round((i / 4) * 255));
        }
    }
    // padding is white (padValue 1)
    expect(g.pixels[0]).toBe(255);
  });

  it("bundle: image/png (decodable) + <img> HTML + text", async () => {
    const grid = imageGrid(gb.rand([6, 8, 8]), { nrow: 3, labels: [1, 2, 3, 4, 5, 6], title: "digits" });
    const b = await grid.toMimeBundle();
    expect(Object.keys(b).sort()).toEqual(["image/png", "text/html", "text/plain"]);
    const png = Buffer.from(b["image/png"] as string, "base64");
    const r = readPng(new Uint8Array(png));
    const { grid: gp } = await grid.render();
    expect([r.width, r.height]).toEqual([gp.width, gp.height]);
    expect(b["text/html"]).toContain("<img src=\"data:image/png;base64,");
    expect(b["text/html"]).toContain("row 1: 1 · 2 · 3");
    expect(b["text/plain"]).toBe("<ImageGrid 6 images of 8×8, 3 per row: digits>");
  });

  it("filters [out,in,k,k] become out·in tiles; colormaps map values", async () => {
    const w = gb.randn([4, 2, 3, 3]);
    const g = await gridPixels(w, { normalize: "symmetric", colormap: "rdbu", scale: 1 });
    expect(g.count).toBe(8);
    const lut = colormapLut("viridis");
    expect([lut[0], lut[1], lut[2]]).toEqual([0x44, 0x01, 0x54]);
    expect([lut[765], lut[766], lut[767]]).toEqual([0xfd, 0xe7, 0x25]);
    await expect(gridPixels(gb.zeros([2, 2, 2, 2, 2]))).rejects.toThrow(/imageGrid: expected an image tensor of 2, 3 or 4 dimensions/);
  });

  it("RGB [N,3,H,W] images keep their colours", async () => {
    const x = gb.tensor([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]).reshape([1, 3, 2, 2]); // R, G, B planes: pixel 0 red, 1 green, 2 blue, 3 black
    const g = await gridPixels(x, { scale: 1 });
    expect(Array.from(g.pixels.subarray(0, 3))).toEqual([255, 0, 0]);
    expect(Array.from(g.pixels.subarray(3, 6))).toEqual([0, 255, 0]);
    expect(Array.from(g.pixels.subarray(6, 9))).toEqual([0, 0, 255]);
    expect(Array.from(g.pixels.subarray(9, 12))).toEqual([0, 0, 0]);
  });
});
