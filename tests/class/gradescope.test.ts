// The Gradescope autograder zip (gradbook gradescope) in a local emulation of Gradescope's layout: the zip unpacked
// by Python's zipfile (modes restored as unzip does) into /autograder/source inside a bubblewrap sandbox (no
// network, the host's /usr read-only, as root as Gradescope runs it), setup.sh run once, then run_autograder for a
// correct, a wrong, a broken and a prying submission (one that reads the instructor's notebook), each in a fresh
// sandbox; results.json checked against Gradescope's documented format (a JSON schema written from its
// specification) and the instructor's visibility choices.
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { loadSources, NO_SANDBOX_NOTE } from "../../kernel/grader/grade.ts";
import { gradeId, serializeNotebook, type Notebook } from "../../kernel/grader/notebook.ts";
import { answer, MAX_SCORE, NOTEBOOK, SCORES, writeSource } from "./fixtures.ts";
import { ensureBuilt, ROOT } from "../kernel/helpers.ts";

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

let dir: string;
let ag: string; // the emulated /autograder
const schema = JSON.parse(readFileSync(join(__dirname, "gradescope-results.schema.json"), "utf8"));
const validate = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true }).compile(schema);

/** Runs a command in the emulated Gradescope container: / from the host's /usr and /etc, /autograder bound, no network. */
function inSandbox(cmd: string, o: { sourceWritable?: boolean } = {}) {
  const root: string[] = [];
  for (const d of ["bin", "lib", "lib32", "lib64", "libx32", "sbin"]) {
    const p = `/${d}`;
    if (!existsSync(p)) continue;
    if (lstatSync(p).isSymbolicLink()) root.push("--symlink", readlinkSync(p), p);
    else root.push("--ro-bind", p, p);
  }
  const args = [
    "--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
    "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc", ...root,
    "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/root",
    "--bind", ag, "/autograder",
    ...(o.sourceWritable ? [] : ["--ro-bind", join(ag, "source"), "/autograder/source"]),
    "--chdir", "/autograder", "--cap-add", "ALL",
    "--clearenv", "--setenv", "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "--setenv", "HOME", "/root", "--setenv", "LANG", "C.UTF-8",
    "/bin/bash", "-c", cmd,
  ];
  return spawnSync("bwrap", args, { encoding: "utf8", timeout: 240_000 });
}

function prying(nb: Notebook): Notebook {
  const cell = nb.cells.find((c) => gradeId(c) === "square")!;
  cell.source = [
    'import * as fsProbe from "node:fs";',
    "let refused = false;",
    `try { fsProbe.readFileSync("/autograder/source/assignment/${NOTEBOOK}", "utf8"); } catch (e: any) { refused = e.code === "ERR_ACCESS_DENIED" || e.code === "EACCES"; }`,
    "function square(x: number): number {",
    "  return refused ? x * x : 0;",
    "}",
  ].join("\n");
  return nb;
}

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "gradbook-gradescope-"));
  writeSource(join(dir, "ps1"));
  const zip = join(dir, "autograder.zip");
  // --no-sandbox: this emulation's /proc (bwrap's, like Docker's masked one) cannot host the grader's nested sandbox
  const made = spawnSync(process.execPath, [join(ROOT, "dist", "cli.js"), "gradescope", join(dir, "ps1"), "--out", zip, "--visibility", "after_due_date", "--hidden-tests", "hidden", "--stdout-visibility", "visible", "--no-sandbox"], { encoding: "utf8" });
  expect(made.status, made.stderr).toBe(0);
  ag = join(dir, "autograder");
  mkdirSync(join(ag, "source"), { recursive: true });
  // unpacked by an independent reader, restoring the Unix modes as unzip does
  const unz = spawnSync(
    "/usr/bin/python3",
    ["-c", "import sys, zipfile, os\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nfor i in z.infolist():\n    p = z.extract(i, sys.argv[2])\n    m = i.external_attr >> 16\n    if m: os.chmod(p, m & 0o777)\nprint(len(z.infolist()))", zip, join(ag, "source")],
    { encoding: "utf8" },
  );
  expect(unz.status, unz.stderr).toBe(0);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the zip: Gradescope's two scripts at its root, executable; the assignment, settings and gradbook in it", () => {
  for (const f of ["setup.sh", "run_autograder"]) expect(lstatSync(join(ag, "source", f)).mode & 0o777, f).toBe(0o755);
  expect(readFileSync(join(ag, "source", "run_autograder"), "utf8")).toMatch(/^#!\/usr\/bin\/env bash\n/);
  expect(existsSync(join(ag, "source", "assignment", NOTEBOOK))).toBe(true);
  expect(readFileSync(join(ag, "source", "assignment", "data.csv"), "utf8")).toBe("x\n1\n2\n3\n4\n");
  expect(JSON.parse(readFileSync(join(ag, "source", "gradescope.json"), "utf8"))).toEqual({ visibility: "after_due_date", hiddenTests: "hidden", stdoutVisibility: "visible", sandbox: false, notebooks: [NOTEBOOK] });
  for (const f of ["dist/cli.js", "dist/kernel.js", "node_modules/typescript/package.json", "node_modules/zeromq/package.json"]) expect(existsSync(join(ag, "source", "gradbook", f)), f).toBe(true);
  // linux-x64 only
  expect(existsSync(join(ag, "source", "gradbook", "node_modules", "webgpu", "dist", "win32-x64"))).toBe(false);
});

test("a zip built with the sandbox (the default): setup.sh stops where the image cannot run it, and names the fix", () => {
  // this emulation's /proc is masked like Docker's (bwrap's own --proc): the grader's nested sandbox cannot mount one
  const settingsFile = join(ag, "source", "gradescope.json");
  const built = readFileSync(settingsFile, "utf8");
  const { sandbox, ...sandboxed } = JSON.parse(built);
  expect(sandbox).toBe(false);
  writeFileSync(settingsFile, JSON.stringify(sandboxed));
  try {
    const setup = inSandbox("bash /autograder/source/setup.sh", { sourceWritable: true });
    expect(setup.status, setup.stdout + setup.stderr).not.toBe(0);
    expect(setup.stderr).toMatch(/gradbook gradescope: the sandbox cannot start .*build the autograder again with gradbook gradescope \.\.\. --no-sandbox/);
  } finally {
    writeFileSync(settingsFile, built);
  }
});

test("setup.sh, then run_autograder for a correct, a wrong, a broken and a prying submission", () => {
  // Gradescope builds the image once: setup.sh (Node and bubblewrap are already here, so it installs nothing) and
  // its check that gradbook grades the instructor's notebook; then run_autograder is copied to /autograder.
  const setup = inSandbox("bash /autograder/source/setup.sh", { sourceWritable: true });
  expect(setup.status, setup.stdout + setup.stderr).toBe(0);
  expect(setup.stdout).toContain(`the instructor's notebook scores ${MAX_SCORE} / ${MAX_SCORE}`);
  copyFileSync(join(ag, "source", "run_autograder"), join(ag, "run_autograder"));
  chmodSync(join(ag, "run_autograder"), 0o755);

  const release = loadSources(join(dir, "ps1"))[0].release;
  const cases: [string, string, number][] = [
    ["correct", serializeNotebook(answer(release, "correct")), SCORES.correct],
    ["wrong", serializeNotebook(answer(release, "wrong_mean")), SCORES.wrong_mean],
    ["broken", '{"cells": [', 0],
    // right answers, and a square() that is right only when reading the instructor's notebook (solutions, hidden
    // tests) in /autograder/source is refused: built with --no-sandbox, Node's permission model and the kernel's own uid refuse it
    ["prying", serializeNotebook(prying(answer(release, "correct"))), SCORES.correct],
  ];
  for (const [kind, content, score] of cases) {
    rmSync(join(ag, "submission"), { recursive: true, force: true });
    rmSync(join(ag, "results"), { recursive: true, force: true });
    mkdirSync(join(ag, "submission"));
    mkdirSync(join(ag, "results"));
    writeFileSync(join(ag, "submission", NOTEBOOK), content);
    const r = inSandbox("/autograder/run_autograder > /autograder/results/stdout 2>&1");
    const stdout = readFileSync(join(ag, "results", "stdout"), "utf8");
    expect(r.status, `${kind}: ${stdout}${r.stderr}`).toBe(0);
    const results = JSON.parse(readFileSync(join(ag, "results", "results.json"), "utf8"));
    expect(validate(results), `${kind}: ${JSON.stringify(validate.errors)}`).toBe(true);
    expect(results.score, kind).toBe(score);
    expect(results.visibility).toBe("after_due_date");
    expect(results.stdout_visibility).toBe("visible");
    expect(results.tests.map((t: any) => [t.name, t.max_score, t.visibility])).toEqual([
      ["test_square", 3, "hidden"], // has hidden tests
      ["test_mean", 2, "after_due_date"],
    ]);
    expect(results.tests.reduce((s: number, t: any) => s + t.score, 0)).toBe(score);
    expect(JSON.stringify(results)).not.toContain("square(-2)"); // the hidden test's code
    if (kind === "wrong") expect(results.tests[1]).toMatchObject({ status: "failed", score: 0 });
    if (kind === "broken") expect(results.output).toMatch(/not valid JSON|not a valid notebook|not graded/i);
    expect(results.output).toContain(NO_SANDBOX_NOTE); // (built with --no-sandbox: every result says so)
    expect(stdout).toContain(`${score} / ${MAX_SCORE}`);
  }
});
