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

/** Normalizes a possibly negative dim for a tensor of rank `rank`. */
export function normDim(op: string, dim: number, rank: number, extra = 0): number {
  const r = rank + extra;
  if (!Number.isInteger(dim) || dim < -Math.max(r, 1) || dim >= Math.max(r, 1)) {
    throw new Error(`${op}: dimension ${dim} is out of range for a tensor with ${rank} dimension${rank === 1 ? "" : "s"}`);
  }
  return dim < 0 ? dim + Math.max(r, 1) : dim;
}

export function normDims(op: string, dims: number | readonly number[] | undefined | null, rank: number): number[] {
  if (dims === undefined || dims === null) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof dims === "number" ? [dims] : [...dims];
  const out = list.map((d) => normDim(op, d, rank));
  if (new Set(out).size !== out.length) throw new Error(`${op}: dimension repeated in [${list.join(", ")}]`);
  return out.sort((x, y) => x - y);
}

/** Strides that map an index in `outShape` to an element of a tensor of shape `inShape` broadcast to it (0 for broadcast dims). */
export function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const st = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  const out = new Array<number>(outShape.length).fill(0);
  for (let i = 0; i < inShape.length; i++) out[i + off] = inShape[i] === 1 ? 0 : st[i];
  return out;
}
