// Image transforms: resize against torch.nn.functional.interpolate, centerCrop against
// torchvision's rule (reference.json, made by make_reference.py); random ones by their properties.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { data } from "../../../engine/index.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8")).transforms;
const T = data.transforms;
const img = () => gb.tensor(Float32Array.from(ref.input.values), { shape: ref.input.shape });

function expectClose(got: ArrayLike<number>, want: number[], what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) if (!(Math.abs(got[i] - want[i]) <= 1e-6 + 1e-5 * Math.abs(want[i]))) expect.fail(`${what}: element ${i} is ${got[i]}, PyTorch gives ${want[i]}`);
}

describe("resize matches F.interpolate (align_corners=False)", () => {
  for (const c of ref.resize) {
    it(`${c.mode} 7x9 -> ${c.size.join("x")}`, () => {
      const y = T.resize(img(), c.size, { mode: c.mode });
      expect(y.shape).toEqual([2, 3, ...c.size]);
      expectClose(y.dataSync(), c.output, `${c.mode} ${c.size}`);
    });
  }
  it("single images, gradients, errors", async () => {
    const x = img().index(0).requiresGrad_();
    const y = T.resize(x, 14);
    expect(y.shape).toEqual([3, 14, 14]);
    await y.sum().backward();
    expect(x.grad!.shape).toEqual([3, 7, 9]);
    expect(() => T.resize(gb.zeros([7, 9]), 4)).toThrow(/resize: expected images \[N, C, H, W\] or \[C, H, W\], got 7x9/);
  });
});

describe("crops, padding, flips", () => {
  for (const c of ref.centerCrop) {
    it(`centerCrop ${c.size.join("x")} (top ${c.top}, left ${c.left})`, () => {
      expectClose(T.centerCrop(img(), c.size).dataSync(), c.output, "centerCrop");
    });
  }
  it("centerCrop pads images smaller than the crop; pad adds borders", () => {
    const y = T.centerCrop(gb.ones([1, 1, 2, 2]), 4);
    expect(y.toArraySync()).toEqual([[[[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]]]);
    const p = T.pad(gb.ones([1, 2, 2]), [1, 0, 2, 1], 5);
    expect(p.shape).toEqual([1, 3, 5]);
    expect(p.toArraySync()).toEqual([[[5, 1, 1, 5, 5], [5, 1, 1, 5, 5], [5, 5, 5, 5, 5]]]); // left 1, top 0, right 2, bottom 1
  });
  it("randomHorizontalFlip: p=1 flips all, p=0 none, p=0.5 each image independently, seeded", () => {
    const x = img();
    expect([...T.randomHorizontalFlip(x, 1).dataSync()]).toEqual([...x.flip(3).dataSync()]);
    expect([...T.randomHorizontalFlip(x, 0).dataSync()]).toEqual([...x.dataSync()]);
    const many = gb.arange(0, 64 * 3, 1, { dtype: "float32" }).reshape([64, 1, 1, 3]);
    const f = T.randomHorizontalFlip(many, 0.5, { seed: 4 }).reshape([64, 3]).toArraySync() as number[][];
    const flipped = f.filter((r) => r[0] > r[2]).length;
    expect(flipped).toBeGreaterThan(16);
    expect(flipped).toBeLessThan(48);
    expect(T.randomHorizontalFlip(many, 0.5, { seed: 4 }).reshape([64, 3]).toArraySync()).toEqual(f);
  });
  it("randomCrop: windows of the padded image, independent per image", () => {
    const x = gb.arange(0, 4 * 36, 1, { dtype: "float32" }).reshape([4, 1, 6, 6]);
    const y = T.randomCrop(x, 4, { padding: 1, seed: 2 });
    expect(y.shape).toEqual([4, 1, 4, 4]);
    const padded = T.pad(x, 1).toArraySync() as number[][][][];
    const crops = y.toArraySync() as number[][][][];
    const offsets = crops.map((c, i) => {
      for (let t = 0; t <= 4; t++) for (let l = 0; l <= 4; l++) {
        if (c[0].every((row, r) => row.every((v, k) => v === padded[i][0][t + r][l + k]))) return `${t},${l}`;
      }
      return null;
    });
    expect(offsets.every((o) => o !== null)).toBe(true);
    expect(new Set(offsets).size).toBeGreaterThan(1);
    expect(() => T.randomCrop(x, 9)).toThrow(/randomCrop: crop 9x9 is larger than the \(padded\) images 6x6/);
  });
  it("compose, and a DataLoader transform", () => {
    const aug = T.compose((x) => T.pad(x, 2), (x) => T.centerCrop(x, 3));
    expect(aug(gb.ones([2, 1, 5, 5])).shape).toEqual([2, 1, 3, 3]);
    const ds = new data.TensorDataset(gb.ones([10, 1, 8, 8]), gb.arange(0, 10, 1, { dtype: "int32" }));
    const l = new data.DataLoader(ds, { batchSize: 4, transform: ([x, y]) => [T.resize(x, 16), y] });
    expect([...l].map(([x]) => x.shape)).toEqual([[4, 1, 16, 16], [4, 1, 16, 16], [2, 1, 16, 16]]);
  });
});
