/**
 * Shared helpers for widgets: reading engine tensors or plain arrays as numbers,
 * HTML escaping, ids, number formatting, base64.
 *
 * Widgets reach the engine only through `../engine/index.js` (the build maps it to
 * the package's own "gradbook" export, so notebook and widgets share one engine).
 */
import { Tensor } from "../engine/index.js";

/** A numeric array-ish input: an engine tensor, a typed array, or (nested) JS arrays. */
export type ArrayInput = Tensor | ArrayLike<number> | NestedNumbers;
export type NestedNumbers = number | boolean | NestedNumbers[];

/** True for engine tensors (also a tensor from another copy of the engine: duck-typed). */
export function isTensor(x: unknown): x is Tensor {
  if (x instanceof Tensor) return true;
  const t = x as any;
  return !!t && typeof t === "object" && Array.isArray(t.shape) && typeof t.data === "function" && typeof t.reshape === "function";
}

/** Flat values and shape of an input (tensors are read asynchronously, so this is async). */
export async function readArray(x: ArrayInput, what = "value"): Promise<{ values: Float64Array; shape: number[] }> {
  if (isTensor(x)) {
    const v = await x.data();
    return { values: Float64Array.from(v as ArrayLike<number>), shape: [...x.shape] };
  }
  if (typeof x === "number" || typeof x === "boolean") return { values: Float64Array.of(Number(x)), shape: [] };
  if (ArrayBuffer.isView(x)) return { values: Float64Array.from(x as unknown as ArrayLike<number>), shape: [(x as unknown as ArrayLike<number>).length] };
  if (Array.isArray(x)) {
    const shape: number[] = [];
    let cur: any = x;
    while (Array.isArray(cur)) {
      shape.push(cur.length);
      cur = cur[0];
    }
    const out: number[] = [];
    const walk = (a: any, d: number) => {
      if (d === shape.length) {
        if (Array.isArray(a)) throw new Error(`${what}: ragged nested array (expected shape [${shape.join(", ")}])`);
        out.push(Number(a));
        return;
      }
      if (!Array.isArray(a) || a.length !== shape[d]) throw new Error(`${what}: ragged nested array (expected shape [${shape.join(", ")}])`);
      for (const b of a) walk(b, d + 1);
    };
    walk(x, 0);
    return { values: Float64Array.from(out), shape };
  }
  if (x && typeof (x as ArrayLike<number>).length === "number") return { values: Float64Array.from(x as ArrayLike<number>), shape: [(x as ArrayLike<number>).length] };
  throw new Error(`${what}: expected a tensor or an array of numbers, got ${typeof x}`);
}

/** A 1-D numeric array (any shape is flattened). */
export async function read1d(x: ArrayInput, what = "value"): Promise<number[]> {
  return Array.from((await readArray(x, what)).values);
}

/** A 2-D numeric array as rows (a 1-D input is one row). */
export async function read2d(x: ArrayInput, what = "value"): Promise<number[][]> {
  const { values, shape } = await readArray(x, what);
  if (shape.length > 2) throw new Error(`${what}: expected a 2-D array, got shape [${shape.join(", ")}]`);
  const rows = shape.length === 2 ? shape[0] : 1;
  const cols = shape.length === 2 ? shape[1] : shape.length === 1 ? shape[0] : 1;
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) out.push(Array.from(values.subarray(r * cols, (r + 1) * cols)));
  return out;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

let idCounter = 0;
/** A page-unique DOM id (random part so outputs of different sessions never collide). */
export function uid(prefix = "gb"): string {
  idCounter++;
  const r = Math.random().toString(36).slice(2, 8);
  return `${prefix}-${r}${idCounter.toString(36)}`;
}

/** A UUID-like hex id (widget model ids, comm ids). */
export function hexId(): string {
  const c = (globalThis as any).crypto;
  if (c && typeof c.randomUUID === "function") return (c.randomUUID() as string).replace(/-/g, "");
  let s = "";
  for (let i = 0; i < 32; i++) s += Math.floor(Math.random() * 16).toString(16);
  return s;
}

/** Number formatting for labels: compact, no float noise. */
export function fmt(v: number, digits = 4): string {
  if (v === undefined || v === null || Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(Math.max(0, digits - 2));
  return String(Number(v.toPrecision(digits)));
}

/** Base64 of bytes, in Node and browsers. */
export function base64(bytes: Uint8Array): string {
  const B = (globalThis as any).Buffer;
  if (B) return B.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return (globalThis as any).btoa(s);
}

/** True when running under Node (dynamic `node:` imports are possible). */
export function isNode(): boolean {
  const p = (globalThis as any).process;
  return !!(p && p.versions && p.versions.node);
}
