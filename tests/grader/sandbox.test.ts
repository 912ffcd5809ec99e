// The sandbox a graded kernel runs in (kernel/grader/sandbox.ts), as the kernel sees it; its limits;
// grading that stops with one line when the sandbox cannot start, or says it ran without one; and the
// grader's client against a kernel that breaks the protocol (tests/grader/fixtures/rogue-kernel.ts).
import { afterAll, beforeAll, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { KernelProcess, findKernelScript } from "../../kernel/grader/client.ts";
import { findBwrap, sandboxArgs } from "../../kernel/grader/sandbox.ts";
import { executeNotebook } from "../../kernel/grader/execute.ts";
import { grade, loadSources, NO_SANDBOX_NOTE } from "../../kernel/grader/grade.ts";
import { graderCommands } from "../../kernel/grader/index.ts";
import { parseNotebook, serializeNotebook, type Cell, type Notebook } from "../../kernel/grader/notebook.ts";
import { capture } from "./capture.ts";
import { makeSubmissions } from "./submissions.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(dirname(HERE));
const ROOT_UID = typeof process.getuid === "function" && process.getuid() === 0;
const user = ROOT_UID ? { uid: 61011, gid: 61011 } : null;
let dir: string;

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "kernel.js")) || !existsSync(join(ROOT, "dist", "cli.js"))) spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "gradbook-sandbox-test-"));
  chmodSync(dir, 0o711); // the kernel's uid passes through to its own folder
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("what a kernel sees: its own namespaces, no network, the system and the package read-only, noexec where it writes, no capabilities, limits", async () => {
  writeFileSync(join(dir, "instructor-secret.txt"), "hidden tests");
  // (Node's permission model off, so that the cells can look at /proc)
  const k = await KernelProcess.start(findKernelScript(), { dir: join(dir, "view"), permissions: false, user, isolate: true }, { memoryMb: 1024, maxOutputChars: 100_000, maxTasks: 300, cpuSeconds: 500, fileMb: 100 });
  try {
    /** The value of `expr`, as the cell printed it (JSON). */
    const run = async (expr: string) => {
      const r = await k.execute(`console.log(JSON.stringify(${expr}));`, 60_000);
      expect(r.status, JSON.stringify(r.outputs)).toBe("ok");
      return JSON.parse(r.outputs.filter((o) => o.output_type === "stream" && o.name === "stdout").map((o) => o.text).join(""));
    };
    const fsRead = (p: string) => `require("node:fs").readFileSync(${JSON.stringify(p)}, "utf8")`;
    const status = (await run(fsRead("/proc/self/status"))) as string;
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^CapBnd:\s+0+$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    const limits = (await run(fsRead("/proc/self/limits"))) as string;
    expect(limits).toMatch(/^Max processes\s+300\s+300\s+processes/m);
    expect(limits).toMatch(/^Max cpu time\s+500\s+505\s+seconds/m);
    expect(limits).toMatch(/^Max file size\s+104857600\s+104857600\s+bytes/m);
    expect(limits).toMatch(/^Max data size\s+3221225472\s+3221225472\s+bytes/m); // 2 x 1024 MiB + 1 GiB
    expect(limits).toMatch(/^Max core file size\s+0\s+0\s+bytes/m);
    // every mount read-only but its home (noexec), the device nodes and /proc (noexec)
    const mounts = ((await run(fsRead("/proc/self/mountinfo"))) as string).trim().split("\n").map((l) => { const f = l.split(" "); return [f[4], f[5]] as [string, string]; });
    const writable = mounts.filter(([, o]) => o.split(",").includes("rw")).map(([p]) => p);
    expect(writable.filter((p) => !p.startsWith("/dev/")).sort()).toEqual(["/home/student", "/proc", "/tmp"]);
    for (const [p, o] of mounts) if (o.split(",").includes("rw") && !p.startsWith("/dev/")) expect([p, o.split(",")]).toEqual([p, expect.arrayContaining(["noexec", "nosuid"])]);
    for (const dir of ["/home/student", "/tmp"]) expect(mounts.find(([p]) => p === dir)![1].split(",")).toEqual(expect.arrayContaining(["noexec", "nosuid", "nodev"]));
    expect(mounts.find(([p]) => p === "/")![1].split(",")).toContain("ro");
    // what is there: the system, the package, its own folders; not the host's others
    const seen = await run(`({
      uid: process.getuid(), pid: process.pid, host: require("node:os").hostname(), nets: Object.keys(require("node:os").networkInterfaces()),
      cwd: process.cwd(), home: process.env.HOME, tmp: process.env.TMPDIR, root: require("node:fs").readdirSync("/").sort(),
      secret: require("node:fs").existsSync(${JSON.stringify(join(dir, "instructor-secret.txt"))}), tests: require("node:fs").existsSync(${JSON.stringify(HERE)}),
      tmpIsHomeTmp: (require("node:fs").writeFileSync("/tmp/probe.txt", "same"), require("node:fs").readFileSync("/home/student/tmp/probe.txt", "utf8")),
      ipc: require("node:fs").readdirSync("/home/student/.gradbook").sort(),
    })`);
    expect(seen).toMatchObject({ uid: 0, pid: 2, host: "gradbook", nets: ["lo"], cwd: "/home/student/work", home: "/home/student", tmp: "/home/student/tmp", tmpIsHomeTmp: "same", secret: false, tests: false });
    // its sockets; the connection file (the key) was removed once the kernel had started
    expect(seen.ipc).toEqual(["k-1", "k-2", "k-3", "k-4", "k-5"]);
    expect(seen.root).toEqual(expect.arrayContaining(["etc", "home", "proc", "tmp", "usr"]));
    expect(seen.root).not.toContain("root");
  } finally {
    k.kill();
    await k.exited();
  }
}, 180_000);

test("a package under the host's /tmp (a CI's clone) is there read-only at its own path, and /tmp stays the kernel's own tmp", () => {
  const pkg = join(dir, "package-under-tmp"), home = join(dir, "home-under-tmp");
  mkdirSync(pkg);
  writeFileSync(join(pkg, "file.txt"), "from the package");
  for (const d of ["work", "tmp"]) mkdirSync(join(home, d), { recursive: true });
  expect(pkg.startsWith("/tmp/")).toBe(true);
  const script = `cat ${pkg}/file.txt; echo; echo mine > /tmp/t.txt && cat /home/student/tmp/t.txt; (echo x > ${pkg}/new.txt) 2>/dev/null || echo read-only`;
  const args = sandboxArgs({ home, readOnly: [pkg], limits: { memoryMb: 256, maxTasks: 64, fileMb: 1, cpuSeconds: 10 }, argv: ["/bin/sh", "-c", script] });
  const r = spawnSync(findBwrap()!, args, { encoding: "utf8", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
  expect(r.stderr).toBe("");
  expect(r.stdout.trim().split("\n")).toEqual(["from the package", "mine", "read-only"]);
  expect(readFileSync(join(home, "tmp", "t.txt"), "utf8")).toBe("mine\n");
});

test("a timeout ends the whole sandbox, every process in it; a cell's limits are CPU time and time spent waiting; the CPU time limit ends a kernel", async () => {
  const code = (source: string): Cell => ({ cell_type: "code", source, metadata: {}, outputs: [], execution_count: null });
  const tag = String(900000 + Math.floor(Math.random() * 99999));
  const nb: Notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [code(`require("node:child_process").spawn("sleep", ["${tag}"], { detached: true, stdio: "ignore" }).unref(); "started"`), code("while (true) {}")],
  };
  const alive = () => spawnSync("pgrep", ["-f", `sleep ${tag}`]).status === 0;
  const scratchRoot = join(dir, "timeout");
  mkdirSync(scratchRoot, { mode: 0o711 });
  chmodSync(scratchRoot, 0o711);
  const seenDuring: boolean[] = [];
  const poll = setInterval(() => seenDuring.push(alive()), 200);
  const ex = await executeNotebook(nb, { kernelScript: findKernelScript(), scratchRoot, cellTimeoutMs: 5_000, notebookTimeoutMs: 600_000, memoryMb: 1024, permissions: false, user, isolate: true });
  clearInterval(poll);
  expect(ex.status).toEqual(["ok", "timeout"]);
  expect(ex.messages).toEqual(["Cell 2 was stopped: the cell used more than its CPU time limit of 5 s."]);
  expect(seenDuring).toContain(true); // the process ran in the sandbox
  await new Promise((r) => setTimeout(r, 300));
  expect(alive()).toBe(false);
  // a cell that waits for ever: stopped once it has waited its limit (the kernel's start-up work, about 3 CPU-s, counts as neither)
  const waits = await executeNotebook({ ...nb, cells: [code("1"), code("await new Promise(() => {})"), code("2")] }, { kernelScript: findKernelScript(), scratchRoot, cellTimeoutMs: 8_000, notebookTimeoutMs: 600_000, memoryMb: 1024, user, isolate: true });
  expect(waits.status).toEqual(["ok", "timeout", "ok"]);
  expect(waits.messages).toEqual(["Cell 2 was stopped: the cell waited longer than its time limit of 8 s (not running: an await or a sleep that did not end). A new kernel was started and the earlier cell that had run was run again."]);

  // a cell's limits: CPU time (the kernel's and its processes'), and apart from it time spent waiting; a sleep uses no CPU
  const w = await KernelProcess.start(findKernelScript(), { dir: join(dir, "wait"), permissions: true, user, isolate: true }, { memoryMb: 1024, maxOutputChars: 1000 });
  try {
    // (a kernel's first cell also starts its compiler and language service: about 3 CPU-s, partly after the reply)
    expect(await w.execute("1", 60_000)).toMatchObject({ status: "ok" });
    expect(await w.execute("Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 6000); 'slept 6 s'", 60_000, { cpuMs: 5000, waitMs: 60_000 })).toMatchObject({ status: "ok" });
    expect(await w.execute("await new Promise(() => {})", 60_000, { cpuMs: 10_000, waitMs: 2000 })).toMatchObject({ status: "timeout", limit: "wait" });
    expect(await w.execute("1", 2000)).toMatchObject({ status: "timeout", limit: "wall" }); // (queued behind the cell that waits)
  } finally {
    w.kill();
  }
  const k = await KernelProcess.start(findKernelScript(), { dir: join(dir, "cpu"), permissions: true, user, isolate: true }, { memoryMb: 1024, maxOutputChars: 1000, cpuSeconds: 2 });
  try {
    expect(await k.execute("while (true) {}", 60_000)).toMatchObject({ status: "died", reason: "it used more than its CPU time limit of 2 s" });
  } finally {
    k.kill();
  }
}, 600_000);

test("grading stops before it starts, with one line naming the cause and the fix, when the sandbox cannot start", async () => {
  const subs = join(dir, "pre-subs");
  mkdirSync(subs);
  const [s] = loadSources(join(HERE, "fixtures", "perceptron.ipynb"));
  writeFileSync(join(subs, "a.ipynb"), makeSubmissions(s.release).correct.content);
  const args = ["grade", "--source", join(HERE, "fixtures", "perceptron.ipynb"), "--submissions", subs, "--out", join(dir, "pre-out"), "--no-files"];
  // no bubblewrap
  const r1 = spawnSync(process.execPath, [join(ROOT, "bin", "gradbook.js"), ...args], { encoding: "utf8", env: { ...process.env, GRADBOOK_BWRAP: join(dir, "no-such-bwrap") } });
  expect([r1.status, r1.stdout, r1.stderr]).toEqual([
    1,
    "",
    "gradbook grade: the sandbox cannot start: bubblewrap (bwrap) is not installed. Install it (apt-get install bubblewrap), or grade with --no-sandbox (no isolation from the submissions)\n",
  ]);
  // no user namespaces: the grader itself runs where creating one is forbidden (user.max_user_namespaces = 0)
  const r2 = spawnSync("bwrap", ["--unshare-user", "--disable-userns", "--uid", "1000", "--gid", "1000", "--dev-bind", "/", "/", "--", process.execPath, join(ROOT, "bin", "gradbook.js"), ...args], { encoding: "utf8" });
  expect(r2.status).toBe(1);
  expect(r2.stdout).toBe("");
  expect(r2.stderr.split("\n")).toEqual([
    expect.stringMatching(/^gradbook grade: the sandbox cannot start: this machine does not let an unprivileged user create user namespaces \(bwrap: .*namespace.*\)\. Allow them \(.*sysctl.*\), or grade with --no-sandbox \(no isolation from the submissions\)$/),
    "",
  ]);
  expect(existsSync(join(dir, "pre-out"))).toBe(false);
}, 120_000);

test("--no-sandbox grades and says so: on the console, in every feedback file, in the results and Gradescope's", async () => {
  const subs = join(dir, "nos-subs"), out = join(dir, "nos-out");
  mkdirSync(subs);
  const [s] = loadSources(join(HERE, "fixtures", "perceptron.ipynb"));
  writeFileSync(join(subs, "a.ipynb"), makeSubmissions(s.release).correct.content);
  const r = await capture(() => graderCommands.grade.run(["--source", join(HERE, "fixtures", "perceptron.ipynb"), "--submissions", subs, "--out", out, "--no-files", "--no-sandbox", "--quiet", "--jobs", "1"]));
  expect(r.code).toBe(0);
  expect(r.out.split("\n")[0]).toBe(`warning: ${NO_SANDBOX_NOTE}`);
  const result = JSON.parse(readFileSync(join(out, "results", "a.json"), "utf8"));
  expect([result.score, result.messages]).toEqual([8, [NO_SANDBOX_NOTE]]);
  expect(JSON.parse(readFileSync(join(out, "gradescope", "a", "results.json"), "utf8")).output).toBe(NO_SANDBOX_NOTE);
  expect(parseNotebook(readFileSync(join(out, "feedback", "a", "perceptron.ipynb"), "utf8")).cells[0].source).toContain(NO_SANDBOX_NOTE);
  expect(readFileSync(join(out, "feedback", "a", "perceptron.html"), "utf8")).toContain(NO_SANDBOX_NOTE.replace(/'/g, "&#39;").split("'")[0].slice(0, 60));
  expect(readFileSync(join(out, "gradebook.csv"), "utf8")).toContain(NO_SANDBOX_NOTE);
}, 300_000);

test("a kernel that breaks the protocol: its cell, or the cell it answered twice, scores nothing, with the reason", async () => {
  const rogue = join(ROOT, "tests", "output", "rogue-kernel.mjs");
  mkdirSync(dirname(rogue), { recursive: true });
  buildSync({ entryPoints: [join(HERE, "fixtures", "rogue-kernel.ts")], bundle: true, platform: "node", format: "esm", outfile: rogue, external: ["zeromq"], logLevel: "warning" });
  const test = (source: string, id: string): Cell => ({ cell_type: "code", source, metadata: { nbgrader: { grade: true, solution: false, locked: true, grade_id: id, points: 1 } }, outputs: [], execution_count: null });
  const nb: Notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [test("ok", "t1"), test("stranger", "t2"), test("wrong-type", "t3"), test("aborted", "t4"), test("double", "t5"), test("slow", "t6"), test("ok", "t7")],
  };
  const scratchRoot = join(dir, "rogue");
  mkdirSync(scratchRoot);
  const ex = await executeNotebook(nb, { kernelScript: rogue, scratchRoot, cellTimeoutMs: 10_000, notebookTimeoutMs: 120_000, memoryMb: 512, permissions: false, user: null, maxRestarts: 10 });
  expect(ex.status).toEqual(["ok", "died", "died", "died", "error", "died", "ok"]);
  const why = (i: number) => ex.notebook.cells[i].outputs!.filter((o) => o.output_type === "error").map((o) => o.evalue);
  expect(why(1)).toEqual(["the kernel stopped while running this cell: it sent a reply (execute_reply) to a request the grader never made (an impossible sequence: the kernel is not trusted any more)"]);
  expect(why(2)).toEqual(["the kernel stopped while running this cell: it answered a cell with a complete_reply (an impossible sequence: the kernel is not trusted any more)"]);
  expect(why(3)).toEqual(['the kernel stopped while running this cell: it answered a cell with status "aborted" (an impossible sequence: the kernel is not trusted any more)']);
  // "double": ok first, then a second reply to the same request while the next cell ran
  expect(why(4)).toEqual(["the kernel was not trusted after this cell: it sent a second reply to one request (an impossible sequence: the kernel is not trusted any more)"]);
  expect(why(5)).toEqual(["the kernel stopped while running this cell: it sent a second reply to one request (an impossible sequence: the kernel is not trusted any more)"]);
  expect(ex.messages).toContain('Cell 5 ("t5") scored nothing: it sent a second reply to one request (an impossible sequence: the kernel is not trusted any more).');
}, 180_000);
