/** PyTorch-like printing of tensors (text/plain) and an HTML table for matrices. */
import type { DType, TypedArray } from "./dtype.js";

const EDGE = 3;
const THRESHOLD = 1000;

function formatter(values: TypedArray, dtype: DType): (v: number) => string {
  if (dtype === "bool") return (v) => (v ? "True" : "False");
  if (dtype === "int32") return (v) => String(v);
  let finite = 0, allInt = true, maxAbs = 0, minAbs = Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    finite++;
    if (!Number.isInteger(v)) allInt = false;
    const a = Math.abs(v);
    if (a > maxAbs) maxAbs = a;
    if (a !== 0 && a < minAbs) minAbs = a;
  }
  const special = (v: number) => (Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf");
  if (finite === 0) return (v) => (Number.isFinite(v) ? String(v) : special(v));
  if (allInt) {
    if (maxAbs >= 1e8) return (v) => (Number.isFinite(v) ? v.toExponential(4).replace(/e([+-])(\d)$/, "e$10$2") : special(v));
    return (v) => (Number.isFinite(v) ? `${v.toFixed(0)}.` : special(v));
  }
  // PyTorch switches to scientific notation for a large dynamic range or large/small magnitudes
  if (maxAbs / minAbs > 1000 || maxAbs >= 1e8 || minAbs < 1e-4) {
    return (v) => (Number.isFinite(v) ? v.toExponential(4).replace(/e([+-])(\d)$/, "e$10$2") : special(v));
  }
  return (v) => (Number.isFinite(v) ? v.toFixed(4) : special(v));
}

/** The values as PyTorch prints them: tensor([[1., 2.], [3., 4.]]), summarized with "..." beyond 1000 elements. */
export function formatTensor(values: TypedArray, shape: readonly number[], dtype: DType, suffix: string[]): string {
  const fmt = formatter(values, dtype);
  const summarize = values.length > THRESHOLD;
  const strides: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= shape[i];
  }
  // width for alignment
  let width = 0;
  for (let i = 0; i < values.length; i++) width = Math.max(width, fmt(values[i]).length);
  const indent = "tensor(".length;
  const rec = (d: number, off: number): string => {
    if (shape.length === 0) return fmt(values[0]);
    const n = shape[d];
    const idx: (number | null)[] = [];
    if (summarize && n > 2 * EDGE) {
      for (let i = 0; i < EDGE; i++) idx.push(i);
      idx.push(null);
      for (let i = n - EDGE; i < n; i++) idx.push(i);
    } else for (let i = 0; i < n; i++) idx.push(i);
    if (d === shape.length - 1) {
      const items = idx.map((i) => (i === null ? "..." : fmt(values[off + i]).padStart(width)));
      return `[${items.join(", ")}]`;
    }
    const pad = " ".repeat(indent + d + 1);
    const sep = "," + "\n".repeat(shape.length - d - 1) + pad;
    return `[${idx.map((i) => (i === null ? "..." : rec(d + 1, off + i * strides[d]))).join(sep)}]`;
  };
  const body = rec(0, 0);
  const extras = [...suffix];
  if (values.length === 0) extras.unshift(`size=(${shape.join(", ")}${shape.length === 1 ? "," : ""})`);
  return `tensor(${body}${extras.length ? ", " + extras.join(", ") : ""})`;
}

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** An HTML table for 1-D and 2-D tensors (at most 64x64 cells shown); null for other ranks. */
export function tensorHtml(values: TypedArray, shape: readonly number[], dtype: DType, suffix: string[]): string | null {
  if (shape.length < 1 || shape.length > 2 || values.length === 0) return null;
  const fmt = formatter(values, dtype);
  const rows = shape.length === 1 ? 1 : shape[0];
  const cols = shape.length === 1 ? shape[0] : shape[1];
  const maxShow = 64;
  const rIdx = rows > maxShow ? [...Array(maxShow / 2).keys(), -1, ...Array.from({ length: maxShow / 2 }, (_, i) => rows - maxShow / 2 + i)] : [...Array(rows).keys()];
  const cIdx = cols > maxShow ? [...Array(maxShow / 2).keys(), -1, ...Array.from({ length: maxShow / 2 }, (_, i) => cols - maxShow / 2 + i)] : [...Array(cols).keys()];
  const cell = (r: number, c: number) => (r < 0 || c < 0 ? "&hellip;" : escapeHtml(fmt(values[r * cols + c])));
  const head = `<thead><tr><th></th>${cIdx.map((c) => `<th>${c < 0 ? "&hellip;" : c}</th>`).join("")}</tr></thead>`;
  const body = rIdx.map((r) => `<tr><th>${r < 0 ? "&vellip;" : r}</th>${cIdx.map((c) => `<td>${cell(r, c)}</td>`).join("")}</tr>`).join("");
  const caption = `tensor of shape [${shape.join(", ")}], ${dtype}${suffix.length ? ", " + escapeHtml(suffix.join(", ")) : ""}`;
  return `<table class="gradbook-tensor" style="font-family:monospace;text-align:right"><caption style="caption-side:top;text-align:left">${caption}</caption>${head}<tbody>${body}</tbody></table>`;
}
