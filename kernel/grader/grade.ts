/**
 * `gradbook grade`: grades a class's submissions against the instructor's
 * notebooks, in parallel, one fresh sandboxed kernel per notebook run, with
 * results written atomically as they finish so an interrupted run resumes
 * where it stopped.
 *
 * Layout of --out:
 *   gradebook.csv                      the class gradebook
 *   results/<student>.json             each student's result (also the resume record)
 *   gradescope/<student>/results.json  Gradescope's format
 *   feedback/<student>/<notebook>.ipynb and .html
 *
 * Each notebook runs in its own fresh working folder holding the student's
 * files from beside their notebook, then the instructor's files from beside
 * the source notebooks on top (files.ts), as nbgrader's autograde does, in a
 * kernel in its own operating-system sandbox (sandbox.ts). When the sandbox
 * cannot start here, grading stops before it begins with one line naming
 * the cause and the fix; `sandbox: false` (--no-sandbox) grades without it
 * and says so in every result, feedback file and Gradescope output.
 */
import { chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { findKernelScript, type KernelProcess } from "./client.ts";
import { executeNotebook, KernelStartError, type ExecuteOptions } from "./execute.ts";
import { collectFiles, DEFAULT_MAX_FILES_BYTES, fileSetHash, FilesError, type FileSet } from "./files.ts";
import { gradeId, isGrade, NotebookError, parseNotebook, points, serializeNotebook, sha256, type Notebook } from "./notebook.ts";
import { Progress } from "./progress.ts";
import { prepareSource, releaseNotebook } from "./release.ts";
import { feedbackHtml, feedbackNotebook, gradebookCsv, gradescopeResults, testName, type SubmissionResult } from "./reports.ts";
import { restoreSubmission } from "./restore.ts";
import { checkSandbox } from "./sandbox.ts";
import { FileTooLarge, OutputDir, readNoFollow, safeName, uniqueNames } from "./safefs.ts";
import { round2, scoreNotebook, zeroScores, type TestResult } from "./score.ts";
import { selectShard, shardKey, type Shard, type ShardRecord } from "./shard.ts";

// 2: notebooks run with the assignment's files (and the student's) in their working folder.
// 3: kernels in the OS sandbox; the test helpers preloaded; instructor cells compiled by the grader.
export const GRADER_VERSION = "gradbook-grader-4";

/** What every result says when graded with `sandbox: false` (--no-sandbox). */
export const NO_SANDBOX_NOTE =
  "Graded without the operating-system sandbox (--no-sandbox): the submission's code could read and write what the grader's user can, beyond Node's permission model.";

export interface GradeOptions {
  /** The instructor's notebook, or a folder of them. */
  source: string;
  /** A folder: one notebook file per student (single-notebook assignments) or one folder per student. */
  submissions: string;
  out: string;
  /** Submissions graded at once (default: the machine's cores). */
  jobs?: number;
  /** CPU seconds of one cell, and as many seconds spent waiting (default 30; client.ts, KernelProcess.execute). */
  cellTimeoutS?: number;
  /** Wall-clock seconds of one notebook (default 600). */
  notebookTimeoutS?: number;
  /** Each kernel's memory limit, MiB (default 2048; see client.ts, KernelLimits.memoryMb). */
  memoryMb?: number;
  /** The sandbox's other limits per kernel: threads, disk, CPU time, /tmp (client.ts, KernelLimits: defaults there). */
  limits?: ExecuteOptions["limits"];
  /** Show the hidden tests' code in the feedback (default: masked; results always shown). */
  revealHidden?: boolean;
  /** Grade everything again, ignoring earlier results. */
  force?: boolean;
  /**
   * Each kernel in its operating-system sandbox (bubblewrap; default true).
   * When false, kernels run with Node's permission model and, as root, their
   * own uids only, and every result says so.
   */
  sandbox?: boolean;
  /** Node's permission model in kernels (default true). */
  permissions?: boolean;
  /** When root, run each kernel as its own unprivileged uid (default true). */
  dropPrivileges?: boolean;
  kernelScript?: string;
  /** Where the progress line goes (default stderr; null for none). */
  progress?: NodeJS.WriteStream | null;
  maxNotebookBytes?: number;
  /** Copy the files beside the instructor's notebooks (data, weights, modules) into each kernel's working folder (default true). */
  files?: boolean;
  /** Copy each student's own files from beside their notebook there first, under the instructor's (default true; not without `files`). */
  studentFiles?: boolean;
  /** Most bytes of files copied: the instructor's in all, and each student's in all (default 200 MB). */
  maxFilesBytes?: number;
  /** Patterns of files not to copy, the instructor's or a student's (`--exclude`; see files.ts, CollectOptions.ignore). */
  ignoreFiles?: string[];
  signal?: AbortSignal;
  /** Grade only this share of the submissions (shard.ts; `gradbook merge` puts the shares together). */
  shard?: Shard;
}

export interface SourceNotebook {
  name: string;
  /** The folder holding it (its files are the assignment's files). */
  dir: string;
  source: Notebook;
  release: Notebook;
}

export interface Submission {
  student: string;
  /** Notebook name -> path (null when missing). */
  files: Map<string, string | null>;
  /** Problems that make the whole submission unreadable (a link, a stray file). */
  problems: string[];
  /** The student's folder, when the submission is one (its files beside the notebooks are the student's files). */
  folder: string | null;
}

export interface GradeSummary {
  results: SubmissionResult[];
  graded: number;
  resumed: number;
  elapsedMs: number;
  jobs: number;
  csv: string;
  /** The instructor's files copied into each kernel's folder (null with `files: false`). */
  files: { root: string; count: number; bytes: number; skipped: string[] } | null;
}

export class GradeInterrupted extends Error {
  override name = "GradeInterrupted";
}

/** The instructor notebooks: a .ipynb file, or every .ipynb directly in a folder. */
export function loadSources(path: string): SourceNotebook[] {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === "ENOENT" ? `the source ${path} does not exist (give the instructor's notebook or the folder of them)` : `the source ${path} cannot be read (${code ?? (e as Error).message})`);
  }
  const files = st.isDirectory()
    ? readdirSync(path)
        .filter((f) => f.endsWith(".ipynb") && !f.startsWith("."))
        .sort()
        .map((f) => join(path, f))
    : [path];
  if (!files.length) throw new Error(`no .ipynb notebooks in ${path}`);
  return files.map((f) => {
    const name = basename(f);
    const source = prepareSource(parseNotebook(readNoFollow(f, 256 << 20).toString("utf8"), name), name);
    return { name, dir: dirname(resolve(f)), source, release: releaseNotebook(source, name) };
  });
}

function findNotebooks(dir: string, depth: number, out: string[], problems: string[]) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    problems.push(`cannot read folder ${basename(dir)}: ${(e as Error).message}`);
    return;
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isSymbolicLink()) {
      if (e.name.endsWith(".ipynb")) problems.push(`${e.name} is a symbolic link; links are refused`);
      continue;
    }
    if (e.isDirectory() && depth > 0) findNotebooks(p, depth - 1, out, problems);
    else if (e.isFile() && e.name.endsWith(".ipynb")) out.push(p);
  }
}

/** The submissions in a folder, with safe, unique student ids. */
export function discoverSubmissions(dir: string, sources: SourceNotebook[], exclude: string[] = []): Submission[] {
  const found: { raw: string; files: Map<string, string | null>; problems: string[]; folder: string | null }[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === "ENOENT" ? `the submissions folder ${dir} does not exist` : `the submissions folder ${dir} cannot be read (${code ?? (e as Error).message})`);
  }
  const skip = new Set(exclude.map((p) => resolve(p)));
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (skip.has(resolve(p))) continue; // --out or --source inside --submissions
    const files = new Map<string, string | null>(sources.map((s) => [s.name, null]));
    const problems: string[] = [];
    if (e.isSymbolicLink()) {
      found.push({ raw: e.name.replace(/\.ipynb$/, ""), files, problems: [`${e.name} is a symbolic link; links are refused`], folder: null });
      continue;
    }
    if (e.isFile()) {
      if (!e.name.endsWith(".ipynb")) continue;
      if (sources.length === 1) files.set(sources[0].name, p);
      else problems.push(`${e.name} is a single notebook but the assignment has ${sources.length}; put each student's notebooks in a folder named after the student`);
      found.push({ raw: e.name.replace(/\.ipynb$/, ""), files, problems, folder: null });
    } else if (e.isDirectory()) {
      const nbs: string[] = [];
      findNotebooks(p, 3, nbs, problems);
      for (const s of sources) {
        const match = nbs.find((f) => basename(f) === s.name);
        if (match) files.set(s.name, match);
      }
      if (sources.length === 1 && !files.get(sources[0].name)) {
        const others = nbs.filter((f) => !sources.some((s) => basename(f) === s.name));
        if (others.length === 1) files.set(sources[0].name, others[0]);
      }
      found.push({ raw: e.name, files, problems, folder: p });
    }
  }
  const ids = uniqueNames(found.map((f) => safeName(f.raw)));
  return found.map((f, i) => ({ student: ids[i], files: f.files, problems: f.problems, folder: f.folder }));
}

interface Context {
  o: Required<Pick<GradeOptions, "cellTimeoutS" | "notebookTimeoutS" | "memoryMb" | "limits" | "revealHidden" | "sandbox" | "permissions" | "dropPrivileges" | "maxNotebookBytes" | "files" | "studentFiles" | "maxFilesBytes" | "ignoreFiles">>;
  sources: SourceNotebook[];
  /** The instructor's files (null without `files`), and their hash. */
  files: FileSet | null;
  filesHash: string;
  out: OutputDir;
  kernelScript: string;
  scratchRoot: string;
  kernels: Set<KernelProcess>;
  signal?: AbortSignal;
}

interface SubmissionInput {
  /** Notebook name -> its bytes, or why there are none ("missing", "unreadable: ..."). */
  contents: Map<string, Buffer | string>;
  /** Notebook name -> the student's files beside it (null: none, or not used). */
  files: Map<string, FileSet | null>;
  /** What was not taken from the student's files, and why. */
  fileMessages: string[];
}

/** What decides every submission's score: the grader, the options, the instructor's notebooks and files. */
function runParts(ctx: Context): string[] {
  const parts: string[] = [GRADER_VERSION, JSON.stringify([ctx.o.cellTimeoutS, ctx.o.notebookTimeoutS, ctx.o.memoryMb, ctx.o.revealHidden, ctx.o.files, ctx.o.studentFiles, ctx.o.sandbox, ctx.o.limits])];
  for (const s of ctx.sources) parts.push(s.name, sha256(serializeNotebook(s.source)));
  parts.push(ctx.filesHash);
  return parts;
}

function inputHash(ctx: Context, sub: Submission, input: SubmissionInput): string {
  const parts = runParts(ctx);
  parts.push(...sub.problems);
  for (const [name, c] of input.contents) parts.push(name, typeof c === "string" ? c : sha256(c));
  for (const [name, f] of input.files) parts.push(name, fileSetHash(f));
  parts.push(...input.fileMessages);
  return sha256(parts.join("\u0000"));
}

/** The student's files beside each of their notebooks (folder submissions only: never the submissions folder itself). */
function readStudentFiles(ctx: Context, sub: Submission): Pick<SubmissionInput, "files" | "fileMessages"> {
  const files = new Map<string, FileSet | null>(), fileMessages: string[] = [];
  const byDir = new Map<string, FileSet | null>();
  for (const [name, path] of sub.files) {
    files.set(name, null);
    if (!path || !sub.folder || !ctx.o.files || !ctx.o.studentFiles || sub.problems.length) continue;
    const dir = dirname(path);
    if (!byDir.has(dir)) {
      const where = dir === sub.folder ? "the submission's folder" : `${dir.slice(sub.folder.length + 1)}/ in the submission`;
      try {
        const set = collectFiles(dir, { untrusted: true, hash: true, maxBytes: ctx.o.maxFilesBytes, exclude: [ctx.out.root], ignore: ctx.o.ignoreFiles, label: where });
        for (const x of set.skipped) fileMessages.push(`Not copied from ${where}: ${x}.`);
        byDir.set(dir, set.files.length ? set : null);
      } catch (e) {
        if (!(e instanceof FilesError)) throw e;
        fileMessages.push(`The student's files were not used: ${e.message}.`);
        byDir.set(dir, null);
      }
    }
    files.set(name, byDir.get(dir)!);
  }
  return { files, fileMessages };
}

function readSubmission(ctx: Context, sub: Submission): SubmissionInput {
  const contents = new Map<string, Buffer | string>();
  for (const [name, path] of sub.files) {
    if (!path) {
      contents.set(name, "missing");
      continue;
    }
    try {
      contents.set(name, readNoFollow(path, ctx.o.maxNotebookBytes, true));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = e instanceof FileTooLarge ? `more than ${ctx.o.maxNotebookBytes} bytes` : code === "ELOOP" ? "it is a symbolic link; links are refused" : code ? `${code}` : (e as Error).message;
      contents.set(name, `unreadable: ${why}`);
    }
  }
  return { contents, ...readStudentFiles(ctx, sub) };
}

async function gradeOne(ctx: Context, sub: Submission, input: SubmissionInput, slot: number, hash: string): Promise<SubmissionResult> {
  const t0 = Date.now();
  const tests: TestResult[] = [];
  const note = ctx.o.sandbox ? [] : [NO_SANDBOX_NOTE];
  const messages: string[] = [...note, ...sub.problems, ...input.fileMessages];
  const contents = input.contents;
  let restarts = 0, anyGraded = false;
  const user = slotUser(ctx.o.dropPrivileges, slot);
  for (const s of ctx.sources) {
    const c = contents.get(s.name)!;
    if (sub.problems.length) {
      tests.push(...zeroScores(s.source, s.name, "Not graded: the submission could not be read."));
      continue;
    }
    if (typeof c === "string") {
      const reason = c === "missing" ? `${s.name} is missing from the submission.` : `${s.name} could not be read (${c.replace(/^unreadable: /, "")}).`;
      messages.push(reason);
      tests.push(...zeroScores(s.source, s.name, reason));
      continue;
    }
    let student: Notebook;
    try {
      student = parseNotebook(c.toString("utf8"), s.name);
    } catch (e) {
      if (!(e instanceof NotebookError)) throw e;
      messages.push(`${e.message}; it was not graded.`);
      tests.push(...zeroScores(s.source, s.name, "Not graded: the notebook file is not a valid notebook."));
      continue;
    }
    const restored = restoreSubmission(s.source, s.release, student);
    if (ctx.signal?.aborted) throw new GradeInterrupted("interrupted");
    const ex = await executeNotebook(restored.notebook, {
      kernelScript: ctx.kernelScript,
      scratchRoot: ctx.scratchRoot,
      cellTimeoutMs: ctx.o.cellTimeoutS * 1000,
      notebookTimeoutMs: ctx.o.notebookTimeoutS * 1000,
      memoryMb: ctx.o.memoryMb,
      limits: ctx.o.limits,
      isolate: ctx.o.sandbox,
      permissions: ctx.o.permissions,
      user,
      files: [input.files.get(s.name), ctx.files].filter((f): f is FileSet => !!f),
      signal: ctx.signal,
      onKernel: (k, started) => (started ? ctx.kernels.add(k) : ctx.kernels.delete(k)),
    });
    if (ctx.signal?.aborted) throw new GradeInterrupted("interrupted");
    anyGraded = true;
    restarts += ex.restarts;
    const scored = scoreNotebook(ex.notebook, s.name, restored.unanswered);
    const msgs = [...restored.messages, ...ex.messages];
    messages.push(...msgs);
    tests.push(...scored);
    const stem = safeName(s.name.replace(/\.ipynb$/, ""), "notebook");
    ctx.out.write(["feedback", sub.student, `${stem}.ipynb`], serializeNotebook(feedbackNotebook(ex.notebook, scored, [...note, ...msgs], ctx.o.revealHidden)));
    ctx.out.write(["feedback", sub.student, `${stem}.html`], feedbackHtml(sub.student, s.name, ex.notebook, scored, [...note, ...msgs], ctx.o.revealHidden));
  }
  return {
    version: 1,
    student: sub.student,
    status: anyGraded ? "graded" : "invalid",
    score: round2(tests.reduce((a, t) => a + t.score, 0)),
    maxScore: round2(tests.reduce((a, t) => a + t.maxScore, 0)),
    tests,
    messages,
    inputHash: hash,
    durationMs: Date.now() - t0,
    restarts,
    gradedAt: new Date().toISOString(),
  };
}

/** When the grader is root, the kernels of each slot run as their own unprivileged uid (61000 + slot). */
function slotUser(dropPrivileges: boolean, slot: number): { uid: number; gid: number } | null {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  return dropPrivileges && root ? { uid: 61000 + slot, gid: 61000 + slot } : null;
}

/** The gradebook's test columns, in notebook order. */
export function testColumns(sources: SourceNotebook[]): { name: string; maxScore: number }[] {
  const multi = sources.length > 1;
  const cols: { name: string; maxScore: number }[] = [];
  for (const s of sources)
    for (const c of s.source.cells) if (isGrade(c)) cols.push({ name: testName({ notebook: s.name, gradeId: gradeId(c)! } as TestResult, multi), maxScore: points(c) });
  return cols;
}

export async function grade(opts: GradeOptions): Promise<GradeSummary> {
  const t0 = Date.now();
  const sources = loadSources(opts.source);
  if (opts.sandbox !== false) {
    // before anything is written: a sandbox that cannot start here stops the run with the cause and the fix
    const why = await checkSandbox(slotUser(opts.dropPrivileges ?? true, 0));
    if (why) throw new Error(why);
  }
  const out = new OutputDir(opts.out);
  const everyone = discoverSubmissions(opts.submissions, sources, [out.root, opts.out, opts.source]);
  const subs = selectShard(everyone, opts.shard);
  const maxFilesBytes = opts.maxFilesBytes ?? DEFAULT_MAX_FILES_BYTES;
  // The instructor's files: read (and hashed) once, before any kernel starts, so a problem stops the run here.
  const files =
    opts.files === false
      ? null
      : collectFiles(sources[0].dir, { hash: true, maxBytes: maxFilesBytes, exclude: [out.root, opts.out, opts.submissions], ignore: opts.ignoreFiles ?? [], limitHint: "leave large files out of the folder (or with --exclude) or raise the limit with --max-files-mb" });
  const scratchRoot = mkdtempSync(join(tmpdir(), "gradbook-grade-"));
  chmodSync(scratchRoot, 0o711); // kernels (other uids) reach only their own 0700 run folder inside
  const ctx: Context = {
    o: {
      cellTimeoutS: opts.cellTimeoutS ?? 30,
      notebookTimeoutS: opts.notebookTimeoutS ?? 600,
      memoryMb: opts.memoryMb ?? 2048,
      limits: opts.limits ?? {},
      revealHidden: !!opts.revealHidden,
      sandbox: opts.sandbox ?? true,
      permissions: opts.permissions ?? true,
      dropPrivileges: opts.dropPrivileges ?? true,
      maxNotebookBytes: opts.maxNotebookBytes ?? 50 << 20,
      files: opts.files !== false,
      studentFiles: opts.studentFiles !== false,
      ignoreFiles: opts.ignoreFiles ?? [],
      maxFilesBytes,
    },
    sources,
    files: files?.files.length ? files : null,
    filesHash: fileSetHash(files),
    out,
    kernelScript: opts.kernelScript ?? findKernelScript(),
    scratchRoot,
    kernels: new Set(),
    signal: opts.signal,
  };
  const onAbort = () => {
    for (const k of ctx.kernels) k.kill();
  };
  opts.signal?.addEventListener("abort", onAbort);

  const results = new Map<string, SubmissionResult>();
  const todo: { sub: Submission; input: SubmissionInput; hash: string }[] = [];
  for (const sub of subs) {
    const input = readSubmission(ctx, sub);
    const hash = inputHash(ctx, sub, input);
    if (!opts.force) {
      const prev = out.read(["results", `${sub.student}.json`]);
      if (prev) {
        try {
          const r = JSON.parse(prev) as SubmissionResult;
          if (r.inputHash === hash && r.status !== "error" && r.version === 1) {
            results.set(sub.student, r);
            continue;
          }
        } catch {}
      }
    }
    todo.push({ sub, input, hash });
  }
  const progress = new Progress(subs.length, opts.progress === undefined ? process.stderr : opts.progress);
  if (results.size) progress.resume(results.size);
  const jobs = Math.max(1, Math.min(opts.jobs ?? availableParallelism(), todo.length || 1));
  let next = 0, graded = 0;
  const worker = async (slot: number) => {
    while (next < todo.length && !opts.signal?.aborted) {
      const { sub, input, hash } = todo[next++];
      let r: SubmissionResult;
      try {
        r = await gradeOne(ctx, sub, input, slot, hash);
      } catch (e) {
        if (opts.signal?.aborted || e instanceof GradeInterrupted) return;
        const why = e instanceof KernelStartError ? e.message : `the grader failed: ${(e as Error)?.stack ?? e}`;
        r = { version: 1, student: sub.student, status: "error", score: 0, maxScore: 0, tests: [], messages: [...(ctx.o.sandbox ? [] : [NO_SANDBOX_NOTE]), why], inputHash: hash, durationMs: 0, restarts: 0, gradedAt: new Date().toISOString() };
        r.tests = sources.flatMap((s) => zeroScores(s.source, s.name, "Not graded: the grader failed (this submission will be graded again on the next run)."));
        r.maxScore = round2(r.tests.reduce((a, t) => a + t.maxScore, 0));
      }
      if (opts.signal?.aborted) return;
      out.write(["results", `${sub.student}.json`], JSON.stringify(r, null, 1) + "\n");
      out.write(["gradescope", sub.student, "results.json"], JSON.stringify(gradescopeResults(r), null, 1) + "\n");
      results.set(sub.student, r);
      graded++;
      progress.tick(r.status === "graded");
    }
  };
  try {
    await Promise.all(Array.from({ length: jobs }, (_, i) => worker(i)));
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    onAbort();
    progress.finish();
    try {
      rmSync(scratchRoot, { recursive: true, force: true, maxRetries: 3 });
    } catch {}
  }
  const all = subs.map((s) => results.get(s.student)).filter((r): r is SubmissionResult => !!r);
  const csv = out.write(["gradebook.csv"], gradebookCsv(all, testColumns(sources)));
  if (opts.shard) {
    const { index, count } = opts.shard;
    const record: ShardRecord = { version: 1, shard: `${index}/${count}`, index, count, total: everyone.length, students: subs.map((s) => s.student), columns: testColumns(sources), key: shardKey(runParts(ctx)) };
    out.write(["shard.json"], JSON.stringify(record, null, 1) + "\n");
  }
  if (opts.signal?.aborted) throw new GradeInterrupted(`interrupted: ${all.length} of ${subs.length} submissions have results in ${out.root}; run the same command again to grade the rest`);
  return {
    results: all,
    graded,
    resumed: all.length - graded,
    elapsedMs: Date.now() - t0,
    jobs,
    csv,
    files: files && { root: files.root, count: files.files.length, bytes: files.bytes, skipped: files.skipped },
  };
}
