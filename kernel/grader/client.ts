/**
 * A minimal Jupyter client for the grader: starts one gradbook kernel
 * process (`node dist/kernel.js -f <connection file>`) in a sandbox, talks
 * to it over ZeroMQ (the wire format of kernel/protocol/wire.ts), runs cells
 * one at a time with a time limit, and watches the process: its exit, its
 * memory (RSS), its output volume. Never throws for anything the kernel or
 * the code in it does: every outcome is a value.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type * as Zmq from "zeromq";
import { Signer, makeHeader, parseFrames, serialize, type ConnectionInfo, type Message } from "../protocol/wire.ts";
import type { Output } from "./notebook.ts";

export interface KernelLimits {
  /** Memory limit of the kernel process, MiB (V8 heap limit and RSS watchdog). */
  memoryMb: number;
  /** Most characters of stream output kept per cell. */
  maxOutputChars: number;
}

export interface SandboxOptions {
  /** Scratch directory the kernel may write in (its cwd, HOME and TMPDIR); created, not removed here. */
  dir: string;
  /** Node's permission model: writes only in `dir`, reads only in the package and `dir`, no child processes. */
  permissions: boolean;
  /** When running as root: run the kernel as this uid/gid (`dir` is given to it; its parent folders must let it pass); null to keep root. */
  user: { uid: number; gid: number } | null;
  /** Run the kernel in this folder instead of the scratch one (validate: the notebook's folder). */
  cwd?: string;
}

export type CellOutcome =
  | { status: "ok"; outputs: Output[]; executionCount: number | null }
  | { status: "error"; outputs: Output[]; executionCount: number | null; ename: string; evalue: string }
  /** The time limit passed; the kernel must be restarted. */
  | { status: "timeout"; outputs: Output[] }
  /** The kernel process ended (process.exit, crash, memory limit); `reason` says which. */
  | { status: "died"; outputs: Output[]; reason: string };

/** Finds dist/kernel.js: $GRADBOOK_KERNEL, beside this bundle (dist/cli.js), or ../../dist from the source. */
export function findKernelScript(): string {
  const env = process.env.GRADBOOK_KERNEL;
  if (env && existsSync(env)) return resolve(env);
  const here = dirname(fileURLToPath(import.meta.url));
  for (const c of [join(here, "kernel.js"), join(here, "..", "..", "dist", "kernel.js"), join(here, "..", "dist", "kernel.js")]) if (existsSync(c)) return c;
  throw new Error(`the gradbook kernel (dist/kernel.js) was not found near ${here}: run \`npm run build\``);
}

/** The package root (holding dist/, node_modules/, engine/) for a kernel script path. */
export function packageRootOf(kernelScript: string): string {
  return dirname(dirname(kernelScript));
}

/** The kernel's working folder (its cwd) inside its scratch folder. */
export const workFolder = (dir: string): string => join(dir, "work");
/** The folders a kernel in `dir` may write: its working folder, HOME and TMPDIR. */
export const kernelFolders = (dir: string): string[] => [workFolder(dir), join(dir, "home"), join(dir, "tmp")];

// Ends the kernel when the grader's pipe to it closes (the grader was killed): nothing is left running.
const PRELOAD = `data:text/javascript,${encodeURIComponent(
  "import process from 'node:process';import {isMainThread} from 'node:worker_threads';if(isMainThread){process.stdin.on('data',()=>{});process.stdin.on('end',()=>process.kill(process.pid,'SIGKILL'));process.stdin.on('error',()=>process.kill(process.pid,'SIGKILL'));}",
)}`;

export class KernelProcess {
  private child!: ChildProcess;
  private shell!: Zmq.Dealer;
  private control!: Zmq.Dealer;
  private iopub!: Zmq.Subscriber;
  private signer!: Signer;
  private session = randomUUID();
  private listeners = new Map<string, (m: Message, channel: "shell" | "iopub") => void>();
  private exitWaiters: ((reason: string) => void)[] = [];
  private watchdog: NodeJS.Timeout | null = null;
  private stderrTail = "";
  private dead: string | null = null;
  private closed = false;
  private killReason: string | null = null;
  private shellQueue: Promise<void> = Promise.resolve();

  private constructor(
    private kernelScript: string,
    private sandbox: SandboxOptions,
    private limits: KernelLimits,
  ) {}

  /** Starts a kernel and waits until it answers and its iopub channel is connected. */
  static async start(kernelScript: string, sandbox: SandboxOptions, limits: KernelLimits, startTimeoutMs = 60_000): Promise<KernelProcess> {
    const k = new KernelProcess(kernelScript, sandbox, limits);
    try {
      await k.launch(startTimeoutMs);
    } catch (e) {
      k.kill();
      throw e;
    }
    return k;
  }

  get alive(): boolean {
    return this.dead === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private async launch(startTimeoutMs: number) {
    const zmq: typeof Zmq = await import("zeromq");
    const { dir, permissions, user } = this.sandbox;
    const [work, home, tmp] = kernelFolders(dir), sock = join(dir, "k");
    for (const d of [home, work, tmp]) mkdirSync(d, { recursive: true });
    const conn: ConnectionInfo = {
      transport: "ipc",
      ip: sock,
      shell_port: 1,
      iopub_port: 2,
      stdin_port: 3,
      control_port: 4,
      hb_port: 5,
      key: randomBytes(32).toString("hex"),
      signature_scheme: "hmac-sha256",
      kernel_name: "gradbook",
    };
    const connFile = join(dir, "connection.json");
    writeFileSync(connFile, JSON.stringify(conn), { mode: 0o600 });
    const asUser = user && typeof process.getuid === "function" && process.getuid() === 0 ? user : null;
    if (asUser) for (const d of [dir, home, work, tmp, connFile]) chownSync(d, asUser.uid, asUser.gid);

    const root = packageRootOf(this.kernelScript);
    const args = [`--max-old-space-size=${Math.max(64, Math.floor(this.limits.memoryMb))}`, `--import=${PRELOAD}`];
    if (permissions) {
      // /etc/alpine-release: zeromq's addon loader probes it to choose a libc build.
      const readable = ["/etc/alpine-release", dir, join(root, "dist"), join(root, "node_modules"), join(root, "package.json"), join(root, "engine"), join(root, "widgets"), dirname(this.kernelScript)];
      // (Node 20 takes one path per flag; a list after one flag is read as a single path.)
      args.unshift("--experimental-permission", ...[...new Set(readable)].map((p) => `--allow-fs-read=${p}`), `--allow-fs-write=${dir}`, "--allow-worker", "--allow-addons");
    }
    args.push(this.kernelScript, "-f", connFile);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      LANG: process.env.LANG ?? "C.UTF-8",
      HOME: home,
      TMPDIR: tmp,
      JUPYTER_DATA_DIR: join(home, "jupyter"),
      GRADBOOK_HISTORY_FILE: join(home, "history.jsonl"),
      NODE_NO_WARNINGS: "1",
      GRADBOOK_GRADING: "1",
    };
    this.child = spawn(process.execPath, args, {
      cwd: this.sandbox.cwd ?? work,
      env,
      stdio: ["pipe", "ignore", "pipe"],
      uid: asUser?.uid,
      gid: asUser?.gid,
      detached: false,
    });
    this.child.stderr!.on("data", (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString("utf8")).slice(-4000);
    });
    this.child.stdin!.on("error", () => {});
    this.child.on("exit", (code, signal) => this.onExit(code, signal));
    this.child.on("error", (e) => this.onExit(null, null, `could not start the kernel: ${e.message}`));

    this.signer = new Signer(conn.key, conn.signature_scheme);
    const addr = (p: number) => `ipc://${sock}-${p}`;
    this.shell = new zmq.Dealer({ linger: 0, routingId: randomUUID() });
    this.control = new zmq.Dealer({ linger: 0, routingId: randomUUID() });
    this.iopub = new zmq.Subscriber({ linger: 0 });
    this.iopub.subscribe();
    this.shell.connect(addr(conn.shell_port));
    this.control.connect(addr(conn.control_port));
    this.iopub.connect(addr(conn.iopub_port));
    this.pump(this.shell, "shell");
    this.pump(this.iopub, "iopub");
    this.pump(this.control, "shell");
    this.startWatchdog();

    // Ready when kernel_info is answered and an iopub message for it arrives (the subscription is live).
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (this.dead) throw new Error(`the kernel exited while starting (${this.dead})${this.stderrTail ? `: ${this.stderrTail.trim().split("\n").slice(-3).join(" | ")}` : ""}`);
      const r = await this.request("kernel_info_request", {}, Math.min(5000, deadline - Date.now()), true);
      if (r === "iopub") return;
    }
    throw new Error(`the kernel did not answer within ${Math.round(startTimeoutMs / 1000)} s${this.stderrTail ? `: ${this.stderrTail.trim().split("\n").slice(-3).join(" | ")}` : ""}`);
  }

  private async pump(sock: Zmq.Dealer | Zmq.Subscriber, channel: "shell" | "iopub") {
    try {
      for await (const frames of sock) {
        let msg: Message;
        try {
          msg = parseFrames(frames as Buffer[], this.signer);
        } catch {
          continue; // a bad frame from a compromised kernel is ignored, never fatal
        }
        const parent = typeof msg.parent_header?.msg_id === "string" ? msg.parent_header.msg_id : "";
        this.listeners.get(parent)?.(msg, channel);
      }
    } catch {
      /* socket closed */
    }
  }

  /** Sends a request on shell; resolves "iopub" when both the reply and an iopub message for it came, "reply" for the reply alone. */
  private request(type: string, content: unknown, timeoutMs: number, wantIopub: boolean): Promise<"iopub" | "reply" | "timeout" | "died"> {
    const header = makeHeader(type, this.session, "grader");
    return new Promise((resolveP) => {
      let reply = false, iopub = false;
      const done = (r: "iopub" | "reply" | "timeout" | "died") => {
        clearTimeout(timer);
        this.listeners.delete(header.msg_id);
        this.exitWaiters = this.exitWaiters.filter((w) => w !== onDeath);
        resolveP(r);
      };
      const onDeath = () => done("died");
      const timer = setTimeout(() => done(reply ? "reply" : "timeout"), Math.max(1, timeoutMs));
      this.exitWaiters.push(onDeath);
      this.listeners.set(header.msg_id, (_m, ch) => {
        if (ch === "shell") reply = true;
        else iopub = true;
        if (reply && (iopub || !wantIopub)) done(wantIopub ? "iopub" : "reply");
      });
      this.send(this.shell, header, content);
    });
  }

  private send(sock: Zmq.Dealer, header: ReturnType<typeof makeHeader>, content: unknown) {
    const frames = serialize(this.signer, [], header, {}, {}, content);
    this.shellQueue = this.shellQueue.then(() => sock.send(frames as Buffer[]).catch(() => {}));
  }

  /** Runs one cell. Outputs are collected until the reply and the kernel's idle status for it. */
  execute(code: string, timeoutMs: number, opts: { silent?: boolean } = {}): Promise<CellOutcome> {
    const outputs: Output[] = [];
    if (this.dead) return Promise.resolve({ status: "died", outputs, reason: this.dead });
    const header = makeHeader("execute_request", this.session, "grader");
    const content = { code, silent: !!opts.silent, store_history: !opts.silent, user_expressions: {}, allow_stdin: false, stop_on_error: false };
    let chars = 0, truncated = false;
    const byDisplayId = new Map<string, Output[]>();
    return new Promise<CellOutcome>((resolveP) => {
      let reply: Record<string, any> | null = null, idle = false, finished = false;
      const finish = (o: CellOutcome) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.listeners.delete(header.msg_id);
        this.exitWaiters = this.exitWaiters.filter((w) => w !== onDeath);
        resolveP(o);
      };
      const onDeath = (reason: string) => finish({ status: "died", outputs, reason });
      const timer = setTimeout(() => finish({ status: "timeout", outputs }), Math.max(1, timeoutMs));
      this.exitWaiters.push(onDeath);
      const addText = (name: "stdout" | "stderr", text: string) => {
        if (truncated) return;
        if (chars + text.length > this.limits.maxOutputChars) {
          text = text.slice(0, Math.max(0, this.limits.maxOutputChars - chars)) + `\n[output truncated at ${this.limits.maxOutputChars} characters]\n`;
          truncated = true;
        }
        chars += text.length;
        const last = outputs[outputs.length - 1];
        if (last && last.output_type === "stream" && last.name === name) last.text += text;
        else outputs.push({ output_type: "stream", name, text });
      };
      let clearPending = false, richBytes = 0, richDropped = false;
      const add = (o: Output) => {
        if (clearPending) {
          outputs.length = 0;
          clearPending = false;
        }
        // rich outputs (images, HTML) count against 10x the text budget; past it they are dropped with a note
        const size = JSON.stringify(o.data ?? {}).length;
        if (outputs.length >= 1000 || richBytes + size > this.limits.maxOutputChars * 10) {
          if (!richDropped) addText("stderr", `[further rich output dropped: more than ${outputs.length >= 1000 ? "1000 outputs" : `${this.limits.maxOutputChars * 10} characters`}]\n`);
          richDropped = true;
          return;
        }
        richBytes += size;
        outputs.push(o);
      };
      this.listeners.set(header.msg_id, (m, ch) => {
        if (ch === "shell") {
          if (m.header.msg_type === "execute_reply") reply = m.content;
        } else {
          const c = m.content;
          switch (m.header.msg_type) {
            case "status":
              if (c.execution_state === "idle") idle = true;
              break;
            case "stream":
              if (clearPending) (outputs.length = 0), (clearPending = false);
              addText(c.name === "stderr" ? "stderr" : "stdout", String(c.text ?? ""));
              break;
            case "display_data": {
              const o: Output = { output_type: "display_data", data: c.data ?? {}, metadata: c.metadata ?? {} };
              add(o);
              const id = c.transient?.display_id;
              if (typeof id === "string") byDisplayId.set(id, [...(byDisplayId.get(id) ?? []), o]);
              break;
            }
            case "update_display_data": {
              for (const o of byDisplayId.get(c.transient?.display_id) ?? []) (o.data = c.data ?? {}), (o.metadata = c.metadata ?? {});
              break;
            }
            case "execute_result":
              add({ output_type: "execute_result", data: c.data ?? {}, metadata: c.metadata ?? {}, execution_count: c.execution_count ?? null });
              break;
            case "error":
              add({ output_type: "error", ename: String(c.ename ?? "Error"), evalue: String(c.evalue ?? ""), traceback: Array.isArray(c.traceback) ? c.traceback.map(String) : [] });
              break;
            case "clear_output":
              if (c.wait) clearPending = true;
              else outputs.length = 0;
              break;
          }
        }
        if (reply && idle) {
          const r = reply as Record<string, any>;
          const count = typeof r.execution_count === "number" ? r.execution_count : null;
          if (r.status === "ok") finish({ status: "ok", outputs, executionCount: count });
          else {
            const ename = String(r.ename ?? (r.status === "aborted" ? "Aborted" : "Error")), evalue = String(r.evalue ?? "");
            if (!outputs.some((o) => o.output_type === "error")) outputs.push({ output_type: "error", ename, evalue, traceback: Array.isArray(r.traceback) ? r.traceback.map(String) : [`${ename}: ${evalue}`] });
            finish({ status: "error", outputs, executionCount: count, ename, evalue });
          }
        }
      });
      this.send(this.shell, header, content);
    });
  }

  private startWatchdog() {
    const pid = this.child.pid;
    if (!pid || process.platform !== "linux") return;
    const limitKb = this.limits.memoryMb * 1024;
    this.watchdog = setInterval(() => {
      if (this.dead) return;
      let rss = 0;
      try {
        const m = /VmRSS:\s+(\d+)\s*kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        rss = m ? Number(m[1]) : 0;
      } catch {
        return;
      }
      if (rss > limitKb) {
        this.killReason = `it used more than the memory limit of ${this.limits.memoryMb} MiB`;
        this.child.kill("SIGKILL");
      }
    }, 100);
    this.watchdog.unref();
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, why?: string) {
    if (this.dead) return;
    let reason = why ?? this.killReason;
    if (!reason) {
      if (/heap limit|JavaScript heap out of memory/i.test(this.stderrTail)) reason = `it ran out of memory (limit ${this.limits.memoryMb} MiB)`;
      else if (this.closed) reason = "it was stopped by the grader";
      else if (signal) reason = `the process ended with ${signal} (process.exit(), process.kill() or a crash)`;
      else reason = `the process exited with code ${code} (process.exit() or a crash)`;
    }
    this.dead = reason;
    if (this.watchdog) clearInterval(this.watchdog);
    for (const w of this.exitWaiters.splice(0)) w(reason);
    this.closeSockets();
  }

  private closeSockets() {
    for (const s of [this.shell, this.control, this.iopub]) {
      try {
        s?.close();
      } catch {}
    }
  }

  /** Ends the kernel at once (SIGKILL) and closes the sockets. */
  kill(): void {
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    try {
      if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    } catch {}
    if (!this.dead) this.closeSockets();
  }

  /** Waits until the process is gone (after kill()). */
  async exited(timeoutMs = 5000): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise<void>((r) => {
      const t = setTimeout(r, timeoutMs);
      this.child.once("exit", () => (clearTimeout(t), r()));
    });
  }
}
