/**
 * Requests to a helper Web Worker (the language service), answered in order: the browser's
 * counterpart of kernel/ts/worker.ts (Node's worker threads), with the same message shapes.
 */
import type { Helper } from "../../../kernel/ts/platform.ts";

type Handlers = Record<string, (...args: any[]) => unknown>;

/** The helper's side: answers each request with its handler's result (awaited) or its error's stack. */
export function serve(handlers: Handlers): void {
  let queue = Promise.resolve();
  self.onmessage = (e: MessageEvent<{ id: number; method: string; args: unknown[] }>) => {
    const { id, method, args } = e.data;
    queue = queue.then(async () => {
      try {
        self.postMessage({ id, result: await handlers[method](...args) });
      } catch (err: any) {
        self.postMessage({ id, error: String(err?.stack ?? err) });
      }
    });
  };
}

/** The caller's handle on a helper Web Worker. */
export class WorkerHelper implements Helper {
  private seq = 0;
  private waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly worker: Worker,
    private readonly role: string,
    log: (s: string) => void,
  ) {
    worker.onmessage = (e: MessageEvent<{ id: number; result?: unknown; error?: string }>) => {
      const w = this.waiting.get(e.data.id);
      this.waiting.delete(e.data.id);
      if (e.data.error !== undefined) w?.reject(new Error(e.data.error));
      else w?.resolve(e.data.result);
    };
    worker.onerror = (e) => {
      log(`the ${role} worker failed: ${e.message}`);
      for (const w of this.waiting.values()) w.reject(new Error(`the ${role} worker failed: ${e.message}`));
      this.waiting.clear();
    };
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, method, args });
    });
  }

  stop(): void {
    this.worker.terminate();
    for (const w of this.waiting.values()) w.reject(new Error(`the ${this.role} worker was stopped`));
    this.waiting.clear();
  }
}
