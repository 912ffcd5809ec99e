#!/usr/bin/python3
"""Generates tests/engine/nn/reference.json (and torch_written.safetensors): seeded inputs
and PyTorch's outputs and input/weight gradients for gb.nn.functional, plus module facts
(parameter names and counts, state dict keys, summary shapes via forward hooks, batch
norm running statistics) and a PyTorch-written safetensors file for the load test.

Run with the Debian python that has torch:  /usr/bin/python3 tests/engine/nn/make_reference.py
Inputs are rounded to 3 decimals (the float32 values are then identical on both sides);
references are computed in float64 from those float32 values. Option names in "opts" are
gradbook's (camelCase); the PyTorch call beside each case uses torch's own names.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_io  # noqa: E402
from torch_models import ARCHS, BnCnn  # noqa: E402

torch.manual_seed(20240611)
OUT = os.path.join(HERE, "reference.json")


def rnd(*shape, scale=1.0):
    return ((torch.randn(*shape, dtype=torch.float64) * scale) * 1000).round() / 1000


def f32(t):
    return t.to(torch.float32).to(torch.float64)


def vals(t):
    if t.dtype in (torch.int64, torch.int32, torch.bool):
        return [int(v) for v in t.reshape(-1).tolist()]
    return [float("%.9g" % v) for v in t.reshape(-1).tolist()]


cases = []


def case(name, op, fn, inputs, opts=None, grad=None, extra=None):
    """inputs: list of tensors (float64 -> sent as float32, int64 -> int32) or None.
    grad: list of bools (default: every float input). fn(*inputs) -> tensor (or tuple)."""
    ins = []
    for i, t in enumerate(inputs):
        if t is None:
            ins.append(None)
            continue
        if t.is_floating_point():
            t = f32((t.detach().double() * 1000).round() / 1000).clone()
            g = grad[i] if grad is not None else True
            if g:
                t.requires_grad_(True)
        inputs[i] = t
        ins.append({"shape": list(t.shape), "dtype": "float32" if t.is_floating_point() else ("bool" if t.dtype == torch.bool else "int32"),
                    "data": [round(v, 3) for v in t.detach().reshape(-1).tolist()] if t.is_floating_point() else vals(t),
                    "grad": bool(t.requires_grad)})
    out = fn(*inputs)
    extra_outs = None
    if isinstance(out, tuple):
        out, extra_outs = out[0], out[1:]
    rec = {"name": name, "op": op, "opts": opts or {}, "inputs": ins, "out": {"shape": list(out.shape), "data": vals(out.detach())}}
    if extra_outs:
        rec["extraOuts"] = [{"shape": list(e.shape), "data": vals(e)} for e in extra_outs]
    if out.requires_grad:
        gout = f32(rnd(*out.shape)) if out.dim() > 0 else torch.tensor(1.0, dtype=torch.float64)
        out.backward(gout)
        rec["gout"] = [round(v, 3) for v in gout.reshape(-1).tolist()]
        rec["grads"] = [vals(t.grad) if (t is not None and t.is_floating_point() and t.grad is not None) else None for t in inputs]
    if extra:
        rec.update(extra(inputs) if callable(extra) else extra)
    cases.append(rec)


def pick(*a):
    return a


# ---------------------------------------------------------------------------- linear
case("linear 2d", "linear", lambda x, w, b: F.linear(x, w, b), [rnd(5, 7), rnd(4, 7), rnd(4)])
case("linear 3d no bias", "linear", lambda x, w, b: F.linear(x, w), [rnd(2, 3, 6), rnd(5, 6), None])
case("linear vector", "linear", lambda x, w, b: F.linear(x, w, b), [rnd(6), rnd(3, 6), rnd(3)])
case("bilinear", "bilinear", lambda a, c, w, b: F.bilinear(a, c, w, b), [rnd(4, 3), rnd(4, 5), rnd(2, 3, 5), rnd(2)])

# ---------------------------------------------------------------------------- conv2d
conv_specs = [
    ("basic", (2, 3, 7, 6), (4, 3, 3, 3), True, dict(stride=1, padding=0, dilation=1, groups=1)),
    ("stride2 pad1", (2, 3, 9, 8), (5, 3, 3, 3), True, dict(stride=2, padding=1, dilation=1, groups=1)),
    ("rect stride/pad", (1, 2, 10, 9), (3, 2, 3, 2), True, dict(stride=[2, 1], padding=[1, 2], dilation=1, groups=1)),
    ("dilation2", (2, 2, 9, 9), (3, 2, 3, 3), False, dict(stride=1, padding=2, dilation=2, groups=1)),
    ("groups2", (2, 4, 6, 6), (6, 2, 3, 3), True, dict(stride=1, padding=1, dilation=1, groups=2)),
    ("depthwise", (1, 3, 5, 5), (3, 1, 3, 3), True, dict(stride=1, padding=1, dilation=1, groups=3)),
    ("1x1", (2, 4, 3, 3), (5, 4, 1, 1), True, dict(stride=1, padding=0, dilation=1, groups=1)),
    ("alexnet-like 11x11 s4", (1, 3, 35, 35), (4, 3, 11, 11), True, dict(stride=4, padding=2, dilation=1, groups=1)),
    ("same odd", (1, 2, 6, 7), (3, 2, 3, 5), True, dict(padding="same")),
    ("same even kernel", (1, 2, 6, 7), (3, 2, 4, 2), True, dict(padding="same")),
    ("same dilated", (1, 2, 7, 7), (2, 2, 3, 3), True, dict(padding="same", dilation=2)),
    ("valid", (1, 2, 6, 7), (3, 2, 3, 3), False, dict(padding="valid")),
]
for name, xs, ws, bias, o in conv_specs:
    tk = {k: (tuple(v) if isinstance(v, list) else v) for k, v in o.items()}
    case("conv2d " + name, "conv2d", lambda x, w, b, tk=tk: F.conv2d(x, w, b, **tk), [rnd(*xs), rnd(*ws), rnd(ws[0]) if bias else None], opts=o)
case("conv2d unbatched", "conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1), [rnd(2, 5, 5), rnd(3, 2, 3, 3), rnd(3)], opts=dict(padding=1))

# ---------------------------------------------------------------------------- convTranspose2d
convt_specs = [
    ("basic", (2, 3, 4, 5), (3, 2, 3, 3), True, dict(stride=1, padding=0, outputPadding=0, groups=1, dilation=1)),
    ("stride2", (1, 4, 3, 3), (4, 3, 2, 2), True, dict(stride=2, padding=0, outputPadding=0, groups=1, dilation=1)),
    ("stride2 pad1 outpad1", (2, 2, 4, 3), (2, 3, 3, 3), True, dict(stride=2, padding=1, outputPadding=1, groups=1, dilation=1)),
    ("groups2", (1, 4, 3, 4), (4, 1, 3, 2), True, dict(stride=[2, 1], padding=[1, 0], outputPadding=[1, 0], groups=2, dilation=1)),
    ("dilation2", (1, 2, 4, 4), (2, 2, 3, 3), False, dict(stride=1, padding=1, outputPadding=0, groups=1, dilation=2)),
    ("dilation>stride outpad", (1, 2, 4, 4), (2, 2, 3, 3), True, dict(stride=1, padding=0, outputPadding=1, groups=1, dilation=2)),
]
for name, xs, ws, bias, o in convt_specs:
    tk = dict(stride=tuple(o["stride"]) if isinstance(o["stride"], list) else o["stride"],
              padding=tuple(o["padding"]) if isinstance(o["padding"], list) else o["padding"],
              output_padding=tuple(o["outputPadding"]) if isinstance(o["outputPadding"], list) else o["outputPadding"],
              groups=o["groups"], dilation=o["dilation"])
    case("convTranspose2d " + name, "convTranspose2d", lambda x, w, b, tk=tk: F.conv_transpose2d(x, w, b, **tk),
         [rnd(*xs), rnd(*ws), rnd(ws[1] * o["groups"]) if bias else None], opts=o)

# ---------------------------------------------------------------------------- pooling
pool_specs = [
    ("2x2", (2, 3, 6, 6), 2, dict()),
    ("3x3 s2", (1, 2, 9, 8), 3, dict(stride=2)),
    ("3x3 s2 ceil", (1, 2, 8, 8), 3, dict(stride=2, ceilMode=True)),
    ("pad1", (2, 2, 5, 7), 3, dict(stride=2, padding=1)),
    ("rect", (1, 2, 7, 9), [2, 3], dict(stride=[2, 3], padding=[1, 1])),
    ("ceil pad", (1, 1, 6, 7), 3, dict(stride=2, padding=1, ceilMode=True)),
]
for name, xs, k, o in pool_specs:
    tk = {"stride": o.get("stride"), "padding": o.get("padding", 0), "ceil_mode": o.get("ceilMode", False)}
    tk = {a: (tuple(v) if isinstance(v, list) else v) for a, v in tk.items()}
    kk = tuple(k) if isinstance(k, list) else k
    x = rnd(*xs)
    case("maxPool2d " + name, "maxPool2d", lambda x, tk=tk, kk=kk: F.max_pool2d(x, kk, **tk, return_indices=True), [x.clone()], opts=dict(o, kernelSize=k))
    case("avgPool2d " + name, "avgPool2d", lambda x, tk=tk, kk=kk: F.avg_pool2d(x, kk, **tk), [x.clone()], opts=dict(o, kernelSize=k))
    if o.get("padding"):
        case("avgPool2d " + name + " excl pad", "avgPool2d", lambda x, tk=tk, kk=kk: F.avg_pool2d(x, kk, **tk, count_include_pad=False), [x.clone()], opts=dict(o, kernelSize=k, countIncludePad=False))
case("maxPool2d dilation2", "maxPool2d", lambda x: F.max_pool2d(x, 2, stride=1, dilation=2, return_indices=True), [rnd(1, 2, 6, 6)], opts=dict(kernelSize=2, stride=1, dilation=2))
case("maxPool2d unbatched", "maxPool2d", lambda x: F.max_pool2d(x, 2, return_indices=True), [rnd(2, 4, 4)], opts=dict(kernelSize=2))
for xs, os_ in [((2, 3, 6, 6), [3, 3]), ((1, 2, 7, 5), [3, 2]), ((1, 2, 1, 1), [6, 6]), ((1, 1, 5, 8), [2, 8])]:
    case(f"adaptiveAvgPool2d {xs}->{os_}", "adaptiveAvgPool2d", lambda x, os_=os_: F.adaptive_avg_pool2d(x, tuple(os_)), [rnd(*xs)], opts=dict(outputSize=os_))

# ---------------------------------------------------------------------------- activations
act = rnd(3, 5, scale=2.0)
case("relu", "relu", F.relu, [act.clone()])
case("sigmoid", "sigmoid", torch.sigmoid, [act.clone()])
case("tanh", "tanh", torch.tanh, [act.clone()])
case("leakyRelu default", "leakyRelu", lambda x: F.leaky_relu(x), [act.clone()])
case("leakyRelu 0.2", "leakyRelu", lambda x: F.leaky_relu(x, 0.2), [act.clone()], opts=dict(negativeSlope=0.2))
case("elu default", "elu", lambda x: F.elu(x), [act.clone()])
case("elu 0.5", "elu", lambda x: F.elu(x, 0.5), [act.clone()], opts=dict(alpha=0.5))
case("softmax dim1", "softmax", lambda x: F.softmax(x, 1), [act.clone()], opts=dict(dim=1))
case("softmax dim0 3d", "softmax", lambda x: F.softmax(x, 0), [rnd(3, 2, 4)], opts=dict(dim=0))
case("logSoftmax dim1", "logSoftmax", lambda x: F.log_softmax(x, 1), [act.clone()], opts=dict(dim=1))
case("logSoftmax dim-1 3d", "logSoftmax", lambda x: F.log_softmax(x, -1), [rnd(2, 3, 4, scale=5.0)], opts=dict(dim=-1))
hv = torch.tensor([[-1.5, 0.0, 2.0], [0.0, 0.25, -0.001]], dtype=torch.float64)
case("heaviside 0.5", "heaviside", lambda x: torch.heaviside(x, torch.tensor(0.5, dtype=torch.float64)), [hv.clone()], opts=dict(values=0.5), grad=[False])
case("step", "step", lambda x: torch.heaviside(x, torch.tensor(0.0, dtype=torch.float64)), [hv.clone()], grad=[False])
case("gelu tanh", "gelu", lambda x: F.gelu(x, approximate="tanh"), [act.clone()])
case("silu", "silu", F.silu, [act.clone()])
case("softplus", "softplus", F.softplus, [act.clone()])
case("relu6", "relu6", F.relu6, [act.clone() * 3])
case("logsigmoid", "logsigmoid", F.logsigmoid, [act.clone()])

# ---------------------------------------------------------------------------- normalisation
for size, alpha, beta, k, xs in [(5, 1e-4, 0.75, 2.0, (2, 7, 3, 3)), (3, 0.1, 0.5, 1.0, (1, 4, 2, 3)), (4, 0.05, 0.75, 1.0, (2, 6, 5)), (2, 0.2, 1.0, 1.5, (1, 3, 2, 2))]:
    case(f"localResponseNorm size{size}", "localResponseNorm", lambda x, s=size, a=alpha, b=beta, kk=k: F.local_response_norm(x, s, a, b, kk),
         [rnd(*xs, scale=2.0)], opts=dict(size=size, alpha=alpha, beta=beta, k=k))

for xs in [(6, 3), (4, 3, 5), (3, 3, 4, 2)]:
    for training, affine, momentum, eps in [(True, True, 0.1, 1e-5), (True, False, 0.3, 1e-3), (False, True, 0.1, 1e-5)]:
        C = xs[1]
        rm = rnd(C, scale=0.5)
        rv = (rnd(C).abs() + 0.5)
        w = rnd(C) if affine else None
        b = rnd(C) if affine else None

        def bn(x, rm_, rv_, w_, b_, training=training, momentum=momentum, eps=eps):
            return F.batch_norm(x, rm_, rv_, w_, b_, training=training, momentum=momentum, eps=eps), rm_, rv_

        case(f"batchNorm {len(xs)}d training={training} affine={affine}", "batchNorm", bn,
             [rnd(*xs, scale=2.0) + 1, rm, rv, w, b], opts=dict(training=training, momentum=momentum, eps=eps),
             grad=[True, False, False, True, True])
case("batchNorm training no running stats", "batchNorm", lambda x, rm, rv, w, b: F.batch_norm(x, None, None, w, b, training=True),
     [rnd(5, 2), None, None, rnd(2), rnd(2)], opts=dict(training=True))
case("layerNorm", "layerNorm", lambda x, w, b: F.layer_norm(x, (4,), w, b), [rnd(3, 4), rnd(4), rnd(4)], opts=dict(normalizedShape=[4]))

# ---------------------------------------------------------------------------- losses
REDS = ["mean", "sum", "none"]
for r in REDS:
    case(f"mseLoss {r}", "mseLoss", lambda a, c, r=r: F.mse_loss(a, c, reduction=r), [rnd(4, 3), rnd(4, 3)], opts=dict(reduction=r))
    case(f"l1Loss {r}", "l1Loss", lambda a, c, r=r: F.l1_loss(a, c, reduction=r), [rnd(4, 3), rnd(4, 3)], opts=dict(reduction=r))
    case(f"smoothL1Loss {r}", "smoothL1Loss", lambda a, c, r=r: F.smooth_l1_loss(a, c, reduction=r, beta=0.5), [rnd(4, 3), rnd(4, 3)], opts=dict(reduction=r, beta=0.5))

probs = (torch.rand(4, 3, dtype=torch.float64) * 1000).round() / 1000
probs[0, 0], probs[1, 1], probs[2, 2] = 0.0, 1.0, 0.0005
tgt = (torch.rand(4, 3, dtype=torch.float64) > 0.5).double()
tgt[0, 0], tgt[1, 1], tgt[2, 2] = 1.0, 0.0, 1.0  # log clamps at -100
soft_t = (torch.rand(4, 3, dtype=torch.float64) * 1000).round() / 1000
bw = (torch.rand(4, 3, dtype=torch.float64) * 1000).round() / 1000 + 0.5
for r in REDS:
    case(f"binaryCrossEntropy {r}", "binaryCrossEntropy", lambda a, c, r=r: F.binary_cross_entropy(a, c, reduction=r), [probs.clone(), tgt.clone()], opts=dict(reduction=r), grad=[True, False])
case("binaryCrossEntropy soft targets weight", "binaryCrossEntropy", lambda a, c, w: F.binary_cross_entropy(a, c, weight=w),
     [(torch.rand(4, 3, dtype=torch.float64) * 900).round() / 1000 + 0.05, soft_t.clone(), bw.clone()], grad=[True, True, False])
logits = rnd(4, 3, scale=3.0)
logits[0, 0] = 0.0
pw = (torch.rand(3, dtype=torch.float64) * 1000).round() / 1000 + 0.5
for r in REDS:
    case(f"binaryCrossEntropyWithLogits {r}", "binaryCrossEntropyWithLogits", lambda a, c, r=r: F.binary_cross_entropy_with_logits(a, c, reduction=r),
         [logits.clone(), tgt.clone()], opts=dict(reduction=r), grad=[True, False])
case("binaryCrossEntropyWithLogits posWeight weight soft", "binaryCrossEntropyWithLogits",
     lambda a, c, w, p: F.binary_cross_entropy_with_logits(a, c, weight=w, pos_weight=p), [logits.clone(), soft_t.clone(), bw.clone(), pw.clone()],
     grad=[True, True, False, False])
case("binaryCrossEntropyWithLogits large logits", "binaryCrossEntropyWithLogits", lambda a, c: F.binary_cross_entropy_with_logits(a, c),
     [torch.tensor([[80.0, -80.0, 30.0], [-30.0, 0.5, -0.5]], dtype=torch.float64), torch.tensor([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)], grad=[True, False])

N, C = 6, 4
ce_logits = rnd(N, C, scale=2.0)
ce_t = torch.randint(0, C, (N,))
ce_t_ign = ce_t.clone()
ce_t_ign[1] = -100
ce_t_ign[4] = -100
ce_w = (torch.rand(C, dtype=torch.float64) * 1000).round() / 1000 + 0.2
for r in REDS:
    for ls in [0.0, 0.1]:
        for use_w in [False, True]:
            for ign in [False, True]:
                t = ce_t_ign if ign else ce_t
                o = dict(reduction=r)
                if ls:
                    o["labelSmoothing"] = ls
                case(f"crossEntropy {r} ls={ls} weight={use_w} ignore={ign}", "crossEntropy",
                     lambda a, tt, w, r=r, ls=ls: F.cross_entropy(a, tt, weight=w, reduction=r, label_smoothing=ls),
                     [ce_logits.clone(), t.clone(), ce_w.clone() if use_w else None], opts=o, grad=[True, False, False])
case("crossEntropy ignoreIndex 2", "crossEntropy", lambda a, tt: F.cross_entropy(a, tt, ignore_index=2), [ce_logits.clone(), ce_t.clone()], opts=dict(ignoreIndex=2))
ce4 = rnd(2, 3, 2, 2, scale=2.0)
ce4_t = torch.randint(0, 3, (2, 2, 2))
ce4_t[0, 1, 0] = -100
for r in REDS:
    case(f"crossEntropy 4d {r} ls", "crossEntropy", lambda a, tt, w, r=r: F.cross_entropy(a, tt, weight=w, reduction=r, label_smoothing=0.2),
         [ce4.clone(), ce4_t.clone(), ce_w[:3].clone()], opts=dict(reduction=r, labelSmoothing=0.2), grad=[True, False, False])
probs_t = torch.softmax(rnd(N, C), 1)
probs_t = (probs_t * 1000).round() / 1000
for r in REDS:
    case(f"crossEntropy prob targets {r}", "crossEntropy", lambda a, tt, w, r=r: F.cross_entropy(a, tt, weight=w, reduction=r, label_smoothing=0.1),
         [ce_logits.clone(), probs_t.clone(), ce_w.clone()], opts=dict(reduction=r, labelSmoothing=0.1), grad=[True, True, False])
case("crossEntropy unbatched", "crossEntropy", lambda a, tt: F.cross_entropy(a, tt), [rnd(5), torch.tensor(3)])
for r in REDS:
    case(f"nllLoss {r} weight ignore", "nllLoss", lambda a, tt, w, r=r: F.nll_loss(a, tt, weight=w, reduction=r),
         [F.log_softmax(ce_logits, 1).detach(), ce_t_ign.clone(), ce_w.clone()], opts=dict(reduction=r), grad=[True, False, False])

svm_s = rnd(5, 4, scale=0.7)
svm_t = torch.randint(0, 4, (5,))
for r in REDS:
    case(f"hingeLoss multiclass {r}", "hingeLoss", lambda a, tt, r=r: F.multi_margin_loss(a, tt, reduction=r), [svm_s.clone(), svm_t.clone()], opts=dict(reduction=r))
case("multiMarginLoss margin2 p2 weight", "multiMarginLoss", lambda a, tt, w: F.multi_margin_loss(a, tt, p=2, margin=2.0, weight=w),
     [svm_s.clone(), svm_t.clone(), ce_w.clone()], opts=dict(margin=2, p=2), grad=[True, False, False])
pm = torch.where(torch.rand(6, dtype=torch.float64) > 0.5, 1.0, -1.0).double()
for r in REDS:
    case(f"hingeLoss binary {r}", "hingeLoss", lambda s, y, r=r: torch.clamp(1 - y * s, min=0).mean() if r == "mean" else (torch.clamp(1 - y * s, min=0).sum() if r == "sum" else torch.clamp(1 - y * s, min=0)),
         [rnd(6, scale=1.5), pm.clone()], opts=dict(reduction=r), grad=[True, False])
case("hingeLoss binary margin 0.5", "hingeLoss", lambda s, y: torch.clamp(0.5 - y * s, min=0).mean(), [rnd(6), pm.clone()], opts=dict(margin=0.5), grad=[True, False])
case("hingeEmbeddingLoss", "hingeEmbeddingLoss", lambda s, y: F.hinge_embedding_loss(s, y, margin=1.5), [rnd(6).abs(), pm.clone()], opts=dict(margin=1.5), grad=[True, False])
case("klDiv batchmean", "klDiv", lambda a, tt: F.kl_div(a, tt, reduction="batchmean"), [F.log_softmax(rnd(3, 4), 1).detach(), probs_t[:3].clone()], opts=dict(reduction="batchmean"), grad=[True, False])
case("cosineSimilarity", "cosineSimilarity", lambda a, c: F.cosine_similarity(a, c, dim=1), [rnd(3, 5), rnd(3, 5)], opts=dict(dim=1))

# ---------------------------------------------------------------------------- modules
modules = {}
for name, (ctor, in_shape) in ARCHS.items():
    m = ctor()
    m.eval()
    rows = []
    hooks = []
    for mn, mod in m.named_modules():
        if len(list(mod.children())) == 0:
            def hook(mod_, inp, out, mn=mn):
                rows.append({"name": mn, "type": type(mod_).__name__, "outputShape": list(out.shape), "params": sum(p.numel() for p in mod_.parameters())})
            hooks.append(mod.register_forward_hook(hook))
    with torch.no_grad():
        m(torch.zeros(1, *in_shape))
    for h in hooks:
        h.remove()
    modules[name] = {
        "inputShape": in_shape,
        "namedParameters": [[n, list(p.shape)] for n, p in m.named_parameters()],
        "numParameters": sum(p.numel() for p in m.parameters()),
        "stateDict": [[n, list(t.shape)] for n, t in m.state_dict().items()],
        "summary": rows,
    }

# batch norm modules: running statistics after training steps, then eval output
bnm = {}
for name, mk, xs in [("BatchNorm2d", lambda: nn.BatchNorm2d(3), (4, 3, 2, 2)), ("BatchNorm1d", lambda: nn.BatchNorm1d(3, momentum=None), (5, 3)),
                     ("BatchNorm1d 3d", lambda: nn.BatchNorm1d(3, momentum=0.2, eps=1e-3), (4, 3, 2))]:
    m = mk().double()
    with torch.no_grad():
        m.weight.copy_(f32(rnd(3)))
        m.bias.copy_(f32(rnd(3)))
    x1, x2, x3 = f32(rnd(*xs, scale=2.0) + 0.5), f32(rnd(*xs)), f32(rnd(*xs))
    m.train()
    y1 = m(x1)
    m(x2)
    m.eval()
    y3 = m(x3)
    bnm[name] = {
        "shape": list(xs), "weight": vals(m.weight.detach()), "bias": vals(m.bias.detach()),
        "x1": [round(v, 3) for v in x1.reshape(-1).tolist()], "x2": [round(v, 3) for v in x2.reshape(-1).tolist()], "x3": [round(v, 3) for v in x3.reshape(-1).tolist()],
        "y1": vals(y1.detach()), "y3": vals(y3.detach()), "runningMean": vals(m.running_mean), "runningVar": vals(m.running_var),
        "numBatchesTracked": int(m.num_batches_tracked),
    }

# ---------------------------------------------------------------------------- safetensors written by PyTorch
torch.manual_seed(7)
model = BnCnn()
model.train()
with torch.no_grad():
    for _ in range(2):
        model(torch.randn(4, 2, 8, 8))  # move the batch norm running statistics away from 0 / 1
model.eval()
xin = f32(rnd(2, 2, 8, 8)).float()
with torch.no_grad():
    yout = model(xin)
sd = dict(model.state_dict())
extras = {
    "extra.f64": torch.tensor([[1.5, -2.25], [1e-3, 3.0e5]], dtype=torch.float64),
    "extra.f16": torch.tensor([0.5, -1.75, 65504.0, 6.1e-5, 0.0], dtype=torch.float16),
    "extra.bf16": torch.tensor([1.0, -3.5, 1.0e20, 0.0078125], dtype=torch.bfloat16),
    "extra.i64": torch.tensor([[0, -5, 2147483647]], dtype=torch.int64),
    "extra.i32": torch.tensor([7, -8], dtype=torch.int32),
    "extra.bool": torch.tensor([True, False, True]),
    "extra.u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
}
st_io.write(os.path.join(HERE, "torch_written.safetensors"), {**sd, **extras}, metadata={"format": "pt", "writer": "make_reference.py"})
safet = {
    "input": {"shape": list(xin.shape), "data": [round(v, 3) for v in xin.reshape(-1).tolist()]},
    "output": vals(yout), "outputShape": list(yout.shape),
    "stateKeys": list(sd.keys()),
    "extras": {k: {"shape": list(v.shape), "data": [float(x) if v.is_floating_point() else int(x) for x in v.double().reshape(-1).tolist()]} for k, v in extras.items()},
    "metadata": {"format": "pt", "writer": "make_reference.py"},
}

# ---------------------------------------------------------------------------- init
gains = [[nl, None, nn.init.calculate_gain(nl)] for nl in ["linear", "conv2d", "conv_transpose2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]]
gains += [["leaky_relu", a, nn.init.calculate_gain("leaky_relu", a)] for a in [0.2, 5 ** 0.5]]
fans = [[list(sh), list(nn.init._calculate_fan_in_and_fan_out(torch.empty(*sh)))] for sh in [(4, 3), (6, 3, 5, 5), (3, 2, 4, 4), (7, 1)]]
initinfo = {"gains": gains, "fans": fans}

with open(OUT, "w") as f:
    json.dump({"torch": torch.__version__, "init": initinfo, "functional": cases, "modules": modules, "batchNormModules": bnm, "safetensors": safet}, f, separators=(",", ":"))
print(f"wrote {OUT}: {len(cases)} functional cases, {os.path.getsize(OUT)} bytes")
