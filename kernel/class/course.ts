/**
 * A course on one machine: its roster, settings and folders.
 *
 * COURSE/course.json holds the roster and settings (see README.md). Its
 * folders, and who may enter them:
 *
 *   course.json                       root, 0600 (may hold the test password)
 *   source/ASSIGNMENT/                the instructor's notebooks and files: root:instructors 2770
 *   exchange/                         root 0700: only the exchange service (and root) reads it
 *     assignments/ASSIGNMENT.json     release time, deadline, notebooks
 *     released/ASSIGNMENT/            the student version (`release`)
 *     inbound/STUDENT/ASSIGNMENT/TIME/ every submission, kept
 *     collected/ASSIGNMENT/STUDENT/   the submission that `collect` took
 *     graded/ASSIGNMENT/              `grade --out`: gradebook.csv, feedback, results
 *     feedback/STUDENT/ASSIGNMENT/    what `return` gave back to the student
 *   hub/                              root 0700: JupyterHub's config, database, secrets, log
 *   jupyter/                          0755: the kernelspec and server config the students' servers read
 *   home/USER/                        USER's uid, 0700: the home of a user without a system account
 *
 * The course folder itself is 0711: users pass through it to their home and
 * to jupyter/, and list nothing.
 */
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSources } from "../grader/grade.ts";
import { serializeNotebook } from "../grader/notebook.ts";
import { safeName } from "../grader/safefs.ts";

export interface CourseLimits {
  /** Memory of a user's server and everything it starts (kernels, terminals), in MiB. */
  memoryMb: number;
  /** CPU cores of a user's server and everything it starts. */
  cpus: number;
}

export interface Course {
  /** The course folder (absolute). */
  root: string;
  name: string;
  students: string[];
  instructors: string[];
  /**
   * "pam": the machine's accounts and passwords; "dummy": one shared password, for tests and trials
   * only; or any other JupyterHub authenticator the hub's Python has: its entry-point name ("github")
   * or its class ("oauthenticator.github.GitHubOAuthenticator"), configured in hubConfig.
   */
  authenticator: string;
  /** The dummy authenticator's password. */
  password?: string;
  /** A JupyterHub config file (Python, root's and writable by no one else) the hub loads after gradbook's: an authenticator's settings. */
  hubConfig: string | null;
  limits: CourseLimits;
  /** How the limits are enforced: "cgroup" (the server refuses to start when it cannot), or "none" (said in the hub's log). */
  enforceLimits: "cgroup" | "none";
  hub: { ip: string; port: number };
  /** A folder of notebooks copied into each new home's `notebooks/` (course material), or null. */
  notebooks: string | null;
  /** Users without a system account get uids from uidBase + 1 up; instructors share the group uidBase. */
  uidBase: number;
  /** Options of `grade` for the class's assignments. */
  grading: { jobs?: number; cellTimeoutS?: number; notebookTimeoutS?: number; memoryMb?: number };
  /** Most bytes of one submission, and most submissions a student may make of one assignment. */
  maxSubmissionMb: number;
  maxSubmissions: number;
}

export class CourseError extends Error {
  override name = "CourseError";
}

/** A user name the course accepts: what JupyterHub keeps (lowercase) and a safe single path component. */
export function checkUserName(name: unknown, where: string): string {
  if (typeof name !== "string" || !name) throw new CourseError(`${where}: a user name must be a non-empty string, not ${JSON.stringify(name)}`);
  if (name !== name.toLowerCase()) throw new CourseError(`${where}: ${JSON.stringify(name)} has capitals; JupyterHub keeps user names in lowercase, write ${JSON.stringify(name.toLowerCase())}`);
  if (safeName(name, "") !== name || name.length > 64) throw new CourseError(`${where}: ${JSON.stringify(name)} is not a usable user name (letters, digits and . _ - @ + only, not starting with . - or _, at most 64)`);
  return name;
}

/** An assignment name: a safe single path component. */
export function checkAssignmentName(name: unknown): string {
  if (typeof name !== "string" || !name || safeName(name, "") !== name || name.length > 64)
    throw new CourseError(`the assignment name ${JSON.stringify(name)} is not usable: letters, digits and . _ - @ + only, not starting with . - or _, at most 64`);
  return name;
}

const DEFAULTS = {
  authenticator: "pam" as const,
  limits: { memoryMb: 2048, cpus: 1 },
  enforceLimits: "cgroup" as const,
  hub: { ip: "0.0.0.0", port: 8000 },
  uidBase: 63000,
  maxSubmissionMb: 100,
  maxSubmissions: 100,
};

/** Reads and checks COURSE/course.json; every problem names the field and the file. */
export function loadCourse(dir: string): Course {
  const root = resolve(dir);
  const file = join(root, "course.json");
  let raw: any;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new CourseError(`${file} does not exist: make the course with gradbook class init ${dir} --students ... --instructors ...`);
    throw new CourseError(`${file} cannot be read: ${code ?? (e as Error).message}`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new CourseError(`${file}: must be a JSON object`);
  const known = new Set(["name", "students", "instructors", "authenticator", "password", "hubConfig", "limits", "enforceLimits", "hub", "notebooks", "uidBase", "grading", "maxSubmissionMb", "maxSubmissions"]);
  for (const k of Object.keys(raw)) if (!known.has(k)) throw new CourseError(`${file}: unknown field ${JSON.stringify(k)} (known: ${[...known].join(", ")})`);
  const f = (k: string) => `${file}: ${k}`;
  const list = (k: string): string[] => {
    const v = raw[k] ?? [];
    if (!Array.isArray(v)) throw new CourseError(`${f(k)} must be a list of user names`);
    return v.map((x: unknown, i: number) => checkUserName(x, `${f(k)}[${i}]`));
  };
  const name = raw.name ?? "course";
  if (typeof name !== "string" || safeName(name, "") !== name) throw new CourseError(`${f("name")} ${JSON.stringify(name)} must be a short name: letters, digits and . _ - @ +`);
  const students = list("students"), instructors = list("instructors");
  if (!instructors.length) throw new CourseError(`${f("instructors")} names no one: a course needs at least one instructor (the hub's admins)`);
  const dup = [...students, ...instructors].find((u, i, a) => a.indexOf(u) !== i);
  if (dup) throw new CourseError(`${file}: ${dup} is listed twice (a user is a student or an instructor, once)`);
  const authenticator = raw.authenticator ?? DEFAULTS.authenticator;
  if (typeof authenticator !== "string" || !/^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$/.test(authenticator))
    throw new CourseError(
      `${f("authenticator")} must be "pam" (the machine's accounts), "dummy" (one shared password, tests only) or a JupyterHub authenticator's entry-point name or Python class (e.g. "oauthenticator.github.GitHubOAuthenticator"), not ${JSON.stringify(authenticator)}`,
    );
  let hubConfig: string | null = null;
  if (raw.hubConfig !== undefined && raw.hubConfig !== null) {
    if (typeof raw.hubConfig !== "string" || !raw.hubConfig.endsWith(".py")) throw new CourseError(`${f("hubConfig")} must be a JupyterHub config file (.py; relative to the course folder, or absolute) or null`);
    hubConfig = isAbsolute(raw.hubConfig) ? raw.hubConfig : join(root, raw.hubConfig);
  }
  if (authenticator === "dummy" && (typeof raw.password !== "string" || raw.password.length < 8))
    throw new CourseError(`${f("password")}: the dummy authenticator needs a password of at least 8 characters (everyone logs in with it: tests and trials only)`);
  const num = (v: unknown, k: string, min: number, max: number, int = false): number => {
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) throw new CourseError(`${f(k)} must be ${int ? "an integer" : "a number"} from ${min} to ${max}, not ${JSON.stringify(v)}`);
    return v;
  };
  const lim = { ...DEFAULTS.limits, ...(raw.limits ?? {}) };
  for (const k of Object.keys(lim)) if (k !== "memoryMb" && k !== "cpus") throw new CourseError(`${f("limits")}: unknown field ${JSON.stringify(k)} (memoryMb, cpus)`);
  const limits = { memoryMb: num(lim.memoryMb, "limits.memoryMb", 128, 1 << 22, true), cpus: num(lim.cpus, "limits.cpus", 0.05, 1024) };
  const enforceLimits = raw.enforceLimits ?? DEFAULTS.enforceLimits;
  if (enforceLimits !== "cgroup" && enforceLimits !== "none") throw new CourseError(`${f("enforceLimits")} must be "cgroup" or "none", not ${JSON.stringify(enforceLimits)}`);
  const hubRaw = { ...DEFAULTS.hub, ...(raw.hub ?? {}) };
  if (typeof hubRaw.ip !== "string" || !hubRaw.ip) throw new CourseError(`${f("hub.ip")} must be an address such as "0.0.0.0" or "127.0.0.1"`);
  const hub = { ip: hubRaw.ip, port: num(hubRaw.port, "hub.port", 0, 65535, true) };
  let notebooks: string | null = null;
  if (raw.notebooks !== undefined && raw.notebooks !== null) {
    if (typeof raw.notebooks !== "string" || !raw.notebooks) throw new CourseError(`${f("notebooks")} must be a folder (relative to the course folder, or absolute) or null`);
    notebooks = isAbsolute(raw.notebooks) ? raw.notebooks : join(root, raw.notebooks);
  }
  const g = raw.grading ?? {};
  if (typeof g !== "object" || Array.isArray(g)) throw new CourseError(`${f("grading")} must be an object`);
  const grading: Course["grading"] = {};
  for (const [k, v] of Object.entries(g)) {
    if (!["jobs", "cellTimeoutS", "notebookTimeoutS", "memoryMb"].includes(k)) throw new CourseError(`${f("grading")}: unknown field ${JSON.stringify(k)} (jobs, cellTimeoutS, notebookTimeoutS, memoryMb)`);
    (grading as any)[k] = num(v, `grading.${k}`, 1, 1e6);
  }
  return {
    root,
    name,
    students,
    instructors,
    authenticator,
    password: authenticator === "dummy" ? raw.password : undefined,
    hubConfig,
    limits,
    enforceLimits,
    hub,
    notebooks,
    uidBase: num(raw.uidBase ?? DEFAULTS.uidBase, "uidBase", 1000, 2 ** 31 - 100_000, true),
    grading,
    maxSubmissionMb: num(raw.maxSubmissionMb ?? DEFAULTS.maxSubmissionMb, "maxSubmissionMb", 1, 1 << 20),
    maxSubmissions: num(raw.maxSubmissions ?? DEFAULTS.maxSubmissions, "maxSubmissions", 1, 1e6, true),
  };
}

/** The course's folders (see the module comment). */
export function coursePaths(c: Pick<Course, "root">) {
  const ex = join(c.root, "exchange");
  return {
    config: join(c.root, "course.json"),
    sourceRoot: join(c.root, "source"),
    source: (a: string) => join(c.root, "source", a),
    exchange: ex,
    state: (a: string) => join(ex, "assignments", `${a}.json`),
    released: (a: string) => join(ex, "released", a),
    inbound: (s: string, a: string) => join(ex, "inbound", s, a),
    collected: (a: string) => join(ex, "collected", a),
    graded: (a: string) => join(ex, "graded", a),
    feedback: (s: string, a: string) => join(ex, "feedback", s, a),
    hub: join(c.root, "hub"),
    jupyter: join(c.root, "jupyter"),
    home: (u: string) => join(c.root, "home", u),
  };
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

/** A folder with this mode (and owner, as root), created when missing; a link in its place is refused. */
export function ensureDir(path: string, mode: number, owner?: { uid: number; gid: number }) {
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink() || !st.isDirectory()) throw new CourseError(`${path} must be a folder, not a link or a file`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    mkdirSync(path, { recursive: true });
  }
  if (owner && isRoot()) chownSync(path, owner.uid, owner.gid);
  chmodSync(path, mode);
}

/**
 * Creates the course's folders with the modes in the module comment (and
 * puts them right when they drifted). As root the instructors' folder
 * `source/` belongs to the instructors' group (uidBase).
 */
export function ensureLayout(c: Course) {
  const p = coursePaths(c);
  ensureDir(c.root, 0o711);
  if (existsSync(p.config)) chmodSync(p.config, 0o600);
  ensureDir(p.sourceRoot, 0o2770, { uid: 0, gid: c.uidBase });
  ensureDir(p.exchange, 0o700, { uid: 0, gid: 0 });
  for (const d of ["assignments", "released", "inbound", "collected", "graded", "feedback"]) ensureDir(join(p.exchange, d), 0o700, { uid: 0, gid: 0 });
  ensureDir(p.hub, 0o700, { uid: 0, gid: 0 });
  ensureDir(p.jupyter, 0o755);
  ensureDir(join(c.root, "home"), 0o711);
}

export interface InitOptions {
  name?: string;
  students: string[];
  instructors: string[];
  authenticator?: string;
  password?: string;
  memoryMb?: number;
  cpus?: number;
  port?: number;
  ip?: string;
  /** A folder of notebooks every new home gets; default: COURSE/notebooks with the student versions of gradbook's course notebooks; null: none. */
  notebooks?: string | null;
  /** Default: defaultUidBase(the course folder). */
  uidBase?: number;
}

/**
 * A course's own range of 1000 uids, picked from its folder's path so that two courses on one
 * machine (whose users get course uids) rarely share one: 63000 + 1000·k, k < 400, skipping the
 * range of nobody (65534). Two courses must not share a range: check `uidBase` in course.json.
 */
export function defaultUidBase(root: string): number {
  let k = parseInt(createHash("sha256").update(resolve(root)).digest("hex").slice(0, 8), 16) % 400;
  if (63000 + 1000 * k <= 65534 && 65534 < 63000 + 1000 * (k + 1)) k++;
  return 63000 + 1000 * k;
}

/** gradbook's course notebooks (notebooks/*.ipynb beside this package). */
export const COURSE_NOTEBOOKS = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, "package.json")) && dirname(d) !== d) d = dirname(d);
  return join(d, "notebooks");
})();

/** Writes the student versions (`release`) of the notebooks in `from` into `to` (readable by everyone); returns their names. */
export function releaseNotebooksTo(from: string, to: string): string[] {
  const sources = loadSources(from);
  ensureDir(to, 0o755);
  for (const s of sources) writeFileSync(join(to, s.name), serializeNotebook(s.release), { mode: 0o644 });
  return sources.map((s) => s.name);
}

/** `gradbook class init`: writes course.json (refusing to overwrite one) and the folders. */
export function initCourse(dir: string, o: InitOptions): Course {
  const root = resolve(dir);
  const file = join(root, "course.json");
  if (existsSync(file)) throw new CourseError(`${file} already exists: edit it instead`);
  const json: Record<string, unknown> = {
    name: o.name ?? (safeName(root.split("/").pop() ?? "course", "course")),
    students: o.students,
    instructors: o.instructors,
    authenticator: o.authenticator ?? "pam",
    ...(o.password ? { password: o.password } : {}),
    limits: { memoryMb: o.memoryMb ?? DEFAULTS.limits.memoryMb, cpus: o.cpus ?? DEFAULTS.limits.cpus },
    hub: { ip: o.ip ?? DEFAULTS.hub.ip, port: o.port ?? DEFAULTS.hub.port },
    ...(o.notebooks !== null ? { notebooks: o.notebooks ?? "notebooks" } : {}),
  };
  json.uidBase = o.uidBase ?? defaultUidBase(root);
  mkdirSync(root, { recursive: true });
  writeFileSync(file, JSON.stringify(json, null, 2) + "\n", { mode: 0o600, flag: "wx" });
  try {
    const c = loadCourse(root);
    ensureLayout(c);
    if (o.notebooks === undefined) releaseNotebooksTo(COURSE_NOTEBOOKS, c.notebooks!);
    return c;
  } catch (e) {
    // a roster the checks refuse leaves no half-made course behind
    unlinkSync(file);
    throw e;
  }
}
