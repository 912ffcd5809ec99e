/**
 * What the TypeScript interpreter needs from the JavaScript host it runs in: the seam between
 * the kernel's cell semantics and display code (Node-free) and Node itself. `node.ts` is Node's
 * implementation; a browser kernel supplies its own (eval in a worker, its own text formatter,
 * modules from its bundle) and reuses the rest.
 */
import type * as Engine from "../../engine/index.ts";
import type * as Widgets from "../../widgets/index.ts";
import type { CompleteResult, InspectResult } from "../interpreter.ts";
import type { CompiledCell } from "./compile.ts";
import type { CellDiagnostic } from "./language.ts";

/** A syntax error, as data (it crosses threads). */
export interface SyntaxErrorInfo {
  message: string;
  line: number;
  column: number;
}
export type Compiled<T> = { ok: T } | { syntaxError: SyntaxErrorInfo };

/** A helper thread (Node: a worker thread; a browser: a Web Worker), its requests answered in order. */
export interface Helper {
  call<T>(method: string, ...args: unknown[]): Promise<T>;
  stop(): unknown;
}

/** The TypeScript compiler (compile.ts) where the platform runs it (Node: a thread of its own). */
export interface CellCompiler {
  /** Starts loading the compiler (the first cell then finds it ready); resolves once it is loaded. */
  start(): Promise<unknown>;
  compile(code: string, fileName: string, jsx?: boolean): Promise<Compiled<CompiledCell>>;
  /** A tslab `@module` cell, as CommonJS. */
  compileModule(code: string, fileName: string, jsx?: boolean): Promise<Compiled<string>>;
  completeness(code: string): Promise<{ status: "complete" | "incomplete" | "invalid"; indent?: string }>;
}

/** The TypeScript language service (language.ts) where the platform runs it (Node: a thread of its own). */
export interface LanguageService {
  /** Its first check is done: later ones take milliseconds. */
  readonly ready: boolean;
  /** Starts loading it. */
  warmup(): void;
  check(code: string, jsx?: boolean): Promise<CellDiagnostic[]>;
  /** Records a cell that ran (`declares`: whether it declares anything). */
  commit(code: string, declares: boolean): void;
  addModule(fileName: string, code: string): Promise<CellDiagnostic[]>;
  complete(code: string, cursor: number): Promise<CompleteResult>;
  inspect(code: string, cursor: number, detail: number): Promise<InspectResult>;
  /** Its heap in use (bytes). */
  memory(): Promise<number>;
  stop(): unknown;
}

export interface Platform {
  readonly compiler: CellCompiler;
  readonly language: LanguageService;
  /** The text/plain of a value (Node: util.inspect). */
  formatText(value: unknown): string;
  /** Prepares a compiled cell to run in the global scope; the runner returns the script's value. An interrupt stops a busy loop where the platform can. */
  script(js: string, fileName: string): () => unknown;
  /** Sends what user code prints, and errors nobody caught, to the kernel. */
  captureOutput(write: (name: "stdout" | "stderr", text: string) => void, uncaught: (what: string, error: unknown) => void): void;
  /** Whether `import x from spec` is served synchronously (preloaded packages, builtins). */
  isSyncSpecifier(spec: string): boolean;
  /** A module as the notebook's folder sees it: `import` (any module) and `require` (synchronous ones). */
  importModule(spec: string): Promise<unknown>;
  requireModule(spec: string): unknown;
  /** Module names that an import path typed so far may complete to (live completion). */
  moduleNames(prefix: string): string[];
  /** True for a Proxy (live completion keeps away from their traps); where the platform cannot tell, false. */
  isProxy(value: unknown): boolean;
  /** The preloaded engine (`gb`) and widgets. */
  loadEngine(): Promise<typeof Engine>;
  loadWidgets(): Promise<typeof Widgets>;
  /** The runtime's name and version, for the banner and `tslab.versions` (Node: Node.js and process.version). */
  readonly runtime: { name: string; version: string };
  /** The version of the TypeScript compiler the kernel uses. */
  readonly typescriptVersion: string;
  /** Stack frames of the host's own code, left out of tracebacks (besides Node's internals and the kernel's files). */
  readonly internalFrames?: RegExp;
  /** Heap in use on the thread that runs cells (bytes), after a collection where the platform allows. */
  memory(): { heap: number; rss?: number };
}
