/**
 * Notebooks (nbformat 4) and nbgrader's cell metadata: reading untrusted
 * JSON into a checked shape, writing it back the way Jupyter does, and the
 * nbgrader predicates and checksum (the same md5 as nbgrader's
 * `compute_checksum`, so notebooks and checksums interoperate with nbgrader).
 */
import { createHash } from "node:crypto";

export interface NbgraderMeta {
  grade?: boolean;
  grade_id?: string;
  locked?: boolean;
  points?: number;
  solution?: boolean;
  task?: boolean;
  schema_version?: number;
  checksum?: string;
  [k: string]: unknown;
}

export interface Output {
  output_type: "stream" | "display_data" | "execute_result" | "error" | "update_display_data" | "clear_output";
  name?: "stdout" | "stderr";
  text?: string;
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  execution_count?: number | null;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

export interface Cell {
  cell_type: "code" | "markdown" | "raw";
  id?: string;
  /** Always a single string here (nbformat allows a list of lines on disk). */
  source: string;
  metadata: { nbgrader?: NbgraderMeta; [k: string]: unknown };
  outputs?: Output[];
  execution_count?: number | null;
  attachments?: unknown;
}

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, any>;
  cells: Cell[];
}

export class NotebookError extends Error {
  override name = "NotebookError";
}

const joinSource = (s: unknown): string => (Array.isArray(s) ? s.map((x) => String(x)).join("") : typeof s === "string" ? s : "");

/** Parses notebook JSON; throws NotebookError with a clear reason when it is not an nbformat 4 notebook. */
export function parseNotebook(text: string, what = "notebook"): Notebook {
  let raw: any;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // (the parser's message quotes the text: only the position is kept)
    const pos = /position (\d+)/.exec((e as Error).message)?.[1];
    throw new NotebookError(`${what} is not valid JSON${pos ? ` (error at character ${pos})` : text.trim() ? "" : " (the file is empty)"}`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new NotebookError(`${what} is not a notebook: the JSON is not an object`);
  if (!Array.isArray(raw.cells)) throw new NotebookError(`${what} is not a notebook: it has no "cells" list`);
  const major = typeof raw.nbformat === "number" ? raw.nbformat : 4;
  if (major !== 4) throw new NotebookError(`${what} has nbformat ${major}; only nbformat 4 is supported`);
  const cells: Cell[] = raw.cells.map((c: any, i: number) => {
    if (!c || typeof c !== "object") throw new NotebookError(`${what}: cell ${i} is not an object`);
    const type = c.cell_type;
    if (type !== "code" && type !== "markdown" && type !== "raw") throw new NotebookError(`${what}: cell ${i} has an unknown cell_type ${JSON.stringify(type)}`);
    const metadata = c.metadata && typeof c.metadata === "object" && !Array.isArray(c.metadata) ? { ...c.metadata } : {};
    if (metadata.nbgrader !== undefined && (typeof metadata.nbgrader !== "object" || metadata.nbgrader === null || Array.isArray(metadata.nbgrader))) delete metadata.nbgrader;
    const cell: Cell = { cell_type: type, source: joinSource(c.source), metadata };
    if (typeof c.id === "string") cell.id = c.id;
    if (c.attachments && type !== "code") cell.attachments = c.attachments;
    if (type === "code") {
      cell.outputs = Array.isArray(c.outputs) ? c.outputs.filter((o: any) => o && typeof o === "object").map(normalizeOutput) : [];
      cell.execution_count = typeof c.execution_count === "number" ? c.execution_count : null;
    }
    return cell;
  });
  return {
    nbformat: 4,
    nbformat_minor: typeof raw.nbformat_minor === "number" ? raw.nbformat_minor : 5,
    metadata: raw.metadata && typeof raw.metadata === "object" && !Array.isArray(raw.metadata) ? raw.metadata : {},
    cells,
  };
}

function normalizeOutput(o: any): Output {
  const out: Output = { ...o };
  if (o.output_type === "stream") out.text = joinSource(o.text);
  if (o.data && typeof o.data === "object") {
    out.data = {};
    for (const [k, v] of Object.entries(o.data)) out.data[k] = Array.isArray(v) && !k.endsWith("json") ? v.join("") : v;
  }
  return out;
}

/** Splits a string into nbformat's list of lines (each keeping its "\n"). */
export function splitLines(s: string): string[] {
  const out = s.split(/(?<=\n)/);
  return out.length === 1 && out[0] === "" ? [] : out;
}

const MULTILINE_MIME = /^(text\/|image\/svg\+xml$|application\/javascript$)/;

/** Serializes a notebook the way Jupyter writes it (1-space indent, sorted keys, sources as lists of lines). */
export function serializeNotebook(nb: Notebook): string {
  // nbformat 4.5+: every cell has a unique id (made up, deterministically, where missing, invalid or repeated)
  const needIds = nb.nbformat > 4 || nb.nbformat_minor >= 5;
  const seen = new Set<string>();
  const cells = nb.cells.map((c, i) => {
    const o: Record<string, unknown> = { cell_type: c.cell_type, metadata: c.metadata, source: splitLines(c.source) };
    let id = c.id;
    if (needIds && (!id || !/^[A-Za-z0-9_-]{1,64}$/.test(id) || seen.has(id))) {
      id = `cell-${i}`;
      for (let k = 2; seen.has(id); k++) id = `cell-${i}-${k}`;
    }
    if (id) seen.add(id);
    if (id) o.id = id;
    if (c.attachments) o.attachments = c.attachments;
    if (c.cell_type === "code") {
      o.execution_count = c.execution_count ?? null;
      o.outputs = (c.outputs ?? []).map((out) => {
        const x: Record<string, unknown> = { ...out };
        if (out.output_type === "stream") x.text = splitLines(out.text ?? "");
        if (out.data) {
          const d: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(out.data)) d[k] = typeof v === "string" && MULTILINE_MIME.test(k) ? splitLines(v) : v;
          x.data = d;
        }
        return x;
      });
    }
    return o;
  });
  return JSON.stringify(sortKeys({ cells, metadata: nb.metadata, nbformat: nb.nbformat, nbformat_minor: nb.nbformat_minor }), null, 1) + "\n";
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) o[k] = sortKeys((v as any)[k]);
    return o;
  }
  return v;
}

export function cloneNotebook(nb: Notebook): Notebook {
  return JSON.parse(JSON.stringify(nb));
}

// ------------------------------------------------------------------ nbgrader predicates (as nbgrader/utils.py)

export const nbmeta = (c: Cell): NbgraderMeta | undefined => c.metadata.nbgrader;
export const isGrade = (c: Cell) => !!nbmeta(c)?.grade;
export const isSolution = (c: Cell) => !!nbmeta(c)?.solution;
export const isTask = (c: Cell) => !!nbmeta(c)?.task;
/** nbgrader's is_locked: solution cells never, grade cells always, otherwise the `locked` flag. */
export function isLocked(c: Cell): boolean {
  const m = nbmeta(c);
  if (!m) return false;
  if (m.solution) return false;
  if (m.grade) return true;
  return !!m.locked;
}
/** An autograded test cell: a graded code cell that is not a solution. */
export const isTestCell = (c: Cell) => c.cell_type === "code" && isGrade(c) && !isSolution(c);
export const gradeId = (c: Cell): string | undefined => {
  const id = nbmeta(c)?.grade_id;
  return typeof id === "string" && id ? id : undefined;
};
export function points(c: Cell): number {
  const p = Number(nbmeta(c)?.points ?? 0);
  return Number.isFinite(p) && p > 0 ? p : 0;
}

/** Python's str(float(x)) (repr: shortest round-trip digits, scientific below 1e-4 and from 1e16). */
export function pyFloatStr(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant, expStr] = x.toExponential().split("e");
  const exp = Number(expStr);
  const neg = mant.startsWith("-");
  const digits = mant.replace(/^-/, "").replace(".", "");
  let s: string;
  if (exp < -4 || exp >= 16) {
    s = (digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits) + `e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  } else if (exp < 0) {
    s = "0." + "0".repeat(-exp - 1) + digits;
  } else {
    const int = digits.slice(0, exp + 1).padEnd(exp + 1, "0"), frac = digits.slice(exp + 1);
    s = `${int}.${frac || "0"}`;
  }
  return neg ? "-" + s : s;
}

/** nbgrader's compute_checksum(cell), byte for byte. */
export function computeChecksum(c: Cell): string {
  const m = createHash("md5");
  m.update(c.source, "utf8");
  m.update(c.cell_type, "utf8");
  const py = (b: boolean) => (b ? "True" : "False");
  m.update(py(isGrade(c)));
  m.update(py(isSolution(c)));
  m.update(py(isLocked(c)));
  m.update(String(nbmeta(c)?.grade_id ?? ""), "utf8");
  if (isGrade(c)) m.update(pyFloatStr(Number(nbmeta(c)?.points ?? 0)));
  return m.digest("hex");
}

/** A short content hash of any bytes (for result files and resume). */
export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
