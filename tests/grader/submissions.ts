/**
 * Submissions made for the grader tests from the released fixture notebook
 * (tests/grader/fixtures/perceptron.ipynb): each one a student's notebook
 * file, with the score the grader must give it (out of 8: test_step_weights
 * 2, test_step_bias 3 with hidden tests, test_dot 1 with hidden tests,
 * test_train 2).
 */
import { gradeId, serializeNotebook, type Cell, type Notebook } from "../../kernel/grader/notebook.ts";

const clone = (nb: Notebook): Notebook => JSON.parse(JSON.stringify(nb));
const cell = (nb: Notebook, id: string): Cell => {
  const c = nb.cells.find((x) => gradeId(x) === id);
  if (!c) throw new Error(`no cell ${id}`);
  return c;
};
const codeCell = (source: string): Cell => ({ cell_type: "code", source, metadata: {}, outputs: [], execution_count: null });

export const CORRECT_STEP = `function perceptronStep(w: number[], b: number, x: number[], y: number, lr: number): { w: number[]; b: number } {
  let s = b;
  for (let i = 0; i < w.length; i++) s += w[i] * x[i];
  if (y * s > 0) return { w: w.slice(), b };
  return { w: w.map((wi, i) => wi + lr * y * x[i]), b: b + lr * y };
}`;
export const CORRECT_DOT = `function dot(a: number[], b: number[]): number {
  return a.reduce((s, ai, i) => s + ai * b[i], 0);
}`;

export interface Made {
  file: string;
  content: string;
  score: number;
  /** Per test: [grade id, score]. */
  tests: [string, number][];
}

export function makeSubmissions(release: Notebook, opts: { canary?: string } = {}): Record<string, Made> {
  const answered = (step = CORRECT_STEP, dotSrc = CORRECT_DOT) => {
    const nb = clone(release);
    cell(nb, "perceptron_step").source = step;
    cell(nb, "dot").source = dotSrc;
    return nb;
  };
  const out: Record<string, Made> = {};
  const add = (name: string, nb: Notebook | string, tests: [string, number][]) => {
    out[name] = { file: `${name}.ipynb`, content: typeof nb === "string" ? nb : serializeNotebook(nb), score: tests.reduce((s, [, x]) => s + x, 0), tests };
  };
  const all = (w: number, b: number, d: number, t: number): [string, number][] => [
    ["test_step_weights", w],
    ["test_step_bias", b],
    ["test_dot", d],
    ["test_train", t],
  ];

  // 1. everything right
  add("correct", answered(), all(2, 3, 1, 2));

  // 2. forgets the bias: passes the visible tests of the step, fails its hidden ones and training; dot right
  add("partly_wrong", answered(CORRECT_STEP.replace("b: b + lr * y", "b")), all(2, 0, 1, 0));

  // 3. hands in the released notebook untouched
  add("empty", clone(release), all(0, 0, 0, 0));

  // 4. dot never returns: its test is stopped at the time limit, nothing else is lost
  add("infinite_loop", answered(CORRECT_STEP, "function dot(a: number[], b: number[]): number {\n  let s = 0;\n  while (true) s += a.length;\n}"), all(2, 3, 0, 2));

  // 5. dot ends the kernel process: the kernel is restarted, the earlier cells run again, later tests pass
  add("process_exit", answered(CORRECT_STEP, "function dot(a: number[], b: number[]): number {\n  process.exit(3);\n}"), all(2, 3, 0, 2));

  // 6. deletes every test cell (and the helpers cell): all put back, right answers get full marks
  {
    const nb = answered();
    nb.cells = nb.cells.filter((c) => !/^test_|^gradbook_checks$/.test(gradeId(c) ?? ""));
    add("deleted_tests", nb, all(2, 3, 1, 2));
  }

  // 7. a wrong dot, its test cell edited to pass, the locked data edited, and a cell that attacks the
  //    test helpers and the files around it: all undone or refused, only test_dot is lost
  {
    const nb = answered(CORRECT_STEP, "function dot(a: number[], b: number[]): number {\n  return 32;\n}");
    cell(nb, "test_dot").source = "// this test is fine\nassert(true);";
    cell(nb, "data").source = "const DATA = { x: [[1, 1]], y: [1] };";
    const attack = [
      "const fs = require('node:fs');",
      "for (const f of [() => { (globalThis as any).assertEqual = () => {}; }, () => Object.defineProperty(globalThis, 'assertEqual', { value: () => {} }), () => { if (!delete (globalThis as any).assertEqual) throw new Error('delete assertEqual: not deleted'); }])",
      "  try { f(); } catch (e) { console.log('refused:', (e as Error).message); }",
      opts.canary ? `try { fs.rmSync(${JSON.stringify(opts.canary)}, { force: true }); } catch (e) { console.log('refused:', (e as Error).message); }` : "",
      "fs.rmSync('..', { recursive: true, force: true }); // its own scratch folder: allowed, harms no one else",
      "Math.abs = () => 0; JSON.stringify = () => \"[]\";",
    ].join("\n");
    const at = nb.cells.findIndex((c) => gradeId(c) === "dot");
    nb.cells.splice(at + 1, 0, codeCell(attack));
    add("tampered", nb, all(2, 3, 0, 2));
  }

  // 8. not a notebook at all
  add("not_json", '{"cells": [ this is not JSON', all(0, 0, 0, 0));
  return out;
}
