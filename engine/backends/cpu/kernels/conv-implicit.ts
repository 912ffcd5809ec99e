// Stride-1 convolutions on the SIMD module's "implicit GEMM" function (cblock) and its
// weight-gradient dot products (wblock) or transposed weight-gradient tiles (vblock): no im2col.
// Each image's planes are copied into a zero-padded buffer with row pitch Wp = outW + dw*(KW-1);
// output j = oh*Wp + ow (ow < Wp, columns past outW are computed and dropped) reads its receptive
// field at j + offs[k].
// The forward is implicitConv; the input gradient is implicitConv of dy with the flipped,
// transposed weights (conv.ts); the weight gradient is implicitWeightGrad.

import { copyIn, copyOut, ensureMemory, residentAddress, serialWasmFor, type WasmInstance } from "../wasm/runtime.ts";
import { reusedTasks, runPipelined, runTasks, splitRange, TaskList, threadsFor, worthThreads } from "../wasm/threads.ts";
import { align4, PAR_MIN_WORK, type Geo } from "./conv-common.ts";
import { VB_TAPS } from "../wasm/gemm-funcs.ts";

type Copy2d = WasmInstance["copy2d"];

/** Size limits (floats) for the implicit path: weights and one image's padded planes stay in cache. */
const IMPLICIT_MAX_A = 1 << 16;
const IMPLICIT_MAX_X = 1 << 17;

export function implicitOk(w: WasmInstance | null, wFloats: number, Cg: number, Hp: number, Wp: number): w is WasmInstance {
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
 * KW times the copying). Shifted pays off when many output rows (Og) reuse each copied value, or
 * when it saves a copy of the output at least as large as its extra copies of the input: where the
 * outputs fill whole column tiles (outH * outW a multiple of `tile`: the forward's 8-column panels,
 * the weight gradient's 4 floats), shifted keeps the output rows as they are, so the forward's
 * compaction of C and the weight gradient's copy of dy into rows go (LeNet-5's conv1: 1 channel in,
 * 6 out, 28 x 28). Measured both ways, interleaved: weighing the dropped columns' multiply-adds
 * against the copies instead (at 4 or 8 a copied float) picked shifted for [32,32,28,28] *
 * [16,32,3,3] (4) and [16,64,13,13] * [16,64,3,3] (8), 7-12% slower there. Both layouts give the
 * forward the same bits (each output sums the same taps in the same order); the weight gradient's
 * dot products group the columns differently.
 */
interface Layout {
  Hp: number; pitch: number; copies: number; copySize: number; // floats per copy: Cg * Hp * pitch
  // what layoutOff and layoutFill read (data, not closures: see copyTask)
  Cg: number; dh: number; dw: number; padT: number; padL: number;
}

function layout(
  Cg: number, Og: number, KH: number, KW: number, dh: number, dw: number, padT: number, padL: number, outH: number, outW: number,
  tile: number,
): Layout {
  const Hp = outH + dh * (KH - 1), Wp = outW + dw * (KW - 1);
  const outCopy = (outH * outW) % tile === 0 ? Og * outH * outW : 0; // floats of output copy the shifted layout saves
  if (KW > 1 && (Og * KH * (Wp - outW) > 8 * outW || outCopy >= (KW - 1) * Cg * Hp * outW)) {
    return { Hp, pitch: outW, copies: KW, copySize: Cg * Hp * outW, Cg, dh, dw, padT, padL };
  }
  return { Hp, pitch: Wp, copies: 1, copySize: Cg * Hp * Wp, Cg, dh, dw, padT, padL };
}

/**
 * Floats from one thread's scratch slot to the next's, at least (1 MiB). With the two threads' slots
 * side by side (LeNet-5's conv2 input gradient, shifted layout: 85 KB apart), each thread's tasks
 * took 1.6x the time they take alone (the worker alone: 3.9 ms for all of them; both: 3.2 ms each);
 * 4 KB or 64 KB further apart, 1.5x / 1.1x; 1 MiB, 1.0x (2.0 ms each); conv1's forward (18 KB
 * slots) 1.3x, conv2's 1.1x: BENCHMARKS.md, issue 18's eighth round (c2). (The seventh round took
 * this for the shifted layout's size and laid large ones out flat on threads.) Not explained: the
 * slots share no cache line, and the task table's place did not matter. The pages between the
 * slots are never touched.
 */
const THREAD_SLOT_APART = 1 << 18;

/** The stride of per-thread scratch slots of `size` floats: whole cache lines, THREAD_SLOT_APART apart on threads. */
function threadSlotStride(size: number, threads: number): number {
  const s = Math.ceil(size / 16) * 16;
  return threads > 1 ? Math.max(s, THREAD_SLOT_APART) : s;
}

/** Float offset of tap (c, kh, kw) for output 0 (copy kw of the shifted layout, or column kw * dw of the flat one). */
function layoutOff(L: Layout, c: number, kh: number, kw: number): number {
  return L.copies > 1 ? kw * L.copySize + c * L.Hp * L.pitch + kh * L.dh * L.pitch : c * L.Hp * L.pitch + kh * L.dh * L.pitch + kw * L.dw;
}

/**
 * Lays out the staged planes [Cg, SH, SW] at float index s0 into the buffer at d0 (with `copy`:
 * WASM copy2d, or a task's call of it: copyTask); only the channels [cA, cB) when given.
 */
function layoutFill(L: Layout, copy: Copy2d, s0: number, SH: number, SW: number, d0: number, cA = 0, cB = L.Cg): void {
  const { Hp, pitch, dw, padT, padL } = L;
  const s = s0 + cA * SH * SW, d = d0 + cA * Hp * pitch;
  for (let kw = 0; kw < L.copies; kw++) copyPadded(copy, s, cB - cA, SH, SW, d + kw * L.copySize, Hp, pitch, padT, padL - kw * dw);
}

/**
 * out[n, g*Og+o, oh, ow] = bias[g*Og+o] + sum_{c,kh,kw} wt[(g*Og+o)*CKK + (c*KH+kh)*KW+kw]
 *                          * src[n, g*Cg+c, oh + kh*dh - padT, ow + kw*dw - padL]   (0 outside src)
 */
export function implicitConv(
  w: WasmInstance, src: Float32Array, N: number, G: number, Cg: number, SH: number, SW: number,
  wt: Float32Array, Og: number, KH: number, KW: number, dh: number, dw: number,
  padT: number, padL: number, outH: number, outW: number, bias: Float32Array | null, out: Float32Array,
): void {
  const { MR } = w.cfg;
  const CKK = Cg * KH * KW;
  const outHW = outH * outW, SHW = SH * SW;
  // threads where each float the calling thread stages (input in, output out, into and out of the
  // shared memory: 2.5x slower than into a private one) feeds enough multiply-adds: LeNet-5's conv1
  // forward (1 channel in: 21 a float) took the same wall time on 2 threads as on 1 and 1.7x its
  // CPU time; its conv2 forward (86) and input gradient (170) gain (BENCHMARKS.md, sixth round)
  // (a resident operand is not staged: read or written where it lies)
  const staged = (residentAddress(w, src) >= 0 ? 0 : Cg * SHW) + (residentAddress(w, out) >= 0 ? 0 : Og * outHW);
  const macsPerFloat = (Og * outHW * CKK) / staged;
  // (the same layout on any thread count: the threads' slots lie THREAD_SLOT_APART apart)
  const L = layout(Cg, Og, KH, KW, dh, dw, padT, padL, outH, outW, 8);
  const threads = worthThreads(N * G * Og * Math.ceil((outH * L.pitch) / 8) * 8 * CKK, PAR_MIN_WORK) && worthThreads(macsPerFloat, CONV_MIN_MACS_PER_FLOAT) ? threadsFor(w) : 1;
  const pitch = L.pitch;
  // C's rows: J columns padded to 4, by 8-column panels, the last one half-width where Jpad is 8 p + 4
  // (cblock's narrow: LeNet-5's conv2, 100 outputs a channel, goes as 12.5 panels, C in place)
  const J = outH * pitch, Jpad = Math.ceil(J / 4) * 4, nPanels = Math.ceil(Jpad / 8);
  const OgPad = Math.ceil(Og / MR) * MR;
  if (threads === 1) w = serialWasmFor(src, out) ?? w; // on a private memory where the main one is shared and nothing is resident: faster copies
  // memory (floats): packed weights | tap offsets | layout copies (+ slack: kernels read up to
  // 8 floats past the last copy for dropped outputs) | C [Og x Jpad] | staged input and output of
  // nImg images (threaded: see implicitConvThreaded)
  const inImg = G * Cg * SH * SW, outImg = G * Og * outH * outW;
  const nImg = Math.max(1, Math.min(N, Math.floor(STAGE_FLOATS / (inImg + outImg))));
  const aPtr = 0;
  const offsPtr = align4(aPtr + G * OgPad * CKK);
  const xPtr = align4(offsPtr + CKK);
  const cPtr = align4(xPtr + L.copies * L.copySize + 16);
  const inPtr = align4(cPtr + Og * Jpad);
  const outPtr = align4(inPtr + nImg * inImg);
  const biasPtr = threads > 1 ? xPtr : align4(outPtr + nImg * outImg);
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
      for (let kw = 0; kw < KW; kw++) i32[offsPtr + tap(c, kh, kw)] = layoutOff(L, c, kh, kw) * 4;
    }
  }
  // Runs of column panels by the kernel rows that can reach the source: rows of taps that
  // only read the zero padding are skipped (e.g. the borders of a "full" correlation).
  const runs: number[] = []; // [p0, p1, khLo, khHi]...
  {
    for (let p = 0; p < nPanels; p++) {
      const rowA = Math.min(outH - 1, Math.floor((8 * p) / pitch)), rowB = Math.min(outH - 1, Math.floor((8 * p + 7) / pitch));
      let a = firstKernelRow(rowB, padT, dh), b = lastKernelRow(rowA, padT, dh, KH, SH);
      if (a > b) [a, b] = [0, -1];
      const n = runs.length;
      if (n > 0 && runs[n - 2] === a && runs[n - 1] === b) runs[n - 3] = p + 1;
      else runs.push(p, p + 1, a, b);
    }
  }
  const O = G * Og;
  const direct = pitch === outW && Jpad === outHW && (threads === 1 || Jpad % 8 === 0); // C is already [Og, outH, outW]
  if (threads > 1) {
    const geo: ImplicitGeo = { N, G, Cg, SHW, SH, SW, Og, OgPad, CKK, KW, MR, pitch, Jpad, outH, outW, outHW, direct, L, runs, aPtr, offsPtr, hasBias: bias !== null, biasPtr };
    implicitConvThreaded(w, threads, geo, src, out, align4(biasPtr + G * Og));
    return;
  }
  mem.fill(0, xPtr, cPtr); // padding stays zero: every image writes the same interior
  // a resident input is read where it lies, a resident output written where it lies (no staging)
  const srcAt = residentAddress(w, src), outAt = residentAddress(w, out);
  for (let n0 = 0; n0 < N; n0 += nImg) {
    const nb = Math.min(nImg, N - n0);
    const ins = srcAt >= 0 ? srcAt / 4 + n0 * inImg : inPtr, outs = outAt >= 0 ? outAt / 4 + n0 * outImg : outPtr;
    if (srcAt < 0) copyIn(w, src, n0 * inImg, (n0 + nb) * inImg, inPtr);
    for (let u = 0; u < nb * G; u++) {
      // unit u = image * G + group: its input planes and output planes are consecutive
      const g = u % G, dst = outs + u * Og * outHW, c = direct ? dst : cPtr;
      layoutFill(L, w.copy2d, ins + u * Cg * SHW, SH, SW, xPtr);
      for (let i = 0; i < runs.length; i += 4) {
        const p0 = runs[i], p1 = runs[i + 1], t0 = runs[i + 2] * Cg * KW, K = (runs[i + 3] - runs[i + 2] + 1) * Cg * KW;
        w.cblock(Og, p1 - p0, K, (aPtr + g * OgPad * CKK + t0 * MR) * 4, (xPtr + 8 * p0) * 4, (offsPtr + t0) * 4, (c + 8 * p0) * 4, Jpad * 4, CKK * MR * 4, narrowAt(p1, Jpad));
      }
      if (bias) w.addbias(c * 4, Jpad * 4, Og, Jpad, (biasPtr + g * Og) * 4);
      if (!direct) compactC(w.copy2d, cPtr * 4, Jpad, dst * 4, Og, outH, outW, pitch);
    }
    if (outAt < 0) copyOut(w, outPtr, nb * outImg, out, n0 * outImg);
  }
}

/** cblock's narrow flag for column panels ending at panel p1: the last panel half-width where C's rows are 8 p + 4 floats. */
function narrowAt(p1: number, Jpad: number): number {
  return Jpad % 8 !== 0 && p1 === Math.ceil(Jpad / 8) ? 1 : 0;
}

/** The first kernel row whose taps from output row `row` reach the source (those above read only padding). */
function firstKernelRow(row: number, padT: number, dh: number): number {
  return Math.max(0, Math.ceil((padT - row) / dh));
}
/** The last kernel row whose taps from output row `row` reach the source (SH rows, KH kernel rows). */
function lastKernelRow(row: number, padT: number, dh: number, KH: number, SH: number): number {
  return Math.min(KH - 1, Math.floor((SH - 1 + padT - row) / dh));
}

/**
 * C [Og][Jpad] (rows of outH x pitch, byte address c) compacted into the output planes [Og][outH][outW]
 * at `dst`: where the rows have no dropped columns (pitch = outW: only the row's padding past outH *
 * outW goes), Og rows of outH * outW floats, else the planes' outH rows of outW.
 */
function compactC(copy: Copy2d, c: number, Jpad: number, dst: number, Og: number, outH: number, outW: number, pitch: number): void {
  if (pitch === outW) copy(c, Jpad * 4, 0, dst, outH * outW * 4, 0, 1, Og, outH * outW);
  else copy(c, pitch * 4, Jpad * 4, dst, outW * 4, outH * outW * 4, Og, outH, outW);
}

/**
 * Floats of input and output images staged in the WASM memory at a time by the single-threaded
 * implicit convolution (one copy in and one out for several images: a subarray and a set an image
 * cost more for LeNet-5's small images; 128 KiB stays in L2).
 */
const STAGE_FLOATS = 1 << 15;

/**
 * The implicit weight gradient of large weights (by tiles of dW) uses worker threads from this many
 * multiply-adds: it repeats the layout copies in every task: LeNet-5's (40-90M, before its small
 * weights took the grouped path) measured 0.85-1.2x, [32,64,16,16] * [128,64,3,3] (680M) 1.34x,
 * [64,32,32,32] * [64,32,3,3] (1.3G) 1.77x.
 */
const PAR_MIN_WORK_WGRAD = 1 << 27;
/** Floats of input and output staged in WASM memory at a time (threaded paths). */
const PAR_CHUNK = 1 << 22;
/** Floats of input and output a chunk of the pipelined threaded paths (runPipelined; two chunks are staged). */
const PIPE_FLOATS = 1 << 17;

/** What implicitConvThreaded needs of implicitConv's set-up (weights, tap offsets, bias already in memory). */
interface ImplicitGeo {
  N: number; G: number; Cg: number; SHW: number; SH: number; SW: number; Og: number; OgPad: number; CKK: number; KW: number; MR: number;
  pitch: number; Jpad: number; outH: number; outW: number; outHW: number; direct: boolean; L: Layout; runs: number[];
  aPtr: number; offsPtr: number; hasBias: boolean; biasPtr: number;
}

/**
 * A TaskList's call of copy2d, in the shape of WasmInstance.copy2d (for layoutFill); `rel`: which
 * arguments are offsets into the running thread's scratch area (bit 0 the source, bit 3 the destination).
 * A module-level function bound to its list, and the kernels' per-call state in plain objects read
 * by module-level functions, not closures made at each call: V8 keeps a closure's optimized code
 * only while a closure of it lives, so closures made anew by each op were compiled again by
 * TurboFan after every full garbage collection (every few training steps).
 */
const copyTask = (t: TaskList, rel = 0): Copy2d => taskCopy2d.bind(null, t, rel);
function taskCopy2d(t: TaskList, rel: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number, a6: number, a7: number, a8: number): void {
  t.callIn(rel, "copy2d", a0, a1, a2, a3, a4, a5, a6, a7, a8);
}
const SRC = 1, DST = 8;

/**
 * A unit's cblock calls over its column panels [a, b) (runs clipped to them), then its bias: layout
 * copies at x, C at c (offsets into the running thread's scratch area where xRel / cRel).
 */
function computeCalls(tasks: TaskList, q: ImplicitGeo, g: number, x: number, c: number, a: number, b: number, xRel = false, cRel = false): void {
  const { Og, OgPad, CKK, Cg, KW, MR, Jpad, runs, aPtr, offsPtr } = q;
  const rel = (xRel ? 1 << 4 : 0) | (cRel ? 1 << 6 : 0);
  for (let i = 0; i < runs.length; i += 4) {
    const p0 = Math.max(a, runs[i]), p1 = Math.min(b, runs[i + 1]);
    if (p1 <= p0) continue;
    const t0 = runs[i + 2] * Cg * KW, K = (runs[i + 3] - runs[i + 2] + 1) * Cg * KW;
    tasks.callIn(rel, "cblock", Og, p1 - p0, K, (aPtr + g * OgPad * CKK + t0 * MR) * 4, (x + 8 * p0) * 4, (offsPtr + t0) * 4, (c + 8 * p0) * 4, Jpad * 4, CKK * MR * 4, narrowAt(p1, Jpad));
  }
  if (q.hasBias) tasks.callIn(cRel ? 1 : 0, "addbias", (c + 8 * a) * 4, Jpad * 4, Og, Math.min(8 * b, Jpad) - 8 * a, (q.biasPtr + g * Og) * 4);
}

/**
 * implicitConv on worker threads. With at least 2 units (image, group) a thread: chunks of images
 * through runPipelined (the caller copies the next chunk in and the last one out while the threads
 * compute; staging the whole batch at once made those copies serial and slow, through L3 or DRAM);
 * a task makes the same calls for its units as the single-threaded loop, in a scratch slot of its
 * own. With fewer units, each unit's column panels and output rows are split instead (three jobs).
 * Free memory starts at `free`.
 */
function implicitConvThreaded(w: WasmInstance, threads: number, q: ImplicitGeo, src: Float32Array, out: Float32Array, free: number): void {
  const { N, G, Cg, SHW, SH, SW, Og, pitch, Jpad, outH, outW, outHW, direct, L } = q;
  const inImg = G * Cg * SHW, outImg = G * Og * outHW;
  const xSize = align4(L.copies * L.copySize + 16), cSize = direct ? 0 : align4(Og * Jpad);
  const slotSize = xSize + cSize;
  const P = Math.ceil(Jpad / 8);
  const ensure = (bytes: number) => void ensureMemory(w, bytes);
  if (N * G >= 2 * threads) {
    // resident input and output: read and written where they lie, all images in one job (nothing
    // to stage); else chunks of images, the caller staging the next while the threads compute
    const srcAt = residentAddress(w, src), outAt = residentAddress(w, out);
    const inPlace = srcAt >= 0 && outAt >= 0;
    const stagedImg = (srcAt >= 0 ? 0 : inImg) + (outAt >= 0 ? 0 : outImg); // floats of an image the caller copies
    const nImg = inPlace ? N : Math.min(N, Math.max(Math.ceil((2 * threads) / G), Math.floor(PIPE_FLOATS / stagedImg)));
    // memory (floats): [set-up | two sets of (staged input chunk | output chunk) | a slot a thread: layout copies, C]
    // (a slot a thread, not a task: tasks go to whichever thread claims them, and a task's slot
    // moving between the cores' caches at every job made the tasks 1.5x slower)
    const setSize = (srcAt >= 0 ? 0 : align4(nImg * inImg)) + (outAt >= 0 ? 0 : align4(nImg * outImg));
    const slotPtr = free + 2 * setSize;
    const slotStride = threadSlotStride(slotSize, threads);
    const top = slotPtr + threads * slotStride;
    const mem = ensureMemory(w, top * 4);
    for (let s = 0; s < threads; s++) mem.fill(0, slotPtr + s * slotStride, slotPtr + s * slotStride + xSize);
    const p: ConvChunks = { w, q, src, out, threads, srcAt: srcAt >= 0 ? srcAt / 4 : -1, outAt: outAt >= 0 ? outAt / 4 : -1, nImg, inImg, outImg, free, setSize, slotPtr, slotStride, xSize, P };
    runPipelined(
      w, Math.ceil(N / nImg), top * 4, ensure,
      convStage.bind(null, p),
      convBuild.bind(null, p),
      convCollect.bind(null, p),
      threads,
    );
    return;
  }
  // few units: all of them at once (a chunk of images if they do not fit), a slot each
  const nImg = Math.max(1, Math.min(N, Math.floor(PAR_CHUNK / (inImg + outImg))));
  const nSlots = nImg * G;
  // memory (floats): [set-up | staged input chunk | output chunk | slots: layout copies, C]
  const inPtr = free;
  const outPtr = align4(inPtr + nImg * inImg);
  const slotPtr = align4(outPtr + nImg * outImg);
  const top = slotPtr + nSlots * slotSize;
  let mem = ensureMemory(w, top * 4);
  for (let s = 0; s < nSlots; s++) mem.fill(0, slotPtr + s * slotSize, slotPtr + s * slotSize + xSize);
  const tasks = new TaskList();
  const copy = copyTask(tasks);
  const slotX = (u: number) => slotPtr + u * slotSize;
  const unitOut = (u: number) => outPtr + u * Og * outHW;
  const slotC = (u: number) => (direct ? unitOut(u) : slotX(u) + xSize);
  for (let n0 = 0; n0 < N; n0 += nImg) {
    const nb = Math.min(nImg, N - n0), nu = nb * G;
    copyIn(w, src, n0 * inImg, (n0 + nb) * inImg, inPtr);
    tasks.clear();
    for (let u = 0; u < nu; u++) {
      tasks.task();
      layoutFill(L, copy, inPtr + u * Cg * SHW, SH, SW, slotX(u));
    }
    runTasks(w, tasks, top * 4, ensure, undefined, threads);
    tasks.clear();
    const per = Math.max(1, Math.ceil((4 * threads) / nu));
    for (let u = 0; u < nu; u++) {
      for (const [a, b] of splitRange(P, per, 4)) {
        tasks.task();
        computeCalls(tasks, q, u % G, slotX(u), slotC(u), a, b);
      }
    }
    runTasks(w, tasks, top * 4, ensure, undefined, threads);
    if (!direct) {
      tasks.clear();
      for (let u = 0; u < nu; u++) {
        for (const [r0, r1] of splitRange(outH, per)) {
          tasks.task();
          copy((slotC(u) + r0 * pitch) * 4, pitch * 4, Jpad * 4, (unitOut(u) + r0 * outW) * 4, outW * 4, outHW * 4, Og, r1 - r0, outW);
        }
      }
      runTasks(w, tasks, top * 4, ensure, undefined, threads);
    }
    mem = w.f32;
    copyOut(w, outPtr, nb * outImg, out, n0 * outImg);
  }
}

/** implicitConvThreaded's set-up for chunks of images, read by the chunks' functions (convStage, convBuild, convCollect). */
interface ConvChunks {
  w: WasmInstance; q: ImplicitGeo; src: Float32Array; out: Float32Array; threads: number;
  /** float indices of the input and output where they are resident (read and written in place, not staged), else -1 */
  srcAt: number; outAt: number;
  nImg: number; inImg: number; outImg: number; free: number; setSize: number; slotPtr: number; slotStride: number; xSize: number;
  /** column panels of a unit */
  P: number;
}

/** Float index of chunk c's input: staged (two sets, alternating) or where it lies. */
function convInPtr(p: ConvChunks, c: number): number {
  return p.srcAt >= 0 ? p.srcAt + c * p.nImg * p.inImg : p.free + (c & 1) * p.setSize;
}
/** Float index of chunk c's output: staged, or where it lies. */
function convOutPtr(p: ConvChunks, c: number): number {
  return p.outAt >= 0 ? p.outAt + c * p.nImg * p.outImg : p.free + (c & 1) * p.setSize + (p.srcAt >= 0 ? 0 : align4(p.nImg * p.inImg));
}
/** images [n0, n1) of chunk c */
function convImages(p: ConvChunks, c: number): [number, number] {
  return [c * p.nImg, Math.min(p.q.N, (c + 1) * p.nImg)];
}

function convStage(p: ConvChunks, c: number): void {
  const [n0, n1] = convImages(p, c);
  if (p.srcAt < 0) copyIn(p.w, p.src, n0 * p.inImg, n1 * p.inImg, convInPtr(p, c));
}

function convBuild(p: ConvChunks, c: number, tasks: TaskList): void {
  if (p.srcAt >= 0 && p.outAt >= 0) {
    // in place (one job): the list of the last call of this geometry, moved to this call's operands
    const { q } = p, L = q.L;
    const key = `conv ${q.N} ${q.G} ${q.Cg} ${q.SH} ${q.SW} ${q.Og} ${q.OgPad} ${q.CKK} ${q.KW} ${q.MR} ${q.pitch} ${q.Jpad} ${q.outH} ${q.outW} ${q.direct} ` +
      `${L.Hp} ${L.copies} ${L.copySize} ${L.dh} ${L.dw} ${L.padT} ${L.padL} ${q.runs.join(",")} ${q.aPtr} ${q.offsPtr} ${q.hasBias} ${q.biasPtr} ` +
      `${p.threads} ${p.nImg} ${p.inImg} ${p.outImg} ${p.free} ${p.setSize} ${p.slotPtr} ${p.slotStride} ${p.xSize} ${p.P} ${c}`;
    reusedTasks(key, [p.srcAt, p.outAt], tasks, convBuildAt.bind(null, p, c));
    return;
  }
  convBuildTasks(p, c, tasks);
}

/** convBuild's tasks with the input and output at float indices bases[0], bases[1] (reusedTasks). */
function convBuildAt(p: ConvChunks, c: number, bases: number[], tasks: TaskList): void {
  convBuildTasks({ ...p, srcAt: bases[0], outAt: bases[1] }, c, tasks);
}

function convBuildTasks(p: ConvChunks, c: number, tasks: TaskList): void {
  const { q, threads, xSize, P } = p;
  const { G, Cg, SHW, SH, SW, Og, pitch, Jpad, outH, outW, outHW, direct, L } = q;
  const [n0, n1] = convImages(p, c);
  tasks.scratch(p.slotPtr * 4, p.slotStride * 4);
  const fill = copyTask(tasks, DST), out = copyTask(tasks, SRC);
  // (all images in one job where nothing is staged: finer tasks, so that no thread waits long for another's last one)
  for (const [u0, u1] of splitRange((n1 - n0) * G, (p.srcAt >= 0 && p.outAt >= 0 ? 16 : 4) * threads)) {
    tasks.task();
    for (let u = u0; u < u1; u++) {
      // unit u = image * G + group: its planes are consecutive; layout copies at scratch offset 0, C after them
      const uOut = convOutPtr(p, c) + u * Og * outHW;
      layoutFill(L, fill, convInPtr(p, c) + u * Cg * SHW, SH, SW, 0);
      computeCalls(tasks, q, u % G, 0, direct ? uOut : xSize, 0, P, true, !direct);
      if (!direct) compactC(out, xSize * 4, Jpad, uOut * 4, Og, outH, outW, pitch);
    }
  }
}

function convCollect(p: ConvChunks, c: number): void {
  const [n0, n1] = convImages(p, c);
  if (p.outAt < 0) copyOut(p.w, convOutPtr(p, c), (n1 - n0) * p.outImg, p.out, n0 * p.outImg);
}

/** dW[g*Og+o, c, kh, kw] = sum_{n,oh,ow} dy[n, g*Og+o, oh, ow] * x[n, g*Cg+c, oh + kh*dh - ph, ow + kw*dw - pw]. */
export function implicitWeightGrad(w: WasmInstance, x: Float32Array, dy: Float32Array, g: Geo, dW: Float32Array): void {
  const { N, G, Cg, H, W, Og, OH, OW, KH, KW, dh, dw, ph, pw, CKK, C, O } = g;
  const WR = w.cfg.WR ?? 2, WK = w.cfg.WK ?? 4;
  const L = layout(Cg, Og, KH, KW, dh, dw, ph, pw, OH, OW, 4);
  const pitch = L.pitch;
  const J = OH * pitch, Jpad = Math.ceil(J / 4) * 4;
  const OgPad = Math.ceil(Og / WR) * WR, KPad = Math.ceil(CKK / WK) * WK;
  const HW = H * W, OHW = OH * OW;
  if (N >= 2 && G * OgPad * KPad <= GROUPED_MAX_DW) {
    implicitWeightGradGrouped(w, x, dy, g, dW, L, Jpad, OgPad, KPad, WR, WK);
    return;
  }
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
      for (let kw = 0; kw < KW; kw++) i32[offsPtr + (c * KH + kh) * KW + kw] = layoutOff(L, c, kh, kw) * 4;
    }
  }
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < G; gi++) {
      const xs = (n * C + gi * Cg) * HW;
      copyIn(w, x, xs, xs + Cg * HW, xsPtr);
      layoutFill(L, w.copy2d, xsPtr, H, W, xPtr);
      const ds = (n * O + gi * Og) * OHW;
      copyIn(w, dy, ds, ds + Og * OHW, dysPtr);
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
 * Small weights (at most this many floats of dW, padded) take their gradient by groups of images
 * (implicitWeightGradGrouped), large ones by tiles of dW.
 */
const GROUPED_MAX_DW = 1 << 16;
/** The grouped weight gradient goes to the threads from this many multiply-adds a staged float (x and dy). */
const WGRAD_MIN_MACS_PER_FLOAT = 48;
/** The implicit convolution (forward, input gradient) goes to the threads from this many multiply-adds a staged float (input and output). */
const CONV_MIN_MACS_PER_FLOAT = 48;
/** The images are split into this many groups (fewer when there are fewer images), whatever the thread count. */
const WGRAD_GROUPS = 8;

/**
 * The weight gradient of small weights (LeNet-5's: dW has 168 and 2,432 floats, too few to split
 * into tiles): the images are split into WGRAD_GROUPS groups (a function of N only, not of the
 * thread count), each summed into an accumulator of its own by the single-threaded loop's calls
 * (layout copies, dy rows, the tiles over the whole of dW), one task a group, chunks of each
 * group's images through runPipelined; dW is then the sum of the groups' accumulators, in group
 * order. The same calls in the same order on any number of threads: bit-identical.
 * The tiles: where 8-channel tiles are at least 4/5 used, vblock's transposed ones (dW^T: VB_TAPS
 * taps x 8 channels, dy transposed by packb an image, each lane summing its channel's products in
 * order: no horizontal sums); else wblock's (WR channels x WK taps, dot products).
 */
function implicitWeightGradGrouped(
  w: WasmInstance, x: Float32Array, dy: Float32Array, g: Geo, dW: Float32Array,
  L: Layout, Jpad: number, OgPad: number, KPad: number, WR: number, WK: number,
): void {
  const { N, G, Cg, H, W, Og, OH, OW, KH, KW, CKK, C, O } = g;
  const pitch = L.pitch;
  const HW = H * W, OHW = OH * OW;
  const S = Math.ceil(N / Math.min(N, WGRAD_GROUPS)), P = Math.ceil(N / S); // P groups of S images (the last one may be shorter)
  // vblock: taps padded to VB_TAPS, channels to 8 (8-channel tiles of dy transposed: [J][8]); it
  // computes at 1.3x wblock's rate (conv2 of LeNet-5 alone: 55 vs 41 GFLOP/s), so it is taken
  // where its 8-channel tiles leave at most a fifth of their lanes unused
  const OT = Math.ceil(Og / 8), TP = Math.ceil(CKK / VB_TAPS) * VB_TAPS;
  const vt = Og >= 0.8 * 8 * OT && OH * pitch >= 4;
  // the staged dy planes are already the kernel's dy rows (row pitch Jpad, no padding rows) or, for
  // vblock, packb's rows (pitch OW): read there
  const dyInPlace = vt ? pitch === OW : pitch === OW && Jpad === OHW && OgPad === Og;
  const rows = vt ? OT * 8 : OgPad; // dy rows in the slot, where not in place
  const inImg = C * HW, dyImg = O * OHW;
  // resident x and dy are read where they lie, not staged (both: all images in one job)
  const xRes = residentAddress(w, x) >= 0, dyRes = residentAddress(w, dy) >= 0;
  const stagedImg = (xRes ? 0 : inImg) + (dyRes ? 0 : dyImg);
  const k = stagedImg === 0 ? S : Math.max(1, Math.min(S, Math.floor(PIPE_FLOATS / (P * stagedImg)))); // images of each group a chunk
  const xSize = align4(L.copies * L.copySize + 16), dySize = dyInPlace ? 0 : align4(rows * Jpad), dytSize = vt ? OT * Jpad * 8 : 0;
  const accSize = Math.ceil((vt ? G * OT * TP * 8 : G * OgPad * KPad) / 16) * 16; // whole cache lines (the groups' tasks run on either thread)
  // memory (floats): tap offsets | two sets of staged (x | dy) for P * k images | a slot a thread (layout
  // copies, dy rows, dy transposed) | an accumulator a group
  // threads where each staged float feeds enough multiply-adds (only the calling thread stages, into
  // the shared memory): LeNet-5's conv1 (1 channel: 21 a float) measured no faster on 2 threads
  // (3.4 ms either way, the worker busy 3 ms of it), its conv2 (86 a float) 1.7x faster
  const threads = worthThreads((G * Og * CKK * OHW) / stagedImg, WGRAD_MIN_MACS_PER_FLOAT) ? threadsFor(w) : 1;
  if (threads === 1) w = serialWasmFor(x, dy) ?? w; // on a private memory where the main one is shared and nothing is resident: faster copies
  const xAt = residentAddress(w, x), dyAt = residentAddress(w, dy); // (-1 on the private instance)
  const offsPtr = 0;
  const setSize = (xAt >= 0 ? 0 : align4(P * k * inImg)) + (dyAt >= 0 ? 0 : align4(P * k * dyImg));
  const xs0 = align4(offsPtr + Math.max(KPad, TP)); // staged x of chunk 0 (groupedXs)
  const slotPtr = Math.ceil((xs0 + 2 * setSize) / 16) * 16;
  const slotSize = threadSlotStride(xSize + dySize + dytSize, threads);
  const accPtr = slotPtr + threads * slotSize;
  const top = accPtr + P * accSize;
  const mem = ensureMemory(w, top * 4);
  mem.fill(0, offsPtr, xs0);
  // layout padding, dy rows past OW and dy transposed past J stay zero (every image writes the same interior)
  for (let t = 0; t < threads; t++) mem.fill(0, slotPtr + t * slotSize, slotPtr + t * slotSize + xSize + dySize + dytSize);
  mem.fill(0, accPtr, top);
  const i32 = w.i32;
  for (let c = 0; c < Cg; c++) {
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) i32[offsPtr + (c * KH + kh) * KW + kw] = layoutOff(L, c, kh, kw) * 4;
    }
  }
  const q: GroupedChunks = {
    w, x, dy, g, L, Jpad, OgPad, KPad, WR, WK, S, P, k, inImg, dyImg, xSize, dySize, accSize, OT, TP, vt, dyInPlace,
    offsPtr, xs0, setSize, slotPtr, slotSize, accPtr, xAt: xAt >= 0 ? xAt / 4 : -1, dyAt: dyAt >= 0 ? dyAt / 4 : -1,
  };
  runPipelined(
    w, Math.ceil(S / k), top * 4, (bytes) => void ensureMemory(w, bytes),
    groupedStage.bind(null, q),
    groupedBuild.bind(null, q),
    () => {},
    threads,
  );
  const f = w.f32;
  for (let gi = 0; gi < G; gi++) {
    for (let o = 0; o < Og; o++) {
      // accumulator element of (o, tap kk): vblock's [G][OT][TP][8], wblock's [G][OgPad][KPad]
      const s = vt ? accPtr + ((gi * OT + (o >> 3)) * TP) * 8 + (o & 7) : accPtr + (gi * OgPad + o) * KPad;
      const step = vt ? 8 : 1, d = (gi * Og + o) * CKK;
      for (let kk = 0; kk < CKK; kk++) {
        let v = f[s + kk * step];
        for (let p = 1; p < P; p++) v = Math.fround(v + f[s + p * accSize + kk * step]);
        dW[d + kk] = v;
      }
    }
  }
}

/** implicitWeightGradGrouped's set-up, read by its chunks' functions (groupedStage, groupedBuild). */
interface GroupedChunks {
  w: WasmInstance; x: Float32Array; dy: Float32Array; g: Geo; L: Layout;
  Jpad: number; OgPad: number; KPad: number; WR: number; WK: number;
  /** P groups of S images, k images of each group a chunk */
  S: number; P: number; k: number;
  inImg: number; dyImg: number; xSize: number; dySize: number; accSize: number; OT: number; TP: number; vt: boolean; dyInPlace: boolean;
  offsPtr: number; xs0: number; setSize: number; slotPtr: number; slotSize: number; accPtr: number;
  /** float indices of x and dy where they are resident (read where they lie, not staged), else -1 */
  xAt: number; dyAt: number;
}

/** Float index of the staged x of chunk c (two sets, alternating). */
function groupedXs(q: GroupedChunks, c: number): number {
  return q.xs0 + (c & 1) * q.setSize;
}
/** Float index of image i of group p in chunk c: x (staged, or where it lies). */
function groupedX(q: GroupedChunks, c: number, p: number, i: number): number {
  return q.xAt >= 0 ? q.xAt + (p * q.S + c * q.k + i) * q.inImg : groupedXs(q, c) + (p * q.k + i) * q.inImg;
}
/** The same for dy. */
function groupedDy(q: GroupedChunks, c: number, p: number, i: number): number {
  return q.dyAt >= 0 ? q.dyAt + (p * q.S + c * q.k + i) * q.dyImg : groupedDys(q, c) + (p * q.k + i) * q.dyImg;
}
/** Float index of the staged dy of chunk c. */
function groupedDys(q: GroupedChunks, c: number): number {
  return groupedXs(q, c) + (q.xAt >= 0 ? 0 : align4(q.P * q.k * q.inImg));
}
/** images [a, b) of group p in chunk c */
function groupedImages(q: GroupedChunks, p: number, c: number): [number, number] {
  const { S, k } = q, N = q.g.N;
  return [p * S + c * k, Math.min(N, p * S + Math.min(S, (c + 1) * k))];
}

/** Stages chunk c's images of every group (x and dy). */
function groupedStage(q: GroupedChunks, c: number): void {
  const { w, x, dy, P, k, inImg, dyImg } = q;
  for (let p = 0; p < P; p++) {
    const [a, b] = groupedImages(q, p, c);
    if (b <= a) continue;
    if (q.xAt < 0) copyIn(w, x, a * inImg, b * inImg, groupedXs(q, c) + p * k * inImg);
    if (q.dyAt < 0) copyIn(w, dy, a * dyImg, b * dyImg, groupedDys(q, c) + p * k * dyImg);
  }
}

/**
 * Chunk c's tasks, one a group: layout copies, dy rows and dy transposed in the running thread's
 * slot (scratch offsets 0, xSize, xSize + dySize), the sums in the group's accumulator.
 */
function groupedBuild(q: GroupedChunks, c: number, tasks: TaskList): void {
  if (q.xAt >= 0 && q.dyAt >= 0) {
    // in place (one job): the list of the last call of this geometry, moved to this call's operands
    const { g, L } = q;
    const key = `wgrad ${g.N} ${g.G} ${g.Cg} ${g.H} ${g.W} ${g.Og} ${g.OH} ${g.OW} ${g.KH} ${g.KW} ${g.dh} ${g.dw} ${g.ph} ${g.pw} ${g.C} ${g.O} ` +
      `${L.Hp} ${L.pitch} ${L.copies} ${L.copySize} ${L.padT} ${L.padL} ${q.Jpad} ${q.OgPad} ${q.KPad} ${q.WR} ${q.WK} ${q.S} ${q.P} ${q.k} ${q.inImg} ${q.dyImg} ` +
      `${q.xSize} ${q.dySize} ${q.accSize} ${q.OT} ${q.TP} ${q.vt} ${q.dyInPlace} ${q.offsPtr} ${q.xs0} ${q.setSize} ${q.slotPtr} ${q.slotSize} ${q.accPtr} ${c}`;
    reusedTasks(key, [q.xAt, q.dyAt], tasks, groupedBuildAt.bind(null, q, c));
    return;
  }
  groupedBuildTasks(q, c, tasks);
}

/** groupedBuild's tasks with x and dy at float indices bases[0], bases[1] (reusedTasks). */
function groupedBuildAt(q: GroupedChunks, c: number, bases: number[], tasks: TaskList): void {
  groupedBuildTasks({ ...q, xAt: bases[0], dyAt: bases[1] }, c, tasks);
}

function groupedBuildTasks(q: GroupedChunks, c: number, tasks: TaskList): void {
  const { G, Cg, H, W, Og, OH, OW } = q.g;
  const { L, Jpad, OgPad, KPad, WR, WK, P, xSize, dySize, accSize, OT, TP, vt, dyInPlace, offsPtr, slotPtr, slotSize, accPtr } = q;
  const pitch = L.pitch;
  const HW = H * W, OHW = OH * OW;
  tasks.scratch(slotPtr * 4, slotSize * 4);
  const copy = copyTask(tasks, DST);
  for (let p = 0; p < P; p++) {
    const [a, b] = groupedImages(q, p, c);
    if (b <= a) continue;
    tasks.task();
    for (let i = 0; i < b - a; i++) {
      for (let gi = 0; gi < G; gi++) {
        layoutFill(L, copy, groupedX(q, c, p, i) + gi * Cg * HW, H, W, 0);
        const dys = groupedDy(q, c, p, i) + gi * Og * OHW;
        // the dy rows: where, whether a scratch offset, and their pitch
        let dyRows = dys * 4, rel = 0, ldy = dyInPlace ? (vt ? OHW * 4 : Jpad * 4) : Jpad * 4;
        if (!dyInPlace) {
          copy(dys * 4, OW * 4, OHW * 4, xSize * 4, pitch * 4, Jpad * 4, Og, OH, OW);
          [dyRows, rel] = [xSize * 4, 1];
        }
        if (vt) {
          const dyt = (xSize + dySize) * 4;
          tasks.callIn(rel | (1 << 2), "packb", dyRows, ldy, dyt, OH * pitch, OT, 8 * ldy, Jpad * 32);
          tasks.callIn((1 << 3) | (1 << 5), "vblock", OT, TP / VB_TAPS, Jpad, 0, offsPtr * 4, dyt, Jpad * 32, (accPtr + p * accSize + gi * OT * TP * 8) * 4, TP * 32);
        } else {
          tasks.callIn((rel << 3) | (1 << 5), "wblock", OgPad / WR, KPad / WK, Jpad, dyRows, ldy, 0, offsPtr * 4, (accPtr + p * accSize + gi * OgPad * KPad) * 4, KPad * 4);
        }
      }
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
  w: WasmInstance, threads: number, x: Float32Array, dy: Float32Array, g: Geo, dW: Float32Array,
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
      for (let kw = 0; kw < KW; kw++) i32[offsPtr + (c * KH + kh) * KW + kw] = layoutOff(L, c, kh, kw) * 4;
    }
  }
  const ensure = (bytes: number) => void ensureMemory(w, bytes);
  const tasks = new TaskList();
  const copy = copyTask(tasks);
  for (let n0 = 0; n0 < N; n0 += nImg) {
    const nb = Math.min(nImg, N - n0);
    copyIn(w, x, n0 * inImg, (n0 + nb) * inImg, xsPtr);
    copyIn(w, dy, n0 * dyImg, (n0 + nb) * dyImg, dysPtr);
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
            layoutFill(L, copy, xsPtr + u * Cg * HW, H, W, xSlot, cA, cB);
            if (cA > 0) layoutFill(L, copy, xsPtr + u * Cg * HW, H, W, xSlot, 0, 1);
            if (o1 > o0) copy((dysPtr + u * Og * OHW + o0 * OHW) * 4, OW * 4, OHW * 4, (dySlot + o0 * Jpad) * 4, pitch * 4, Jpad * 4, o1 - o0, OH, OW);
            tasks.call("wblock", r1 - r0, q1 - q0, Jpad, (dySlot + o0 * Jpad) * 4, Jpad * 4, xSlot * 4, (offsPtr + q0 * WK) * 4, acc * 4, accPitch * 4);
          }
          slot += slotSize;
        }
      }
    }
    runTasks(w, tasks, top * 4, ensure, undefined, threads);
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
