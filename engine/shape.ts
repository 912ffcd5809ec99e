/** Shape arithmetic shared by every backend and op. Errors name the op and the shapes. */

export type Shape = readonly number[];

export function shapeStr(s: Shape): string {
  return s.length === 0 ? "scalar" : s.join("x");
}

export function sizeOf(s: Shape): number {
  let n = 1;
  for (const d of s) n *= d;
  return n;
}

export function stridesOf(s: Shape): number[] {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** NumPy/PyTorch broadcasting of two shapes; throws naming the op and both shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} cannot be broadcast together (dimension ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** The sizes of a batched matmul with output shape [...batch, M, N] and a [..., M, K] (or [..., K, M] if transA). */
export function matmulSizes(aShape: Shape, transA: boolean, outShape: Shape): { M: number; N: number; K: number; batchShape: number[]; batch: number } {
  const r = outShape.length;
  const batchShape = outShape.slice(0, r - 2);
  return { M: outShape[r - 2], N: outShape[r - 1], K: aShape[aShape.length - (transA ? 2 : 1)], batchShape, batch: sizeOf(batchShape) };
}

/** Normalizes a possibly negative dim for a tensor of rank `rank`. */
export function normDim(op: string, dim: number, rank: number, extra = 0): number {
  const r = rank + extra;
  if (!Number.isInteger(dim) || dim < -Math.max(r, 1) || dim >= Math.max(r, 1)) {
    throw new Error(`${op}: dimension ${dim} is out of range for a tensor with ${rank} dimension${rank === 1 ? "" : "s"}`);
  }
  return dim < 0 ? dim + Math.max(r, 1) : dim;
}

export function normDims(op: string, dims: number | readonly number[] | undefined | null, rank: number): number[] {
  // (loops and a module-level comparator, not map / Array.from / sort with arrow functions made at
  // each call: the reductions call this at every op)
  const out: number[] = [];
  if (dims === undefined || dims === null) {
    for (let i = 0; i < rank; i++) out.push(i);
    return out;
  }
  const list = typeof dims === "number" ? [dims] : dims;
  for (let i = 0; i < list.length; i++) out.push(normDim(op, list[i], rank));
  out.sort(ascending);
  for (let i = 1; i < out.length; i++) if (out[i] === out[i - 1]) throw new Error(`${op}: dimension repeated in [${list.join(", ")}]`);
  return out;
}

const ascending = (x: number, y: number) => x - y;

/** Strides that map an index in `outShape` to an element of a tensor of shape `inShape` broadcast to it (0 for broadcast dims). */
export function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const st = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  const out = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < inShape.length; i++) out[i + off] = inShape[i] === 1 ? 0 : st[i];
  return out;
}

// ---------------------------------------------------------------- convolution and pooling sizes
// (PyTorch's formulas; every backend and the nn layer take them from here)

type Pair = readonly [number, number];
const pairStr = (s: readonly number[]) => `[${s.join(", ")}]`;

function isPosInt(v: number): boolean {
  return Number.isInteger(v) && v >= 1;
}

/** The start of checkConv2dShapes' errors (built only when one is thrown: it runs on every convolution). */
function convWhere(fn: string, xShape: Shape, wShape: Shape): string {
  return `${fn}: input shape ${pairStr(xShape)}, weight shape ${pairStr(wShape)}`;
}

/** Checks x [N, C, H, W] and w [O, C/groups, kh, kw] and the conv attributes; errors name `fn` and both shapes. */
export function checkConv2dShapes(fn: string, xShape: Shape, wShape: Shape, p: { stride: Pair; padding: Pair; dilation: Pair; groups: number }): void {
  if (xShape.length !== 4) throw new Error(`${convWhere(fn, xShape, wShape)}: input must be 4-D [N, C, H, W]`);
  if (wShape.length !== 4) throw new Error(`${convWhere(fn, xShape, wShape)}: weight must be 4-D [O, C/groups, kh, kw]`);
  for (const v of [...xShape, ...wShape]) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${convWhere(fn, xShape, wShape)}: bad dimension ${v}`);
  }
  const g = p.groups;
  if (!isPosInt(g)) throw new Error(`${convWhere(fn, xShape, wShape)}: groups must be a positive integer, got ${g}`);
  if (!isPosInt(p.stride[0]) || !isPosInt(p.stride[1])) throw new Error(`${convWhere(fn, xShape, wShape)}: stride must be positive, got ${pairStr(p.stride)}`);
  if (!isPosInt(p.dilation[0]) || !isPosInt(p.dilation[1])) throw new Error(`${convWhere(fn, xShape, wShape)}: dilation must be positive, got ${pairStr(p.dilation)}`);
  if (!(Number.isInteger(p.padding[0]) && p.padding[0] >= 0 && Number.isInteger(p.padding[1]) && p.padding[1] >= 0)) {
    throw new Error(`${convWhere(fn, xShape, wShape)}: padding must be non-negative, got ${pairStr(p.padding)}`);
  }
  const [, C] = xShape;
  const [O, Cg, KH, KW] = wShape;
  if (O === 0 || O % g !== 0) throw new Error(`${convWhere(fn, xShape, wShape)}: out channels ${O} must be a positive multiple of groups ${g}`);
  if (Cg * g !== C) {
    throw new Error(`${convWhere(fn, xShape, wShape)}: expected input to have ${Cg * g} channels (weight C/groups ${Cg} x groups ${g}), but got ${C} channels`);
  }
  if (KH < 1 || KW < 1) throw new Error(`${convWhere(fn, xShape, wShape)}: empty kernel`);
}

/** [N, O, OH, OW] of conv2d(x, w); throws if the output would be empty or the channels do not match. */
export function conv2dOutputSize(xShape: Shape, wShape: Shape, p: { stride: Pair; padding: Pair; dilation: Pair; groups: number }): [number, number, number, number] {
  checkConv2dShapes("conv2d", xShape, wShape, p);
  const [N, , H, W] = xShape;
  const [O, , KH, KW] = wShape;
  const OH = Math.floor((H + 2 * p.padding[0] - p.dilation[0] * (KH - 1) - 1) / p.stride[0]) + 1;
  const OW = Math.floor((W + 2 * p.padding[1] - p.dilation[1] * (KW - 1) - 1) / p.stride[1]) + 1;
  if (OH < 1 || OW < 1) {
    throw new Error(
      `conv2d: input shape ${pairStr(xShape)}, weight shape ${pairStr(wShape)}, padding ${pairStr(p.padding)}, dilation ${pairStr(p.dilation)}, stride ${pairStr(p.stride)}: ` +
        `output size ${OH}x${OW} would be empty (kernel larger than padded input)`,
    );
  }
  return [N, O, OH, OW];
}

/** Output size of one pooling dimension (PyTorch's rule: the last window must start inside the input or the left padding in ceil mode). */
export function poolOutputDim(inSize: number, k: number, s: number, pad: number, dil: number, ceil: boolean): number {
  let o = Math.floor((inSize + 2 * pad - dil * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= inSize + pad) o--;
  return o;
}

function poolDim(fn: string, xShape: Shape, d: number, inSize: number, k: number, s: number, pad: number, dil: number, ceil: boolean): number {
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`${fn}: input shape ${pairStr(xShape)}: kernel size must be positive, got ${k}`);
  if (!(Number.isInteger(s) && s >= 1)) throw new Error(`${fn}: input shape ${pairStr(xShape)}: stride must be positive, got ${s}`);
  if (!(Number.isInteger(dil) && dil >= 1)) throw new Error(`${fn}: input shape ${pairStr(xShape)}: dilation must be positive, got ${dil}`);
  if (!(Number.isInteger(pad) && pad >= 0)) throw new Error(`${fn}: input shape ${pairStr(xShape)}: padding must be non-negative, got ${pad}`);
  if (pad > Math.floor(k / 2)) {
    throw new Error(`${fn}: input shape ${pairStr(xShape)}: pad should be at most half of effective kernel size, but got pad=${pad}, kernel_size=${k}`);
  }
  const o = poolOutputDim(inSize, k, s, pad, dil, ceil);
  if (o < 1) {
    throw new Error(`${fn}: input shape ${pairStr(xShape)}: output size is too small (${d === 0 ? "height" : "width"} ${o}) for kernel ${k}, stride ${s}, padding ${pad}, dilation ${dil}`);
  }
  return o;
}

/** [N, C, OH, OW] of a 2-D pooling (dilation 1 when absent, as average pooling); errors name `fn` and the input shape. */
export function pool2dOutputSize(
  xShape: Shape, p: { kernel: Pair; stride: Pair; padding: Pair; dilation?: Pair; ceilMode: boolean }, fn = "pool2d",
): [number, number, number, number] {
  if (xShape.length !== 4) throw new Error(`${fn}: expected a 4-D input [N, C, H, W], got shape ${pairStr(xShape)}`);
  for (const v of xShape) if (!Number.isInteger(v) || v < 0) throw new Error(`${fn}: bad input shape ${pairStr(xShape)}`);
  const [N, C, H, W] = xShape;
  if (H < 1 || W < 1) throw new Error(`${fn}: empty spatial input, shape ${pairStr(xShape)}`);
  const dil = p.dilation ?? [1, 1];
  const OH = poolDim(fn, xShape, 0, H, p.kernel[0], p.stride[0], p.padding[0], dil[0], p.ceilMode);
  const OW = poolDim(fn, xShape, 1, W, p.kernel[1], p.stride[1], p.padding[1], dil[1], p.ceilMode);
  return [N, C, OH, OW];
}
