/**
 * The language worker on Node: a worker thread whose Notebook reads the package's declarations,
 * TypeScript's lib files and @types/node from the disk.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Notebook, type NotebookEnvironment } from "./language.ts";
import { languageHandlers, LanguageClient } from "./language-worker.ts";
import { saveTypeScriptCodeCache, ts } from "./tsapi.ts";
import { HelperThread, serve } from "./worker.ts";

/** The package root (dist/kernel.js -> ..). */
function packageRoot(): string {
  try {
    return dirname(dirname(fileURLToPath(import.meta.url)));
  } catch {
    return process.cwd();
  }
}

/** What the language service reads on Node. */
export function nodeEnvironment(cwd: string, root = packageRoot()): NotebookEnvironment {
  const t = ts();
  const packages: Record<string, string> = {};
  for (const [name, candidates] of [
    // the build's declarations first (a cold check reads them faster than the sources)
    ["gradbook", ["dist/types/engine/index.d.ts", "engine/index.ts", "dist/gradbook.d.ts"]],
    ["gradbook/widgets", ["dist/types/widgets/index.d.ts", "widgets/index.ts", "dist/widgets.d.ts"]],
  ] as const) {
    const f = candidates.map((c) => join(root, c)).find((p) => existsSync(p));
    if (f) packages[name] = f;
  }
  const gbTypes = join(root, "dist", "gb-namespace.d.ts");
  const typeRoots = [join(root, "node_modules", "@types"), join(cwd, "node_modules", "@types")].filter((p) => existsSync(p));
  return {
    packages,
    globals: existsSync(gbTypes) ? readFileSync(gbTypes, "utf8") : "",
    // no DOM lib: it doubles the cold start; @types/node has console, timers, fetch, URL, TextEncoder
    lib: ["lib.es2023.d.ts"],
    types: typeRoots.length ? ["node"] : [],
    typeRoots,
    fs: t.sys,
    defaultLibFileName: (o) => t.getDefaultLibFilePath(o),
  };
}

/** The language worker thread's body (helper.ts starts it with role "language"). */
export function runLanguageWorker(cwd: string) {
  const nb = new Notebook(cwd, nodeEnvironment(cwd));
  serve(
    languageHandlers(nb, {
      // the compiled TypeScript for the next kernels' threads (the checker's functions included)
      warmedUp: saveTypeScriptCodeCache,
      heapUsed: () => {
        (globalThis as any).gc?.();
        return process.memoryUsage().heapUsed;
      },
    }),
  );
}

/** The kernel's handle on its language worker thread. */
export function nodeLanguageClient(cwd: string, log: (s: string) => void): LanguageClient {
  return new LanguageClient(new HelperThread("language", { cwd }, log), log);
}
