/**
 * Errors as a notebook shows them: the exception's name and message, the cell's lines around
 * where it happened (mapped back through the cell's source map), and the stack frames that
 * belong to the user's code. Node-free (V8's stack format, as in Chromium).
 */
import type { ErrorInfo } from "../interpreter.ts";
import type { SyntaxErrorInfo } from "./platform.ts";
import { originalPosition, type DecodedMap } from "./sourcemap.ts";

export const RED = "\x1b[0;31m", BOLD_RED = "\x1b[1;31m", GREEN = "\x1b[0;32m", CYAN = "\x1b[0;36m", RESET = "\x1b[0m";

export class KeyboardInterrupt extends Error {
  override name = "KeyboardInterrupt";
}

/** What is kept of a cell that ran, to point at its lines in later tracebacks. */
export interface CellRecord {
  count: number;
  map: DecodedMap;
  lines: string[];
}

export function syntaxError(e: SyntaxErrorInfo, code: string, count: number): ErrorInfo {
  const src = code.split("\n")[e.line - 1] ?? "";
  return {
    ename: "SyntaxError",
    evalue: `${e.message} (line ${e.line})`,
    traceback: [
      `${CYAN}Cell In[${count}], line ${e.line}${RESET}`,
      `${GREEN}${String(e.line).padStart(4)}${RESET} | ${src}`,
      `     | ${" ".repeat(Math.max(0, e.column - 1))}${RED}^${RESET}`,
      `${BOLD_RED}SyntaxError${RESET}: ${e.message}`,
    ],
  };
}

/**
 * An error as the front end shows it; `cells` maps script file names (cell-N.ts) to the cells that
 * ran; `internal`: more frames to leave out (a browser kernel's bundle).
 */
export function formatError(err: unknown, cells: ReadonlyMap<string, CellRecord>, formatText: (v: unknown) => string, internal?: RegExp): ErrorInfo {
  const isErr = err instanceof Error || (err && typeof err === "object" && "stack" in (err as any));
  if (!isErr) {
    const evalue = formatText(err);
    return { ename: "Error", evalue, traceback: [`${BOLD_RED}Uncaught${RESET} ${evalue}`] };
  }
  const e = err as Error & { code?: string };
  if (e.code === "ERR_SCRIPT_EXECUTION_INTERRUPTED" || e instanceof KeyboardInterrupt) {
    return { ename: "KeyboardInterrupt", evalue: "execution was interrupted", traceback: [`${BOLD_RED}KeyboardInterrupt${RESET}: execution was interrupted`] };
  }
  let ename = "Error", evalue = "", stack = "";
  try {
    ename = String(e.name ?? e.constructor?.name ?? "Error");
    evalue = String(e.message ?? "");
    stack = String(e.stack ?? "");
  } catch {}
  const frames: string[] = [];
  let lines: string[] = [];
  for (const line of stack.split("\n")) {
    if (!/^\s+at /.test(line)) continue;
    if (/node:internal|node:vm|dist\/kernel\.js|\/kernel\/[\w/]+\.ts/.test(line) || internal?.test(line)) continue;
    const mapped = line.replace(/(cell-\d+\.ts):(\d+):(\d+)/g, (m, file, l, c) => {
      const rec = cells.get(file);
      if (!rec) return m;
      const pos = originalPosition(rec.map, +l, +c);
      if (!pos) return `In[${rec.count}]`;
      if (!lines.length) lines = excerpt(rec, pos.line, pos.column);
      return `In[${rec.count}]:${pos.line}:${pos.column}`;
    });
    frames.push(mapped.replace(/^\s+/, "    "));
  }
  const header = `${BOLD_RED}${ename}${RESET}: ${evalue}`;
  return { ename, evalue, traceback: [...lines, header, ...frames] };
}

function excerpt(rec: CellRecord, line: number, column: number): string[] {
  const out = [`${CYAN}Cell In[${rec.count}], line ${line}${RESET}`];
  for (let l = Math.max(1, line - 2); l <= Math.min(rec.lines.length, line + 1); l++) {
    const marker = l === line ? `${GREEN}--> ${String(l).padStart(3)}${RESET}` : `    ${String(l).padStart(3)}`;
    out.push(`${marker} ${rec.lines[l - 1]}`);
    if (l === line) out.push(`        ${" ".repeat(Math.max(0, column - 1))}${RED}^${RESET}`);
  }
  return out;
}
