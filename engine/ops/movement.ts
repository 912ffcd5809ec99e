/** Shape and movement ops: reshape, permute, slicing, cat/stack, padding, gather. Backward beside forward. */
import { apply } from "../autograd.js";
import { promoteTypes } from "../dtype.js";
import { broadcastShapes, normDim, shapeStr, shapesEqual, sizeOf } from "../shape.js";
import { Tensor } from "../tensor.js";
import { backendOf } from "./util.js";

/** Resolves one -1 in a target shape and checks the element count. */
function inferShape(op: string, from: readonly number[], to: readonly number[]): number[] {
  const n = sizeOf(from);
  const out = [...to];
  // (loops, not filter / some / reduce with arrow functions: reshape runs at every step, and V8
  // compiled those arrows again after every full garbage collection)
  const neg = out.indexOf(-1);
  let negs = 0, bad = false;
  for (const d of out) {
    if (d === -1) negs++;
    else if (d < 0 || !Number.isInteger(d)) bad = true;
  }
  if (negs > 1) throw new Error(`${op}: only one dimension can be -1, got [${to.join(", ")}]`);
  if (bad) throw new Error(`${op}: invalid shape [${to.join(", ")}]`);
  if (neg >= 0) {
    let rest = 1;
    for (let i = 0; i < out.length; i++) if (i !== neg) rest *= out[i];
    if (rest === 0 || n % rest !== 0) throw new Error(`${op}: shape [${to.join(", ")}] is invalid for input of size ${n} (shape ${shapeStr(from)})`);
    out[neg] = n / rest;
  }
  if (sizeOf(out) !== n) throw new Error(`${op}: shape [${to.join(", ")}] is invalid for input of size ${n} (shape ${shapeStr(from)})`);
  return out;
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = inferShape("reshape", x.shape, shape);
  if (shapesEqual(s, x.shape)) return x;
  const b = backendOf("reshape", [x]);
  return apply("reshape", [x], b.ops.reshape(x._d, { shape: s }), (g) => [g.reshape(x.shape)]);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.shape.length === 0) return x.reshape([1]);
  const s = normDim("flatten", startDim, x.shape.length);
  const e = normDim("flatten", endDim, x.shape.length);
  if (s > e) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return x.reshape(shape);
}

export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return x.reshape(x.shape.filter((d) => d !== 1));
  const d = normDim("squeeze", dim, x.shape.length);
  if (x.shape[d] !== 1) return x;
  return x.reshape(x.shape.filter((_, i) => i !== d));
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim("unsqueeze", dim, x.shape.length, 1);
  const s = [...x.shape];
  s.splice(d, 0, 1);
  return x.reshape(s);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const r = x.shape.length;
  if (dims.length !== r) throw new Error(`permute: got ${dims.length} dims [${dims.join(", ")}] for a tensor of shape ${shapeStr(x.shape)}`);
  const perm = dims.map((d) => normDim("permute", d, r));
  if (new Set(perm).size !== r) throw new Error(`permute: dims [${dims.join(", ")}] repeat a dimension`);
  if (perm.every((p, i) => p === i)) return x;
  const inv = new Array<number>(r);
  perm.forEach((p, i) => (inv[p] = i));
  const b = backendOf("permute", [x]);
  return apply("permute", [x], b.ops.permute(x._d, { perm }), (g) => [g.permute(inv)], { dims: perm });
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const r = x.shape.length;
  const a = normDim("transpose", dim0, r), c = normDim("transpose", dim1, r);
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[a] = c;
  perm[c] = a;
  return permute(x, perm);
}

export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.shape.length;
  if (lead < 0) throw new Error(`expand: cannot expand shape ${shapeStr(x.shape)} to fewer dimensions [${shape.join(", ")}]`);
  const target = shape.map((d, i) => (d === -1 ? (i < lead ? NaN : x.shape[i - lead]) : d));
  for (let i = 0; i < x.shape.length; i++) {
    const want = target[i + lead];
    if (x.shape[i] !== 1 && x.shape[i] !== want) throw new Error(`expand: the expanded size ${want} must match the existing size ${x.shape[i]} at dimension ${i + lead} (shape ${shapeStr(x.shape)} to [${shape.join(", ")}])`);
  }
  if (target.some((d) => Number.isNaN(d))) throw new Error(`expand: -1 is not allowed in a new leading dimension ([${shape.join(", ")}])`);
  if (shapesEqual(target, x.shape)) return x;
  const b = backendOf("expand", [x]);
  return apply("expand", [x], b.ops.expand(x._d, { shape: target }), (g) => [g]); // sumTo reduces g back
}

/** Repeats the tensor along each dimension (torch.Tensor.repeat). */
export function repeat(x: Tensor, reps: readonly number[]): Tensor {
  if (reps.length < x.shape.length) throw new Error(`repeat: need at least ${x.shape.length} repeat counts, got ${reps.length}`);
  const lead = reps.length - x.shape.length;
  const xs = [...new Array(lead).fill(1), ...x.shape];
  let t = x.reshape(xs);
  // interleave a new axis of size rep before every axis, expand it, then merge
  const inter: number[] = [];
  const big: number[] = [];
  xs.forEach((d, i) => {
    inter.push(1, d);
    big.push(reps[i], d);
  });
  t = t.reshape(inter).expand(big);
  return t.reshape(xs.map((d, i) => d * reps[i]));
}

/** x[..., start:end:step, ...] along one dim (negative start/end count from the end; end is clipped). */
export function slice(x: Tensor, dim: number, start = 0, end: number | null = null, step = 1): Tensor {
  const r = x.shape.length;
  const d = normDim("slice", dim, r);
  const n = x.shape[d];
  if (!Number.isInteger(step) || step < 1) throw new Error(`slice: step must be a positive integer, got ${step}`);
  let s = start < 0 ? Math.max(0, start + n) : Math.min(start, n);
  let e = end === null ? n : end < 0 ? Math.max(0, end + n) : Math.min(end, n);
  if (e < s) e = s;
  const len = Math.ceil((e - s) / step);
  const begin = new Array<number>(r).fill(0);
  const steps = new Array<number>(r).fill(1);
  begin[d] = s;
  steps[d] = step;
  const outShape = [...x.shape];
  outShape[d] = len;
  return stridedSlice(x, begin, steps, outShape);
}

function stridedSlice(x: Tensor, begin: number[], step: number[], outShape: number[]): Tensor {
  if (shapesEqual(outShape, x.shape)) return x;
  const b = backendOf("slice", [x]);
  return apply("slice", [x], b.ops.slice(x._d, { begin, step, outShape }), (g) => {
    const bk = backendOf("slice", [g]);
    return [new Tensor(bk.ops.sliceGrad(g._d, { begin, step, inShape: [...x.shape] }), g.device)];
  });
}

/** One entry of an index: a number selects (drops the dim), "a:b:c" or [a, b, c] slices, ":" / null keeps, "..." fills, "none" adds a dim, an int tensor selects rows. */
export type IndexSpec = number | string | null | [number?, (number | null)?, number?] | Tensor;

/**
 * NumPy/PyTorch-style indexing: `x.index(0)`, `x.index(":", 1)`, `x.index("1:3", "::2")`,
 * `x.index("...", 0)`, `x.index(labels)` with an int32 tensor.
 */
export function index(x: Tensor, ...specs: IndexSpec[]): Tensor {
  const ell = specs.findIndex((s) => s === "...");
  if (ell >= 0) {
    const used = specs.filter((s) => s !== "..." && s !== "none").length;
    const fill = Math.max(0, x.shape.length - used);
    specs = [...specs.slice(0, ell), ...new Array(fill).fill(null), ...specs.slice(ell + 1)];
  }
  const consumed = specs.filter((s) => s !== "none").length;
  if (consumed > x.shape.length) throw new Error(`index: too many indices (${consumed}) for a tensor of shape ${shapeStr(x.shape)}`);
  let t = x;
  let dim = 0;
  // several index tensors select pairwise (x[rows, cols], as NumPy/PyTorch), not as an outer product
  const multi = specs.filter((s) => s instanceof Tensor).length > 1;
  const adv: { dim: number; idx: Tensor }[] = [];
  for (const s of specs) {
    if (multi && s instanceof Tensor) {
      if (s.dtype !== "int32") throw new Error(`index: index tensors must be int32, got ${s.dtype}`);
      adv.push({ dim, idx: s });
      dim++;
    } else if (s === "none") {
      t = t.unsqueeze(dim);
      dim++;
    } else if (typeof s === "number") {
      const n = t.shape[dim];
      if (!Number.isInteger(s) || s < -n || s >= n) throw new Error(`index: index ${s} is out of bounds for dimension ${dim} with size ${n} (shape ${shapeStr(x.shape)})`);
      t = slice(t, dim, s < 0 ? s + n : s, (s < 0 ? s + n : s) + 1).squeeze(dim);
    } else if (s === null || s === ":") {
      dim++;
    } else if (s instanceof Tensor) {
      if (s.dtype === "bool") throw new Error("index: boolean-mask indexing is not supported; use gb.where or maskedSelect on the CPU");
      t = t.indexSelect(dim, s.add(s.lt(0).int().mul(t.shape[dim])).reshape([-1])); // negative indices count from the end
      if (s.shape.length !== 1) t = t.reshape([...t.shape.slice(0, dim), ...s.shape, ...t.shape.slice(dim + 1)]);
      dim += s.shape.length;
    } else {
      let a: number | undefined, b: number | null | undefined, c: number | undefined;
      if (typeof s === "string") {
        const parts = s.split(":").map((p) => p.trim());
        if (parts.length < 2 || parts.length > 3 || parts.some((p) => p !== "" && !/^-?\d+$/.test(p))) throw new Error(`index: cannot parse slice "${s}" (use "start:end:step")`);
        a = parts[0] === "" ? undefined : Number(parts[0]);
        b = parts[1] === "" ? null : Number(parts[1]);
        c = parts[2] === undefined || parts[2] === "" ? undefined : Number(parts[2]);
      } else {
        if (!Array.isArray(s) || s.length > 3 || s.some((v) => v !== undefined && v !== null && !Number.isInteger(v))) {
          throw new Error(`index: [${String(s)}] is not a slice — a slice is [start, end, step] (at most 3 integers); to pick elements, index with an int32 tensor: x.index(gb.tensor([${String(s)}], { dtype: "int32" }))`);
        }
        [a, b, c] = s;
      }
      t = slice(t, dim, a ?? 0, b ?? null, c ?? 1);
      dim++;
    }
  }
  return adv.length ? advancedIndex(t, adv) : t;
}

/** Pairwise selection with several (broadcast) index tensors: their dims go in place when adjacent, else to the front. */
function advancedIndex(t: Tensor, adv: { dim: number; idx: Tensor }[]): Tensor {
  const dims = adv.map((a) => a.dim);
  let bshape: number[] = [];
  for (const a of adv) bshape = broadcastShapes("index", bshape, a.idx.shape);
  let lin: Tensor | null = null;
  for (const a of adv) {
    const n = t.shape[a.dim];
    const vals = a.idx.backend.readSync(a.idx._d);
    if (vals) for (const v of vals) if (v < -n || v >= n) throw new Error(`index: index ${v} is out of bounds for dimension ${a.dim} with size ${n} (shape ${shapeStr(t.shape)})`);
    const i = a.idx.add(a.idx.lt(0).int().mul(n)); // negative indices count from the end
    lin = lin ? lin.mul(n).add(i) : i;
  }
  const rest = t.shape.map((_, i) => i).filter((i) => !dims.includes(i));
  const restShape = rest.map((i) => t.shape[i]);
  const flat = t.permute([...dims, ...rest]).reshape([sizeOf(dims.map((d) => t.shape[d])), ...restShape]);
  let out = flat.indexSelect(0, lin!.expand(bshape).reshape([sizeOf(bshape)])).reshape([...bshape, ...restShape]);
  const adjacent = dims.every((d, i) => i === 0 || d === dims[i - 1] + 1);
  const before = rest.filter((i) => i < dims[0]).length;
  if (adjacent && before > 0) {
    const k = bshape.length;
    const r = out.shape.length;
    const perm = [...Array.from({ length: before }, (_, i) => k + i), ...Array.from({ length: k }, (_, i) => i), ...Array.from({ length: r - k - before }, (_, i) => k + before + i)];
    out = out.permute(perm);
  }
  return out;
}

export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normDim("narrow", dim, x.shape.length);
  const n = x.shape[d];
  const s = start < 0 ? start + n : start; // a negative start counts from the end, as torch.narrow
  if (s < 0 || length < 0 || s + length > n) throw new Error(`narrow: start ${start} and length ${length} are out of range for dimension ${d} of size ${n} (shape ${shapeStr(x.shape)})`);
  return slice(x, d, s, s + length);
}

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new Error("cat: expected a non-empty list of tensors");
  const r = tensors[0].shape.length;
  const d = normDim("cat", dim, r);
  for (const t of tensors) {
    if (t.shape.length !== r || t.shape.some((s, i) => i !== d && s !== tensors[0].shape[i])) {
      throw new Error(`cat: sizes of tensors must match except in dimension ${d}: got ${tensors.map((x) => shapeStr(x.shape)).join(" and ")}`);
    }
  }
  const dtype = tensors.reduce((d, t) => promoteTypes(d, t.dtype), tensors[0].dtype); // cat([int, float]) is float, as torch
  const ts = tensors.map((t) => (t.dtype === dtype ? t : t.to(dtype)));
  const b = backendOf("cat", ts);
  const data = b.ops.concat(ts.map((t) => t._d), { axis: d });
  return apply("cat", ts, data, (g) => {
    let at = 0;
    return ts.map((t) => {
      const part = slice(g, d, at, at + t.shape[d]);
      at += t.shape[d];
      return part;
    });
  });
}

export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new Error("stack: expected a non-empty list of tensors");
  const s0 = tensors[0].shape;
  for (const t of tensors) if (!shapesEqual(t.shape, s0)) throw new Error(`stack: expects each tensor to be equal size, but got ${shapeStr(s0)} and ${shapeStr(t.shape)}`);
  const d = normDim("stack", dim, s0.length, 1);
  return cat(tensors.map((t) => t.unsqueeze(d)), d);
}

/** Splits into pieces of `size` along dim (the last may be smaller), or into the given sizes. */
export function split(x: Tensor, size: number | number[], dim = 0): Tensor[] {
  const d = normDim("split", dim, x.shape.length);
  const n = x.shape[d];
  if (typeof size === "number" && !(Number.isInteger(size) && size > 0)) throw new Error(`split: split size must be a positive integer, got ${size}`);
  const sizes = typeof size === "number" ? Array.from({ length: Math.ceil(n / size) }, (_, i) => Math.min(size, n - i * size)) : size;
  if (sizes.reduce((a, b) => a + b, 0) !== n) throw new Error(`split: sizes [${sizes.join(", ")}] do not add up to ${n} (dimension ${d} of shape ${shapeStr(x.shape)})`);
  let at = 0;
  return sizes.map((s) => {
    const part = slice(x, d, at, at + s);
    at += s;
    return part;
  });
}

export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  const d = normDim("chunk", dim, x.shape.length);
  if (!(Number.isInteger(chunks) && chunks > 0)) throw new Error(`chunk: the number of chunks must be a positive integer, got ${chunks}`);
  return split(x, Math.max(1, Math.ceil(x.shape[d] / chunks)), d);
}

/** Constant padding, torch.nn.functional.pad order: [left, right, top, bottom, ...] starting from the last dim. */
export function pad(x: Tensor, padding: readonly number[], value = 0): Tensor {
  if (padding.length % 2 !== 0 || padding.length / 2 > x.shape.length) throw new Error(`pad: padding length ${padding.length} must be even and at most twice the rank of shape ${shapeStr(x.shape)}`);
  const pads: [number, number][] = x.shape.map(() => [0, 0]);
  for (let i = 0; i < padding.length / 2; i++) pads[x.shape.length - 1 - i] = [padding[2 * i], padding[2 * i + 1]];
  const b = backendOf("pad", [x]);
  return apply("pad", [x], b.ops.pad(x._d, { pads, value }), (g) => {
    const bk = backendOf("pad", [g]);
    return [new Tensor(bk.ops.pad(g._d, { pads: pads.map(([a, c]) => [-a, -c] as [number, number]), value: 0 }), g.device)];
  });
}

function checkIndexTensor(op: string, index: Tensor): void {
  if (index.dtype !== "int32") throw new Error(`${op}: index must be an int32 tensor, got ${index.dtype}`);
}

/** torch.gather: out[i][j] = x[i][index[i][j]] (dim 1). */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  checkIndexTensor("gather", index);
  const d = normDim("gather", dim, x.shape.length);
  if (index.shape.length !== x.shape.length) throw new Error(`gather: index ${shapeStr(index.shape)} must have as many dimensions as the input ${shapeStr(x.shape)}`);
  const b = backendOf("gather", [x, index]);
  return apply("gather", [x], b.ops.gather(x._d, index._d, { dim: d }), (g) => [g.scatterAdd(d, index, [...x.shape])]);
}

/** zeros(shape).scatter_add_(dim, index, src). */
export function scatterAdd(src: Tensor, dim: number, index: Tensor, shape: number[]): Tensor {
  checkIndexTensor("scatterAdd", index);
  const d = normDim("scatterAdd", dim, shape.length);
  const b = backendOf("scatterAdd", [src, index]);
  return apply("scatterAdd", [src], b.ops.scatterAdd(src._d, index._d, { dim: d, shape }), (g) => [gather(g, d, index)]);
}

export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  checkIndexTensor("indexSelect", index);
  if (index.shape.length !== 1) throw new Error(`indexSelect: index must be 1-D, got shape ${shapeStr(index.shape)}`);
  const d = normDim("indexSelect", dim, x.shape.length);
  const b = backendOf("indexSelect", [x, index]);
  return apply("indexSelect", [x], b.ops.indexSelect(x._d, index._d, { dim: d }), (g) => {
    const bk = backendOf("indexAdd", [g]);
    return [new Tensor(bk.ops.indexAdd(g._d, index._d, { dim: d, shape: [...x.shape] }), g.device)];
  });
}

/** Reverses the order of elements along the given dims. */
export function flip(x: Tensor, dims: number | number[]): Tensor {
  let t = x;
  for (const dim of typeof dims === "number" ? [dims] : dims) {
    const d = normDim("flip", dim, x.shape.length);
    const n = x.shape[d];
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = n - 1 - i;
    t = t.indexSelect(d, Tensor.fromData(idx, [n], "int32", x.device));
  }
  return t;
}
