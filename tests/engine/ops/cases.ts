// The gradbook side of every case in reference.json (made by make_reference.py):
// case name -> the same computation written with gb. Shared by ops.test.ts
// (forward + gradients vs PyTorch) and autograd.test.ts (gradcheck on every op).
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import * as gb from "../../../engine/index.ts";
import { elu, leakyRelu } from "../../../engine/ops/elementwise.ts";
import type { Tensor } from "../../../engine/index.ts";

export type Encoded = number | "nan" | "inf" | "-inf";
export interface RefTensor {
  shape: number[];
  dtype: "float32" | "int32" | "bool";
  values: Encoded[];
  w?: Encoded[];
}
export interface RefCase {
  name: string;
  inputs: RefTensor[];
  outputs: RefTensor[];
  grads: (Encoded[] | null)[] | null;
  kink?: boolean;
  nograd?: number[];
}

export const reference: { cases: RefCase[] } = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));

export const decode = (v: Encoded): number => (v === "nan" ? NaN : v === "inf" ? Infinity : v === "-inf" ? -Infinity : v);

/** A reference tensor as a gb tensor (float inputs of differentiable cases require grad unless listed in nograd). */
export function build(t: RefTensor): Tensor {
  const vals = t.values.map(decode);
  const arr = t.dtype === "float32" ? Float32Array.from(vals) : t.dtype === "int32" ? Int32Array.from(vals) : Uint8Array.from(vals);
  return gb.tensor(arr, { shape: t.shape, dtype: t.dtype });
}

type Out = Tensor | Tensor[];
const vi = (r: { values: Tensor; indices: Tensor }): Tensor[] => [r.values, r.indices];

export const OPS: Record<string, (...xs: Tensor[]) => Out> = {
  // ---- creation
  arange_end: () => gb.arange(5),
  arange_start_end_step: () => gb.arange(1, 10, 3),
  arange_negative_step: () => gb.arange(10, 0, -3),
  arange_float_step: () => gb.arange(0, 1, 0.1),
  arange_float_step2: () => gb.arange(-1, 1, 0.25),
  arange_float_step3: () => gb.arange(0, 0.3, 0.1),
  // torch.arange(1.5, 4): a float start makes floats
  arange_float_start: () => gb.arange(1.5, 4),
  linspace_5: () => gb.linspace(0, 1, 5),
  linspace_7: () => gb.linspace(-1, 1, 7),
  linspace_10: () => gb.linspace(-3.5, 2.25, 10),
  linspace_1: () => gb.linspace(2, 3, 1),
  eye_3: () => gb.eye(3),
  eye_2x4: () => gb.eye(2, 4),
  full: () => gb.full([2, 3], 7.5),
  full_int: () => gb.full([2, 2], 3, { dtype: "int32" }),
  zeros: () => gb.zeros([2, 3]),
  ones: () => gb.ones([4]),
  zeros_like_int: (x) => gb.zerosLike(x),
  ones_like: (x) => gb.onesLike(x),
  full_like: (x) => gb.fullLike(x, -2.5),
  tensor_nested: () => gb.tensor([[1.5, -2.0], [3.25, 4.0]]),
  tensor_bool: () => gb.tensor([true, false, true]),
  tensor_int: () => gb.tensor([[1, -2], [3, 4]], { dtype: "int32" }),
  one_hot: (y) => gb.oneHot(y, 4),
  one_hot_infer: (y) => gb.oneHot(y),

  // ---- arithmetic with broadcasting
  add: (x, y) => x.add(y),
  add_bcast_row: (x, y) => gb.add(x, y),
  add_bcast_both: (x, y) => x.add(y),
  add_scalar: (x) => x.add(2.5),
  add_scalar_left: (x) => gb.add(2.5, x),
  add_0d: (x, y) => x.add(y),
  sub: (x, y) => x.sub(y),
  sub_scalar_left: (x) => gb.sub(1, x),
  mul: (x, y) => gb.mul(x, y),
  mul_bcast: (x, y) => x.mul(y),
  mul_scalar: (x) => x.mul(-3),
  mul_self: (x) => x.mul(x),
  div: (x, y) => x.div(y),
  div_bcast: (x, y) => gb.div(x, y),
  div_scalar: (x) => x.div(4),
  div_scalar_left: (x) => gb.div(2, x),
  pow_scalar_2: (x) => x.pow(2),
  pow_scalar_3_negative_base: (x) => x.pow(3),
  pow_scalar_neg2_negative_base: (x) => x.pow(-2),
  pow_scalar_half: (x) => x.pow(0.5),
  pow_scalar_fraction_negative_base: (x) => x.pow(0.5),
  pow_tensor: (x, y) => x.pow(y),
  pow_tensor_bcast: (x, y) => gb.pow(x, y),
  pow_negative_base_int_exponent: (x, y) => x.pow(y),
  pow_negative_base_int_exponent_nograd_exp: (x, y) => x.pow(y),
  pow_zero_base: (x, y) => x.pow(y),
  pow_scalar_base: (x) => gb.pow(2, x),
  maximum: (x, y) => gb.maximum(x, y),
  maximum_ties: (x, y) => x.maximum(y),
  maximum_bcast: (x, y) => x.maximum(y),
  minimum: (x, y) => gb.minimum(x, y),
  minimum_ties: (x, y) => x.minimum(y),

  // ---- dtype promotion
  int_add_int: (a, b) => a.add(b),
  int_add_int_scalar: (a) => a.add(3),
  int_add_float_scalar: (a) => a.add(2.5),
  int_mul_float: (a, x) => a.mul(x),
  float_sub_int: (x, a) => x.sub(a),
  int_div_int: (a, b) => a.div(b),
  int_sub_int: (a, b) => a.sub(b),
  bool_add_int: (m, a) => m.add(a),
  bool_mul_float: (m, x) => m.mul(x),
  bool_mul_float_scalar: (m) => m.mul(1.5),
  bool_add_bool: (m, n) => m.add(n),
  int_neg: (a) => a.neg(),
  int_abs: (a) => a.abs(),
  int_gt_float_scalar: (a) => a.gt(1.5),
  int_pow_int_scalar: (a) => a.pow(2),

  // ---- comparisons and logic
  eq: (x, y) => x.eq(y),
  ne_scalar: (x) => gb.ne(x, 2),
  lt_bcast: (x, y) => gb.lt(x, y),
  le: (x, y) => x.le(y),
  gt_scalar: (x) => x.gt(0.25),
  ge: (x, y) => gb.ge(x, y),
  logical_and: (m, n) => gb.logicalAnd(m, n),
  logical_or: (m, n) => m.logicalOr(n),
  logical_not: (m) => gb.logicalNot(m),
  where: (c, x, y) => gb.where(c, x, y),
  where_bcast: (c, x, y) => gb.where(c, x, y),
  where_scalar_other: (c, x) => gb.where(c, x, 0),
  where_scalar_input: (c, x) => gb.where(c, 1.5, x),
  where_scalars: (c) => gb.where(c, 1, -1),

  // ---- unary math
  neg: (x) => gb.neg(x),
  exp: (x) => gb.exp(x),
  log: (x) => x.log(),
  log1p: (x) => gb.log1p(x),
  expm1: (x) => x.expm1(),
  sqrt: (x) => gb.sqrt(x),
  rsqrt: (x) => x.rsqrt(),
  abs: (x) => gb.abs(x),
  abs_at_zero: (x) => x.abs(),
  sign: (x) => gb.sign(x),
  square: (x) => gb.square(x),
  reciprocal: (x) => gb.reciprocal(x),
  sin: (x) => gb.sin(x),
  cos: (x) => x.cos(),
  floor: (x) => gb.floor(x),
  ceil: (x) => x.ceil(),
  round: (x) => gb.round(x),
  sigmoid: (x) => gb.sigmoid(x),
  tanh: (x) => x.tanh(),
  relu: (x) => gb.relu(x),
  relu_random: (x) => x.relu(),
  softplus: (x) => gb.softplus(x),
  step: (x) => gb.step(x),
  heaviside: (x) => x.heaviside(0.5),
  leaky_relu: (x) => leakyRelu(x, 0.1),
  elu: (x) => elu(x),
  clamp: (x) => x.clamp(-0.5, 1),
  clamp_random: (x) => gb.clamp(x, -0.5, 0.5),
  clamp_min: (x) => x.clamp(0),
  clamp_max: (x) => x.clamp(null, 0.5),

  // ---- reductions
  sum_all: (x) => x.sum(),
  sum_dim: (x) => gb.sum(x, 1),
  sum_dim_neg_keepdim: (x) => x.sum(-1, true),
  sum_dims: (x) => x.sum([0, 2]),
  sum_dims_keepdim: (x) => x.sum([0, -1], true),
  sum_int: (a) => a.sum(),
  sum_int_dim: (a) => a.sum(0),
  sum_bool: (m) => m.sum(),
  mean_all: (x) => gb.mean(x),
  mean_dim: (x) => x.mean(1),
  mean_dims_keepdim: (x) => x.mean([1, 2], true),
  prod_all: (x) => gb.prod(x),
  prod_dim: (x) => x.prod(1),
  prod_dim_keepdim: (x) => x.prod(0, true),
  prod_with_zeros: (x) => x.prod(1),
  prod_all_one_zero: (x) => x.prod(),
  max_all: (x) => gb.max(x),
  max_all_ties: (x) => x.max(),
  max_dim: (x) => vi(x.max(1)),
  max_dim_keepdim: (x) => vi(gb.max(x, -1, true)),
  max_dim_ties: (x) => vi(x.max(1)),
  min_all: (x) => x.min(),
  min_all_ties: (x) => gb.min(x),
  min_dim: (x) => vi(x.min(-2)),
  argmax_all: (x) => gb.argmax(x),
  argmax_dim: (x) => x.argmax(1),
  argmax_dim_keepdim: (x) => x.argmax(-1, true),
  argmax_ties: (x) => x.argmax(1),
  any_all: (x) => gb.any(x),
  any_dim: (x) => x.any(1),
  all_all: (x) => gb.all(x),
  all_dim_keepdim: (x) => x.all(0, true),
  all_bool_dim: (x) => x.gt(0).all(-1),
  argmin_all: (x) => x.argmin(),
  argmin_dim: (x) => gb.argmin(x, 0),
  var_all: (x) => x.var(),
  var_dim: (x) => gb.var(x, 1),
  var_dim_biased: (x) => x.var(1, { unbiased: false }),
  var_dims_keepdim: (x) => x.var([0, 2], { keepdim: true }),
  std_all: (x) => gb.std(x),
  std_dim: (x) => x.std(-1),
  std_dim_biased_keepdim: (x) => x.std(0, { unbiased: false, keepdim: true }),
  logsumexp: (x) => x.logsumexp(1),
  logsumexp_keepdim: (x) => gb.logsumexp(x, -1, true),
  logsumexp_large: (x) => x.logsumexp(1),
  softmax: (x) => x.softmax(-1),
  softmax_dim0: (x) => gb.softmax(x, 0),
  softmax_large: (x) => x.softmax(1),
  log_softmax: (x) => x.logSoftmax(1),
  log_softmax_large: (x) => gb.logSoftmax(x, -1),
  norm: (x) => x.norm(),
  norm_dim: (x) => x.norm(2, 1),
  norm_p1: (x) => gb.norm(x, 1),
  norm_p1_dim: (x) => x.norm(1, -1),
  norm_p3_dim_keepdim: (x) => x.norm(3, 0, true),
  norm_inf: (x) => x.norm(Infinity),
  norm_inf_dim: (x) => x.norm(Infinity, 1),
  norm_inf_dims: (x) => x.norm(Infinity, [0, 2]),
  norm_dims: (x) => x.norm(2, [0, 2]),
  norm_zero_vector: (x) => x.norm(),

  // ---- views and movement
  reshape: (x) => x.reshape([4, -1]),
  reshape_flat: (x) => gb.reshape(x, [-1]),
  view: (x) => x.view(3, 8),
  transpose: (x) => x.transpose(0, 2),
  transpose_neg: (x) => gb.transpose(x, -1, -2),
  permute: (x) => x.permute(2, 0, 1),
  t: (x) => x.t(),
  T_3d: (x) => x.T,
  flatten: (x) => x.flatten(),
  flatten_start: (x) => gb.flatten(x, 1),
  flatten_range: (x) => x.flatten(0, 1),
  squeeze: (x) => x.squeeze(),
  squeeze_dim: (x) => gb.squeeze(x, 1),
  squeeze_dim_noop: (x) => x.squeeze(0),
  unsqueeze: (x) => x.unsqueeze(0),
  unsqueeze_neg: (x) => gb.unsqueeze(x, -1),
  index_int: (x) => x.index(0),
  index_neg_int: (x) => x.index(-1),
  index_slice: (x) => x.index(":", "1:3"),
  index_step: (x) => x.index("::2"),
  index_step_start: (x) => x.index(":", [1, null, 2]),
  index_neg_slice: (x) => gb.index(x, "-3:-1"),
  index_ellipsis: (x) => x.index("...", -1),
  index_none: (x) => x.index("none", 1),
  index_mixed: (x) => x.index(1, ":", "0:4:3"),
  index_tensor: (x, i) => x.index(i),
  index_tensor_2d: (x, i) => x.index(":", i),
  index_tensor_negative: (x, i) => x.index(i),
  index_pairwise: (x, i, j) => x.index(i, j),
  index_pairwise_bcast: (x, i, j) => x.index(i, j),
  index_pairwise_inner: (x, i, j) => x.index(":", i, j),
  index_pairwise_split: (x, i, j) => x.index(i, ":", j),
  index_int_tensor_split: (x, i) => x.index(0, ":", i),
  index_tensor_int: (x, i) => x.index(i, 1),
  index_int_tensor: (x, i) => x.index(1, i),
  index_tensor_slice_int: (x, i) => x.index(i, "1:", -1),
  slice: (x) => x.slice(1, 1, null, 2),
  slice_neg_start: (x) => gb.slice(x, 0, -2),
  slice_end: (x) => x.slice(1, 0, -2),
  narrow: (x) => x.narrow(1, 1, 2),
  flip: (x) => x.flip(0),
  flip_dims: (x) => gb.flip(x, [0, 2]),
  expand: (x) => x.expand(2, 3, 4),
  expand_neg1: (x) => gb.expand(x, [-1, 4]),
  expand_as: (x, y) => x.expandAs(y),
  repeat: (x) => x.repeat(2, 3),
  repeat_new_dims: (x) => gb.repeat(x, [2, 1, 2]),
  cat: (x, y, z) => gb.cat([x, y, z]),
  cat_neg_dim: (x, y) => gb.cat([x, y], -1),
  stack: (x, y) => gb.stack([x, y]),
  stack_neg_dim: (x, y, z) => gb.stack([x, y, z], -1),
  split_size: (x) => x.split(2, 1),
  split_sizes: (x) => gb.split(x, [1, 3, 1], 1),
  chunk: (x) => x.chunk(3),
  chunk_uneven: (x) => gb.chunk(x, 4, 1),
  pad_last: (x) => gb.pad(x, [1, 2]),
  pad_2d_value: (x) => gb.pad(x, [1, 0, 2, 1], 0.5),
  pad_crop: (x) => gb.pad(x, [-1, 1]),
  gather: (x, i) => x.gather(1, i),
  gather_dim0: (x, i) => gb.gather(x, 0, i),
  scatter_add: (s, i) => s.scatterAdd(1, i, [3, 4]),
  scatter_add_dim0: (s, i) => gb.scatterAdd(s, 0, i, [3, 4]),
  index_select: (x, i) => x.indexSelect(0, i),
  index_select_dim1: (x, i) => gb.indexSelect(x, 1, i),
  clone: (x) => x.clone(),
  contiguous: (x) => x.contiguous(),
  to_int: (x) => x.int(),
  to_float: (a) => a.float(),
  to_bool: (x) => x.bool(),
  int_to_bool: (a) => a.to("bool"),

  // ---- linear algebra
  matmul_2d: (a, b) => a.matmul(b),
  matmul_1d_1d: (a, b) => gb.matmul(a, b),
  matmul_1d_2d: (a, b) => a.matmul(b),
  matmul_2d_1d: (a, b) => a.matmul(b),
  matmul_3d_3d: (a, b) => gb.matmul(a, b),
  matmul_bcast: (a, b) => a.matmul(b),
  matmul_3d_2d: (a, b) => a.matmul(b),
  matmul_1d_3d: (a, b) => a.matmul(b),
  matmul_3d_1d: (a, b) => a.matmul(b),
  mm: (a, b) => a.mm(b),
  bmm: (a, b) => gb.bmm(a, b),
  dot: (a, b) => a.dot(b),
  outer: (a, b) => gb.outer(a, b),

  // ---- edge cases
  softmax_masked: (x) => x.softmax(-1),
  log_softmax_masked: (x) => x.logSoftmax(-1),
  logsumexp_all_neg_inf: (x) => x.logsumexp(1),
  sum_empty: (x) => x.sum(0),
  sum_empty_all: (x) => x.sum(),
  max_nan: (x) => x.max(),
  max_dim_nan: (x) => vi(x.max(1)),
  maximum_nan: (x, y) => x.maximum(y),
  clamp_min_above_max: (x) => x.clamp(1, 0),
  where_int: (c, a, b) => gb.where(c, a, b),
  addcmul: (a, b, c) => gb.addcmul(a, b, c),
  addcmul_value_bcast: (a, b, c) => a.addcmul(b, c, { value: -0.5 }),
  addcmul_scalar_tensor2: (a, b, c) => gb.addcmul(a, b, c),
  mean_0d: (x) => x.mean(),
  reshape_0d: (x) => x.reshape([1, 1]),
  expand_0d: (x) => x.expand(2, 3),
  stack_0d: (x, y) => gb.stack([x, y]),
  cat_mixed_dtype: (a, x) => gb.cat([a, x]),
  cat_int: (a, b) => gb.cat([a, b], 1),
  prod_int: (a) => a.prod(1),
  narrow_neg_start: (x) => x.narrow(0, -2, 2),
  index_empty_slice: (x) => x.index("3:1"),
  flip_neg_dim: (x) => x.flip(-1),
  split_neg_dim: (x) => x.split(2, -1),
  pad_3d: (x) => gb.pad(x, [1, 1, -1, 2]),
  gather_index_smaller_3d: (x, i) => x.gather(0, i),
  gather_index_smaller_dim1: (x, i) => x.gather(1, i),
  scatter_add_index_smaller: (s, i) => s.scatterAdd(0, i, [2, 3, 4]),
  scatter_add_index_smaller_dim2: (s, i) => s.scatterAdd(2, i, [2, 3, 4]),
  mean_all_dims_keepdim: (x) => x.mean([0, 1, 2], true),
  var_single: (x) => x.var(0),
  t_1d: (x) => x.t(),
  permute_list: (x) => x.permute([1, 2, 0]),
  repeat_list: (x) => x.repeat([1, 2]),
  heaviside_default: (x) => x.heaviside(),
  argmin_ties: (x) => x.argmin(),

  // ---- compositions
  composite_mlp: (x, w, b) => x.matmul(w).add(b).tanh().sum(1).sigmoid(),
  composite_reuse: (x) => x.mul(x.exp()).sub(x.div(x.mul(x).add(1))).mean(0),
  composite_cross_entropy: (z) => z.logSoftmax(1).index(gb.arange(3), gb.tensor([1, 0, 3], { dtype: "int32" })).mean().neg(),
};

/** Inputs of a case as gb tensors; float inputs require grad when the case has gradients. */
export function inputsOf(c: RefCase): Tensor[] {
  return c.inputs.map((t, i) => {
    const x = build(t);
    if (t.dtype === "float32" && c.grads && c.grads[i] !== null && !(c.nograd ?? []).includes(i)) x.requiresGrad_(true);
    return x;
  });
}

export const asList = (o: Out): Tensor[] => (Array.isArray(o) ? o : [o]);

/**
 * Runs a case and checks its outputs and gradients against PyTorch's (|got - want| <= 1e-6 + 1e-5 |want|;
 * NaN and infinities exactly): the threads' and the poisoned-results suites run every case with it.
 */
export async function checkAgainstReference(c: RefCase): Promise<void> {
  const compare = (got: ArrayLike<number>, want: Encoded[], what: string) => {
    expect(got.length, what).toBe(want.length);
    for (let i = 0; i < want.length; i++) {
      const w = decode(want[i]);
      const ok = Number.isNaN(w) ? Number.isNaN(got[i]) : !Number.isFinite(w) ? got[i] === w : Math.abs(got[i] - w) <= 1e-6 + 1e-5 * Math.abs(w);
      if (!ok) expect.fail(`${what}: element ${i} is ${got[i]}, PyTorch has ${w}`);
    }
  };
  const xs = inputsOf(c);
  const outs = asList(OPS[c.name](...xs));
  let loss: Tensor | null = null;
  outs.forEach((o, k) => {
    compare(o.dataSync(), c.outputs[k].values, `${c.name} output ${k}`);
    const wv = c.outputs[k].w;
    if (wv) {
      const term = o.mul(gb.tensor(Float32Array.from(wv.map(decode)), { shape: c.outputs[k].shape })).sum();
      loss = loss ? loss.add(term) : term;
    }
  });
  if (!c.grads || !loss) return;
  await (loss as Tensor).backward();
  c.grads.forEach((g, i) => {
    if (g !== null) compare(xs[i].grad!.dataSync(), g, `${c.name} grad ${i}`);
  });
}
