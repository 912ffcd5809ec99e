// Grades the eight special submissions of tests/grader/submissions.ts with real sandboxed gradbook
// kernels (two at a time), interrupting the first run and resuming it, and checks every score and message.
import { afterAll, beforeAll, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { grade, GradeInterrupted, loadSources } from "../../kernel/grader/grade.ts";
import { parseNotebook, gradeId } from "../../kernel/grader/notebook.ts";
import type { SubmissionResult } from "../../kernel/grader/reports.ts";
import { makeSubmissions, type Made } from "./submissions.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(dirname(HERE));
const SOURCE = join(HERE, "fixtures", "perceptron.ipynb");
let dir: string;
let made: Record<string, Made>;

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "kernel.js")) || !existsSync(join(ROOT, "dist", "gradbook.js"))) spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "gradbook-grade-test-"));
  mkdirSync(join(dir, "subs"));
  writeFileSync(join(dir, "canary.txt"), "the grader must not let a submission delete me");
  const [s] = loadSources(SOURCE);
  made = makeSubmissions(s.release, { canary: join(dir, "canary.txt") });
  for (const m of Object.values(made)) writeFileSync(join(dir, "subs", m.file), m.content);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// files: false: the other files in fixtures/ are not this assignment's (files.test.ts grades with them).
const opts = () => ({ files: false, source: SOURCE, submissions: join(dir, "subs"), out: join(dir, "out"), jobs: 2, cellTimeoutS: 10, notebookTimeoutS: 600, memoryMb: 1536, progress: null });
const resultFiles = () => (existsSync(join(dir, "out", "results")) ? readdirSync(join(dir, "out", "results")).filter((f) => f.endsWith(".json")) : []);

test("grades the special submissions: interrupted, resumed, every score and message right", async () => {
  // Run 1: interrupted once three results are written.
  const ac = new AbortController();
  const poll = setInterval(() => resultFiles().length >= 3 && ac.abort(), 100);
  let err: unknown;
  try {
    await grade({ ...opts(), signal: ac.signal });
  } catch (e) {
    err = e;
  } finally {
    clearInterval(poll);
  }
  expect(err).toBeInstanceOf(GradeInterrupted);
  const first = resultFiles();
  expect(first.length).toBeGreaterThanOrEqual(3);
  expect(first.length).toBeLessThan(8);
  const before = new Map(first.map((f) => [f, readFileSync(join(dir, "out", "results", f), "utf8")]));

  // Run 2: resumes; finished results are kept as they were.
  const summary = await grade(opts());
  expect(summary.resumed).toBe(first.length);
  expect(summary.graded).toBe(8 - first.length);
  for (const [f, text] of before) expect(readFileSync(join(dir, "out", "results", f), "utf8")).toBe(text);

  const results = new Map<string, SubmissionResult>(summary.results.map((r) => [r.student, r]));
  expect([...results.keys()].sort()).toEqual(Object.keys(made).sort());
  for (const [name, m] of Object.entries(made)) {
    const r = results.get(name)!;
    expect([name, r.score, r.maxScore]).toEqual([name, m.score, 8]);
    expect([name, r.tests.map((t) => [t.gradeId, t.score])]).toEqual([name, m.tests]);
  }
  const test = (student: string, id: string) => results.get(student)!.tests.find((t) => t.gradeId === id)!;

  expect(results.get("correct")!.messages).toEqual([]);
  expect(results.get("correct")!.tests.every((t) => t.output === "Passed.")).toBe(true);

  expect(test("partly_wrong", "test_step_bias").output).toBe("AssertionError: the bias moves by lr * y: assertClose: got 0, expected 1 (|difference| 1 > atol 1e-9 + rtol 0 * |expected|)");
  expect(test("partly_wrong", "test_train").output).toMatch(/^AssertionError: the trained perceptron should classify every training point: assertEqual: value\[\d\]: got -?1, expected -?1$/);

  expect(results.get("empty")!.tests.map((t) => t.output)).toEqual(Array(4).fill("Error: not implemented"));

  expect(results.get("infinite_loop")!.messages).toEqual([
    'Cell 9 ("test_dot") was stopped: the cell used more than its CPU time limit of 10 s. A new kernel was started and the 3 earlier cells that had run were run again.',
  ]);
  expect(test("infinite_loop", "test_dot").output).toBe("TimeoutError: the cell used more than its CPU time limit of 10 s");
  expect(results.get("infinite_loop")!.restarts).toBe(1);

  expect(results.get("process_exit")!.messages).toHaveLength(1);
  expect(results.get("process_exit")!.messages[0]).toMatch(/^Cell 9 \("test_dot"\) was stopped: the kernel stopped while running this cell: the process exited with code 3 .*A new kernel was started and the 3 earlier cells that had run were run again\.$/);
  expect(test("process_exit", "test_dot").output).toMatch(/^KernelDied: the kernel stopped while running this cell/);

  expect(results.get("deleted_tests")!.messages).toEqual(
    ["test_step_weights", "test_step_bias", "test_dot", "test_train"].map((id) => `Cell "${id}" was missing from the submission; the instructor's version was put back.`),
  );

  expect(results.get("tampered")!.messages).toEqual([
    'Cell "data" is read-only but was changed; the changes were discarded and the instructor\'s version was used.',
    'Cell "test_dot" is read-only but was changed; the changes were discarded and the instructor\'s version was used.',
  ]);
  expect(test("tampered", "test_dot").output).toBe("AssertionError: assertEqual: value: got 32, expected 0");
  // the attacks on the helpers and the files were refused in the student's own cell
  const fb = parseNotebook(readFileSync(join(dir, "out", "feedback", "tampered", "perceptron.ipynb"), "utf8"));
  const attack = fb.cells.find((c) => c.source.includes("Math.abs = () => 0"))!;
  const printed = (attack.outputs ?? []).map((o) => o.text ?? "").join("");
  expect(printed.split("\n").filter((l) => l.startsWith("refused:"))).toEqual([
    "refused: 'assertEqual' is a test helper of this notebook and cannot be replaced: use another name",
    "refused: Cannot redefine property: assertEqual",
    "refused: delete assertEqual: not deleted",
  ]);
  expect(readFileSync(join(dir, "canary.txt"), "utf8")).toMatch(/must not/);

  expect(results.get("not_json")!.status).toBe("invalid");
  expect(results.get("not_json")!.messages).toEqual(["perceptron.ipynb is not valid JSON; it was not graded."]);
  expect(test("not_json", "test_dot").output).toBe("Not graded: the notebook file is not a valid notebook.");

  // reports
  const csv = readFileSync(join(dir, "out", "gradebook.csv"), "utf8").trim().split("\r\n");
  expect(csv[0]).toBe("student,score,max_score,test_step_weights (2),test_step_bias (3),test_dot (1),test_train (2),status,messages");
  expect(csv.slice(1).map((l) => l.split(",").slice(0, 7).join(","))).toEqual(
    Object.keys(made)
      .sort()
      .map((n) => [n, made[n].score, 8, ...made[n].tests.map(([, s]) => s)].join(",")),
  );
  const gs = JSON.parse(readFileSync(join(dir, "out", "gradescope", "partly_wrong", "results.json"), "utf8"));
  expect(gs.score).toBe(3);
  expect(gs.tests.map((t: any) => [t.name, t.score, t.max_score, t.visibility])).toEqual([
    ["test_step_weights", 2, 2, "visible"],
    ["test_step_bias", 0, 3, "after_published"],
    ["test_dot", 1, 1, "after_published"],
    ["test_train", 0, 2, "visible"],
  ]);
  // feedback: hidden test code masked, outputs kept, valid notebook
  const good = parseNotebook(readFileSync(join(dir, "out", "feedback", "correct", "perceptron.ipynb"), "utf8"));
  expect(good.cells[0].source).toMatch(/^# Feedback: 8 \/ 8 points/);
  expect(good.cells.find((c) => gradeId(c) === "test_dot")!.source).toBe("assertEqual(dot([1, 2, 3], [4, 5, 6]), 32);\n// (hidden tests)");
  expect(readFileSync(join(dir, "out", "feedback", "correct", "perceptron.html"), "utf8")).toContain("8 / 8 points");
  expect(existsSync(join(dir, "out", "feedback", "not_json"))).toBe(false);
  // nothing written outside --out (besides the inputs made above)
  expect(readdirSync(dir).sort()).toEqual(["canary.txt", "out", "subs"]);
}, 1_200_000);
