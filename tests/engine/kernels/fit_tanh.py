"""Where fastmath.ts's tanhf coefficients come from, and the check of its error over every float32.

tanh x ~ x P(x^2) / Q(x^2) on [0, 9] (P and Q of degree 4, P(0) = Q(0) = 1), fitted for the
smallest maximum relative error by Lawson's iteration (weighted least squares on the linearised
error x P - tanh(x) Q, the weights multiplied by the error each round). Then the float32
evaluation that fastmath.ts and the SIMD module do (clamp x to [-9, 9], Horner in float32 with
every product and sum rounded, the quotient, the result clamped to [-1, 1]) is run on every
positive float32 below 10 and compared with tanh in double precision.

Run: /usr/bin/python3 tests/engine/kernels/fit_tanh.py   (numpy; about a minute)
"""
import numpy as np

C = 9.0  # |x| >= C: tanh x rounds to +-1 in float32
f32 = np.float32


def fit(p=4, q=4, iters=200):
    x = np.concatenate([np.linspace(1e-4, C, 40000), np.geomspace(1e-6, 1, 4000)])
    x.sort()
    f = np.tanh(x)
    s = C * C
    u = x * x / s  # scaled for conditioning
    A = np.hstack([np.stack([x * u**i for i in range(p + 1)], 1), np.stack([-f * u**j for j in range(1, q + 1)], 1)])
    w = np.ones_like(x) / len(x)
    qv = np.ones_like(x)
    best = (np.inf, None, None)
    for _ in range(iters):
        W = np.sqrt(w) / (np.abs(qv) * f)
        coef, *_ = np.linalg.lstsq(A * W[:, None], f * W, rcond=None)
        P = coef[: p + 1]
        Q = np.concatenate([[1.0], coef[p + 1:]])
        pv, qv = np.polyval(P[::-1], u), np.polyval(Q[::-1], u)
        err = np.abs(x * pv / qv - f) / f
        if err.max() < best[0]:
            best = (err.max(), P / s ** np.arange(p + 1), Q / s ** np.arange(q + 1))
        w = w * err
        w /= w.sum()
    return best


def tanhf(x, P, Q):
    """fastmath.ts's tanhf on an array of float32, step for step."""
    xc = np.where(x > f32(C), f32(C), np.where(x < f32(-C), f32(-C), x)).astype(f32)
    t = xc * xc
    p = P[-1]
    for k in range(len(P) - 2, -1, -1):
        p = p * t + P[k]
    q = Q[-1]
    for k in range(len(Q) - 2, -1, -1):
        q = q * t + Q[k]
    r = (xc * p) / q
    return np.where(r > f32(1), f32(1), np.where(r < f32(-1), f32(-1), r)).astype(f32)


if __name__ == "__main__":
    err, P, Q = fit()
    P[0] = 1.0  # exactly: tanh x = x for tiny x
    P32, Q32 = [f32(v) for v in P], [f32(v) for v in Q]
    print(f"fit: max relative error {err:.3g} in double precision")
    print("TANH_P =", [float(v) for v in P32])
    print("TANH_Q =", [float(v) for v in Q32])
    worst, at, top = 0.0, 0.0, 0.0
    lo, hi = int(f32(0).view(np.uint32)) + 1, int(f32(10).view(np.uint32))
    for start in range(lo, hi, 1 << 24):
        x = np.arange(start, min(start + (1 << 24), hi), dtype=np.uint32).view(f32)
        y = tanhf(x, P32, Q32)
        ref = np.tanh(x.astype(np.float64))
        ulp = np.spacing(np.abs(ref.astype(f32))).astype(np.float64)
        e = np.abs(y - ref) / ulp
        i = int(e.argmax())
        if e[i] > worst:
            worst, at = float(e[i]), float(x[i])
        top = max(top, float(y.max()))
    print(f"float32 evaluation, every positive float32 below 10: at most {worst:.2f} ulp (at x = {at!r}); largest result {top!r}")
