// The notebook transformations of the grader, no kernel: nbgrader checksums (against nbgrader's
// own function run by Debian's Python), release, restore, scoring and the reports.
import { describe, expect, test } from "vitest";
import { execFileSync } from "node:child_process";
import { linkSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { computeChecksum, gradeId, parseNotebook, pyFloatStr, serializeNotebook, NotebookError, type Cell, type Notebook } from "../../kernel/grader/notebook.ts";
import { prepareSource, releaseNotebook, stubSolution, removeHiddenTests, maskHiddenTests, testCells } from "../../kernel/grader/release.ts";
import { restoreSubmission } from "../../kernel/grader/restore.ts";
import { scoreNotebook } from "../../kernel/grader/score.ts";
import { csvField, gradebookCsv, gradescopeResults, feedbackHtml, type SubmissionResult } from "../../kernel/grader/reports.ts";
import { OutputDir, safeName, uniqueNames, readNoFollow } from "../../kernel/grader/safefs.ts";
import { discoverSubmissions, loadSources } from "../../kernel/grader/grade.ts";
import { CHECKS_GRADE_ID } from "../../kernel/grader/checks.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const FIX = join(HERE, "fixtures");
const load = (name: string) => parseNotebook(readFileSync(join(FIX, name), "utf8"), name);
const byId = (nb: Notebook, id: string) => nb.cells.find((c) => gradeId(c) === id)!;
/** An instructor notebook as made before the kernel preloaded the test helpers: with their locked cell (grade id gradbook_checks) first. */
const withOldHelpersCell = (nb: Notebook): Notebook => ({
  ...nb,
  cells: [
    nb.cells[0],
    {
      cell_type: "code",
      source: readFileSync(join(FIX, "gradbook_checks-cell.ts"), "utf8"),
      metadata: { nbgrader: { grade: false, grade_id: CHECKS_GRADE_ID, locked: true, schema_version: 3, solution: false, task: false }, editable: false, deletable: false },
      outputs: [],
      execution_count: null,
    },
    ...nb.cells.slice(1),
  ],
});

describe("nbgrader metadata and checksums", () => {
  test("computeChecksum equals nbgrader's compute_checksum (reference from Debian's Python)", () => {
    const ref = JSON.parse(readFileSync(join(FIX, "checksums.json"), "utf8")) as Record<string, Record<string, string>>;
    let n = 0;
    for (const [file, sums] of Object.entries(ref)) {
      const nb = load(file);
      for (const [id, sum] of Object.entries(sums)) {
        expect(computeChecksum(byId(nb, id)), `${file} ${id}`).toBe(sum);
        n++;
      }
    }
    expect(n).toBe(13);
  });

  test("invalid notebooks are reported with the reason", () => {
    expect(() => parseNotebook("not json {", "x.ipynb")).toThrow(/x.ipynb is not valid JSON/);
    expect(() => parseNotebook("[1, 2]", "x.ipynb")).toThrow(/not an object/);
    expect(() => parseNotebook('{"nbformat": 4}', "x.ipynb")).toThrow(/no "cells" list/);
    expect(() => parseNotebook('{"nbformat": 3, "cells": []}', "x.ipynb")).toThrow(/nbformat 3/);
    expect(() => parseNotebook('{"cells": [{"cell_type": "weird"}]}', "x.ipynb")).toThrow(/cell 0 has an unknown cell_type "weird"/);
    expect(() => parseNotebook("not json", "x")).toThrow(NotebookError);
  });

  test("serialize writes nbformat that Debian's nbformat validates, and reads back the same", () => {
    const nb = load("perceptron.ipynb");
    const text = serializeNotebook(nb);
    expect(parseNotebook(text)).toEqual(nb);
    const dir = mkdtempSync(join(tmpdir(), "gradbook-grader-"));
    try {
      writeFileSync(join(dir, "a.ipynb"), serializeNotebook(releaseNotebook(prepareSource(nb))));
      const s = restoreSubmission(prepareSource(nb), releaseNotebook(prepareSource(nb)), { ...nb, cells: [...nb.cells, { ...nb.cells[3] }, { cell_type: "code", source: "x", metadata: {} }] }).notebook;
      writeFileSync(join(dir, "b.ipynb"), serializeNotebook(s));
      const r = execFileSync(
        "/usr/bin/python3",
        ["-W", "error", "-c", "import nbformat,sys\nfor f in sys.argv[1:]:\n  nb=nbformat.read(f, as_version=4); nbformat.validate(nb); print(len(nb.cells))", join(dir, "a.ipynb"), join(dir, "b.ipynb")],
        { encoding: "utf8" },
      );
      expect(r.trim().split("\n")).toEqual(["12", "14"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("release", () => {
  const source = prepareSource(load("perceptron.ipynb"), "perceptron.ipynb");
  const release = releaseNotebook(source, "perceptron.ipynb");

  test("solution regions become the stub, indented like the marker", () => {
    expect(byId(release, "perceptron_step").source).toBe(
      'function perceptronStep(w: number[], b: number, x: number[], y: number, lr: number): { w: number[]; b: number } {\n  // YOUR CODE HERE\n  throw new Error("not implemented");\n}',
    );
    expect(byId(release, "dot").source).not.toMatch(/let s = 0|BEGIN SOLUTION/);
    const whole: Cell = { cell_type: "code", source: "const x = 1;", metadata: { nbgrader: { solution: true, grade_id: "a" } } };
    expect(stubSolution(whole)).toBe('// YOUR CODE HERE\nthrow new Error("not implemented");');
    expect(stubSolution({ ...whole, cell_type: "markdown" })).toBe("YOUR ANSWER HERE");
    expect(() => stubSolution({ ...whole, source: "// BEGIN SOLUTION\nx" }, "cell 3")).toThrow("cell 3: BEGIN SOLUTION without END SOLUTION");
  });

  test("hidden tests are removed from the release and kept in the source", () => {
    expect(byId(release, "test_step_bias").source).toBe(
      'const w0 = [1, -1];\nconst r = perceptronStep(w0, 0, [1, 2], 1, 1);\nassert(r.w !== w0, "perceptronStep must return a new array");\nassertEqual(w0, [1, -1], "the input weights must not change");',
    );
    expect(byId(release, "test_dot").source).toBe("assertEqual(dot([1, 2, 3], [4, 5, 6]), 32);");
    expect(JSON.stringify(release)).not.toMatch(/HIDDEN|dot\(\[\], \[\]\)|exactly 0 is a mistake/);
    expect(byId(source, "test_dot").source).toMatch(/dot\(\[\], \[\]\)/);
    expect(maskHiddenTests(byId(source, "test_dot").source)).toBe("assertEqual(dot([1, 2, 3], [4, 5, 6]), 32);\n// (hidden tests)");
    expect(() => removeHiddenTests("// BEGIN HIDDEN TESTS\nx", "c")).toThrow("c: BEGIN HIDDEN TESTS without END HIDDEN TESTS");
    expect(testCells(source).map((t) => [t.gradeId, t.points, t.hidden])).toEqual([
      ["test_step_weights", 2, false],
      ["test_step_bias", 3, true],
      ["test_dot", 1, true],
      ["test_train", 2, false],
    ]);
  });

  test("outputs cleared; graded, solution and locked cells checksummed and locked as nbgrader does", () => {
    for (const c of release.cells) {
      if (c.cell_type === "code") expect([c.outputs, c.execution_count]).toEqual([[], null]);
      const m = c.metadata.nbgrader;
      if (!m) continue;
      expect(m.checksum).toBe(computeChecksum(c));
      if (m.solution) expect([c.metadata.deletable, c.metadata.editable]).toEqual([false, undefined]);
      else expect([c.metadata.deletable, c.metadata.editable]).toEqual([false, false]);
    }
  });

  test("no test-helpers cell is added (the kernel has the helpers); an older notebook's is kept, locked", () => {
    expect(release.cells.length).toBe(load("perceptron.ipynb").cells.length);
    expect(release.cells.some((c) => gradeId(c) === CHECKS_GRADE_ID)).toBe(false);
    const old = releaseNotebook(prepareSource(withOldHelpersCell(load("perceptron.ipynb"))));
    expect(old.cells.filter((c) => gradeId(c) === CHECKS_GRADE_ID).map((c) => [c.metadata.nbgrader!.locked, c.metadata.editable])).toEqual([[true, false]]);
  });

  test("bad metadata is refused with the cell named", () => {
    const nb = load("perceptron.ipynb");
    byId(nb, "dot").metadata.nbgrader!.grade_id = "perceptron_step";
    expect(() => prepareSource(nb, "p.ipynb")).toThrow('p.ipynb: cell 8 (perceptron_step): grade_id "perceptron_step" is used by more than one cell');
    const nb2 = load("perceptron.ipynb");
    delete byId(nb2, "perceptron_step").metadata.nbgrader;
    expect(() => prepareSource(nb2, "p.ipynb")).toThrow("p.ipynb: cell 4 has a BEGIN SOLUTION region but no nbgrader metadata");
    const nb3 = load("perceptron.ipynb");
    byId(nb3, "test_dot").metadata.nbgrader!.points = "many" as any;
    expect(() => prepareSource(nb3, "p.ipynb")).toThrow('p.ipynb: cell 9 (test_dot) is graded but its points ("many") are not a number >= 0');
  });
});

describe("restore", () => {
  const source = prepareSource(load("perceptron.ipynb"), "perceptron.ipynb");
  const release = releaseNotebook(source, "perceptron.ipynb");
  const ids = (nb: Notebook) => nb.cells.map((c) => gradeId(c) ?? (c.cell_type === "markdown" ? "md" : "code"));

  test("the released notebook unchanged: instructor's tests back (hidden ones too), all solutions unanswered, no complaints", () => {
    const r = restoreSubmission(source, release, JSON.parse(JSON.stringify(release)));
    expect(r.messages).toEqual([]);
    // an older assignment with the helpers cell: the student's copy edited or deleted, replaced without a complaint
    const oldSource = prepareSource(withOldHelpersCell(load("perceptron.ipynb")));
    const oldRelease = releaseNotebook(oldSource);
    for (const edit of [(nb: Notebook) => (byId(nb, CHECKS_GRADE_ID).source = "// older helpers"), (nb: Notebook) => (nb.cells = nb.cells.filter((c) => gradeId(c) !== CHECKS_GRADE_ID))]) {
      const old: Notebook = JSON.parse(JSON.stringify(oldRelease));
      edit(old);
      const r2 = restoreSubmission(oldSource, oldRelease, old);
      expect(r2.messages).toEqual([]);
      expect(byId(r2.notebook, CHECKS_GRADE_ID).source).toBe(byId(oldSource, CHECKS_GRADE_ID).source);
    }
    expect(r.unanswered).toEqual(["perceptron_step", "dot"]);
    expect(byId(r.notebook, "test_dot").source).toBe(byId(source, "test_dot").source);
    expect(ids(r.notebook)).toEqual(ids(source));
  });

  test("edited locked cells and deleted tests are restored and reported; answers are the student's", () => {
    const s: Notebook = JSON.parse(JSON.stringify(release));
    byId(s, "test_dot").source = "// no test";
    byId(s, "data").source = "const DATA = { x: [], y: [] };";
    byId(s, "dot").source = "function dot(a: number[], b: number[]) { return 0; }";
    s.cells = s.cells.filter((c) => gradeId(c) !== "test_train" && gradeId(c) !== "test_step_weights");
    s.cells.splice(3, 0, { cell_type: "code", source: "const mine = 1;", metadata: {}, outputs: [], execution_count: 3 });
    const r = restoreSubmission(source, release, s);
    expect(r.messages).toEqual([
      'Cell "data" is read-only but was changed; the changes were discarded and the instructor\'s version was used.',
      'Cell "test_step_weights" was missing from the submission; the instructor\'s version was put back.',
      'Cell "test_dot" is read-only but was changed; the changes were discarded and the instructor\'s version was used.',
      'Cell "test_train" was missing from the submission; the instructor\'s version was put back.',
    ]);
    expect(byId(r.notebook, "test_dot").source).toBe(byId(source, "test_dot").source);
    expect(byId(r.notebook, "dot").source).toBe("function dot(a: number[], b: number[]) { return 0; }");
    expect(r.unanswered).toEqual(["perceptron_step"]);
    // the student's own cell stays after the graded cell it followed; order otherwise the instructor's
    const order = ids(r.notebook);
    expect(order.indexOf("code")).toBeGreaterThan(order.indexOf("data"));
    expect(order.filter((x) => x !== "md" && x !== "code")).toEqual(ids(source).filter((x) => x !== "md" && x !== "code"));
    expect(r.notebook.cells.every((c) => c.cell_type !== "code" || (c.outputs!.length === 0 && c.execution_count === null))).toBe(true);
  });

  test("tests moved above the answers run after them; duplicates and metadata edits do not fool the grader", () => {
    const s: Notebook = JSON.parse(JSON.stringify(release));
    const t = s.cells.findIndex((c) => gradeId(c) === "test_dot");
    const [cell] = s.cells.splice(t, 1);
    s.cells.unshift(cell);
    const copy = JSON.parse(JSON.stringify(byId(s, "test_step_bias")));
    copy.source = "// my copy";
    s.cells.splice(2, 0, copy); // a copy before the original: the first copy takes the id
    byId(s, "perceptron_step").metadata.nbgrader!.points = 100;
    const r = restoreSubmission(source, release, s);
    expect(ids(r.notebook).indexOf("test_dot")).toBeGreaterThan(ids(r.notebook).indexOf("dot"));
    expect(r.messages).toContain('A second copy of cell "test_step_bias" was found; it was run as an ordinary cell and not graded.');
    expect(r.messages).toContain('Cell "test_step_bias" is read-only but was changed; the changes were discarded and the instructor\'s version was used.');
    expect(byId(r.notebook, "perceptron_step").metadata.nbgrader).toEqual(byId(source, "perceptron_step").metadata.nbgrader);
  });

  test("an empty notebook gets everything from the instructor, answers as stubs", () => {
    const r = restoreSubmission(source, release, { nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] });
    expect(r.unanswered).toEqual(["perceptron_step", "dot"]);
    expect(byId(r.notebook, "dot").source).toBe(byId(release, "dot").source);
    expect(r.messages).toHaveLength(2 + 5); // two answers, four tests and the data cell
  });
});

describe("scoring and reports", () => {
  const source = prepareSource(load("perceptron.ipynb"), "perceptron.ipynb");
  const run = (errors: Record<string, string>, results: Record<string, string> = {}) => {
    const nb: Notebook = JSON.parse(JSON.stringify(source));
    for (const c of nb.cells) {
      const id = gradeId(c);
      if (id && errors[id]) c.outputs = [{ output_type: "stream", name: "stderr", text: "warning\n" }, { output_type: "error", ename: "AssertionError", evalue: errors[id], traceback: ["\x1b[1;31mAssertionError\x1b[0m: x"] }];
      if (id && results[id]) c.outputs = [{ output_type: "execute_result", data: { "text/plain": results[id] }, metadata: {}, execution_count: 1 }];
    }
    return scoreNotebook(nb, "perceptron.ipynb", []);
  };

  test("nbgrader's rules: error 0, numeric result partial credit, anything else full", () => {
    const r = run({ test_dot: "assertEqual: value: got 0, expected 32" }, { test_step_bias: "1.5", test_train: "'done'", test_step_weights: "7" });
    expect(r.map((t) => [t.gradeId, t.score, t.maxScore, t.status, t.hidden])).toEqual([
      ["test_step_weights", 2, 2, "passed", false],
      ["test_step_bias", 1.5, 3, "partial", true],
      ["test_dot", 0, 1, "failed", true],
      ["test_train", 2, 2, "passed", false],
    ]);
    expect(r[2].output).toBe("AssertionError: assertEqual: value: got 0, expected 32");
  });

  const result = (student: string, tests: ReturnType<typeof run>, messages: string[] = []): SubmissionResult => ({
    version: 1,
    student,
    status: "graded",
    score: tests.reduce((s, t) => s + t.score, 0),
    maxScore: 8,
    tests,
    messages,
    inputHash: "h",
    durationMs: 4200,
    restarts: 0,
    gradedAt: "2026-01-01T00:00:00Z",
  });

  test("gradebook CSV: a row per student, a column per test, quoted and formula-safe", () => {
    const cols = testCells(source).map((t) => ({ name: t.gradeId, maxScore: t.points }));
    const csv = gradebookCsv([result("zoe", run({})), result("=cmd", run({ test_dot: "x" }), ['Cell "x", changed'])], cols);
    expect(csv).toBe(
      "student,score,max_score,test_step_weights (2),test_step_bias (3),test_dot (1),test_train (2),status,messages\r\n" +
        "'=cmd,7,8,2,3,0,2,graded,\"Cell \"\"x\"\", changed\"\r\n" +
        "zoe,8,8,2,3,1,2,graded,\r\n",
    );
    expect(csvField("-1+2")).toBe("'-1+2");
    expect(csvField(-1)).toBe("-1");
  });

  test("Gradescope results.json", () => {
    const g = gradescopeResults(result("a", run({ test_dot: "boom" }), ["m1"]));
    expect(g).toEqual({
      score: 7,
      execution_time: 4,
      output: "m1",
      stdout_visibility: "hidden",
      tests: [
        { name: "test_step_weights", number: "1", score: 2, max_score: 2, status: "passed", output: "Passed.", visibility: "visible" },
        { name: "test_step_bias", number: "2", score: 3, max_score: 3, status: "passed", output: "Passed.", visibility: "after_published" },
        { name: "test_dot", number: "3", score: 0, max_score: 1, status: "failed", output: "AssertionError: boom", visibility: "after_published" },
        { name: "test_train", number: "4", score: 2, max_score: 2, status: "passed", output: "Passed.", visibility: "visible" },
      ],
    });
  });

  test("feedback HTML escapes student output, embeds no script and masks hidden tests", () => {
    const nb: Notebook = JSON.parse(JSON.stringify(source));
    byId(nb, "dot").outputs = [
      { output_type: "display_data", data: { "text/html": "<script>alert(1)</script>", "text/plain": "<b>hi</b>" }, metadata: {} },
      { output_type: "stream", name: "stdout", text: "</pre><script>x()</script>" },
    ];
    const html = feedbackHtml("<s>", "p.ipynb", nb, run({}), ["<m>"], false);
    expect(html).not.toMatch(/<script|dot\(\[\], \[\]\)/);
    expect(html).toContain("&lt;b&gt;hi&lt;/b&gt;");
    expect(html).toContain("&lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;");
    expect(html).toContain("// (hidden tests)");
    expect(html).toContain("&lt;s&gt;</strong>: 8 / 8 points");
  });
});

describe("untrusted paths", () => {
  test("student ids are safe single path components, unique", () => {
    expect(["../../etc/passwd", "/abs", "..", ".hidden", "ok_name-1@x.edu", "a b/c", "", "ü"].map((n) => safeName(n))).toEqual([
      "etc_passwd",
      "abs",
      "student",
      "hidden",
      "ok_name-1@x.edu",
      "a_b_c",
      "student",
      "u",
    ]);
    expect(uniqueNames(["a", "A", "a", "b"])).toEqual(["a", "A-2", "a-3", "b"]);
  });

  test("the output folder refuses escapes and links, writes atomically", () => {
    const dir = mkdtempSync(join(tmpdir(), "gradbook-grader-"));
    try {
      const out = new OutputDir(join(dir, "out"));
      expect(() => out.path("..", "x")).toThrow(/unsafe/);
      expect(() => out.path("a/../../x")).toThrow(/unsafe/);
      expect(() => out.path("/etc")).toThrow(/unsafe/);
      writeFileSync(join(dir, "victim"), "keep");
      symlinkSync(join(dir, "victim"), join(out.root, "link.json"));
      out.write(["link.json"], "new"); // replaces the link, not its target
      expect(readFileSync(join(dir, "victim"), "utf8")).toBe("keep");
      symlinkSync(dir, join(out.root, "sub"));
      expect(() => out.write(["sub", "x.json"], "x")).toThrow(/not a folder/);
      expect(existsSync(join(dir, "x.json"))).toBe(false);
      expect(readdirSync(out.root).filter((f) => f.endsWith(".tmp"))).toEqual([]);
      expect(() => readNoFollow(join(out.root, "sub"), 100)).toThrow();
      linkSync(join(dir, "victim"), join(dir, "hard.ipynb"));
      expect(() => readNoFollow(join(dir, "hard.ipynb"), 100, true)).toThrow("it is a hard link to another file; links are refused");
      expect(() => readNoFollow(join(dir, "victim"), 2)).toThrow(/is 4 bytes; the limit is 2/);
      expect(() => parseNotebook("", "e.ipynb")).toThrow("e.ipynb is not valid JSON (the file is empty)");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("submissions: files or folders, links refused, names sanitized", () => {
    const dir = mkdtempSync(join(tmpdir(), "gradbook-grader-"));
    try {
      const sources = loadSources(join(FIX, "perceptron.ipynb"));
      writeFileSync(join(dir, "alice.ipynb"), "{}");
      mkdirSync(join(dir, "bob", "hw1"), { recursive: true });
      writeFileSync(join(dir, "bob", "hw1", "my-perceptron.ipynb"), "{}");
      mkdirSync(join(dir, "carol"));
      writeFileSync(join(dir, "carol", "perceptron.ipynb"), "{}");
      writeFileSync(join(dir, "carol", "notes.ipynb"), "{}");
      symlinkSync("/etc/passwd", join(dir, "mallory.ipynb"));
      writeFileSync(join(dir, "..evil name.ipynb"), "{}");
      writeFileSync(join(dir, "README.txt"), "");
      mkdirSync(join(dir, "graded", "feedback"), { recursive: true }); // --out inside --submissions: not a student
      writeFileSync(join(dir, "graded", "feedback", "x.ipynb"), "{}");
      const subs = discoverSubmissions(dir, sources, [join(dir, "graded")]);
      expect(subs.map((s) => [s.student, [...s.files.values()].map((p) => p && p.slice(dir.length + 1)), s.problems])).toEqual([
        ["alice", ["alice.ipynb"], []],
        ["bob", ["bob/hw1/my-perceptron.ipynb"], []],
        ["carol", ["carol/perceptron.ipynb"], []],
        ["mallory", [null], ["mallory.ipynb is a symbolic link; links are refused"]],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("pyFloatStr writes floats as Python's str(float(x))", () => {
  const xs = [0, 1, 2.25, 0.5, 1e-5, 0.0001, 123456789, 1e16, 1.5e16, 1e22, 0.1, 1 / 3, -2, 12.5e-7];
  const py = execFileSync("/usr/bin/python3", ["-c", `import json,sys; print(json.dumps([str(float(x)) for x in json.loads(sys.argv[1])]))`, JSON.stringify(xs)], { encoding: "utf8" });
  expect(xs.map(pyFloatStr)).toEqual(JSON.parse(py));
});
