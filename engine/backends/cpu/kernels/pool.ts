// 2-D max / average pooling (NCHW, float32) with the semantics of
// torch.nn.functional.max_pool2d (return_indices) / avg_pool2d and their gradients.

import { pool2dOutputSize, sizeOf } from "../../../shape.ts";
import { ensureMemory, operandAt, residentAddress, resultAt, resultDone, serialWasmFor, serialWasmInstance, wasmInstance, type WasmInstance } from "../wasm/runtime.ts";
import { runTasks, splitRange, TaskList, threadsFor, worthThreads, type FnName } from "../wasm/threads.ts";
import { emptyF32, emptyOf } from "../alloc.ts";
import type { PoolAct } from "../wasm/pool-funcs.ts";

export type { PoolAct };

export interface Pool2dParams {
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  ceilMode: boolean;
}

export type AvgPool2dParams = Omit<Pool2dParams, "dilation"> & { countIncludePad: boolean };

const fmt = (s: readonly number[]) => `[${s.join(", ")}]`;

function checkLen(fn: string, name: string, n: number, shape: number[]): void {
  const want = sizeOf(shape);
  if (n !== want) throw new Error(`${fn}: ${name} has ${n} elements, shape ${fmt(shape)} needs ${want}`);
}

export function maxPool2dForward(
  x: Float32Array, xShape: number[], p: Pool2dParams,
): { out: Float32Array; indices: Int32Array; shape: number[] } {
  const shape = pool2dOutputSize(xShape, p, "max_pool2d");
  checkLen("max_pool2d", "input", x.length, xShape);
  const [N, C, OH, OW] = shape;
  const [, , H, W] = xShape;
  const [KH, KW] = p.kernel, [sh, sw] = p.stride, [ph, pw] = p.padding, [dh, dw] = p.dilation;
  // (every element written below: unfilled, in the WASM memory where resident storage is on, so
  // that the gradient reads the indices where they lie)
  const out = emptyF32(N * C * OH * OW);
  const indices = emptyOf("int32", N * C * OH * OW) as Int32Array;
  const planes = N * C, HW = H * W, OHW = OH * OW;
  // per output row / column: first valid tap and end (exclusive), as in PyTorch
  const hs = new Int32Array(OH), he = new Int32Array(OH), ws = new Int32Array(OW), we = new Int32Array(OW);
  let fullRows = 0, fullCols = 0; // leading outputs whose windows lie inside the input, unclipped
  for (let oh = 0; oh < OH; oh++) {
    const h0 = oh * sh - ph;
    he[oh] = Math.min(h0 + (KH - 1) * dh + 1, H);
    hs[oh] = h0 < 0 ? h0 + Math.ceil(-h0 / dh) * dh : h0;
    if (h0 >= 0 && h0 + (KH - 1) * dh < H && fullRows === oh) fullRows++;
  }
  for (let ow = 0; ow < OW; ow++) {
    const w0 = ow * sw - pw;
    we[ow] = Math.min(w0 + (KW - 1) * dw + 1, W);
    ws[ow] = w0 < 0 ? w0 + Math.ceil(-w0 / dw) * dw : w0;
    if (w0 >= 0 && w0 + (KW - 1) * dw < W && fullCols === ow) fullCols++;
  }
  const fast2x2 = KH === 2 && KW === 2 && dh === 1 && dw === 1 && ph === 0 && pw === 0;
  // WASM SIMD for 2x2 / stride 2 when every window is inside and there are 4 columns or more: all of them
  const wasm = serialWasmInstance() && serialWasmFor(x, out, indices);
  const simdCols = wasm && fast2x2 && sh === 2 && sw === 2 && fullRows === OH && fullCols === OW && OW >= 4 ? OW : 0;
  if (wasm && simdCols > 0) {
    // resident operands read and written where they lie, the others copied in and out
    const chunk = Math.max(1, Math.floor((1 << 20) / (HW + 2 * OHW)));
    for (let p0 = 0; p0 < planes; p0 += chunk) {
      const np = Math.min(chunk, planes - p0), a = p0 * OHW, b = a + np * OHW;
      const xPtr = 0, oPtr = np * HW, iPtr = oPtr + np * OHW;
      ensureMemory(wasm, (iPtr + np * OHW) * 4);
      const xAt = operandAt(wasm, x, p0 * HW, (p0 + np) * HW, xPtr);
      const oAt = resultAt(wasm, out, a, oPtr), iAt = resultAt(wasm, indices, a, iPtr);
      wasm.maxpool2(xAt, H, W, np, OH, OW, oAt, iAt);
      resultDone(wasm, out, a, b, oPtr);
      resultDone(wasm, indices, a, b, iPtr);
    }
    if (simdCols === OW) return { out, indices, shape };
  }
  for (let pl = 0; pl < planes; pl++) {
    const xb = pl * HW;
    const ob = pl * OHW;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = hs[oh], h1 = he[oh];
      let ow = simdCols;
      if (fast2x2 && oh < fullRows) {
        // 2x2 windows fully inside: same scan order and NaN rule as the general loop
        // (starting from the first tap is equivalent to starting from -Infinity)
        for (; ow < fullCols; ow++) {
          const i0 = h0 * W + ow * sw, i2 = i0 + W;
          let m = x[xb + i0], mi = i0;
          const v1 = x[xb + i0 + 1], v2 = x[xb + i2], v3 = x[xb + i2 + 1];
          if (v1 > m || v1 !== v1) { m = v1; mi = i0 + 1; }
          if (v2 > m || v2 !== v2) { m = v2; mi = i2; }
          if (v3 > m || v3 !== v3) { m = v3; mi = i2 + 1; }
          out[ob + oh * OW + ow] = m;
          indices[ob + oh * OW + ow] = mi;
        }
      }
      for (; ow < OW; ow++) {
        const w0 = ws[ow], w1 = we[ow];
        let maxIdx = h0 * W + w0;
        let maxVal = -Infinity;
        for (let ih = h0; ih < h1; ih += dh) {
          const r = ih * W;
          for (let iw = w0; iw < w1; iw += dw) {
            const v = x[xb + r + iw];
            if (v > maxVal || v !== v) {
              maxVal = v;
              maxIdx = r + iw;
            }
          }
        }
        out[ob + oh * OW + ow] = maxVal;
        indices[ob + oh * OW + ow] = maxIdx;
      }
    }
  }
  return { out, indices, shape };
}

export function maxPool2dBackward(dy: Float32Array, indices: Int32Array, yShape: number[], xShape: number[]): Float32Array {
  if (yShape.length !== 4 || xShape.length !== 4 || yShape[0] !== xShape[0] || yShape[1] !== xShape[1]) {
    throw new Error(`max_pool2d_backward: grad_output shape ${fmt(yShape)} does not match input shape ${fmt(xShape)}`);
  }
  checkLen("max_pool2d_backward", "grad_output", dy.length, yShape);
  checkLen("max_pool2d_backward", "indices", indices.length, yShape);
  const [N, C, OH, OW] = yShape;
  const [, , H, W] = xShape;
  const HW = H * W, OHW = OH * OW;
  const simd = 2 * OH <= H && 2 * OW <= W && OW >= 4 && serialWasmInstance() !== null;
  // the SIMD path writes every element of dx (no zero-filling); the scatter adds into zeros
  const dx = simd ? emptyF32(N * C * HW) : new Float32Array(N * C * HW);
  if (simd) {
    if (maxPool2GradSimd(dy, indices, N * C, H, W, OH, OW, dx)) return dx;
    dx.fill(0);
  }
  for (let pl = 0; pl < N * C; pl++) {
    const xb = pl * HW, ob = pl * OHW;
    for (let i = 0; i < OHW; i++) {
      const idx = indices[ob + i];
      if (idx >>> 0 >= HW) throw new Error(`max_pool2d_backward: index ${idx} out of range for a ${H}x${W} plane`);
      dx[xb + idx] += dy[ob + i];
    }
  }
  return dx;
}

/**
 * The gradient of 2x2 / stride 2 max pooling on the SIMD module (maxpool2grad: compare and select,
 * no scatter), in chunks of planes that stay in L2, writing every element of dx; with `z`, also the
 * gradient of the relu before the pooling, z its input (maxpool2grad_relu). Operands and dx that
 * live in the WASM memory (resident storage) are read and written in place, the others copied in
 * and out. False (dx partly written) when an index lies outside its output's 2x2 block (other
 * pooling windows): the caller scatters.
 */
function maxPool2GradSimd(
  dy: Float32Array, indices: Int32Array, planes: number, H: number, W: number, OH: number, OW: number, dx: Float32Array,
  z: Float32Array | null = null,
): boolean {
  const wasm = serialWasmFor(dy, indices, dx, z)!;
  const HW = H * W, OHW = OH * OW;
  // rows past 2*OH and columns past 2*OW get no gradient: zeroed in WASM memory when there are any
  const edges = 2 * OH < H || 2 * OW < W;
  // every operand resident: in place, on the threads (ranges of planes) from MAXPOOL_GRAD_MIN_THREADS
  // floats read and written
  const dxAt0 = residentAddress(wasm, dx);
  if (
    dxAt0 >= 0 && residentAddress(wasm, dy) >= 0 && residentAddress(wasm, indices) >= 0 && (!z || residentAddress(wasm, z) >= 0) &&
    worthThreads(planes * ((z ? 2 : 1) * HW + 2 * OHW), MAXPOOL_GRAD_MIN_THREADS) && threadsFor(wasm) > 1
  ) {
    if (edges) ensureMemory(wasm, 64).fill(0, dxAt0 / 4, dxAt0 / 4 + planes * HW); // (the views made anew where the memory grew)
    return maxPool2GradThreaded(wasm, dy, indices, planes, H, W, OH, OW, dx, z);
  }
  const chunk = Math.max(1, Math.floor(POOL_CHUNK / ((z ? 2 : 1) * HW + 2 * OHW)));
  const relu = (wasm.exports as unknown as Record<string, (...args: number[]) => number>).maxpool2grad_relu;
  for (let p0 = 0; p0 < planes; p0 += chunk) {
    const np = Math.min(chunk, planes - p0), a = p0 * OHW, b = a + np * OHW;
    // scratch (floats): dx planes | dy planes | index planes | z planes (each used where not in place)
    const dxPtr = 0, dyPtr = np * HW, iPtr = dyPtr + np * OHW, zPtr = iPtr + np * OHW;
    ensureMemory(wasm, (zPtr + (z ? np * HW : 0)) * 4);
    const dyAt = operandAt(wasm, dy, a, b, dyPtr), iAt = operandAt(wasm, indices, a, b, iPtr);
    const zAt = z ? operandAt(wasm, z, p0 * HW, (p0 + np) * HW, zPtr) : 0;
    const dxAt = resultAt(wasm, dx, p0 * HW, dxPtr);
    if (edges) wasm.f32.fill(0, dxAt / 4, dxAt / 4 + np * HW);
    const ok = z ? relu(dyAt, iAt, H, W, np, OH, OW, dxAt, zAt) : wasm.maxpool2grad(dyAt, iAt, H, W, np, OH, OW, dxAt);
    if (!ok) return false;
    resultDone(wasm, dx, p0 * HW, (p0 + np) * HW, dxPtr);
  }
  return true;
}

/**
 * maxPool2GradSimd on the threads, every operand resident: a task a range of planes, each task's
 * ok left at a flag of its own (bytes 16 + 4 t of the scratch); false where one is 0.
 */
function maxPool2GradThreaded(
  w: WasmInstance, dy: Float32Array, indices: Int32Array, planes: number, H: number, W: number, OH: number, OW: number, dx: Float32Array,
  z: Float32Array | null,
): boolean {
  const HW = H * W, OHW = OH * OW;
  const dyAt = residentAddress(w, dy), iAt = residentAddress(w, indices), dxAt = residentAddress(w, dx), zAt = z ? residentAddress(w, z) : 0;
  const ranges = splitRange(planes, 4 * threadsFor(w));
  const flags = 16, top = flags + 4 * ranges.length;
  ensureMemory(w, top);
  w.i32.fill(0, flags / 4, top / 4);
  const tasks = maxPoolGradTasks;
  tasks.clear();
  ranges.forEach(([p0, p1], t) => {
    tasks.task();
    if (z) tasks.call("maxpool2grad_relu", dyAt + p0 * OHW * 4, iAt + p0 * OHW * 4, H, W, p1 - p0, OH, OW, dxAt + p0 * HW * 4, zAt + p0 * HW * 4, flags + 4 * t);
    else tasks.call("maxpool2grad", dyAt + p0 * OHW * 4, iAt + p0 * OHW * 4, H, W, p1 - p0, OH, OW, dxAt + p0 * HW * 4, flags + 4 * t);
  });
  runTasks(w, tasks, top, (bytes) => void ensureMemory(w, bytes));
  const i32 = w.i32;
  for (let t = 0; t < ranges.length; t++) if (i32[flags / 4 + t] !== 1) return false;
  return true;
}
/**
 * Floats read and written (dy, indices, dx; z) from which the max-pool gradient uses the threads:
 * measured at 2 threads (resident operands, one process, interleaved, load 14-18), [256,6,28,28]'s
 * (1.8M) 0.30 -> 0.235 ms of wall (p25), [256,16,10,10]'s (614K) 0.093 on one thread against
 * 0.185 on two (waking the worker costs more than half of 0.09 ms).
 */
const MAXPOOL_GRAD_MIN_THREADS = 1 << 20;
/** maxPool2GradThreaded's task list (reused: the op never runs inside itself). */
const maxPoolGradTasks = new TaskList();

/**
 * The gradient of 2x2 / stride 2 max pooling and of the relu before it in one pass (no dx of the
 * pooling in between): z > 0 ? maxPool2dBackward(dy, indices) : 0, z the relu's input, with the
 * bits of the two ops. On the SIMD module where maxPool2dBackward takes it (every index in its
 * output's 2x2 block); null otherwise (the caller runs the two ops).
 */
export function maxPool2dReluBackward(dy: Float32Array, indices: Int32Array, yShape: number[], z: Float32Array, xShape: number[]): Float32Array | null {
  if (yShape.length !== 4 || xShape.length !== 4 || yShape[0] !== xShape[0] || yShape[1] !== xShape[1]) {
    throw new Error(`max_pool2d_backward: grad_output shape ${fmt(yShape)} does not match input shape ${fmt(xShape)}`);
  }
  checkLen("max_pool2d_backward", "grad_output", dy.length, yShape);
  checkLen("max_pool2d_backward", "indices", indices.length, yShape);
  checkLen("max_pool2d_backward (relu)", "activation", z.length, xShape);
  const [N, C, OH, OW] = yShape;
  const [, , H, W] = xShape;
  if (!(2 * OH <= H && 2 * OW <= W && OW >= 4 && serialWasmInstance() !== null)) return null;
  const dx = emptyF32(N * C * H * W);
  return maxPool2GradSimd(dy, indices, N * C, H, W, OH, OW, dx, z) ? dx : null;
}

/** Window [start, end) and divisor of output o along one dimension (PyTorch's avg_pool2d rule). */
function avgWindows(OH: number, H: number, k: number, s: number, pad: number): { st: Int32Array; en: Int32Array; full: Int32Array } {
  const st = new Int32Array(OH), en = new Int32Array(OH), full = new Int32Array(OH);
  for (let o = 0; o < OH; o++) {
    const h0 = o * s - pad;
    const h1 = Math.min(h0 + k, H + pad);
    full[o] = h1 - h0; // window size counting padding
    st[o] = Math.max(h0, 0);
    en[o] = Math.min(h1, H);
  }
  return { st, en, full };
}

/**
 * Floats of planes staged in the WASM memory at a time: the copy in, the SIMD function and the
 * copy out stay in the core's L2 cache (a 1M-float chunk went through L3 or DRAM).
 */
const POOL_CHUNK = 1 << 15;

/**
 * Runs a 2x2 pooling function of the SIMD module over chunks of planes: the input planes (x, of
 * HW floats, for the forward; dy, of OHW floats, for the gradient) are copied into WASM memory,
 * `call` computes there, and the result planes are copied into `out` (OHW floats a plane for the
 * forward, HW for the gradient, whose memory is zeroed first). Returns the number of leading
 * output columns done (all of them; 0 without WASM or with fewer than 4).
 */
function simdPool2(
  planes: number, HW: number, OHW: number, call: (w: WasmInstance, np: number, bigPtr: number, smallPtr: number) => void,
  x: Float32Array | null, dy: Float32Array | null, out: Float32Array, OW: number,
): number {
  const wasm = serialWasmInstance();
  const cols = OW >= 4 ? OW : 0;
  if (!wasm || cols === 0) return 0;
  const chunk = Math.max(1, Math.floor(POOL_CHUNK / (HW + OHW)));
  for (let p0 = 0; p0 < planes; p0 += chunk) {
    const np = Math.min(chunk, planes - p0);
    // memory (floats): the H x W planes | the OH x OW planes
    const bigPtr = 0, smallPtr = np * HW;
    const mem = ensureMemory(wasm, (smallPtr + np * OHW) * 4);
    if (x) mem.set(x.subarray(p0 * HW, (p0 + np) * HW), bigPtr);
    else {
      mem.fill(0, bigPtr, bigPtr + np * HW);
      mem.set(dy!.subarray(p0 * OHW, (p0 + np) * OHW), smallPtr);
    }
    call(wasm, np, bigPtr, smallPtr);
    if (x) out.set(mem.subarray(smallPtr, smallPtr + np * OHW), p0 * OHW);
    else out.set(mem.subarray(bigPtr, bigPtr + np * HW), p0 * HW);
  }
  return cols;
}

/**
 * A 2x2 pooling op whose operands and result all live in the shared WASM memory (resident
 * storage): computed in place, no copies; on the threads (ranges of planes, a task each) from
 * POOL_MIN_THREADS floats read and written, else in one call on the calling thread. `arrays`: the
 * operands and the result; `add(tasks, w, p0, p1)` adds the call for planes [p0, p1) at the byte
 * addresses residentAddress(w, array) gives. False (nothing done) where any of them is not resident.
 * (The `add`s are module-level functions bound to their operands, not closures made at each call,
 * whose optimized code V8 drops at every full garbage collection: TurboFan compiled them again.)
 */
function residentPool2(
  planes: number, floatsPerPlane: number, arrays: Float32Array[],
  add: (tasks: TaskList, w: WasmInstance, p0: number, p1: number) => void,
): boolean {
  const w = wasmInstance();
  if (!w || !w.shared) return false;
  for (const a of arrays) if (residentAddress(w, a) < 0) return false;
  const threads = worthThreads(planes * floatsPerPlane, POOL_MIN_THREADS) ? threadsFor(w) : 1;
  const tasks = new TaskList();
  for (const [p0, p1] of splitRange(planes, threads === 1 ? 1 : 4 * threads)) add(tasks.task(), w, p0, p1);
  runTasks(w, tasks, 64, (bytes) => void ensureMemory(w, bytes), undefined, threads);
  return true;
}
/** residentPool2's call of avgpool2 for planes [p0, p1). */
function avgPoolTask(x: Float32Array, out: Float32Array, H: number, W: number, OH: number, OW: number, t: TaskList, w: WasmInstance, p0: number, p1: number): void {
  t.call("avgpool2", residentAddress(w, x) + p0 * H * W * 4, H, W, p1 - p0, OH, OW, residentAddress(w, out) + p0 * OH * OW * 4);
}
/** residentPool2's call of avgpool2grad for planes [p0, p1). */
function avgPoolGradTask(dy: Float32Array, dx: Float32Array, H: number, W: number, OH: number, OW: number, t: TaskList, w: WasmInstance, p0: number, p1: number): void {
  t.call("avgpool2grad", residentAddress(w, dy) + p0 * OH * OW * 4, H, W, p1 - p0, OH, OW, residentAddress(w, dx) + p0 * H * W * 4);
}
/** residentPool2's call of the fused pooling and activation gradient `fn` for planes [p0, p1). */
function avgPoolActGradTask(
  fn: FnName, dy: Float32Array, a: Float32Array, dx: Float32Array, H: number, W: number, OH: number, OW: number, t: TaskList, w: WasmInstance, p0: number, p1: number,
): void {
  t.call(fn, residentAddress(w, dy) + p0 * OH * OW * 4, residentAddress(w, a) + p0 * H * W * 4, H, W, p1 - p0, OH, OW, residentAddress(w, dx) + p0 * H * W * 4);
}
/** Floats read and written from which residentPool2 uses the threads (as the element-wise ops in place). */
const POOL_MIN_THREADS = 1 << 17;

/** 2x2 / stride 2 / no padding with every window inside the input (non-overlapping, divisor 4). */
function isPlain2x2(p: AvgPool2dParams, H: number, W: number, OH: number, OW: number): boolean {
  return p.kernel[0] === 2 && p.kernel[1] === 2 && p.stride[0] === 2 && p.stride[1] === 2 &&
    p.padding[0] === 0 && p.padding[1] === 0 && 2 * OH <= H && 2 * OW <= W;
}

export function avgPool2dForward(x: Float32Array, xShape: number[], p: AvgPool2dParams): { out: Float32Array; shape: number[] } {
  const shape = pool2dOutputSize(xShape, p, "avg_pool2d");
  checkLen("avg_pool2d", "input", x.length, xShape);
  const [N, C, OH, OW] = shape;
  const [, , H, W] = xShape;
  const wh = avgWindows(OH, H, p.kernel[0], p.stride[0], p.padding[0]);
  const ww = avgWindows(OW, W, p.kernel[1], p.stride[1], p.padding[1]);
  const out = emptyF32(N * C * OH * OW); // every output written below
  const HW = H * W, OHW = OH * OW;
  if (isPlain2x2(p, H, W, OH, OW)) {
    // 2x2 / stride 2 windows, all inside the input: divisor 4 either way. The SIMD module
    // computes the first 4*floor(OW/4) columns (the same bits), this loop the rest
    if (OW >= 4 && residentPool2(N * C, HW + OHW, [x, out], avgPoolTask.bind(null, x, out, H, W, OH, OW))) {
      return { out, shape };
    }
    const simdCols = simdPool2(N * C, HW, OHW, (w, np, xPtr, yPtr) => {
      w.avgpool2(xPtr * 4, H, W, np, OH, OW, yPtr * 4);
    }, x, null, out, OW);
    for (let pl = 0; pl < N * C; pl++) {
      const xb = pl * HW, ob = pl * OHW;
      for (let oh = 0; oh < OH; oh++) {
        const r0 = xb + 2 * oh * W, o = ob + oh * OW;
        for (let ow = simdCols; ow < OW; ow++) {
          const i = r0 + 2 * ow;
          out[o + ow] = (x[i] + x[i + 1] + x[i + W] + x[i + W + 1]) * 0.25;
        }
      }
    }
    return { out, shape };
  }
  for (let pl = 0; pl < N * C; pl++) {
    const xb = pl * HW, ob = pl * OHW;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = wh.st[oh], h1 = wh.en[oh];
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ww.st[ow], w1 = ww.en[ow];
        if (h0 >= h1 || w0 >= w1) {
          out[ob + oh * OW + ow] = 0;
          continue;
        }
        let sum = 0;
        for (let ih = h0; ih < h1; ih++) {
          const r = xb + ih * W;
          for (let iw = w0; iw < w1; iw++) sum += x[r + iw];
        }
        const div = p.countIncludePad ? wh.full[oh] * ww.full[ow] : (h1 - h0) * (w1 - w0);
        out[ob + oh * OW + ow] = sum / div;
      }
    }
  }
  return { out, shape };
}

export function avgPool2dBackward(dy: Float32Array, yShape: number[], xShape: number[], p: AvgPool2dParams): Float32Array {
  const shape = pool2dOutputSize(xShape, p, "avg_pool2d_backward");
  if (yShape.length !== 4 || shape.some((v, i) => v !== yShape[i])) {
    throw new Error(`avg_pool2d_backward: grad_output shape ${fmt(yShape)} does not match the output shape ${fmt(shape)} for input ${fmt(xShape)}`);
  }
  checkLen("avg_pool2d_backward", "grad_output", dy.length, yShape);
  const [N, C, OH, OW] = shape;
  const [, , H, W] = xShape;
  const wh = avgWindows(OH, H, p.kernel[0], p.stride[0], p.padding[0]);
  const ww = avgWindows(OW, W, p.kernel[1], p.stride[1], p.padding[1]);
  const HW = H * W, OHW = OH * OW;
  const plain = isPlain2x2(p, H, W, OH, OW);
  // the plain windows tile the input exactly (even H and W): every element of dx is written below
  const dx = plain && 2 * OH === H && 2 * OW === W ? emptyF32(N * C * HW) : new Float32Array(N * C * HW);
  if (plain) {
    if (OW >= 4 && 2 * OH === H && 2 * OW === W &&
      residentPool2(N * C, HW + OHW, [dy, dx], avgPoolGradTask.bind(null, dy, dx, H, W, OH, OW))) {
      return dx;
    }
    const simdCols = simdPool2(N * C, HW, OHW, (w, np, dxPtr, dyPtr) => w.avgpool2grad(dyPtr * 4, H, W, np, OH, OW, dxPtr * 4), null, dy, dx, OW);
    for (let pl = 0; pl < N * C; pl++) {
      const xb = pl * HW, ob = pl * OHW;
      for (let oh = 0; oh < OH; oh++) {
        const r0 = xb + 2 * oh * W, o = ob + oh * OW;
        for (let ow = simdCols; ow < OW; ow++) {
          const i = r0 + 2 * ow, g = dy[o + ow] * 0.25;
          dx[i] = g;
          dx[i + 1] = g;
          dx[i + W] = g;
          dx[i + W + 1] = g;
        }
      }
    }
    return dx;
  }
  for (let pl = 0; pl < N * C; pl++) {
    const xb = pl * HW, ob = pl * OHW;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = wh.st[oh], h1 = wh.en[oh];
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ww.st[ow], w1 = ww.en[ow];
        if (h0 >= h1 || w0 >= w1) continue;
        const div = p.countIncludePad ? wh.full[oh] * ww.full[ow] : (h1 - h0) * (w1 - w0);
        const g = dy[ob + oh * OW + ow] / div;
        for (let ih = h0; ih < h1; ih++) {
          const r = xb + ih * W;
          for (let iw = w0; iw < w1; iw++) dx[r + iw] += g;
        }
      }
    }
  }
  return dx;
}

/**
 * The gradient of average pooling and of the activation before it in one pass (no dx of the
 * pooling in between): dx = act'(avgPool2dBackward(dy), a), a the activation's operand for its
 * gradient (tanh, sigmoid: its output, the pooling's input; relu: its input), with the bits of the
 * two ops (each value rounded where they round). For 2x2 / stride 2 windows tiling the input
 * exactly (LeNet-5's); null otherwise (the caller runs the two ops).
 */
export function avgPool2dActBackward(
  dy: Float32Array, yShape: number[], a: Float32Array, xShape: number[], p: AvgPool2dParams, act: PoolAct,
): Float32Array | null {
  const shape = pool2dOutputSize(xShape, p, "avg_pool2d_backward");
  if (yShape.length !== 4 || shape.some((v, i) => v !== yShape[i])) {
    throw new Error(`avg_pool2d_backward: grad_output shape ${fmt(yShape)} does not match the output shape ${fmt(shape)} for input ${fmt(xShape)}`);
  }
  checkLen("avg_pool2d_backward", "grad_output", dy.length, yShape);
  checkLen(`avg_pool2d_backward (${act})`, "activation", a.length, xShape);
  const [N, C, OH, OW] = shape;
  const [, , H, W] = xShape;
  if (!isPlain2x2(p, H, W, OH, OW) || 2 * OH !== H || 2 * OW !== W) return null;
  const HW = H * W, OHW = OH * OW, planes = N * C;
  const dx = emptyF32(planes * HW); // the windows tile the input: every element written below
  const fnName = `avgpool2grad_${act}` as const;
  if (OW >= 4 && residentPool2(planes, 2 * HW + OHW, [dy, a, dx], avgPoolActGradTask.bind(null, fnName, dy, a, dx, H, W, OH, OW))) {
    return dx;
  }
  const wasm = serialWasmInstance();
  const simdCols = wasm && OW >= 4 ? OW : 0;
  if (wasm && simdCols > 0) {
    const fn = (wasm.exports as unknown as Record<string, (...args: number[]) => void>)[`avgpool2grad_${act}`];
    const chunk = Math.max(1, Math.floor(POOL_CHUNK / (2 * HW + OHW)));
    for (let p0 = 0; p0 < planes; p0 += chunk) {
      const np = Math.min(chunk, planes - p0);
      // memory (floats): dx planes | activation planes | dy planes
      const dxPtr = 0, aPtr = np * HW, dyPtr = 2 * np * HW;
      const mem = ensureMemory(wasm, (dyPtr + np * OHW) * 4);
      mem.set(a.subarray(p0 * HW, (p0 + np) * HW), aPtr);
      mem.set(dy.subarray(p0 * OHW, (p0 + np) * OHW), dyPtr);
      fn(dyPtr * 4, aPtr * 4, H, W, np, OH, OW, dxPtr * 4);
      dx.set(mem.subarray(dxPtr, dxPtr + np * HW), p0 * HW);
    }
  }
  if (simdCols === OW) return dx;
  // the loops of avgPool2dBackward and of the activation's gradient (loops.ts), element by element
  const grad = act === "tanh" ? (g: number, y: number) => g * (1 - y * y)
    : act === "sigmoid" ? (g: number, y: number) => g * y * (1 - y)
    : (g: number, x: number) => (x > 0 ? g : 0);
  for (let pl = 0; pl < planes; pl++) {
    const xb = pl * HW, ob = pl * OHW;
    for (let oh = 0; oh < OH; oh++) {
      const r0 = xb + 2 * oh * W, o = ob + oh * OW;
      for (let ow = simdCols; ow < OW; ow++) {
        const i = r0 + 2 * ow, g = Math.fround(dy[o + ow] * 0.25);
        dx[i] = grad(g, a[i]);
        dx[i + 1] = grad(g, a[i + 1]);
        dx[i + W] = grad(g, a[i + W]);
        dx[i + W + 1] = grad(g, a[i + W + 1]);
      }
    }
  }
  return dx;
}
