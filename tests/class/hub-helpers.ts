/**
 * A real JupyterHub for a test course on 127.0.0.1 (gradbook hub, Debian's
 * jupyterhub 3.0, the dummy authenticator with a random password, the local
 * process spawner with course uids), and what a user does with it through
 * the hub's API: log in, get a token, start a server, call the exchange,
 * run a notebook in their server's kernel. Used by hub.test.ts, the panel's
 * browser test and `npm run bench -- --hub`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
// @ts-expect-error -- ws ships no type declarations (no @types/ws installed)
import WebSocket from "ws";
import { ServerConnection, SessionManager, KernelManager, ContentsManager } from "@jupyterlab/services";
import { initCourse, type InitOptions } from "../../kernel/class/course.ts";
import { PACKAGE_ROOT } from "../../kernel/class/hub.ts";
import type { Notebook } from "../../kernel/grader/notebook.ts";

export interface TestHub {
  dir: string;
  course: string;
  url: string;
  password: string;
  proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** Makes a course in a fresh temp folder (passable by the users' uids) and runs gradbook hub on it. */
export async function startHub(o: Partial<InitOptions> & { students: string[]; instructors: string[]; setup?: (course: string, password: string) => void }): Promise<TestHub> {
  const dir = mkdtempSync(join(tmpdir(), "gradbook-hub-"));
  chmodSync(dir, 0o711);
  const course = join(dir, "course");
  const password = randomBytes(12).toString("hex");
  initCourse(course, { authenticator: "dummy", password, ip: "127.0.0.1", port: 0, memoryMb: 1024, cpus: 1, ...o });
  o.setup?.(course, password);
  let log = "";
  const proc = spawn(process.execPath, [join(PACKAGE_ROOT, "dist", "cli.js"), "hub", course], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } });
  proc.stdout!.on("data", (d) => (log += d));
  proc.stderr!.on("data", (d) => (log += d));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the hub did not start in 120 s:\n${log}`)), 120_000);
    const check = () => {
      const m = /JupyterHub is now running at (http:\/\/\S+)/.exec(log);
      if (m) {
        clearTimeout(t);
        resolve(m[1].replace(/\/?$/, "/"));
      }
    };
    proc.stdout!.on("data", check);
    proc.stderr!.on("data", check);
    proc.on("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`gradbook hub exited with ${code}:\n${log}`));
    });
  });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      await new Promise<void>((r) => {
        const t = setTimeout(() => (proc.kill("SIGKILL"), r()), 30_000);
        proc.on("exit", () => (clearTimeout(t), r()));
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // the log without the polls of a user's state
  const quiet = () => log.split("\n").filter((l) => !/ 200 GET \/hub\/api\/users\/[^/ ]+ \(/.test(l)).join("\n");
  return { dir, course, url, password, proc, log: quiet, stop };
}

/** Logs in through the hub's login form and asks the hub's API for a token, as a user's script would. Null when refused. */
export async function login(hub: { url: string }, user: string, password: string): Promise<string | null> {
  const r = await fetch(`${hub.url}hub/login`, { method: "POST", body: new URLSearchParams({ username: user, password }), redirect: "manual" });
  const cookies = r.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  const t = await fetch(`${hub.url}hub/api/users/${user}/tokens`, {
    method: "POST",
    headers: { Cookie: cookies, Referer: `${hub.url}hub/`, "Content-Type": "application/json" },
    body: JSON.stringify({ note: "gradbook test", expires_in: 7200 }),
  });
  if (!t.ok) return null;
  return ((await t.json()) as { token: string }).token;
}

/** A call with a user's token; the JSON answer (or text) and the status. */
export async function api(hub: { url: string }, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(hub.url + path.replace(/^\//, ""), {
    method,
    headers: { Authorization: `token ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: r.status, body: parsed };
}

export const exchange = (a = "") => `services/gradbook-exchange/api/assignments${a ? `/${a}` : ""}`;

/** Starts the user's server through the hub's API and waits until the hub says it is ready. */
export async function startServer(hub: { url: string }, user: string, token: string, timeoutMs = 180_000) {
  const r = await api(hub, token, "POST", `hub/api/users/${user}/server`);
  if (r.status !== 201 && r.status !== 202 && r.status !== 400) throw new Error(`starting ${user}'s server: ${r.status} ${JSON.stringify(r.body)}`);
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const u = await api(hub, token, "GET", `hub/api/users/${user}`);
    const server = u.body?.servers?.[""];
    if (server?.ready) return;
    if (!server && !u.body?.pending) throw new Error(`${user}'s server failed to start (see the hub's log)`);
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error(`${user}'s server was not ready in ${timeoutMs / 1000} s`);
}

/** @jupyterlab/services settings for a user's server through the hub's proxy. */
export function serverSettings(hub: { url: string }, user: string, token: string) {
  const base = `${hub.url}user/${user}/`;
  return ServerConnection.makeSettings({ baseUrl: base, wsUrl: base.replace(/^http/, "ws"), token, appendToken: true, WebSocket: WebSocket as any });
}

/**
 * Opens PATH (a notebook in the user's server) in a kernel session, runs its
 * code cells in order as JupyterLab's Run All does, stores the outputs and
 * saves it. Returns each code cell's outputs, and the kernel's pid.
 */
export async function runNotebook(hub: { url: string }, user: string, token: string, path: string, edit?: (nb: Notebook) => void) {
  const settings = serverSettings(hub, user, token);
  const contents = new ContentsManager({ serverSettings: settings });
  const model = await contents.get(path, { content: true });
  const nb = model.content as Notebook;
  for (const c of nb.cells) if (Array.isArray(c.source)) c.source = (c.source as string[]).join("");
  edit?.(nb);
  const kernels = new KernelManager({ serverSettings: settings });
  const sessions = new SessionManager({ serverSettings: settings, kernelManager: kernels });
  const session = await sessions.startNew({ path, type: "notebook", name: path.split("/").pop()!, kernel: { name: "gradbook" } });
  const kernel = session.kernel!;
  const results: { source: string; outputs: any[]; status: string }[] = [];
  try {
    let count = 0;
    for (const c of nb.cells) {
      if (c.cell_type !== "code") continue;
      const outputs: any[] = [];
      const future = kernel.requestExecute({ code: c.source });
      future.onIOPub = (msg: any) => {
        const t = msg.header.msg_type;
        if (t === "stream" || t === "display_data" || t === "execute_result" || t === "error") outputs.push({ output_type: t, ...msg.content });
      };
      const reply = await future.done;
      c.outputs = outputs.map(({ transient, ...o }) => o);
      c.execution_count = ++count;
      results.push({ source: c.source, outputs, status: (reply.content as any).status });
    }
    const pid = await runCode(kernel, "process.pid");
    await contents.save(path, { type: "notebook", format: "json", content: nb });
    return { results, pid: Number(pid), notebook: nb };
  } finally {
    await session.shutdown();
    sessions.dispose();
    kernels.dispose();
  }
}

/** The text/plain of a cell's result (or the error's message) in a running kernel. */
export async function runCode(kernel: any, code: string): Promise<string> {
  let out = "";
  const future = kernel.requestExecute({ code });
  future.onIOPub = (msg: any) => {
    const t = msg.header.msg_type;
    if (t === "execute_result") out += msg.content.data["text/plain"];
    if (t === "stream" && msg.content.name === "stdout") out += msg.content.text;
    if (t === "error") out += `${msg.content.ename}: ${msg.content.evalue}`;
  };
  await future.done;
  return out.trim();
}
