// (over 500 lines: one client, its kernel's start in the sandbox, the reply checks and the process watch share its state)
/**
 * A minimal Jupyter client for the grader: starts one gradbook kernel
 * process (`node dist/kernel.js -f <connection file>`) in its sandbox
 * (sandbox.ts), talks to it over ZeroMQ (the wire format of
 * kernel/protocol/wire.ts), runs cells one at a time with a time limit, and
 * watches the process: its exit, its memory (RSS), its output volume, the
 * size of its working folder. Never throws for anything the kernel or the
 * code in it does: every outcome is a value.
 *
 * What the kernel sends is untrusted: a cell's outcome is decided here, from
 * the replies. A reply to a request the grader never sent, a second reply to
 * one, a reply of the wrong type or status: the kernel is stopped and the
 * cell it was running (or the next one) ends "died" with the reason, and
 * scores nothing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { constants as osConstants } from "node:os";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type * as Zmq from "zeromq";
import { Signer, makeHeader, parseFrames, serialize, type ConnectionInfo, type Message } from "../protocol/wire.ts";
import type { Output } from "./notebook.ts";
import { findBwrap, folderUsage, kernelReadPaths, SANDBOX, sandboxArgs } from "./sandbox.ts";
import { KERNEL_ENV, KERNEL_NODE_FLAGS } from "../process-settings.ts";

export interface KernelLimits {
  /**
   * The kernel's memory limit, MiB: V8's heap limit and an RSS watchdog on
   * the kernel process (in the sandbox also RLIMIT_DATA at twice this plus
   * 1 GiB, a backstop). The one memory setting: an in-kernel guard is to
   * read this same number.
   */
  memoryMb: number;
  /** Most characters of stream output kept per cell. */
  maxOutputChars: number;
  /** Past this many bytes of output messages in one cell the kernel is stopped (default 64 MiB). */
  maxOutputBytes?: number;
  /** Sandbox: most threads and processes (default 512). */
  maxTasks?: number;
  /** Sandbox: how much its folder (home: working folder, tmp) may grow, MiB (default 1024), with at most 20,000 more entries. */
  diskMb?: number;
  /** Sandbox: the largest file it may write, MiB (default 1024). */
  fileMb?: number;
  /** Sandbox: CPU seconds of one kernel, all threads (default 3600). */
  cpuSeconds?: number;
}

const DEFAULTS = { maxOutputBytes: 64 << 20, maxTasks: 512, diskMb: 1024, fileMb: 1024, cpuSeconds: 3600 };

/** The fields of a /proc/.../stat file from the 3rd (state) on: [0] state, [11] utime, [12] stime, [13] cutime, [14] cstime (clock ticks, USER_HZ 100). */
function statFields(path: string): string[] {
  const stat = readFileSync(path, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** CPU seconds (user + system, all threads) of a live process, from /proc/PID/stat (0 when unreadable). */
export function processCpuSeconds(pid: number): number {
  try {
    const f = statFields(`/proc/${pid}/stat`);
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}
/**
 * A process and its descendants (all their threads): the CPU seconds they used, live and reaped
 * (cutime, cstime), and whether one of their threads is running or waiting for a CPU (state R) or
 * for the disk (D), rather than waiting for something to happen.
 */
export function treeUsage(pid: number): { cpuSeconds: number; busy: boolean } {
  let cpu = 0, busy = false;
  const seen = new Set<number>();
  const visit = (p: number, depth: number) => {
    if (seen.has(p) || depth > 64) return;
    seen.add(p);
    let tasks: string[];
    try {
      const f = statFields(`/proc/${p}/stat`);
      cpu += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const t of tasks) {
      try {
        if (!busy && /^[RD]$/.test(statFields(`/proc/${p}/task/${t}/stat`)[0])) busy = true;
        for (const k of readFileSync(`/proc/${p}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean)) visit(Number(k), depth + 1);
      } catch {}
    }
  };
  visit(pid, 0);
  return { cpuSeconds: cpu, busy };
}

let killedKernelsCpu = 0;
/** CPU seconds used by the kernels this process killed, sandboxed or not, with all they started (read just before each kill; bench/grader.ts). */
export const killedKernelsCpuSeconds = (): number => killedKernelsCpu;

export interface SandboxOptions {
  /** Scratch directory the kernel may write in (its cwd, HOME and TMPDIR); created, not removed here. */
  dir: string;
  /** Node's permission model: writes only in `dir`, reads only in the package and `dir`, no child processes. */
  permissions: boolean;
  /** When running as root: run the kernel as this uid/gid (`dir` is given to it; its parent folders must let it pass); null to keep root. */
  user: { uid: number; gid: number } | null;
  /** Run the kernel in this folder instead of the scratch one (validate: the notebook's folder). */
  cwd?: string;
  /** Run the kernel in its operating-system sandbox (sandbox.ts; bubblewrap). Not with `cwd`. */
  isolate?: boolean;
}

export type CellOutcome = (
  | { status: "ok"; outputs: Output[]; executionCount: number | null }
  | { status: "error"; outputs: Output[]; executionCount: number | null; ename: string; evalue: string }
  /** A time limit passed (`limit`: the cell's CPU time, its time spent waiting, or the wall clock); the kernel must be restarted. */
  | { status: "timeout"; outputs: Output[]; limit: "cpu" | "wait" | "wall" }
  /** The kernel process ended (process.exit, crash, memory limit); `reason` says which. */
  | { status: "died"; outputs: Output[]; reason: string }
) & {
  /** The execute request's msg_id. */
  requestId?: string;
};

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

/**
 * The one folder a kernel in scratch folder `dir` may write: its HOME, holding its working folder
 * (`work`, its cwd), its TMPDIR (`tmp`) and its sockets (`.gradbook`, made afresh for each kernel).
 * In a sandbox it is mounted at /home/student.
 */
export const homeFolder = (dir: string): string => join(dir, "home");
/** The kernel's working folder (its cwd) inside its scratch folder. */
export const workFolder = (dir: string): string => join(homeFolder(dir), "work");

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
  /** The kernel process as the host numbers it (in a sandbox: not bwrap's pid, the sandboxed process's). */
  private kernelPid: number | undefined;
  /** Requests sent, and those answered (a reply to anything else, or a second one, is impossible). */
  private sent = new Set<string>();
  private answered = new Set<string>();
  /** Bytes of output messages since the current cell started. */
  private outputBytes = 0;
  private connectionFile = "";
  /** The impossible sequence that stopped the kernel, and the request it concerned (null: none known). */
  private broken: { reason: string; requestId: string | null } | null = null;

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

  /** When the kernel was stopped for an impossible sequence: why, and the request it concerned (a second reply: an earlier one). */
  get violation(): { reason: string; requestId: string | null } | null {
    return this.broken;
  }

  /** The kernel's process id (the sandboxed process's, not bwrap's). */
  get pid(): number | undefined {
    return this.kernelPid ?? this.child?.pid;
  }

  private limit<K extends keyof typeof DEFAULTS>(k: K): number {
    return this.limits[k] ?? DEFAULTS[k];
  }

  private async launch(startTimeoutMs: number) {
    const zmq: typeof Zmq = await import("zeromq");
    const { dir, permissions, user } = this.sandbox;
    const isolate = !!this.sandbox.isolate && !this.sandbox.cwd;
    const home = homeFolder(dir), work = workFolder(dir), tmp = join(home, "tmp"), ipc = join(home, ".gradbook");
    for (const d of [work, tmp]) mkdirSync(d, { recursive: true });
    rmSync(ipc, { recursive: true, force: true }); // a fresh one for every kernel: nothing an earlier kernel left there
    mkdirSync(ipc, { mode: 0o700 });
    // The kernel's view of its folders: the sandbox's paths, or the host's.
    const view = isolate ? SANDBOX : { home, work, tmp, ipc };
    const conn: ConnectionInfo = {
      transport: "ipc",
      ip: join(view.ipc, "k"),
      shell_port: 1,
      iopub_port: 2,
      stdin_port: 3,
      control_port: 4,
      hb_port: 5,
      key: randomBytes(32).toString("hex"),
      signature_scheme: "hmac-sha256",
      kernel_name: "gradbook",
    };
    const connFile = (this.connectionFile = join(ipc, "connection.json"));
    writeFileSync(connFile, JSON.stringify(conn), { mode: 0o600 });
    const asUser = user && typeof process.getuid === "function" && process.getuid() === 0 ? user : null;
    if (asUser) for (const d of [dir, home, work, tmp, ipc, connFile]) chownSync(d, asUser.uid, asUser.gid);

    const readOnly = kernelReadPaths(this.kernelScript);
    const args = [...KERNEL_NODE_FLAGS, `--max-old-space-size=${Math.max(64, Math.floor(this.limits.memoryMb))}`, `--import=${PRELOAD}`];
    if (permissions) {
      // /etc/alpine-release: zeromq's addon loader probes it to choose a libc build.
      // ("/tmp" in a sandbox: its own tmp mounted there too, by the name programs use)
      const writable = isolate ? [SANDBOX.home, "/tmp"] : [home];
      const readable = ["/etc/alpine-release", ...readOnly, ...writable];
      // (Node 20 takes one path per flag; a list after one flag is read as a single path.)
      args.unshift("--experimental-permission", ...[...new Set(readable)].map((p) => `--allow-fs-read=${p}`), ...writable.map((p) => `--allow-fs-write=${p}`), "--allow-worker", "--allow-addons");
    }
    args.push(this.kernelScript, "-f", join(view.ipc, "connection.json"));
    const env: NodeJS.ProcessEnv = {
      ...KERNEL_ENV,
      PATH: isolate ? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" : process.env.PATH ?? "/usr/bin:/bin",
      LANG: process.env.LANG ?? "C.UTF-8",
      HOME: view.home,
      TMPDIR: view.tmp,
      XDG_RUNTIME_DIR: view.tmp,
      JUPYTER_DATA_DIR: join(view.home, "jupyter"),
      GRADBOOK_HISTORY_FILE: join(view.home, "history.jsonl"),
      NODE_NO_WARNINGS: "1",
      GRADBOOK_GRADING: "1",
      // The kernel's own guard (kernel/guard) stops a runaway cell below this limit with the MemoryError
      // a student sees in a notebook, the kernel alive; what the guard does not count (Node, the
      // compiler: ~160 MiB resident, measured) stays under memoryMb, where the RSS watchdog remains
      // the backstop. The grader reports its kernels' deaths itself.
      GRADBOOK_MEMORY_LIMIT: `${Math.max(64, Math.floor(this.limits.memoryMb - Math.max(256, this.limits.memoryMb / 4)))}M`,
      GRADBOOK_MEMORY_HARD_LIMIT: "off",
      GRADBOOK_DEATH_REPORT: "off",
    };
    if (isolate) {
      const bwrap = findBwrap();
      if (!bwrap) throw new Error("bubblewrap (bwrap) is not installed: apt-get install bubblewrap");
      const limits = { memoryMb: this.limits.memoryMb, maxTasks: this.limit("maxTasks"), fileMb: this.limit("fileMb"), cpuSeconds: this.limit("cpuSeconds") };
      const bargs = sandboxArgs({ home, readOnly, limits, argv: [process.execPath, ...args], infoFd: 3 });
      this.child = spawn(bwrap, bargs, { env, stdio: ["pipe", "ignore", "pipe", "pipe"], uid: asUser?.uid, gid: asUser?.gid });
      // bwrap writes {"child-pid": N} there before the kernel runs (the only document read from it)
      let info = "";
      const fd3 = this.child.stdio[3] as NodeJS.ReadableStream;
      const onInfo = (d: Buffer) => {
        info += d.toString("utf8");
        const m = /"child-pid"\s*:\s*(\d+)/.exec(info);
        if (m || info.length > 4096) {
          fd3.off("data", onInfo);
          fd3.on("data", () => {});
          if (m) this.findKernel(Number(m[1]));
        }
      };
      fd3.on("data", onInfo);
      fd3.on("error", () => {});
    } else {
      this.child = spawn(process.execPath, args, { cwd: this.sandbox.cwd ?? work, env, stdio: ["pipe", "ignore", "pipe"], uid: asUser?.uid, gid: asUser?.gid });
      this.kernelPid = this.child.pid;
      this.startWatchdog();
    }
    this.child.stderr!.on("data", (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString("utf8")).slice(-4000);
    });
    this.child.stdin!.on("error", () => {});
    this.child.on("exit", (code, signal) => this.onExit(code, signal));
    this.child.on("error", (e) => this.onExit(null, null, `could not start the kernel: ${e.message}`));

    this.signer = new Signer(conn.key, conn.signature_scheme);
    const addr = (p: number) => `ipc://${join(ipc, "k")}-${p}`;
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

    // Ready when kernel_info is answered and an iopub message for it arrives (the subscription is live).
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (this.dead) throw new Error(`the kernel exited while starting (${this.dead})${this.stderrTail ? `: ${this.stderrTail.trim().split("\n").slice(-3).join(" | ")}` : ""}`);
      const r = await this.request("kernel_info_request", {}, Math.min(5000, deadline - Date.now()), true);
      if (r === "iopub") {
        // the kernel has read its connection file: the key is no longer on disk for the code it runs
        try {
          unlinkSync(connFile);
        } catch {}
        return;
      }
    }
    throw new Error(`the kernel did not answer within ${Math.round(startTimeoutMs / 1000)} s${this.stderrTail ? `: ${this.stderrTail.trim().split("\n").slice(-3).join(" | ")}` : ""}`);
  }

  private async pump(sock: Zmq.Dealer | Zmq.Subscriber, channel: "shell" | "iopub") {
    try {
      for await (const frames of sock) {
        if (channel === "iopub") {
          for (const f of frames as Buffer[]) this.outputBytes += f.length;
          const max = this.limit("maxOutputBytes");
          if (this.outputBytes > max && !this.dead) this.stop(`it printed more than ${Math.round(max / (1 << 20))} MiB of output in one cell`);
        }
        let msg: Message;
        try {
          msg = parseFrames(frames as Buffer[], this.signer);
        } catch {
          continue; // a bad frame from a compromised kernel is ignored, never fatal
        }
        const parent = typeof msg.parent_header?.msg_id === "string" ? msg.parent_header.msg_id : "";
        if (channel === "shell") {
          // replies: only to requests sent, and one to each execute request
          if (!this.sent.has(parent)) {
            this.violated(`it sent a reply (${String(msg.header.msg_type).slice(0, 40)}) to a request the grader never made (an impossible sequence: the kernel is not trusted any more)`, null);
            continue;
          }
          if (this.answered.has(parent) && msg.header.msg_type === "execute_reply") {
            this.violated("it sent a second reply to one request (an impossible sequence: the kernel is not trusted any more)", parent);
            continue;
          }
          this.answered.add(parent);
        }
        this.listeners.get(parent)?.(msg, channel);
      }
    } catch {
      /* socket closed */
    }
  }

  /**
   * Sends a request on shell; resolves "iopub" when both the reply and an iopub message for it came,
   * "reply" for the reply alone (250 ms after it, when `wantIopub`: the subscription was not live
   * yet when the kernel published, and a new request is the quickest way to find out whether it is now).
   */
  private request(type: string, content: unknown, timeoutMs: number, wantIopub: boolean): Promise<"iopub" | "reply" | "timeout" | "died"> {
    const header = makeHeader(type, this.session, "grader");
    return new Promise((resolveP) => {
      let reply = false, iopub = false;
      let grace: NodeJS.Timeout | undefined;
      const done = (r: "iopub" | "reply" | "timeout" | "died") => {
        clearTimeout(timer);
        clearTimeout(grace);
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
        else if (reply && !grace) grace = setTimeout(() => done("reply"), 250);
      });
      this.send(this.shell, header, content);
    });
  }

  private send(sock: Zmq.Dealer, header: ReturnType<typeof makeHeader>, content: unknown, metadata: Record<string, unknown> = {}) {
    this.sent.add(header.msg_id);
    const frames = serialize(this.signer, [], header, {}, metadata, content);
    this.shellQueue = this.shellQueue.then(() => sock.send(frames as Buffer[]).catch(() => {}));
  }

  /**
   * Runs one cell. Outputs are collected until the reply and the kernel's
   * idle status for it. `metadata` goes with the request (the grader's
   * compiled instructor cells, kernel/guard.ts). The cell is stopped after
   * `timeoutMs` of wall-clock time; with `cpuMs`, also once the kernel and
   * every process it started have used `cpuMs` of CPU time since the request,
   * or have spent `waitMs` (default `cpuMs`) with none of their threads
   * running or waiting for a CPU (an await that never ends, a sleep). Neither
   * counts the time a busy machine keeps the kernel waiting for a CPU, so
   * they hold the same under load.
   */
  execute(code: string, timeoutMs: number, opts: { silent?: boolean; metadata?: Record<string, unknown>; cpuMs?: number; waitMs?: number } = {}): Promise<CellOutcome> {
    const outputs: Output[] = [];
    if (this.dead) return Promise.resolve({ status: "died", outputs, reason: this.dead });
    const header = makeHeader("execute_request", this.session, "grader");
    const content = { code, silent: !!opts.silent, store_history: !opts.silent, user_expressions: {}, allow_stdin: false, stop_on_error: false };
    let chars = 0, truncated = false;
    this.outputBytes = 0;
    const byDisplayId = new Map<string, Output[]>();
    return new Promise<CellOutcome>((resolveP) => {
      let reply: Record<string, any> | null = null, idle = false, finished = false;
      const finish = (o: CellOutcome) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        if (cpuTimer) clearInterval(cpuTimer);
        this.listeners.delete(header.msg_id);
        this.exitWaiters = this.exitWaiters.filter((w) => w !== onDeath);
        resolveP({ ...o, requestId: header.msg_id });
      };
      const onDeath = (reason: string) => finish({ status: "died", outputs, reason });
      const timer = setTimeout(() => finish({ status: "timeout", outputs, limit: "wall" }), Math.max(1, timeoutMs));
      // the cell's CPU time and its time spent waiting, from the tree of the process this grader started
      // (in a sandbox bwrap's: the kernel and everything it started), sampled every 100 ms
      const pid = this.child?.pid, cpuMs = opts.cpuMs;
      let cpuTimer: NodeJS.Timeout | null = null;
      if (cpuMs !== undefined && pid) {
        const cpu0 = treeUsage(pid).cpuSeconds;
        let waited = 0, last = performance.now();
        cpuTimer = setInterval(() => {
          const u = treeUsage(pid), now = performance.now();
          if (!u.busy) waited += now - last;
          last = now;
          if ((u.cpuSeconds - cpu0) * 1000 >= cpuMs) finish({ status: "timeout", outputs, limit: "cpu" });
          else if (waited >= (opts.waitMs ?? cpuMs)) finish({ status: "timeout", outputs, limit: "wait" });
        }, 100);
      }
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
          const c = m.content as Record<string, any>;
          if (m.header.msg_type !== "execute_reply" || (c?.status !== "ok" && c?.status !== "error")) {
            // (aborted cannot happen: the grader sends stop_on_error false)
            this.violated(`it answered a cell with ${m.header.msg_type === "execute_reply" ? `status ${JSON.stringify(String(c?.status)).slice(0, 40)}` : `a ${String(m.header.msg_type).slice(0, 40)}`} (an impossible sequence: the kernel is not trusted any more)`, header.msg_id);
            return;
          }
          reply = c;
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
            const ename = String(r.ename ?? "Error"), evalue = String(r.evalue ?? "");
            if (!outputs.some((o) => o.output_type === "error")) outputs.push({ output_type: "error", ename, evalue, traceback: Array.isArray(r.traceback) ? r.traceback.map(String) : [`${ename}: ${evalue}`] });
            finish({ status: "error", outputs, executionCount: count, ename, evalue });
          }
        }
      });
      this.send(this.shell, header, content, opts.metadata);
    });
  }

  /** Ends the kernel for an impossible sequence about request `requestId` (null: the one running). */
  private violated(reason: string, requestId: string | null) {
    if (this.dead || this.killReason) return;
    this.broken = { reason, requestId };
    this.stop(reason);
  }

  /** Ends the kernel with `reason` (a limit it passed, or an impossible reply). */
  private stop(reason: string) {
    if (this.dead || this.killReason) return;
    this.killReason = reason;
    try {
      this.child.kill("SIGKILL");
    } catch {}
  }

  /** The kernel is the one child of the sandbox's init (`init`, a host pid): found as soon as the init has started it. */
  private findKernel(init: number) {
    const look = (tries: number) => {
      if (this.dead) return;
      let kids: string[] = [];
      try {
        kids = readFileSync(`/proc/${init}/task/${init}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
      } catch {}
      if (kids.length) {
        this.kernelPid = Number(kids[0]);
        this.startWatchdog();
      } else if (tries > 0) setTimeout(() => look(tries - 1), 10).unref();
    };
    look(500);
  }

  private startWatchdog() {
    const pid = this.kernelPid;
    if (!pid || process.platform !== "linux" || this.watchdog) return;
    const limitKb = this.limits.memoryMb * 1024;
    // its folder may grow by diskMb and 20,000 entries (checked every second)
    const work = this.sandbox.isolate && !this.sandbox.cwd ? homeFolder(this.sandbox.dir) : null;
    const extraBytes = this.limit("diskMb") * (1 << 20), extraEntries = 20_000;
    const base = work ? folderUsage(work, Infinity, Infinity) : null;
    let ticks = 0;
    this.watchdog = setInterval(() => {
      if (this.dead) return;
      let rss = 0;
      try {
        const m = /VmRSS:\s+(\d+)\s*kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        rss = m ? Number(m[1]) : 0;
      } catch {
        return;
      }
      if (rss > limitKb) return this.stop(`it used more than the memory limit of ${this.limits.memoryMb} MiB`);
      if (work && base && ++ticks % 10 === 0) {
        const u = folderUsage(work, base.bytes + extraBytes, base.entries + extraEntries);
        if (u.over) this.stop(`it wrote more than ${this.limit("diskMb")} MiB or ${extraEntries} files into its folders`);
      }
    }, 100);
    this.watchdog.unref();
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, why?: string) {
    if (this.dead) return;
    let reason = why ?? this.killReason;
    if (!reason) {
      // in a sandbox bwrap exits with the kernel's code, or 128 + the signal that ended it
      const sig = signal ?? (this.sandbox.isolate && code !== null && code > 128 && code < 160 ? Object.entries(osConstants.signals).find(([, n]) => n === code - 128)?.[0] ?? null : null);
      if (/heap limit|JavaScript heap out of memory/i.test(this.stderrTail)) reason = `it ran out of memory (limit ${this.limits.memoryMb} MiB)`;
      else if (this.closed) reason = "it was stopped by the grader";
      else if (sig === "SIGXCPU") reason = `it used more than its CPU time limit of ${this.limit("cpuSeconds")} s`;
      else if (sig) reason = `the process ended with ${sig} (process.exit(), process.kill() or a crash)`;
      else reason = `the process exited with code ${code} (process.exit() or a crash)`;
    }
    this.dead = reason;
    if (this.watchdog) clearInterval(this.watchdog);
    for (const w of this.exitWaiters.splice(0)) w(reason);
    this.closeSockets();
    try {
      unlinkSync(this.connectionFile);
    } catch {}
  }

  private closeSockets() {
    for (const s of [this.shell, this.control, this.iopub]) {
      try {
        s?.close();
      } catch {}
    }
  }

  /** Ends the kernel at once (SIGKILL; in a sandbox, bwrap, which ends everything in it) and closes the sockets. */
  kill(): void {
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    // (the whole tree, read before the kill: in a sandbox the kernel is not this process's child, its CPU time never reaches this process's children's)
    if (!this.dead && this.child?.pid) killedKernelsCpu += treeUsage(this.child.pid).cpuSeconds;
    try {
      if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    } catch {}
    if (!this.dead) this.closeSockets();
  }

  /** Waits until the process is gone (after kill()); in a sandbox, until the sandboxed process is gone too. */
  async exited(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (this.child && this.child.exitCode === null && this.child.signalCode === null)
      await new Promise<void>((r) => {
        const t = setTimeout(r, timeoutMs);
        this.child.once("exit", () => (clearTimeout(t), r()));
      });
    const pid = this.kernelPid;
    if (pid && pid !== this.child?.pid) while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
}
