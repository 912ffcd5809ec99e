/**
 * The CPU backend: fills the op table with loops over typed arrays.
 * GEMM, convolution and pooling live in ./kernels (im2col + a blocked / SIMD GEMM). With more
 * than one thread (gb.setNumThreads), GEMM, convolutions and large float32 element-wise ops run
 * on worker threads (./wasm/threads.ts), with the same results bit for bit.
 */
import type { DType, TypedArray } from "../../dtype.js";
import { typedArrayFor, unaryResultDtype } from "../../dtype.js";
import type { Backend, BinaryOp, OpTable, TensorData } from "../../op-table.js";
import { broadcastStrides, matmulSizes, shapeStr, sizeOf, stridesOf } from "../../shape.js";
import { stridedCopy, stridedWrite } from "./strided.js";
import { binaryLoop, rowBroadcastF32, unaryLoop } from "./loops.js";
import { around, mergeAxes, reduceAxis } from "./reduce.js";
import { gemm } from "./kernels/gemm.js";
import { conv2dForward, conv2dBackwardInput, conv2dBackwardWeight } from "./kernels/conv.js";
import { maxPool2dForward, maxPool2dBackward, avgPool2dForward, avgPool2dBackward, avgPool2dActBackward, maxPool2dReluBackward } from "./kernels/pool.js";
import { binaryF32, rowBroadcastF32Wasm, unaryF32, unaryOverF32 } from "./kernels/elementwise.js";
import { backwardScope, emptyF32, emptyOf, recycle } from "./alloc.js";
import { closeResidentScope, disposeResident, isResident, keepResident, openResidentScope, residentFreed, residentSafePoint, residentTaskPoint, retainResident } from "./wasm/heap.js";

/** What a freed tensor's storage becomes (dispose(), the end of a gb.tidy() scope): any later use is an error. */
const DISPOSED = new Float32Array(0);

const arr = (x: TensorData) => {
  const s = x.storage as TypedArray;
  if (s === DISPOSED) throw new Error(`a CPU tensor of shape [${x.shape.join(", ")}] was used after it was freed (by dispose() or at the end of the gb.tidy() scope it was made in)`);
  return s;
};

/** Open gb.tidy() scopes (resident storage, wasm/heap.ts): each one's mark and the tensors made in it on resident storage. */
const scopes: { mark: number; datas: TensorData[] }[] = [];

/**
 * A tensor's data; storage in the WASM memory counts its tensors (dispose() frees it after the
 * last). An op's result is made after its kernels ran: a safe point to reclaim the blocks of
 * arrays the garbage collector found gone (wasm/heap.ts residentSafePoint).
 */
const make = (storage: TypedArray, shape: number[], dtype: DType): TensorData => {
  const d = { storage, shape, dtype };
  if ((storage instanceof Float32Array || storage instanceof Int32Array) && isResident(storage)) {
    retainResident(storage);
    if (scopes.length) scopes[scopes.length - 1].datas.push(d);
    residentSafePoint();
  }
  return d;
};

/** gb.tidy() opens a scope: large CPU results made until its end live in the WASM memory (wasm/heap.ts). */
export function openCpuScope(): object {
  const s = { mark: openResidentScope(), datas: [] as TensorData[] };
  scopes.push(s);
  return s;
}

/**
 * gb.tidy()'s scope ends: the storage made in it goes back to the WASM memory's allocator, except
 * that of `keep` (the tensors the scope returns: they move to the enclosing scope) and of keep();
 * the freed tensors' storage becomes DISPOSED (a later use is a clear error, not another tensor's values).
 */
export function closeCpuScope(scope: object, keep: TensorData[]): void {
  const i = scopes.indexOf(scope as (typeof scopes)[number]);
  if (i < 0) return;
  const s = scopes[i];
  scopes.splice(i, 1);
  closeResidentScope(s.mark, new Set(keep.map((d) => d.storage as ArrayBufferView)));
  const parent = scopes[scopes.length - 1];
  for (const d of s.datas) {
    const a = d.storage as ArrayBufferView;
    if (a === DISPOSED) continue;
    if (residentFreed(a)) d.storage = DISPOSED;
    else parent?.datas.push(d);
  }
}

/** keep(): a CPU tensor's storage outlives the gb.tidy() scopes it was made in. */
export function keepCpu(d: TensorData): void {
  if (d.storage instanceof Float32Array || d.storage instanceof Int32Array) keepResident(d.storage);
}

/** The values of `x` broadcast to `shape`, as a contiguous array (x itself when no copy is needed). */
function expandTo(x: TensorData, shape: readonly number[]): TypedArray {
  const a = arr(x);
  if (sizeOf(x.shape) === sizeOf(shape)) return a;
  const out = emptyOf(x.dtype, sizeOf(shape));
  stridedCopy(a, 0, broadcastStrides(x.shape, shape), shape, out);
  return out;
}

/** Whether `shape`, without its leading 1s, is the end of `outShape` (it broadcasts over leading dimensions only). */
function trailing(shape: readonly number[], outShape: readonly number[]): boolean {
  let k = 0;
  while (k < shape.length && shape[k] === 1) k++;
  const off = outShape.length - shape.length;
  for (let i = k; i < shape.length; i++) if (shape[i] !== outShape[off + i]) return false;
  return true;
}

/** A float32 binary op where one operand is a row broadcast over the other's leading dimensions (a bias); false if not. */
function rowBroadcast(op: BinaryOp, a: TensorData, b: TensorData, out: Float32Array, outShape: readonly number[]): boolean {
  const n = out.length, na = sizeOf(a.shape), nb = sizeOf(b.shape);
  const x = arr(a), y = arr(b);
  if (!(x instanceof Float32Array && y instanceof Float32Array)) return false;
  // (the SIMD module from a few thousand elements, else the loop)
  const rows = (full: Float32Array, row: Float32Array, rowFirst: boolean, m: number) =>
    rowBroadcastF32Wasm(op, full, row, rowFirst, out, n / m, m) || rowBroadcastF32(op, full, row, rowFirst, out, n / m, m);
  if (na === n && nb > 1 && trailing(b.shape, outShape)) return rows(x, y, false, nb);
  if (nb === n && na > 1 && trailing(a.shape, outShape)) return rows(y, x, true, na);
  return false;
}

function checkIndex(op: string, v: number, n: number, dim: number): void {
  if (v < 0 || v >= n) throw new Error(`${op}: index ${v} is out of bounds for dimension ${dim} with size ${n}`);
}

/**
 * gather / scatterAdd for an index smaller than the other tensors outside `dim` (torch allows it):
 * walks the index; `other` is x for gather (out = index-shaped) and src for scatterAdd (out = `big`).
 */
function indexedLoop(op: "gather" | "scatterAdd", t: TensorData, index: TensorData, dim: number, big: readonly number[], srcShape: readonly number[], out: TypedArray): TensorData {
  const ish = index.shape, r = ish.length;
  for (let d = 0; d < r; d++) {
    if ((d !== dim && ish[d] > big[d]) || ish[d] > srcShape[d]) {
      throw new Error(op === "gather"
        ? `gather: index of shape ${shapeStr(ish)} is larger than the input ${shapeStr(big)} at dimension ${d} (only dimension ${dim} may differ)`
        : `scatterAdd: index of shape ${shapeStr(ish)} is larger than the source ${shapeStr(srcShape)} or the output ${shapeStr(big)} at dimension ${d}`);
    }
  }
  const idx = arr(index), a = arr(t);
  const bigSt = stridesOf(big), srcSt = stridesOf(srcShape), n = sizeOf(ish), size = big[dim];
  const pos = new Array<number>(r).fill(0);
  let bo = 0, so = 0; // offsets of pos in the big tensor (without dim) and in the small one
  for (let k = 0; k < n; k++) {
    const v = idx[k];
    checkIndex(op, v, size, dim);
    if (op === "gather") out[k] = a[bo + v * bigSt[dim]];
    else out[bo + v * bigSt[dim]] += a[so];
    for (let d = r - 1; d >= 0; d--) {
      pos[d]++;
      if (d !== dim) bo += bigSt[d];
      so += srcSt[d];
      if (pos[d] < ish[d]) break;
      if (d !== dim) bo -= bigSt[d] * ish[d];
      so -= srcSt[d] * ish[d];
      pos[d] = 0;
    }
  }
  return op === "gather" ? make(out, [...ish], t.dtype) : make(out, [...big], t.dtype);
}

const ops: OpTable = {
  unary(x, { op }) {
    const outDtype = unaryResultDtype(op, x.dtype);
    const out = emptyOf(outDtype, sizeOf(x.shape));
    const xs = arr(x);
    // large float32 exp / tanh / sigmoid: worker threads (same bits as the loop)
    if (!(xs instanceof Float32Array && out instanceof Float32Array && unaryF32(op, xs, out))) unaryLoop(op, xs, out);
    return make(out, [...x.shape], outDtype);
  },

  binary(a, b, { op, outShape, outDtype }) {
    const n = sizeOf(outShape);
    const out = emptyOf(outDtype, n);
    const na = sizeOf(a.shape), nb = sizeOf(b.shape);
    const loop = (x: TypedArray, sx: number, y: TypedArray, sy: number) => {
      // large float32 ones: worker threads (same bits as the loop)
      const f32 = x instanceof Float32Array && y instanceof Float32Array && out instanceof Float32Array;
      if (!(f32 && binaryF32(op, x, sx, y, sy, out, n))) binaryLoop(op, x, sx, y, sy, out, n);
    };
    if (na === n && nb === n) loop(arr(a), 1, arr(b), 1);
    else if (nb === 1 && na === n) loop(arr(a), 1, arr(b), 0);
    else if (na === 1 && nb === n) loop(arr(a), 0, arr(b), 1);
    else if (!(out instanceof Float32Array && rowBroadcast(op, a, b, out, outShape))) loop(expandTo(a, outShape), 1, expandTo(b, outShape), 1);
    return make(out, outShape, outDtype);
  },

  where(cond, a, b, { outShape }) {
    const n = sizeOf(outShape);
    const dtype = a.dtype;
    const c = expandTo(cond, outShape), x = expandTo(a, outShape), y = expandTo(b, outShape);
    const out = emptyOf(dtype, n);
    for (let i = 0; i < n; i++) out[i] = c[i] ? x[i] : y[i];
    return make(out, outShape, dtype);
  },

  addcmul(input, t1, t2, { outShape }) {
    const n = sizeOf(outShape);
    // an operand of the output's size is read in place, a one-element one by stride 0, others expanded
    const view = (t: TensorData): [TypedArray, number] => {
      const m = sizeOf(t.shape);
      return m === n ? [arr(t), 1] : m === 1 ? [arr(t), 0] : [expandTo(t, outShape), 1];
    };
    const [a, sa] = view(input), [b, sb] = view(t1), [c, sc] = view(t2);
    const out = emptyF32(n);
    const f = Math.fround;
    for (let i = 0; i < n; i++) out[i] = a[i * sa] + f(b[i * sb] * c[i * sc]);
    return make(out, outShape, "float32");
  },

  clamp(x, { min, max }) {
    const a = arr(x);
    const out = emptyOf(x.dtype, a.length);
    const lo = min ?? -Infinity, hi = max ?? Infinity;
    for (let i = 0; i < a.length; i++) { const v = a[i]; const c = v < lo ? lo : v; out[i] = v !== v ? v : c > hi ? hi : c; } // min(max(v, lo), hi), as torch when lo > hi
    return make(out, [...x.shape], x.dtype);
  },

  reduce(x, { op, axes, keepdim }) {
    const outDtype: DType = op === "argmax" || op === "argmin" ? "int32" : (op === "sum" || op === "prod") && x.dtype === "bool" ? "int32" : x.dtype;
    const outShape = keepdim ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    // argmax/argmin reduce one axis as given; other ops merge runs of adjacent reduced
    // (or kept) axes and drop size-1 axes, which gives fewer, longer loops and the same result
    const { shape, axes: rAxes } = op === "argmax" || op === "argmin" ? { shape: [...x.shape], axes } : mergeAxes(x.shape, axes);
    let data: TypedArray = arr(x);
    // reduce the highest axis first so lower axis numbers stay valid
    for (let k = rAxes.length - 1; k >= 0; k--) {
      data = reduceAxis(op, data, shape, rAxes[k], outDtype);
      shape[rAxes[k]] = 1;
    }
    if (data === arr(x) || data.constructor !== typedArrayFor(outDtype, 0).constructor) {
      const conv = typedArrayFor(outDtype, data.length);
      conv.set(data);
      data = conv;
    }
    return make(data, outShape, outDtype);
  },

  matmul(a, b, { transA, transB, outShape }) {
    const { M, N, K, batchShape, batch } = matmulSizes(a.shape, transA, outShape);
    const A = toF32(a), B = toF32(b);
    const out = emptyF32(batch * M * N); // every block written (beta 0)
    const aBatch = a.shape.slice(0, -2), bBatch = b.shape.slice(0, -2);
    const aStr = broadcastStrides(aBatch, batchShape), bStr = broadcastStrides(bBatch, batchShape);
    const lda = transA ? M : K, ldb = transB ? K : N;
    const idx = new Array<number>(batchShape.length).fill(0);
    for (let t = 0; t < batch; t++) {
      let ao = 0, bo = 0;
      for (let d = 0; d < idx.length; d++) { ao += idx[d] * aStr[d]; bo += idx[d] * bStr[d]; }
      gemm(transA, transB, M, N, K, 1, A, ao * M * K, lda, B, bo * K * N, ldb, 0, out, t * M * N, N);
      for (let d = idx.length - 1; d >= 0; d--) { if (++idx[d] < batchShape[d]) break; idx[d] = 0; }
    }
    return make(out, outShape, "float32");
  },

  permute(x, { perm }) {
    const st = stridesOf(x.shape);
    const shape = perm.map((p) => x.shape[p]);
    const out = emptyOf(x.dtype, sizeOf(shape));
    stridedCopy(arr(x), 0, perm.map((p) => st[p]), shape, out);
    return make(out, shape, x.dtype);
  },

  reshape(x, { shape }) {
    return make(arr(x), shape, x.dtype);
  },

  expand(x, { shape }) {
    const out = emptyOf(x.dtype, sizeOf(shape));
    stridedCopy(arr(x), 0, broadcastStrides(x.shape, shape), shape, out);
    return make(out, shape, x.dtype);
  },

  slice(x, { begin, step, outShape }) {
    const st = stridesOf(x.shape);
    let off = 0;
    for (let d = 0; d < begin.length; d++) off += begin[d] * st[d];
    const out = emptyOf(x.dtype, sizeOf(outShape));
    stridedCopy(arr(x), off, st.map((s, d) => s * step[d]), outShape, out);
    return make(out, outShape, x.dtype);
  },

  sliceGrad(dy, { begin, step, inShape }) {
    const st = stridesOf(inShape);
    let off = 0;
    for (let d = 0; d < begin.length; d++) off += begin[d] * st[d];
    const out = typedArrayFor(dy.dtype, sizeOf(inShape));
    stridedWrite(arr(dy), dy.shape, out, off, st.map((s, d) => s * step[d]), true);
    return make(out, inShape, dy.dtype);
  },

  pad(x, { pads, value }) {
    const outShape = x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
    if (outShape.some((d) => d < 0)) throw new Error(`pad: padding ${JSON.stringify(pads)} would give a negative size for shape ${shapeStr(x.shape)}`);
    const out = typedArrayFor(x.dtype, sizeOf(outShape));
    if (value !== 0) out.fill(value);
    // the region of x that survives (negative pads crop) and where it lands
    const srcBegin = pads.map(([b]) => Math.max(0, -b));
    const dstBegin = pads.map(([b]) => Math.max(0, b));
    const region = x.shape.map((d, i) => Math.max(0, d - srcBegin[i] - Math.max(0, -pads[i][1])));
    if (sizeOf(region) === 0) return make(out, outShape, x.dtype);
    const sst = stridesOf(x.shape), dst = stridesOf(outShape);
    let so = 0, doff = 0;
    for (let d = 0; d < region.length; d++) { so += srcBegin[d] * sst[d]; doff += dstBegin[d] * dst[d]; }
    const tmp = typedArrayFor(x.dtype, sizeOf(region));
    stridedCopy(arr(x), so, sst, region, tmp);
    stridedWrite(tmp, region, out, doff, dst, false);
    return make(out, outShape, x.dtype);
  },

  concat(xs, { axis }) {
    const shape = [...xs[0].shape];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
    const dtype = xs[0].dtype;
    const out = emptyOf(dtype, sizeOf(shape));
    const [outer, , inner] = around(shape, axis);
    const rowOut = shape[axis] * inner;
    let at = 0;
    for (const x of xs) {
      const a = arr(x);
      const row = x.shape[axis] * inner;
      for (let o = 0; o < outer; o++) out.set(a.subarray(o * row, (o + 1) * row), o * rowOut + at);
      at += row;
    }
    return make(out, shape, dtype);
  },

  cast(x, { dtype }) {
    const a = arr(x);
    const out = emptyOf(dtype, a.length);
    if (dtype === "bool") for (let i = 0; i < a.length; i++) out[i] = a[i] ? 1 : 0;
    else if (dtype === "int32" && x.dtype === "float32") for (let i = 0; i < a.length; i++) out[i] = Math.trunc(a[i]);
    else out.set(a);
    return make(out, [...x.shape], dtype);
  },

  gather(x, index, { dim }) {
    const idx = arr(index);
    const outShape = [...index.shape];
    if (outShape.some((d, i) => i !== dim && d !== x.shape[i])) return indexedLoop("gather", x, index, dim, x.shape, index.shape, typedArrayFor(x.dtype, sizeOf(outShape)));
    const out = typedArrayFor(x.dtype, sizeOf(outShape));
    const [outer, n, inner] = around(outShape, dim);
    const xs = x.shape[dim];
    const [, , xInner] = around(x.shape, dim);
    const a = arr(x);
    const xOuterStride = xs * xInner;
    for (let o = 0; o < outer; o++)
      for (let r = 0; r < n; r++)
        for (let i = 0; i < inner; i++) {
          const k = (o * n + r) * inner + i;
          const v = idx[k];
          checkIndex("gather", v, xs, dim);
          out[k] = a[o * xOuterStride + v * xInner + i];
        }
    return make(out, outShape, x.dtype);
  },

  scatterAdd(src, index, { dim, shape }) {
    const idx = arr(index), s = arr(src);
    const out = typedArrayFor(src.dtype, sizeOf(shape));
    if (index.shape.some((d, i) => (i !== dim && d !== shape[i]) || d !== src.shape[i])) return indexedLoop("scatterAdd", src, index, dim, shape, src.shape, out);
    const [outer, n, inner] = around(index.shape, dim);
    const xs = shape[dim];
    const [, , xInner] = around(shape, dim);
    const [, , sInner] = around(src.shape, dim);
    const sN = src.shape[dim];
    for (let o = 0; o < outer; o++)
      for (let r = 0; r < n; r++)
        for (let i = 0; i < inner; i++) {
          const v = idx[(o * n + r) * inner + i];
          checkIndex("scatterAdd", v, xs, dim);
          out[o * xs * xInner + v * xInner + i] += s[(o * sN + r) * sInner + i];
        }
    return make(out, shape, src.dtype);
  },

  indexSelect(x, index, { dim }) {
    const idx = arr(index);
    const [outer, n, inner] = around(x.shape, dim);
    const k = idx.length;
    const shape = [...x.shape];
    shape[dim] = k;
    const out = typedArrayFor(x.dtype, outer * k * inner);
    const a = arr(x);
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < k; j++) {
        const v = idx[j];
        checkIndex("indexSelect", v, n, dim);
        out.set(a.subarray((o * n + v) * inner, (o * n + v + 1) * inner), (o * k + j) * inner);
      }
    return make(out, shape, x.dtype);
  },

  indexAdd(src, index, { dim, shape }) {
    const idx = arr(index), s = arr(src);
    const [outer, n, inner] = around(shape, dim);
    const k = idx.length;
    const out = typedArrayFor(src.dtype, sizeOf(shape));
    for (let o = 0; o < outer; o++)
      for (let j = 0; j < k; j++) {
        const v = idx[j];
        checkIndex("indexAdd", v, n, dim);
        const ob = (o * n + v) * inner, sb = (o * k + j) * inner;
        for (let i = 0; i < inner; i++) out[ob + i] += s[sb + i];
      }
    return make(out, shape, src.dtype);
  },

  conv2d(x, w, bias, attrs) {
    const out = conv2dForward(toF32(x), x.shape, toF32(w), w.shape, bias ? toF32(bias) : null, attrs);
    const N = x.shape[0], O = w.shape[0];
    const [kh, kw] = [w.shape[2], w.shape[3]];
    const oh = Math.floor((x.shape[2] + 2 * attrs.padding[0] - attrs.dilation[0] * (kh - 1) - 1) / attrs.stride[0]) + 1;
    const ow = Math.floor((x.shape[3] + 2 * attrs.padding[1] - attrs.dilation[1] * (kw - 1) - 1) / attrs.stride[1]) + 1;
    return make(out, [N, O, oh, ow], "float32");
  },

  conv2dBackwardInput(dy, w, attrs) {
    return make(conv2dBackwardInput(toF32(dy), dy.shape, toF32(w), w.shape, attrs.xShape, attrs), [...attrs.xShape], "float32");
  },

  conv2dBackwardWeight(x, dy, attrs) {
    return make(conv2dBackwardWeight(toF32(x), x.shape, toF32(dy), dy.shape, attrs.wShape, attrs), [...attrs.wShape], "float32");
  },

  maxPool2d(x, attrs) {
    const { out, indices, shape } = maxPool2dForward(toF32(x), x.shape, attrs);
    return [make(out, shape, "float32"), make(indices, shape, "int32")];
  },

  maxPool2dBackward(dy, indices, { xShape }) {
    return make(maxPool2dBackward(toF32(dy), arr(indices) as Int32Array, dy.shape, xShape), [...xShape], "float32");
  },

  avgPool2d(x, attrs) {
    const { out, shape } = avgPool2dForward(toF32(x), x.shape, attrs);
    return make(out, shape, "float32");
  },

  avgPool2dBackward(dy, attrs) {
    return make(avgPool2dBackward(toF32(dy), dy.shape, attrs.xShape, attrs), [...attrs.xShape], "float32");
  },
};

function toF32(x: TensorData): Float32Array {
  const a = arr(x);
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

/**
 * tanh / sigmoid / relu of a resident float32 array written over it, with unary()'s bits: the SIMD
 * functions over whole steps (kernels/elementwise.ts, unaryOverF32), the loop for the rest (the SIMD
 * functions' bits are the loop's); false (xs untouched) where xs is not in the SIMD module's memory.
 */
function unaryOver(op: "tanh" | "sigmoid" | "relu", xs: Float32Array): boolean {
  const m = unaryOverF32(op, xs);
  if (m < 0) return false;
  if (m < xs.length) unaryLoop(op, xs.subarray(m), xs.subarray(m));
  return true;
}

export const cpuBackend: Backend = {
  name: "cpu",
  ops,
  fromHost(values, shape, dtype) {
    const out = typedArrayFor(dtype, values.length);
    out.set(values);
    return make(out, shape, dtype);
  },
  fill(shape, value, dtype) {
    const out = typedArrayFor(dtype, sizeOf(shape));
    if (value !== 0) out.fill(value);
    return make(out, shape, dtype);
  },
  async read(x) {
    return arr(x).slice();
  },
  readSync(x) {
    return arr(x);
  },
  assign(dst, src) {
    (dst.storage as TypedArray).set(arr(src));
  },
  dispose(x) {
    // storage in the WASM memory goes back to its allocator after its last tensor; other
    // storage is left to the garbage collector
    const a = arr(x);
    if ((a instanceof Float32Array || a instanceof Int32Array) && a !== DISPOSED) {
      disposeResident(a);
      x.storage = DISPOSED;
    }
  },
  backwardScope,
  backwardDone: residentTaskPoint,
  recycle(x) {
    recycle(arr(x));
  },
  avgPool2dActBackward(dy, a, attrs) {
    if (dy.dtype !== "float32" || a.dtype !== "float32") return null;
    const dx = avgPool2dActBackward(toF32(dy), dy.shape, toF32(a), attrs.xShape, attrs, attrs.act);
    return dx && make(dx, [...attrs.xShape], "float32");
  },
  unaryOver(x, { op }) {
    const xs = arr(x);
    if ((op !== "tanh" && op !== "sigmoid" && op !== "relu") || x.dtype !== "float32" || !(xs instanceof Float32Array) || xs.length !== sizeOf(x.shape)) return null;
    return unaryOver(op, xs) ? make(xs, [...x.shape], "float32") : null;
  },
  maxPool2dReluBackward(dy, indices, z, { xShape }) {
    if (dy.dtype !== "float32" || z.dtype !== "float32") return null;
    const dx = maxPool2dReluBackward(toF32(dy), arr(indices) as Int32Array, dy.shape, toF32(z), xShape);
    return dx && make(dx, [...xShape], "float32");
  },
};
