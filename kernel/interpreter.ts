/**
 * The boundary between the kernel core (protocol, execution counting,
 * history, comms) and a language. The core knows nothing of TypeScript; an
 * Interpreter knows nothing of ZeroMQ or Jupyter messages.
 */

import type { Comm, MimeBundle } from "../widgets/host.ts";
import type { KernelInfo } from "./info.ts";

// the kernel implements the widgets' DisplayHost, so a comm and a bundle are the widgets' own types
export type { Comm, MimeBundle };

export interface ErrorInfo {
  ename: string;
  evalue: string;
  traceback: string[];
}

export type ExecuteOutcome = ({ status: "ok"; payload?: Record<string, unknown>[] } | ({ status: "error" } & ErrorInfo)) & {
  /** text/plain of the result, kept in the history's output column. */
  resultText?: string;
};

export interface ExecuteRequest {
  code: string;
  executionCount: number;
  silent: boolean;
  allowStdin: boolean;
  /** The execute_request's metadata (the grader sends its compiled instructor cells there). */
  metadata?: Record<string, unknown>;
}

/** What an interpreter may do to the front end. Output goes to the request being handled (or the last execute). */
export interface KernelIO {
  stream(name: "stdout" | "stderr", text: string): void;
  display(data: MimeBundle, metadata?: Record<string, unknown>, displayId?: string, update?: boolean): void;
  executeResult(executionCount: number, data: MimeBundle, metadata?: Record<string, unknown>): void;
  clearOutput(wait: boolean): void;
  /** Asks the front end for a line of input (input_request on stdin). Rejects when stdin is not allowed. */
  input(prompt: string, password: boolean): Promise<string>;
  openComm(targetName: string, data?: unknown, metadata?: Record<string, unknown>, buffers?: ArrayBufferView[]): Comm;
  registerCommTarget(targetName: string, handler: (comm: Comm, data: any, buffers: DataView[]) => void): void;
  log(text: string): void;
  /**
   * Marks when user code may be running on this thread: "sync" while a script runs with
   * breakOnSigint (a SIGINT stops it, however long it takes to notice), "async" while the cell's
   * asynchronous part runs (a loop there is out of breakOnSigint's reach: the server may then
   * terminate the thread's JavaScript), null after.
   */
  userCode(state: "sync" | "async" | null): void;
}

export interface CompleteResult {
  matches: string[];
  cursorStart: number;
  cursorEnd: number;
  metadata?: Record<string, unknown>;
}

export interface InspectResult {
  found: boolean;
  data: MimeBundle;
  metadata?: Record<string, unknown>;
}

export interface Interpreter {
  /** The kernel_info_reply content (static: kernel/info.ts builds it from the versions). */
  readonly info: KernelInfo;
  /** Called once with the I/O the interpreter uses; may start loading in the background. */
  init(io: KernelIO): Promise<void>;
  execute(req: ExecuteRequest): Promise<ExecuteOutcome>;
  /** Evaluates a user expression after a cell (user_expressions). */
  evaluate(expression: string): Promise<{ data: MimeBundle; metadata: Record<string, unknown> }>;
  /** Offsets are UTF-16 indices into `code`. */
  complete(code: string, cursor: number): Promise<CompleteResult>;
  inspect(code: string, cursor: number, detailLevel: number): Promise<InspectResult>;
  isComplete(code: string): Promise<{ status: "complete" | "incomplete" | "invalid" | "unknown"; indent?: string }>;
  /** A client is connected (the first kernel_info_reply went out): a good time to warm up. */
  connected?(): void;
  /** An interrupt arrived (SIGINT) while no synchronous code was running. */
  interrupt(): void;
  shutdown(restart: boolean): Promise<void>;
}
