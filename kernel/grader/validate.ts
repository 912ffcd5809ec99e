/**
 * `gradbook validate NOTEBOOK.ipynb`: what a student runs before submitting.
 * Runs the notebook top to bottom in a fresh kernel (in the notebook's
 * folder, so its data files are found) and lists the visible tests that pass
 * and fail, with the points at stake; warns about read-only cells that were
 * changed (the grader will put them back).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { executeNotebook, type CellStatus } from "./execute.ts";
import { findKernelScript } from "./client.ts";
import { gradeId, isTestCell, NotebookError, parseNotebook, type Notebook } from "./notebook.ts";
import { readNoFollow } from "./safefs.ts";
import { checkAnswers, round2, scoreNotebook, stripAnsi, type TestResult } from "./score.ts";

export interface ValidateOptions {
  cellTimeoutS?: number;
  notebookTimeoutS?: number;
  memoryMb?: number;
  kernelScript?: string;
}

export interface Validation {
  notebook: Notebook;
  tests: TestResult[];
  /** Errors in cells that are not tests (they usually explain failing tests). */
  cellErrors: { cell: number; id?: string; error: string }[];
  warnings: string[];
  passed: boolean;
}

export async function validateNotebook(path: string, o: ValidateOptions = {}): Promise<Validation> {
  let text: string;
  try {
    text = readNoFollow(path, 256 << 20).toString("utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new NotebookError(`${path} does not exist (give the student's notebook)`);
    if (code === "ELOOP") throw new NotebookError(`${path} is a symbolic link; give the notebook itself`);
    if (code === "EISDIR") throw new NotebookError(`${path} is a folder; give a notebook in it`);
    throw e;
  }
  const nb = parseNotebook(text, basename(path));
  const { warnings, unanswered } = checkAnswers(nb);
  const scratchRoot = mkdtempSync(join(tmpdir(), "gradbook-validate-"));
  try {
    const ex = await executeNotebook(nb, {
      kernelScript: o.kernelScript ?? findKernelScript(),
      scratchRoot,
      cwd: dirname(resolve(path)),
      cellTimeoutMs: (o.cellTimeoutS ?? 60) * 1000,
      notebookTimeoutMs: (o.notebookTimeoutS ?? 1200) * 1000,
      memoryMb: o.memoryMb ?? 4096,
      permissions: false,
      user: null,
    });
    const tests = scoreNotebook(ex.notebook, basename(path), unanswered);
    const cellErrors: Validation["cellErrors"] = [];
    ex.notebook.cells.forEach((c, i) => {
      const st: CellStatus = ex.status[i];
      if (isTestCell(c) || st === "ok") return;
      const err = (c.outputs ?? []).find((x) => x.output_type === "error");
      cellErrors.push({ cell: i + 1, id: gradeId(c), error: err ? stripAnsi(`${err.ename}: ${err.evalue}`) : st });
    });
    warnings.push(...ex.messages);
    return { notebook: ex.notebook, tests, cellErrors, warnings, passed: tests.every((t) => t.status === "passed" || t.status === "manual") };
  } finally {
    rmSync(scratchRoot, { recursive: true, force: true });
  }
}

export function formatValidation(v: Validation, name: string): string {
  const lines: string[] = [];
  const auto = v.tests.filter((t) => t.status !== "manual");
  const got = auto.reduce((s, t) => s + t.score, 0), max = auto.reduce((s, t) => s + t.maxScore, 0);
  lines.push(`${name}: ${auto.filter((t) => t.status === "passed").length} of ${auto.length} visible tests pass (${round2(got)} of ${round2(max)} points)`);
  for (const t of v.tests) {
    const mark = t.status === "passed" ? "PASS" : t.status === "partial" ? "PART" : t.status === "manual" ? "HAND" : "FAIL";
    lines.push(`  ${mark}  ${t.gradeId} (${round2(t.score)}/${round2(t.maxScore)})${t.status === "passed" ? "" : `: ${t.output.split("\n")[0]}`}`);
  }
  for (const e of v.cellErrors) lines.push(`  error in cell ${e.cell}${e.id ? ` (${e.id})` : ""}: ${e.error.split("\n")[0]}`);
  for (const w of v.warnings) lines.push(`  warning: ${w}`);
  lines.push("Hidden tests are not included: passing every visible test does not guarantee full points.");
  return lines.join("\n");
}
