/**
 * The TypeScript language service in its own thread: type checks run in
 * parallel with the cell they check, and completion/inspection never block
 * the thread that runs cells. Requests are answered in order.
 */
import { Worker, parentPort } from "node:worker_threads";
import { Notebook, type CellDiagnostic } from "./language.ts";
import type { CompleteResult, InspectResult } from "../interpreter.ts";

type Method = "check" | "commit" | "complete" | "inspect" | "warmup" | "memory";

export function runLanguageWorker(cwd: string) {
  const nb = new Notebook(cwd);
  const port = parentPort!;
  port.on("message", ({ id, method, args }: { id: number; method: Method; args: any[] }) => {
    try {
      let result: unknown;
      switch (method) {
        case "check":
          result = nb.check(args[0], args[1]);
          break;
        case "commit":
          result = nb.commit(args[0]);
          break;
        case "complete":
          result = nb.complete(args[0], args[1]);
          break;
        case "inspect":
          result = nb.inspect(args[0], args[1], args[2]);
          break;
        case "warmup":
          nb.check("1", 0);
          nb.complete("Math.a", 6);
          break;
        case "memory":
          (globalThis as any).gc?.();
          result = process.memoryUsage().heapUsed;
          break;
      }
      port.postMessage({ id, result });
    } catch (e: any) {
      port.postMessage({ id, error: String(e?.stack ?? e) });
    }
  });
}

/** The main thread's handle on the language worker. */
export class LanguageClient {
  private worker: Worker | null = null;
  private seq = 0;
  private waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private checkCache = new Map<string, CellDiagnostic[]>();
  private preludeVersion = 0;
  private stopping = false;

  constructor(private cwd: string, private log: (s: string) => void) {
    // the process ending (shutdown by the client, or a kill) ends the worker too: not worth a log line
    process.once("exit", () => void (this.stopping = true));
  }

  private call<T>(method: Method, ...args: unknown[]): Promise<T> {
    if (!this.worker) {
      this.worker = new Worker(new URL(import.meta.url), { workerData: { gradbookLanguage: true, cwd: this.cwd }, stdout: true, stderr: true });
      this.worker.unref();
      this.worker.on("message", ({ id, result, error }) => {
        const w = this.waiting.get(id);
        this.waiting.delete(id);
        if (!w) return;
        if (error) w.reject(new Error(error));
        else w.resolve(result);
      });
      const fail = (e: unknown) => {
        this.log(`language service stopped: ${(e as Error)?.message ?? e}`);
        for (const w of this.waiting.values()) w.reject(new Error("the language service stopped"));
        this.waiting.clear();
        this.worker = null;
      };
      this.worker.on("error", fail);
      this.worker.on("exit", (code) => code !== 0 && !this.stopping && fail(`exit ${code}`));
    }
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker!.postMessage({ id, method, args });
    });
  }

  warmup(): void {
    this.call("warmup").catch((e) => this.log(`language service warm-up failed: ${e.message}`));
  }

  /** Type errors of a cell given what earlier cells declared; memoized while the prelude is unchanged. */
  check(code: string): Promise<CellDiagnostic[]> {
    const key = `${this.preludeVersion}\0${code}`;
    const hit = this.checkCache.get(key);
    if (hit) return Promise.resolve(hit);
    return this.call<CellDiagnostic[]>("check", code, 0).then((d) => {
      if (this.checkCache.size > 200) this.checkCache.clear();
      this.checkCache.set(key, d);
      return d;
    });
  }

  /** Records a cell's declarations (`declares`: whether it declares anything, known from the compile). */
  commit(code: string, declares: boolean): void {
    if (declares) this.preludeVersion++, this.checkCache.clear();
    this.call<boolean>("commit", code).catch(() => {});
  }

  complete(code: string, cursor: number): Promise<CompleteResult> {
    return this.call("complete", code, cursor);
  }

  inspect(code: string, cursor: number, detail: number): Promise<InspectResult> {
    return this.call("inspect", code, cursor, detail);
  }

  memory(): Promise<number> {
    return this.call("memory");
  }

  stop(): Promise<number> | undefined {
    this.stopping = true;
    return this.worker?.terminate();
  }
}
