/**
 * Scores an executed notebook with nbgrader's rules (nbgrader/utils.py
 * determine_grade): a test cell with an error output scores 0; one whose
 * result is a number in (0, points] scores that number (partial credit);
 * otherwise full points. One difference: stderr output does not fail a cell
 * (the gradbook kernel reports type diagnostics on stderr without failing).
 * Graded solution cells (manually graded answers) score 0 when left as
 * released and are otherwise marked for manual grading.
 */
import { computeChecksum, gradeId, isGrade, isLocked, isSolution, isTestCell, nbmeta, points, type Cell, type Notebook, type Output } from "./notebook.ts";
import { hasHiddenTests } from "./release.ts";

export interface TestResult {
  /** The notebook (file name) the test is in. */
  notebook: string;
  gradeId: string;
  score: number;
  maxScore: number;
  status: "passed" | "failed" | "partial" | "manual";
  hidden: boolean;
  /** What the student sees: pass, or the error. */
  output: string;
}

export const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");

function errorText(o: Output): string {
  return `${o.ename ?? "Error"}: ${o.evalue ?? ""}`.trim();
}

/** nbgrader's get_partial_grade: a single number in text/plain; null when the result is not one. */
function partialGrade(o: Output): number | null {
  const t = o.data?.["text/plain"];
  const s = Array.isArray(t) ? (t.length === 1 ? String(t[0]) : "") : typeof t === "string" ? t : "";
  if (!/^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(s)) return null;
  const v = Number(s);
  return Number.isFinite(v) && v > 0 ? v : null;
}

export function scoreCell(cell: Cell, notebook: string, unanswered: Set<string>): TestResult | null {
  if (!isGrade(cell)) return null;
  const id = gradeId(cell) ?? "?";
  const max = points(cell);
  const base = { notebook, gradeId: id, maxScore: max, hidden: cell.cell_type === "code" && hasHiddenTests(cell) };
  if (isSolution(cell)) {
    if (unanswered.has(id)) return { ...base, score: 0, status: "failed", output: "Not answered (the cell is as it was released)." };
    return { ...base, score: 0, status: "manual", output: "Answered; to be graded by hand." };
  }
  if (!isTestCell(cell)) return null;
  for (const o of cell.outputs ?? []) {
    if (o.output_type === "error") return { ...base, score: 0, status: "failed", output: stripAnsi(errorText(o)) };
    if (o.output_type === "execute_result") {
      const p = partialGrade(o);
      if (p !== null && p < max) return { ...base, score: p, status: "partial", output: `Partial credit: ${p} of ${max}.` };
      return { ...base, score: max, status: "passed", output: "Passed." };
    }
  }
  return { ...base, score: max, status: "passed", output: "Passed." };
}

/** Before a student's notebook runs: warnings (a read-only cell changed, no tests) and the solutions left as released (by their nbgrader checksum). */
export function checkAnswers(nb: Notebook): { warnings: string[]; unanswered: string[] } {
  const warnings: string[] = [];
  for (const c of nb.cells) {
    const m = nbmeta(c);
    if (m?.checksum && isLocked(c) && computeChecksum(c) !== m.checksum) warnings.push(`cell "${gradeId(c)}" is read-only but was changed: the grader will use the original`);
  }
  if (!nb.cells.some(isTestCell)) warnings.push("this notebook has no autograded test cells (nbgrader metadata)");
  const unanswered = nb.cells.filter((c) => isSolution(c) && nbmeta(c)?.checksum && computeChecksum(c) === nbmeta(c)!.checksum).map((c) => gradeId(c)!);
  return { warnings, unanswered };
}

export function scoreNotebook(nb: Notebook, notebook: string, unanswered: string[]): TestResult[] {
  const set = new Set(unanswered);
  return nb.cells.map((c) => scoreCell(c, notebook, set)).filter((r): r is TestResult => r !== null);
}

/** Every test of a notebook scored 0 with one reason (notebook missing or unreadable). */
export function zeroScores(source: Notebook, notebook: string, reason: string): TestResult[] {
  return source.cells
    .filter((c) => isGrade(c))
    .map((c) => ({ notebook, gradeId: gradeId(c) ?? "?", score: 0, maxScore: points(c), status: "failed" as const, hidden: c.cell_type === "code" && hasHiddenTests(c), output: reason }));
}

export const round2 = (x: number) => Math.round(x * 100) / 100;
