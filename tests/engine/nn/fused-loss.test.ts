// The fused CPU cross-entropy (engine/nn/fused-loss.ts's nllLoss over ops/fused-softmax.ts's
// logSoftmax: logits [N, C], int32 class targets, no class weights or label smoothing) gives the
// bits of the op-by-op computation (log-softmax, gather, reductions and their backward rules: what
// the GPU runs, and what crossEntropy computed before), for the loss and the logits' gradient:
// every reduction, ignored targets, one class, fewer classes than a group of four, extreme,
// infinite and NaN logits, an upstream gradient other than 1, a single sample [C], and inputs large
// enough for the SIMD module's exp; nllLoss alone the same. The PyTorch values are checked by the
// nn reference suite (functional.test.ts, modules.test.ts).
import { afterEach, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { setFusedLoss } from "../../../engine/nn/fused-loss.ts";
import { setFusedSoftmax } from "../../../engine/ops/fused-softmax.ts";
import type { CrossEntropyOptions } from "../../../engine/nn/losses.ts";
import { rand } from "../kernels/xorshift.ts";

afterEach(() => {
  setFusedLoss(true);
  setFusedSoftmax(true);
});

const F = gb.nn.functional;

/** The loss and the logits' gradient, fused or op by op. */
async function run(fused: boolean, logits: Float32Array, shape: number[], targets: number[], opts: CrossEntropyOptions, upstream: number | null, nll = false): Promise<Float32Array[]> {
  setFusedLoss(fused);
  setFusedSoftmax(fused);
  const x = gb.tensor(logits, { shape, requiresGrad: true });
  const t = gb.tensor(Int32Array.from(targets));
  const loss = nll ? F.nllLoss(x, t, opts) : F.crossEntropy(x, t, opts);
  // (a per-sample loss needs an upstream gradient: random, scaled by `upstream` or 1)
  const g = upstream === null && loss.numel() === 1 ? loss : loss.mul(gb.tensor(rand(loss.numel(), 77).map((v) => v * (upstream ?? 1)), { shape: loss.shape })).sum();
  await g.backward();
  return [loss.dataSync() as Float32Array, x.grad!.dataSync() as Float32Array];
}

async function sameBits(what: string, logits: Float32Array, shape: number[], targets: number[], opts: CrossEntropyOptions = {}, upstream: number | null = null, nll = false) {
  const want = await run(false, logits, shape, targets, opts, upstream, nll);
  const got = await run(true, logits, shape, targets, opts, upstream, nll);
  ["loss", "gradient"].forEach((name, k) => {
    expect(got[k].length, `${what}: ${name}`).toBe(want[k].length);
    for (let i = 0; i < want[k].length; i++) {
      if (!Object.is(got[k][i], want[k][i])) expect.fail(`${what}: ${name} element ${i} is ${got[k][i]} fused, ${want[k][i]} op by op`);
    }
  });
}

const labels = (n: number, c: number, seed: number) => Array.from(rand(n, seed), (v) => Math.floor(((v + 1) / 2) * c));

describe("fused CPU cross-entropy: the bits of the op-by-op computation", () => {
  for (const reduction of ["mean", "sum", "none"] as const) {
    it(`reduction ${reduction}: LeNet-5's shape, ignored targets, an upstream gradient`, async () => {
      const N = 256, C = 10;
      const x = rand(N * C, 3).map((v) => v * 8);
      await sameBits(`[${N}, ${C}]`, x, [N, C], labels(N, C, 4), { reduction });
      const t = labels(N, C, 5);
      for (let i = 0; i < N; i += 7) t[i] = -100;
      await sameBits("ignored targets", x, [N, C], t, { reduction });
      await sameBits("ignoreIndex 2", x, [N, C], labels(N, C, 6), { reduction, ignoreIndex: 2 });
      await sameBits("upstream gradient", x, [N, C], labels(N, C, 7), { reduction }, -3);
    });
  }

  it("one class, fewer classes than four, many classes", async () => {
    for (const [N, C] of [[9, 1], [17, 2], [33, 3], [5, 5], [3, 101]]) {
      await sameBits(`[${N}, ${C}]`, rand(N * C, N + C).map((v) => v * 30), [N, C], labels(N, C, C), {}, 2);
    }
  });

  it("extreme, infinite and NaN logits; every target ignored", async () => {
    const N = 6, C = 4;
    const x = rand(N * C, 11).map((v) => v * 100);
    x.set([1000, -1000, 0, 5], 0);
    x.set([-Infinity, -Infinity, -Infinity, -Infinity], 4);
    x.set([Infinity, 1, 2, 3], 8);
    x.set([NaN, 1, 2, 3], 12);
    x.set([1, 2, NaN, 3], 16);
    x.set([-1e30, 1e30, 88, -104], 20);
    await sameBits("special logits", x, [N, C], [0, 1, 2, 3, 1, 2]);
    await sameBits("special logits, none", x, [N, C], [1, 0, 3, 2, 0, 1], { reduction: "none" });
    const y = rand(N * C, 12);
    await sameBits("every target ignored", y, [N, C], [-100, -100, -100, -100, -100, -100]);
    await sameBits("every target ignored, sum", y, [N, C], [-100, -100, -100, -100, -100, -100], { reduction: "sum" }, -1);
  });

  it("a single sample [C]", async () => {
    await sameBits("[7]", rand(7, 21), [7], [3]);
    await sameBits("[7], none", rand(7, 22), [7], [5], { reduction: "none" }, 4);
  });

  it("inputs large enough for the SIMD module's exp", async () => {
    const N = 1024, C = 20;
    await sameBits(`[${N}, ${C}]`, rand(N * C, 31).map((v) => v * 12), [N, C], labels(N, C, 32));
  });

  it("nllLoss alone: every reduction, ignored targets, special values", async () => {
    const N = 64, C = 7;
    const x = rand(N * C, 41).map((v) => v * 5);
    x.set([NaN, -Infinity, Infinity, -0, 0, 3e38, -3e38], 0);
    const t = labels(N, C, 42);
    t[3] = -100;
    for (const reduction of ["mean", "sum", "none"] as const) await sameBits(`nllLoss ${reduction}`, x, [N, C], t, { reduction }, -2, true);
    await sameBits("nllLoss [C]", rand(C, 43), [C], [4], {}, null, true);
  });

  it("the fused loss is two nodes of the graph, as PyTorch's", () => {
    const x = gb.randn([4, 3], { requiresGrad: true });
    const loss = F.crossEntropy(x, gb.tensor(Int32Array.from([0, 2, 1, 2])));
    expect(loss.gradFn?.name).toBe("NllLossBackward");
    const logp = loss.gradFn!.inputs[0];
    expect(logp.gradFn?.name).toBe("LogSoftmaxBackward");
    expect(logp.gradFn?.inputs[0]).toBe(x);
  });
});
