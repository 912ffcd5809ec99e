// An assignment whose cells read data files beside the notebook (tests/grader/fixtures/stats/:
// measurements.csv and data/holdout.csv): which files are taken, released, validated and graded with
// real sandboxed kernels, and a submission that overwrites the CSV harming no one else.
import { afterAll, beforeAll, expect, test } from "vitest";
import { capture } from "./capture.ts";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { changedFiles, collectFiles, copyFileSets, FilesError, globToRegExp } from "../../kernel/grader/files.ts";
import { executeNotebook } from "../../kernel/grader/execute.ts";
import { grade, loadSources } from "../../kernel/grader/grade.ts";
import { graderCommands } from "../../kernel/grader/index.ts";
import { gradeId, parseNotebook, serializeNotebook, type Notebook } from "../../kernel/grader/notebook.ts";
import type { SubmissionResult } from "../../kernel/grader/reports.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(dirname(HERE));
const FIXTURE = join(HERE, "fixtures", "stats");
const ROOT_UID = typeof process.getuid === "function" && process.getuid() === 0;
let dir: string, src: string;

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "kernel.js")) || !existsSync(join(ROOT, "dist", "cli.js"))) spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "gradbook-files-test-"));
  chmodSync(dir, 0o755); // (the unreadable-file test runs the command as nobody)
  // The instructor's folder: the fixture plus what must never be taken.
  src = join(dir, "src");
  cpSync(FIXTURE, src, { recursive: true });
  mkdirSync(join(src, "node_modules", "pkg"), { recursive: true });
  writeFileSync(join(src, "node_modules", "pkg", "index.js"), "module.exports = 1;");
  mkdirSync(join(src, ".ipynb_checkpoints"));
  writeFileSync(join(src, ".ipynb_checkpoints", "stats-checkpoint.ipynb"), "{}");
  writeFileSync(join(src, ".answers.txt"), "hidden");
  writeFileSync(join(src, "measurements.csv~"), "an editor's backup");
  mkdirSync(join(src, "drafts"));
  writeFileSync(join(src, "drafts", "stats-solutions.ipynb"), "{}");
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});


const cell = (nb: Notebook, id: string) => nb.cells.find((c) => gradeId(c) === id)!;
const code = (source: string) => ({ cell_type: "code" as const, source, metadata: {}, outputs: [], execution_count: null });
const SOLUTION = (id: string) => cell(loadSources(join(FIXTURE, "stats.ipynb"))[0].source, id).source.replace(/ *\/\/ (BEGIN|END) SOLUTION\n/g, "");

/** The released notebook answered: right, or with the mean divided by n - 1; extra cells inserted before the tests. */
function answered(release: Notebook, opts: { wrongMean?: boolean; extra?: string[] } = {}): Notebook {
  const nb: Notebook = JSON.parse(JSON.stringify(release));
  cell(nb, "load_matrix").source = SOLUTION("load_matrix");
  cell(nb, "column_means").source = opts.wrongMean ? SOLUTION("column_means").replace("/ rows.length", "/ (rows.length - 1)") : SOLUTION("column_means");
  const at = nb.cells.indexOf(cell(nb, "test_load"));
  nb.cells.splice(at, 0, ...(opts.extra ?? []).map(code));
  return nb;
}

test("the fixture's expected values are the CSVs' column means (reference: Python's csv and statistics)", () => {
  const py = "import csv, json, statistics, sys\nfor f in sys.argv[1:]:\n  rows = list(csv.reader(open(f)))[1:]\n  print(json.dumps([statistics.fmean(float(r[j]) for r in rows) for j in range(len(rows[0]))]))";
  const [m, h] = execFileSync("/usr/bin/python3", ["-c", py, join(FIXTURE, "measurements.csv"), join(FIXTURE, "data", "holdout.csv")], { encoding: "utf8" }).trim().split("\n").map((l) => JSON.parse(l) as number[]);
  const tests = cell(loadSources(join(FIXTURE, "stats.ipynb"))[0].source, "test_means").source;
  expect(tests).toContain(`assertClose(columnMeans(loadMatrix("measurements.csv")), [${m.join(", ")}]);`);
  expect(tests).toContain(`assertClose(columnMeans(loadMatrix("data/holdout.csv")), [${h.join(", ")}]);`);
});

test("which files are taken: not notebooks, hidden files, node_modules, backups, excluded folders; a student's links are refused", () => {
  const set = collectFiles(src, { exclude: [join(src, "release")] });
  expect(set.files.map((f) => [f.rel, f.size])).toEqual([
    ["data/holdout.csv", 30],
    ["measurements.csv", 42],
  ]);
  expect(set.skipped).toEqual([]);

  // a student's folder: nothing followed, nothing but plain files
  const st = join(dir, "student-folder");
  mkdirSync(join(st, "mine"), { recursive: true });
  writeFileSync(join(st, "mine", "notes.txt"), "my notes");
  writeFileSync(join(st, "stats.ipynb"), "{}");
  symlinkSync(join(src, "measurements.csv"), join(st, "link.csv"));
  symlinkSync(src, join(st, "linked-folder"));
  linkSync(join(st, "mine", "notes.txt"), join(st, "hard.txt"));
  execFileSync("mkfifo", [join(st, "pipe")]);
  const s = collectFiles(st, { untrusted: true, hash: true, label: "the submission's folder" });
  expect(s.files.map((f) => f.rel)).toEqual([]);
  expect(s.skipped).toEqual([
    "hard.txt (a hard link to another file; links are refused)",
    "link.csv (a symbolic link; links are refused)",
    "linked-folder (a symbolic link; links are refused)",
    "mine/notes.txt (a hard link to another file; links are refused)",
    "pipe (not a regular file)",
  ]);
  rmSync(join(st, "hard.txt"));
  const s2 = collectFiles(st, { untrusted: true, hash: true, label: "the submission's folder" });
  expect(s2.files.map((f) => f.rel)).toEqual(["mine/notes.txt"]);
  // a student's too-large folder names the file, not the grader's paths
  expect(() => collectFiles(st, { untrusted: true, maxBytes: 4, label: "the submission's folder" })).toThrow(
    new FilesError("the files beside the notebooks in the submission's folder pass the limit of 4 B at mine/notes.txt (8 B, itself over the limit)"),
  );
});

test("--exclude patterns: names at any depth, anchored paths, ** across folders; release leaves them behind", async () => {
  const cases: [string, string[], string[]][] = [
    // pattern, paths it matches, paths it does not
    ["*.csv", ["a.csv", "data/b.csv"], ["a.csvx", "data/csv"]],
    ["data", ["data", "x/data"], ["data2", "mydata"]],
    ["/data", ["data"], ["x/data"]],
    ["data/*.csv", ["data/b.csv"], ["x/data/b.csv", "data/sub/b.csv"]],
    ["**/solutions/**", ["solutions/a.txt", "x/y/solutions/a.txt"], ["solutions", "x/solution/a.txt"]],
    ["w?ights.bin", ["weights.bin", "m/wxights.bin"], ["weights.bin.bak", "w/ights.bin"]],
    ["a+b (1).txt", ["a+b (1).txt"], ["aab (1).txt"]],
  ];
  for (const [pattern, yes, no] of cases) {
    const re = globToRegExp(pattern);
    for (const p of yes) expect(re.test(p), `${pattern} should match ${p}`).toBe(true);
    for (const p of no) expect(re.test(p), `${pattern} should not match ${p}`).toBe(false);
  }
  expect(() => globToRegExp("/")).toThrow(new FilesError('--exclude: the pattern "/" names no file'));
  // a matching folder is left out whole; a file by name
  expect(collectFiles(src, { exclude: [join(src, "release")], ignore: ["data"] }).files.map((f) => f.rel)).toEqual(["measurements.csv"]);
  expect(collectFiles(src, { exclude: [join(src, "release")], ignore: ["holdout.*"] }).files.map((f) => f.rel)).toEqual(["measurements.csv"]);
  const r = await capture(() => graderCommands.release.run([join(src, "stats.ipynb"), "--out", join(dir, "release-x"), "--exclude", "data", "--exclude=*.txt"]));
  expect(r.code).toBe(0);
  expect(r.out).toContain(`files: copied 1 file (42 B) from ${src}: measurements.csv`);
  expect(readdirSync(join(dir, "release-x")).sort()).toEqual(["measurements.csv", "stats.ipynb"]);
  rmSync(join(dir, "release-x"), { recursive: true });
});

test("copies: the instructor's files over the student's; changes to the copies are found", () => {
  const student = join(dir, "layer-student"), dest = join(dir, "layer-dest");
  mkdirSync(join(student, "mine"), { recursive: true });
  writeFileSync(join(student, "measurements.csv"), "x,y,z\n9,9,9\n");
  writeFileSync(join(student, "data"), "a file where the assignment has a folder");
  writeFileSync(join(student, "mine", "notes.txt"), "my notes");
  const mine = collectFiles(student, { untrusted: true, hash: true });
  const theirs = collectFiles(src, { hash: true });
  expect(copyFileSets([mine, theirs], dest)).toBe(5);
  expect(readFileSync(join(dest, "measurements.csv"), "utf8")).toBe(readFileSync(join(FIXTURE, "measurements.csv"), "utf8"));
  expect(readFileSync(join(dest, "data", "holdout.csv"), "utf8")).toBe(readFileSync(join(FIXTURE, "data", "holdout.csv"), "utf8"));
  expect(readFileSync(join(dest, "mine", "notes.txt"), "utf8")).toBe("my notes");
  expect(changedFiles(theirs, dest)).toEqual([]);
  writeFileSync(join(dest, "measurements.csv"), "x,y,z\n0,0,0\n");
  rmSync(join(dest, "data"), { recursive: true });
  symlinkSync(join(src, "data"), join(dest, "data")); // the same content through a link is not the copy
  expect(changedFiles(theirs, dest)).toEqual(["data/holdout.csv", "measurements.csv"]);
  expect(readFileSync(join(src, "measurements.csv"), "utf8")).toBe(readFileSync(join(FIXTURE, "measurements.csv"), "utf8"));
});

test("clear errors: a missing source or submissions folder, too large, an unreadable file; nothing written", async () => {
  await expect(graderCommands.release.run([join(dir, "nope", "stats.ipynb"), "--out", join(dir, "r0")])).rejects.toThrow(
    `the source ${join(dir, "nope", "stats.ipynb")} does not exist (give the instructor's notebook or the folder of them)`,
  );
  await expect(grade({ source: join(dir, "nope"), submissions: dir, out: join(dir, "g0"), progress: null })).rejects.toThrow(`the source ${join(dir, "nope")} does not exist`);
  await expect(grade({ source: src, submissions: join(dir, "nope"), out: join(dir, "g0"), progress: null })).rejects.toThrow(`the submissions folder ${join(dir, "nope")} does not exist`);
  rmSync(join(dir, "g0"), { recursive: true, force: true });

  const big = join(dir, "big");
  cpSync(FIXTURE, big, { recursive: true });
  writeFileSync(join(big, "weights.safetensors"), "");
  truncateSync(join(big, "weights.safetensors"), 201 << 20); // sparse: nothing is written or read
  await expect(graderCommands.release.run([join(big, "stats.ipynb"), "--out", join(dir, "r1")])).rejects.toThrow(
    `the files beside the notebooks in ${big} pass the limit of 200.0 MB at weights.safetensors (201.0 MB, itself over the limit); leave large files out of the folder (or out of the release with --exclude), raise the limit with --max-files-mb, or release the notebooks alone with --no-files`,
  );
  await expect(graderCommands.release.run([join(src, "stats.ipynb"), "--out", join(dir, "r1"), "--max-files-mb", "0.00005"])).rejects.toThrow(
    `the files beside the notebooks in ${src} pass the limit of 52 B at measurements.csv (42 B; 72 B so far)`,
  );
  await expect(grade({ source: big, submissions: join(dir, "big"), out: join(dir, "g1"), progress: null })).rejects.toThrow(/pass the limit of 200.0 MB at weights.safetensors .*--max-files-mb$/);
  expect(existsSync(join(dir, "r1"))).toBe(false);
  expect(readdirSync(join(dir, "g1"))).toEqual([]); // (--out made; no kernel started)

  // unreadable: as root, the command runs as nobody (root reads everything)
  const locked = join(dir, "locked");
  cpSync(FIXTURE, locked, { recursive: true });
  writeFileSync(join(locked, "secret.csv"), "instructor only");
  chmodSync(locked, 0o755);
  chmodSync(join(locked, "secret.csv"), ROOT_UID ? 0o600 : 0o000);
  const expected = `the file ${join(locked, "secret.csv")} cannot be read: permission denied (EACCES)`;
  if (ROOT_UID) {
    const r = spawnSync(process.execPath, [join(ROOT, "bin", "gradbook.js"), "release", join(locked, "stats.ipynb"), "--out", join(dir, "r2")], { encoding: "utf8", uid: 65534, gid: 65534 });
    expect([r.status, r.stdout, r.stderr]).toEqual([1, "", `gradbook release: ${expected}\n`]);
  } else await expect(graderCommands.release.run([join(locked, "stats.ipynb"), "--out", join(dir, "r2")])).rejects.toThrow(expected);
  expect(existsSync(join(dir, "r2"))).toBe(false);
});

test("release copies the files, validate runs beside them, grade gives each notebook its own copy", async () => {
  // release: the CSVs go with the notebook; what is not the assignment's stays behind
  const r = await capture(() => graderCommands.release.run([join(src, "stats.ipynb"), "--out", join(src, "release")]));
  expect(r).toEqual({
    code: 0,
    out: [`stats.ipynb: released to ${join(src, "release", "stats.ipynb")} (2 test cells)`, `files: copied 2 files (72 B) from ${src}: data/holdout.csv, measurements.csv`].join("\n"),
  });
  expect(readdirSync(join(src, "release")).sort()).toEqual(["data", "measurements.csv", "stats.ipynb"]);
  expect(readFileSync(join(src, "release", "data", "holdout.csv"), "utf8")).toBe(readFileSync(join(FIXTURE, "data", "holdout.csv"), "utf8"));
  const release = parseNotebook(readFileSync(join(src, "release", "stats.ipynb"), "utf8"));
  expect(JSON.stringify(release)).not.toContain("HIDDEN");

  // validate: in the student's folder, where release put the CSV
  writeFileSync(join(src, "release", "mine.ipynb"), serializeNotebook(answered(release)));
  const v = await capture(() => graderCommands.validate.run([join(src, "release", "mine.ipynb")]));
  expect(v.out.split("\n")).toEqual([
    "mine.ipynb: 2 of 2 visible tests pass (3 of 3 points)",
    "  PASS  test_load (1/1)",
    "  PASS  test_means (2/2)",
    "Hidden tests are not included: passing every visible test does not guarantee full points.",
  ]);
  expect(v.code).toBe(0);
  rmSync(join(src, "release"), { recursive: true });

  // grade: folder submissions (nbgrader's layout) and a single notebook
  const subs = join(dir, "subs");
  const put = (path: string, content: string) => (mkdirSync(dirname(join(subs, path)), { recursive: true }), writeFileSync(join(subs, path), content));
  const original = join(src, "measurements.csv");
  const vandal = [
    "import { readdirSync, rmSync, writeFileSync } from 'node:fs';",
    "for (const [what, f] of [",
    "  ['its own copy', () => { writeFileSync('measurements.csv', 'x,y,z\\n0,0,0\\n'); rmSync('data', { recursive: true }); }],",
    `  ["the instructor's file", () => writeFileSync(${JSON.stringify(original)}, 'x,y,z\\n0,0,0\\n')],`,
    "  ['the other kernels', () => readdirSync('../..')],",
    "] as [string, () => unknown][]) {",
    "  try { f(); console.log(`${what}: written`); } catch (e) { console.log(`${what}: refused: ${(e as Error).message}`); }",
    "}",
  ].join("\n");
  const listing = "import { readdirSync as ls } from 'node:fs';\nconsole.log(JSON.stringify(ls('.').sort()));";
  put("a_vandal/stats.ipynb", serializeNotebook(answered(release, { extra: [vandal] })));
  put("correct/assignment1/stats.ipynb", serializeNotebook(answered(release, { extra: [listing, "console.log(readFileSync('mine/notes.txt', 'utf8'))"] })));
  put("correct/assignment1/measurements.csv", "x,y,z\n9,9,9\n"); // the student's own copy: the instructor's replaces it
  put("correct/assignment1/mine/notes.txt", "my own notes");
  symlinkSync("/etc/passwd", join(subs, "correct", "assignment1", "link.csv"));
  put("wrong/stats.ipynb", serializeNotebook(answered(release, { wrongMean: true })));
  put("wrong/big.bin", "x".repeat(5000));
  put("flat.ipynb", serializeNotebook(answered(release, { extra: [listing] })));
  const opts = { source: src, submissions: subs, jobs: 2, cellTimeoutS: 30, notebookTimeoutS: 300, memoryMb: 1536, maxFilesBytes: 4096, progress: null };
  const s = await grade({ ...opts, out: join(dir, "out") });
  expect(s.files).toEqual({ root: src, count: 2, bytes: 72, skipped: [] });
  const results = new Map<string, SubmissionResult>(s.results.map((x) => [x.student, x]));
  expect(s.results.map((x) => [x.student, x.status, x.score, x.maxScore, x.tests.map((t) => [t.gradeId, t.score])])).toEqual([
    ["a_vandal", "graded", 0, 3, [["test_load", 0], ["test_means", 0]]],
    ["correct", "graded", 3, 3, [["test_load", 1], ["test_means", 2]]],
    ["flat", "graded", 3, 3, [["test_load", 1], ["test_means", 2]]],
    ["wrong", "graded", 1, 3, [["test_load", 1], ["test_means", 0]]],
  ]);
  const printed = (student: string, marker: string) => {
    const fb = parseNotebook(readFileSync(join(dir, "out", "feedback", student, "stats.ipynb"), "utf8"));
    return (fb.cells.find((c) => c.source.includes(marker))!.outputs ?? []).map((o) => o.text ?? o.evalue ?? "").join("");
  };
  // the vandal changed its own copy only, and is told so
  expect(printed("a_vandal", "the other kernels").trim().split("\n")).toEqual([
    "its own copy: written",
    // (the path is under /tmp: Node's permission model lets the kernel use /tmp, the sandbox's own, where it is not)
    expect.stringMatching(/^the instructor's file: refused: (Access to this API has been restricted|ENOENT: no such file or directory, open .*measurements\.csv')$/),
    "the other kernels: refused: Access to this API has been restricted",
  ]);
  expect(results.get("a_vandal")!.messages).toEqual([
    "The notebook changed the assignment's files data/holdout.csv, measurements.csv in its working folder while it ran; that was its own copy (the instructor's files and other submissions' copies are separate), and the cells after the change saw the changed file.",
  ]);
  expect(results.get("a_vandal")!.tests[0].output).toBe("AssertionError: assertEqual: value: got 1, expected 6");
  expect(readFileSync(original, "utf8")).toBe(readFileSync(join(FIXTURE, "measurements.csv"), "utf8"));
  // the student's own files are there, under the instructor's; a link is not
  expect(printed("correct", "ls('.')")).toBe('["data","measurements.csv","mine"]\n');
  expect(printed("correct", "mine/notes.txt")).toBe("my own notes\n");
  expect(results.get("correct")!.messages).toEqual(["Not copied from assignment1/ in the submission: link.csv (a symbolic link; links are refused)."]);
  // a single-notebook submission gets the assignment's files only (never the submissions folder)
  expect(printed("flat", "ls('.')")).toBe('["data","measurements.csv"]\n');
  expect(results.get("flat")!.messages).toEqual([]);
  // too many bytes of the student's files: not used, graded anyway
  expect(results.get("wrong")!.messages).toEqual(["The student's files were not used: the files beside the notebooks in the submission's folder pass the limit of 4.0 kB at big.bin (4.9 kB, itself over the limit)."]);
  expect(results.get("wrong")!.tests[1].output).toMatch(/^AssertionError: assertClose: got 4\.2 at \[0\], expected 3\.5 /);

  // without the student's files, and without any files: the same submission
  const one = join(dir, "one");
  cpSync(join(subs, "correct"), join(one, "correct"), { recursive: true, verbatimSymlinks: true });
  const noStudent = (await grade({ ...opts, submissions: one, out: join(dir, "out2"), studentFiles: false })).results[0];
  expect([noStudent.score, noStudent.messages]).toEqual([3, []]);
  const fb2 = parseNotebook(readFileSync(join(dir, "out2", "feedback", "correct", "stats.ipynb"), "utf8"));
  expect(fb2.cells.find((c) => c.source.includes("ls('.')"))!.outputs![0].text).toBe('["data","measurements.csv"]\n');
  const none = await grade({ ...opts, submissions: one, out: join(dir, "out3"), files: false });
  expect(none.files).toBe(null);
  expect(none.results[0].tests.map((t) => [t.score, t.output])).toEqual([
    [0, "Error: ENOENT: no such file or directory, open 'measurements.csv'"],
    [0, "Error: ENOENT: no such file or directory, open 'measurements.csv'"],
  ]);
  expect(readdirSync(dir).sort()).toEqual(["big", "g1", "layer-dest", "layer-student", "locked", "one", "out", "out2", "out3", "src", "student-folder", "subs"]);
}, 900_000);

test("after a kernel restart the cells run again see the files as they were at the start, not what they wrote", async () => {
  const files = collectFiles(FIXTURE, { hash: true });
  const before = readFileSync(join(FIXTURE, "measurements.csv"), "utf8");
  const nb: Notebook = {
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [
      code("import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';\nappendFileSync('measurements.csv', 'appended\\n');\nwriteFileSync('made-by-cell-1.txt', 'x', { flag: 'wx' });\nwriteFileSync(process.env.TMPDIR + '/t.txt', 'x', { flag: 'wx' });\n'ok'"),
      code("process.exit(3)"),
      code("[readFileSync('measurements.csv', 'utf8') === " + JSON.stringify(before + "appended\n") + ", existsSync('made-by-cell-1.txt')]"),
    ],
  };
  const scratchRoot = mkdtempSync(join(tmpdir(), "gradbook-restart-"));
  chmodSync(scratchRoot, 0o755); // (the kernel runs as nobody when the tests run as root)
  try {
    const ex = await executeNotebook(nb, {
      kernelScript: join(ROOT, "dist", "kernel.js"), scratchRoot, cellTimeoutMs: 60_000, notebookTimeoutMs: 300_000, memoryMb: 1536, files: [files],
      user: ROOT_UID ? undefined : null,
    });
    expect(ex.restarts).toBe(1);
    expect(ex.messages).toEqual([
      'Cell 2 was stopped: the kernel stopped while running this cell: the process exited with code 3 (process.exit() or a crash). A new kernel was started and the earlier cell that had run was run again.',
      "The notebook changed the assignment's file measurements.csv in its working folder while it ran; that was its own copy (the instructor's files and other submissions' copies are separate), and the cells after the change saw the changed file.",
    ]);
    // appended once, not twice; the files cell 1 made with 'wx' (fails if the file exists) were made again
    expect(ex.notebook.cells[2].outputs![0].data!["text/plain"]).toBe("[ true, true ]");
  } finally {
    rmSync(scratchRoot, { recursive: true, force: true });
  }
  expect(readFileSync(join(FIXTURE, "measurements.csv"), "utf8")).toBe(before);
}, 300_000);
