/**
 * The compiler in its own thread: it loads TypeScript as the kernel starts, so the thread that
 * runs cells never waits for that load (it stays free to answer completion from live objects),
 * and a cell runs as soon as it is transpiled.
 */
import { catchingSyntaxErrors, compileCell, compileModule, completeness, type CompiledCell } from "./compile.ts";
import { isSyncSpecifier } from "./node.ts";
import { HelperThread, serve } from "./worker.ts";
import type { CellCompiler, Compiled } from "./platform.ts";

export function runCompileWorker(): void {
  serve({
    compile: (code: string, fileName: string, jsx: boolean) => catchingSyntaxErrors(() => compileCell(code, fileName, isSyncSpecifier, jsx)),
    compileModule: (code: string, fileName: string, jsx: boolean) => catchingSyntaxErrors(() => compileModule(code, fileName, jsx)),
    completeness: (code: string) => completeness(code),
  });
  // load the compiler and compile once now: the first cell finds it ready
  compileCell("0", "warmup.ts", isSyncSpecifier);
}

/** The main thread's handle on the compiler thread. */
export class CompilerClient implements CellCompiler {
  private readonly thread: HelperThread;
  /** `thread`: the compiler's thread (a HelperThread of role "compiler"), if started already (main.ts starts it early). */
  constructor(log: (s: string) => void, thread?: HelperThread) {
    this.thread = thread ?? new HelperThread("compiler", {}, log);
  }
  /** Starts the thread (it loads the compiler at once); resolves once it is loaded. */
  start(): Promise<unknown> {
    return this.thread.call("completeness", "");
  }
  compile(code: string, fileName: string, jsx = false): Promise<Compiled<CompiledCell>> {
    return this.thread.call("compile", code, fileName, jsx);
  }
  compileModule(code: string, fileName: string, jsx = false): Promise<Compiled<string>> {
    return this.thread.call("compileModule", code, fileName, jsx);
  }
  completeness(code: string): Promise<ReturnType<typeof completeness>> {
    return this.thread.call("completeness", code);
  }
  stop(): Promise<number> | undefined {
    return this.thread.stop();
  }
}
