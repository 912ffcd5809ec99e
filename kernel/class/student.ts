/**
 * The exchange's client, as a student's (or an instructor's) single-user
 * server uses it: `gradbook assignment ...` in a terminal, and the
 * JupyterLab Assignments panel through the server's handlers (which run the
 * same command with --json). It talks to the exchange service with the
 * server's hub token ($JUPYTERHUB_API_TOKEN) at $GRADBOOK_EXCHANGE_URL and
 * keeps assignments in ~/assignments/ASSIGNMENT/.
 */
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, unlinkSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { collectFiles } from "../grader/files.ts";
import { readNoFollow } from "../grader/safefs.ts";
import { validateNotebook, type Validation } from "../grader/validate.ts";
import { checkAssignmentName, CourseError } from "./course.ts";
import type { AssignmentState, AssignmentView, FeedbackRecord, ReleasedFile, SubmissionView } from "./exchange.ts";

export class ExchangeError extends Error {
  override name = "ExchangeError";
  constructor(
    message: string,
    readonly status = 0,
  ) {
    super(message);
  }
}

/** The folder feedback goes in, inside an assignment's folder (never submitted). */
export const FEEDBACK_FOLDER = "feedback";

export class ExchangeClient {
  constructor(
    readonly url: string,
    private token: string,
  ) {
    if (!url) throw new ExchangeError("no exchange: GRADBOOK_EXCHANGE_URL is not set (it is, in a server started by gradbook hub); or give --url");
    if (!token) throw new ExchangeError("no hub token: JUPYTERHUB_API_TOKEN is not set (it is, in a server started by the hub); or give --token");
    this.url = url.replace(/\/?$/, "/");
  }

  static fromEnv(o: { url?: string; token?: string } = {}) {
    return new ExchangeClient(o.url ?? process.env.GRADBOOK_EXCHANGE_URL ?? "", o.token ?? process.env.JUPYTERHUB_API_TOKEN ?? "");
  }

  async request(method: string, path: string, body?: unknown): Promise<Response> {
    let r: Response;
    try {
      r = await fetch(this.url + path, {
        method,
        headers: { Authorization: `token ${this.token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ExchangeError(`the exchange at ${this.url} does not answer (${(e as Error).cause ?? (e as Error).message})`);
    }
    if (!r.ok) {
      let msg = `${r.status} ${r.statusText}`;
      try {
        const j = (await r.json()) as { error?: string };
        if (j.error) msg = j.error;
      } catch {}
      throw new ExchangeError(msg, r.status);
    }
    return r;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }

  me() {
    return this.json<{ name: string; role: "student" | "instructor"; course: string }>("GET", "api/me");
  }

  list() {
    return this.json<{ role: "student" | "instructor"; assignments: AssignmentView[]; unreleased?: string[] }>("GET", "api/assignments");
  }

  assignment(a: string) {
    return this.json<AssignmentView & { files: ReleasedFile[] }>("GET", `api/assignments/${enc(a)}`);
  }

  /**
   * Fetches the released files into DIR/ASSIGNMENT/. A file already there is
   * kept as it is (the student's work is never overwritten): fetching again
   * brings back only what is missing, e.g. a deleted notebook.
   */
  async fetchAssignment(a: string, dir: string): Promise<{ folder: string; written: string[]; kept: string[] }> {
    const info = await this.assignment(a);
    const folder = join(dir, checkAssignmentName(a));
    const written: string[] = [], kept: string[] = [];
    for (const f of info.files) {
      const target = join(folder, ...f.path.split("/"));
      if (existsSync(target)) {
        kept.push(f.path);
        continue;
      }
      const data = Buffer.from(await (await this.request("GET", `api/assignments/${enc(a)}/files/${f.path.split("/").map(enc).join("/")}`)).arrayBuffer());
      if (createHash("sha256").update(data).digest("hex") !== f.sha256) throw new ExchangeError(`${f.path} arrived damaged (its checksum differs): fetch again`);
      mkdirSync(join(target, ".."), { recursive: true });
      writeNew(target, data);
      written.push(f.path);
    }
    return { folder, written, kept };
  }

  /** Submits DIR/ASSIGNMENT/: its notebooks and the student's own files beside them (not feedback/, hidden files, node_modules). */
  async submit(a: string, dir: string, maxMb = 100): Promise<SubmissionView & { submissions: number; files: number; notSent: string[] }> {
    const folder = join(dir, checkAssignmentName(a));
    const { files, notSent } = readSubmission(folder, maxMb);
    const v = await this.json<SubmissionView & { submissions: number }>("POST", `api/assignments/${enc(a)}/submissions`, { files: files.map((f) => ({ path: f.path, data: Buffer.from(f.data).toString("base64") })) });
    return { ...v, files: files.length, notSent };
  }

  /** The returned feedback (`student`: instructors only); with `dir`, its files are saved in DIR/ASSIGNMENT/feedback/. */
  async feedback(a: string, dir: string | null, student?: string): Promise<FeedbackRecord & { saved: string[] }> {
    const q = student ? `?student=${enc(student)}` : "";
    const fb = await this.json<FeedbackRecord>("GET", `api/assignments/${enc(a)}/feedback${q}`);
    const saved: string[] = [];
    if (dir) {
      const to = join(dir, checkAssignmentName(a), FEEDBACK_FOLDER);
      mkdirSync(to, { recursive: true });
      for (const name of fb.files) {
        const data = Buffer.from(await (await this.request("GET", `api/assignments/${enc(a)}/feedback/files/${enc(name)}${q}`)).arrayBuffer());
        const target = join(to, name);
        // the latest feedback replaces an earlier one (the folder is the exchange's, not the student's work)
        try {
          if (lstatSync(target).isFile()) unlinkSync(target);
        } catch {}
        writeNew(target, data);
        saved.push(`${a}/${FEEDBACK_FOLDER}/${name}`);
      }
    }
    return { ...fb, saved };
  }

  release(a: string, deadline?: string | null) {
    return this.json<AssignmentState>("POST", `api/assignments/${enc(a)}/release`, deadline === undefined ? {} : { deadline });
  }
  setDeadline(a: string, deadline: string | null) {
    return this.json<AssignmentState>("PUT", `api/assignments/${enc(a)}/deadline`, { deadline });
  }
  collect(a: string, beforeDeadline = false) {
    return this.json<NonNullable<AssignmentState["collected"]>>("POST", `api/assignments/${enc(a)}/collect`, { beforeDeadline });
  }
  /** Starts grading and (with `wait`) polls until it is done. */
  async grade(a: string, wait = true, pollMs = 1000): Promise<any> {
    let job = await this.json<any>("POST", `api/assignments/${enc(a)}/grade`, {});
    while (wait && job.state === "running") {
      await new Promise((r) => setTimeout(r, pollMs));
      job = await this.json<any>("GET", `api/assignments/${enc(a)}/grade`);
    }
    if (job.state === "failed") throw new ExchangeError(`grading ${a} failed: ${job.error}`);
    return job;
  }
  returnFeedback(a: string) {
    return this.json<{ returned: string[]; notGraded: string[] }>("POST", `api/assignments/${enc(a)}/return`, {});
  }
  status(a: string) {
    return this.json<any>("GET", `api/assignments/${enc(a)}/status`);
  }
}

const enc = encodeURIComponent;

function writeNew(path: string, data: Uint8Array) {
  const fd = openSync(path, "wx", 0o644);
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
  } finally {
    closeSync(fd);
  }
}

/** What a submission of FOLDER holds: the notebooks at its top and the files beside them. */
export function readSubmission(folder: string, maxMb = 100): { files: { path: string; data: Uint8Array }[]; notSent: string[] } {
  let entries;
  try {
    entries = readdirSync(folder, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CourseError(code === "ENOENT" ? `${folder} does not exist: fetch the assignment first` : `${folder} cannot be read (${code})`);
  }
  const files: { path: string; data: Uint8Array }[] = [];
  const notSent: string[] = [];
  for (const e of entries.sort((x, y) => (x.name < y.name ? -1 : 1)))
    if (e.name.endsWith(".ipynb") && !e.name.startsWith(".")) {
      if (!e.isFile()) {
        notSent.push(`${e.name} (not a plain file)`);
        continue;
      }
      files.push({ path: e.name, data: readNoFollow(join(folder, e.name), 50 << 20) });
    }
  if (!files.length) throw new CourseError(`${folder} has no notebook to submit`);
  const rest = collectFiles(folder, { untrusted: true, maxBytes: maxMb * (1 << 20), ignore: [`/${FEEDBACK_FOLDER}`], label: folder, limitHint: "leave large files (data sets, checkpoints) out of the assignment folder" });
  notSent.push(...rest.skipped);
  for (const f of rest.files) files.push({ path: f.rel, data: readNoFollow(f.abs, maxMb * (1 << 20)) });
  return { files, notSent };
}

/** Runs each notebook of DIR/ASSIGNMENT/ as `gradbook validate` does: which visible tests pass. */
export async function validateAssignment(a: string, dir: string): Promise<{ notebook: string; validation: Validation }[]> {
  const folder = join(dir, checkAssignmentName(a));
  if (!existsSync(folder)) throw new CourseError(`${folder} does not exist: fetch the assignment first`);
  const nbs = readdirSync(folder).filter((f) => f.endsWith(".ipynb") && !f.startsWith(".")).sort();
  if (!nbs.length) throw new CourseError(`${folder} has no notebook`);
  const out: { notebook: string; validation: Validation }[] = [];
  for (const nb of nbs) out.push({ notebook: nb, validation: await validateNotebook(join(folder, nb)) });
  return out;
}
