/**
 * What the TypeScript interpreter needs from the JavaScript host it runs in: the seam between
 * the kernel's cell semantics and display code (Node-free) and Node itself. `node.ts` is Node's
 * implementation; a browser kernel supplies its own (eval in a worker, its own text formatter,
 * modules from its bundle) and reuses the rest.
 */
import type * as Engine from "../../engine/index.ts";
import type * as Widgets from "../../widgets/index.ts";

export interface Platform {
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
  /** The preloaded engine (`gb`) and widgets. */
  loadEngine(): Promise<typeof Engine>;
  loadWidgets(): Promise<typeof Widgets>;
  /** The runtime's name and version, for the banner and `tslab.versions` (Node: `{ node: process.version }`). */
  readonly runtime: { name: string; version: string };
  /** Heap in use on the thread that runs cells (bytes), after a collection where the platform allows. */
  memory(): { heap: number; rss?: number };
}
