/**
 * The display host: how widgets reach whatever front end shows them, without
 * knowing ZeroMQ or Jupyter. The gradbook kernel installs a host with
 * `setDisplayHost` before running cells; outside a kernel (a plain Node script,
 * a test) no host is installed and `display` falls back to printing text/plain.
 *
 * Dependency direction: kernel -> widgets -> engine. The kernel imports this
 * file and implements the interface; widgets only call it.
 */

/** A MIME bundle: MIME type -> data (string for text types, JSON value for JSON types). */
export type MimeBundle = Record<string, unknown>;

export interface DisplayOptions {
  /** Display id: a later `display(..., { displayId, update: true })` replaces this output in place. */
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
  display(bundle: MimeBundle, options?: DisplayOptions): void;
  clearOutput(wait?: boolean): void;
  /** Open a comm from the kernel side (comm_open on iopub). Returns null where comms are not supported. */
  openComm(targetName: string, data?: unknown, metadata?: Record<string, unknown>, buffers?: ArrayBufferView[]): Comm | null;
  /** Handle comms the front end opens for `targetName`. */
  registerCommTarget(targetName: string, handler: (comm: Comm, data: any, buffers: DataView[]) => void): void;
  /** True when a front end that can run widgets may be listening (a comm-capable kernel session). */
  readonly supportsComms: boolean;
}

// The host lives on globalThis (under a registered symbol) rather than in a module
// variable, so that every copy of this module — the kernel's bundle and the
// widgets bundle each may carry one — sees the same host.
const HOST_KEY = Symbol.for("gradbook.displayHost");

export function setDisplayHost(h: DisplayHost | null): void {
  (globalThis as any)[HOST_KEY] = h;
}

export function getDisplayHost(): DisplayHost | null {
  return ((globalThis as any)[HOST_KEY] as DisplayHost | undefined) ?? null;
}
