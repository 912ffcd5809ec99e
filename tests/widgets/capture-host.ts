/**
 * A DisplayHost for tests that records what widgets send (displays, comm messages) and lets a
 * test play the front end (send comm messages to the kernel side). The widgets are the thing
 * under test; this stands in for the kernel's ZeroMQ plumbing.
 */
import type { Comm, DisplayHost, MimeBundle, OutputOptions } from "../../widgets/host.js";
import { OutputQueue } from "../../widgets/queue.js";

export interface Sent {
  data: any;
  metadata?: Record<string, unknown>;
  buffers?: ArrayBufferView[];
}

export class TestComm implements Comm {
  sent: Sent[] = [];
  closed = false;
  private msgHandlers: ((data: any, buffers: DataView[]) => void)[] = [];
  private closeHandlers: ((data: any) => void)[] = [];
  constructor(readonly commId: string, readonly targetName: string, readonly openData: any, readonly openMetadata?: Record<string, unknown>, readonly openBuffers?: ArrayBufferView[]) {}
  send(data: unknown, metadata?: Record<string, unknown>, buffers?: ArrayBufferView[]): void {
    this.sent.push({ data: JSON.parse(JSON.stringify(data)), metadata, buffers });
  }
  close(): void {
    this.closed = true;
    for (const h of this.closeHandlers) h({});
  }
  onMsg(handler: (data: any, buffers: DataView[]) => void): void {
    this.msgHandlers.push(handler);
  }
  onClose(handler: (data: any) => void): void {
    this.closeHandlers.push(handler);
  }
  /** The front end sends a message on this comm. */
  receive(data: any, buffers: DataView[] = []): void {
    for (const h of this.msgHandlers) h(data, buffers);
  }
}

export class CaptureHost implements DisplayHost {
  displays: { bundle: MimeBundle; options: OutputOptions }[] = [];
  errors: unknown[] = [];
  comms: TestComm[] = [];
  targets = new Map<string, (comm: Comm, data: any, buffers: DataView[]) => void>();
  private n = 0;
  constructor(readonly supportsComms = true) {}
  /** Bundles still being made keep their place (as in the kernel's host). */
  readonly queue = new OutputQueue((e) => this.errors.push(e));
  display(bundle: MimeBundle | Promise<MimeBundle>, options: OutputOptions = {}): void {
    const record = (b: MimeBundle) => void this.displays.push({ bundle: JSON.parse(JSON.stringify(b)), options: { ...options } });
    this.queue.run(bundle instanceof Promise ? () => bundle.then(record) : () => record(bundle));
  }
  clearOutput(): void {}
  openComm(targetName: string, data?: unknown, metadata?: Record<string, unknown>, buffers?: ArrayBufferView[]): Comm | null {
    if (!this.supportsComms) return null;
    const c = new TestComm(`comm${++this.n}`, targetName, JSON.parse(JSON.stringify(data ?? {})), metadata, buffers);
    this.comms.push(c);
    return c;
  }
  registerCommTarget(targetName: string, handler: (comm: Comm, data: any, buffers: DataView[]) => void): void {
    this.targets.set(targetName, handler);
  }
  /** The front end opens a comm to the kernel (comm_open). */
  frontEndOpens(targetName: string, commId: string, data: any = {}): TestComm {
    const c = new TestComm(commId, targetName, data);
    const h = this.targets.get(targetName);
    if (!h) throw new Error(`no comm target ${targetName}`);
    h(c, data, []);
    return c;
  }
  commFor(modelId: string): TestComm {
    const c = this.comms.find((x) => x.commId === modelId);
    if (!c) throw new Error(`no comm ${modelId}`);
    return c;
  }
}
