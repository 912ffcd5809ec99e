// Datasets, DataLoader, randomSplit, toy data and the IDX reader (fixtures written by make_reference.py).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { data } from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));
const fixture = (f: string) => new URL(`./fixtures/${f}`, import.meta.url).pathname;

const arr = (t: Tensor) => [...t.dataSync()];

function toyDataset(n: number) {
  const x = gb.arange(0, n * 3, 1, { dtype: "float32" }).reshape([n, 3]);
  const y = gb.arange(0, n, 1, { dtype: "int32" });
  return new data.TensorDataset(x, y);
}

describe("TensorDataset / Subset / ConcatDataset", () => {
  it("indexes rows of all tensors", () => {
    const ds = toyDataset(5);
    expect(ds.length).toBe(5);
    const [x, y] = ds.get(2);
    expect(x.shape).toEqual([3]);
    expect(arr(x)).toEqual([6, 7, 8]);
    expect(y.shape).toEqual([]);
    expect(arr(y)).toEqual([2]);
    expect(arr(ds.get(-1)[1])).toEqual([4]);
    expect(() => ds.get(5)).toThrow(/TensorDataset.get: index 5 is out of range for a dataset of 5 samples/);
    expect(() => new data.TensorDataset(gb.zeros([3, 2]), gb.zeros([4]))).toThrow(/size mismatch.*3x2, 4/);
  });

  it("Subset and ConcatDataset", () => {
    const ds = toyDataset(5);
    const sub = new data.Subset(ds, [4, 0]);
    expect(sub.length).toBe(2);
    expect(arr(sub.get(0)[1])).toEqual([4]);
    const cat = new data.ConcatDataset([ds, sub]);
    expect(cat.length).toBe(7);
    expect(arr(cat.get(5)[1])).toEqual([4]);
    expect(arr(cat.get(6)[1])).toEqual([0]);
    expect([...sub].length).toBe(2);
  });
});

describe("DataLoader", () => {
  it("batch counts and shapes, with and without dropLast", () => {
    const ds = toyDataset(10);
    const l = new data.DataLoader(ds, { batchSize: 4 });
    expect(l.length).toBe(3);
    const batches = [...l];
    expect(batches.map(([x]) => x.shape)).toEqual([[4, 3], [4, 3], [2, 3]]);
    expect(batches.map(([, y]) => y.shape)).toEqual([[4], [4], [2]]);
    expect(batches.flatMap(([, y]) => arr(y))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(batches[0][1].dtype).toBe("int32");
    const d = new data.DataLoader(ds, { batchSize: 4, dropLast: true });
    expect(d.length).toBe(2);
    expect([...d].length).toBe(2);
    expect(new data.DataLoader(ds, { batchSize: 5, dropLast: true }).length).toBe(2);
  });

  it("lengths and batch sizes equal torch.utils.data.DataLoader's", () => {
    for (const c of ref.loaders) {
      const l = new data.DataLoader(toyDataset(c.n), { batchSize: c.batchSize, dropLast: c.dropLast });
      expect(l.length, JSON.stringify(c)).toBe(c.length);
      expect([...l].map(([x]) => x.shape[0]), JSON.stringify(c)).toEqual(c.batchSizes);
    }
  });

  it("async iteration yields the same batches", async () => {
    const l = new data.DataLoader(toyDataset(7), { batchSize: 3 });
    const ys: number[] = [];
    for await (const [, y] of l) ys.push(...arr(y));
    expect(ys).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it("seeded shuffles: a permutation per epoch, different between epochs, reproducible", () => {
    const ds = toyDataset(20);
    const epoch = (l: data.DataLoader) => [...l].flatMap(([x, y]) => {
      // x rows still belong with their labels
      const xs = arr(x), ys = arr(y);
      ys.forEach((v, i) => expect(xs.slice(i * 3, i * 3 + 3)).toEqual([3 * v, 3 * v + 1, 3 * v + 2]));
      return ys;
    });
    const a = new data.DataLoader(ds, { batchSize: 6, shuffle: true, seed: 3 });
    const e1 = epoch(a), e2 = epoch(a);
    expect([...e1].sort((p, q) => p - q)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(e1).not.toEqual(e2);
    expect(e1).not.toEqual(Array.from({ length: 20 }, (_, i) => i));
    const b = new data.DataLoader(ds, { batchSize: 6, shuffle: true, seed: 3 });
    expect(epoch(b)).toEqual(e1);
    expect(epoch(b)).toEqual(e2);
    // without a seed: the engine's generator, reproducible with gb.manualSeed
    gb.manualSeed(11);
    const g1 = epoch(new data.DataLoader(ds, { batchSize: 6, shuffle: true }));
    gb.manualSeed(11);
    const g2 = epoch(new data.DataLoader(ds, { batchSize: 6, shuffle: true }));
    expect(g1).toEqual(g2);
  });

  it("collates generic datasets (tuples, numbers, objects) and takes a custom collate", () => {
    class Squares extends data.Dataset<[Tensor, number]> {
      get length() { return 5; }
      get(i: number): [Tensor, number] { return [gb.tensor([i, i * i]), i % 2]; }
    }
    const l = new data.DataLoader<Tensor[]>(new Squares(), { batchSize: 2 });
    const [x, y] = [...l][1];
    expect(x.shape).toEqual([2, 2]);
    expect(arr(x)).toEqual([2, 4, 3, 9]);
    expect(y.dtype).toBe("int32");
    expect(arr(y)).toEqual([0, 1]);
    const objs = { length: 3, get: (i: number) => ({ v: i / 2, img: gb.full([2], i) }) };
    const [b0] = [...new data.DataLoader<{ v: Tensor; img: Tensor }>(objs, { batchSize: 3 })];
    expect(b0.v.dtype).toBe("float32");
    expect(arr(b0.v)).toEqual([0, 0.5, 1]);
    expect(b0.img.shape).toEqual([3, 2]);
    const sums = [...new data.DataLoader(toyDataset(4), { batchSize: 2, collate: (s) => s.length })];
    expect(sums).toEqual([2, 2]);
  });

  it("uses the fast path through Subsets of a TensorDataset", () => {
    const ds = toyDataset(10);
    const [a] = data.randomSplit(ds, [6, 4], 1);
    const ys = [...new data.DataLoader(a, { batchSize: 4 })].flatMap(([, y]) => arr(y));
    expect(ys).toEqual(Array.from(a.indices));
  });

  it("rejects bad options", () => {
    expect(() => new data.DataLoader(toyDataset(3), { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    expect(() => new data.DataLoader(gb.zeros([3]) as never)).toThrow(/must be a dataset/);
  });
});

describe("randomSplit", () => {
  it("sizes equal torch.utils.data.random_split's", () => {
    for (const c of ref.splits) expect(data.randomSplit(toyDataset(c.n), c.lengths, 0).map((p) => p.length), JSON.stringify(c)).toEqual(c.sizes);
  });

  it("disjointness, coverage and reproducibility", () => {
    const ds = toyDataset(103);
    const parts = data.randomSplit(ds, [0.7, 0.2, 0.1], 5);
    expect(parts.map((p) => p.length)).toEqual(ref.splits[0].sizes);
    const all = parts.flatMap((p) => Array.from(p.indices));
    expect(new Set(all).size).toBe(103);
    const again = data.randomSplit(ds, [0.7, 0.2, 0.1], 5);
    expect(Array.from(again[1].indices)).toEqual(Array.from(parts[1].indices));
    const other = data.randomSplit(ds, [0.7, 0.2, 0.1], 6);
    expect(Array.from(other[1].indices)).not.toEqual(Array.from(parts[1].indices));
    expect(data.randomSplit(ds, [100, 3]).map((p) => p.length)).toEqual([100, 3]);
    expect(() => data.randomSplit(ds, [50, 50])).toThrow(/sum of input lengths \(100\) does not equal the length of the input dataset \(103\)/);
  });
});

describe("toy datasets", () => {
  it("xor: the truth table, and noisy samples around the corners", () => {
    const { x, y } = data.xor();
    expect(x.toArraySync()).toEqual([[0, 0], [0, 1], [1, 0], [1, 1]]);
    expect(arr(y)).toEqual([0, 1, 1, 0]);
    expect(y.dtype).toBe("int32");
    const n = data.xor({ n: 400, noise: 0.1, seed: 1 });
    expect(n.x.shape).toEqual([400, 2]);
    const xs = arr(n.x), ys = arr(n.y);
    for (let i = 0; i < 400; i++) {
      const a = Math.round(xs[2 * i]), b = Math.round(xs[2 * i + 1]);
      expect(ys[i]).toBe(a ^ b);
    }
  });

  it("blobs, moons, spirals, circles: shapes, dtypes, balanced labels, seeds", () => {
    const counts = (t: Tensor, k: number) => { const c = new Array(k).fill(0); for (const v of t.dataSync()) c[v]++; return c; };
    const b = data.blobs({ n: 90, centers: 3, std: 0.5, seed: 1 });
    expect(b.x.shape).toEqual([90, 2]);
    expect(b.x.dtype).toBe("float32");
    expect(counts(b.y, 3)).toEqual([30, 30, 30]);
    expect(arr(data.blobs({ n: 90, centers: 3, std: 0.5, seed: 1 }).x)).toEqual(arr(b.x));
    const b3 = data.blobs({ n: 10, centers: [[0, 0, 0], [5, 5, 5]], seed: 2 });
    expect(b3.x.shape).toEqual([10, 3]);
    const m = data.moons({ n: 101, noise: 0, seed: 1 });
    expect(counts(m.y, 2)).toEqual([50, 51]);
    const mx = arr(m.x), my = arr(m.y);
    // without noise, moon 0 lies on the unit circle, moon 1 on the circle around (1, 0.5)
    for (let i = 0; i < 101; i++) {
      const [px, py] = [mx[2 * i], mx[2 * i + 1]];
      const r = my[i] === 0 ? Math.hypot(px, py) : Math.hypot(px - 1, py - 0.5);
      expect(r).toBeCloseTo(1, 5);
    }
    const s = data.spirals({ n: 300, classes: 3, seed: 1 });
    expect(s.x.shape).toEqual([300, 2]);
    expect(counts(s.y, 3)).toEqual([100, 100, 100]);
    expect(Math.max(...arr(s.x).map(Math.abs))).toBeLessThanOrEqual(1);
    const c = data.circles({ n: 50, noise: 0, seed: 1 });
    const cx = arr(c.x), cy = arr(c.y);
    for (let i = 0; i < 50; i++) expect(Math.hypot(cx[2 * i], cx[2 * i + 1])).toBeCloseTo(cy[i] ? 0.5 : 1, 5);
  });
});

describe("IDX reader", () => {
  for (const c of ref.idx) {
    it(`parses ${c.file} (${c.type}, shape [${c.shape}])`, async () => {
      const bytes = new Uint8Array(readFileSync(fixture(c.file)));
      const idx = await data.parseIdx(bytes);
      expect(idx.type).toBe(c.type);
      expect(idx.shape).toEqual(c.shape);
      expect(Array.from(idx.data, Number)).toEqual(c.values);
      const viaPath = await data.readIdx(fixture(c.file));
      expect(Array.from(viaPath.data, Number)).toEqual(c.values);
      const t = data.idxToTensor(idx);
      expect(t.shape).toEqual(c.shape);
      expect(t.dtype).toBe(c.type === "float" || c.type === "double" ? "float32" : "int32");
    });
  }

  it("gunzips with node:zlib and with DecompressionStream alike", async () => {
    const gz = new Uint8Array(readFileSync(fixture("double.idx.gz")));
    const raw = new Uint8Array(readFileSync(fixture("double.idx")));
    expect(data.isGzip(gz)).toBe(true);
    expect(data.isGzip(raw)).toBe(false);
    expect([...(await data.gunzip(gz, "zlib"))]).toEqual([...raw]);
    expect([...(await data.gunzip(gz, "stream"))]).toEqual([...raw]);
  });

  it("gives clear errors", async () => {
    const good = new Uint8Array(readFileSync(fixture("short.idx")));
    expect(() => data.parseIdxRaw(good.slice(0, 14))).toThrow(/truncated data: shape \[2, 3\] of short needs 24 bytes, the file has 14/);
    expect(() => data.parseIdxRaw(Uint8Array.of(0, 0, 0x42, 1, 0, 0, 0, 0))).toThrow(/unknown IDX element type 0x42/);
    expect(() => data.parseIdxRaw(Uint8Array.of(1, 2, 3, 4))).toThrow(/not an IDX file/);
    expect(() => data.parseIdxRaw(new Uint8Array(readFileSync(fixture("short.idx.gz"))))).toThrow(/gzip-compressed/);
    expect(() => data.parseIdxRaw(good.slice(0, 10))).toThrow(/truncated header: 2 dimensions need 12 bytes, the file has 10/);
    await expect(data.readIdx("/nonexistent/x.idx")).rejects.toThrow(/readIdx: cannot read \/nonexistent\/x.idx/);
  });
});
