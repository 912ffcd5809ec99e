// Sums over a contiguous axis on the SIMD module (sumrows, wasm/reduce-funcs.ts, from 16K floats)
// give the TypeScript loop's bits (reduce.ts: four running sums in double precision): rows of every
// tail length, rows longer than the staging chunk, many rows in several chunks, special values
// (NaN, infinities, -0, cancelling magnitudes), and the convolution bias gradient's sum([0, 2, 3]).
// Sums over an axis that is not the last (addrows, from 4K floats: float32 additions row by row, a
// linear layer's bias gradient) too: every column count mod 4, several outer blocks, rows in
// several staging chunks, special values.
import { afterEach, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { setWasmMode } from "../../../engine/backends/cpu/kernels/index.ts";
import { rand } from "./xorshift.ts";

afterEach(() => setWasmMode("auto"));

function sameBits(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) expect.fail(`${what}: element ${i} is ${got[i]} on the SIMD module, ${want[i]} in the loop`);
}

/** f on the SIMD module and on the TypeScript loop. */
function both(f: () => gb.Tensor): [Float32Array, Float32Array] {
  setWasmMode("auto");
  const wasm = f().dataSync() as Float32Array;
  setWasmMode("js");
  const js = f().dataSync() as Float32Array;
  return [wasm, js];
}

describe("row sums on the SIMD module: the loop's bits", () => {
  it("every tail length, long rows, many rows", () => {
    for (const [rows, n] of [[4096, 4], [3000, 5], [2000, 6], [1500, 7], [300, 101], [37, 784], [3, 40_003], [1, 70_001], [5000, 9]]) {
      const x = gb.tensor(rand(rows * n, rows + n).map((v, i) => (i % 7 === 0 ? v * 1e6 : v)), { shape: [rows, n] });
      const [wasm, js] = both(() => x.sum(1));
      sameBits(wasm, js, `[${rows}, ${n}].sum(1)`);
    }
  });

  it("special values: NaN, infinities, -0, cancellation", () => {
    const n = 97, rows = 400;
    const v = rand(rows * n, 5);
    for (let r = 0; r < rows; r++) {
      const b = r * n;
      if (r % 5 === 0) v[b + (r % n)] = NaN;
      if (r % 5 === 1) v[b + 3] = Infinity;
      if (r % 5 === 2) (v[b + 1] = Infinity), (v[b + 2] = -Infinity);
      if (r % 5 === 3) for (let i = 0; i < n; i++) v[b + i] = -0;
      if (r % 5 === 4) (v[b] = 3e38), (v[b + 4] = 3e38), (v[b + 8] = -3e38);
    }
    const x = gb.tensor(v, { shape: [rows, n] });
    const [wasm, js] = both(() => x.sum(1));
    sameBits(wasm, js, "special values");
  });

  it("the convolution bias gradient's sum over [0, 2, 3]", () => {
    const g = gb.tensor(rand(64 * 6 * 28 * 28, 9), { shape: [64, 6, 28, 28] });
    const [wasm, js] = both(() => g.sum([0, 2, 3]));
    sameBits(wasm, js, "sum([0, 2, 3])");
  });
});

describe("column sums on the SIMD module: the loop's bits", () => {
  it("sums over an axis that is not the last", () => {
    for (const [outer, n, inner] of [[1, 256, 120], [1, 256, 84], [1, 256, 10], [3, 500, 7], [2, 300, 5], [4, 100, 4], [1, 10_000, 6], [1, 3, 2000], [2, 1, 3000]]) {
      const v = rand(outer * n * inner, outer + n + inner).map((x, i) => (i % 13 === 0 ? x * 1e6 : x));
      for (let i = 0; i < inner; i++) if (i % 3 === 0) v[i] = -0; // a first row of -0: 0 + -0 is +0
      if (inner > 5) (v[inner + 1] = NaN), (v[2 * inner + 2] = Infinity), (v[3 * inner + 2] = -Infinity), (v[4 * inner + 3] = 3e38), (v[5 * inner + 3] = 3e38);
      const x = gb.tensor(v, { shape: [outer, n, inner] });
      const [wasm, js] = both(() => x.sum(1));
      sameBits(wasm, js, `[${outer}, ${n}, ${inner}].sum(1)`);
    }
  });

  it("a linear layer's bias gradient", () => {
    const g = gb.tensor(rand(256 * 120, 3), { shape: [256, 120] });
    const [wasm, js] = both(() => g.sum(0));
    sameBits(wasm, js, "sum(0)");
  });
});
