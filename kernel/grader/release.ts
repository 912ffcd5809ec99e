/**
 * The instructor's notebook and what is made from it: the checked "source"
 * (nbgrader metadata validated), and the
 * student version (`release`): solutions replaced by a stub that throws,
 * hidden tests removed, outputs cleared, cells locked and checksummed the
 * way nbgrader does it.
 */
import {
  cloneNotebook,
  computeChecksum,
  gradeId,
  isGrade,
  isLocked,
  isSolution,
  isTestCell,
  NotebookError,
  points,
  type Cell,
  type Notebook,
} from "./notebook.ts";

export const SOLUTION_STUB_CODE = ["// YOUR CODE HERE", 'throw new Error("not implemented");'];
export const SOLUTION_STUB_TEXT = "YOUR ANSWER HERE";
const BEGIN_SOLUTION = /^([ \t]*)(\/\/|#)\s*BEGIN SOLUTION\s*$/;
const END_SOLUTION = /^[ \t]*(\/\/|#)\s*END SOLUTION\s*$/;
const BEGIN_HIDDEN = /^[ \t]*(\/\/|#)\s*BEGIN HIDDEN TESTS\s*$/;
const END_HIDDEN = /^[ \t]*(\/\/|#)\s*END HIDDEN TESTS\s*$/;
const MD_BEGIN_SOLUTION = /^\s*=+\s*BEGIN SOLUTION\s*=+\s*$|^\s*(\/\/|#)\s*BEGIN SOLUTION\s*$/;
const MD_END_SOLUTION = /^\s*=+\s*END SOLUTION\s*=+\s*$|^\s*(\/\/|#)\s*END SOLUTION\s*$/;

const describe = (c: Cell, i: number) => (gradeId(c) ? `cell ${i + 1} (${gradeId(c)})` : `cell ${i + 1}`);

/** Does the cell contain a hidden-tests region? */
export function hasHiddenTests(c: Cell): boolean {
  return c.source.split("\n").some((l) => BEGIN_HIDDEN.test(l));
}

/** Replaces each solution region with the stub (indented like the BEGIN marker); a cell without regions becomes the stub. */
export function stubSolution(cell: Cell, where = "cell"): string {
  const lines = cell.source.split("\n");
  const code = cell.cell_type === "code";
  const begin = code ? BEGIN_SOLUTION : MD_BEGIN_SOLUTION, end = code ? END_SOLUTION : MD_END_SOLUTION;
  if (!lines.some((l) => begin.test(l))) {
    if (lines.some((l) => end.test(l))) throw new NotebookError(`${where}: END SOLUTION without BEGIN SOLUTION`);
    return code ? SOLUTION_STUB_CODE.join("\n") : SOLUTION_STUB_TEXT;
  }
  const out: string[] = [];
  let inside = false;
  for (const l of lines) {
    const m = begin.exec(l);
    if (m) {
      if (inside) throw new NotebookError(`${where}: BEGIN SOLUTION inside another solution region`);
      inside = true;
      const indent = code ? m[1] : "";
      if (code) for (const s of SOLUTION_STUB_CODE) out.push(indent + s);
      else out.push(SOLUTION_STUB_TEXT);
    } else if (end.test(l)) {
      if (!inside) throw new NotebookError(`${where}: END SOLUTION without BEGIN SOLUTION`);
      inside = false;
    } else if (!inside) out.push(l);
  }
  if (inside) throw new NotebookError(`${where}: BEGIN SOLUTION without END SOLUTION`);
  return out.join("\n");
}

/** Removes the hidden-test regions (markers included). */
export function removeHiddenTests(source: string, where = "cell"): string {
  const out: string[] = [];
  let inside = false;
  for (const l of source.split("\n")) {
    if (BEGIN_HIDDEN.test(l)) {
      if (inside) throw new NotebookError(`${where}: BEGIN HIDDEN TESTS inside another hidden region`);
      inside = true;
    } else if (END_HIDDEN.test(l)) {
      if (!inside) throw new NotebookError(`${where}: END HIDDEN TESTS without BEGIN HIDDEN TESTS`);
      inside = false;
    } else if (!inside) out.push(l);
  }
  if (inside) throw new NotebookError(`${where}: BEGIN HIDDEN TESTS without END HIDDEN TESTS`);
  return out.join("\n");
}

/** The hidden-test regions replaced by one comment line (for feedback shown to students). */
export function maskHiddenTests(source: string): string {
  const out: string[] = [];
  let inside = false;
  for (const l of source.split("\n")) {
    if (BEGIN_HIDDEN.test(l)) {
      inside = true;
      out.push(l.replace(/BEGIN HIDDEN TESTS.*/, "(hidden tests)"));
    } else if (END_HIDDEN.test(l)) inside = false;
    else if (!inside) out.push(l);
  }
  return out.join("\n");
}

/**
 * Checks an instructor notebook and returns the grading "source": nbgrader
 * metadata complete and consistent, every nbgrader cell with a unique grade
 * id, region markers balanced.
 */
export function prepareSource(input: Notebook, name = "notebook"): Notebook {
  const nb = cloneNotebook(input);
  const seen = new Set<string>();
  nb.cells.forEach((c, i) => {
    const where = `${name}: ${describe(c, i)}`;
    const m = c.metadata.nbgrader;
    const hidden = hasHiddenTests(c);
    const marked = c.source.split("\n").some((l) => BEGIN_SOLUTION.test(l) || (c.cell_type === "markdown" && MD_BEGIN_SOLUTION.test(l)));
    if (!m) {
      if (marked) throw new NotebookError(`${where} has a BEGIN SOLUTION region but no nbgrader metadata (mark it as a solution cell)`);
      if (hidden) throw new NotebookError(`${where} has hidden tests but is not an autograded test cell`);
      return;
    }
    m.schema_version ??= 3;
    for (const k of ["grade", "solution", "locked", "task"] as const) if (m[k] !== undefined) m[k] = !!m[k];
    const id = gradeId(c);
    if (!id && (m.grade || m.solution || m.locked || m.task)) throw new NotebookError(`${where} has nbgrader metadata but no grade_id`);
    if (id) {
      if (!/^[A-Za-z0-9_.-]+$/.test(id)) throw new NotebookError(`${where}: grade_id ${JSON.stringify(id)} may only use letters, digits, _ . -`);
      if (seen.has(id)) throw new NotebookError(`${where}: grade_id ${JSON.stringify(id)} is used by more than one cell`);
      seen.add(id);
    }
    if (m.grade) {
      const p = Number(m.points);
      if (!Number.isFinite(p) || p < 0) throw new NotebookError(`${where} is graded but its points (${JSON.stringify(m.points)}) are not a number >= 0`);
      m.points = p;
    }
    if (marked && !m.solution) throw new NotebookError(`${where} has a BEGIN SOLUTION region but is not a solution cell`);
    if (hidden && !isTestCell(c)) throw new NotebookError(`${where} has hidden tests but is not an autograded test cell (grade: true, solution: false)`);
    if (m.solution) stubSolution(c, where);
    if (hidden) removeHiddenTests(c.source, where);
    delete m.checksum;
  });
  return nb;
}

/** Sets Jupyter's editable/deletable flags as nbgrader's LockCells does (solution, grade and locked cells). */
function lock(c: Cell) {
  if (isSolution(c)) c.metadata.deletable = false;
  else if (isGrade(c) || isLocked(c)) {
    c.metadata.deletable = false;
    c.metadata.editable = false;
  }
}

/** The student version of a prepared source notebook. */
export function releaseNotebook(source: Notebook, name = "notebook"): Notebook {
  const nb = cloneNotebook(source);
  nb.cells.forEach((c, i) => {
    const where = `${name}: ${describe(c, i)}`;
    if (isSolution(c)) c.source = stubSolution(c, where);
    if (isTestCell(c)) c.source = removeHiddenTests(c.source, where);
    if (c.cell_type === "code") {
      c.outputs = [];
      c.execution_count = null;
    }
    const m = c.metadata.nbgrader;
    if (m) {
      delete m.checksum;
      lock(c);
      if (isGrade(c) || isSolution(c) || isLocked(c)) m.checksum = computeChecksum(c);
    }
  });
  return nb;
}

export interface TestCellInfo {
  gradeId: string;
  points: number;
  hidden: boolean;
}

/** The autograded test cells of a source notebook. */
export function testCells(source: Notebook): TestCellInfo[] {
  return source.cells.filter(isTestCell).map((c) => ({ gradeId: gradeId(c)!, points: points(c), hidden: hasHiddenTests(c) }));
}
