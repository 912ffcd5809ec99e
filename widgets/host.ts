/**
 * The display host: how widgets reach whatever front end shows them, without knowing
 * ZeroMQ or Jupyter. A kernel installs one with `setDisplayHost` (the gradbook kernel does
 * so once, when it loads the widgets); `Output.capture` swaps in its own while it captures.
 * Outside a kernel (a plain Node script, a test) there is none and `display` prints text/plain.
 *
 * Dependency direction: kernel -> widgets -> engine. A kernel implements this interface;
 * widgets only call it.
 */

/** A MIME bundle: MIME type -> data (string for text types, JSON value for JSON types). */
export type MimeBundle = Record<string, unknown>;

/** Where one output goes (what display_data / update_display_data carry besides the data). */
export interface OutputOptions {
  /** Display id: a later output with the same id and `update: true` replaces this one in place. */
  displayId?: string;
  /** Replace the output that carries `displayId` instead of adding a new one (update_display_data). */
  update?: boolean;
  metadata?: Record<string, unknown>;
}

/** One end of a Jupyter comm (the widget protocol runs over these). */
export interface Comm {
  readonly commId: string;
  readonly targetName: string;
  send(data: unknown, metadata?: Record<string, unknown>, buffers?: ArrayBufferView[]): void;
  close(data?: unknown): void;
  onMsg(handler: (data: any, buffers: DataView[]) => void): void;
  onClose(handler: (data: any) => void): void;
}

export interface DisplayHost {
  /**
   * Shows a bundle. A Promise (a bundle still being made: tensors are read asynchronously)
   * keeps its place: what is shown after it waits until it is shown.
   */
  display(bundle: MimeBundle | Promise<MimeBundle>, options?: OutputOptions): void;
  clearOutput(wait?: boolean): void;
  /** Open a comm from the kernel side (comm_open on iopub). Returns null where comms are not supported. */
  openComm(targetName: string, data?: unknown, metadata?: Record<string, unknown>, buffers?: ArrayBufferView[]): Comm | null;
  /** Handle comms the front end opens for `targetName`. */
  registerCommTarget(targetName: string, handler: (comm: Comm, data: any, buffers: DataView[]) => void): void;
  /** True when a front end that can run widgets may be listening (a comm-capable kernel session). */
  readonly supportsComms: boolean;
  /** The text/plain of a value that has no richer form (the gradbook kernel supplies Node's util.inspect). */
  formatText?(value: unknown): string;
}

let current: DisplayHost | null = null;

/** Installs the host (null: none) and returns the one it replaces. */
export function setDisplayHost(host: DisplayHost | null): DisplayHost | null {
  const previous = current;
  current = host;
  return previous;
}

export function getDisplayHost(): DisplayHost | null {
  return current;
}
