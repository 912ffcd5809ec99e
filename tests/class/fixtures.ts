/**
 * A small assignment for the class tests, written as an instructor would: a
 * data file read by a locked cell, two answers with solutions, tests with
 * visible and hidden parts (5 points), and students' answers that score
 * exactly 5 (correct), 3 (squares right, mean wrong) and 0 (untouched).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gradeId, serializeNotebook, type Cell, type Notebook } from "../../kernel/grader/notebook.ts";

const nb = (cells: Cell[]): Notebook => ({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: "gradbook", display_name: "TypeScript (gradbook)", language: "typescript" }, language_info: { name: "typescript" } },
  cells,
});
const md = (source: string): Cell => ({ cell_type: "markdown", source, metadata: {} });
const code = (source: string, nbgrader?: Record<string, unknown>): Cell => ({
  cell_type: "code",
  source,
  metadata: nbgrader ? { nbgrader: { schema_version: 3, task: false, ...nbgrader } } : {},
  outputs: [],
  execution_count: null,
});

export const DATA_CSV = "x\n1\n2\n3\n4\n";
export const NOTEBOOK = "squares.ipynb";
export const MAX_SCORE = 5;

export function instructorNotebook(): Notebook {
  return nb([
    md("# Squares and means\nRead `data.csv`, then write two functions."),
    code('import { readFileSync } from "node:fs";\nconst xs = readFileSync("data.csv", "utf8").trim().split("\\n").slice(1).map(Number);\nxs.length', { grade: false, grade_id: "load", locked: true, solution: false }),
    code("function square(x: number): number {\n  // BEGIN SOLUTION\n  return x * x;\n  // END SOLUTION\n}", { grade: false, grade_id: "square", locked: false, solution: true }),
    code("assertEqual(square(3), 9);\n// BEGIN HIDDEN TESTS\nassertEqual(square(-2), 4);\n// END HIDDEN TESTS", { grade: true, grade_id: "test_square", locked: true, points: 3, solution: false }),
    code("function mean(v: number[]): number {\n  // BEGIN SOLUTION\n  return v.reduce((a, b) => a + b, 0) / v.length;\n  // END SOLUTION\n}", { grade: false, grade_id: "mean", locked: false, solution: true }),
    code("assertClose(mean(xs), 2.5);", { grade: true, grade_id: "test_mean", locked: true, points: 2, solution: false }),
  ]);
}

/** The instructor's assignment folder: the notebook and data.csv. */
export function writeSource(dir: string) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, NOTEBOOK), serializeNotebook(instructorNotebook()));
  writeFileSync(join(dir, "data.csv"), DATA_CSV);
}

const answers = {
  square: "function square(x: number): number {\n  return x * x;\n}",
  mean: "function mean(v: number[]): number {\n  return v.reduce((a, b) => a + b, 0) / v.length;\n}",
  wrongMean: "function mean(v: number[]): number {\n  return v.length;\n}",
};

/** A student's notebook from the released one (scores in SCORES). */
export function answer(release: Notebook, kind: "correct" | "wrong_mean" | "untouched"): Notebook {
  const out: Notebook = JSON.parse(JSON.stringify(release));
  if (kind === "untouched") return out;
  for (const c of out.cells) {
    if (gradeId(c) === "square") c.source = answers.square;
    if (gradeId(c) === "mean") c.source = kind === "correct" ? answers.mean : answers.wrongMean;
  }
  return out;
}
export const SCORES = { correct: 5, wrong_mean: 3, untouched: 0 } as const;
