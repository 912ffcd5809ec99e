// Tensor basics that have no PyTorch numbers to compare with: metadata, reading
// values, in-place assign, copies, and the seeded random creation functions
// (gradbook's generator is not torch's, so those are checked by their properties).
import { describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";

describe("tensor metadata and reading", () => {
  const x = gb.tensor([[1, 2, 3], [4, 5, 6]]);
  it("shape, size, numel, dim", () => {
    expect(x.shape).toEqual([2, 3]);
    expect(x.size()).toEqual([2, 3]);
    expect(x.size(1)).toBe(3);
    expect(x.size(-1)).toBe(3);
    expect(x.numel()).toBe(6);
    expect(x.dim()).toBe(2);
    expect(x.ndim).toBe(2);
    expect(x.dtype).toBe("float32");
    expect(gb.tensor(3).shape).toEqual([]);
  });
  it("data, dataSync, toArray, item", async () => {
    expect(Array.from(await x.data())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await x.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(x.toArraySync()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(await gb.tensor([[true, false]]).toArray()).toEqual([[true, false]]);
    expect(await x.sum().item()).toBe(21);
    await expect(x.item()).rejects.toThrow("item: a tensor with 6 elements (shape 2x3) cannot be converted to a number");
    // dataSync returns a copy
    const v = x.dataSync();
    v[0] = 100;
    expect(x.dataSync()[0]).toBe(1);
  });
  it("typed arrays pick the dtype; shape option; ragged arrays are rejected", () => {
    expect(gb.tensor(Int32Array.of(1, 2)).dtype).toBe("int32");
    expect(gb.tensor(Uint8Array.of(1, 0)).dtype).toBe("bool");
    expect(gb.tensor(Float32Array.of(1, 2, 3, 4), { shape: [2, 2] }).shape).toEqual([2, 2]);
    expect(() => gb.tensor(Float32Array.of(1, 2, 3), { shape: [2, 2] })).toThrow("tensor: shape [2, 2] does not fit 3 values");
    expect(() => gb.tensor([[1, 2], [3]])).toThrow(/tensor: ragged nested array/);
    expect(gb.tensor([1.7, -1.7], { dtype: "int32" }).toArraySync()).toEqual([1, -1]);
  });
  it("tensor(t) copies; requiresGrad makes a fresh leaf", () => {
    const a = gb.tensor([1, 2], { requiresGrad: true });
    const b = gb.tensor(a.mul(2), { requiresGrad: true });
    expect(b.isLeaf).toBe(true);
    expect(b.requiresGrad).toBe(true);
    expect(b.toArraySync()).toEqual([2, 4]);
    const c = gb.tensor(a, { dtype: "int32" });
    expect(c.dtype).toBe("int32");
  });
  it("assign overwrites in place, outside the graph", () => {
    const w = gb.tensor([1, 2, 3], { requiresGrad: true });
    w.assign(gb.tensor([4, 5, 6]));
    expect(w.toArraySync()).toEqual([4, 5, 6]);
    expect(w.gradFn).toBeNull();
    expect(() => w.assign(gb.zeros([2]))).toThrow("assign: shape 2 does not match 3");
    w.assign(gb.tensor([7, 8, 9], { dtype: "int32" }));
    expect(w.dtype).toBe("float32");
    expect(w.toArraySync()).toEqual([7, 8, 9]);
  });
  it("requiresGrad_ and isLeaf", () => {
    const t = gb.zeros([2]).requiresGrad_();
    expect(t.requiresGrad).toBe(true);
    expect(t.isLeaf).toBe(true);
    expect(t.mul(2).isLeaf).toBe(false);
    expect(() => gb.zeros([2], { dtype: "int32" }).requiresGrad_()).toThrow(/only float32 tensors can require gradients/);
  });
  it("toMimeBundle has text/plain and, for matrices, an HTML table", async () => {
    const b = await x.toMimeBundle();
    expect(b["text/plain"]).toBe(String(x));
    expect(b["text/html"]).toContain("<table");
    expect(b["text/html"]).toContain("<td>6.</td>");
    expect((await gb.zeros([2, 2, 2]).toMimeBundle())["text/html"]).toBeUndefined();
  });
});

describe("random creation (seeded)", () => {
  it("manualSeed makes rand/randn/randint/randperm reproducible", () => {
    gb.manualSeed(42);
    const a = [gb.rand([5]), gb.randn([5]), gb.randint(0, 10, [5]), gb.randperm(6)].map((t) => t.toArraySync());
    gb.manualSeed(42);
    const b = [gb.rand([5]), gb.randn([5]), gb.randint(0, 10, [5]), gb.randperm(6)].map((t) => t.toArraySync());
    expect(b).toEqual(a);
    gb.manualSeed(43);
    expect(gb.rand([5]).toArraySync()).not.toEqual(a[0]);
  });
  it("rand is uniform in [0, 1), randn is standard normal", () => {
    gb.manualSeed(0);
    const u = gb.rand([20000]).dataSync();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const n = gb.randn([20000]);
    expect(n.mean().dataSync()[0]).toBeCloseTo(0, 1);
    expect(n.std().dataSync()[0]).toBeCloseTo(1, 1);
    expect(gb.rand([2, 3]).shape).toEqual([2, 3]);
    expect(gb.randLike(gb.zeros([3, 1])).shape).toEqual([3, 1]);
    expect(gb.randnLike(gb.zeros([4])).shape).toEqual([4]);
  });
  it("randint is int32 in [low, high) and hits every value; randperm is a permutation", () => {
    const r = gb.randint(-2, 3, [2000]);
    expect(r.dtype).toBe("int32");
    expect([...new Set(r.dataSync())].sort()).toEqual([-1, -2, 0, 1, 2].sort());
    expect(() => gb.randint(3, 3, [2])).toThrow("randint: high (3) must be greater than low (3)");
    const p = gb.randperm(10);
    expect(p.dtype).toBe("int32");
    expect([...p.dataSync()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
  it("shapes too large for one tensor, and negative or fractional sizes: errors that name the op and the shape", () => {
    expect(() => gb.zeros([1e6, 1e6])).toThrow("zeros: shape [1000000, 1000000] has 1.00e+12 elements (3725 GiB as float32); one tensor holds at most 4.29e+9");
    expect(() => gb.randn([1e5, 1e5])).toThrow("randn: shape [100000, 100000] has 1.00e+10 elements (37.3 GiB as float32)");
    expect(() => gb.randint(0, 2, [2 ** 33])).toThrow(/^randint: shape \[8589934592\]/);
    expect(() => gb.ones([-1, 3])).toThrow("ones: invalid shape [-1, 3]");
    expect(() => gb.rand([2.5])).toThrow("rand: invalid shape [2.5]");
  });
  it("a GPU tensor before WebGPU was started: the error says how to start it", () => {
    expect(gb.hasGpu()).toBe(false); // (this file never starts WebGPU)
    expect(() => gb.randn([2], { device: "gpu" })).toThrow("device 'gpu' is not available (available: cpu): WebGPU has not been started: call await gb.ready() (or await gb.initGpu()) first");
    expect(() => gb.zeros([2]).to("cuda")).toThrow(/^device 'gpu' is not available \(available: cpu\): WebGPU has not been started/);
    expect(() => gb.zeros([2], { device: "tpu" as any })).toThrow("unknown device 'tpu': use \"cpu\" or \"gpu\"");
  });
  it("rand with requiresGrad gives a leaf", () => {
    const w = gb.randn([3, 2], { requiresGrad: true });
    expect(w.requiresGrad && w.isLeaf).toBe(true);
  });
});
