// The plain convolution, as in the lecture: im2col (unfold every receptive field into a column),
// one GEMM with the weights, and for the input gradient the GEMM with the transposed weights
// followed by col2im (fold the columns back, adding where windows overlap). Plain TypeScript on
// the TypeScript GEMM; what runs where WebAssembly SIMD is missing, and the reference the faster
// strategies are tested against. Images are processed in chunks so the column buffer stays small.
//
//   out[n, o, oh, ow] = sum_{c, kh, kw} w[o, c, kh, kw] * x[n, c, oh*sh + kh*dh - ph, ow*sw + kw*dw - pw]

import { gemm } from "./gemm.ts";
import { validRange, type Geo } from "./conv-common.ts";

/** Images per chunk: keep the column buffer around COLS_BUDGET floats. */
const COLS_BUDGET = 1 << 18;
function chunkImages(g: Geo): number {
  return Math.max(1, Math.min(g.N, Math.floor(COLS_BUDGET / Math.max(1, g.CKK * g.OHW))));
}

/**
 * cols[base + r*L + nl*OHW + oh*OW + ow] = x[n0+nl, c0 + c, ih, iw] (0 outside), r = (c*KH + kh)*KW + kw,
 * for nl < nb; L (row stride) defaults to nb*OHW.
 */
function im2col(x: Float32Array, g: Geo, n0: number, nb: number, c0: number, cols: Float32Array, base = 0, L = nb * g.OHW): void {
  const { C, H, W, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, Cg, OHW } = g;
  const HW = H * W;
  for (let c = 0; c < Cg; c++) {
    for (let kh = 0; kh < KH; kh++) {
      const offH = kh * dh - ph;
      const [ohs, ohe] = validRange(offH, sh, H, OH);
      for (let kw = 0; kw < KW; kw++) {
        const offW = kw * dw - pw;
        const [ows, owe] = validRange(offW, sw, W, OW);
        const r = (c * KH + kh) * KW + kw;
        for (let nl = 0; nl < nb; nl++) {
          const xb = ((n0 + nl) * C + c0 + c) * HW;
          const db = base + r * L + nl * OHW;
          if (ohs > 0) cols.fill(0, db, db + ohs * OW);
          if (ohe < OH) cols.fill(0, db + ohe * OW, db + OHW);
          for (let oh = ohs; oh < ohe; oh++) {
            const d = db + oh * OW;
            const xr = xb + (oh * sh + offH) * W + offW;
            if (ows > 0) cols.fill(0, d, d + ows);
            if (owe < OW) cols.fill(0, d + owe, d + OW);
            if (sw === 1) {
              for (let ow = ows; ow < owe; ow++) cols[d + ow] = x[xr + ow];
            } else {
              for (let ow = ows; ow < owe; ow++) cols[d + ow] = x[xr + ow * sw];
            }
          }
        }
      }
    }
  }
}

/** dx[n0+nl, c0+c, ih, iw] += cols[...] (inverse of im2col, same layout). */
function col2im(cols: Float32Array, g: Geo, n0: number, nb: number, c0: number, dx: Float32Array, base = 0, L = nb * g.OHW): void {
  const { C, H, W, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, Cg, OHW } = g;
  const HW = H * W;
  for (let c = 0; c < Cg; c++) {
    for (let kh = 0; kh < KH; kh++) {
      const offH = kh * dh - ph;
      const [ohs, ohe] = validRange(offH, sh, H, OH);
      for (let kw = 0; kw < KW; kw++) {
        const offW = kw * dw - pw;
        const [ows, owe] = validRange(offW, sw, W, OW);
        const r = (c * KH + kh) * KW + kw;
        for (let nl = 0; nl < nb; nl++) {
          const xb = ((n0 + nl) * C + c0 + c) * HW;
          const db = base + r * L + nl * OHW;
          for (let oh = ohs; oh < ohe; oh++) {
            const d = db + oh * OW;
            const xr = xb + (oh * sh + offH) * W + offW;
            if (sw === 1) {
              for (let ow = ows; ow < owe; ow++) dx[xr + ow] += cols[d + ow];
            } else {
              for (let ow = ows; ow < owe; ow++) dx[xr + ow * sw] += cols[d + ow];
            }
          }
        }
      }
    }
  }
}

/** dyg[o*L + nl*OHW + p] = dy[n0+nl, o0+o, p] for o < Og. */
function gatherDy(dy: Float32Array, g: Geo, n0: number, nb: number, o0: number, dyg: Float32Array): void {
  const { O, Og, OHW } = g;
  const L = nb * OHW;
  for (let o = 0; o < Og; o++) {
    for (let nl = 0; nl < nb; nl++) {
      const s = ((n0 + nl) * O + o0 + o) * OHW;
      dyg.set(dy.subarray(s, s + OHW), o * L + nl * OHW);
    }
  }
}

/** out = conv2d(x, w) + bias, through im2col and GEMM, a group at a time. */
export function im2colForward(x: Float32Array, g: Geo, w: Float32Array, bias: Float32Array | null, out: Float32Array): void {
  const { N, O, Og, G, CKK, OHW } = g;
  const nb = chunkImages(g);
  const cols = new Float32Array(CKK * nb * OHW);
  const ybuf = nb > 1 ? new Float32Array(Og * nb * OHW) : null;
  for (let n0 = 0; n0 < N; n0 += nb) {
    const nbb = Math.min(nb, N - n0);
    const L = nbb * OHW;
    for (let gi = 0; gi < G; gi++) {
      im2col(x, g, n0, nbb, gi * g.Cg, cols);
      if (nbb === 1 || !ybuf) {
        gemm(false, false, Og, L, CKK, 1, w, gi * Og * CKK, CKK, cols, 0, L, 0, out, (n0 * O + gi * Og) * OHW, OHW);
      } else {
        gemm(false, false, Og, L, CKK, 1, w, gi * Og * CKK, CKK, cols, 0, L, 0, ybuf, 0, L);
        for (let o = 0; o < Og; o++) {
          for (let nl = 0; nl < nbb; nl++) {
            const s = o * L + nl * OHW;
            out.set(ybuf.subarray(s, s + OHW), ((n0 + nl) * O + gi * Og + o) * OHW);
          }
        }
      }
    }
  }
  if (bias) addBiasPlanes(out, bias, N, O, OHW);
}

/** out[n, o, :, :] += bias[o]. */
export function addBiasPlanes(out: Float32Array, bias: Float32Array, N: number, O: number, OHW: number): void {
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const b = bias[o];
      const s = (n * O + o) * OHW;
      for (let i = s; i < s + OHW; i++) out[i] += b;
    }
  }
}

/** dx = col2im(w^T dy), a group at a time. */
export function im2colBackwardInput(dy: Float32Array, g: Geo, w: Float32Array, dx: Float32Array): void {
  const { N, O, Og, G, CKK, OHW, Cg } = g;
  const nb = chunkImages(g);
  const cols = new Float32Array(CKK * nb * OHW);
  const dyg = nb > 1 ? new Float32Array(Og * nb * OHW) : null;
  for (let n0 = 0; n0 < N; n0 += nb) {
    const nbb = Math.min(nb, N - n0);
    const L = nbb * OHW;
    for (let gi = 0; gi < G; gi++) {
      if (nbb === 1 || !dyg) {
        gemm(true, false, CKK, L, Og, 1, w, gi * Og * CKK, CKK, dy, (n0 * O + gi * Og) * OHW, OHW, 0, cols, 0, L);
      } else {
        gatherDy(dy, g, n0, nbb, gi * Og, dyg);
        gemm(true, false, CKK, L, Og, 1, w, gi * Og * CKK, CKK, dyg, 0, L, 0, cols, 0, L);
      }
      col2im(cols, g, n0, nbb, gi * Cg, dx);
    }
  }
}

/** dw += dy im2col(x)^T, a group at a time. */
export function im2colBackwardWeight(x: Float32Array, dy: Float32Array, g: Geo, dw: Float32Array): void {
  const { N, O, Og, G, CKK, OHW } = g;
  const nb = chunkImages(g);
  const cols = new Float32Array(CKK * nb * OHW);
  const dyg = nb > 1 ? new Float32Array(Og * nb * OHW) : null;
  for (let n0 = 0; n0 < N; n0 += nb) {
    const nbb = Math.min(nb, N - n0);
    const L = nbb * OHW;
    for (let gi = 0; gi < G; gi++) {
      im2col(x, g, n0, nbb, gi * g.Cg, cols);
      if (nbb === 1 || !dyg) {
        gemm(false, true, Og, CKK, L, 1, dy, (n0 * O + gi * Og) * OHW, OHW, cols, 0, L, 1, dw, gi * Og * CKK, CKK);
      } else {
        gatherDy(dy, g, n0, nbb, gi * Og, dyg);
        gemm(false, true, Og, CKK, L, 1, dyg, 0, L, cols, 0, L, 1, dw, gi * Og * CKK, CKK);
      }
    }
  }
}
