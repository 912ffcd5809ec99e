/**
 * The assignment exchange, nbgrader's flow over a course folder: the
 * instructor releases an assignment (the student version of the notebooks in
 * source/ASSIGNMENT, with its files), students fetch it and submit (as often
 * as they like; each submission is kept, timestamped by the exchange's clock
 * and marked late against the deadline), the instructor collects the latest
 * submissions, grades them with the grader and returns the feedback, which
 * each student, and only that student, can read.
 *
 * These functions act with the exchange's rights (root: the folders are
 * 0700); who may call which is decided by their callers, the exchange
 * service (service.ts: students act only as themselves) and the instructor's
 * commands on the machine (`gradbook class`).
 */
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { collectFiles, copyFileSets, DEFAULT_MAX_FILES_BYTES } from "../grader/files.ts";
import { grade, loadSources, type GradeOptions, type GradeSummary } from "../grader/grade.ts";
import { serializeNotebook } from "../grader/notebook.ts";
import type { SubmissionResult } from "../grader/reports.ts";
import { readNoFollow } from "../grader/safefs.ts";
import { checkAssignmentName, coursePaths, CourseError, ensureDir, type Course } from "./course.ts";

export interface ReleasedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface CollectedSubmission {
  timestamp: string;
  late: boolean;
  lateBySeconds: number;
  /** How many submissions the student had made. */
  count: number;
}

export interface AssignmentState {
  name: string;
  releasedAt: string;
  /** ISO 8601 (UTC), or null: no deadline. */
  deadline: string | null;
  notebooks: string[];
  /** Every released file, notebooks included. */
  files: ReleasedFile[];
  collected?: { at: string; beforeDeadline: boolean; students: Record<string, CollectedSubmission>; missing: string[] };
  graded?: { at: string; students: string[] };
  returned?: { at: string; students: string[] };
}

export interface SubmissionRecord {
  student: string;
  assignment: string;
  /** When the exchange received it (ISO 8601, UTC): the exchange's clock, not the student's. */
  timestamp: string;
  files: ReleasedFile[];
  bytes: number;
}

/** A submission as shown: lateness against the deadline as it is now (an extension makes a late one on time). */
export interface SubmissionView {
  timestamp: string;
  files: number;
  bytes: number;
  late: boolean;
  lateBySeconds: number;
}

export interface FeedbackRecord {
  student: string;
  assignment: string;
  score: number;
  maxScore: number;
  tests: { notebook: string; gradeId: string; score: number; maxScore: number; status: string; hidden: boolean; output: string }[];
  messages: string[];
  submittedAt: string | null;
  late: boolean;
  lateBySeconds: number;
  returnedAt: string;
  /** The feedback files (the graded notebook and its HTML page). */
  files: string[];
}

/** The student's view of one assignment. */
export interface AssignmentView {
  name: string;
  releasedAt: string;
  deadline: string | null;
  notebooks: string[];
  submissions: SubmissionView[];
  feedback: { score: number; maxScore: number; returnedAt: string; submittedAt: string | null; late: boolean } | null;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const stamp = (iso: string) => iso.replace(/:/g, "-");

/**
 * A deadline as ISO 8601 UTC. It must say its time zone (`Z` or an offset
 * such as `+01:00`): "23:59" alone would depend on the server's zone.
 */
export function parseDeadline(s: string): string {
  const t = s.trim();
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(t))
    throw new CourseError(`the deadline ${JSON.stringify(s)} is not a date and time with a time zone: write it as 2026-12-10T23:59+01:00 or 2026-12-10T22:59Z`);
  const ms = Date.parse(t.replace(" ", "T"));
  if (!Number.isFinite(ms)) throw new CourseError(`the deadline ${JSON.stringify(s)} is not a valid date`);
  return new Date(ms).toISOString();
}

function writeJson(path: string, value: unknown) {
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 1) + "\n", { mode: 0o600, flag: "wx" });
  renameSync(tmp, path);
}

function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new CourseError(`${path} cannot be read: ${(e as Error).message}`);
  }
}

/** Replaces folder `dest` by `fresh` (a folder beside it) in two renames; the old one is removed after. */
function swapFolder(fresh: string, dest: string) {
  const old = `${dest}.old-${randomBytes(4).toString("hex")}`;
  if (existsSync(dest)) renameSync(dest, old);
  renameSync(fresh, dest);
  rmSync(old, { recursive: true, force: true });
}

export function readState(c: Course, a: string): AssignmentState | null {
  return readJson<AssignmentState>(coursePaths(c).state(checkAssignmentName(a)));
}

function requireState(c: Course, a: string): AssignmentState {
  const s = readState(c, a);
  if (!s) throw new CourseError(`the assignment ${a} has not been released`);
  return s;
}

/** The released assignments, by release time. */
export function releasedAssignments(c: Course): AssignmentState[] {
  const dir = join(coursePaths(c).exchange, "assignments");
  const names = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)) : [];
  return names
    .map((n) => readState(c, n))
    .filter((s): s is AssignmentState => !!s)
    .sort((x, y) => (x.releasedAt < y.releasedAt ? -1 : x.releasedAt > y.releasedAt ? 1 : x.name < y.name ? -1 : 1));
}

/** The assignments in source/ (folders holding notebooks). */
export function sourceAssignments(c: Course): string[] {
  const dir = coursePaths(c).sourceRoot;
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith(".") && readdirSync(join(dir, e.name)).some((f) => f.endsWith(".ipynb")))
    .map((e) => e.name)
    .sort();
}

/**
 * Releases source/ASSIGNMENT: the student version of its notebooks (the
 * grader's `release`) and the files beside them, into the exchange. Releasing
 * again replaces the release (students who fetched keep their copies).
 */
export function releaseAssignment(c: Course, a: string, o: { deadline?: string | null } = {}): AssignmentState {
  checkAssignmentName(a);
  const p = coursePaths(c);
  const src = p.source(a);
  if (!existsSync(src)) throw new CourseError(`no folder ${src}: put the instructor's notebooks for ${a} there first`);
  const sources = loadSources(src);
  const files = collectFiles(src, { maxBytes: DEFAULT_MAX_FILES_BYTES, limitHint: `leave large files out of ${src}` });
  const parent = join(p.exchange, "released");
  ensureDir(parent, 0o700);
  const tmp = mkdtempSync(join(parent, `.${a}-`));
  try {
    for (const s of sources) writeFileSync(join(tmp, s.name), serializeNotebook(s.release), { mode: 0o644 });
    copyFileSets([files], tmp);
    const listing: ReleasedFile[] = [];
    const walk = (dir: string, prefix: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
        const rel = prefix ? `${prefix}/${e.name}` : e.name;
        if (e.isDirectory()) walk(join(dir, e.name), rel);
        else {
          const b = readFileSync(join(dir, e.name));
          listing.push({ path: rel, size: b.length, sha256: sha256(b) });
        }
      }
    };
    walk(tmp, "");
    swapFolder(tmp, p.released(a));
    const prev = readState(c, a);
    const state: AssignmentState = {
      name: a,
      releasedAt: new Date().toISOString(),
      deadline: o.deadline === undefined ? prev?.deadline ?? null : o.deadline === null ? null : parseDeadline(o.deadline),
      notebooks: sources.map((s) => s.name),
      files: listing,
    };
    ensureDir(dirname(p.state(a)), 0o700);
    writeJson(p.state(a), state);
    return state;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Sets or removes the deadline (lateness is judged against the deadline as it is at collection). */
export function setDeadline(c: Course, a: string, deadline: string | null): AssignmentState {
  const s = requireState(c, a);
  s.deadline = deadline === null ? null : parseDeadline(deadline);
  writeJson(coursePaths(c).state(a), s);
  return s;
}

/** The path of a released file, checked to be one of the release's files. */
export function releasedFile(c: Course, a: string, rel: string): { path: string; file: ReleasedFile } {
  const s = requireState(c, a);
  const file = s.files.find((f) => f.path === rel);
  if (!file) throw new CourseError(`${a} has no released file ${JSON.stringify(rel)}`);
  return { path: join(coursePaths(c).released(a), ...rel.split("/")), file };
}

function lateness(timestamp: string, deadline: string | null) {
  if (!deadline) return { late: false, lateBySeconds: 0 };
  const by = (Date.parse(timestamp) - Date.parse(deadline)) / 1000;
  return { late: by > 0, lateBySeconds: by > 0 ? Math.ceil(by) : 0 };
}

/** A student's submissions of an assignment, oldest first. */
export function submissionsOf(c: Course, student: string, a: string): SubmissionRecord[] {
  const dir = coursePaths(c).inbound(student, a);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => readJson<SubmissionRecord>(join(dir, f))!)
    .filter((r) => r && existsSync(join(dir, stamp(r.timestamp))));
}

export function viewSubmission(r: SubmissionRecord, deadline: string | null): SubmissionView {
  return { timestamp: r.timestamp, files: r.files.length, bytes: r.bytes, ...lateness(r.timestamp, deadline) };
}

/** A path inside a submission: "/"-separated names, none empty, ".", "..", hidden, or with control characters. */
function checkSubmittedPath(p: unknown): string[] {
  if (typeof p !== "string" || !p || p.length > 1024) throw new CourseError(`a submitted file has no usable path (${JSON.stringify(p)})`);
  const parts = p.split("/");
  if (parts.length > 20) throw new CourseError(`the submitted file ${JSON.stringify(p)} is nested more than 20 folders deep`);
  for (const x of parts)
    if (!x || x === "." || x === ".." || x.startsWith(".") || x.length > 255 || /[\\\u0000-\u001f\u007f]/.test(x))
      throw new CourseError(`the submitted file ${JSON.stringify(p)} has an unusable name (no empty, hidden, "." or ".." parts, no backslashes or control characters)`);
  return parts;
}

/**
 * Stores a submission (files already read: notebooks and the student's own
 * files, paths relative to the assignment folder). Kept in
 * inbound/STUDENT/ASSIGNMENT/TIME/ with its record beside it; made visible
 * in one rename, so a submission is there whole or not at all.
 */
export function submit(c: Course, student: string, a: string, files: { path: string; data: Uint8Array }[], now = new Date()): SubmissionView {
  const s = requireState(c, a);
  if (!c.students.includes(student) && !c.instructors.includes(student)) throw new CourseError(`${student} is not in the course ${c.name}`);
  if (!files.length) throw new CourseError("the submission has no files");
  if (!files.some((f) => f.path.endsWith(".ipynb"))) throw new CourseError(`the submission has no notebook (${s.notebooks.join(", ")} expected)`);
  const bytes = files.reduce((n, f) => n + f.data.length, 0);
  if (bytes > c.maxSubmissionMb * (1 << 20)) throw new CourseError(`the submission is ${(bytes / (1 << 20)).toFixed(1)} MB; the limit is ${c.maxSubmissionMb} MB: leave large files (data sets, checkpoints) out of the assignment folder`);
  if (files.length > 1000) throw new CourseError(`the submission has ${files.length} files; the limit is 1000`);
  const seen = new Set<string>();
  for (const f of files) {
    checkSubmittedPath(f.path);
    if (seen.has(f.path)) throw new CourseError(`the submission holds ${f.path} twice`);
    seen.add(f.path);
  }
  // a file and a folder of the same name ("a" and "a/b")
  for (const f of files) if (seen.has(f.path.split("/").slice(0, -1).join("/"))) throw new CourseError(`the submission holds ${dirname(f.path)} as a file and as a folder`);
  const dir = coursePaths(c).inbound(student, a);
  ensureDir(dirname(dir), 0o700);
  ensureDir(dir, 0o700);
  const previous = submissionsOf(c, student, a);
  if (previous.length >= c.maxSubmissions) throw new CourseError(`${student} has made ${previous.length} submissions of ${a}, the most the course allows`);
  let timestamp = now.toISOString();
  while (existsSync(join(dir, stamp(timestamp))) || previous.some((r) => r.timestamp >= timestamp)) timestamp = new Date(Date.parse(timestamp) + 1).toISOString();
  const tmp = mkdtempSync(join(dir, ".incoming-"));
  try {
    const listing: ReleasedFile[] = [];
    for (const f of files) {
      const parts = checkSubmittedPath(f.path);
      mkdirSync(join(tmp, ...parts.slice(0, -1)), { recursive: true, mode: 0o700 });
      writeFileSync(join(tmp, ...parts), f.data, { mode: 0o600, flag: "wx" });
      listing.push({ path: f.path, size: f.data.length, sha256: sha256(f.data) });
    }
    listing.sort((x, y) => (x.path < y.path ? -1 : 1));
    const record: SubmissionRecord = { student, assignment: a, timestamp, files: listing, bytes };
    writeJson(join(dir, `${stamp(timestamp)}.json`), record);
    renameSync(tmp, join(dir, stamp(timestamp)));
    return viewSubmission(record, s.deadline);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

export function feedbackOf(c: Course, student: string, a: string): FeedbackRecord | null {
  return readJson<FeedbackRecord>(join(coursePaths(c).feedback(student, a), "feedback.json"));
}

/** The path of one of a student's feedback files, checked to be in the record. */
export function feedbackFile(c: Course, student: string, a: string, name: string): string {
  const r = feedbackOf(c, student, a);
  if (!r) throw new CourseError(`no feedback has been returned to ${student} for ${a}`);
  if (!r.files.includes(name)) throw new CourseError(`the feedback for ${a} has no file ${JSON.stringify(name)} (it has ${r.files.join(", ")})`);
  return join(coursePaths(c).feedback(student, a), "files", name);
}

/** What a student sees of the course's released assignments. */
export function studentView(c: Course, student: string): AssignmentView[] {
  return releasedAssignments(c).map((s) => {
    const fb = feedbackOf(c, student, s.name);
    return {
      name: s.name,
      releasedAt: s.releasedAt,
      deadline: s.deadline,
      notebooks: s.notebooks,
      submissions: submissionsOf(c, student, s.name).map((r) => viewSubmission(r, s.deadline)),
      feedback: fb && { score: fb.score, maxScore: fb.maxScore, returnedAt: fb.returnedAt, submittedAt: fb.submittedAt, late: fb.late },
    };
  });
}

/**
 * Collects each student's latest submission (with `beforeDeadline`, the
 * latest made before the deadline) into collected/ASSIGNMENT/STUDENT/, the
 * layout `grade --submissions` reads; the previous collection is replaced.
 */
export function collect(c: Course, a: string, o: { beforeDeadline?: boolean } = {}): NonNullable<AssignmentState["collected"]> {
  const s = requireState(c, a);
  const p = coursePaths(c);
  const parent = join(p.exchange, "collected");
  ensureDir(parent, 0o700);
  const tmp = mkdtempSync(join(parent, `.${a}-`));
  const students: Record<string, CollectedSubmission> = {};
  const missing: string[] = [];
  try {
    for (const student of c.students) {
      const all = submissionsOf(c, student, a);
      const pick = [...all].reverse().find((r) => !o.beforeDeadline || !lateness(r.timestamp, s.deadline).late);
      if (!pick) {
        missing.push(student);
        continue;
      }
      cpSync(join(p.inbound(student, a), stamp(pick.timestamp)), join(tmp, student), { recursive: true });
      students[student] = { timestamp: pick.timestamp, count: all.length, ...lateness(pick.timestamp, s.deadline) };
    }
    swapFolder(tmp, p.collected(a));
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  s.collected = { at: new Date().toISOString(), beforeDeadline: !!o.beforeDeadline, students, missing };
  writeJson(p.state(a), s);
  return s.collected;
}

/** Grades the collected submissions with the grader (sandboxed as it makes them) into graded/ASSIGNMENT/. */
export async function gradeAssignment(c: Course, a: string, o: Partial<GradeOptions> = {}): Promise<GradeSummary> {
  const s = requireState(c, a);
  if (!s.collected) throw new CourseError(`${a} has not been collected: collect the submissions first`);
  const p = coursePaths(c);
  const summary = await grade({
    source: p.source(a),
    submissions: p.collected(a),
    out: p.graded(a),
    jobs: c.grading.jobs ?? availableParallelism(),
    cellTimeoutS: c.grading.cellTimeoutS,
    notebookTimeoutS: c.grading.notebookTimeoutS,
    memoryMb: c.grading.memoryMb,
    progress: null,
    ...o,
  });
  const now = requireState(c, a);
  now.graded = { at: new Date().toISOString(), students: summary.results.map((r) => r.student) };
  writeJson(p.state(a), now);
  return summary;
}

/**
 * Returns the feedback of the graded submissions: each student's graded
 * notebook and HTML page and a record of the scores, into
 * feedback/STUDENT/ASSIGNMENT/ (replacing an earlier return).
 */
export function returnFeedback(c: Course, a: string): { returned: string[]; notGraded: string[] } {
  const s = requireState(c, a);
  if (!s.graded) throw new CourseError(`${a} has not been graded: grade it first`);
  const p = coursePaths(c);
  const returned: string[] = [], notGraded: string[] = [];
  const at = new Date().toISOString();
  for (const student of c.students) {
    const sub = s.collected?.students[student];
    let result: SubmissionResult | null = null;
    try {
      result = JSON.parse(readNoFollow(join(p.graded(a), "results", `${student}.json`), 64 << 20).toString("utf8"));
    } catch {}
    if (!sub || !result) {
      if (sub) notGraded.push(student);
      continue;
    }
    const dest = p.feedback(student, a);
    ensureDir(dirname(dest), 0o700);
    const tmp = mkdtempSync(join(dirname(dest), `.${a}-`));
    try {
      const from = join(p.graded(a), "feedback", student);
      const names = existsSync(from) ? readdirSync(from).filter((f) => lstatSync(join(from, f)).isFile()).sort() : [];
      mkdirSync(join(tmp, "files"), { mode: 0o700 });
      for (const f of names) cpSync(join(from, f), join(tmp, "files", f));
      const record: FeedbackRecord = {
        student,
        assignment: a,
        score: result.score,
        maxScore: result.maxScore,
        tests: result.tests.map((t) => ({ notebook: t.notebook, gradeId: t.gradeId, score: t.score, maxScore: t.maxScore, status: t.status, hidden: t.hidden, output: t.output })),
        messages: result.messages,
        submittedAt: sub.timestamp,
        late: sub.late,
        lateBySeconds: sub.lateBySeconds,
        returnedAt: at,
        files: names,
      };
      writeJson(join(tmp, "feedback.json"), record);
      swapFolder(tmp, dest);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    returned.push(student);
  }
  const now = requireState(c, a);
  now.returned = { at, students: returned };
  writeJson(p.state(a), now);
  return { returned, notGraded };
}

/** The class's status of one assignment: per student, submissions, what was collected, graded and returned. */
export function classStatus(c: Course, a: string) {
  const s = requireState(c, a);
  const p = coursePaths(c);
  const students = c.students.map((student) => {
    const subs = submissionsOf(c, student, a).map((r) => viewSubmission(r, s.deadline));
    let score: number | null = null, maxScore: number | null = null;
    try {
      const r = JSON.parse(readNoFollow(join(p.graded(a), "results", `${student}.json`), 64 << 20).toString("utf8")) as SubmissionResult;
      score = r.score;
      maxScore = r.maxScore;
    } catch {}
    return {
      student,
      submissions: subs.length,
      latest: subs.at(-1) ?? null,
      collected: s.collected?.students[student] ?? null,
      score,
      maxScore,
      returned: !!s.returned?.students.includes(student),
    };
  });
  return { assignment: s, students };
}
