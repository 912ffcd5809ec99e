/**
 * Requests from the main thread to one of the kernel's helper threads (the compiler, the
 * language service), answered in order. A helper is dist/kernel-helper.js (helper.ts) started as a
 * Worker with its role in workerData (helper.ts starts the role's handlers).
 */
import { Worker, parentPort } from "node:worker_threads";

export type Handlers = Record<string, (...args: any[]) => unknown>;

/** The helper's side: answers each request with its handler's result (or its error's stack). */
export function serve(handlers: Handlers): void {
  const port = parentPort!;
  port.on("message", ({ id, method, args }: { id: number; method: string; args: unknown[] }) => {
    let reply: { id: number; result?: unknown; error?: string };
    try {
      reply = { id, result: handlers[method](...args) };
    } catch (e: any) {
      reply = { id, error: String(e?.stack ?? e) };
    }
    port.postMessage(reply);
  });
}

/** The main thread's handle on a helper thread, started on the first request (or `start()`). */
export class HelperThread {
  private worker: Worker | null = null;
  private seq = 0;
  private waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private stopping = false;

  constructor(
    private readonly role: string,
    private readonly data: Record<string, unknown>,
    private readonly log: (s: string) => void,
  ) {
    // the process ending (shutdown by the client, or a kill) ends the thread too: not worth a log line
    process.once("exit", () => void (this.stopping = true));
  }

  start(): void {
    if (this.worker) return;
    this.worker = new Worker(new URL("./kernel-helper.js", import.meta.url), { workerData: { role: this.role, ...this.data }, stdout: true, stderr: true });
    this.worker.unref();
    this.worker.on("message", ({ id, result, error }) => {
      const w = this.waiting.get(id);
      this.waiting.delete(id);
      if (!w) return;
      if (error) w.reject(new Error(error));
      else w.resolve(result);
    });
    const fail = (e: unknown) => {
      this.log(`the ${this.role} thread stopped: ${(e as Error)?.message ?? e}`);
      for (const w of this.waiting.values()) w.reject(new Error(`the ${this.role} thread stopped`));
      this.waiting.clear();
      this.worker = null;
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => code !== 0 && !this.stopping && fail(`exit ${code}`));
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    this.start();
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker!.postMessage({ id, method, args });
    });
  }

  stop(): Promise<number> | undefined {
    this.stopping = true;
    return this.worker?.terminate();
  }
}
