/**
 * The kernel's DisplayHost: what a cell shows reaches the front end in the order the cell made
 * it. A display whose bundle is still being made (a GPU tensor being read) holds back the output
 * after it, printed text included. Node-free: a browser kernel uses it as it is.
 */
import type { Comm, DisplayHost, MimeBundle, OutputOptions } from "../../widgets/host.ts";
import { OutputQueue } from "../../widgets/queue.ts";
import type { KernelIO } from "../interpreter.ts";

export class CellOutput implements DisplayHost {
  readonly supportsComms = true;
  private readonly queue: OutputQueue;

  constructor(
    private readonly io: KernelIO,
    /** The text/plain of values (the platform's: util.inspect on Node). */
    readonly formatText: (value: unknown) => string,
    /** A display whose bundle failed: reported on the cell's stderr. */
    describeError: (e: unknown) => string,
  ) {
    this.queue = new OutputQueue((e) => io.stream("stderr", `display failed: ${describeError(e)}\n`));
  }

  display(bundle: MimeBundle | Promise<MimeBundle>, o: OutputOptions = {}): void {
    const send = (data: MimeBundle) => this.io.display(data, o.metadata ?? {}, o.displayId, !!o.update);
    this.queue.run(bundle instanceof Promise ? () => bundle.then(send) : () => send(bundle));
  }

  stream(name: "stdout" | "stderr", text: string): void {
    this.queue.run(() => this.io.stream(name, text));
  }

  clearOutput(wait?: boolean): void {
    this.queue.run(() => this.io.clearOutput(!!wait));
  }

  openComm(targetName: string, data?: unknown, metadata?: Record<string, unknown>, buffers?: ArrayBufferView[]): Comm {
    return this.io.openComm(targetName, data, metadata, buffers);
  }

  registerCommTarget(targetName: string, handler: (comm: Comm, data: any, buffers: DataView[]) => void): void {
    this.io.registerCommTarget(targetName, handler);
  }

  /** Resolves once everything shown so far has gone out (a cell's reply waits for it). */
  settled(): Promise<void> {
    return this.queue.settled();
  }
}
