/**
 * Messages between the protocol server (a worker thread owning the sockets)
 * and the kernel core on the main thread. Plain data, structured-clonable.
 */
import type { Header } from "./wire.ts";

/** A request handed to the main thread. `id` names it for the reply. */
export interface IncomingRequest {
  kind: "request";
  channel: "shell" | "control";
  id: number;
  header: Header;
  parent_header: Record<string, unknown>;
  metadata: Record<string, unknown>;
  content: Record<string, any>;
  buffers: Uint8Array[];
}

export type ToMain =
  | IncomingRequest
  | { kind: "input_reply"; content: Record<string, any> }
  | { kind: "shutdown"; restart: boolean }
  | { kind: "ready" }
  /** The main thread's SIGINT handler ran (it is not stuck in a loop). */
  | { kind: "interrupt_ack" }
  /** The first kernel_info_reply went out: a client is connected. */
  | { kind: "connected" };

export type ToServer =
  /** Reply to request `id`; `done` ends its processing (idle is published, the next request goes on). */
  | { kind: "reply"; id: number; msgType: string; content: unknown; metadata?: unknown; done: boolean; abortQueue?: boolean }
  /** Publish on iopub, with `parent` as parent header. */
  | { kind: "iopub"; parent: unknown; msgType: string; content: unknown; metadata?: unknown; buffers?: Uint8Array[] }
  /** Send an input_request on stdin to the client of request `id`. */
  | { kind: "stdin"; id: number; content: unknown }
  /** Abort (reply status "aborted" to) every queued execute request. */
  | { kind: "abort_queue" }
  | { kind: "exit" }
  /**
   * The main thread is exiting now (process.exit in a cell): close the sockets, then set
   * done[0] to 1 and notify (the main thread waits on it; a zeromq socket open in a
   * worker when the process exits aborts it).
   */
  | { kind: "close_now"; done: SharedArrayBuffer }
  | { kind: "interrupt_ack" }
  | { kind: "log"; text: string };

/** What the protocol worker is started with (its workerData): enough to bind the sockets. */
export interface ServerStart {
  connection: import("./wire.ts").ConnectionInfo;
  /** The main thread's private channel (intrinsics.ts, kernelChannel): the worker's end and the counter to bump after each post. */
  channel: { port: import("node:worker_threads").MessagePort; signal: SharedArrayBuffer };
}

/** The rest of the protocol worker's settings: posted to it (Worker.postMessage) as soon as it is started, while it boots. */
export interface ServerConfig {
  /** The static kernel_info_reply content (info.ts), answered by the server itself. */
  kernelInfo: import("../info.ts").KernelInfo;
  /** Message types the main thread handles on the shell channel. */
  shellTypes: string[];
  /** Message types the main thread handles on the control channel. */
  controlTypes: string[];
  /** Int32Array[2] over it: [0] is 1 while a cell's synchronous part runs on the main thread, 2 while
   * its asynchronous part does, 0 otherwise (set by the interpreter); [1] counts the main thread's
   * event-loop turns (a 100 ms timer), to tell it is stuck. */
  userCodeFlag: SharedArrayBuffer;
  /** The memory guard and the death record (kernel/guard/), run beside the server. */
  guard?: import("../guard/server.ts").GuardConfig;
}
