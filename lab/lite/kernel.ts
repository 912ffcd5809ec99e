/**
 * The gradbook kernel of the JupyterLite site: a JupyterLite BaseKernel on the page whose cells
 * run in a module Web Worker (worker/kernel.worker.ts) holding the Node kernel's core and
 * TypeScript interpreter. This class is the worker's protocol server, as kernel/protocol/server.ts
 * is the Node kernel's: it answers kernel_info itself, publishes busy/idle around each request,
 * hands requests to the worker and turns what the worker posts (kernel/protocol/bridge.ts's
 * ToServer) into Jupyter messages with BaseKernel's senders. So requests are handled by the
 * same code as in Node (KernelCore), not by BaseKernel's own request methods (nor its counts).
 *
 * Interrupts (see interrupt()): the interrupt word in shared memory stops a loop at its next
 * iteration; the "interrupt" message ends an awaited cell or input(). A cell still running
 * INTERRUPT_GRACE_MS later (a loop in code the kernel did not compile, or no shared memory and a
 * loop that never awaits) gets its worker stopped: the cell ends with KeyboardInterrupt, the
 * user is told that the kernel was restarted and its variables are gone, and a new worker starts.
 */
import { KernelMessage } from "@jupyterlab/services";
import { BaseKernel, type IKernel } from "@jupyterlite/services";
import type { IncomingRequest, ToServer } from "../../kernel/protocol/bridge.ts";
import type { KernelInfo } from "../../kernel/info.ts";
import type { FromKernelWorker, ToKernelWorker } from "./worker/kernel.worker.ts";

/** How long an interrupted cell may take to stop before its worker is replaced. */
export const INTERRUPT_GRACE_MS = 3000;

export interface GradbookKernelOptions extends IKernel.IOptions {
  /** The site's data folder (datasets over HTTP). */
  dataUrl: string;
  /** The language service's files (declarations, lib files). */
  languageEnvUrl: string;
  /** plotly.js (for figures' HTML fallback). */
  plotlyUrl: string;
}

interface Pending {
  header: KernelMessage.IHeader;
  done: () => void;
  /** An execute request's count, from its execute_input. */
  count?: number;
}

export class GradbookKernel extends BaseKernel {
  private worker!: Worker;
  private info!: Promise<KernelInfo>;
  private readonly interruptWord: Int32Array | null = globalThis.crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : null;
  private seq = 0;
  private pending = new Map<number, Pending>();
  private connected = false;
  private interruptTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly options: GradbookKernelOptions) {
    super(options);
    this.start();
  }

  override get ready(): Promise<void> {
    return this.info.then(() => undefined);
  }

  /** Starts the worker (again, after it was stopped). */
  private start(): void {
    this.worker = new Worker(new URL("./worker/kernel.worker.ts", import.meta.url), { type: "module", name: "gradbook-kernel" });
    let gotInfo: (info: KernelInfo) => void;
    this.info = new Promise((r) => (gotInfo = r));
    this.worker.onmessage = (e: MessageEvent<FromKernelWorker>) => {
      const m = e.data;
      if (m.kind === "info") gotInfo(m.info);
      else this.fromWorker(m);
    };
    this.worker.onerror = (e) => console.error(`gradbook kernel worker: ${e.message}`);
    this.toWorker({ kind: "init", dataUrl: this.options.dataUrl, languageEnvUrl: this.options.languageEnvUrl, plotlyUrl: this.options.plotlyUrl, interrupt: (this.interruptWord?.buffer as SharedArrayBuffer) ?? null });
    this.connected = false;
  }

  private toWorker(m: ToKernelWorker): void {
    this.worker.postMessage(m);
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.worker.terminate();
    if (this.interruptTimer) clearTimeout(this.interruptTimer);
    super.dispose();
  }

  // ---------------------------------------------------------------- requests

  override async handleMessage(msg: KernelMessage.IMessage): Promise<void> {
    const type = msg.header.msg_type;
    if (type === "input_reply") return void this.toWorker({ kind: "input_reply", content: msg.content as Record<string, unknown> });
    this.status("busy", msg.header);
    try {
      if (type === "kernel_info_request") {
        this.send(msg.header, "shell", "kernel_info_reply", { status: "ok", ...(await this.info) });
        if (!this.connected) {
          this.connected = true;
          // as Node's protocol server after its first kernel_info_reply: the compiler and language service start loading
          this.toWorker({ kind: "connected" });
        }
      } else await this.request(msg);
    } finally {
      this.status("idle", msg.header);
    }
  }

  /** Hands a request to the worker's core; resolves when it is done. */
  private request(msg: KernelMessage.IMessage): Promise<void> {
    const id = ++this.seq;
    return new Promise<void>((done) => {
      this.pending.set(id, { header: msg.header, done });
      const req: IncomingRequest = {
        kind: "request",
        channel: "shell",
        id,
        header: msg.header as unknown as IncomingRequest["header"],
        parent_header: msg.parent_header as Record<string, unknown>,
        metadata: msg.metadata as Record<string, unknown>,
        content: msg.content as Record<string, unknown>,
        buffers: (msg.buffers ?? []).map((b) => (ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b))),
      };
      // an interrupt applies to what runs when it is asked for: cleared here, before the request is
      // posted, so that one asked for while the worker has not yet taken the request still stops it
      if (this.interruptWord) Atomics.store(this.interruptWord, 0, 0);
      this.toWorker(req);
    });
  }

  /** What the worker's core posts. */
  private fromWorker(m: ToServer): void {
    switch (m.kind) {
      case "reply": {
        const p = this.pending.get(m.id);
        if (!p) return;
        if (m.msgType) this.send(p.header, "shell", m.msgType, m.content, m.metadata);
        if (m.done) {
          this.pending.delete(m.id);
          if (!this.pending.size && this.interruptTimer) clearTimeout(this.interruptTimer), (this.interruptTimer = null);
          p.done();
        }
        return;
      }
      case "iopub":
        if (m.msgType === "execute_input") for (const p of this.pending.values()) if (p.header.msg_id === (m.parent as KernelMessage.IHeader)?.msg_id) p.count = (m.content as { execution_count: number }).execution_count;
        return this.send(m.parent as KernelMessage.IHeader, "iopub", m.msgType, m.content, m.metadata, m.buffers);
      case "stdin": {
        const p = this.pending.get(m.id);
        if (p) this.inputRequest(m.content as KernelMessage.IInputRequestMsg["content"], p.header);
        return;
      }
      case "log":
        return console.warn(`[gradbook kernel] ${m.text}`);
      default:
        // abort_queue: JupyterLite's kernel client drops queued requests after an error reply itself;
        // interrupt_ack, exit, close_now: nothing to do on a page
        return;
    }
  }

  /** A message to the front end, as the Node kernel sends it (its parent: the request). */
  private send(parent: KernelMessage.IHeader, channel: KernelMessage.Channel, msgType: string, content: unknown, metadata: unknown = {}, buffers?: Uint8Array[]): void {
    const msg = KernelMessage.createMessage<any>({
      channel,
      msgType: msgType as KernelMessage.MessageType,
      session: parent?.session ?? "",
      parentHeader: parent,
      content,
      metadata: (metadata ?? {}) as KernelMessage.IMessage["metadata"],
      buffers,
    });
    this.sendMessage(msg);
  }

  private status(state: "busy" | "idle", parent: KernelMessage.IHeader): void {
    this.send(parent, "iopub", "status", { execution_state: state });
  }

  private sendMessage(msg: KernelMessage.IMessage): void {
    this.options.sendMessage(msg);
  }

  // ---------------------------------------------------------------- interrupt

  /** Stops the running cell (called by the site's kernel client on the interrupt button). */
  interrupt(): void {
    if (this.interruptWord) Atomics.store(this.interruptWord, 0, 1);
    this.toWorker({ kind: "interrupt" });
    if (!this.pending.size || this.interruptTimer) return;
    this.interruptTimer = setTimeout(() => {
      this.interruptTimer = null;
      if (this.pending.size) this.replaceWorker();
    }, INTERRUPT_GRACE_MS);
  }

  /** The cell did not stop: its worker is stopped and a new one started; its requests end with KeyboardInterrupt. */
  private replaceWorker(): void {
    this.worker.terminate();
    const why = this.interruptWord
      ? "it was not in a loop of a cell (the engine or imported code was busy)"
      : "this page is not cross-origin isolated, so a loop that never awaits cannot be interrupted";
    const text = `The kernel did not stop within ${INTERRUPT_GRACE_MS / 1000} s of the interrupt (${why}): its worker was stopped and a new kernel started. Variables and imports are gone: run the notebook's cells again.\n`;
    const traceback = ["\x1b[1;31mKeyboardInterrupt\x1b[0m: execution was interrupted (the kernel was restarted)"];
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      if (p.header.msg_type === "execute_request") {
        this.send(p.header, "iopub", "stream", { name: "stderr", text });
        this.send(p.header, "iopub", "error", { ename: "KeyboardInterrupt", evalue: "execution was interrupted", traceback });
        this.send(p.header, "shell", "execute_reply", { status: "error", execution_count: p.count ?? null, ename: "KeyboardInterrupt", evalue: "execution was interrupted", traceback, payload: [], user_expressions: {} }, { status: "error" });
      }
      p.done();
    }
    this.start();
    this.connected = true;
    this.toWorker({ kind: "connected" });
  }

  // ---------------------------------------------------------------- BaseKernel's request methods
  // Not used: handleMessage gives every request to the worker's core (the Node kernel's handling).

  private notHere(): never {
    throw new Error("the gradbook kernel handles requests in its worker: send them with handleMessage");
  }
  kernelInfoRequest(): Promise<KernelMessage.IInfoReplyMsg["content"]> {
    return this.notHere();
  }
  executeRequest(): Promise<KernelMessage.IExecuteReplyMsg["content"]> {
    return this.notHere();
  }
  completeRequest(): Promise<KernelMessage.ICompleteReplyMsg["content"]> {
    return this.notHere();
  }
  inspectRequest(): Promise<KernelMessage.IInspectReplyMsg["content"]> {
    return this.notHere();
  }
  isCompleteRequest(): Promise<KernelMessage.IIsCompleteReplyMsg["content"]> {
    return this.notHere();
  }
  commInfoRequest(): Promise<KernelMessage.ICommInfoReplyMsg["content"]> {
    return this.notHere();
  }
  inputReply(): void {
    this.notHere();
  }
  commOpen(): Promise<void> {
    return this.notHere();
  }
  commMsg(): Promise<void> {
    return this.notHere();
  }
  commClose(): Promise<void> {
    return this.notHere();
  }
}
