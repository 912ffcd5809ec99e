/**
 * The TypeScript language service in its own thread: type checks run in parallel with the
 * cell they check, and completion/inspection never block the thread that runs cells. This file
 * is Node-free (the browser kernel uses it too): the thread's handlers and the client; Node's
 * thread is started by language-node.ts.
 */
import type { Notebook, CellDiagnostic } from "./language.ts";
import type { CompleteResult, InspectResult } from "../interpreter.ts";
import type { Helper, LanguageService } from "./platform.ts";

/**
 * The language worker's requests, answered by a Notebook (Node: language-node.ts serves them
 * from a worker thread; the browser kernel from a Web Worker). `warmedUp` runs after the warm-up.
 */
export function languageHandlers(nb: Notebook, hooks: { warmedUp?: () => void; heapUsed: () => number }): Record<string, (...args: any[]) => unknown> {
  return {
    check: (code: string, jsx: boolean) => nb.check(code, jsx),
    commit: (code: string) => nb.commit(code),
    addModule: (fileName: string, code: string) => nb.addModule(fileName, code),
    complete: (code: string, cursor: number) => nb.complete(code, cursor),
    inspect: (code: string, cursor: number, detail: number) => nb.inspect(code, cursor, detail),
    warmup: () => {
      nb.check("1", false);
      nb.complete("Math.a", 6);
      hooks.warmedUp?.();
    },
    memory: () => hooks.heapUsed(),
  };
}

/** The main thread's handle on the language worker. */
export class LanguageClient implements LanguageService {
  private checkCache = new Map<string, CellDiagnostic[]>();
  /** Answers to completion/inspection requests, for the same request again (Tab pressed again, a hover repeated). */
  private answers = new Map<string, CompleteResult | InspectResult>();
  private preludeVersion = 0;
  /** The service has loaded the compiler and the declarations (its first check is done): later checks take milliseconds. */
  ready = false;

  constructor(
    private readonly thread: Helper,
    private log: (s: string) => void,
  ) {}

  warmup(): void {
    this.thread.call("warmup").then(
      () => (this.ready = true),
      (e) => this.log(`language service warm-up failed: ${e.message}`),
    );
  }

  /** Type errors of a cell given what earlier cells declared; memoized while the prelude is unchanged. */
  check(code: string, jsx = false): Promise<CellDiagnostic[]> {
    const key = `${this.preludeVersion}\0${jsx}\0${code}`;
    const hit = this.checkCache.get(key);
    if (hit) return Promise.resolve(hit);
    return this.thread.call<CellDiagnostic[]>("check", code, jsx).then((d) => {
      this.ready = true;
      if (this.checkCache.size > 200) this.checkCache.clear();
      this.checkCache.set(key, d);
      return d;
    });
  }

  /** What earlier cells declared changed: checks and answers are made again. */
  private preludeChanged(): void {
    this.preludeVersion++;
    this.checkCache.clear();
    this.answers.clear();
  }

  /** Records a cell's declarations (`declares`: whether it declares anything, known from the compile). */
  commit(code: string, declares: boolean): void {
    if (declares) this.preludeChanged();
    this.thread.call<boolean>("commit", code).catch(() => {});
  }

  /** A module of the notebook (a tslab `@module` cell) at `fileName`; resolves to its type errors. */
  addModule(fileName: string, code: string): Promise<CellDiagnostic[]> {
    this.preludeChanged();
    return this.thread.call("addModule", fileName, code);
  }

  complete(code: string, cursor: number): Promise<CompleteResult> {
    return this.answer(`c\0${cursor}\0${code}`, () => this.thread.call("complete", code, cursor));
  }

  inspect(code: string, cursor: number, detail: number): Promise<InspectResult> {
    return this.answer(`i\0${cursor}\0${detail}\0${code}`, () => this.thread.call("inspect", code, cursor, detail));
  }

  /** The answer given to the same request with the same earlier cells, else the service's (kept: the last 64). */
  private async answer<T extends CompleteResult | InspectResult>(key: string, ask: () => Promise<T>): Promise<T> {
    const hit = this.answers.get(key);
    if (hit) return hit as T;
    const version = this.preludeVersion;
    const r = await ask();
    if (version === this.preludeVersion) {
      this.answers.set(key, r);
      if (this.answers.size > 64) this.answers.delete(this.answers.keys().next().value!);
    }
    return r;
  }

  memory(): Promise<number> {
    return this.thread.call("memory");
  }

  stop(): unknown {
    return this.thread.stop();
  }
}
