// The fused CPU softmax / logSoftmax along the last dimension (engine/ops/fused-softmax.ts) give
// the bits of the op-by-op computation (max, sub, exp, sum, log / div and their backward rules:
// what the GPU runs, and what they computed before), values and gradients: 2-D and 3-D inputs, one
// column, fewer columns than a group of four, long rows, extreme / infinite / NaN values, rows of
// -inf, and inputs large enough for the SIMD module's exp. PyTorch's values: the ops and nn
// reference suites (ops.test.ts, functional.test.ts).
import { afterEach, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { setFusedSoftmax } from "../../../engine/ops/fused-softmax.ts";
import { rand } from "../kernels/xorshift.ts";

afterEach(() => setFusedSoftmax(true));

async function run(fused: boolean, log: boolean, v: Float32Array, shape: number[]): Promise<Float32Array[]> {
  setFusedSoftmax(fused);
  const x = gb.tensor(v, { shape, requiresGrad: true });
  const y = log ? x.logSoftmax(-1) : x.softmax(-1);
  await y.mul(gb.tensor(rand(y.numel(), 5).map((u) => u * 3), { shape })).sum().backward();
  return [y.dataSync() as Float32Array, x.grad!.dataSync() as Float32Array];
}

async function sameBits(what: string, v: Float32Array, shape: number[]) {
  for (const log of [false, true]) {
    const want = await run(false, log, v, shape), got = await run(true, log, v, shape);
    ["value", "gradient"].forEach((name, k) => {
      for (let i = 0; i < want[k].length; i++) {
        if (!Object.is(got[k][i], want[k][i])) expect.fail(`${log ? "logSoftmax" : "softmax"} ${what}: ${name} element ${i} is ${got[k][i]} fused, ${want[k][i]} op by op`);
      }
    });
  }
}

describe("fused CPU softmax and logSoftmax: the bits of the op-by-op computation", () => {
  it("shapes: 2-D, 3-D, one column, fewer columns than four, long rows", async () => {
    for (const shape of [[256, 10], [4, 5, 7], [9, 1], [17, 2], [6, 3], [3, 1001]]) {
      const n = shape.reduce((p, d) => p * d, 1);
      await sameBits(`[${shape}]`, rand(n, n).map((u) => u * 20), shape);
    }
  });

  it("extreme, infinite and NaN values, rows of -inf", async () => {
    const rows = [
      [2000, -2000, 0, 5], [-Infinity, -Infinity, -Infinity, -Infinity], [-Infinity, 0, 1, 2], [Infinity, Infinity, 1, 2],
      [NaN, NaN, NaN, NaN], [3, 2, 1, NaN], [3e38, 3e38, -3e38, 0], [1e-45, -1e-45, 0, -0], [-3e37, 1e30, 88, -104],
    ];
    await sameBits("special values", Float32Array.from(rows.flat()), [rows.length, 4]);
  });

  it("inputs large enough for the SIMD module's exp", async () => {
    await sameBits("[512, 40]", rand(512 * 40, 3).map((u) => u * 12), [512, 40]);
  });

  it("one node each; other dimensions op by op", () => {
    const x = gb.randn([4, 3], { requiresGrad: true });
    expect(x.softmax(1).gradFn?.name).toBe("SoftmaxBackward");
    expect(x.logSoftmax(-1).gradFn?.name).toBe("LogSoftmaxBackward");
    expect(x.softmax(0).gradFn?.name).toBe("DivBackward");
  });
});
