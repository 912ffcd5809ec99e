// Convolutions the implicit path does not take (stride > 1, or too big) on the SIMD module:
// im2col straight into WASM memory (copy2d / gather), then the implicit-GEMM function cblock
// with B rows at offs[k] = k * ld (no packing pass); col2im with scatteradd; the weight gradient
// with wblock.

import { copyIn, copyOut, ensureMemory, type WasmInstance } from "../wasm/runtime.ts";
import { runTasks, splitRange, TaskList, threadsFor, worthThreads } from "../wasm/threads.ts";
import { align4, PAR_MIN_WORK, validRange, type Geo } from "./conv-common.ts";

/** Float budget of one chunk's column buffer (stays in L2). */
const WASM_COLS_BUDGET = 1 << 17;

function wasmChunk(g: Geo): number {
  return Math.max(1, Math.min(g.N, Math.floor(WASM_COLS_BUDGET / Math.max(1, g.CKK * g.OHW))));
}

/** The copy kernels, called directly or recorded as a task's calls. */
type CopyOps = Pick<WasmInstance, "copy2d" | "gather" | "scatteradd">;

function taskOps(t: TaskList): CopyOps {
  return {
    copy2d: (a0, a1, a2, a3, a4, a5, a6, a7, a8) => t.call("copy2d", a0, a1, a2, a3, a4, a5, a6, a7, a8),
    gather: (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9) => t.call("gather", a0, a1, a2, a3, a4, a5, a6, a7, a8, a9),
    scatteradd: (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9) => t.call("scatteradd", a0, a1, a2, a3, a4, a5, a6, a7, a8, a9),
  };
}

/** Jobs on worker threads for the im2col paths: `run` builds a task list and runs it; null when single-threaded. */
interface Par {
  parts: number;
  run: (build: (t: TaskList, ops: (t: TaskList) => CopyOps) => void) => void;
}

function parallel(w: WasmInstance, g: Geo, topFloats: number): Par | null {
  if (!worthThreads(g.N * g.O * g.OHW * g.CKK, PAR_MIN_WORK)) return null;
  const threads = threadsFor(w);
  if (threads <= 1) return null;
  const t = new TaskList(), ops = taskOps(t);
  const top = align4(topFloats) * 4;
  const ensure = (bytes: number) => void ensureMemory(w, bytes);
  return {
    parts: 4 * threads,
    run: (build) => {
      t.clear();
      build(t, () => ops);
      runTasks(w, t, top, ensure, undefined, threads);
    },
  };
}

/** mem[dst + ((grp*rowsPad + p) * K) + k*MR + r] = val(grp, p + r, k) for rows < rows, else 0. */
function packPanels(
  mem: Float32Array, dst: number, groups: number, rows: number, K: number, MR: number,
  src: Float32Array, rowStride: number, kStride: number, groupStride: number,
): void {
  const rowsPad = Math.ceil(rows / MR) * MR;
  for (let grp = 0; grp < groups; grp++) {
    for (let p = 0; p < rowsPad; p += MR) {
      const base = dst + (grp * rowsPad + p) * K;
      for (let r = 0; r < MR; r++) {
        const row = p + r;
        if (row < rows) {
          const s0 = grp * groupStride + row * rowStride;
          for (let k = 0; k < K; k++) mem[base + k * MR + r] = src[s0 + k * kStride];
        } else {
          for (let k = 0; k < K; k++) mem[base + k * MR + r] = 0;
        }
      }
    }
  }
}

/**
 * im2col inside WASM memory: images [nb][C][H][W] staged at float index xs; columns for channels
 * c0.. of the group at cols (row stride ld). Only the in-range entries are written: the caller
 * zeroes the buffer whenever (nb, ld) changes, and the out-of-range entries stay zero.
 */
function im2colWasm(w: CopyOps, xs: number, g: Geo, nb: number, c0: number, cols: number, ld: number, rA = 0, rB = g.CKK): void {
  const { C, H, W, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, Cg, OHW } = g;
  for (let c = Math.floor(rA / (KH * KW)); c < Cg && c * KH * KW < rB; c++) {
    for (let kh = 0; kh < KH; kh++) {
      const offH = kh * dh - ph;
      const [ohs, ohe] = validRange(offH, sh, H, OH);
      if (ohe <= ohs) continue;
      for (let kw = 0; kw < KW; kw++) {
        const offW = kw * dw - pw;
        const [ows, owe] = validRange(offW, sw, W, OW);
        if (owe <= ows) continue;
        const r = (c * KH + kh) * KW + kw;
        if (r < rA || r >= rB) continue;
        const src = xs + ((c0 + c) * H + ohs * sh + offH) * W + ows * sw + offW;
        const dst = cols + r * ld + ohs * OW + ows;
        if (sw === 1) w.copy2d(src * 4, sh * W * 4, C * H * W * 4, dst * 4, OW * 4, OHW * 4, nb, ohe - ohs, owe - ows);
        else w.gather(src * 4, sw * 4, sh * W * 4, C * H * W * 4, dst * 4, OW * 4, OHW * 4, nb, ohe - ohs, owe - ows);
      }
    }
  }
}

/**
 * col2im inside WASM memory: dx images [nb][C][H][W] at dxs += columns at cols (row stride ld), for
 * the group's channels [cA, cB) (channels write disjoint planes).
 */
function col2imWasm(w: CopyOps, cols: number, ld: number, g: Geo, nb: number, c0: number, dxs: number, cA = 0, cB = g.Cg): void {
  const { C, H, W, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, OHW } = g;
  for (let c = cA; c < cB; c++) {
    for (let kh = 0; kh < KH; kh++) {
      const offH = kh * dh - ph;
      const [ohs, ohe] = validRange(offH, sh, H, OH);
      if (ohe <= ohs) continue;
      for (let kw = 0; kw < KW; kw++) {
        const offW = kw * dw - pw;
        const [ows, owe] = validRange(offW, sw, W, OW);
        if (owe <= ows) continue;
        const r = (c * KH + kh) * KW + kw;
        const dst = dxs + ((c0 + c) * H + ohs * sh + offH) * W + ows * sw + offW;
        const src = cols + r * ld + ohs * OW + ows;
        w.scatteradd(src * 4, OW * 4, OHW * 4, dst * 4, sw * 4, sh * W * 4, C * H * W * 4, nb, ohe - ohs, owe - ows);
      }
    }
  }
}

export function colsForward(w: WasmInstance, x: Float32Array, g: Geo, wt: Float32Array, bias: Float32Array | null, out: Float32Array): void {
  const { N, G, Cg, Og, O, CKK, OHW } = g;
  const MR = w.cfg.MR;
  const OgPad = Math.ceil(Og / MR) * MR;
  const nb = wasmChunk(g);
  const ldMax = Math.ceil((nb * OHW) / 8) * 8;
  const aPtr = 0;
  const offsPtr = align4(aPtr + G * OgPad * CKK);
  const colsPtr = align4(offsPtr + CKK);
  const cPtr = align4(colsPtr + CKK * ldMax);
  const stPtr = align4(cPtr + Og * ldMax);
  const CHW = g.C * g.H * g.W;
  const xsPtr = align4(stPtr + nb * O * OHW);
  const biasPtr = align4(xsPtr + nb * CHW);
  const mem = ensureMemory(w, (biasPtr + O) * 4);
  if (bias) mem.set(bias, biasPtr);
  packPanels(mem, aPtr, G, Og, CKK, MR, wt, CKK, 1, Og * CKK);
  const par = parallel(w, g, biasPtr + O);
  let lastNb = -1; // the zeroed parts depend on the chunk's image count
  for (let n0 = 0; n0 < N; n0 += nb) {
    const nbb = Math.min(nb, N - n0);
    const ld = Math.ceil((nbb * OHW) / 8) * 8;
    if (nbb !== lastNb) {
      for (let k = 0; k < CKK; k++) w.i32[offsPtr + k] = k * ld * 4;
      mem.fill(0, colsPtr, colsPtr + CKK * ld);
      lastNb = nbb;
    }
    copyIn(w, x, n0 * CHW, (n0 + nbb) * CHW, xsPtr);
    for (let gi = 0; gi < G; gi++) {
      if (par) {
        // im2col by ranges of rows, then the product by ranges of column panels
        par.run((t, ops) => {
          for (const [a, b] of splitRange(CKK, par.parts)) im2colWasm(ops(t.task()), xsPtr, g, nbb, gi * Cg, colsPtr, ld, a, b);
        });
        par.run((t) => {
          for (const [a, b] of splitRange(ld / 8, par.parts)) {
            t.task();
            t.call("cblock", Og, b - a, CKK, (aPtr + gi * OgPad * CKK) * 4, (colsPtr + 8 * a) * 4, offsPtr * 4, (cPtr + 8 * a) * 4, ld * 4, CKK * MR * 4);
            if (bias) t.call("addbias", (cPtr + 8 * a) * 4, ld * 4, Og, 8 * (b - a), (biasPtr + gi * Og) * 4);
          }
        });
      } else {
        im2colWasm(w, xsPtr, g, nbb, gi * Cg, colsPtr, ld);
        w.cblock(Og, ld / 8, CKK, (aPtr + gi * OgPad * CKK) * 4, colsPtr * 4, offsPtr * 4, cPtr * 4, ld * 4, CKK * MR * 4);
        if (bias) w.addbias(cPtr * 4, ld * 4, Og, ld, (biasPtr + gi * Og) * 4);
      }
      // C [Og][nl*OHW + p] -> [nl][Og][OHW]
      w.copy2d(cPtr * 4, ld * 4, OHW * 4, stPtr * 4, OHW * 4, Og * OHW * 4, nbb, Og, OHW);
      if (G === 1) {
        copyOut(w, stPtr, nbb * O * OHW, out, n0 * O * OHW);
      } else {
        for (let nl = 0; nl < nbb; nl++) {
          const s0 = stPtr + nl * Og * OHW;
          copyOut(w, s0, Og * OHW, out, ((n0 + nl) * O + gi * Og) * OHW);
        }
      }
    }
  }
}

export function colsBackwardInput(w: WasmInstance, dy: Float32Array, g: Geo, wt: Float32Array, dx: Float32Array): void {
  const { N, G, Cg, Og, O, CKK, OHW } = g;
  const MR = w.cfg.MR;
  const RPad = Math.ceil(CKK / MR) * MR;
  const nb = wasmChunk(g);
  const ldMax = Math.ceil((nb * OHW) / 8) * 8;
  const aPtr = 0;
  const offsPtr = align4(aPtr + G * RPad * Og);
  const dyPtr = align4(offsPtr + Og);
  const colsPtr = align4(dyPtr + Og * ldMax);
  const stPtr = align4(colsPtr + CKK * ldMax);
  const CHW = g.C * g.H * g.W;
  const dxsPtr = align4(stPtr + nb * O * OHW);
  const mem = ensureMemory(w, (dxsPtr + nb * CHW) * 4);
  // A = W_g^T: rows (c, kh, kw), k = o
  packPanels(mem, aPtr, G, CKK, Og, MR, wt, 1, CKK, Og * CKK);
  const par = parallel(w, g, dxsPtr + nb * CHW);
  for (let n0 = 0; n0 < N; n0 += nb) {
    const nbb = Math.min(nb, N - n0);
    const ld = Math.ceil((nbb * OHW) / 8) * 8;
    for (let o = 0; o < Og; o++) w.i32[offsPtr + o] = o * ld * 4;
    copyIn(w, dy, n0 * O * OHW, (n0 + nbb) * O * OHW, stPtr);
    mem.fill(0, dxsPtr, dxsPtr + nbb * CHW);
    for (let gi = 0; gi < G; gi++) {
      // dy [nl][o][p] -> [o][nl*OHW + p]
      w.copy2d((stPtr + gi * Og * OHW) * 4, OHW * 4, O * OHW * 4, dyPtr * 4, ld * 4, OHW * 4, nbb, Og, OHW);
      if (par) {
        // the product by ranges of column panels, then col2im by ranges of channels
        par.run((t) => {
          for (const [a, b] of splitRange(ld / 8, par.parts)) {
            t.task().call("cblock", CKK, b - a, Og, (aPtr + gi * RPad * Og) * 4, (dyPtr + 8 * a) * 4, offsPtr * 4, (colsPtr + 8 * a) * 4, ld * 4, Og * MR * 4);
          }
        });
        par.run((t, ops) => {
          for (const [a, b] of splitRange(Cg, par.parts)) col2imWasm(ops(t.task()), colsPtr, ld, g, nbb, gi * Cg, dxsPtr, a, b);
        });
      } else {
        w.cblock(CKK, ld / 8, Og, (aPtr + gi * RPad * Og) * 4, dyPtr * 4, offsPtr * 4, colsPtr * 4, ld * 4, Og * MR * 4);
        col2imWasm(w, colsPtr, ld, g, nbb, gi * Cg, dxsPtr);
      }
    }
    copyOut(w, dxsPtr, nbb * CHW, dx, n0 * CHW);
  }
}

export function colsBackwardWeight(w: WasmInstance, x: Float32Array, dy: Float32Array, g: Geo, dW: Float32Array): void {
  const { N, G, Cg, Og, O, CKK, OHW } = g;
  const WR = w.cfg.WR ?? 2, WK = w.cfg.WK ?? 4;
  const OgPad = Math.ceil(Og / WR) * WR, KPad = Math.ceil(CKK / WK) * WK;
  const nb = wasmChunk(g);
  const ldMax = Math.ceil((nb * OHW) / 4) * 4;
  const dyPtr = 0;
  const offsPtr = align4(dyPtr + OgPad * ldMax);
  const colsPtr = align4(offsPtr + KPad);
  const dwPtr = align4(colsPtr + CKK * ldMax);
  const stPtr = align4(dwPtr + G * OgPad * KPad);
  const CHW = g.C * g.H * g.W;
  const xsPtr = align4(stPtr + nb * O * OHW);
  const mem = ensureMemory(w, (xsPtr + nb * CHW) * 4);
  mem.fill(0, dwPtr, stPtr);
  const par = parallel(w, g, xsPtr + nb * CHW);
  const mt = OgPad / WR, kt = KPad / WK;
  let lastNb = -1; // the zeroed parts depend on the chunk's image count
  for (let n0 = 0; n0 < N; n0 += nb) {
    const nbb = Math.min(nb, N - n0);
    const ld = Math.ceil((nbb * OHW) / 4) * 4;
    if (nbb !== lastNb) {
      // zero: dy rows past Og and columns past L, and the out-of-range (and past-L) columns
      for (let k = 0; k < KPad; k++) w.i32[offsPtr + k] = k < CKK ? k * ld * 4 : 0;
      mem.fill(0, dyPtr, dyPtr + OgPad * ld);
      mem.fill(0, colsPtr, colsPtr + CKK * ld);
      lastNb = nbb;
    }
    copyIn(w, dy, n0 * O * OHW, (n0 + nbb) * O * OHW, stPtr);
    copyIn(w, x, n0 * CHW, (n0 + nbb) * CHW, xsPtr);
    for (let gi = 0; gi < G; gi++) {
      if (par) {
        // im2col by ranges of rows (and the dy copy), then dW by tiles: each tile sums the chunks in order
        par.run((t, ops) => {
          for (const [a, b] of splitRange(CKK, par.parts)) im2colWasm(ops(t.task()), xsPtr, g, nbb, gi * Cg, colsPtr, ld, a, b);
          t.task().call("copy2d", (stPtr + gi * Og * OHW) * 4, OHW * 4, O * OHW * 4, dyPtr * 4, ld * 4, OHW * 4, nbb, Og, OHW);
        });
        par.run((t) => {
          const cr = splitRange(kt, par.parts);
          for (const [q0, q1] of cr) {
            for (const [r0, r1] of splitRange(mt, Math.ceil(par.parts / cr.length))) {
              t.task().call(
                "wblock", r1 - r0, q1 - q0, ld, (dyPtr + r0 * WR * ld) * 4, ld * 4, colsPtr * 4, (offsPtr + q0 * WK) * 4,
                (dwPtr + (gi * OgPad + r0 * WR) * KPad + q0 * WK) * 4, KPad * 4,
              );
            }
          }
        });
      } else {
        im2colWasm(w, xsPtr, g, nbb, gi * Cg, colsPtr, ld);
        w.copy2d((stPtr + gi * Og * OHW) * 4, OHW * 4, O * OHW * 4, dyPtr * 4, ld * 4, OHW * 4, nbb, Og, OHW);
        w.wblock(OgPad / WR, KPad / WK, ld, dyPtr * 4, ld * 4, colsPtr * 4, offsPtr * 4, (dwPtr + gi * OgPad * KPad) * 4, KPad * 4);
      }
    }
  }
  for (let gi = 0; gi < G; gi++) {
    for (let o = 0; o < Og; o++) {
      const s0 = dwPtr + (gi * OgPad + o) * KPad;
      copyOut(w, s0, CKK, dW, (gi * Og + o) * CKK);
    }
  }
}
