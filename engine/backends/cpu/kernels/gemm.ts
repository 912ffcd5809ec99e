// Single-precision GEMM for the CPU backend.
//
//   C[cOff + i*ldc + j] = alpha * sum_k op(A)[i,k] * op(B)[k,j] + beta * C[...]
//
// Two implementations:
//  - gemmReference: plain TypeScript, cache-blocked. Always available; the
//    fallback and the test oracle.
//  - gemmWasm: WebAssembly SIMD (f32x4) micro-kernel over packed panels
//    (the `block` function of the SIMD module, ../wasm/gemm-funcs.ts); from 32K
//    multiply-adds each operand is copied into the WASM memory and packed there once.
// `gemm` picks WASM when it is compiled and the problem is big enough.
// As in BLAS, beta == 0 means C is not read (NaNs in C do not propagate).

import { compiledWasm, copyIn, copyOut, ensureMemory, residentAddress, serialWasmFor, wasmMode, wasmUnavailableReason, type WasmInstance } from "../wasm/runtime.ts";
import { runTasks, splitRange, TaskList, threadsFor, worthThreads, type FnName } from "../wasm/threads.ts";

// ---------------------------------------------------------------------------
// argument checks

function checkOperand(
  name: string, X: Float32Array, off: number, ld: number, rows: number, cols: number,
): void {
  if (!(off >= 0) || !Number.isInteger(off)) throw new RangeError(`gemm: bad offset ${off} for ${name}`);
  if (rows === 0 || cols === 0) return;
  if (!(ld >= cols)) throw new RangeError(`gemm: leading dimension of ${name} is ${ld}, needs >= ${cols}`);
  const last = off + (rows - 1) * ld + cols - 1;
  if (last >= X.length) {
    throw new RangeError(`gemm: ${name} (${rows}x${cols}, ld ${ld}, offset ${off}) needs ${last + 1} elements, has ${X.length}`);
  }
}

function checkArgs(
  transA: boolean, transB: boolean, M: number, N: number, K: number,
  A: Float32Array, aOff: number, lda: number, B: Float32Array, bOff: number, ldb: number,
  C: Float32Array, cOff: number, ldc: number,
): void {
  if (!(M >= 0 && N >= 0 && K >= 0) || !Number.isInteger(M) || !Number.isInteger(N) || !Number.isInteger(K)) {
    throw new RangeError(`gemm: bad sizes M=${M} N=${N} K=${K}`);
  }
  if (transA) checkOperand("A", A, aOff, lda, K, M);
  else checkOperand("A", A, aOff, lda, M, K);
  if (transB) checkOperand("B", B, bOff, ldb, N, K);
  else checkOperand("B", B, bOff, ldb, K, N);
  checkOperand("C", C, cOff, ldc, M, N);
}

/** C = beta * C on the M x N block (beta == 0 writes zeros). */
function scaleC(M: number, N: number, beta: number, C: Float32Array, cOff: number, ldc: number): void {
  if (beta === 1) return;
  for (let i = 0; i < M; i++) {
    const r = cOff + i * ldc;
    if (beta === 0) C.fill(0, r, r + N);
    else for (let j = r; j < r + N; j++) C[j] *= beta;
  }
}

// ---------------------------------------------------------------------------
// reference (plain TypeScript, cache-blocked)

const REF_KB = 128;
const REF_NB = 512;

export function gemmReference(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, aOff: number, lda: number, B: Float32Array, bOff: number, ldb: number,
  beta: number, C: Float32Array, cOff: number, ldc: number,
): void {
  checkArgs(transA, transB, M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc);
  if (M === 0 || N === 0) return;
  scaleC(M, N, beta, C, cOff, ldc);
  if (K === 0 || alpha === 0) return;
  // op(B) as contiguous rows: Bk[k*bs + j]
  let Bk = B, bo = bOff, bs = ldb;
  if (transB) {
    Bk = new Float32Array(K * N);
    for (let j = 0; j < N; j++) {
      const src = bOff + j * ldb;
      for (let k = 0; k < K; k++) Bk[k * N + j] = B[src + k];
    }
    bo = 0;
    bs = N;
  }
  // op(A)[i,k] = A[aOff + i*ais + k*aks]
  const ais = transA ? 1 : lda;
  const aks = transA ? lda : 1;
  for (let j0 = 0; j0 < N; j0 += REF_NB) {
    const j1 = Math.min(N, j0 + REF_NB);
    for (let k0 = 0; k0 < K; k0 += REF_KB) {
      const k1 = Math.min(K, k0 + REF_KB);
      let i = 0;
      for (; i + 4 <= M; i += 4) {
        const c0 = cOff + i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        for (let k = k0; k < k1; k++) {
          const ap = aOff + i * ais + k * aks;
          const a0 = alpha * A[ap], a1 = alpha * A[ap + ais], a2 = alpha * A[ap + 2 * ais], a3 = alpha * A[ap + 3 * ais];
          const br = bo + k * bs;
          for (let j = j0; j < j1; j++) {
            const b = Bk[br + j];
            C[c0 + j] += a0 * b;
            C[c1 + j] += a1 * b;
            C[c2 + j] += a2 * b;
            C[c3 + j] += a3 * b;
          }
        }
      }
      for (; i < M; i++) {
        const c0 = cOff + i * ldc;
        for (let k = k0; k < k1; k++) {
          const a0 = alpha * A[aOff + i * ais + k * aks];
          const br = bo + k * bs;
          for (let j = j0; j < j1; j++) C[c0 + j] += a0 * Bk[br + j];
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// WebAssembly SIMD path (the micro-kernel `block` of ../wasm/gemm-funcs.ts)

// cache blocking (floats): A block MC x KC stays in L2, B micro panel KC x NR in L1; MC is a
// multiple of every MR the SIMD module is built with (4, 6, 8: whole panels in a block)
const MC = 120;
const KC = 256;
const NC = 512;

function packA(
  transA: boolean, A: Float32Array, aOff: number, lda: number,
  ic: number, mc: number, pc: number, kc: number, kcPad: number, MR: number,
  dst: Float32Array, d0: number,
): void {
  for (let p = 0; p * MR < mc; p++) {
    const base = d0 + p * kcPad * MR;
    const rows = Math.min(MR, mc - p * MR);
    if (rows < MR || kc < kcPad) dst.fill(0, base, base + kcPad * MR);
    const i0 = ic + p * MR;
    if (!transA) {
      for (let r = 0; r < rows; r++) {
        const src = aOff + (i0 + r) * lda + pc;
        let d = base + r;
        for (let k = 0; k < kc; k++, d += MR) dst[d] = A[src + k];
      }
    } else if (rows === 4 && MR === 4) {
      let src = aOff + pc * lda + i0;
      let d = base;
      for (let k = 0; k < kc; k++, src += lda, d += 4) {
        dst[d] = A[src];
        dst[d + 1] = A[src + 1];
        dst[d + 2] = A[src + 2];
        dst[d + 3] = A[src + 3];
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const src = aOff + (pc + k) * lda + i0;
        const d = base + k * MR;
        for (let r = 0; r < rows; r++) dst[d + r] = A[src + r];
      }
    }
  }
}

function packB(
  transB: boolean, B: Float32Array, bOff: number, ldb: number,
  pc: number, kc: number, kcPad: number, jc: number, nc: number, NR: number,
  dst: Float32Array, d0: number,
): void {
  for (let q = 0; q * NR < nc; q++) {
    const base = d0 + q * kcPad * NR;
    const cols = Math.min(NR, nc - q * NR);
    if (cols < NR || kc < kcPad) dst.fill(0, base, base + kcPad * NR);
    const j0 = jc + q * NR;
    if (!transB) {
      if (cols === 8 && NR === 8) {
        let src = bOff + pc * ldb + j0;
        let d = base;
        for (let k = 0; k < kc; k++, src += ldb, d += 8) {
          dst[d] = B[src];
          dst[d + 1] = B[src + 1];
          dst[d + 2] = B[src + 2];
          dst[d + 3] = B[src + 3];
          dst[d + 4] = B[src + 4];
          dst[d + 5] = B[src + 5];
          dst[d + 6] = B[src + 6];
          dst[d + 7] = B[src + 7];
        }
      } else {
        for (let k = 0; k < kc; k++) {
          const src = bOff + (pc + k) * ldb + j0;
          const d = base + k * NR;
          for (let c = 0; c < cols; c++) dst[d + c] = B[src + c];
        }
      }
    } else {
      for (let c = 0; c < cols; c++) {
        const src = bOff + (j0 + c) * ldb + pc;
        let d = base + c;
        for (let k = 0; k < kc; k++, d += NR) dst[d] = B[src + k];
      }
    }
  }
}

/** GEMM on the WASM SIMD kernels; throws if they are not available. */
export function gemmWasm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, aOff: number, lda: number, B: Float32Array, bOff: number, ldb: number,
  beta: number, C: Float32Array, cOff: number, ldc: number,
): void {
  const shared = compiledWasm();
  if (!shared) throw new Error(`gemm: WebAssembly SIMD kernels unavailable (${wasmUnavailableReason()})`);
  checkArgs(transA, transB, M, N, K, A, aOff, lda, B, bOff, ldb, C, cOff, ldc);
  if (M === 0 || N === 0) return;
  if (K === 0 || alpha === 0) {
    scaleC(M, N, beta, C, cOff, ldc);
    return;
  }
  const threaded = worthThreads(M * N * K, PAR_MIN_WORK);
  const threads = threaded ? threadsFor(shared) : 1;
  // on one thread, the instance on a private memory where the main one is shared and no operand
  // is resident (faster copies)
  const w = threads > 1 ? shared : (serialWasmFor(A, B, C) ?? shared);
  if (threaded || M * N * K >= PACKED_MIN_WORK) {
    gemmWasmPacked(w, threads, transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
    return;
  }
  const { MR, NV, UNROLL } = w.cfg;
  const NR = NV * 4;
  const kcMax = Math.min(KC, Math.ceil(K / UNROLL) * UNROLL);
  const ncMax = Math.min(NC, Math.ceil(N / NR) * NR);
  const mcMax = Math.min(MC, Math.ceil(M / MR) * MR);
  // memory layout (floats): [A block MC x KC | B panels K x NC (all of K) | C block MC x NC]
  const kPadTotal = Math.ceil(K / KC) * (UNROLL - 1) + K;
  const aPtr = 0;
  const bPtr = aPtr + mcMax * kcMax;
  const cPtr = bPtr + kPadTotal * ncMax;
  const mem = ensureMemory(w, (cPtr + mcMax * ncMax) * 4);
  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    const np = Math.ceil(nc / NR);
    const ncPad = np * NR;
    for (let pc = 0, bo = bPtr; pc < K; pc += KC) {
      const kc = Math.min(KC, K - pc);
      const kcPad = Math.ceil(kc / UNROLL) * UNROLL;
      packB(transB, B, bOff, ldb, pc, kc, kcPad, jc, nc, NR, mem, bo);
      bo += kcPad * ncPad;
    }
    for (let ic = 0; ic < M; ic += MC) {
      const mc = Math.min(MC, M - ic);
      for (let pc = 0, bo = bPtr; pc < K; pc += KC) {
        const kc = Math.min(KC, K - pc);
        const kcPad = Math.ceil(kc / UNROLL) * UNROLL;
        packA(transA, A, aOff, lda, ic, mc, pc, kc, kcPad, MR, mem, aPtr);
        w.block(mc, np, kcPad, aPtr * 4, bo * 4, cPtr * 4, ncPad * 4, pc > 0 ? 1 : 0, MR * 4, NR * 4);
        bo += kcPad * ncPad;
      }
      // C[ic:ic+mc, jc:jc+nc] = alpha * block + beta * C
      storeC(w, cPtr, ncPad, mc, nc, alpha, beta, C, cOff + ic * ldc + jc, ldc);
    }
  }
}

/** Rows shorter than this are copied out by a loop (a subarray and a set cost more for them). */
const SHORT_ROW = 32;

/** C[rows, jc:jc+nc] = alpha * block + beta * C for the rows of a C block in WASM memory (row pitch ncPad). */
function storeC(
  w: WasmInstance, s0: number, ncPad: number, rows: number, nc: number, alpha: number, beta: number,
  C: Float32Array, d0: number, ldc: number,
): void {
  const mem = w.f32;
  if (beta === 0 && alpha === 1 && ncPad === nc && ldc === nc) {
    // the block is C's rows exactly: one copy
    copyOut(w, s0, rows * nc, C, d0);
    return;
  }
  for (let i = 0; i < rows; i++) {
    const s = s0 + i * ncPad;
    const d = d0 + i * ldc;
    if (beta === 0) {
      if (alpha !== 1) for (let j = 0; j < nc; j++) C[d + j] = alpha * mem[s + j];
      else if (nc < SHORT_ROW) for (let j = 0; j < nc; j++) C[d + j] = mem[s + j];
      else copyOut(w, s, nc, C, d);
    } else if (alpha === 1 && beta === 1) {
      for (let j = 0; j < nc; j++) C[d + j] += mem[s + j];
    } else {
      for (let j = 0; j < nc; j++) C[d + j] = alpha * mem[s + j] + beta * C[d + j];
    }
  }
}

/**
 * Problems of at least this many multiply-adds take gemmWasmPacked, on one thread too (each
 * operand packed once, in WASM). Measured (1 thread, interleaved): from 32K multiply-adds about
 * even to 2.2x faster than packing A again in TypeScript for every column block (LeNet-5's
 * linear layers: 1.1-2.2x); below, its fixed costs (~3 us: task lists, copies) take more than
 * they save (16^3: 1.7 us blocked, 4.3 us packed).
 */
const PACKED_MIN_WORK = 1 << 15;
/**
 * Problems of at least this many multiply-adds use worker threads (smaller ones: the copies and
 * the wake-up cost more than they save; measured on 2 cores, the break-even is around 2-3M).
 */
const PAR_MIN_WORK = 1 << 22;
/** Each task gets at least this many multiply-adds. */
const PAR_TASK_WORK = 1 << 16;

/** Above this many floats of operands, packing runs on the calling thread in TypeScript (no raw copies in WASM memory). */
const PAR_PACK_MAX = 1 << 25;
/** Floats per packing task. */
const PACK_TASK = 1 << 15;

/**
 * Whether `block` reads an operand's panels where the operand lies (row pitch `ld` floats, `rows`
 * k steps of one panel, `span` floats in all) instead of a packed copy: a transposed A (its MR rows
 * of a k step are contiguous) or a B as it is (its NR columns likewise). Only where the operand is
 * small enough to stay in L2 and its k steps do not all fall into a few L1 sets (64 sets of 64-byte
 * lines, 8 ways: a pitch of 2^n KiB would put a panel's k steps into one or two sets).
 */
function readInPlace(ld: number, span: number): boolean {
  if (span > IN_PLACE_MAX) return false;
  if (ld % 16 !== 0) return true;
  let g = ld / 16, sets = 64; // lines between k steps; sets visited: 64 / gcd(64, g)
  while (g % 2 === 0 && sets > 1) (g /= 2), (sets /= 2);
  return sets >= 32;
}
/**
 * Operands of at most this many floats (128 KiB) may be read in place (readInPlace). Measured (1
 * thread, interleaved): LeNet-5's 84->10 weight gradient 16.7 -> 13.1 us with X read in place,
 * 120->84 even or better; 400->120's weight gradient ~4% slower with its 400-wide X in place
 * (a panel's k steps then take twice the L1 lines of a packed one): packed.
 */
const IN_PLACE_MAX = 1 << 15;

/** Whether floats [off, off + span) of the array at byte address `res` (-1: not resident) lie outside bytes [c0, c1). */
function outside(res: number, off: number, span: number, c0: number, c1: number): boolean {
  return res < 0 || res + (off + span) * 4 <= c0 || res + off * 4 >= c1;
}

/** The task list of gemmWasmPacked (reused: gemm never runs inside itself). */
const gemmTasks = new TaskList();

/**
 * gemmWasm's work, on `threads` threads (1: all on the calling thread). Both operands are
 * copied into the WASM memory once; each is then packed once for all of M, N and K (in WASM
 * tasks from raw copies, or in TypeScript for very large operands) or read in place where its
 * layout allows (readInPlace); then tasks (NC-column block, MC-row block, range of NR-column
 * panels) each run the k blocks in order: every C element gets the same `block` calls in the
 * same order whatever the tasks, so the result is the same bit for bit for every thread count,
 * and as in gemmWasm's blocked loop (packed or in place: the same multiply-adds in the same order).
 */
function gemmWasmPacked(
  w: WasmInstance, threads: number, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, aOff: number, lda: number, B: Float32Array, bOff: number, ldb: number,
  beta: number, C: Float32Array, cOff: number, ldc: number,
): void {
  const { MR, NV, UNROLL } = w.cfg;
  const NR = NV * 4;
  const mPad = Math.ceil(M / MR) * MR, nPad = Math.ceil(N / NR) * NR;
  // k blocks: [pc, kc, kcPad, float offset of the block in a packed row or column block]
  const kb: [number, number, number, number][] = [];
  let kPadTotal = 0;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = Math.min(KC, K - pc);
    const kcPad = Math.ceil(kc / UNROLL) * UNROLL;
    kb.push([pc, kc, kcPad, kPadTotal]);
    kPadTotal += kcPad;
  }
  // raw operand spans (floats from aOff / bOff)
  const aSpan = transA ? (K - 1) * lda + M : (M - 1) * lda + K;
  const bSpan = transB ? (N - 1) * ldb + K : (K - 1) * ldb + N;
  const inWasm = aSpan + bSpan <= PAR_PACK_MAX;
  // in place (k padding would read past the operand: only without it)
  const aDirect = inWasm && transA && kPadTotal === K && readInPlace(lda, aSpan);
  const bDirect = inWasm && !transB && kPadTotal === K && readInPlace(ldb, bSpan);
  // C computed in its own layout (row pitch N: one copy out, no compaction; in place where C is
  // resident) where C is contiguous and taken as it is, and where no tile runs past a row's end
  // (N a multiple of NR, or NR / 2 past one with the last panel half-width: any number of column
  // blocks) or, on one thread with one k block and one
  // column block, the panel that does is computed first (what it writes past each row's end, into
  // the next row's first columns, the other panels then overwrite; past the last row: slack)
  // (the last panel by half-width tiles where it has at most NR / 2 columns, block's accum bit 1:
  // then the tiles write nW columns of a row, not nPad; LeNet-5's 84 outputs, 10 panels and a half)
  const narrow = N % NR > 0 && N % NR <= NR / 2 ? 2 : 0;
  const nW = narrow ? nPad - NR / 2 : nPad;
  const cRows = alpha === 1 && beta === 0 && ldc === N && (nW === N || (N <= NC && threads === 1 && kb.length === 1));
  const overrun = cRows && nW !== N;
  // operands that live in this memory (resident storage) are read where they lie instead of
  // copied in (B not where its last panel would read past its end: in place with columns past N);
  // C, laid out as its rows, written where it lies when no tile writes past its rows and it
  // shares no byte with A or B
  const resA = inWasm ? residentAddress(w, A) : -1, resB = inWasm ? residentAddress(w, B) : -1;
  const inPlaceA = resA >= 0, inPlaceB = resB >= 0 && !(bDirect && nW !== N);
  const resC = cRows && !overrun ? residentAddress(w, C) : -1;
  const c0 = resC + cOff * 4, c1 = c0 + M * N * 4;
  const inPlaceC = resC >= 0 && outside(resA, aOff, aSpan, c0, c1) && outside(resB, bOff, bSpan, c0, c1);
  // memory (floats): [packed A: all row blocks x all of K | packed B: all column blocks x all of K |
  //                   C: column blocks of mPad x ncPad, or M x N (cRows) and NR floats of slack |
  //                   raw A | raw B | NR floats read past B's last row by its last panel when it is
  //                   read in place]
  // A(ic, k block) at aPtr + ic * kPadTotal + kOff * mcPad (MC is a multiple of MR),
  // B(jc, k block) at bPtr + jc * kPadTotal + kOff * ncPad, C(jc) at cPtr + jc * mPad (NC is a multiple of NR)
  // (goto: the k blocks outside the row blocks, where B's column block would not stay in L2 from
  // one row block to the next, and there are several column blocks (with one, its tasks, column
  // ranges over all the rows, balance two threads worse than row blocks do: 512^3 on 2 threads
  // 3.09 -> 3.27 ms); late: then B packed by each task, a k block at a time just before the row
  // blocks use it, into a buffer of the task's own (one on one thread), where it stays in L2
  // instead of coming back from L3 or memory; needs whole panels and no k padding)
  const want = threads === 1 ? 1 : Math.max(1, Math.min(4 * threads, Math.floor((M * N * K) / PAR_TASK_WORK)));
  const goto = kb.length > 1 && M > MC && N > NC && kPadTotal * NC * 4 > B_L2_MAX;
  const late = goto && inWasm && !bDirect && kPadTotal === K && N % NR === 0;
  const perJc = Math.max(1, Math.ceil(want / Math.ceil(N / NC)));
  const lateBuf = late ? kb[0][2] * Math.ceil(NC / NR / perJc) * NR : 0; // floats a buffer
  const aPtr = 0;
  const bPtr = aPtr + (aDirect ? 0 : mPad * kPadTotal);
  const cScratch = bPtr + (bDirect ? 0 : late ? (threads === 1 ? 1 : Math.ceil(N / NC) * perJc) * lateBuf : kPadTotal * nPad);
  const cPtr = inPlaceC ? (resC >> 2) + cOff : cScratch;
  const aScratch = cScratch + (inPlaceC ? 0 : cRows ? M * N + NR : mPad * nPad);
  const bScratch = aScratch + (inWasm && !inPlaceA ? aSpan : 0);
  const rawA = inPlaceA ? (resA >> 2) + aOff : aScratch, rawB = inPlaceB ? (resB >> 2) + bOff : bScratch;
  const top = Math.ceil((bScratch + (inWasm && !inPlaceB ? bSpan + NR : 0)) / 4) * 4;
  const mem = ensureMemory(w, top * 4);
  // on several threads the SIMD module's calls go into task lists; on one, they are made as they come
  const tasks = gemmTasks;
  if (threads > 1) tasks.clear();
  // bytes between k steps of a panel: packed, or the operand's row pitch read in place
  const aStep = aDirect ? lda * 4 : MR * 4, bStep = bDirect ? ldb * 4 : NR * 4;
  const plan: PackedPlan = {
    ex: w.exports, tasks: threads > 1 ? tasks : null, mem, kb, kPadTotal, NR, N, mPad,
    aDirect, bDirect, rawA, rawB, lda, ldb, aPtr, bPtr, cPtr, cRows, narrow, aStep, bStep,
  };
  const run = () => {
    if (threads === 1) return;
    runTasks(w, tasks, top * 4, ensure, undefined, threads);
    tasks.clear();
  };
  const ensure = (bytes: number) => void ensureMemory(w, bytes);
  if (inWasm) {
    if (!inPlaceA) copyIn(w, A, aOff, aOff + aSpan, rawA);
    if (!inPlaceB) copyIn(w, B, bOff, bOff + bSpan, rawB);
    if (bDirect && !inPlaceB) mem.fill(0, rawB + bSpan, rawB + bSpan + NR); // (read by a last panel of full tiles)
    // op(A) is M x K: row i at raw + i*lda (not transposed); op(B)^T is N x K likewise with !transB
    if (!aDirect) packPanels(plan, M, MR, rawA, lda, transA, aPtr, MC, "packa");
    if (!bDirect && !late) packPanels(plan, N, NR, rawB, ldb, !transB, bPtr, NC, "packb");
    run();
  } else {
    for (let ic = 0; ic < M; ic += MC) {
      const mc = Math.min(MC, M - ic), mcPad = Math.ceil(mc / MR) * MR;
      for (const [pc, kc, kcPad, kOff] of kb) packA(transA, A, aOff, lda, ic, mc, pc, kc, kcPad, MR, mem, aPtr + ic * kPadTotal + kOff * mcPad);
    }
    for (let jc = 0; jc < N; jc += NC) {
      const nc = Math.min(NC, N - jc), ncPad = Math.ceil(nc / NR) * NR;
      for (const [pc, kc, kcPad, kOff] of kb) packB(transB, B, bOff, ldb, pc, kc, kcPad, jc, nc, NR, mem, bPtr + jc * kPadTotal + kOff * ncPad);
    }
  }
  // (one thread: one task a block, so that the panel that runs past C's rows comes first, see cRows)
  if (goto) {
    // B's column block (all of K) would not stay in L2 from one row block to the next: the k
    // blocks outside the row blocks (GotoBLAS's order), so that a k block of B (KC x NC, 512 KiB)
    // is read from L3 once and by the other row blocks from L2 (late: packed there just before);
    // tasks by ranges of column panels over all the rows (each C tile gets its k blocks in order:
    // the same bits)
    let buf = bPtr;
    for (let jc = 0; jc < N; jc += NC) {
      const np = Math.ceil(Math.min(NC, N - jc) / NR), ncPad = np * NR;
      for (const [q0, q1] of splitRange(np, perJc)) {
        if (plan.tasks) plan.tasks.task();
        for (const k of plan.kb) {
          if (late) packCalls(plan, NR, rawB, ldb, !transB, "packb", jc + q0 * NR, k[0], k[1], k[2], buf, 0, q1 - q0, NR);
          for (let ic = 0; ic < M; ic += MC) {
            const mc = Math.min(MC, M - ic);
            blockCall(plan, jc, ic, mc, Math.ceil(mc / MR) * MR, np, ncPad, q0, q1, k, late ? buf : -1);
          }
        }
        if (threads > 1) buf += lateBuf;
      }
    }
  } else {
    const blocks = Math.ceil(M / MC) * Math.ceil(N / NC);
    const perBlock = Math.max(1, Math.ceil(want / blocks));
    for (let jc = 0; jc < N; jc += NC) {
      const np = Math.ceil(Math.min(NC, N - jc) / NR), ncPad = np * NR;
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic), mcPad = Math.ceil(mc / MR) * MR;
        for (const [q0, q1] of splitRange(np, perBlock)) {
          if (plan.tasks) plan.tasks.task();
          if (overrun && q1 === np) {
            // the panel that runs past the rows' end first (one task, one k block: see cRows)
            blockCalls(plan, jc, ic, mc, mcPad, np, ncPad, q1 - 1, q1);
            if (q1 - 1 > q0) blockCalls(plan, jc, ic, mc, mcPad, np, ncPad, q0, q1 - 1);
          } else blockCalls(plan, jc, ic, mc, mcPad, np, ncPad, q0, q1);
        }
      }
    }
  }
  run();
  if (cRows) {
    if (!inPlaceC) copyOut(w, cPtr, M * N, C, cOff);
    return;
  }
  if (N <= NC && nPad !== N && alpha === 1 && beta === 0 && ldc === N) {
    // one column block, C's rows with padding between them: compacted in the WASM memory (row
    // pitch nPad -> N), then one copy (a subarray and a set per row cost more)
    ensureMemory(w, (top + M * N) * 4);
    w.copy2d(cPtr * 4, nPad * 4, 0, top * 4, N * 4, 0, 1, M, N);
    copyOut(w, top, M * N, C, cOff);
    return;
  }
  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc), ncPad = Math.ceil(nc / NR) * NR;
    storeC(w, cPtr + jc * mPad, ncPad, M, nc, alpha, beta, C, cOff + jc, ldc);
  }
}

/**
 * gemmWasmPacked's layout, read by its module-level helpers (packPanels, packCalls, blockCalls): not
 * closures made at each call, whose optimized code V8 drops at every full garbage collection (see
 * conv-implicit.ts's copyTask).
 */
interface PackedPlan {
  ex: WasmInstance["exports"];
  /** the task list on several threads; null: the SIMD module's functions are called as they come */
  tasks: TaskList | null;
  mem: Float32Array;
  /** k blocks: [pc, kc, kcPad, float offset of the block in a packed row or column block] */
  kb: [number, number, number, number][];
  kPadTotal: number; NR: number; N: number; mPad: number;
  aDirect: boolean; bDirect: boolean; rawA: number; rawB: number; lda: number; ldb: number;
  aPtr: number; bPtr: number; cPtr: number; cRows: boolean; narrow: number; aStep: number; bStep: number;
}

/** A call of the SIMD module's `fn`: into the task list, or made now. */
function planCall(p: PackedPlan, fn: FnName, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0, a8 = 0, a9 = 0): void {
  if (p.tasks) p.tasks.call(fn, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9);
  else p.ex[fn](a0, a1, a2, a3, a4, a5, a6, a7, a8, a9);
}

/**
 * A panels: MR rows x kc, k-major; B panels: kc x NR columns, k-major. Full panels by the
 * hundred in one call; a partial last panel is zeroed here, then its rows / columns copied.
 * The n rows of op(X) (R a panel, blocks of blockLen) from the raw copy at `raw` into dst0.
 */
function packPanels(
  p: PackedPlan, n: number, R: number, raw: number, ld: number, trans: boolean, dst0: number, blockLen: number, pack: "packa" | "packb",
): void {
  const mem = p.mem;
  for (let i0 = 0; i0 < n; i0 += blockLen) {
    const len = Math.min(blockLen, n - i0), panels = Math.ceil(len / R), lenPad = panels * R;
    for (const [pc, kc, kcPad, kOff] of p.kb) {
      const dst = dst0 + i0 * p.kPadTotal + kOff * lenPad;
      if (kc < kcPad) mem.fill(0, dst, dst + kcPad * lenPad);
      else if (len < lenPad) mem.fill(0, dst + (panels - 1) * kcPad * R, dst + panels * kcPad * R);
      const per = Math.max(1, Math.floor(PACK_TASK / (kc * R)));
      for (let p0 = 0; p0 < panels; p0 += per) {
        const p1 = Math.min(panels, p0 + per);
        if (p.tasks) p.tasks.task();
        const full = Math.min(p1, Math.floor(len / R));
        if (full > p0) packCalls(p, R, raw, ld, trans, pack, i0, pc, kc, kcPad, dst, p0, full, R);
        if (full < p1) packCalls(p, R, raw, ld, trans, pack, i0, pc, kc, kcPad, dst, full, p1, len - full * R);
      }
    }
  }
}

/** packPanels' call for panels [q0, q1) of `cnt` rows each, of the k block at pc. */
function packCalls(
  p: PackedPlan, R: number, raw: number, ld: number, trans: boolean, pack: "packa" | "packb",
  i0: number, pc: number, kc: number, kcPad: number, dst: number, q0: number, q1: number, cnt: number,
): void {
  const d = (dst + q0 * kcPad * R) * 4;
  // element (i, k) of op(X) is at raw + i*ld + k (not transposed) or raw + k*ld + i
  // (full panels by 4 x 4 transposes, a partial one or k steps fewer than 4 a float at a time)
  if (!trans && cnt === R && kc >= 4) planCall(p, pack, (raw + (i0 + q0 * R) * ld + pc) * 4, ld * 4, d, kc, q1 - q0, R * ld * 4, kcPad * R * 4);
  else if (!trans) planCall(p, "gather", (raw + (i0 + q0 * R) * ld + pc) * 4, ld * 4, 4, R * ld * 4, d, R * 4, kcPad * R * 4, q1 - q0, kc, cnt);
  else planCall(p, "copy2d", (raw + pc * ld + i0 + q0 * R) * 4, ld * 4, R * 4, d, R * 4, kcPad * R * 4, q1 - q0, kc, cnt);
}

/** The block calls of column panels [q0, q1) of the (jc, ic) block, one a k block. */
function blockCalls(p: PackedPlan, jc: number, ic: number, mc: number, mcPad: number, np: number, ncPad: number, q0: number, q1: number): void {
  for (const k of p.kb) blockCall(p, jc, ic, mc, mcPad, np, ncPad, q0, q1, k);
}

/**
 * The block call of column panels [q0, q1) of the (jc, ic) block for the k block `k` (an entry of
 * p.kb); B's panels from `bAt` (floats) where given (>= 0: packed late, see gemmWasmPacked).
 */
function blockCall(
  p: PackedPlan, jc: number, ic: number, mc: number, mcPad: number, np: number, ncPad: number, q0: number, q1: number,
  k: [number, number, number, number], bAt = -1,
): void {
  const { aDirect, bDirect, rawA, rawB, lda, ldb, aPtr, bPtr, cPtr, cRows, kPadTotal, NR, N, mPad } = p;
  const [pc, , kcPad, kOff] = k;
  const a = aDirect ? rawA + pc * lda + ic : aPtr + ic * kPadTotal + kOff * mcPad;
  const b = bAt >= 0 ? bAt : bDirect ? rawB + pc * ldb + jc + q0 * NR : bPtr + jc * kPadTotal + kOff * ncPad + q0 * kcPad * NR;
  const c = cRows ? cPtr + ic * N + jc + q0 * NR : cPtr + jc * mPad + ic * ncPad + q0 * NR;
  const accum = (kOff > 0 ? 1 : 0) | (q1 === np && jc + NC >= N ? p.narrow : 0);
  planCall(p, "block", mc, q1 - q0, kcPad, a * 4, b * 4, c * 4, (cRows ? N : ncPad) * 4, accum, p.aStep, p.bStep);
}

/**
 * A column block of packed B (all of K x NC floats) larger than this many bytes does not stay in
 * L2 (1 MiB a core here) while the row blocks go by: then the k blocks go outside the row blocks.
 */
const B_L2_MAX = 1 << 19;

/** Problems smaller than this many multiply-adds stay in plain TypeScript. */
const WASM_MIN_WORK = 4096;

export function gemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, aOff: number, lda: number, B: Float32Array, bOff: number, ldb: number,
  beta: number, C: Float32Array, cOff: number, ldc: number,
): void {
  const mode = wasmMode();
  const useWasm = mode === "wasm" || (mode === "auto" && M * N * K >= WASM_MIN_WORK && compiledWasm() !== null);
  if (useWasm) gemmWasm(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
  else gemmReference(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
}
