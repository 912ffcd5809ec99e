/**
 * The exchange service: a JupyterHub service (started by the hub, reached at
 * /services/gradbook-exchange/ through its proxy) that gives the exchange's
 * operations to the course's users over HTTP. Every request carries a hub
 * token (`Authorization: token ...`); the service asks the hub whose it is
 * (GET /hub/api/user) and lets students act only as themselves: list,
 * fetch, submit, read their own feedback. Instructors also release, set
 * deadlines, collect, grade, return and read anyone's feedback.
 *
 *   GET  api/me                                   who the token is, and their role
 *   GET  api/assignments                          the released assignments (and, for instructors, those in source/)
 *   GET  api/assignments/A                        one assignment: deadline, files, the caller's submissions
 *   GET  api/assignments/A/files/PATH             a released file
 *   POST api/assignments/A/submissions            {files: [{path, data (base64)}]}: a submission
 *   GET  api/assignments/A/feedback[?student=S]   the returned scores (S: instructors only)
 *   GET  api/assignments/A/feedback/files/NAME[?student=S]
 *   POST api/assignments/A/release                {deadline?}            instructors
 *   PUT  api/assignments/A/deadline               {deadline: ... | null} instructors
 *   POST api/assignments/A/collect                {beforeDeadline?}      instructors
 *   POST api/assignments/A/grade                  starts grading (202); GET: its progress
 *   POST api/assignments/A/return                                        instructors
 *   GET  api/assignments/A/status                 the class, per student instructors
 *   GET  api/assignments/A/gradebook.csv                                 instructors
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadCourse, checkAssignmentName, coursePaths, CourseError, type Course } from "./course.ts";
import {
  classStatus,
  collect,
  feedbackFile,
  feedbackOf,
  gradeAssignment,
  readState,
  releaseAssignment,
  releasedAssignments,
  releasedFile,
  returnFeedback,
  setDeadline,
  sourceAssignments,
  studentView,
  submissionsOf,
  submit,
} from "./exchange.ts";
import { FilesError } from "../grader/files.ts";
import { NotebookError } from "../grader/notebook.ts";

export const SERVICE_NAME = "gradbook-exchange";

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Identity {
  name: string;
  role: "student" | "instructor";
}

export interface ServiceOptions {
  course: string;
  /** The hub's API, e.g. http://127.0.0.1:8081/hub/api ($JUPYTERHUB_API_URL). */
  hubApi: string;
  /** The path prefix the proxy keeps ($JUPYTERHUB_SERVICE_PREFIX), stripped from requests. */
  prefix?: string;
  log?: (line: string) => void;
}

interface GradeJob {
  state: "running" | "done" | "failed";
  startedAt: string;
  finishedAt?: string;
  by: string;
  graded?: number;
  resumed?: number;
  students?: { student: string; score: number; maxScore: number; status: string }[];
  error?: string;
}

const MIME: Record<string, string> = { ".html": "text/html; charset=utf-8", ".ipynb": "application/x-ipynb+json", ".json": "application/json", ".csv": "text/csv; charset=utf-8" };

export class ExchangeService {
  readonly course: Course;
  private server: Server | null = null;
  private identities = new Map<string, { id: Identity | null; why: string; until: number }>();
  private jobs = new Map<string, GradeJob>();
  private log: (line: string) => void;

  constructor(private o: ServiceOptions) {
    this.course = loadCourse(o.course);
    this.log = o.log ?? ((l) => console.log(l));
  }

  /** Whose token this is, asked of the hub (cached for 30 s). */
  private async identify(req: IncomingMessage): Promise<Identity> {
    const h = req.headers.authorization ?? "";
    const m = /^(?:token|bearer)\s+(\S+)$/i.exec(h);
    if (!m) throw new HttpError(401, "no hub token: send the header Authorization: token <your JupyterHub API token>");
    const key = createHash("sha256").update(m[1]).digest("hex");
    const hit = this.identities.get(key);
    if (hit && hit.until > Date.now()) {
      if (!hit.id) throw new HttpError(403, hit.why);
      return hit.id;
    }
    let r: Response;
    try {
      r = await fetch(`${this.o.hubApi.replace(/\/$/, "")}/user`, { headers: { Authorization: `token ${m[1]}` } });
    } catch (e) {
      throw new HttpError(502, `the hub's API at ${this.o.hubApi} does not answer (${(e as Error).message})`);
    }
    let id: Identity | null = null, why = "";
    if (r.status === 403 || r.status === 401) why = "the hub does not know this token (expired or revoked): log in to the hub again";
    else if (!r.ok) throw new HttpError(502, `the hub answered ${r.status} when asked whose the token is`);
    else {
      const u = (await r.json()) as { kind?: string; name?: string };
      if (u.kind !== "user" || typeof u.name !== "string") why = "this token belongs to a service, not to a user of the course";
      else if (this.course.instructors.includes(u.name)) id = { name: u.name, role: "instructor" };
      else if (this.course.students.includes(u.name)) id = { name: u.name, role: "student" };
      else why = `${u.name} is not in the course ${this.course.name}`;
    }
    if (this.identities.size > 10_000) this.identities.clear();
    this.identities.set(key, { id, why, until: Date.now() + 30_000 });
    if (!id) throw new HttpError(403, why);
    return id;
  }

  listen(port: number, host = "127.0.0.1"): Promise<number> {
    this.server = createServer((req, res) => void this.handle(req, res));
    return new Promise((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, host, () => resolve((this.server!.address() as any).port));
    });
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const t0 = Date.now();
    let who = "-";
    try {
      const url = new URL(req.url ?? "/", "http://x");
      let path = url.pathname;
      const prefix = (this.o.prefix ?? "/").replace(/\/?$/, "/");
      if (prefix !== "/" && path.startsWith(prefix)) path = "/" + path.slice(prefix.length);
      if (path === "/" || path === prefix.replace(/\/$/, "")) return this.json(res, 200, { service: SERVICE_NAME, course: this.course.name }); // the hub's check that it is up
      const id = await this.identify(req);
      who = id.name;
      await this.route(req, res, id, path, url.searchParams);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : e instanceof CourseError || e instanceof FilesError || e instanceof NotebookError ? 400 : 500;
      if (status === 500) this.log(`[gradbook-exchange] error: ${(e as Error).stack ?? e}`);
      if (!res.headersSent) this.json(res, status, { error: status === 500 ? `the exchange failed: ${(e as Error).message}` : (e as Error).message });
      else res.destroy();
    } finally {
      this.log(`[gradbook-exchange] ${res.statusCode} ${req.method} ${req.url} (${who}) ${Date.now() - t0} ms`);
    }
  }

  private json(res: ServerResponse, status: number, body: unknown) {
    const s = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store" });
    res.end(s);
  }

  private file(res: ServerResponse, path: string, name: string) {
    const ext = name.slice(name.lastIndexOf("."));
    res.writeHead(200, {
      "Content-Type": MIME[ext] ?? "application/octet-stream",
      "Content-Length": statSync(path).size,
      // feedback pages are shown as files, never as a page of this origin
      "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
      "X-Content-Type-Options": "nosniff",
      "Cache-Control": "no-store",
    });
    createReadStream(path).pipe(res);
  }

  private async body(req: IncomingMessage, max: number): Promise<any> {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of req) {
      n += c.length;
      if (n > max) throw new HttpError(413, `the request is larger than ${Math.round(max / (1 << 20))} MB (the course's limit on a submission is ${this.course.maxSubmissionMb} MB)`);
      chunks.push(c);
    }
    if (!n) return {};
    try {
      return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      throw new HttpError(400, "the request body is not JSON");
    }
  }

  private instructor(id: Identity, what: string) {
    if (id.role !== "instructor") throw new HttpError(403, `${id.name} is a student: only the course's instructors may ${what}`);
  }

  /** The student whose feedback is asked for: the caller, or (instructors only) ?student=. */
  private whose(id: Identity, q: URLSearchParams): string {
    const s = q.get("student");
    if (!s || s === id.name) return id.name;
    if (id.role !== "instructor") throw new HttpError(403, `${id.name} may not read ${s}'s feedback: students see only their own`);
    if (!this.course.students.includes(s)) throw new HttpError(404, `${s} is not a student of ${this.course.name}`);
    return s;
  }

  private async route(req: IncomingMessage, res: ServerResponse, id: Identity, path: string, q: URLSearchParams) {
    const c = this.course;
    const parts = path.split("/").filter(Boolean).map((x) => decodeURIComponent(x));
    const m = req.method ?? "GET";
    if (parts[0] !== "api") throw new HttpError(404, `no such endpoint ${path}`);
    if (parts.length === 2 && parts[1] === "me" && m === "GET") return this.json(res, 200, { name: id.name, role: id.role, course: c.name });
    if (parts[1] !== "assignments") throw new HttpError(404, `no such endpoint ${path}`);
    if (parts.length === 2 && m === "GET") {
      const mine = studentView(c, id.name);
      if (id.role === "student") return this.json(res, 200, { role: id.role, assignments: mine });
      const released = new Set(mine.map((a) => a.name));
      return this.json(res, 200, { role: id.role, assignments: mine, unreleased: sourceAssignments(c).filter((a) => !released.has(a)) });
    }
    const a = parts[2];
    try {
      checkAssignmentName(a);
    } catch (e) {
      throw new HttpError(404, (e as Error).message);
    }
    const rest = parts.slice(3);
    const op = `${m} ${rest[0] ?? ""}`;
    const known = () => {
      if (!readState(c, a)) throw new HttpError(404, `no assignment ${a} has been released`);
    };
    switch (op) {
      case "GET ": {
        known();
        const s = readState(c, a)!;
        return this.json(res, 200, { ...studentView(c, id.name).find((v) => v.name === a), files: s.files });
      }
      case "GET files": {
        known();
        const rel = rest.slice(1).join("/");
        const f = releasedFile(c, a, rel);
        return this.file(res, f.path, rel);
      }
      case "POST submissions": {
        if (rest.length !== 1) break;
        known();
        const b = await this.body(req, Math.ceil(c.maxSubmissionMb * (1 << 20) * 1.4) + (1 << 20));
        if (!Array.isArray(b.files)) throw new HttpError(400, "the submission must be {files: [{path, data}]} (data in base64)");
        const files = b.files.map((f: any, i: number) => {
          if (!f || typeof f.path !== "string" || typeof f.data !== "string") throw new HttpError(400, `file ${i} of the submission needs a path and data (base64)`);
          return { path: f.path, data: Buffer.from(f.data, "base64") };
        });
        const v = submit(c, id.name, a, files);
        return this.json(res, 201, { ...v, submissions: submissionsOf(c, id.name, a).length });
      }
      case "GET feedback": {
        known();
        const s = this.whose(id, q);
        if (rest.length === 1) {
          const fb = feedbackOf(c, s, a);
          if (!fb) throw new HttpError(404, `no feedback has been returned to ${s} for ${a} yet`);
          return this.json(res, 200, fb);
        }
        if (rest[1] === "files" && rest.length === 3) return this.file(res, feedbackFile(c, s, a, rest[2]), rest[2]);
        break;
      }
      case "POST release": {
        this.instructor(id, "release assignments");
        const b = await this.body(req, 1 << 20);
        return this.json(res, 200, releaseAssignment(c, a, { deadline: b.deadline }));
      }
      case "PUT deadline": {
        this.instructor(id, "set deadlines");
        const b = await this.body(req, 1 << 20);
        if (!("deadline" in b)) throw new HttpError(400, "send {deadline: \"2026-12-10T23:59+01:00\"} (or null for none)");
        return this.json(res, 200, setDeadline(c, a, b.deadline));
      }
      case "POST collect": {
        this.instructor(id, "collect submissions");
        const b = await this.body(req, 1 << 20);
        if (this.jobs.get(a)?.state === "running") throw new HttpError(409, `${a} is being graded: collect again when grading is done`);
        return this.json(res, 200, collect(c, a, { beforeDeadline: !!b.beforeDeadline }));
      }
      case "POST grade": {
        this.instructor(id, "grade");
        known();
        if (this.jobs.get(a)?.state === "running") throw new HttpError(409, `${a} is already being graded`);
        if (!readState(c, a)!.collected) throw new HttpError(400, `${a} has not been collected: collect the submissions first`);
        const job: GradeJob = { state: "running", startedAt: new Date().toISOString(), by: id.name };
        this.jobs.set(a, job);
        gradeAssignment(c, a).then(
          (s) => Object.assign(job, { state: "done", finishedAt: new Date().toISOString(), graded: s.graded, resumed: s.resumed, students: s.results.map((r) => ({ student: r.student, score: r.score, maxScore: r.maxScore, status: r.status })) }),
          (e) => Object.assign(job, { state: "failed", finishedAt: new Date().toISOString(), error: (e as Error).message }),
        );
        return this.json(res, 202, job);
      }
      case "GET grade": {
        this.instructor(id, "see grading");
        const job = this.jobs.get(a);
        if (!job) throw new HttpError(404, `${a} has not been graded since the exchange started`);
        return this.json(res, 200, job);
      }
      case "POST return": {
        this.instructor(id, "return feedback");
        if (this.jobs.get(a)?.state === "running") throw new HttpError(409, `${a} is being graded: return the feedback when grading is done`);
        return this.json(res, 200, returnFeedback(c, a));
      }
      case "GET status": {
        this.instructor(id, "see the class's status");
        known();
        return this.json(res, 200, classStatus(c, a));
      }
      case "GET gradebook.csv": {
        this.instructor(id, "read the gradebook");
        const p = join(coursePaths(c).graded(a), "gradebook.csv");
        if (!existsSync(p)) throw new HttpError(404, `${a} has not been graded`);
        return this.file(res, p, "gradebook.csv");
      }
    }
    throw new HttpError(404, `no such endpoint: ${m} ${path}`);
  }
}

/** `gradbook exchange COURSE`: runs the service with the settings the hub gives its services. */
export async function runService(course: string, o: { port?: number } = {}) {
  const api = process.env.JUPYTERHUB_API_URL;
  if (!api) throw new CourseError("JUPYTERHUB_API_URL is not set: the exchange runs as a JupyterHub service (gradbook hub starts it)");
  const url = process.env.JUPYTERHUB_SERVICE_URL ? new URL(process.env.JUPYTERHUB_SERVICE_URL) : null;
  const svc = new ExchangeService({ course, hubApi: api, prefix: process.env.JUPYTERHUB_SERVICE_PREFIX });
  const port = await svc.listen(o.port ?? Number(url?.port || 0), url?.hostname ?? "127.0.0.1");
  console.log(`[gradbook-exchange] serving ${svc.course.root} on ${url?.hostname ?? "127.0.0.1"}:${port}`);
  await new Promise<void>((resolve) => {
    const stop = () => void svc.close().then(resolve);
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
