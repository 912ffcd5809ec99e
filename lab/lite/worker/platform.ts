/**
 * The TypeScript interpreter's Platform in a browser (kernel/ts/platform.ts): the browser
 * kernel's counterpart of kernel/ts/node.ts. Cells run in this module Web Worker's global scope
 * (indirect eval, named cell-N.ts for tracebacks); values print with Node's util.inspect
 * (node-inspect-extracted), so results read as in the Node kernel; `console.*` goes to the
 * cell's streams; the compiler runs in this worker (compile.ts, every loop body calling the
 * interrupt check), the language service in a worker of its own. The engine and the widgets are
 * bundled with the kernel; Node's modules give an error naming what to use in a browser.
 */
import { format, inspect } from "node-inspect-extracted";
import * as engine from "../../../engine/index.ts";
import * as widgets from "../../../widgets/index.ts";
import { catchingSyntaxErrors, compileCell, compileModule, completeness } from "../../../kernel/ts/compile.ts";
import { PRELOADED_PACKAGES } from "../../../kernel/ts/globals.ts";
import { LanguageClient } from "../../../kernel/ts/language-worker.ts";
import type { CellCompiler, Platform } from "../../../kernel/ts/platform.ts";
import { WorkerHelper } from "./rpc.ts";
import { loadTypeScript } from "./tsapi.ts";
import typescriptPackage from "typescript/package.json";

/** The global function every compiled loop body calls first (see interrupt.ts). */
export const LOOP_GUARD = "__gradbookTick";

/** Node's built-in modules, with what a browser offers instead. */
const NODE_MODULES: Record<string, string> = {
  fs: "the browser kernel has no file system: read files on the site with `await (await fetch(url)).text()` (or .arrayBuffer()), the datasets with gb.datasets.*; show results with display(...)",
  "fs/promises": "the browser kernel has no file system: read files on the site with `await (await fetch(url)).text()` (or .arrayBuffer()), the datasets with gb.datasets.*",
  path: "use `new URL(relative, base)` for paths of files on the site",
  os: "navigator.hardwareConcurrency gives the number of cores (gb.getNumThreads() the threads the engine uses)",
  child_process: "a browser cannot start programs",
  worker_threads: "the engine's CPU threads are Web Workers here already (gb.setNumThreads(n))",
  http: "use fetch(url)",
  https: "use fetch(url)",
  net: "use fetch(url) or a WebSocket",
  crypto: "use globalThis.crypto (Web Crypto: crypto.getRandomValues, crypto.subtle)",
  zlib: "use CompressionStream / DecompressionStream",
  buffer: "use Uint8Array, TextEncoder and TextDecoder",
  util: "console.log formats values as Node's util.inspect does; display(x) shows rich output",
  vm: "a cell's code runs in the kernel's global scope already",
  process: "a browser has no process (no environment variables, no exit)",
  stream: "use the Streams API (ReadableStream, WritableStream)",
  url: "URL and URLSearchParams are globals",
  events: "use EventTarget",
  readline: "use `await input(prompt)`",
  assert: "use the preloaded assert, assertEqual, assertClose and assertThrows",
  module: "modules of the notebook are cells tagged /** @module name */",
  timers: "setTimeout and setInterval are globals",
  perf_hooks: "performance.now() is a global",
};

function nodeModuleName(spec: string): string | null {
  const name = spec.startsWith("node:") ? spec.slice(5) : spec;
  return spec.startsWith("node:") || name in NODE_MODULES ? name : null;
}

/** The error for `import` or `require` of a Node module or an npm package in the browser kernel. */
export function moduleError(spec: string): Error {
  const node = nodeModuleName(spec);
  if (node !== null) {
    const instead = NODE_MODULES[node] ?? "look for a Web API that does the same";
    return new Error(`"${spec}" is a Node.js module, which the browser kernel does not have: ${instead}.`);
  }
  return new Error(`"${spec}" cannot be imported in the browser kernel: npm packages other than ${PRELOADED_PACKAGES.join(", ")} are not installed here. An ES module can be imported by its full URL (import x from "https://...") when its server allows it.`);
}

/** Specifiers served synchronously: the preloaded packages, and Node's modules (their error is thrown at once). */
export function isSyncSpecifier(spec: string): boolean {
  return PRELOADED_PACKAGES.includes(spec) || nodeModuleName(spec) !== null;
}

const isUrl = (spec: string) => /^(https?:|blob:|data:)/.test(spec);

/** The compiler in this worker: loaded once the kernel is connected (as Node's compiler thread), cells compiled with the loop guard. */
class WorkerCompiler implements CellCompiler {
  start(): Promise<unknown> {
    return loadTypeScript().then(() => compileCell("0", "warmup.ts", isSyncSpecifier, false, LOOP_GUARD));
  }
  async compile(code: string, fileName: string, jsx = false) {
    await loadTypeScript();
    return catchingSyntaxErrors(() => compileCell(code, fileName, isSyncSpecifier, jsx, LOOP_GUARD));
  }
  async compileModule(code: string, fileName: string, jsx = false) {
    await loadTypeScript();
    return catchingSyntaxErrors(() => compileModule(code, fileName, jsx, LOOP_GUARD));
  }
  async completeness(code: string) {
    await loadTypeScript();
    return completeness(code);
  }
}

/** The browser's name and version (for the banner and tslab.versions). */
function browserRuntime(): { name: string; version: string } {
  const ua = (navigator as Navigator & { userAgentData?: { brands: { brand: string; version: string }[] } }).userAgentData;
  const brand = ua?.brands.find((b) => !/not.a.brand/i.test(b.brand) && b.brand !== "Chromium") ?? ua?.brands.find((b) => b.brand === "Chromium");
  if (brand) return { name: brand.brand, version: brand.version };
  const m = /(Firefox|Chrome|Version)\/([\d.]+)/.exec(navigator.userAgent);
  return m ? { name: m[1] === "Version" ? "Safari" : m[1], version: m[2] } : { name: "a browser", version: "" };
}

/**
 * The Platform of the kernel's Web Worker. `languageEnvUrl`: the build's file of declarations
 * and lib files the language service reads.
 */
export function browserPlatform(log: (text: string) => void, languageEnvUrl: string): Platform {
  const languageWorker = new Worker(new URL("./language.worker.ts", import.meta.url), { type: "module", name: "gradbook-language" });
  const helper = new WorkerHelper(languageWorker, "language service", log);
  void helper.call("configure", languageEnvUrl);
  return {
    compiler: new WorkerCompiler(),
    language: new LanguageClient(helper, log),
    formatText: (value) => inspect(value, { depth: 4, colors: false, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100 }),
    script(js, fileName) {
      // indirect eval: the global scope, as vm's runInThisContext; the name for stack traces
      const source = `${js}\n//# sourceURL=${fileName}`;
      return () => (0, eval)(source);
    },
    captureOutput(write, uncaught) {
      const to = (name: "stdout" | "stderr") => (...args: unknown[]) => write(name, format(...args) + "\n");
      for (const m of ["log", "info", "debug"] as const) console[m] = to("stdout");
      for (const m of ["error", "warn", "trace"] as const) console[m] = to("stderr");
      self.addEventListener("unhandledrejection", (e) => {
        e.preventDefault();
        uncaught("Unhandled promise rejection", e.reason);
      });
      self.addEventListener("error", (e) => {
        e.preventDefault();
        uncaught("Uncaught exception", e.error ?? e.message);
      });
    },
    isSyncSpecifier,
    importModule: (spec) => (isUrl(spec) ? import(/* webpackIgnore: true */ spec) : Promise.reject(moduleError(spec))),
    requireModule: (spec) => {
      throw moduleError(spec);
    },
    moduleNames: (prefix) => PRELOADED_PACKAGES.filter((p) => p.startsWith(prefix)),
    isProxy: () => false,
    loadEngine: async () => engine,
    loadWidgets: async () => widgets,
    runtime: browserRuntime(),
    typescriptVersion: typescriptPackage.version,
    // the bundle's own frames (the kernel, the engine, the widgets) stay out of tracebacks
    internalFrames: /\/build\/[\w.-]+\.js/,
    memory: () => ({ heap: (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0 }),
  };
}
