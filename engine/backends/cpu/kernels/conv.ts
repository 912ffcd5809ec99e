// 2-D convolution (NCHW, float32) with the semantics of torch.nn.functional.conv2d
// and its gradients. Weights are [O, C/groups, kh, kw]. Paths, fastest first:
//  - 1x1 / stride 1 / no padding: GEMM on the planes directly;
//  - stride 1 (WASM): "implicit GEMM" kernels reading a zero-padded copy of each
//    image (no im2col); the input gradient is the correlation of dy with the
//    flipped weights, the weight gradient dot products over output positions;
//  - otherwise (WASM): im2col / col2im inside WASM memory + the same kernels;
//  - without WASM SIMD: im2col / col2im + the TypeScript GEMM.
//
// conv_transpose2d is conv2dBackwardInput (its forward), conv2dForward (the
// gradient for its input) and conv2dBackwardWeight (its weight gradient, with
// the roles of x and dy swapped). For that, the backward functions accept a
// dy whose spatial size is any that conv_transpose2d allows for the given x
// (x rows = (OH-1)*stride - 2*pad + dil*(k-1) + 1 + output_padding,
// 0 <= output_padding < max(stride, dil)); rows of x that no window reaches get
// zero gradient.

import { checkConv2dShapes, conv2dOutputSize } from "../../../shape.ts";
import { ensureMemory, gemm, wasmKernels, type WasmGemm } from "./gemm.ts";
import { runTasks, splitRange, TaskList, threadsFor, worthThreads } from "./threads.ts";

export interface Conv2dParams {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

const fmt = (s: readonly number[]) => `[${s.join(", ")}]`;

/** Checks dy against x for the backward functions (see the header comment). */
function checkDy(fn: string, xShape: number[], wShape: number[], dyShape: number[], p: Conv2dParams): void {
  checkConv2dShapes(fn, xShape, wShape, p);
  const bad = (why: string) =>
    new Error(`${fn}: input shape ${fmt(xShape)}, weight shape ${fmt(wShape)}, grad_output shape ${fmt(dyShape)}: ${why}`);
  if (dyShape.length !== 4) throw bad("grad_output must be 4-D");
  if (dyShape[0] !== xShape[0] || dyShape[1] !== wShape[0]) throw bad("batch or channel count mismatch");
  for (let d = 0; d < 2; d++) {
    const OH = dyShape[2 + d], H = xShape[2 + d], k = wShape[2 + d];
    const s = p.stride[d], pad = p.padding[d], dil = p.dilation[d];
    if (!(Number.isInteger(OH) && OH >= 1)) throw bad("empty grad_output");
    const hMin = (OH - 1) * s - 2 * pad + dil * (k - 1) + 1;
    const extra = H - hMin;
    if (!(extra >= 0 && extra < Math.max(s, dil))) {
      throw bad(`spatial size does not match the conv2d output size formula (stride ${fmt(p.stride)}, padding ${fmt(p.padding)}, dilation ${fmt(p.dilation)})`);
    }
  }
}

function checkLen(fn: string, name: string, a: Float32Array, shape: number[]): void {
  const n = shape.reduce((x, y) => x * y, 1);
  if (a.length !== n) throw new Error(`${fn}: ${name} has ${a.length} elements, shape ${fmt(shape)} needs ${n}`);
}

interface Geo {
  N: number; C: number; H: number; W: number;
  O: number; Cg: number; Og: number; G: number; KH: number; KW: number;
  OH: number; OW: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  CKK: number; OHW: number;
}

function geometry(xShape: number[], wShape: number[], OH: number, OW: number, p: Conv2dParams): Geo {
  const [N, C, H, W] = xShape;
  const [O, Cg, KH, KW] = wShape;
  const G = p.groups;
  return {
    N, C, H, W, O, Cg, Og: O / G, G, KH, KW, OH, OW,
    sh: p.stride[0], sw: p.stride[1], ph: p.padding[0], pw: p.padding[1], dh: p.dilation[0], dw: p.dilation[1],
    CKK: Cg * KH * KW, OHW: OH * OW,
  };
}

/** Images per chunk: keep the column buffer around COLS_BUDGET floats. */
const COLS_BUDGET = 1 << 18;
function chunkImages(g: Geo): number {
  return Math.max(1, Math.min(g.N, Math.floor(COLS_BUDGET / Math.max(1, g.CKK * g.OHW))));
}

/** Valid output-column range [start, end) for kernel column offset `off` (= kw*dw - pw). */
function validRange(off: number, s: number, inSize: number, outSize: number): [number, number] {
  // need 0 <= o*s + off < inSize
  const start = off >= 0 ? 0 : Math.ceil(-off / s);
  const end = Math.min(outSize, Math.floor((inSize - 1 - off) / s) + 1);
  return [Math.min(start, outSize), Math.max(end, Math.min(start, outSize))];
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

// ---------------------------------------------------------------------------
// stride-1 convolutions on the WASM "implicit GEMM" kernels: no im2col. Each
// image's planes are copied into a zero-padded buffer with row pitch
// Wp = outW + dw*(KW-1); output j = oh*Wp + ow (ow < Wp, columns past outW are
// computed and dropped) reads its receptive field at j + offs[k].

type Copy2d = WasmGemm["copy2d"];

/** Size limits (floats) for the implicit path: weights and one image's padded planes stay in cache. */
const IMPLICIT_MAX_A = 1 << 16;
const IMPLICIT_MAX_X = 1 << 17;

function implicitOk(w: WasmGemm | null, wFloats: number, Cg: number, Hp: number, Wp: number): w is WasmGemm {
  return w !== null && wFloats <= IMPLICIT_MAX_A && Cg * Hp * Wp <= IMPLICIT_MAX_X;
}

/**
 * Copies the planes [Cg, SH, SW] at float index `s0` of the WASM memory into a zero-padded
 * layout at `d0` (plane Hp x pitch, source placed at row padT, column padL, clipped).
 */
function copyPadded(
  copy: Copy2d, s0: number, Cg: number, SH: number, SW: number,
  d0: number, Hp: number, pitch: number, padT: number, padL: number,
): void {
  const r0 = Math.max(0, -padT), r1 = Math.min(SH, Hp - padT);
  const c0 = Math.max(0, -padL), c1 = Math.min(SW, pitch - padL);
  if (r1 <= r0 || c1 <= c0) return;
  copy(
    (s0 + r0 * SW + c0) * 4, SW * 4, SH * SW * 4,
    (d0 + (r0 + padT) * pitch + c0 + padL) * 4, pitch * 4, Hp * pitch * 4,
    Cg, r1 - r0, c1 - c0,
  );
}

/**
 * How an image's planes are laid out for the implicit kernels. "flat": one zero-padded copy with
 * row pitch Wp = outW + dw*(KW-1) (the Wp - outW extra columns per row are computed and dropped);
 * "shifted": KW copies, copy kw shifted left by kw*dw, with row pitch outW (no wasted columns,
 * KW times the copying). Shifted pays off when many output rows (Og) reuse each copied value.
 */
interface Layout {
  Hp: number; pitch: number; copies: number; copySize: number; // floats per copy: Cg * Hp * pitch
  off: (c: number, kh: number, kw: number) => number; // float offset of tap (c, kh, kw) for output 0
  /**
   * lays out the staged planes [Cg, SH, SW] at float index s0 into the buffer at d0 (with `copy`:
   * WASM copy2d, or a task's call of it); only the channels [cA, cB) when given
   */
  fill: (copy: Copy2d, s0: number, SH: number, SW: number, d0: number, cA?: number, cB?: number) => void;
}

function layout(Cg: number, Og: number, KH: number, KW: number, dh: number, dw: number, padT: number, padL: number, outH: number, outW: number): Layout {
  const Hp = outH + dh * (KH - 1), Wp = outW + dw * (KW - 1);
  if (KW > 1 && Og * KH * (Wp - outW) > 8 * outW) {
    const size = Cg * Hp * outW;
    return {
      Hp, pitch: outW, copies: KW, copySize: size,
      off: (c, kh, kw) => kw * size + c * Hp * outW + kh * dh * outW,
      fill: (copy, s0, SH, SW, d0, cA = 0, cB = Cg) => {
        const s = s0 + cA * SH * SW, d = d0 + cA * Hp * outW;
        for (let kw = 0; kw < KW; kw++) copyPadded(copy, s, cB - cA, SH, SW, d + kw * size, Hp, outW, padT, padL - kw * dw);
      },
    };
  }
  return {
    Hp, pitch: Wp, copies: 1, copySize: Cg * Hp * Wp,
    off: (c, kh, kw) => c * Hp * Wp + kh * dh * Wp + kw * dw,
    fill: (copy, s0, SH, SW, d0, cA = 0, cB = Cg) => copyPadded(copy, s0 + cA * SH * SW, cB - cA, SH, SW, d0 + cA * Hp * Wp, Hp, Wp, padT, padL),
  };
}

const align4 = (v: number) => Math.ceil(v / 4) * 4;

/**
 * out[n, g*Og+o, oh, ow] = bias[g*Og+o] + sum_{c,kh,kw} wt[(g*Og+o)*CKK + (c*KH+kh)*KW+kw]
 *                          * src[n, g*Cg+c, oh + kh*dh - padT, ow + kw*dw - padL]   (0 outside src)
 */
function implicitConv(
  w: WasmGemm, src: Float32Array, N: number, G: number, Cg: number, SH: number, SW: number,
  wt: Float32Array, Og: number, KH: number, KW: number, dh: number, dw: number,
  padT: number, padL: number, outH: number, outW: number, bias: Float32Array | null, out: Float32Array,
): void {
  const { MR } = w.cfg;
  const CKK = Cg * KH * KW;
  const L = layout(Cg, Og, KH, KW, dh, dw, padT, padL, outH, outW);
  const pitch = L.pitch;
  const J = outH * pitch, Jpad = Math.ceil(J / 8) * 8;
  const OgPad = Math.ceil(Og / MR) * MR;
  const outHW = outH * outW, SHW = SH * SW;
  const threads = worthThreads(N * G * Og * Jpad * CKK, PAR_MIN_WORK) ? threadsFor(w) : 1;
  // memory (floats): packed weights | tap offsets | layout copies (+ slack: kernels read up to
  // 8 floats past the last copy for dropped outputs) | C [Og x Jpad] | staged input | staged output
  // (threaded: see implicitConvThreaded)
  const aPtr = 0;
  const offsPtr = align4(aPtr + G * OgPad * CKK);
  const xPtr = align4(offsPtr + CKK);
  const cPtr = align4(xPtr + L.copies * L.copySize + 16);
  const inPtr = align4(cPtr + Og * Jpad);
  const outPtr = align4(inPtr + Cg * SHW);
  const biasPtr = threads > 1 ? xPtr : align4(outPtr + Og * outHW);
  const mem = ensureMemory(w, (biasPtr + G * Og) * 4);
  if (bias) mem.set(bias, biasPtr);
  const i32 = w.i32;
  // taps in (kh, c, kw) order, so that a range of kernel rows is a range of taps
  const tap = (c: number, kh: number, kw: number) => (kh * Cg + c) * KW + kw;
  // weights as MR-row panels, tap-major
  for (let g = 0; g < G; g++) {
    for (let p = 0; p < OgPad; p += MR) {
      const base = aPtr + (g * OgPad + p) * CKK;
      for (let r = 0; r < MR; r++) {
        const o = p + r;
        for (let c = 0; c < Cg; c++) {
          for (let kh = 0; kh < KH; kh++) {
            for (let kw = 0; kw < KW; kw++) {
              mem[base + tap(c, kh, kw) * MR + r] = o < Og ? wt[(g * Og + o) * CKK + (c * KH + kh) * KW + kw] : 0;
            }
          }
        }
      }
    }
  }
  for (let c = 0; c < Cg; c++) {
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) i32[offsPtr + tap(c, kh, kw)] = L.off(c, kh, kw) * 4;
    }
  }
  // Runs of column panels by the kernel rows that can reach the source: rows of taps that
  // only read the zero padding are skipped (e.g. the borders of a "full" correlation).
  const runs: number[] = []; // [p0, p1, khLo, khHi]...
  {
    const lo = (row: number) => Math.max(0, Math.ceil((padT - row) / dh));
    const hi = (row: number) => Math.min(KH - 1, Math.floor((SH - 1 + padT - row) / dh));
    for (let p = 0; p < Jpad / 8; p++) {
      const rowA = Math.min(outH - 1, Math.floor((8 * p) / pitch)), rowB = Math.min(outH - 1, Math.floor((8 * p + 7) / pitch));
      let a = lo(rowB), b = hi(rowA);
      if (a > b) [a, b] = [0, -1];
      const n = runs.length;
      if (n > 0 && runs[n - 2] === a && runs[n - 1] === b) runs[n - 3] = p + 1;
      else runs.push(p, p + 1, a, b);
    }
  }
  const O = G * Og;
  const direct = pitch === outW && Jpad === outHW; // C is already [Og, outH, outW]
  if (threads > 1) {
    const geo: ImplicitGeo = { N, G, Cg, SHW, SH, SW, Og, OgPad, CKK, KW, MR, pitch, Jpad, outH, outW, outHW, direct, L, runs, aPtr, offsPtr, hasBias: bias !== null, biasPtr };
    implicitConvThreaded(w, threads, geo, src, out, align4(biasPtr + G * Og));
    return;
  }
  mem.fill(0, xPtr, cPtr); // padding stays zero: every image writes the same interior
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < G; g++) {
      const s0 = (n * G * Cg + g * Cg) * SHW;
      mem.set(src.subarray(s0, s0 + Cg * SHW), inPtr);
      L.fill(w.copy2d, inPtr, SH, SW, xPtr);
      for (let i = 0; i < runs.length; i += 4) {
        const p0 = runs[i], p1 = runs[i + 1], t0 = runs[i + 2] * Cg * KW, K = (runs[i + 3] - runs[i + 2] + 1) * Cg * KW;
        w.cblock(Og, p1 - p0, K, (aPtr + g * OgPad * CKK + t0 * MR) * 4, (xPtr + 8 * p0) * 4, (offsPtr + t0) * 4, (cPtr + 8 * p0) * 4, Jpad * 4, CKK * MR * 4);
      }
      if (bias) w.addbias(cPtr * 4, Jpad * 4, Og, Jpad, (biasPtr + g * Og) * 4);
      let from = cPtr;
      if (!direct) {
        w.copy2d(cPtr * 4, pitch * 4, Jpad * 4, outPtr * 4, outW * 4, outHW * 4, Og, outH, outW);
        from = outPtr;
      }
      out.set(mem.subarray(from, from + Og * outHW), (n * O + g * Og) * outHW);
    }
  }
}

/**
 * Convolutions of at least this many multiply-adds use worker threads (measured on 2 cores: the
 * forward and input gradient break even around 4M). The implicit weight gradient repeats the
 * layout copies in every task: LeNet-5's (40-90M) measured 0.85-1.2x, [32,64,16,16] * [128,64,3,3]
 * (680M) 1.34x, [64,32,32,32] * [64,32,3,3] (1.3G) 1.77x.
 */
const PAR_MIN_WORK = 1 << 22;
const PAR_MIN_WORK_WGRAD = 1 << 27;
/** Floats of input and output staged in WASM memory at a time (threaded paths). */
const PAR_CHUNK = 1 << 22;

/** What implicitConvThreaded needs of implicitConv's set-up (weights, tap offsets, bias already in memory). */
interface ImplicitGeo {
  N: number; G: number; Cg: number; SHW: number; SH: number; SW: number; Og: number; OgPad: number; CKK: number; KW: number; MR: number;
  pitch: number; Jpad: number; outH: number; outW: number; outHW: number; direct: boolean; L: Layout; runs: number[];
  aPtr: number; offsPtr: number; hasBias: boolean; biasPtr: number;
}

/** A TaskList's call of copy2d, in the shape of WasmGemm.copy2d (for Layout.fill). */
const copyTask = (t: TaskList): Copy2d => (a0, a1, a2, a3, a4, a5, a6, a7, a8) => t.call("copy2d", a0, a1, a2, a3, a4, a5, a6, a7, a8);

/**
 * implicitConv on worker threads: a chunk of images is copied into WASM memory at once, and the
 * output is written there too; a task makes the same calls for a unit (image, group) as the
 * single-threaded loop, in a scratch slot of its own. With fewer units than 2 threads, the units'
 * column panels and output rows are split instead (three jobs). Free memory starts at `free`.
 */
function implicitConvThreaded(w: WasmGemm, threads: number, q: ImplicitGeo, src: Float32Array, out: Float32Array, free: number): void {
  const { N, G, Cg, SHW, SH, SW, Og, OgPad, CKK, KW, MR, pitch, Jpad, outH, outW, outHW, direct, L, runs, aPtr, offsPtr } = q;
  const O = G * Og;
  const inImg = G * Cg * SHW, outImg = O * outHW;
  const nImg = Math.max(1, Math.min(N, Math.floor(PAR_CHUNK / (inImg + outImg))));
  const units = nImg * G;
  const split = units < 2 * threads; // few units: split each one's panels and rows
  const nSlots = split ? units : Math.min(units, 4 * threads);
  const xSize = align4(L.copies * L.copySize + 16), cSize = direct ? 0 : align4(Og * Jpad);
  // memory (floats): [set-up | staged input chunk | output chunk | slots: layout copies, C]
  const inPtr = free;
  const outPtr = align4(inPtr + nImg * inImg);
  const slotPtr = align4(outPtr + nImg * outImg);
  const slotSize = xSize + cSize;
  const top = slotPtr + nSlots * slotSize;
  let mem = ensureMemory(w, top * 4);
  for (let s = 0; s < nSlots; s++) mem.fill(0, slotPtr + s * slotSize, slotPtr + s * slotSize + xSize);
  const ensure = (bytes: number) => void ensureMemory(w, bytes);
  const tasks = new TaskList();
  const copy = copyTask(tasks);
  const P = Jpad / 8;
  /** cblock over the panels [a, b) of a unit (runs clipped to them), then its bias */
  const compute = (g: number, x: number, c: number, a: number, b: number) => {
    for (let i = 0; i < runs.length; i += 4) {
      const p0 = Math.max(a, runs[i]), p1 = Math.min(b, runs[i + 1]);
      if (p1 <= p0) continue;
      const t0 = runs[i + 2] * Cg * KW, K = (runs[i + 3] - runs[i + 2] + 1) * Cg * KW;
      tasks.call("cblock", Og, p1 - p0, K, (aPtr + g * OgPad * CKK + t0 * MR) * 4, (x + 8 * p0) * 4, (offsPtr + t0) * 4, (c + 8 * p0) * 4, Jpad * 4, CKK * MR * 4);
    }
    if (q.hasBias) tasks.call("addbias", (c + 8 * a) * 4, Jpad * 4, Og, 8 * (b - a), (q.biasPtr + g * Og) * 4);
  };
  for (let n0 = 0; n0 < N; n0 += nImg) {
    const nb = Math.min(nImg, N - n0), nu = nb * G;
    mem.set(src.subarray(n0 * inImg, (n0 + nb) * inImg), inPtr);
    const unitIn = (u: number) => inPtr + u * Cg * SHW; // unit u = nl * G + g: its planes are consecutive
    const unitOut = (u: number) => outPtr + u * Og * outHW;
    const slotX = (s: number) => slotPtr + s * slotSize;
    const slotC = (s: number, u: number) => (direct ? unitOut(u) : slotX(s) + xSize);
    tasks.clear();
    if (!split) {
      splitRange(nu, nSlots).forEach(([u0, u1], s) => {
        tasks.task();
        for (let u = u0; u < u1; u++) {
          L.fill(copy, unitIn(u), SH, SW, slotX(s));
          compute(u % G, slotX(s), slotC(s, u), 0, P);
          if (!direct) copy(slotC(s, u) * 4, pitch * 4, Jpad * 4, unitOut(u) * 4, outW * 4, outHW * 4, Og, outH, outW);
        }
      });
      runTasks(w, tasks, top * 4, ensure);
    } else {
      for (let u = 0; u < nu; u++) {
        tasks.task();
        L.fill(copy, unitIn(u), SH, SW, slotX(u));
      }
      runTasks(w, tasks, top * 4, ensure);
      tasks.clear();
      const per = Math.max(1, Math.ceil((4 * threads) / nu));
      for (let u = 0; u < nu; u++) {
        for (const [a, b] of splitRange(P, per, 4)) {
          tasks.task();
          compute(u % G, slotX(u), slotC(u, u), a, b);
        }
      }
      runTasks(w, tasks, top * 4, ensure);
      if (!direct) {
        tasks.clear();
        for (let u = 0; u < nu; u++) {
          for (const [r0, r1] of splitRange(outH, per)) {
            tasks.task();
            copy((slotC(u, u) + r0 * pitch) * 4, pitch * 4, Jpad * 4, (unitOut(u) + r0 * outW) * 4, outW * 4, outHW * 4, Og, r1 - r0, outW);
          }
        }
        runTasks(w, tasks, top * 4, ensure);
      }
    }
    mem = w.f32;
    out.set(mem.subarray(outPtr, outPtr + nb * outImg), n0 * outImg);
  }
}

/** dW[g*Og+o, c, kh, kw] = sum_{n,oh,ow} dy[n, g*Og+o, oh, ow] * x[n, g*Cg+c, oh + kh*dh - ph, ow + kw*dw - pw]. */
function implicitWeightGrad(w: WasmGemm, x: Float32Array, dy: Float32Array, g: Geo, dW: Float32Array): void {
  const { N, G, Cg, H, W, Og, OH, OW, KH, KW, dh, dw, ph, pw, CKK, C, O } = g;
  const WR = w.cfg.WR ?? 2, WK = w.cfg.WK ?? 4;
  const L = layout(Cg, Og, KH, KW, dh, dw, ph, pw, OH, OW);
  const pitch = L.pitch;
  const J = OH * pitch, Jpad = Math.ceil(J / 4) * 4;
  const OgPad = Math.ceil(Og / WR) * WR, KPad = Math.ceil(CKK / WK) * WK;
  const HW = H * W, OHW = OH * OW;
  if (worthThreads(N * G * OgPad * KPad * Jpad, PAR_MIN_WORK_WGRAD)) {
    const threads = threadsFor(w);
    if (threads > 1) {
      implicitWeightGradThreaded(w, threads, x, dy, g, dW, L, Jpad, OgPad, KPad, WR, WK);
      return;
    }
  }
  // memory (floats): dy rows [OgPad x Jpad] | tap offsets | layout copies + slack | dW accumulators | staged x | staged dy
  const dyPtr = 0;
  const offsPtr = align4(dyPtr + OgPad * Jpad);
  const xPtr = align4(offsPtr + KPad);
  const dwPtr = align4(xPtr + L.copies * L.copySize + 16);
  const xsPtr = align4(dwPtr + G * OgPad * KPad);
  const dysPtr = align4(xsPtr + Cg * HW);
  const mem = ensureMemory(w, (dysPtr + Og * OHW) * 4);
  const i32 = w.i32;
  mem.fill(0, dyPtr, xsPtr);
  for (let c = 0; c < Cg; c++) {
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) i32[offsPtr + (c * KH + kh) * KW + kw] = L.off(c, kh, kw) * 4;
    }
  }
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < G; gi++) {
      const xs = (n * C + gi * Cg) * HW;
      mem.set(x.subarray(xs, xs + Cg * HW), xsPtr);
      L.fill(w.copy2d, xsPtr, H, W, xPtr);
      const ds = (n * O + gi * Og) * OHW;
      mem.set(dy.subarray(ds, ds + Og * OHW), dysPtr);
      w.copy2d(dysPtr * 4, OW * 4, OHW * 4, dyPtr * 4, pitch * 4, Jpad * 4, Og, OH, OW);
      w.wblock(OgPad / WR, KPad / WK, Jpad, dyPtr * 4, Jpad * 4, xPtr * 4, offsPtr * 4, (dwPtr + gi * OgPad * KPad) * 4, KPad * 4);
    }
  }
  for (let gi = 0; gi < G; gi++) {
    for (let o = 0; o < Og; o++) {
      const s = dwPtr + (gi * OgPad + o) * KPad, d = (gi * Og + o) * CKK;
      for (let k = 0; k < CKK; k++) dW[d + k] = mem[s + k];
    }
  }
}

/**
 * implicitWeightGrad on worker threads: dW is split into tiles (ranges of WR-row and WK-column
 * tiles); a task runs the single-threaded loop for its tiles only: for each image in order, it
 * lays out the channels and dy rows its tiles read in a slot of its own and calls wblock, so every
 * dW element gets the same additions in the same order (bit-identical). A chunk of images is
 * staged in WASM memory at a time.
 */
function implicitWeightGradThreaded(
  w: WasmGemm, threads: number, x: Float32Array, dy: Float32Array, g: Geo, dW: Float32Array,
  L: Layout, Jpad: number, OgPad: number, KPad: number, WR: number, WK: number,
): void {
  const { N, G, Cg, H, W, Og, OH, OW, KH, KW, CKK, C, O } = g;
  const pitch = L.pitch;
  const HW = H * W, OHW = OH * OW, KK = KH * KW;
  // tiles: per group, column ranges (taps of consecutive channels) x row ranges. Every task lays out
  // the x channels and dy rows its tiles read, for every image: choose the split that copies least
  // (row ranges repeat the x layout, column ranges the dy rows)
  const mt = OgPad / WR, kt = KPad / WK;
  const parts = Math.max(1, Math.ceil((2 * threads) / G));
  const xFloats = L.copies * L.copySize, dyFloats = Og * OH * pitch;
  let rp = 1, cp = 1, best = Infinity;
  for (let r = 1; r <= Math.min(mt, parts); r++) {
    const c = Math.min(kt, Math.ceil(parts / r));
    const cost = r * xFloats * Math.min(1, 1 / c + 2 / Cg) + c * dyFloats;
    if (cost < best) [best, rp, cp] = [cost, r, c];
  }
  const cRanges = splitRange(kt, cp), rRanges = splitRange(mt, rp);
  const nTasks = G * cRanges.length * rRanges.length;
  // each task accumulates its tiles in dW rows of its own (rows of other tasks' tiles in the same
  // cache lines would bounce between the cores at every image)
  const accPitch = Math.ceil((Math.max(...cRanges.map(([q0, q1]) => q1 - q0)) * WK) / 16) * 16;
  const accSize = Math.max(...rRanges.map(([r0, r1]) => r1 - r0)) * WR * accPitch;
  const xSize = align4(L.copies * L.copySize + 16), slotSize = Math.ceil((xSize + align4(OgPad * Jpad) + accSize) / 16) * 16;
  const inImg = C * HW, dyImg = O * OHW;
  const nImg = Math.max(1, Math.min(N, Math.floor(PAR_CHUNK / (inImg + dyImg))));
  // memory (floats): tap offsets | staged x chunk | staged dy chunk | a slot per task (x layout, dy rows, dW tiles)
  const offsPtr = 0;
  const xsPtr = align4(offsPtr + KPad);
  const dysPtr = align4(xsPtr + nImg * inImg);
  const slotPtr = Math.ceil((dysPtr + nImg * dyImg) / 16) * 16;
  const top = slotPtr + nTasks * slotSize;
  let mem = ensureMemory(w, top * 4);
  mem.fill(0, offsPtr, xsPtr);
  mem.fill(0, slotPtr, top); // layout padding stays zero (every image writes the same interior); dW from 0
  const i32 = w.i32;
  for (let c = 0; c < Cg; c++) {
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) i32[offsPtr + (c * KH + kh) * KW + kw] = L.off(c, kh, kw) * 4;
    }
  }
  const ensure = (bytes: number) => void ensureMemory(w, bytes);
  const tasks = new TaskList();
  const copy = copyTask(tasks);
  for (let n0 = 0; n0 < N; n0 += nImg) {
    const nb = Math.min(nImg, N - n0);
    mem.set(x.subarray(n0 * inImg, (n0 + nb) * inImg), xsPtr);
    mem.set(dy.subarray(n0 * dyImg, (n0 + nb) * dyImg), dysPtr);
    tasks.clear();
    let slot = slotPtr;
    for (let gi = 0; gi < G; gi++) {
      for (const [q0, q1] of cRanges) {
        // channels whose taps the column tiles [q0, q1) read; with the next one and channel 0,
        // where the kernel's reads for dropped outputs and padded taps go: the slot then holds
        // what the single-threaded layout holds wherever the kernel reads
        const cA = Math.floor((q0 * WK) / KK), cB = Math.min(Cg, Math.ceil(Math.min(q1 * WK, CKK) / KK) + 1);
        for (const [r0, r1] of rRanges) {
          const o0 = r0 * WR, o1 = Math.min(Og, r1 * WR);
          const xSlot = slot, dySlot = slot + xSize, acc = dySlot + align4(OgPad * Jpad);
          tasks.task();
          for (let nl = 0; nl < nb; nl++) {
            const u = nl * G + gi; // unit (image, group): its planes are consecutive
            L.fill(copy, xsPtr + u * Cg * HW, H, W, xSlot, cA, cB);
            if (cA > 0) L.fill(copy, xsPtr + u * Cg * HW, H, W, xSlot, 0, 1);
            if (o1 > o0) copy((dysPtr + u * Og * OHW + o0 * OHW) * 4, OW * 4, OHW * 4, (dySlot + o0 * Jpad) * 4, pitch * 4, Jpad * 4, o1 - o0, OH, OW);
            tasks.call("wblock", r1 - r0, q1 - q0, Jpad, (dySlot + o0 * Jpad) * 4, Jpad * 4, xSlot * 4, (offsPtr + q0 * WK) * 4, acc * 4, accPitch * 4);
          }
          slot += slotSize;
        }
      }
    }
    runTasks(w, tasks, top * 4, ensure);
  }
  mem = w.f32;
  let slot = slotPtr;
  for (let gi = 0; gi < G; gi++) {
    for (const [q0, q1] of cRanges) {
      for (const [r0, r1] of rRanges) {
        const acc = slot + xSize + align4(OgPad * Jpad);
        const k0 = q0 * WK, k1 = Math.min(CKK, q1 * WK);
        for (let o = r0 * WR; o < Math.min(Og, r1 * WR); o++) {
          const s = acc + (o - r0 * WR) * accPitch, d = (gi * Og + o) * CKK;
          for (let k = k0; k < k1; k++) dW[d + k] = mem[s + k - k0];
        }
        slot += slotSize;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// other convolutions (stride > 1, or too big for the implicit path) on the WASM kernels:
// im2col straight into WASM memory, then the same kernels with B rows at offs[k] = k * ld
// (no packing pass).

/** Float budget of one chunk's column buffer (stays in L2). */
const WASM_COLS_BUDGET = 1 << 17;

function wasmChunk(g: Geo): number {
  return Math.max(1, Math.min(g.N, Math.floor(WASM_COLS_BUDGET / Math.max(1, g.CKK * g.OHW))));
}

/** The copy kernels, called directly or recorded as a task's calls. */
type CopyOps = Pick<WasmGemm, "copy2d" | "gather" | "scatteradd">;

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

function parallel(w: WasmGemm, g: Geo, topFloats: number): Par | null {
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
      runTasks(w, t, top, ensure);
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

function colsForward(w: WasmGemm, x: Float32Array, g: Geo, wt: Float32Array, bias: Float32Array | null, out: Float32Array): void {
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
    mem.set(x.subarray(n0 * CHW, (n0 + nbb) * CHW), xsPtr);
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
        out.set(mem.subarray(stPtr, stPtr + nbb * O * OHW), n0 * O * OHW);
      } else {
        for (let nl = 0; nl < nbb; nl++) {
          const s0 = stPtr + nl * Og * OHW;
          out.set(mem.subarray(s0, s0 + Og * OHW), ((n0 + nl) * O + gi * Og) * OHW);
        }
      }
    }
  }
}

function colsBackwardInput(w: WasmGemm, dy: Float32Array, g: Geo, wt: Float32Array, dx: Float32Array): void {
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
    mem.set(dy.subarray(n0 * O * OHW, (n0 + nbb) * O * OHW), stPtr);
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
    dx.set(mem.subarray(dxsPtr, dxsPtr + nbb * CHW), n0 * CHW);
  }
}

function colsBackwardWeight(w: WasmGemm, x: Float32Array, dy: Float32Array, g: Geo, dW: Float32Array): void {
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
    mem.set(dy.subarray(n0 * O * OHW, (n0 + nbb) * O * OHW), stPtr);
    mem.set(x.subarray(n0 * CHW, (n0 + nbb) * CHW), xsPtr);
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
      dW.set(mem.subarray(s0, s0 + CKK), (gi * Og + o) * CKK);
    }
  }
}

function isPointwise(g: Geo): boolean {
  return g.KH === 1 && g.KW === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0;
}

export function conv2dForward(
  x: Float32Array, xShape: number[], w: Float32Array, wShape: number[], bias: Float32Array | null, p: Conv2dParams,
): Float32Array {
  const [, , OH, OW] = conv2dOutputSize(xShape, wShape, p);
  checkLen("conv2d", "input", x, xShape);
  checkLen("conv2d", "weight", w, wShape);
  if (bias && bias.length !== wShape[0]) throw new Error(`conv2d: bias has ${bias.length} elements, expected ${wShape[0]}`);
  const g = geometry(xShape, wShape, OH, OW, p);
  const { N, O, Og, G, CKK, OHW, C } = g;
  const out = new Float32Array(N * O * OHW);
  const wasm = wasmKernels();
  if (N > 0) {
    if (isPointwise(g)) {
      for (let n = 0; n < N; n++) {
        for (let gi = 0; gi < G; gi++) {
          gemm(false, false, Og, OHW, CKK, 1, w, gi * Og * CKK, CKK, x, (n * C + gi * CKK) * OHW, OHW, 0, out, (n * O + gi * Og) * OHW, OHW);
        }
      }
    } else if (g.sh === 1 && g.sw === 1 && implicitOk(wasm, O * CKK, g.Cg, OH + g.dh * (g.KH - 1), OW + g.dw * (g.KW - 1))) {
      implicitConv(wasm, x, N, G, g.Cg, g.H, g.W, w, Og, g.KH, g.KW, g.dh, g.dw, g.ph, g.pw, OH, OW, bias, out);
      return out;
    } else if (wasm) {
      colsForward(wasm, x, g, w, bias, out);
      return out;
    } else {
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
    }
    if (bias) {
      for (let n = 0; n < N; n++) {
        for (let o = 0; o < O; o++) {
          const b = bias[o];
          const s = (n * O + o) * OHW;
          for (let i = s; i < s + OHW; i++) out[i] += b;
        }
      }
    }
  }
  return out;
}

export function conv2dBackwardInput(
  dy: Float32Array, dyShape: number[], w: Float32Array, wShape: number[], xShape: number[], p: Conv2dParams,
): Float32Array {
  checkDy("conv2d_backward_input", xShape, wShape, dyShape, p);
  checkLen("conv2d_backward_input", "grad_output", dy, dyShape);
  checkLen("conv2d_backward_input", "weight", w, wShape);
  const g = geometry(xShape, wShape, dyShape[2], dyShape[3], p);
  const { N, C, H, W, Og, G, CKK, OHW, Cg, O } = g;
  const dx = new Float32Array(N * C * H * W);
  if (N === 0) return dx;
  if (isPointwise(g) && OHW === H * W) {
    for (let n = 0; n < N; n++) {
      for (let gi = 0; gi < G; gi++) {
        gemm(true, false, Cg, OHW, Og, 1, w, gi * Og * CKK, CKK, dy, (n * O + gi * Og) * OHW, OHW, 0, dx, (n * C + gi * Cg) * OHW, OHW);
      }
    }
    return dx;
  }
  const wasm = wasmKernels();
  const { KH, KW, dh, dw } = g;
  if (g.sh === 1 && g.sw === 1 && implicitOk(wasm, O * CKK, Og, H + dh * (KH - 1), W + dw * (KW - 1))) {
    // stride 1: dx = correlation of dy (padded by dil*(k-1) - pad) with the flipped, transposed weights
    const KK = KH * KW;
    const wt = new Float32Array(w.length); // [G][Cg][Og][KH][KW]
    for (let gi = 0; gi < G; gi++) {
      for (let o = 0; o < Og; o++) {
        for (let c = 0; c < Cg; c++) {
          const s = ((gi * Og + o) * Cg + c) * KK, d = ((gi * Cg + c) * Og + o) * KK;
          for (let k = 0; k < KK; k++) wt[d + k] = w[s + KK - 1 - k];
        }
      }
    }
    implicitConv(wasm, dy, N, G, Og, g.OH, g.OW, wt, Cg, KH, KW, dh, dw, dh * (KH - 1) - g.ph, dw * (KW - 1) - g.pw, H, W, null, dx);
    return dx;
  }
  if (wasm) {
    colsBackwardInput(wasm, dy, g, w, dx);
    return dx;
  }
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
  return dx;
}

export function conv2dBackwardWeight(
  x: Float32Array, xShape: number[], dy: Float32Array, dyShape: number[], wShape: number[], p: Conv2dParams,
): Float32Array {
  checkDy("conv2d_backward_weight", xShape, wShape, dyShape, p);
  checkLen("conv2d_backward_weight", "input", x, xShape);
  checkLen("conv2d_backward_weight", "grad_output", dy, dyShape);
  const g = geometry(xShape, wShape, dyShape[2], dyShape[3], p);
  const { N, C, H, W, O, Og, G, CKK, OHW } = g;
  const dw = new Float32Array(O * CKK);
  if (N === 0) return dw;
  if (isPointwise(g) && OHW === H * W) {
    for (let n = 0; n < N; n++) {
      for (let gi = 0; gi < G; gi++) {
        gemm(false, true, Og, CKK, OHW, 1, dy, (n * O + gi * Og) * OHW, OHW, x, (n * C + gi * CKK) * OHW, OHW, 1, dw, gi * Og * CKK, CKK);
      }
    }
    return dw;
  }
  const wasm = wasmKernels();
  if (g.sh === 1 && g.sw === 1 && implicitOk(wasm, 0, g.Cg, g.OH + g.dh * (g.KH - 1), g.OW + g.dw * (g.KW - 1))) {
    implicitWeightGrad(wasm, x, dy, g, dw);
    return dw;
  }
  if (wasm) {
    colsBackwardWeight(wasm, x, dy, g, dw);
    return dw;
  }
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
  return dw;
}
