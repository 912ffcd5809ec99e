#!/usr/bin/python3
"""Generates tests/engine/kernels/reference.json: seeded inputs and PyTorch
outputs / gradients for the CPU compute kernels (gemm, conv2d,
conv_transpose2d, max_pool2d, avg_pool2d).

Run with the Debian python that has torch:  /usr/bin/python3 tests/engine/kernels/make_reference.py
Inputs are rounded to 3 decimals (so the float32 values are identical on both
sides); references are computed in float64 from those float32 inputs.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")


def rnd(*shape):
    return (torch.randn(*shape) * 1000).round() / 1000


def f32list(t):
    # inputs are multiples of 1e-3: 3 decimals give back the same float32 value
    return [round(v, 3) for v in t.reshape(-1).to(torch.float32).tolist()]


def reflist(t):
    # reference results: 8 significant digits is plenty for 1e-5 tolerances
    return [float("%.8g" % v) for v in t.reshape(-1).tolist()]


def d64(t):
    return t.to(torch.float32).to(torch.float64)


# ---------------------------------------------------------------------------- gemm
gemm_cases = []
shapes = [(1, 1, 1), (3, 5, 7), (4, 8, 4), (17, 9, 33), (8, 8, 8), (13, 29, 64), (41, 21, 70),
          (4, 70, 3), (70, 4, 5), (5, 6, 300), (1, 37, 19), (37, 1, 19), (9, 11, 1)]
i = 0
for (M, N, K) in shapes:
    for tA in (False, True):
        for tB in (False, True):
            i += 1
            alpha, beta = [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25), (1.0, 1.0)][i % 4]
            pad = i % 3
            lda = (M if tA else K) + pad
            ldb = (K if tB else N) + (i % 2)
            ldc = N + (i // 2) % 2
            aOff, bOff, cOff = i % 4, (i // 3) % 3, (i // 5) % 2
            Arows = K if tA else M
            Brows = N if tB else K
            A = rnd(aOff + Arows * lda)
            B = rnd(bOff + Brows * ldb)
            C = rnd(cOff + M * ldc + 1)
            Am = d64(A[aOff:aOff + Arows * lda]).reshape(Arows, lda)
            Am = Am[:, :M] if tA else Am[:, :K]
            Bm = d64(B[bOff:bOff + Brows * ldb]).reshape(Brows, ldb)
            Bm = Bm[:, :K] if tB else Bm[:, :N]
            opA = Am.t() if tA else Am
            opB = Bm.t() if tB else Bm
            out = d64(C).clone()
            Cm = out[cOff:cOff + M * ldc].reshape(M, ldc)
            Cm[:, :N] = alpha * (opA @ opB) + beta * Cm[:, :N]
            gemm_cases.append(dict(transA=tA, transB=tB, M=M, N=N, K=K, alpha=alpha, beta=beta,
                                   aOff=aOff, lda=lda, bOff=bOff, ldb=ldb, cOff=cOff, ldc=ldc,
                                   A=f32list(A), B=f32list(B), C=f32list(C), out=reflist(out)))

# ---------------------------------------------------------------------------- conv2d
conv_specs = [
    # name, x shape, w shape, stride, padding, dilation, groups, bias
    ("basic", [2, 3, 7, 6], [4, 3, 3, 3], (1, 1), (0, 0), (1, 1), 1, True),
    ("stride2_pad1", [2, 3, 9, 8], [5, 3, 3, 3], (2, 2), (1, 1), (1, 1), 1, True),
    ("asymmetric", [1, 2, 10, 9], [3, 2, 3, 2], (2, 1), (1, 2), (2, 1), 1, False),
    ("groups2", [2, 4, 6, 7], [6, 2, 3, 3], (1, 1), (1, 1), (1, 1), 2, True),
    ("depthwise_mult2", [1, 3, 5, 5], [6, 1, 3, 3], (2, 2), (1, 1), (1, 1), 3, False),
    ("pointwise", [2, 5, 4, 3], [7, 5, 1, 1], (1, 1), (0, 0), (1, 1), 1, True),
    ("pointwise_stride2", [2, 3, 5, 5], [4, 3, 1, 1], (2, 2), (0, 0), (1, 1), 1, False),
    ("pointwise_groups", [1, 4, 3, 3], [6, 2, 1, 1], (1, 1), (0, 0), (1, 1), 2, True),
    ("pointwise_pad", [1, 2, 3, 3], [3, 2, 1, 1], (1, 1), (1, 0), (1, 1), 1, False),
    ("lenet1", [3, 1, 12, 12], [6, 1, 5, 5], (1, 1), (2, 2), (1, 1), 1, True),
    ("lenet2", [3, 6, 9, 9], [16, 6, 5, 5], (1, 1), (0, 0), (1, 1), 1, True),
    ("dilation2", [1, 2, 8, 8], [2, 2, 3, 3], (1, 1), (2, 2), (2, 2), 1, False),
    ("kernel_eq_input", [2, 3, 4, 4], [2, 3, 4, 4], (1, 1), (0, 0), (1, 1), 1, True),
    ("stride_gt_kernel", [1, 2, 9, 9], [3, 2, 2, 2], (3, 3), (0, 0), (1, 1), 1, False),
    ("big_pad", [1, 1, 3, 3], [1, 1, 2, 2], (1, 1), (2, 2), (1, 1), 1, False),
    ("wide_k", [2, 32, 6, 6], [8, 32, 3, 3], (1, 1), (0, 0), (1, 1), 1, False),
    ("wasm_size", [2, 16, 8, 8], [24, 16, 3, 3], (1, 1), (1, 1), (1, 1), 1, True),
    ("groups4_stride", [2, 8, 7, 7], [12, 2, 3, 3], (2, 2), (1, 1), (1, 1), 4, True),
    ("odd_everything", [3, 3, 11, 5], [6, 1, 2, 3], (3, 2), (1, 2), (2, 3), 3, True),
    ("batch1", [1, 3, 6, 6], [4, 3, 3, 3], (1, 1), (1, 1), (1, 1), 1, True),
]
conv_cases = []
for (name, xs, ws, s, p, d, g, has_bias) in conv_specs:
    x = rnd(*xs)
    w = rnd(*ws)
    b = rnd(ws[0]) if has_bias else None
    xd = d64(x).requires_grad_(True)
    wd = d64(w).requires_grad_(True)
    y = F.conv2d(xd, wd, d64(b) if b is not None else None, stride=s, padding=p, dilation=d, groups=g)
    dy = rnd(*y.shape)
    (y * d64(dy)).sum().backward()
    conv_cases.append(dict(name=name, xShape=xs, wShape=ws, stride=list(s), padding=list(p), dilation=list(d),
                           groups=g, x=f32list(x), w=f32list(w), b=f32list(b) if b is not None else None,
                           yShape=list(y.shape), y=reflist(y.detach()), dy=f32list(dy),
                           dx=reflist(xd.grad), dw=reflist(wd.grad)))

# ---------------------------------------------------------------------------- conv_transpose2d
convt_specs = [
    # name, x shape, w shape [Cin, Cout/g, kh, kw], stride, padding, output_padding, dilation, groups
    ("s2_p1_op1", [2, 3, 4, 5], [3, 2, 3, 3], (2, 2), (1, 1), (1, 1), (1, 1), 1),
    ("groups2_dil2", [1, 4, 3, 3], [4, 3, 3, 3], (2, 2), (0, 0), (1, 1), (2, 2), 2),
    ("op_ge_stride", [1, 2, 4, 4], [2, 3, 3, 3], (1, 1), (0, 0), (1, 1), (2, 2), 1),
    ("asymmetric", [2, 2, 3, 4], [2, 2, 3, 2], (3, 2), (1, 0), (2, 1), (1, 1), 1),
    ("plain", [2, 3, 5, 5], [3, 4, 2, 2], (1, 1), (0, 0), (0, 0), (1, 1), 1),
]
convt_cases = []
for (name, xs, ws, s, p, op, d, g) in convt_specs:
    x = rnd(*xs)
    w = rnd(*ws)
    xd = d64(x).requires_grad_(True)
    wd = d64(w).requires_grad_(True)
    y = F.conv_transpose2d(xd, wd, None, stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    dy = rnd(*y.shape)
    (y * d64(dy)).sum().backward()
    convt_cases.append(dict(name=name, xShape=xs, wShape=ws, stride=list(s), padding=list(p), outputPadding=list(op),
                            dilation=list(d), groups=g, x=f32list(x), w=f32list(w), yShape=list(y.shape),
                            y=reflist(y.detach()), dy=f32list(dy), dx=reflist(xd.grad), dw=reflist(wd.grad)))

# ---------------------------------------------------------------------------- pooling
maxpool_specs = [
    # name, x shape, kernel, stride, padding, dilation, ceil
    ("k2s2", [2, 3, 8, 8], (2, 2), (2, 2), (0, 0), (1, 1), False),
    ("k3s2p1", [1, 2, 7, 9], (3, 3), (2, 2), (1, 1), (1, 1), False),
    ("ceil", [1, 2, 7, 7], (2, 2), (2, 2), (0, 0), (1, 1), True),
    ("ceil_k3s2p1", [1, 2, 6, 6], (3, 3), (2, 2), (1, 1), (1, 1), True),
    ("dilation2", [1, 1, 9, 9], (3, 3), (1, 1), (1, 1), (2, 2), False),
    ("asymmetric_ceil", [2, 2, 7, 8], (3, 2), (2, 1), (1, 0), (1, 2), True),
    ("ceil_last_window_rule", [1, 1, 7, 7], (2, 2), (3, 3), (1, 1), (1, 1), True),
    ("overlap_k3s1", [1, 2, 5, 6], (3, 3), (1, 1), (0, 0), (1, 1), False),
    ("lenet", [1, 3, 28, 28], (2, 2), (2, 2), (0, 0), (1, 1), False),
    ("dil_ceil_pad", [1, 2, 10, 9], (3, 2), (2, 2), (1, 1), (2, 3), True),
    ("k2s2_odd", [2, 2, 7, 11], (2, 2), (2, 2), (0, 0), (1, 1), False),
    ("k2s2_odd_ceil", [2, 2, 7, 11], (2, 2), (2, 2), (0, 0), (1, 1), True),
]
maxpool_cases = []
for (name, xs, k, s, p, d, ceil) in maxpool_specs:
    x = rnd(*xs)
    xd = d64(x).requires_grad_(True)
    y, idx = F.max_pool2d(xd, k, s, p, d, ceil_mode=ceil, return_indices=True)
    dy = rnd(*y.shape)
    (y * d64(dy)).sum().backward()
    maxpool_cases.append(dict(name=name, xShape=xs, kernel=list(k), stride=list(s), padding=list(p), dilation=list(d),
                              ceilMode=ceil, x=f32list(x), yShape=list(y.shape), y=reflist(y.detach()),
                              indices=idx.reshape(-1).tolist(), dy=f32list(dy), dx=reflist(xd.grad)))
# ties: small integers, PyTorch takes the first maximum in window order
x = torch.randint(0, 3, (1, 2, 6, 6)).to(torch.float32)
xd = d64(x).requires_grad_(True)
y, idx = F.max_pool2d(xd, 3, 1, 1, 1, ceil_mode=False, return_indices=True)
dy = rnd(*y.shape)
(y * d64(dy)).sum().backward()
maxpool_cases.append(dict(name="ties", xShape=[1, 2, 6, 6], kernel=[3, 3], stride=[1, 1], padding=[1, 1], dilation=[1, 1],
                          ceilMode=False, x=f32list(x), yShape=list(y.shape), y=reflist(y.detach()),
                          indices=idx.reshape(-1).tolist(), dy=f32list(dy), dx=reflist(xd.grad)))

avgpool_specs = [
    # name, x shape, kernel, stride, padding, ceil, count_include_pad
    ("k2s2", [2, 3, 8, 8], (2, 2), (2, 2), (0, 0), False, True),
    ("k3s2p1_incl", [1, 2, 7, 9], (3, 3), (2, 2), (1, 1), False, True),
    ("k3s2p1_excl", [1, 2, 7, 9], (3, 3), (2, 2), (1, 1), False, False),
    ("ceil_pad_incl", [1, 2, 6, 6], (3, 3), (2, 2), (1, 1), True, True),
    ("ceil_pad_excl", [1, 2, 6, 6], (3, 3), (2, 2), (1, 1), True, False),
    ("asymmetric_ceil", [1, 1, 5, 7], (3, 2), (1, 2), (1, 1), True, True),
    ("ceil_beyond_input", [1, 1, 6, 6], (3, 3), (2, 2), (0, 0), True, True),
    ("ceil_beyond_input_excl", [1, 1, 6, 6], (3, 3), (2, 2), (0, 0), True, False),
    ("overlap", [2, 2, 5, 6], (3, 3), (1, 1), (1, 1), False, False),
    ("ceil_last_window_rule", [1, 1, 7, 7], (2, 2), (3, 3), (1, 1), True, True),
    ("k2s2_odd", [2, 2, 7, 9], (2, 2), (2, 2), (0, 0), False, True),
    ("k2s2_odd_ceil", [2, 2, 7, 9], (2, 2), (2, 2), (0, 0), True, False),
]
avgpool_cases = []
for (name, xs, k, s, p, ceil, cip) in avgpool_specs:
    x = rnd(*xs)
    xd = d64(x).requires_grad_(True)
    y = F.avg_pool2d(xd, k, s, p, ceil_mode=ceil, count_include_pad=cip)
    dy = rnd(*y.shape)
    (y * d64(dy)).sum().backward()
    avgpool_cases.append(dict(name=name, xShape=xs, kernel=list(k), stride=list(s), padding=list(p), ceilMode=ceil,
                              countIncludePad=cip, x=f32list(x), yShape=list(y.shape), y=reflist(y.detach()),
                              dy=f32list(dy), dx=reflist(xd.grad)))

ref = dict(torch=torch.__version__, gemm=gemm_cases, conv=conv_cases, convTranspose=convt_cases,
           maxPool=maxpool_cases, avgPool=avgpool_cases)
with open(OUT, "w") as f:
    json.dump(ref, f, separators=(",", ":"))
print("wrote", OUT, os.path.getsize(OUT), "bytes")
