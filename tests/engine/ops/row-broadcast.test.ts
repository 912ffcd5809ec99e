// A float32 + − × ÷ whose one operand broadcasts over the other's leading dimensions only (a linear
// layer's bias, [out] against [N, out]) runs without materializing the broadcast (the CPU backend's
// rowBroadcastF32 loop, and rowBroadcastF32Wasm on the SIMD module from 2K elements): the bits of
// the same op on the operand expanded beforehand, for both operand orders, leading 1s, rows under
// four floats, special values, with and without the SIMD module.
// PyTorch's values for broadcasting ops are in the ops reference suite (ops.test.ts).
import { afterEach, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { setWasmMode } from "../../../engine/backends/cpu/kernels/index.ts";
import { rand } from "../kernels/xorshift.ts";

function sameBits(got: gb.Tensor, want: gb.Tensor, what: string): void {
  expect(got.shape, what).toEqual(want.shape);
  const g = got.dataSync(), w = want.dataSync();
  for (let i = 0; i < w.length; i++) if (!Object.is(g[i], w[i])) expect.fail(`${what}: element ${i} is ${g[i]} by rows, ${w[i]} expanded`);
}

afterEach(() => setWasmMode("auto"));

describe("binary ops with a row broadcast over leading dimensions: the bits of the expanded operand", () => {
  const cases: [number[], number[]][] = [[[256, 120], [120]], [[7, 3], [1, 3]], [[2, 5, 4, 9], [4, 9]], [[3, 2, 6], [1, 1, 6]], [[300, 70], [70]], [[4, 1], [1]], [[1000, 3], [3]], [[5000, 5], [1, 5]], [[3, 20000], [20000]]];
  for (const op of ["add", "sub", "mul", "div"] as const) {
    it(op, () => {
      for (const mode of ["auto", "js"] as const) for (const [big, small] of cases) {
        setWasmMode(mode);
        const n = big.reduce((p, d) => p * d, 1), m = small.reduce((p, d) => p * d, 1);
        const xv = rand(n, n + 1).map((v, i) => (i % 97 === 0 ? [NaN, Infinity, -0, 0, 3e38][i % 5] : v * 10));
        const bv = rand(m, m + 2).map((v, i) => (i % 5 === 1 ? [0, -0, -Infinity, 1e-40][i % 4] : v));
        const x = gb.tensor(xv, { shape: big }), b = gb.tensor(bv, { shape: small });
        const wide = b.expand(big);
        sameBits(x[op](b), x[op](wide), `${mode}: [${big}] ${op} [${small}]`);
        sameBits(b[op](x), wide[op](x), `${mode}: [${small}] ${op} [${big}]`);
      }
    });
  }
});
