// The release and validate sub-commands as the command line runs them (kernel/cli.ts dispatches to these entries).
import { afterAll, beforeAll, expect, test } from "vitest";
import { capture } from "./capture.ts";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { graderCommands } from "../../kernel/grader/index.ts";
import { gradeId, parseNotebook, serializeNotebook } from "../../kernel/grader/notebook.ts";
import { CORRECT_DOT, CORRECT_STEP } from "./submissions.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(dirname(HERE));
let dir: string;
beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "kernel.js")) || !existsSync(join(ROOT, "dist", "gradbook.js"))) spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "gradbook-commands-test-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});


test("release writes the student version; bad arguments get the usage", async () => {
  const r = await capture(() => graderCommands.release.run([join(HERE, "fixtures", "perceptron.ipynb"), "--out", join(dir, "release"), "--no-files"]));
  expect(r.code).toBe(0);
  expect(r.out).toBe(`perceptron.ipynb: released to ${join(dir, "release", "perceptron.ipynb")} (4 test cells)`);
  const nb = parseNotebook(readFileSync(join(dir, "release", "perceptron.ipynb"), "utf8"));
  expect(nb.cells.find((c) => gradeId(c) === "dot")!.source).toContain('throw new Error("not implemented");');
  expect(JSON.stringify(nb)).not.toContain("HIDDEN");
  const bad = await capture(() => graderCommands.release.run([join(HERE, "fixtures", "perceptron.ipynb")]));
  expect(bad).toEqual({ code: 2, out: "--out DIR is required\nusage: gradbook release SOURCE.ipynb|DIR... --out DIR [--no-files] [--exclude PATTERN]... [--max-files-mb MB]" });
  const bad2 = await capture(() => graderCommands.grade.run(["--source", "x", "--frobnicate"]));
  expect(bad2.code).toBe(2);
  expect(bad2.out).toMatch(/^unknown option --frobnicate\nusage: gradbook grade --source/);
});

test("validate runs a student's notebook and lists the visible tests", async () => {
  const nb = parseNotebook(readFileSync(join(dir, "release", "perceptron.ipynb"), "utf8"));
  nb.cells.find((c) => gradeId(c) === "perceptron_step")!.source = CORRECT_STEP.replace("b: b + lr * y", "b");
  nb.cells.find((c) => gradeId(c) === "dot")!.source = CORRECT_DOT;
  nb.cells.find((c) => gradeId(c) === "test_dot")!.source += "\n// I was here";
  writeFileSync(join(dir, "mine.ipynb"), serializeNotebook(nb));
  const r = await capture(() => graderCommands.validate.run([join(dir, "mine.ipynb"), "--cell-timeout", "60"]));
  expect(r.out.split("\n")).toEqual([
    "mine.ipynb: 3 of 4 visible tests pass (6 of 8 points)",
    "  PASS  test_step_weights (2/2)",
    "  PASS  test_step_bias (3/3)",
    "  PASS  test_dot (1/1)",
    expect.stringMatching(/^  FAIL  test_train \(0\/2\): AssertionError: the trained perceptron should classify every training point: assertEqual: value\[\d\]: got -?1, expected -?1$/),
    '  warning: cell "test_dot" is read-only but was changed: the grader will use the original',
    "Hidden tests are not included: passing every visible test does not guarantee full points.",
  ]);
  expect(r.code).toBe(1);
}, 300_000);

test("validate: a missing file, a folder, an empty file: one line naming the file", async () => {
  const missing = join(dir, "nope.ipynb");
  writeFileSync(join(dir, "empty.ipynb"), "");
  const run = (f: string) => {
    const r = spawnSync(process.execPath, [join(ROOT, "bin", "gradbook.js"), "validate", f], { encoding: "utf8" });
    return { code: r.status, out: r.stdout + r.stderr };
  };
  expect([missing, dir, join(dir, "empty.ipynb")].map(run)).toEqual([
    { code: 1, out: `gradbook validate: ${missing} does not exist (give the student's notebook)\n` },
    { code: 1, out: `gradbook validate: ${dir} is not a regular file\n` },
    { code: 1, out: "gradbook validate: empty.ipynb is not valid JSON (the file is empty)\n" },
  ]);
});
