// backward() hands the storage of the gradients it consumed back to the CPU backend, which reuses
// it for the gradients of the next backward walks (engine/autograd.ts runBackward, engine/backends/cpu/
// alloc.ts). What must never be reused: a leaf's .grad (also when the same gradient went to a
// non-leaf too, or through a reshape, which shares storage), a retained gradient, the gradient the
// caller gave, a forward tensor, an earlier walk's gradient, or anything gb.autograd.grad returns.
// Training gives the same bits with and without the reuse; the spare storage is listed by
// gb.memoryStats() (not added to cpuPoolBytes: it is array buffers, which the memory guard counts
// already) and freed by gb.emptyCache(). With resident storage (large results in the WASM memory,
// engine/backends/cpu/wasm/heap.ts) the consumed gradients' blocks go back to its allocator
// instead: every case runs both ways.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { setSpareLimit, setUnfilledPoison } from "../../../engine/backends/cpu/alloc.ts";
import { apply } from "../../../engine/autograd.ts";
import { residentStats, residentStorage, setResidentStorage } from "../../../engine/backends/cpu/wasm/heap.ts";

const residentDefault = residentStorage();

// 32K floats (128 KiB): above the size from which results come unfilled and storage is reused
const SHAPE = [64, 512];
const spare = () => gb.memoryStats().pools.find((p) => p.name === "spare CPU tensor storage")!;
const randn = (seed: number, requiresGrad = false) => {
  gb.manualSeed(seed);
  return gb.randn(SHAPE, { requiresGrad });
};
/** Backward walks with many gradients of SHAPE's size: what would overwrite any storage wrongly handed back. */
const churn = async () => {
  const a = randn(99, true), w = randn(98);
  for (let i = 0; i < 4; i++) await a.mul(3).tanh().mul(w).exp().mul(w).sin().sum().backward();
};
const copy = (t: gb.Tensor) => t.dataSync().slice();
/** The same values, bit for bit. */
const same = (got: ArrayLike<number>, want: ArrayLike<number>, what: string) => {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) expect.fail(`${what}: element ${i} is ${got[i]}, was ${want[i]}`);
};

for (const resident of [false, true]) {
/** Gradient storage handed back so far (a count that grows; spare bytes, or blocks freed in the WASM memory). */
const reused = () => (resident ? residentStats().freed : spare().bytes);
/** Reuse on or off (off: the spare limit 0, or no resident storage). */
const setReuse = (on: boolean) => (resident ? setResidentStorage(on) : setSpareLimit(on ? 64 << 20 : 0));

describe(`gradient storage reuse in backward() (${resident ? "resident storage in the WASM memory" : "spare array buffers"})`, () => {
  beforeEach(() => setResidentStorage(resident));

  afterEach(() => {
    setUnfilledPoison(false);
    setSpareLimit(64 << 20);
    setResidentStorage(residentDefault);
    gb.emptyCache();
  });

  it("a leaf's .grad, a retained gradient, the given gradient and forward tensors are never reused", async () => {
    for (const poison of [false, true]) {
      setUnfilledPoison(poison);
      const x = randn(1, true), w = randn(2);
      const h = x.mul(2); // h's gradient: add's backward passes the same tensor to h and to x
      const r = h.tanh().retainGrad();
      const v = x.reshape([SHAPE[1], SHAPE[0]]); // shares x's storage; its gradient reshaped back
      const y = x.add(h).add(r.mul(w)).add(v.reshape(SHAPE).exp());
      const given = randn(3);
      const givenBefore = copy(given);
      const before = resident ? reused() : 0;
      await y.backward(given);
      const xg = copy(x.grad!), rg = copy(r.grad!), hv = copy(h), rv = copy(r);
      expect(reused(), "gradients consumed by the walk are kept for reuse").toBeGreaterThan(before);
      await churn();
      same(x.grad!.dataSync(), xg, "x.grad");
      same(r.grad!.dataSync(), rg, "the retained gradient");
      same(given.dataSync(), givenBefore, "the given gradient");
      same(h.dataSync(), hv, "a forward tensor");
      same(r.dataSync(), rv, "a forward tensor");
      // and the gradient itself is right: d/dx = 1 + 2 + 2 (1 - r^2) w + exp(x)
      const xs = x.dataSync(), ws = w.dataSync(), gs = given.dataSync();
      for (let i = 0; i < xs.length; i += 997) {
        const want = gs[i] * (3 + 2 * (1 - rv[i] * rv[i]) * ws[i] + Math.exp(xs[i]));
        expect(Math.abs(xg[i] - want)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want)));
      }
    }
  });

  it("gb.autograd.grad's results and accumulated .grad are never reused", async () => {
    const x = randn(4, true);
    const [g] = gb.autograd.grad(x.tanh().mul(x).sum(), [x]);
    const g0 = copy(g);
    await x.tanh().mul(2).sum().backward();
    await x.exp().sum().backward(); // accumulates: .grad = .grad + new
    const acc = copy(x.grad!);
    await churn();
    same(g.dataSync(), g0, "grad()'s result");
    same(x.grad!.dataSync(), acc, "the accumulated .grad");
  });

  it("a backward rule that returns a forward tensor: that tensor is not reused", async () => {
    const x = randn(5, true);
    const f = x.mul(3).detach(); // a forward result, held here
    const f0 = copy(f);
    // an op whose backward gives the forward tensor f itself as the input's gradient
    const y = apply("custom", [x], x.mul(2)._d, () => [f]);
    await y.mul(randn(6)).sum().backward();
    same(x.grad!.dataSync(), f0, "x.grad");
    await y.tanh().sum().backward(); // f is consumed (added into x.grad), not kept
    await churn();
    same(f.dataSync(), f0, "the forward tensor");
  });

  it("an earlier walk's gradient (a leaf's .grad) that a later walk consumes is not reused", async () => {
    const x = randn(7, true);
    await x.tanh().mul(randn(8)).sum().backward();
    const held = x.grad!; // made by that walk, now the user's
    const h0 = copy(held);
    // a later graph whose backward rule hands that tensor on as the gradient of a non-leaf (z2),
    // which the walk consumes
    const z = randn(9, true), z2 = z.mul(1);
    const w = apply("pass", [z2], z2.mul(1)._d, () => [held]);
    await w.exp().sum().backward();
    await churn();
    same(held.dataSync(), h0, "the earlier walk's gradient");
  });

  it("training steps give the same bits with and without the reuse; emptyCache() frees the spare storage", async () => {
    const train = async () => {
      gb.manualSeed(7);
      const model = new gb.nn.Sequential(
        new gb.nn.Conv2d(1, 6, 5, { padding: 2 }), new gb.nn.Tanh(), new gb.nn.AvgPool2d(2),
        new gb.nn.Flatten(), new gb.nn.Linear(6 * 14 * 14, 10),
      );
      const opt = new gb.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
      const x = gb.rand([32, 1, 28, 28]), y = gb.randint(0, 10, [32]);
      const losses: number[] = [];
      for (let i = 0; i < 4; i++) {
        opt.zeroGrad();
        const loss = gb.nn.functional.crossEntropy(model.forward(x), y);
        await loss.backward();
        opt.step();
        losses.push(await loss.item());
      }
      return [losses, ...model.parameters().map(copy)];
    };
    setReuse(false);
    const r0 = reused();
    const without = await train();
    expect(reused()).toBe(r0);
    setReuse(true);
    const withReuse = await train();
    expect(reused()).toBeGreaterThan(r0);
    withReuse.forEach((w, k) => same(w, without[k], `loss or parameter ${k}`));
    // array buffers, which process.memoryUsage() counts: listed, not added to cpuPoolBytes
    const stats = gb.memoryStats();
    expect(stats.cpuPoolBytes).toBe(stats.pools.filter((p) => p.device === "cpu" && p.name !== "spare CPU tensor storage").reduce((s, p) => s + p.bytes, 0));
    gb.emptyCache();
    expect(spare().bytes).toBe(0);
  });
});
}
