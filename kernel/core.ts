/**
 * The kernel core on the main thread: turns requests from the protocol
 * server into calls on an Interpreter; owns execution counting, history,
 * comms, stdin and output routing. Language-agnostic, and Node-free: the
 * browser kernel (lab/lite) runs it in a Web Worker with its own "server".
 */
import type { IncomingRequest, ToMain, ToServer } from "./protocol/bridge.ts";
import type { Comm, Interpreter, KernelIO, MimeBundle } from "./interpreter.ts";
import { History } from "./history.ts";
import { log } from "./log.ts";
import { jsonParse, jsonStringify } from "./intrinsics.ts";
import type { KernelLimits } from "./guard/limits.ts";
import { OutputLimits } from "./guard/output.ts";
import { collectGarbage, inUseNow, memoryError, type StopState } from "./guard/memory.ts";

/** The guard's part on the main thread (kernel/guard/): limits, the memory stop the watcher asks for, notices for the first cell. */
export interface CoreGuard {
  limits: KernelLimits;
  stop: StopState;
  /** Said once, in the first cell's output: the previous kernel's death, settings that could not be read. */
  notices: string[];
}

/** JSON-safe copy of a value (bigints to strings, drops functions), so a bad display never breaks a message. */
function jsonSafe<T>(v: T): T {
  try {
    return jsonParse(jsonStringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)) ?? "null");
  } catch (e) {
    return { "text/plain": `<unserializable: ${(e as Error).message}>` } as any;
  }
}

function toBytes(views: ArrayBufferView[] | undefined): Uint8Array[] {
  return (views ?? []).map((v) => new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)));
}

/** Converts between code-point offsets (the protocol's cursor_pos) and UTF-16 indices. */
export function cpToUtf16(s: string, cp: number): number {
  let i = 0;
  for (let n = 0; n < cp && i < s.length; n++) i += s.codePointAt(i)! > 0xffff ? 2 : 1;
  return i;
}
export function utf16ToCp(s: string, idx: number): number {
  let n = 0;
  for (let i = 0; i < idx && i < s.length; n++) i += s.codePointAt(i)! > 0xffff ? 2 : 1;
  return n;
}

class KernelComm implements Comm {
  msgHandlers: ((data: any, buffers: DataView[]) => void)[] = [];
  closeHandlers: ((data: any) => void)[] = [];
  closed = false;
  constructor(private core: KernelCore, readonly commId: string, readonly targetName: string) {}
  send(data: unknown, metadata: Record<string, unknown> = {}, buffers?: ArrayBufferView[]) {
    if (this.closed) throw new Error(`comm ${this.commId} is closed`);
    this.core.publish("comm_msg", { comm_id: this.commId, data: jsonSafe(data ?? {}) }, metadata, toBytes(buffers));
  }
  close(data: unknown = {}) {
    if (this.closed) return;
    this.closed = true;
    this.core.comms.delete(this.commId);
    this.core.publish("comm_close", { comm_id: this.commId, data: jsonSafe(data ?? {}) });
  }
  onMsg(h: (data: any, buffers: DataView[]) => void) {
    this.msgHandlers.push(h);
  }
  onClose(h: (data: any) => void) {
    this.closeHandlers.push(h);
  }
}

export class KernelCore {
  executionCount = 0;
  readonly comms = new Map<string, KernelComm>();
  private targets = new Map<string, (comm: Comm, data: any, buffers: DataView[]) => void>();
  private parent: unknown = {};
  private currentId: number | null = null;
  private silent = false;
  private allowStdin = false;
  private inputWaiter: { resolve: (s: string) => void; reject: (e: Error) => void } | null = null;
  private streamBuf: { name: "stdout" | "stderr"; text: string; since: number } | null = null;
  private streamTimer: NodeJS.Timeout | null = null;
  private ready: Promise<void>;
  private output: OutputLimits | null;
  readonly io: KernelIO;

  constructor(
    private interp: Interpreter,
    private post: (m: ToServer) => void,
    readonly history = new History(),
    readonly userCodeFlag = new Int32Array(new SharedArrayBuffer(8)),
    private kernelGuard?: CoreGuard,
  ) {
    this.output = kernelGuard ? new OutputLimits(kernelGuard.limits.stream, kernelGuard.limits.display) : null;
    // a heartbeat of this thread's event loop, read by the protocol server before it forces an interrupt
    setInterval(() => Atomics.add(userCodeFlag, 1, 1), 100).unref?.();
    const core = this;
    this.io = {
      stream: (name, text) => core.stream(name, text),
      display(data, metadata = {}, displayId, update) {
        core.publish(update ? "update_display_data" : "display_data", { data: jsonSafe(core.limitBundle(data)), metadata: jsonSafe(metadata), transient: displayId ? { display_id: displayId } : {} });
      },
      executeResult(count, data, metadata = {}) {
        core.endOutput(); // the notice of output cut goes before the result
        core.publish("execute_result", { execution_count: count, data: jsonSafe(core.limitBundle(data)), metadata: jsonSafe(metadata) });
      },
      clearOutput(wait) {
        core.publish("clear_output", { wait: !!wait });
      },
      input: (prompt, password) => core.input(prompt, password),
      openComm(targetName, data = {}, metadata = {}, buffers) {
        const comm = new KernelComm(core, globalThis.crypto.randomUUID().replace(/-/g, ""), targetName);
        core.comms.set(comm.commId, comm);
        core.publish("comm_open", { comm_id: comm.commId, target_name: targetName, data: jsonSafe(data ?? {}) }, metadata, toBytes(buffers), true);
        return comm;
      },
      registerCommTarget(name, handler) {
        core.targets.set(name, handler);
      },
      log,
      userCode: (state) => Atomics.store(core.userCodeFlag, 0, state === "sync" ? 1 : state === "async" ? 2 : 0),
    };
    this.ready = interp.init(this.io).catch((e) => log(`interpreter init failed: ${e?.stack ?? e}`));
  }

  publish(msgType: string, content: unknown, metadata: unknown = {}, buffers: Uint8Array[] = [], evenIfSilent = false) {
    if (msgType !== "stream") this.flushStream();
    if (this.silent && !evenIfSilent && !msgType.startsWith("comm_")) return;
    this.post({ kind: "iopub", parent: this.parent, msgType, content, metadata, buffers });
  }

  private limitBundle(data: MimeBundle): MimeBundle {
    return this.output ? (this.output.bundle(data as Record<string, unknown>) as MimeBundle) : data;
  }

  /** The notice of output cut for the request whose output this was (output limits), before its reply. */
  private endOutput() {
    const cut = this.output?.finish();
    if (!cut || this.silent) return;
    this.flushStream();
    this.post({ kind: "iopub", parent: this.parent, msgType: "stream", content: { name: "stderr", text: cut.notice } });
    if (cut.tail) this.post({ kind: "iopub", parent: this.parent, msgType: "stream", content: { name: cut.tail.name, text: cut.tail.text } });
  }

  private stream(name: "stdout" | "stderr", text: string) {
    if (this.output) text = this.output.streamText(name, text);
    if (!text) return;
    const now = Date.now();
    if (this.streamBuf && this.streamBuf.name !== name) this.flushStream();
    if (!this.streamBuf) this.streamBuf = { name, text: "", since: now };
    this.streamBuf.text += text;
    // Synchronous loops block timers: flush by age on write as well.
    if (now - this.streamBuf.since > 50 || this.streamBuf.text.length > 1 << 16) this.flushStream();
    else if (!this.streamTimer) this.streamTimer = setTimeout(() => this.flushStream(), 20);
  }

  flushStream() {
    if (this.streamTimer) clearTimeout(this.streamTimer), (this.streamTimer = null);
    const b = this.streamBuf;
    if (!b) return;
    this.streamBuf = null;
    if (!this.silent) this.post({ kind: "iopub", parent: this.parent, msgType: "stream", content: { name: b.name, text: b.text } });
  }

  private input(prompt: string, password: boolean): Promise<string> {
    if (!this.allowStdin || this.currentId === null)
      return Promise.reject(Object.assign(new Error("input() is not supported by this front end (allow_stdin is false)"), { name: "StdinNotImplementedError" }));
    if (this.inputWaiter) return Promise.reject(new Error("another input() is already waiting"));
    this.flushStream();
    this.post({ kind: "stdin", id: this.currentId, content: { prompt: String(prompt ?? ""), password: !!password } });
    return new Promise((resolve, reject) => (this.inputWaiter = { resolve, reject }));
  }

  interrupt() {
    this.post({ kind: "interrupt_ack" });
    if (this.inputWaiter) {
      const w = this.inputWaiter;
      this.inputWaiter = null;
      w.reject(Object.assign(new Error("interrupted while waiting for input"), { name: "KeyboardInterrupt" }));
    }
    this.interp.interrupt();
  }

  onMessage(m: ToMain) {
    switch (m.kind) {
      case "request":
        this.handle(m).catch((e) => log(`request ${m.header.msg_type} failed: ${e?.stack ?? e}`));
        return;
      case "input_reply": {
        const w = this.inputWaiter;
        this.inputWaiter = null;
        if (w) w.resolve(typeof m.content.value === "string" ? m.content.value : String(m.content.value ?? ""));
        return;
      }
      case "shutdown":
        this.shutdown(m.restart);
        return;
      case "ready":
        return;
      case "connected":
        this.interp.connected?.();
        return;
    }
  }

  private async shutdown(restart: boolean) {
    this.flushStream();
    this.history.flush();
    for (const c of [...this.comms.values()]) c.closeHandlers.forEach((h) => safe(() => h({})));
    await Promise.race([this.interp.shutdown(restart).catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
    this.post({ kind: "exit" });
  }

  private reply(id: number, msgType: string, content: unknown, done = true, metadata: unknown = {}) {
    if (done && id === this.currentId) this.endOutput();
    this.flushStream();
    this.post({ kind: "reply", id, msgType, content, metadata, done });
  }

  private async handle(req: IncomingRequest) {
    await this.ready;
    const t = req.header.msg_type;
    const c = req.content ?? {};
    const replyType = t.replace(/_request$/, "_reply");
    // Outputs go to the request that may show them: an execution, or a comm message (widget callbacks);
    // output printed later by background work goes to the last of those, not to a completion request.
    if (req.channel === "shell" && (t === "execute_request" || t.startsWith("comm_") && t !== "comm_info_request")) {
      this.endOutput(); // output printed after the previous request ended (by background work)
      this.parent = req.header;
      this.currentId = req.id;
    }
    try {
      switch (t) {
        case "execute_request":
          return await this.execute(req);
        case "complete_request": {
          const code = str(c.code), cursor = cpToUtf16(code, num(c.cursor_pos, code.length));
          const r = await this.interp.complete(code, cursor);
          return this.reply(req.id, replyType, {
            status: "ok",
            matches: r.matches,
            cursor_start: utf16ToCp(code, r.cursorStart),
            cursor_end: utf16ToCp(code, r.cursorEnd),
            metadata: r.metadata ?? {},
          });
        }
        case "inspect_request": {
          const code = str(c.code), cursor = cpToUtf16(code, num(c.cursor_pos, code.length));
          const r = await this.interp.inspect(code, cursor, num(c.detail_level, 0));
          return this.reply(req.id, replyType, { status: "ok", found: r.found, data: r.found ? r.data : {}, metadata: r.metadata ?? {} });
        }
        case "is_complete_request": {
          const r = await this.interp.isComplete(str(c.code));
          return this.reply(req.id, replyType, r.status === "incomplete" ? { status: r.status, indent: r.indent ?? "" } : { status: r.status });
        }
        case "history_request":
          return this.reply(req.id, replyType, { status: "ok", history: this.historyFor(c) });
        case "comm_info_request": {
          const comms: Record<string, { target_name: string }> = {};
          for (const [id, comm] of this.comms) if (!c.target_name || c.target_name === comm.targetName) comms[id] = { target_name: comm.targetName };
          return this.reply(req.id, replyType, { status: "ok", comms });
        }
        case "comm_open":
          this.commOpen(req);
          return this.done(req.id);
        case "comm_msg": {
          const comm = this.comms.get(str(c.comm_id));
          if (!comm) log(`comm_msg for unknown comm ${c.comm_id}`);
          else for (const h of comm.msgHandlers) await this.guard(() => h(c.data ?? {}, dataViews(req.buffers)));
          return this.done(req.id);
        }
        case "comm_close": {
          const comm = this.comms.get(str(c.comm_id));
          if (comm) {
            comm.closed = true;
            this.comms.delete(comm.commId);
            for (const h of comm.closeHandlers) await this.guard(() => h(c.data ?? {}));
          }
          return this.done(req.id);
        }
        default:
          return this.reply(req.id, replyType, { status: "error", ename: "UnknownMessageType", evalue: t, traceback: [] });
      }
    } catch (e: any) {
      log(`${t} failed: ${e?.stack ?? e}`);
      this.reply(req.id, replyType, { status: "error", ename: e?.name ?? "Error", evalue: String(e?.message ?? e), traceback: [String(e?.stack ?? e)] });
    }
  }

  private done(id: number) {
    if (id === this.currentId) this.endOutput();
    this.flushStream();
    this.post({ kind: "reply", id, msgType: "", content: null, done: true });
  }

  /** Runs a comm handler; an exception is shown on stderr, never fatal. */
  private async guard(f: () => unknown) {
    try {
      await f();
    } catch (e: any) {
      this.stream("stderr", `Error in comm handler: ${e?.stack ?? e}\n`);
    }
  }

  private commOpen(req: IncomingRequest) {
    const c = req.content;
    const id = str(c.comm_id), target = str(c.target_name);
    const handler = this.targets.get(target);
    if (!id) return log("comm_open without comm_id");
    if (!handler) {
      log(`no comm target named ${JSON.stringify(target)}; closing comm ${id}`);
      this.publish("comm_close", { comm_id: id, data: {} });
      return;
    }
    const comm = new KernelComm(this, id, target);
    this.comms.set(id, comm);
    this.guard(() => handler(comm, c.data ?? {}, dataViews(req.buffers)));
  }

  private historyFor(c: Record<string, any>): unknown[] {
    const output = !!c.output;
    switch (c.hist_access_type) {
      case "tail":
        return this.history.tail(num(c.n, 10), output);
      case "range":
        return this.history.range(num(c.session, 0), num(c.start, 0), c.stop == null ? null : num(c.stop, 0), output);
      case "search":
        return this.history.search(str(c.pattern), c.n == null ? null : num(c.n, 0), !!c.unique, output);
      default:
        return [];
    }
  }

  private async execute(req: IncomingRequest) {
    const c = req.content;
    if (typeof c.code !== "string") {
      const content = { status: "error", execution_count: this.executionCount, ename: "BadRequest", evalue: "execute_request without a string `code`", traceback: ["BadRequest: execute_request without a string `code`"] };
      return this.reply(req.id, "execute_reply", content);
    }
    const code: string = c.code;
    // as ipykernel: when the cell started, in the reply's metadata
    const started = new Date().toISOString();
    const silent = !!c.silent;
    const storeHistory = silent ? false : c.store_history !== false;
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    this.silent = silent;
    this.allowStdin = c.allow_stdin !== false;
    try {
      this.publish("execute_input", { code, execution_count: count });
      if (storeHistory) this.history.add(count, code, null);
      const guard = this.kernelGuard;
      if (guard) {
        guard.stop.take(); // a stop asked for after the previous request ended
        guard.stop.setBaseline(inUseNow());
        if (!silent) for (const n of guard.notices.splice(0)) this.stream("stderr", `\x1b[1;31m${n}\x1b[0m\n`);
      }
      let outcome = await this.interp.execute({ code, executionCount: count, silent, allowStdin: this.allowStdin, metadata: req.metadata });
      // the memory guard stopped the cell: its error says why, what holds the memory and how to free it
      const stop = guard?.stop.take();
      if (guard && stop && outcome.status === "error") {
        outcome = { status: "error", ...(await memoryError(stop, guard.limits)) };
      } else if (outcome.status === "error" && outcome.ename === "OutOfMemoryError") await collectGarbage(); // the GPU's: free the cell's temporaries
      if (storeHistory && outcome.resultText != null) this.history.setOutput(count, outcome.resultText);
      if (outcome.status === "ok") {
        const user_expressions: Record<string, unknown> = {};
        for (const [name, expr] of Object.entries((c.user_expressions as Record<string, unknown>) ?? {})) {
          try {
            const r = await this.interp.evaluate(String(expr));
            user_expressions[name] = { status: "ok", data: jsonSafe(r.data), metadata: jsonSafe(r.metadata) };
          } catch (e: any) {
            user_expressions[name] = { status: "error", ename: e?.name ?? "Error", evalue: String(e?.message ?? e), traceback: [] };
          }
        }
        this.reply(req.id, "execute_reply", { status: "ok", execution_count: count, payload: outcome.payload ?? [], user_expressions }, true, { status: "ok", started });
      } else {
        const err = { ename: outcome.ename, evalue: outcome.evalue, traceback: outcome.traceback };
        this.publish("error", err);
        this.endOutput();
        // stop_on_error: the server aborts the requests queued before it sends this reply (not those sent after)
        this.flushStream();
        this.post({ kind: "reply", id: req.id, msgType: "execute_reply", content: { status: "error", execution_count: count, ...err, payload: [], user_expressions: {} }, metadata: { status: "error", started }, done: true, abortQueue: c.stop_on_error !== false });
      }
    } finally {
      this.silent = false;
    }
  }
}

function safe(f: () => void) {
  try {
    f();
  } catch {}
}
function str(x: unknown): string {
  return typeof x === "string" ? x : x == null ? "" : String(x);
}
function num(x: unknown, dflt: number): number {
  const n = typeof x === "number" ? x : typeof x === "string" && x.trim() ? Number(x) : NaN;
  return Number.isFinite(n) ? Math.trunc(n) : dflt;
}
function dataViews(bufs: Uint8Array[]): DataView[] {
  return (bufs ?? []).map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength));
}
