#!/usr/bin/python3
"""Generates tests/engine/ops/reference.json (tensor ops: forward values and
gradients) and tests/engine/ops/reprs.json (PyTorch's repr of a set of tensors)
with Debian's python3-torch.

Run:  /usr/bin/python3 tests/engine/ops/make_reference.py

Every case is named; tests/engine/ops/cases.ts maps each name to the same
computation written with gradbook. For every case we store the inputs, every
output (shape, dtype, values) and, for differentiable ops, the gradient of
sum_k (out_k * w_k).sum() with a fixed random w_k w.r.t. each float input.
Everything is float32 (torch's int64 results are stored as int32, the dtype
gradbook uses for integers). Inputs are rounded to 3 decimals so both sides
start from the same float32 values. Non-finite numbers are stored as the
strings "nan", "inf", "-inf".

Flags per case: "kink": inputs sit on a kink/tie on purpose (gradcheck skips
the case); "nograd": inputs that do not require grad.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20261123)
HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------- inputs


def R(*shape, scale=1.0):
    """Random normal float32, rounded to 3 decimals."""
    return ((torch.randn(shape) * scale * 1000).round() / 1000).float()


def P(*shape, lo=0.3, hi=2.5):
    """Random positive float32 in [lo, hi), rounded to 3 decimals."""
    return ((torch.rand(shape) * (hi - lo) + lo) * 1000).round().float() / 1000


def T(values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype)


def I(values):
    return torch.tensor(values, dtype=torch.int64)


def RI(*shape, lo=-5, hi=6):
    return torch.randint(lo, hi, shape, dtype=torch.int64)


def B(values):
    return torch.tensor(values, dtype=torch.bool)


def enc(v):
    if isinstance(v, bool):
        return 1 if v else 0
    if isinstance(v, int):
        return v
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float("%.9g" % v)


DT = {torch.float32: "float32", torch.int64: "int32", torch.int32: "int32", torch.bool: "bool"}


def pack(t):
    t = t.detach()
    return {"shape": list(t.shape), "dtype": DT[t.dtype], "values": [enc(v) for v in t.reshape(-1).tolist()]}


# --------------------------------------------------------------------------- cases

cases = []


def case(name, fn, inputs=(), nograd=(), kink=False):
    assert all(c["name"] != name for c in cases), name
    ins = []
    for i, x in enumerate(inputs):
        x = x.clone()
        if x.dtype == torch.float32 and i not in nograd:
            x.requires_grad_(True)
        ins.append(x)
    out = fn(*ins)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    outs_json = []
    loss = None
    for o in outs:
        j = pack(o)
        if o.dtype == torch.float32 and o.requires_grad:
            w = R(*o.shape)
            j["w"] = [enc(v) for v in w.reshape(-1).tolist()]
            term = (o * w).sum()
            loss = term if loss is None else loss + term
        outs_json.append(j)
    grads = None
    if loss is not None:
        wanted = [x for x in ins if x.requires_grad]
        gs = torch.autograd.grad(loss, wanted, allow_unused=True)
        it = iter(gs)
        grads = []
        for x in ins:
            if x.requires_grad:
                g = next(it)
                grads.append(None if g is None else [enc(v) for v in g.reshape(-1).tolist()])
            else:
                grads.append(None)
    c = {"name": name, "inputs": [pack(x) for x in ins], "outputs": outs_json, "grads": grads}
    if kink:
        c["kink"] = True
    if nograd:
        c["nograd"] = list(nograd)
    cases.append(c)


# ---- creation (no inputs)
case("arange_end", lambda: torch.arange(5))
case("arange_start_end_step", lambda: torch.arange(1, 10, 3))
case("arange_negative_step", lambda: torch.arange(10, 0, -3))
case("arange_float_step", lambda: torch.arange(0, 1, 0.1))
case("arange_float_step2", lambda: torch.arange(-1, 1, 0.25))
case("arange_float_step3", lambda: torch.arange(0, 0.3, 0.1))
case("arange_float_start", lambda: torch.arange(1.5, 4))
case("linspace_5", lambda: torch.linspace(0, 1, 5))
case("linspace_7", lambda: torch.linspace(-1, 1, 7))
case("linspace_10", lambda: torch.linspace(-3.5, 2.25, 10))
case("linspace_1", lambda: torch.linspace(2, 3, 1))
case("eye_3", lambda: torch.eye(3))
case("eye_2x4", lambda: torch.eye(2, 4))
case("full", lambda: torch.full((2, 3), 7.5))
case("full_int", lambda: torch.full((2, 2), 3, dtype=torch.int32))
case("zeros", lambda: torch.zeros(2, 3))
case("ones", lambda: torch.ones(4))
case("zeros_like_int", lambda x: torch.zeros_like(x), [I([[1, 2], [3, 4]])])
case("ones_like", lambda x: torch.ones_like(x).detach(), [R(2, 3)], nograd=[0])
case("full_like", lambda x: torch.full_like(x, -2.5), [R(3)], nograd=[0])
case("tensor_nested", lambda: torch.tensor([[1.5, -2.0], [3.25, 4.0]]))
case("tensor_bool", lambda: torch.tensor([True, False, True]))
case("tensor_int", lambda: torch.tensor([[1, -2], [3, 4]], dtype=torch.int32))
case("one_hot", lambda y: F.one_hot(y, 4).float(), [I([0, 2, 1, 3, 2])])
case("one_hot_infer", lambda y: F.one_hot(y).float(), [I([[0, 2], [1, 1]])])

# ---- element-wise arithmetic with broadcasting
case("add", lambda x, y: x + y, [R(2, 3), R(2, 3)])
case("add_bcast_row", lambda x, y: x + y, [R(2, 3), R(3)])
case("add_bcast_both", lambda x, y: x + y, [R(2, 1, 3), R(4, 1)])
case("add_scalar", lambda x: x + 2.5, [R(2, 3)])
case("add_scalar_left", lambda x: 2.5 + x, [R(3)])
case("add_0d", lambda x, y: x + y, [R(2, 3), R()])
case("sub", lambda x, y: x - y, [R(2, 3), R(3)])
case("sub_scalar_left", lambda x: 1 - x, [R(2, 2)])
case("mul", lambda x, y: x * y, [R(2, 3), R(2, 3)])
case("mul_bcast", lambda x, y: x * y, [R(3, 1), R(1, 4)])
case("mul_scalar", lambda x: x * -3, [R(4)])
case("mul_self", lambda x: x * x, [R(5)])
case("div", lambda x, y: x / y, [R(2, 3), P(2, 3)])
case("div_bcast", lambda x, y: x / y, [R(2, 3), P(2, 1)])
case("div_scalar", lambda x: x / 4, [R(3)])
case("div_scalar_left", lambda x: 2 / x, [P(3)])
case("pow_scalar_2", lambda x: x ** 2, [R(2, 3)])
case("pow_scalar_3_negative_base", lambda x: x ** 3, [T([-2.0, -0.5, 1.5, -1.25])])
case("pow_scalar_neg2_negative_base", lambda x: x ** -2, [T([-2.0, -0.5, 1.5, -1.25])])
case("pow_scalar_half", lambda x: x ** 0.5, [P(4)])
case("pow_scalar_fraction_negative_base", lambda x: x ** 0.5, [T([-1.0, 4.0])], kink=True)
case("pow_tensor", lambda x, y: x ** y, [P(2, 3), R(2, 3)])
case("pow_tensor_bcast", lambda x, y: x ** y, [P(2, 3), R(3)])
case("pow_negative_base_int_exponent", lambda x, y: x ** y, [T([-2.0, -0.5, -1.5, 3.0]), T([2.0, 3.0, -1.0, 2.0])], kink=True)
case("pow_negative_base_int_exponent_nograd_exp", lambda x, y: x ** y, [T([-2.0, -0.5, -1.5, 3.0]), T([2.0, 3.0, -1.0, 2.0])], nograd=[1])
case("pow_zero_base", lambda x, y: x ** y, [T([0.0, 0.0, 2.0]), T([2.0, 0.0, 0.5])], kink=True)
case("pow_scalar_base", lambda x: torch.pow(2.0, x), [R(3)])
case("maximum", lambda x, y: torch.maximum(x, y), [R(2, 3), R(2, 3)])
case("maximum_ties", lambda x, y: torch.maximum(x, y), [T([1.0, 2.0, -3.0, 0.5]), T([1.0, 0.0, -3.0, 0.75])], kink=True)
case("maximum_bcast", lambda x, y: torch.maximum(x, y), [R(2, 3), R(3)])
case("minimum", lambda x, y: torch.minimum(x, y), [R(2, 3), R(2, 3)])
case("minimum_ties", lambda x, y: torch.minimum(x, y), [T([1.0, 2.0, -3.0, 0.5]), T([1.0, 0.0, -3.0, 0.75])], kink=True)

# ---- dtype promotion
case("int_add_int", lambda a, b: a + b, [RI(2, 3), RI(3)])
case("int_add_int_scalar", lambda a: a + 3, [RI(4)])
case("int_add_float_scalar", lambda a: a + 2.5, [RI(4)])
case("int_mul_float", lambda a, x: a * x, [RI(3), R(2, 3)])
case("float_sub_int", lambda x, a: x - a, [R(3), RI(3)])
case("int_div_int", lambda a, b: a / b, [I([7, -7, 3, 0]), I([2, 2, -4, 5])])
case("int_sub_int", lambda a, b: a - b, [RI(4), RI(4)])
case("bool_add_int", lambda m, a: m + a, [B([True, False, True]), RI(3)])
case("bool_mul_float", lambda m, x: m * x, [B([True, False, True]), R(3)])
case("bool_mul_float_scalar", lambda m: m * 1.5, [B([True, False])])
case("bool_add_bool", lambda m, n: m + n, [B([True, False, True, False]), B([True, True, False, False])])
case("int_neg", lambda a: -a, [RI(4)])
case("int_abs", lambda a: a.abs(), [RI(5)])
case("int_gt_float_scalar", lambda a: a > 1.5, [RI(5)])
case("int_pow_int_scalar", lambda a: a ** 2, [RI(4)])

# ---- comparisons and logic
case("eq", lambda x, y: x == y, [T([1.0, 2.0, 3.0]), T([1.0, 0.0, 3.0])])
case("ne_scalar", lambda x: x != 2, [T([1.0, 2.0, 3.0])])
case("lt_bcast", lambda x, y: x < y, [R(2, 3), R(3)])
case("le", lambda x, y: x <= y, [T([1.0, 2.0, 3.0]), T([1.0, 0.0, 4.0])])
case("gt_scalar", lambda x: x > 0.25, [R(2, 3)])
case("ge", lambda x, y: x >= y, [T([1.0, 2.0, 3.0]), T([1.0, 0.0, 4.0])])
case("logical_and", lambda m, n: torch.logical_and(m, n), [B([True, False, True, False]), B([True, True, False, False])])
case("logical_or", lambda m, n: torch.logical_or(m, n), [B([True, False, True, False]), B([True, True, False, False])])
case("logical_not", lambda m: torch.logical_not(m), [B([True, False])])
case("where", lambda c, x, y: torch.where(c, x, y), [B([[True, False, True], [False, False, True]]), R(2, 3), R(2, 3)])
case("where_bcast", lambda c, x, y: torch.where(c, x, y), [B([[True], [False]]), R(2, 3), R(3)])
case("where_scalar_other", lambda c, x: torch.where(c, x, torch.tensor(0.0)), [B([True, False, True]), R(3)])
case("where_scalar_input", lambda c, x: torch.where(c, torch.tensor(1.5), x), [B([True, False, True]), R(3)])
case("where_scalars", lambda c: torch.where(c, torch.tensor(1.0), torch.tensor(-1.0)), [B([True, False, True])])

# ---- unary math
POS = P(2, 3)
case("neg", lambda x: -x, [R(2, 3)])
case("exp", lambda x: x.exp(), [R(2, 3)])
case("log", lambda x: x.log(), [POS])
case("log1p", lambda x: x.log1p(), [P(2, 3, lo=-0.5, hi=2)])
case("expm1", lambda x: x.expm1(), [R(2, 3)])
case("sqrt", lambda x: x.sqrt(), [POS])
case("rsqrt", lambda x: x.rsqrt(), [POS])
case("abs", lambda x: x.abs(), [R(2, 3)])
case("abs_at_zero", lambda x: x.abs(), [T([-1.0, 0.0, 2.0, -0.0])], kink=True)
case("sign", lambda x: x.sign(), [T([-1.5, 0.0, 2.0, 0.25])], kink=True)
case("square", lambda x: x.square(), [R(2, 3)])
case("reciprocal", lambda x: x.reciprocal(), [P(2, 3)])
case("sin", lambda x: x.sin(), [R(2, 3)])
case("cos", lambda x: x.cos(), [R(2, 3)])
case("floor", lambda x: x.floor(), [T([-1.5, -0.25, 0.0, 0.75, 2.0, 2.5])], kink=True)
case("ceil", lambda x: x.ceil(), [T([-1.5, -0.25, 0.0, 0.75, 2.0, 2.5])], kink=True)
case("round", lambda x: x.round(), [T([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4, -0.6, 3.7])], kink=True)
case("sigmoid", lambda x: x.sigmoid(), [T([-30.0, -2.0, -0.5, 0.0, 0.5, 3.0, 30.0])])
case("tanh", lambda x: x.tanh(), [R(2, 3, scale=2)])
case("relu", lambda x: x.relu(), [T([-1.0, 0.0, 0.5, 2.0, -0.25])], kink=True)
case("relu_random", lambda x: x.relu(), [R(3, 4)])
case("softplus", lambda x: F.softplus(x), [T([-30.0, -2.0, 0.0, 1.5, 19.0, 25.0])])
case("step", lambda x: (x > 0).float() + x * 0, [T([-1.0, 0.0, 0.5, 2.0])], kink=True)
case("heaviside", lambda x: torch.heaviside(x, torch.tensor(0.5)), [T([-1.0, 0.0, 0.5, 2.0])], nograd=[0])
case("leaky_relu", lambda x: F.leaky_relu(x, 0.1), [R(2, 4)])
case("elu", lambda x: F.elu(x), [R(2, 4)])
case("clamp", lambda x: x.clamp(-0.5, 1.0), [T([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0])], kink=True)
case("clamp_random", lambda x: x.clamp(-0.5, 0.5), [R(3, 4)])
case("clamp_min", lambda x: x.clamp(min=0.0), [T([-1.0, 0.0, 0.5, 2.0])], kink=True)
case("clamp_max", lambda x: x.clamp(max=0.5), [T([-1.0, 0.0, 0.5, 2.0])], kink=True)

# ---- reductions
X = R(2, 3, 4)
case("sum_all", lambda x: x.sum(), [X])
case("sum_dim", lambda x: x.sum(1), [X])
case("sum_dim_neg_keepdim", lambda x: x.sum(-1, keepdim=True), [X])
case("sum_dims", lambda x: x.sum((0, 2)), [X])
case("sum_dims_keepdim", lambda x: x.sum((0, -1), keepdim=True), [X])
case("sum_int", lambda a: a.sum(), [RI(2, 3)])
case("sum_int_dim", lambda a: a.sum(0), [RI(2, 3)])
case("sum_bool", lambda m: m.sum(), [B([True, False, True, True])])
case("mean_all", lambda x: x.mean(), [X])
case("mean_dim", lambda x: x.mean(1), [X])
case("mean_dims_keepdim", lambda x: x.mean((1, 2), keepdim=True), [X])
case("prod_all", lambda x: x.prod(), [P(2, 3, lo=0.5, hi=1.5)])
case("prod_dim", lambda x: x.prod(1), [R(3, 4)])
case("prod_dim_keepdim", lambda x: x.prod(0, keepdim=True), [R(3, 4)])
case("prod_with_zeros", lambda x: x.prod(1), [T([[1.5, 0.0, 2.0], [0.0, 3.0, 0.0], [1.0, 2.0, -0.5]])], kink=True)
case("prod_all_one_zero", lambda x: x.prod(), [T([1.5, 0.0, 2.0, -1.0])], kink=True)
case("max_all", lambda x: x.max(), [X])
case("max_all_ties", lambda x: x.max(), [T([1.0, 3.0, -2.0, 3.0, 3.0])], kink=True)
case("max_dim", lambda x: tuple(x.max(1)), [X])
case("max_dim_keepdim", lambda x: tuple(x.max(-1, keepdim=True)), [X])
case("max_dim_ties", lambda x: tuple(x.max(1)), [T([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])], kink=True)
case("min_all", lambda x: x.min(), [X])
case("min_all_ties", lambda x: x.min(), [T([1.0, -2.0, -2.0, 3.0])], kink=True)
case("min_dim", lambda x: tuple(x.min(-2)), [X])
case("argmax_all", lambda x: x.argmax(), [X])
case("argmax_dim", lambda x: x.argmax(1), [X])
case("argmax_dim_keepdim", lambda x: x.argmax(-1, keepdim=True), [X])
case("argmax_ties", lambda x: x.argmax(1), [T([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])])
ANYALL = T([[0.0, 1.5, 0.0], [0.0, 0.0, 0.0], [2.0, -1.0, 3.0]])
case("any_all", lambda x: x.any(), [ANYALL])
case("any_dim", lambda x: x.any(1), [ANYALL])
case("all_all", lambda x: x.all(), [ANYALL])
case("all_dim_keepdim", lambda x: x.all(0, keepdim=True), [ANYALL])
case("all_bool_dim", lambda x: (x > 0).all(-1), [ANYALL])
case("argmin_all", lambda x: x.argmin(), [X])
case("argmin_dim", lambda x: x.argmin(0), [X])
case("var_all", lambda x: x.var(), [X])
case("var_dim", lambda x: x.var(1), [X])
case("var_dim_biased", lambda x: x.var(1, unbiased=False), [X])
case("var_dims_keepdim", lambda x: x.var((0, 2), keepdim=True), [X])
case("std_all", lambda x: x.std(), [X])
case("std_dim", lambda x: x.std(-1), [X])
case("std_dim_biased_keepdim", lambda x: x.std(0, unbiased=False, keepdim=True), [X])
case("logsumexp", lambda x: x.logsumexp(1), [X])
case("logsumexp_keepdim", lambda x: x.logsumexp(-1, keepdim=True), [X])
case("logsumexp_large", lambda x: x.logsumexp(1), [T([[1000.0, 1000.5, 999.0], [-1000.0, -1001.0, -999.5]])])
case("softmax", lambda x: x.softmax(-1), [X])
case("softmax_dim0", lambda x: x.softmax(0), [R(3, 4)])
case("softmax_large", lambda x: x.softmax(1), [T([[1000.0, 1000.5, 999.0], [-1000.0, -1001.0, -999.5]])])
case("log_softmax", lambda x: x.log_softmax(1), [X])
case("log_softmax_large", lambda x: x.log_softmax(-1), [T([[1000.0, 1000.5, 999.0], [-1000.0, -1001.0, -999.5]])])
case("norm", lambda x: x.norm(), [X])
case("norm_dim", lambda x: x.norm(2, 1), [X])
case("norm_p1", lambda x: x.norm(1), [R(3, 4)])
case("norm_p1_dim", lambda x: x.norm(1, -1), [R(3, 4)])
case("norm_p3_dim_keepdim", lambda x: x.norm(3, 0, keepdim=True), [R(3, 4)])
case("norm_inf", lambda x: x.norm(float("inf")), [R(3, 4)])
case("norm_inf_dim", lambda x: x.norm(float("inf"), 1), [R(3, 4)])
case("norm_inf_dims", lambda x: x.norm(float("inf"), (0, 2)), [X])
case("norm_dims", lambda x: x.norm(2, (0, 2)), [X])
case("norm_zero_vector", lambda x: x.norm(), [T([0.0, 0.0, 0.0])], kink=True)

# ---- views and movement
case("reshape", lambda x: x.reshape(4, -1), [X])
case("reshape_flat", lambda x: x.reshape(-1), [X])
case("view", lambda x: x.view(3, 8), [X])
case("transpose", lambda x: x.transpose(0, 2), [X])
case("transpose_neg", lambda x: x.transpose(-1, -2), [X])
case("permute", lambda x: x.permute(2, 0, 1), [X])
case("t", lambda x: x.t(), [R(2, 3)])
case("T_3d", lambda x: x.permute(2, 1, 0), [X])
case("flatten", lambda x: x.flatten(), [X])
case("flatten_start", lambda x: x.flatten(1), [X])
case("flatten_range", lambda x: x.flatten(0, 1), [X])
case("squeeze", lambda x: x.squeeze(), [R(2, 1, 3, 1)])
case("squeeze_dim", lambda x: x.squeeze(1), [R(2, 1, 3, 1)])
case("squeeze_dim_noop", lambda x: x.squeeze(0), [R(2, 1, 3, 1)])
case("unsqueeze", lambda x: x.unsqueeze(0), [R(2, 3)])
case("unsqueeze_neg", lambda x: x.unsqueeze(-1), [R(2, 3)])
case("index_int", lambda x: x[0], [X])
case("index_neg_int", lambda x: x[-1], [X])
case("index_slice", lambda x: x[:, 1:3], [X])
case("index_step", lambda x: x[::2], [R(5, 2)])
case("index_step_start", lambda x: x[:, 1::2], [R(3, 5)])
case("index_neg_slice", lambda x: x[-3:-1], [R(5, 2)])
case("index_ellipsis", lambda x: x[..., -1], [X])
case("index_none", lambda x: x[None, 1], [X])
case("index_mixed", lambda x: x[1, :, 0:4:3], [X])
case("index_tensor", lambda x, i: x[i], [R(4, 3), I([2, 0, 2])])
case("index_tensor_2d", lambda x, i: x[:, i], [R(2, 4), I([[0, 1], [3, 3]])])
case("index_tensor_negative", lambda x, i: x[i], [R(4, 2), I([-1, 0, -4])])
case("index_pairwise", lambda x, i, j: x[i, j], [R(3, 4), I([0, 2, 1]), I([3, 0, 3])])
case("index_pairwise_bcast", lambda x, i, j: x[i, j], [R(3, 4), I([[0], [2]]), I([1, 3, 0])])
case("index_pairwise_inner", lambda x, i, j: x[:, i, j], [R(2, 3, 4), I([0, 2]), I([1, -1])])
case("index_pairwise_split", lambda x, i, j: x[i, :, j], [R(2, 3, 4), I([1, 0]), I([3, 2])])
case("index_int_tensor_split", lambda x, i: x[0, :, i], [R(2, 3, 4), I([3, 1])])
case("index_tensor_int", lambda x, i: x[i, 1], [R(2, 3, 4), I([1, 0, 1])])
case("index_int_tensor", lambda x, i: x[1, i], [R(2, 3, 4), I([[2], [0]])])
case("index_tensor_slice_int", lambda x, i: x[i, 1:, -1], [R(2, 3, 4), I([1, 0])])
case("slice", lambda x: x[:, 1::2], [R(3, 6)])
case("slice_neg_start", lambda x: x[-2:], [R(4, 2)])
case("slice_end", lambda x: x[:, :-2], [R(3, 5)])
case("narrow", lambda x: x.narrow(1, 1, 2), [X])
case("flip", lambda x: x.flip(0), [R(3, 2)])
case("flip_dims", lambda x: x.flip((0, 2)), [X])
case("expand", lambda x: x.expand(2, 3, 4), [R(3, 1)])
case("expand_neg1", lambda x: x.expand(-1, 4), [R(3, 1)])
case("expand_as", lambda x, y: x.expand_as(y), [R(1, 4), R(3, 4)], nograd=[1])
case("repeat", lambda x: x.repeat(2, 3), [R(2, 3)])
case("repeat_new_dims", lambda x: x.repeat(2, 1, 2), [R(2, 3)])
case("cat", lambda x, y, z: torch.cat([x, y, z]), [R(1, 3), R(2, 3), R(3, 3)])
case("cat_neg_dim", lambda x, y: torch.cat([x, y], -1), [R(2, 2), R(2, 3)])
case("stack", lambda x, y: torch.stack([x, y]), [R(2, 3), R(2, 3)])
case("stack_neg_dim", lambda x, y, z: torch.stack([x, y, z], -1), [R(2, 3), R(2, 3), R(2, 3)])
case("split_size", lambda x: x.split(2, 1), [R(3, 5)])
case("split_sizes", lambda x: x.split([1, 3, 1], 1), [R(3, 5)])
case("chunk", lambda x: x.chunk(3), [R(5, 2)])
case("chunk_uneven", lambda x: x.chunk(4, 1), [R(2, 6)])
case("pad_last", lambda x: F.pad(x, (1, 2)), [R(2, 3)])
case("pad_2d_value", lambda x: F.pad(x, (1, 0, 2, 1), value=0.5), [R(2, 3)])
case("pad_crop", lambda x: F.pad(x, (-1, 1)), [R(2, 3)])
case("gather", lambda x, i: x.gather(1, i), [R(3, 4), I([[0, 0], [3, 1], [2, 2]])])
case("gather_dim0", lambda x, i: x.gather(0, i), [R(3, 4), I([[2, 0, 1, 1], [0, 0, 2, 1]])])
case("scatter_add", lambda s, i: torch.zeros(3, 4).scatter_add(1, i, s), [R(3, 2), I([[0, 0], [3, 1], [2, 2]])])
case("scatter_add_dim0", lambda s, i: torch.zeros(3, 4).scatter_add(0, i, s), [R(2, 4), I([[2, 0, 1, 1], [0, 0, 2, 1]])])
case("index_select", lambda x, i: x.index_select(0, i), [R(3, 4), I([2, 0, 2])])
case("index_select_dim1", lambda x, i: x.index_select(1, i), [R(2, 3, 2), I([1, 2])])
case("clone", lambda x: x.clone(), [R(2, 3)])
case("contiguous", lambda x: x.contiguous(), [R(2, 3)])
case("to_int", lambda x: x.int(), [T([-1.7, -0.5, 0.0, 0.5, 2.9])], nograd=[0])
case("to_float", lambda a: a.float(), [RI(4)])
case("to_bool", lambda x: x.bool(), [T([-1.5, 0.0, 0.25])], nograd=[0])
case("int_to_bool", lambda a: a.bool(), [I([0, 3, -1])])

# ---- linear algebra
case("matmul_2d", lambda a, b: a @ b, [R(2, 3), R(3, 4)])
case("matmul_1d_1d", lambda a, b: a @ b, [R(3), R(3)])
case("matmul_1d_2d", lambda a, b: a @ b, [R(3), R(3, 4)])
case("matmul_2d_1d", lambda a, b: a @ b, [R(2, 3), R(3)])
case("matmul_3d_3d", lambda a, b: a @ b, [R(2, 2, 3), R(2, 3, 4)])
case("matmul_bcast", lambda a, b: a @ b, [R(2, 1, 3, 4), R(3, 4, 2)])
case("matmul_3d_2d", lambda a, b: a @ b, [R(2, 2, 3), R(3, 4)])
case("matmul_1d_3d", lambda a, b: a @ b, [R(3), R(2, 3, 4)])
case("matmul_3d_1d", lambda a, b: a @ b, [R(2, 2, 3), R(3)])
case("mm", lambda a, b: a.mm(b), [R(3, 2), R(2, 4)])
case("bmm", lambda a, b: a.bmm(b), [R(2, 3, 2), R(2, 2, 3)])
case("dot", lambda a, b: a.dot(b), [R(4), R(4)])
case("outer", lambda a, b: torch.outer(a, b), [R(3), R(4)])

# ---- edge cases: empty, non-finite, 0-d, mixed dtypes
NINF = float("-inf")
case("softmax_masked", lambda x: x.softmax(-1), [T([[0.5, NINF, 1.0], [NINF, 2.0, NINF]])])
case("log_softmax_masked", lambda x: x.log_softmax(-1), [T([[0.5, NINF, 1.0], [NINF, 2.0, NINF]])], kink=True)
case("logsumexp_all_neg_inf", lambda x: x.logsumexp(1), [T([[NINF, NINF], [0.5, NINF]])], nograd=[0])
case("sum_empty", lambda x: x.sum(0), [torch.zeros(0, 3)])
case("sum_empty_all", lambda x: x.sum(), [torch.zeros(2, 0)])
case("max_nan", lambda x: x.max(), [T([1.0, float("nan"), 3.0])], nograd=[0])
case("max_dim_nan", lambda x: tuple(x.max(1)), [T([[1.0, float("nan"), 3.0], [0.0, 2.0, 1.0]])], nograd=[0])
case("maximum_nan", lambda x, y: torch.maximum(x, y), [T([1.0, float("nan")]), T([float("nan"), 0.0])], nograd=[0, 1])
case("clamp_min_above_max", lambda x: x.clamp(1.0, 0.0), [T([-1.0, 0.5, 2.0])], nograd=[0])
case("where_int", lambda c, a, b: torch.where(c, a, b), [B([True, False, True]), RI(3), RI(3)])
case("mean_0d", lambda x: x.mean(), [R()])
case("reshape_0d", lambda x: x.reshape(1, 1), [R()])
case("expand_0d", lambda x: x.expand(2, 3), [R()])
case("stack_0d", lambda x, y: torch.stack([x, y]), [R(), R()])
case("cat_mixed_dtype", lambda a, x: torch.cat([a, x]), [RI(2), R(3)])
case("cat_int", lambda a, b: torch.cat([a, b], 1), [RI(2, 1), RI(2, 2)])
case("prod_int", lambda a: a.prod(1), [RI(2, 3, lo=-3, hi=4)])
case("narrow_neg_start", lambda x: x.narrow(0, -2, 2), [R(4, 2)])
case("index_empty_slice", lambda x: x[3:1], [R(4, 2)])
case("flip_neg_dim", lambda x: x.flip(-1), [R(2, 3)])
case("split_neg_dim", lambda x: x.split(2, -1), [R(2, 3)])
case("pad_3d", lambda x: F.pad(x, (1, 1, -1, 2)), [R(2, 3, 2)])
case("gather_index_smaller_3d", lambda x, i: x.gather(0, i), [R(2, 3, 4), I([[[1, 0], [0, 1]]])])
case("gather_index_smaller_dim1", lambda x, i: x.gather(1, i), [R(2, 3, 4), I([[[2, 0, 1], [0, 1, 1]]])])
case("scatter_add_index_smaller", lambda s, i: torch.zeros(2, 3, 4).scatter_add(0, i, s), [R(1, 2, 2), I([[[1, 0], [0, 1]]])])
case("scatter_add_index_smaller_dim2", lambda s, i: torch.zeros(2, 3, 4).scatter_add(2, i, s), [R(2, 2, 2), I([[[3, 0], [1, 1]], [[0, 0], [2, 3]]])])
case("mean_all_dims_keepdim", lambda x: x.mean((0, 1, 2), keepdim=True), [X])
case("var_single", lambda x: x.var(0), [R(1, 3)], nograd=[0])
case("t_1d", lambda x: x.t(), [R(3)])
case("permute_list", lambda x: x.permute([1, 2, 0]), [X])
case("repeat_list", lambda x: x.repeat([1, 2]), [R(3)])
case("heaviside_default", lambda x: torch.heaviside(x, torch.tensor(0.0)), [T([-1.0, 0.0, 2.0])], nograd=[0])
case("argmin_ties", lambda x: x.argmin(), [T([2.0, -1.0, 0.0, -1.0])])

# ---- compositions (the graph reuses tensors)
case("composite_mlp", lambda x, w, b: torch.tanh(x @ w + b).sum(1).sigmoid(), [R(3, 4), R(4, 2), R(2)])
case("composite_reuse", lambda x: (x * x.exp() - x / (x * x + 1)).mean(0), [R(3, 2)])
case("composite_cross_entropy", lambda z: -(z.log_softmax(1)[torch.arange(3), torch.tensor([1, 0, 3])]).mean(), [R(3, 4)])

# ---- fused (added last: the random inputs of the cases above stay as they were)
case("addcmul", lambda a, b, c: torch.addcmul(a, b, c), [R(2, 3), R(2, 3), R(2, 3)])
case("addcmul_value_bcast", lambda a, b, c: torch.addcmul(a, b, c, value=-0.5), [R(3, 1), R(1, 4), R(4)])
case("addcmul_scalar_tensor2", lambda a, b, c: torch.addcmul(a, b, c), [R(2, 3), R(2, 3), T(0.25)])

json.dump({"cases": cases}, open(os.path.join(HERE, "reference.json"), "w"), separators=(",", ":"))
print("ops:", len(cases), "cases,", os.path.getsize(os.path.join(HERE, "reference.json")), "bytes")

# --------------------------------------------------------------------------- reprs
# Each entry: the gradbook expression is in format.test.ts under the same name.
reprs = []


def rep(name, t):
    reprs.append({"name": name, "repr": repr(t)})


rep("floats", torch.tensor([1.5, -2.25, 3.0]))
rep("int_valued_floats", torch.tensor([1.0, 2.0]))
rep("matrix", torch.tensor([[1.0, -2.5], [3.125, 40.0]]))
rep("matrix_ints_as_float", torch.tensor([[1.0, 20.0], [-3.0, 4.0]]))
rep("int32", torch.tensor([[1, 2], [3, 4]], dtype=torch.int32))
rep("int32_negative", torch.tensor([5, -120, 7], dtype=torch.int32))
rep("bool", torch.tensor([True, False, True]))
rep("scalar", torch.tensor(3.5))
rep("scalar_int_valued", torch.tensor(2.0))
rep("scalar_int32", torch.tensor(7, dtype=torch.int32))
rep("large", torch.tensor([1.0e10, 2.5, -3.0]))
rep("small", torch.tensor([1.0e-5, 0.5]))
rep("wide_range", torch.tensor([0.001, 10.0, 2.0]))
rep("large_ints", torch.tensor([1.0e9, 2.0]))
rep("zeros", torch.zeros(2, 3))
rep("with_zero", torch.tensor([0.0, 1.25, -0.5]))
rep("nan_inf", torch.tensor([float("nan"), float("inf"), -float("inf"), 1.5]))
rep("nan_int_valued", torch.tensor([float("nan"), 1.0, 2.0]))
rep("all_nan", torch.tensor([float("nan"), float("nan")]))
rep("negative_zero", torch.tensor([-0.0, 1.5]))
rep("rounding_ties", torch.tensor([0.03125, 1.40625, 0.15625, 2.5e-4 + 0.125]))
rep("rounding_sci_ties", torch.tensor([1.03125e-5, 3.0]))
rep("3d", torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) / 4)
rep("4d", torch.arange(16, dtype=torch.float32).reshape(2, 2, 2, 2))
rep("long_row", torch.arange(30, dtype=torch.float32) / 7)
rep("long_row_int", torch.arange(40, dtype=torch.int32))
rep("long_matrix_rows", torch.arange(40, dtype=torch.float32).reshape(2, 20) * 1.5)
rep("summarized_1d", torch.arange(2000, dtype=torch.float32))
rep("summarized_2d", torch.arange(2000, dtype=torch.float32).reshape(40, 50) / 3)
rep("summarized_3d", torch.arange(3000, dtype=torch.int32).reshape(10, 15, 20))
rep("summarized_short_rows", torch.arange(1002, dtype=torch.float32).reshape(501, 2))
rep("empty", torch.tensor([]))
rep("empty_2d", torch.zeros(0, 3))
rep("empty_int32", torch.zeros(0, dtype=torch.int32))
rep("requires_grad", torch.tensor([1.0, 2.0], requires_grad=True))
a = torch.tensor([1.0, 2.0], requires_grad=True)
rep("grad_fn_mul", a * 2)
rep("grad_fn_add", a + 1)
rep("grad_fn_sum", a.sum())
rep("grad_fn_tanh", torch.tensor([[0.5, -1.0], [2.0, 0.0]], requires_grad=True).tanh())
rep("grad_fn_exp_wrapped", (torch.arange(12, dtype=torch.float32) / 3).requires_grad_(True).exp())
rep("negative_int_valued", torch.tensor([-1.0, 2.0, -30.0]))
rep("tiny_and_one", torch.tensor([1.0e-8, 1.0]))
rep("fixed_wide", torch.tensor([100.5, 200.25, -3.125]))
rep("sci_ratio", torch.tensor([123456.7, 1.5]))
rep("exactly_1e8", torch.tensor([1.0e8, 1.0]))
rep("negative_zero_int_mode", torch.tensor([-0.0, 1.0]))
rep("only_inf", torch.tensor([float("inf"), -float("inf")]))
rep("scalar_nan", torch.tensor(float("nan")))
rep("scalar_negative", torch.tensor(-0.125))
rep("bool_2d", torch.tensor([[True, False], [False, True]]))
rep("empty_bool", torch.zeros(0, dtype=torch.bool))
rep("empty_int32_2d", torch.zeros(2, 0, dtype=torch.int32))
rep("scalar_requires_grad", torch.tensor(2.0, requires_grad=True))
rep("sci_matrix", torch.tensor([[1.0e-5, -2.0e3], [3.5, 0.0]]))
rep("summarized_wide_floats", torch.arange(1200, dtype=torch.float32).reshape(3, 400) * 1.0e-3 + 0.5)
rep("matrix_long_rows_grad", (torch.arange(24, dtype=torch.float32).reshape(2, 12) / 9).requires_grad_(True))
json.dump({"reprs": reprs}, open(os.path.join(HERE, "reprs.json"), "w"), indent=1)
print("reprs:", len(reprs))
