"""Where fastmath.ts's expf polynomial comes from, and the check of expf and sigmoidf over float32.

e^r ~ 1 + r + r^2 P(r) on |r| <= ln2/2, P of degree 4 (so e^r of degree 6), fitted for the
smallest maximum relative error by Lawson's iteration (weighted least squares, the weights
multiplied by the error each round). Then the float32 evaluations that fastmath.ts and the SIMD
module do (every product and sum rounded, no fused multiply-add) are run on float32 values (every
STRIDE-th bit pattern of the range; 1: all of them) and compared with double precision, in ulps
of the exact value (subnormal ulps below 2^-126): expf on [-104, 89] (past them 0 and Infinity),
sigmoidf on [-104, 104] (past them 0 and 1, which the clamps give).

Run: /usr/bin/python3 tests/engine/kernels/fit_exp.py [STRIDE]   (numpy; STRIDE 1 takes about 10 minutes)
"""
import sys
import numpy as np

f32 = np.float32
LOG2E = f32(1.4426950408889634)
LN2_HI = f32(0.693359375)
LN2_LO = f32(-2.12194440e-4)
MAGIC = 12582912.0
EXP_MAGIC = f32(MAGIC + 254)
SIGMOID_MAGIC = f32(MAGIC + 153)


def fit(deg=6, iters=300):
    h = np.log(2) / 2 * 1.0005
    r = np.linspace(-h, h, 200001)
    f = np.expm1(r) - r  # = r^2 P(r)
    A = np.stack([r ** (i + 2) for i in range(deg - 1)], 1)
    w = np.ones_like(r) / len(r)
    best = (np.inf, None)
    for _ in range(iters):
        W = np.sqrt(w) / np.exp(r)
        c, *_ = np.linalg.lstsq(A * W[:, None], f * W, rcond=None)
        err = np.abs(A @ c - f) / np.exp(r)
        if err.max() < best[0]:
            best = (err.max(), c)
        w = w * err
        w /= w.sum()
    return best  # (error, coefficients of r^2 .. r^deg)


def poly(r, P):
    """fastmath.ts's expPoly: P highest degree first."""
    z = r * r
    y = P[0]
    for c in P[1:]:
        y = y * r + c
    return ((y * z) + r) + f32(1)


def expf(x, P):
    xc = np.minimum(np.maximum(x, f32(-104)), f32(89))
    kb = (xc * LOG2E) + EXP_MAGIC
    k = kb - EXP_MAGIC
    y = poly((xc - k * LN2_HI) - k * LN2_LO, P)
    k = k.astype(np.int64)
    k1 = k >> 1
    return ((y * np.ldexp(f32(1), k1).astype(f32)) * np.ldexp(f32(1), k - k1).astype(f32)).astype(f32)


def sigmoidf(x, P):
    yc = np.maximum(-np.abs(x), f32(-104))
    kb = (yc * LOG2E) + SIGMOID_MAGIC
    k = kb - SIGMOID_MAGIC
    y = poly((yc - k * LN2_HI) - k * LN2_LO, P)
    e = (y.astype(np.float64) * np.ldexp(1.0, k.astype(np.int64))).astype(f32)  # y 2^k, rounded once
    d = f32(1) + e
    return np.where(x >= 0, f32(1) / d, e / d).astype(f32)


def ulps(y, exact):
    a = np.abs(exact.astype(f32)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(a == 0, 2.0 ** -149, 2.0 ** np.maximum(np.floor(np.log2(np.where(a == 0, 1, a))) - 23, -149))
        e = np.abs(y.astype(np.float64) - exact) / u
    # where the exact value rounds past float32's range, Infinity is exact
    return np.where(np.isinf(a), np.where(y == np.inf, 0.0, np.inf), e)


def worst(fn, exact, lo, hi, stride, P):
    """The largest error (ulps) and where, over float32 bit patterns in [lo, hi], every stride-th."""
    best = (0.0, 0.0)
    for sign, a, b in ((0, 0, hi), (1, 0, -lo)):
        top = int(np.array([b], f32).view(np.uint32)[0])
        for s in range(0, top + 1, 1 << 24):
            bits = np.arange(s, min(top + 1, s + (1 << 24)), stride, dtype=np.uint32) | np.uint32(sign << 31)
            x = bits.view(f32)
            e = ulps(fn(x, P), exact(x.astype(np.float64)))
            i = int(np.argmax(e))
            if e[i] > best[0]:
                best = (float(e[i]), float(x[i]))
    return best


if __name__ == "__main__":
    np.seterr(over="ignore", invalid="ignore")
    stride = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    err, c = fit()
    P = [f32(v) for v in c[::-1]]
    print(f"fit: max relative error {err:.3g} in double precision; EXP_P = {[float(v) for v in P]}")
    print("expf: %.3f ulp at x = %r" % worst(expf, np.exp, -104, 89, stride, P))
    print("sigmoidf: %.3f ulp at x = %r" % worst(sigmoidf, lambda x: 1 / (1 + np.exp(-x)), -104, 104, stride, P))
