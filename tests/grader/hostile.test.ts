// A class of submissions made to attack the grader (tests/grader/hostile.ts), graded with real gradbook
// kernels in their sandboxes, two at a time: every score exact, no hidden test in any output, the
// other students' results untouched, the rest of the class graded normally. Then the attacks on files,
// processes, the network and native code again with Node's permission model off: the sandbox alone
// holds them.
import { afterAll, beforeAll, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { grade, loadSources, type GradeOptions } from "../../kernel/grader/grade.ts";
import { gradeId, parseNotebook, serializeNotebook } from "../../kernel/grader/notebook.ts";
import type { SubmissionResult } from "../../kernel/grader/reports.ts";
import { assignment, compileLibrary, hostileSubmissions, SECRET, type Targets } from "./hostile.ts";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
let dir: string, targets: Targets, server: Server;
let connections = 0;

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist", "kernel.js"))) spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "gradbook-hostile-test-"));
  mkdirSync(join(dir, "course"));
  writeFileSync(join(dir, "course", "hostile.ipynb"), serializeNotebook(assignment()));
  writeFileSync(join(dir, "course", "data.csv"), "1,2,3\n");
  server = createServer((s) => {
    connections++;
    s.end("HTTP/1.0 200 OK\r\n\r\nhello");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const paths = { source: join(dir, "course", "hostile.ipynb"), out: join(dir, "out"), victim: "victim" };
  targets = { ...paths, port, library: compileLibrary(join(dir, "lib"), paths) };
});
afterAll(() => {
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Grades `names` (and "correct" and "victim") into `out`; returns the results by student. */
async function gradeClass(subs: string, out: string, names: string[], o: Partial<GradeOptions> = {}) {
  const [s] = loadSources(join(dir, "course", "hostile.ipynb"));
  const made = hostileSubmissions(s.release, { ...targets, out }, names);
  mkdirSync(join(dir, subs));
  for (const [name, m] of Object.entries(made)) writeFileSync(join(dir, subs, `${name}.ipynb`), m.content);
  const summary = await grade({
    source: join(dir, "course", "hostile.ipynb"),
    submissions: join(dir, subs),
    out,
    jobs: 2,
    cellTimeoutS: 20,
    notebookTimeoutS: 600,
    memoryMb: 512,
    limits: { diskMb: 64, fileMb: 16 },
    progress: null,
    ...o,
  });
  const results = new Map<string, SubmissionResult>(summary.results.map((r) => [r.student, r]));
  expect([...results.keys()].sort()).toEqual(Object.keys(made).sort());
  // every score exact: the attackers' are their wrong answer's, the others' full
  for (const [name, m] of Object.entries(made)) expect([name, results.get(name)!.tests.map((t) => [t.gradeId, t.score])]).toEqual([name, m.tests]);
  return results;
}

/** The text of every output of `student`'s attack cell (the cell after their answer). */
function attackOutput(out: string, student: string): string {
  const fb = parseNotebook(readFileSync(join(out, "feedback", student, "hostile.ipynb"), "utf8"));
  const at = fb.cells.findIndex((c) => gradeId(c) === "add") + 1;
  return (fb.cells[at].outputs ?? []).map((o) => o.text ?? `${o.ename}: ${o.evalue}`).join("");
}

/** Every file under `root`, recursively. */
const walk = (root: string): string[] => readdirSync(root, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(root, e.name), ...walk(join(root, e.name))] : [join(root, e.name)]));

test("a class of attackers, each in its own sandbox: every score exact, nothing leaked, no one else harmed", async () => {
  const out = join(dir, "out");
  const results = await gradeClass("subs", out, [
    "read_files", "overwrite_others", "native", "network", "patch_vm", "patch_promise", "patch_error", "patch_channel",
    "patch_console_exit_json", "replace_assert", "patch_compiler", "patch_globals", "memory", "workers", "disk", "print_gigabyte",
  ]);
  const lines = (s: string) => s.split("\n").filter((l) => /^(done|refused):/.test(l));

  // files: Node's permission model refuses (or, for a path under /tmp, which it lets the kernel use, the sandbox's
  // private /tmp has no such file); processes too
  const refused = (what: string) => expect.stringMatching(new RegExp(`^refused: ${what.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: (ERR_ACCESS_DENIED|ENOENT)$`));
  expect(lines(attackOutput(out, "read_files"))).toEqual([
    ...[targets.source, `/proc/1/root${targets.source}`, `../../../../../..${targets.source}`].map((p) => refused(`read ${p}`)),
    refused("list --out"),
    "refused: cat: ERR_ACCESS_DENIED",
  ]);
  expect(lines(attackOutput(out, "overwrite_others"))).toEqual(["victim results", "gradebook", "gradescope", "other kernels"].map(refused));
  // native code: every folder the kernel can write is noexec, so a library it wrote does not load
  expect(lines(attackOutput(out, "native"))).toEqual([
    ...["attack.so", "/tmp/attack.so", "/home/student/attack.so"].map((p) => expect.stringMatching(new RegExp(`^refused: dlopen ${p}: .*failed to map segment from shared object`))),
    "refused: leak.txt: ENOENT",
  ]);
  // no network at all
  expect(lines(attackOutput(out, "network"))).toEqual(["refused: connect: ECONNREFUSED", "refused: fetch: ECONNREFUSED"]);
  expect(connections).toBe(0);
  // the helpers cannot be replaced
  expect(lines(attackOutput(out, "replace_assert"))).toEqual([
    "refused: assign: 'assertEqual' is a test helper of this notebook and cannot be replaced: use another name",
    "refused: define: Cannot redefine property: assertEqual",
    "refused: delete: not deleted",
    "refused: freeze: frozen",
    expect.stringMatching(/^refused: var: .*assertEqual/),
  ]);
  // limits: each ended the kernel (or the write), the next cells ran in a new kernel
  const stopped = (student: string) => results.get(student)!.messages.join("\n");
  // memory and output floods: the kernel's own guard (kernel/guard) stops the cell with a MemoryError below
  // the grader's limit (512 MiB less 256 MiB for what the guard does not count) and cuts the flood, the kernel alive
  expect(stopped("memory")).toBe("");
  expect(attackOutput(out, "memory")).toMatch(/^MemoryError: the cell was stopped: the kernel's memory reached [\d.]+ [MG]iB, over its limit of 256\.0 MiB/);
  expect(stopped("print_gigabyte")).toBe("");
  expect(attackOutput(out, "print_gigabyte")).toMatch(/\[output truncated at \d+ characters\]\n$/);
  expect(lines(attackOutput(out, "disk")).slice(0, 2)).toEqual(["refused: one file: EFBIG", "refused: /tmp: EFBIG"]);
  expect(stopped("disk")).toMatch(/^Cell 4 was stopped: the kernel stopped while running this cell: it wrote more than 64 MiB or 20000 files into its folders\. A new kernel was started/);
  expect(lines(attackOutput(out, "workers"))[0]).toBe("refused: processes: ERR_ACCESS_DENIED");
  // Workers: each some MiB, so memory ends them before the sandbox's 512 tasks: the grader's watchdog (the kernel
  // ends), or the kernel's guard where it sees the growth first (a MemoryError, the kernel alive)
  if (stopped("workers")) expect(stopped("workers")).toMatch(/^Cell 4 was stopped: the kernel stopped while running this cell: it used more than the memory limit of 512 MiB\. A new kernel was started/);
  else expect(attackOutput(out, "workers")).toMatch(/^MemoryError: the cell was stopped: /m);

  // the other students: graded normally, their files written by the grader alone
  for (const student of ["correct", "victim"]) {
    expect(results.get(student)!.messages).toEqual([]);
    expect(results.get(student)!.score).toBe(7);
  }
  expect(JSON.parse(readFileSync(join(out, "results", "victim.json"), "utf8")).score).toBe(7);
  expect(JSON.parse(readFileSync(join(out, "gradescope", "victim", "results.json"), "utf8")).score).toBe(7);
  const csv = readFileSync(join(out, "gradebook.csv"), "utf8").split("\r\n");
  expect(csv[0]).toBe("student,score,max_score,test_add (2),test_async (1),test_partial (3),test_data (1),status,messages");
  expect(csv.find((l) => l.startsWith("victim,"))).toMatch(/^victim,7,7,2,1,3,1,graded,$/);
  // no hidden test in any output; --out is the instructor's alone
  for (const f of walk(out)) {
    const st = statSync(f);
    expect([f, st.mode & 0o777]).toEqual([f, st.isDirectory() ? 0o700 : 0o600]);
    if (st.isFile()) expect(readFileSync(f, "utf8"), f).not.toContain(SECRET);
  }
  expect(statSync(out).mode & 0o777).toBe(0o700);
}, 900_000);

test("with Node's permission model off, the sandbox alone holds files, processes (a fork bomb), the network and native code", async () => {
  const out = join(dir, "out-bare");
  await gradeClass("subs-bare", out, ["read_files", "overwrite_others", "native", "network", "fork_bomb"], { permissions: false });
  const lines = (s: string) => s.split("\n").filter((l) => /^(done|refused):/.test(l));
  // the instructor's folder, --out and the other kernels are not there; cat runs, in the sandbox, and finds nothing
  expect(lines(attackOutput(out, "read_files"))).toEqual([
    `refused: read ${targets.source}: ENOENT`,
    `refused: read /proc/1/root${targets.source}: ENOENT`,
    `refused: read ../../../../../..${targets.source}: ENOENT`,
    "refused: list --out: ENOENT",
    `refused: cat: Command failed: cat ${targets.source}`,
  ]);
  expect(attackOutput(out, "read_files")).toContain(`cat: ${targets.source}: No such file or directory`);
  expect(lines(attackOutput(out, "overwrite_others"))).toEqual([
    "refused: victim results: ENOENT",
    "refused: gradebook: ENOENT",
    "refused: gradescope: ENOENT",
    "done: other kernels",
  ]);
  expect(attackOutput(out, "overwrite_others")).not.toMatch(/sibling run-/); // (what is above the working folder: the sandbox's home)
  expect(lines(attackOutput(out, "native"))).toEqual([
    ...["attack.so", "/tmp/attack.so", "/home/student/attack.so"].map((p) => expect.stringMatching(new RegExp(`^refused: dlopen ${p}: .*failed to map segment from shared object`))),
    "refused: leak.txt: ENOENT",
  ]);
  expect(lines(attackOutput(out, "network"))).toEqual(["refused: connect: ECONNREFUSED", "refused: fetch: ECONNREFUSED"]);
  expect(connections).toBe(0);
  // a fork bomb: the shell cannot fork past the sandbox's 512 tasks; its processes outlived the cell, not the sandbox
  const bomb = attackOutput(out, "fork_bomb");
  expect(bomb).toMatch(/^shell: sh: \d+: Cannot fork$/m);
  const sleeping = Number(/^sleeping: (\d+)$/m.exec(bomb)?.[1]);
  expect(sleeping).toBeGreaterThan(400);
  expect(sleeping).toBeLessThan(512);
  expect(spawnSync("pgrep", ["-f", `sleep 1${targets.port}`]).status).toBe(1); // (none left)
  for (const f of walk(out)) if (statSync(f).isFile()) expect(readFileSync(f, "utf8"), f).not.toContain(SECRET);
}, 900_000);
