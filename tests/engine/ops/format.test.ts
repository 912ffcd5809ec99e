// Printing: String(t) and toMimeBundle()["text/plain"] against PyTorch's repr
// (reprs.json, made by make_reference.py). Differences by design, normalized away:
// torch's grad_fn names end in a digit (<MulBackward0>, ours <MulBackward>), and
// torch names its dtypes torch.int32 where we print gb.int32.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";

const ref: { reprs: { name: string; repr: string }[] } = JSON.parse(readFileSync(new URL("./reprs.json", import.meta.url), "utf8"));

const f = (v: number[], shape?: number[]) => gb.tensor(Float32Array.from(v), shape ? { shape } : {});
const ar = (n: number) => gb.arange(n).float();
const i32 = (v: number[] | number[][]) => gb.tensor(v, { dtype: "int32" });

const TENSORS: Record<string, () => Tensor> = {
  floats: () => gb.tensor([1.5, -2.25, 3.0]),
  int_valued_floats: () => gb.tensor([1, 2]),
  matrix: () => gb.tensor([[1.0, -2.5], [3.125, 40.0]]),
  matrix_ints_as_float: () => gb.tensor([[1, 20], [-3, 4]]),
  int32: () => i32([[1, 2], [3, 4]]),
  int32_negative: () => i32([5, -120, 7]),
  bool: () => gb.tensor([true, false, true]),
  scalar: () => gb.tensor(3.5),
  scalar_int_valued: () => gb.tensor(2),
  scalar_int32: () => gb.tensor(7, { dtype: "int32" }),
  large: () => gb.tensor([1.0e10, 2.5, -3.0]),
  small: () => gb.tensor([1.0e-5, 0.5]),
  wide_range: () => gb.tensor([0.001, 10.0, 2.0]),
  large_ints: () => gb.tensor([1.0e9, 2.0]),
  zeros: () => gb.zeros([2, 3]),
  with_zero: () => gb.tensor([0.0, 1.25, -0.5]),
  nan_inf: () => f([NaN, Infinity, -Infinity, 1.5]),
  nan_int_valued: () => f([NaN, 1, 2]),
  all_nan: () => f([NaN, NaN]),
  negative_zero: () => f([-0, 1.5]),
  rounding_ties: () => gb.tensor([0.03125, 1.40625, 0.15625, 2.5e-4 + 0.125]),
  rounding_sci_ties: () => gb.tensor([1.03125e-5, 3.0]),
  "3d": () => ar(24).reshape([2, 3, 4]).div(4),
  "4d": () => ar(16).reshape([2, 2, 2, 2]),
  long_row: () => ar(30).div(7),
  long_row_int: () => gb.arange(40),
  long_matrix_rows: () => ar(40).reshape([2, 20]).mul(1.5),
  summarized_1d: () => ar(2000),
  summarized_2d: () => ar(2000).reshape([40, 50]).div(3),
  summarized_3d: () => gb.arange(3000).reshape([10, 15, 20]),
  summarized_short_rows: () => ar(1002).reshape([501, 2]),
  empty: () => gb.tensor([]),
  empty_2d: () => gb.zeros([0, 3]),
  empty_int32: () => gb.zeros([0], { dtype: "int32" }),
  requires_grad: () => gb.tensor([1, 2], { requiresGrad: true }),
  grad_fn_mul: () => gb.tensor([1, 2], { requiresGrad: true }).mul(2),
  grad_fn_add: () => gb.tensor([1, 2], { requiresGrad: true }).add(1),
  grad_fn_sum: () => gb.tensor([1, 2], { requiresGrad: true }).sum(),
  grad_fn_tanh: () => gb.tensor([[0.5, -1.0], [2.0, 0.0]], { requiresGrad: true }).tanh(),
  grad_fn_exp_wrapped: () => ar(12).div(3).requiresGrad_(true).exp(),
  negative_int_valued: () => gb.tensor([-1, 2, -30]),
  tiny_and_one: () => gb.tensor([1.0e-8, 1.0]),
  fixed_wide: () => gb.tensor([100.5, 200.25, -3.125]),
  sci_ratio: () => gb.tensor([123456.7, 1.5]),
  exactly_1e8: () => gb.tensor([1.0e8, 1.0]),
  negative_zero_int_mode: () => f([-0, 1]),
  only_inf: () => f([Infinity, -Infinity]),
  scalar_nan: () => gb.tensor(NaN),
  scalar_negative: () => gb.tensor(-0.125),
  bool_2d: () => gb.tensor([[true, false], [false, true]]),
  empty_bool: () => gb.zeros([0], { dtype: "bool" }),
  empty_int32_2d: () => gb.zeros([2, 0], { dtype: "int32" }),
  scalar_requires_grad: () => gb.tensor(2, { requiresGrad: true }),
  sci_matrix: () => gb.tensor([[1.0e-5, -2.0e3], [3.5, 0.0]]),
  summarized_wide_floats: () => ar(1200).reshape([3, 400]).mul(1.0e-3).add(0.5),
  matrix_long_rows_grad: () => ar(24).reshape([2, 12]).div(9).requiresGrad_(true),
};

/** torch's repr with our naming: <MulBackward0> -> <MulBackward>, torch.int32 -> gb.int32. */
const normalize = (s: string) => s.replace(/Backward\d+>/g, "Backward>").replace(/dtype=torch\./g, "dtype=gb.");

describe("printing matches PyTorch's repr", () => {
  it("every reference repr has a tensor here and vice versa", () => {
    const names = ref.reprs.map((r) => r.name);
    expect(names.filter((n) => !(n in TENSORS))).toEqual([]);
    expect(Object.keys(TENSORS).filter((n) => !names.includes(n))).toEqual([]);
  });
  for (const { name, repr } of ref.reprs) {
    it(name, async () => {
      const t = TENSORS[name]();
      const want = normalize(repr);
      expect(String(t)).toBe(want);
      expect((await t.toMimeBundle())["text/plain"]).toBe(want);
    });
  }
});
