/**
 * The protocol server. Runs in a worker thread so that heartbeat, control
 * (interrupt, shutdown) and stdin keep working while the main thread is busy
 * in a synchronous cell. It owns every socket, signs and verifies messages,
 * publishes busy/idle around each request and queues shell requests; it
 * knows nothing of the language: requests go to the main thread as data.
 */
import { signalPosted } from "../intrinsics.ts";
import type * as Zmq from "zeromq";
import type { BoundSockets } from "./bind.ts";
import { Message, Signer, WireError, makeHeader, parseFrames, serialize, type Header } from "./wire.ts";
import type { ServerConfig, ServerStart, ToMain, ToServer } from "./bridge.ts";
import { log } from "../log.ts";
import { ServerGuard } from "../guard/server.ts";

/** Serializes sends on one socket (zeromq 6 refuses concurrent sends). */
class Sender {
  private chain: Promise<void> = Promise.resolve();
  closed = false;
  constructor(private sock: Zmq.Socket & { send(m: any): Promise<void> }, private name: string) {}
  send(frames: (Buffer | Uint8Array)[]): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      try {
        await this.sock.send(frames);
      } catch (e) {
        if (!this.closed) log(`send on ${this.name} failed: ${(e as Error).message}`);
      }
    });
    return this.chain;
  }
  flush(): Promise<void> {
    return this.chain;
  }
}

interface Pending {
  identities: Buffer[];
  header: Header;
  channel: "shell" | "control";
}

/**
 * Serves the sockets bound by bind.ts, with the rest of its settings (`settings`: the main thread
 * makes them while this thread starts). `channel`: the main thread's private channel: its port,
 * and the counter to bump after each post so that the main thread takes the message.
 */
export async function runServer({ connection: c, channel }: ServerStart, bound: BoundSockets, settings: Promise<ServerConfig>): Promise<void> {
  const port = channel.port;
  const signer = new Signer(c.key ?? "", c.signature_scheme || "hmac-sha256");
  const session = crypto.randomUUID();
  const post = (m: ToMain) => {
    port.postMessage(m);
    signalPosted(channel.signal);
  };

  const { shell, control, stdin, iopub, hb } = bound;
  const sockets = [shell, control, stdin, iopub, hb];
  const config = await settings;
  const send = {
    shell: new Sender(shell as any, "shell"),
    control: new Sender(control as any, "control"),
    stdin: new Sender(stdin as any, "stdin"),
    iopub: new Sender(iopub as any, "iopub"),
    hb: new Sender(hb as any, "hb"),
  };
  let closing = false;

  const publish = (parent: unknown, msgType: string, content: unknown, metadata: unknown = {}, buffers: Uint8Array[] = []) =>
    send.iopub.send(serialize(signer, [Buffer.from(`kernel.${session}.${msgType}`)], makeHeader(msgType, session), parent, metadata, content, buffers));
  const status = (parent: unknown, state: "busy" | "idle" | "starting") => publish(parent, "status", { execution_state: state });
  const reply = (p: Pending, msgType: string, content: unknown, metadata: unknown = {}) =>
    send[p.channel].send(serialize(signer, p.identities, makeHeader(msgType, session), p.header, metadata, content));

  // --- heartbeat: echo every frame back
  (async () => {
    for await (const frames of hb) {
      if (closing) break;
      send.hb.send(frames);
    }
  })().catch((e) => closing || log(`heartbeat: ${e.message}`));

  // --- requests
  let nextId = 1;
  const pending = new Map<number, Pending>();
  const queue: { id: number; msg: Message }[] = [];
  let busyWith: number | null = null;
  let connected = false;
  const kernelInfo = () => ({ status: "ok", ...config.kernelInfo });

  function errorReplyFor(msg: Message, channel: "shell" | "control", ename: string, evalue: string) {
    const t = msg.header.msg_type;
    log(`${ename}: ${evalue}`);
    if (!t.endsWith("_request")) return;
    const p: Pending = { identities: msg.identities, header: msg.header, channel };
    status(msg.header, "busy");
    reply(p, t.replace(/_request$/, "_reply"), { status: "error", ename, evalue, traceback: [`${ename}: ${evalue}`] });
    status(msg.header, "idle");
  }

  function dispatchToMain(id: number, msg: Message, channel: "shell" | "control") {
    pending.set(id, { identities: msg.identities, header: msg.header, channel });
    if (channel === "shell") guard?.started();
    post({
      kind: "request",
      channel,
      id,
      header: msg.header,
      parent_header: msg.parent_header as Record<string, unknown>,
      metadata: msg.metadata,
      content: msg.content,
      buffers: msg.buffers.map((b) => new Uint8Array(b)),
    });
  }

  function pump() {
    while (busyWith === null && queue.length && !closing) {
      const { id, msg } = queue.shift()!;
      const t = msg.header.msg_type;
      status(msg.header, "busy");
      if (t === "kernel_info_request") {
        reply({ identities: msg.identities, header: msg.header, channel: "shell" }, "kernel_info_reply", kernelInfo());
        status(msg.header, "idle");
        if (!connected) (connected = true), post({ kind: "connected" });
        continue;
      }
      busyWith = id;
      dispatchToMain(id, msg, "shell");
    }
  }

  async function shutdown(p: Pending, restart: boolean) {
    guard?.clean();
    await reply(p, "shutdown_reply", { status: "ok", restart });
    await publish(p.header, "shutdown_reply", { status: "ok", restart });
    await status(p.header, "idle");
    post({ kind: "shutdown", restart });
    // If the main thread is stuck in a synchronous cell, end the process anyway.
    setTimeout(() => process.kill(process.pid, "SIGKILL"), 3000).unref();
  }

  function closeAll(clean = true) {
    if (closing) return;
    closing = true;
    if (clean) guard?.clean();
    for (const s of Object.values(send)) s.closed = true;
    for (const s of sockets) {
      try {
        s.close();
      } catch {}
    }
  }

  function onShell(frames: Buffer[]) {
    let msg: Message;
    try {
      msg = parseFrames(frames, signer);
    } catch (e) {
      log(`dropped a message on shell: ${(e as Error).message}`);
      return;
    }
    const t = msg.header.msg_type;
    if (t === "kernel_info_request" || config.shellTypes.includes(t)) {
      queue.push({ id: nextId++, msg });
      pump();
    } else {
      errorReplyFor(msg, "shell", "UnknownMessageType", `unknown message type on shell: ${JSON.stringify(t).slice(0, 100)}`);
    }
  }

  function onControl(frames: Buffer[]) {
    let msg: Message;
    try {
      msg = parseFrames(frames, signer);
    } catch (e) {
      log(`dropped a message on control: ${(e as Error).message}`);
      return;
    }
    const p: Pending = { identities: msg.identities, header: msg.header, channel: "control" };
    const t = msg.header.msg_type;
    switch (t) {
      case "kernel_info_request":
        status(msg.header, "busy");
        reply(p, "kernel_info_reply", kernelInfo());
        status(msg.header, "idle");
        return;
      case "interrupt_request":
        status(msg.header, "busy");
        interrupt();
        reply(p, "interrupt_reply", { status: "ok" });
        status(msg.header, "idle");
        return;
      case "shutdown_request":
        status(msg.header, "busy");
        shutdown(p, !!msg.content.restart);
        return;
      default:
        if (config.controlTypes.includes(t)) {
          status(msg.header, "busy");
          dispatchToMain(nextId++, msg, "control");
        } else errorReplyFor(msg, "control", "UnknownMessageType", `unknown message type on control: ${JSON.stringify(t).slice(0, 100)}`);
    }
  }

  /**
   * SIGINT to the process: stops a synchronous cell (breakOnSigint) or rejects an awaiting one.
   * A loop the main thread entered after an `await` is out of breakOnSigint's reach: if the main
   * thread neither answers the request nor runs its SIGINT handler within 1.5 s while the cell's
   * asynchronous part runs, its JavaScript is terminated through the inspector (the kernel's
   * state survives). Not in a synchronous part: breakOnSigint stops it (after a long garbage
   * collection, perhaps), and a second termination would hit the kernel's own code after it.
   */
  let acked = false;
  const shared = new Int32Array(config.userCodeFlag);
  function interrupt(fallbackMs = 1500) {
    acked = false;
    const busy = busyWith;
    const ticks = Atomics.load(shared, 1);
    process.kill(process.pid, "SIGINT");
    if (busy === null) return;
    setTimeout(() => {
      // stuck = no turn of the main thread's event loop for 1.5 s while user code runs
      if (acked || busyWith !== busy || Atomics.load(shared, 0) !== 2 || Atomics.load(shared, 1) !== ticks) return;
      log("the main thread did not respond to SIGINT: terminating its JavaScript execution");
      try {
        const { Session } = require("node:inspector") as typeof import("node:inspector");
        const session = new Session();
        session.connectToMainThread();
        // the pending SIGINT handler then runs and the cell ends with KeyboardInterrupt
        session.post("Runtime.terminateExecution", () => session.disconnect());
      } catch (e) {
        log(`cannot terminate the main thread: ${(e as Error).message}`);
      }
    }, fallbackMs).unref();
  }

  // the memory guard stops a cell as an interrupt does, sooner when the main thread is stuck
  const guard = config.guard
    ? new ServerGuard(config.guard, {
        interrupt: () => interrupt(300),
        log,
        die(ename, evalue) {
          const p = busyWith === null ? undefined : pending.get(busyWith);
          if (p) {
            const error = { ename, evalue, traceback: [`\x1b[1;31m${ename}\x1b[0m: ${evalue}`] };
            publish(p.header, "error", error);
            reply(p, p.header.msg_type.replace(/_request$/, "_reply"), { status: "error", execution_count: null, ...error, payload: [], user_expressions: {} }, { status: "error" });
            status(p.header, "idle");
          }
          // (zeromq's I/O thread sends what the sockets queued: give it a moment)
          Promise.all(Object.values(send).map((s) => s.flush())).finally(() => setTimeout(() => process.kill(process.pid, "SIGKILL"), 200));
        },
      })
    : null;

  function onStdin(frames: Buffer[]) {
    let msg: Message;
    try {
      msg = parseFrames(frames, signer);
    } catch (e) {
      log(`dropped a message on stdin: ${(e as Error).message}`);
      return;
    }
    if (msg.header.msg_type === "input_reply") post({ kind: "input_reply", content: msg.content });
    else log(`unexpected message on stdin: ${msg.header.msg_type}`);
  }

  const loop = async (sock: Zmq.Router, handler: (f: Buffer[]) => void, name: string) => {
    try {
      for await (const frames of sock) {
        if (closing) break;
        try {
          handler(frames);
        } catch (e) {
          log(`error handling a ${name} message: ${(e as Error).stack}`);
        }
      }
    } catch (e) {
      if (!closing) log(`${name} loop ended: ${(e as Error).message}`);
    }
  };
  loop(shell, onShell, "shell");
  loop(control, onControl, "control");
  loop(stdin, onStdin, "stdin");

  /** stop_on_error: takes the execute requests queued now out of the queue. */
  function takeQueuedExecutes(): Message[] {
    const taken: Message[] = [];
    for (let i = 0; i < queue.length; ) {
      if (queue[i].msg.header.msg_type === "execute_request") taken.push(queue.splice(i, 1)[0].msg);
      else i++;
    }
    return taken;
  }
  function sendAborted(msgs: Message[]) {
    for (const msg of msgs) {
      status(msg.header, "busy");
      reply({ identities: msg.identities, header: msg.header, channel: "shell" }, "execute_reply", { status: "aborted", execution_count: null }, { status: "aborted" });
      status(msg.header, "idle");
    }
  }
  const abortQueued = () => sendAborted(takeQueuedExecutes());

  port.on("message", (m: ToServer) => {
    switch (m.kind) {
      case "reply": {
        const p = pending.get(m.id);
        if (!p) return log(`reply for unknown request ${m.id}`);
        // what is queued when the error reply goes out is aborted (after it, as ipykernel does); nothing sent later
        const aborted = m.abortQueue ? takeQueuedExecutes() : [];
        if (m.msgType) reply(p, m.msgType, m.content, m.metadata ?? {});
        if (m.done) {
          pending.delete(m.id);
          if (p.channel === "shell") guard?.ended();
          status(p.header, "idle");
          sendAborted(aborted);
          if (busyWith === m.id) {
            busyWith = null;
            pump();
          }
        }
        return;
      }
      case "iopub":
        publish(m.parent, m.msgType, m.content, m.metadata ?? {}, m.buffers ?? []);
        guard?.published(m.msgType, m.content);
        return;
      case "stdin": {
        const p = pending.get(m.id);
        if (!p) return log(`input request for unknown request ${m.id}`);
        send.stdin.send(serialize(signer, p.identities, makeHeader("input_request", session), p.header, {}, m.content));
        return;
      }
      case "abort_queue":
        abortQueued();
        return;
      case "exit":
        Promise.all(Object.values(send).map((s) => s.flush())).finally(() => {
          closeAll();
          port.close();
        });
        return;
      case "close_now": {
        const done = new Int32Array(m.done);
        // what was queued before (the cell's last output) goes out first
        Promise.all(Object.values(send).map((s) => s.flush())).finally(() => {
          closeAll();
          Atomics.store(done, 0, 1);
          Atomics.notify(done, 0);
        });
        return;
      }
      case "log":
        log(m.text);
        return;
      case "interrupt_ack":
        acked = true;
        return;
    }
  });
  // Like ipykernel's parent poller: exit when the process that launched us is gone.
  const parentPid = Number(process.env.JPY_PARENT_PID);
  if (parentPid > 1) {
    setInterval(() => {
      let alive = true;
      try {
        process.kill(parentPid, 0);
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === "EPERM";
      }
      if (!alive || process.ppid === 1) {
        log(`parent process ${parentPid} is gone: exiting`);
        closeAll();
        setTimeout(() => process.kill(process.pid, "SIGKILL"), 200);
      }
    }, 1000).unref();
  }
  status({}, "starting");
  post({ kind: "ready" });
}
