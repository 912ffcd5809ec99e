/** PyTorch-like printing of tensors (text/plain) and an HTML table for matrices. */
import type { DType, TypedArray } from "./dtype.js";

const EDGE = 3;
const THRESHOLD = 1000;
const LINEWIDTH = 80;
const PRECISION = 4;

/**
 * Python's "{:.Nf}" / "{:.Ne}": the exact binary value rounded half to even
 * (JavaScript's toFixed/toExponential round exact ties up), "-0.0000" for
 * negative zero, a two-digit exponent, and nan/inf/-inf.
 */
function pyFormat(v: number, digits: number, sci: boolean): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  const neg = v < 0 || Object.is(v, -0);
  const a = Math.abs(v);
  let r = sci ? a.toExponential(digits) : a.toFixed(digits);
  // exact tie at the last kept digit (an exact binary value such as 0.03125): round to even
  const long = sci ? a.toExponential(Math.min(100, digits + 40)) : a.toFixed(Math.min(100, digits + 40));
  const mant = sci ? long.slice(0, long.indexOf("e")) : long;
  const dot = mant.indexOf(".");
  const rest = mant.slice(dot + 1 + digits);
  if (/^50*$/.test(rest)) {
    const rm = sci ? r.slice(0, r.indexOf("e")) : r;
    if (Number(rm[rm.length - 1]) % 2 === 1) {
      const cut = digits === 0 ? mant.slice(0, dot) : mant.slice(0, dot + 1 + digits);
      r = sci ? cut + long.slice(long.indexOf("e")) : cut;
    }
  }
  if (sci) r = r.replace(/e([+-])(\d)$/, "e$10$2");
  return (neg ? "-" : "") + r;
}

interface Formatter {
  /** The width every element is right-aligned to. */
  width: number;
  /** One value, not padded. */
  str(v: number): string;
}

/** PyTorch's _Formatter: int mode / fixed / scientific chosen from the nonzero finite values. */
function formatter(values: ArrayLike<number>, dtype: DType): Formatter {
  if (dtype === "bool" || dtype === "int32") {
    const str = dtype === "bool" ? (v: number) => (v ? "True" : "False") : (v: number) => String(v);
    let width = 1;
    for (let i = 0; i < values.length; i++) width = Math.max(width, str(values[i]).length);
    return { width, str };
  }
  let intMode = true, maxAbs = 0, minAbs = Infinity, count = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v) || v === 0) continue;
    count++;
    if (!Number.isInteger(v)) intMode = false;
    const a = Math.abs(v);
    if (a > maxAbs) maxAbs = a;
    if (a < minAbs) minAbs = a;
  }
  const intStr = (v: number) => (Number.isFinite(v) ? `${pyFormat(v, 0, false)}.` : pyFormat(v, 0, false));
  if (count === 0) return { width: 1, str: intStr };
  let str: (v: number) => string;
  const sci = maxAbs / minAbs > 1000 || maxAbs > 1e8 || (!intMode && minAbs < 1e-4);
  if (sci) str = (v) => pyFormat(v, PRECISION, true);
  else if (intMode) str = intStr;
  else str = (v) => pyFormat(v, PRECISION, false);
  let width = 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v) && v !== 0) width = Math.max(width, str(v).length);
  }
  return { width, str };
}

/** Row-major strides. */
function stridesFor(shape: readonly number[]): number[] {
  const st: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

/** The indices shown along a dim of size n: all, or the first and last EDGE around a null (the "..."). */
function shown(n: number, summarize: boolean): (number | null)[] {
  if (summarize && n > 2 * EDGE) return [...Array.from({ length: EDGE }, (_, i) => i), null, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)];
  return Array.from({ length: n }, (_, i) => i);
}

/** The values as PyTorch prints them: tensor([[1., 2.], [3., 4.]]), summarized with "..." beyond 1000 elements, lines wrapped at 80 columns. */
export function formatTensor(values: TypedArray, shape: readonly number[], dtype: DType, suffix: string[]): string {
  const prefix = "tensor(";
  const indent0 = prefix.length;
  const summarize = values.length > THRESHOLD;
  const st = stridesFor(shape);
  let body: string;
  if (values.length === 0) body = "[]";
  else {
    // the formatter sees only the values that are printed (torch's get_summarized_data)
    let seen: ArrayLike<number> = values;
    if (summarize) {
      const picked: number[] = [];
      const collect = (d: number, off: number) => {
        if (d === shape.length) return void picked.push(values[off]);
        for (const i of shown(shape[d], true)) if (i !== null) collect(d + 1, off + i * st[d]);
      };
      collect(0, 0);
      seen = picked;
    }
    const f = formatter(seen, dtype);
    const cell = (v: number) => f.str(v).padStart(f.width);
    const rec = (d: number, off: number, indent: number): string => {
      const idx = shown(shape[d], summarize);
      if (d === shape.length - 1) {
        const items = idx.map((i) => (i === null ? " ..." : cell(values[off + i])));
        const perLine = Math.max(1, Math.floor((LINEWIDTH - indent) / (f.width + 2)));
        const lines: string[] = [];
        for (let k = 0; k < items.length; k += perLine) lines.push(items.slice(k, k + perLine).join(", "));
        return `[${lines.join(",\n" + " ".repeat(indent + 1))}]`;
      }
      const sep = "," + "\n".repeat(shape.length - d - 1) + " ".repeat(indent + 1);
      return `[${idx.map((i) => (i === null ? "..." : rec(d + 1, off + i * st[d], indent + 1))).join(sep)}]`;
    };
    body = shape.length === 0 ? cell(values[0]) : rec(0, 0, indent0);
  }
  // suffixes in torch's order: device, size (empty tensors), dtype, grad
  const extras = suffix.filter((x) => x.startsWith("device="));
  if (values.length === 0 && shape.length !== 1) extras.push(`size=(${shape.join(", ")}${shape.length === 1 ? "," : ""})`);
  if (values.length === 0 && dtype === "bool") extras.push("dtype=gb.bool");
  extras.push(...suffix.filter((x) => !x.startsWith("device=")));
  // torch's _add_suffixes: a suffix that would pass column 80 goes on its own line
  let out = prefix + body;
  let last = out.length - out.lastIndexOf("\n") + 1;
  for (const x of extras) {
    if (last + x.length + 2 > LINEWIDTH) {
      out += ",\n" + " ".repeat(indent0) + x;
      last = indent0 + x.length;
    } else {
      out += ", " + x;
      last += x.length + 2;
    }
  }
  return out + ")";
}

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** An HTML table for 1-D and 2-D tensors (at most 64x64 cells shown); null for other ranks. */
export function tensorHtml(values: TypedArray, shape: readonly number[], dtype: DType, suffix: string[]): string | null {
  if (shape.length < 1 || shape.length > 2 || values.length === 0) return null;
  const fmt = formatter(values, dtype).str;
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
