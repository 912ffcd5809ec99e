/**
 * The browser kernel's language service, in a Web Worker of its own (started by the kernel's
 * worker): type checks run beside the cell they check, completion and inspection never wait
 * for a running cell. The same Notebook and handlers as the Node kernel's language thread
 * (kernel/ts/language.ts, language-worker.ts); what it reads besides the cells — TypeScript's
 * lib files and the engine's and widgets' declarations — comes from one JSON file the site
 * build writes (`scripts/lite.mjs`), fetched on the first request.
 */
import type * as TS from "typescript";
import { Notebook, type NotebookEnvironment } from "../../../kernel/ts/language.ts";
import { languageHandlers } from "../../../kernel/ts/language-worker.ts";
import { serve } from "./rpc.ts";
import { loadTypeScript } from "./tsapi.ts";

/** The build's file: `files` (path → text), the declaration file of each preloaded package, the gb type namespace, the lib list. */
export interface TypeScriptEnvironmentFile {
  files: Record<string, string>;
  packages: Record<string, string>;
  globals: string;
  lib: string[];
}

/** A read-only file system over the build's files (all paths absolute, "/"-separated). */
function environment(t: typeof TS, env: TypeScriptEnvironmentFile): NotebookEnvironment {
  const files = new Map(Object.entries(env.files));
  const dirs = new Set<string>();
  for (const f of files.keys()) for (let d = f.slice(0, f.lastIndexOf("/")); d; d = d.slice(0, d.lastIndexOf("/"))) dirs.add(d);
  const strip = (d: string) => d.replace(/\/+$/, "");
  return {
    packages: env.packages,
    globals: env.globals,
    lib: env.lib,
    types: [],
    typeRoots: [],
    fs: {
      fileExists: (f) => files.has(f),
      readFile: (f) => files.get(f),
      directoryExists: (d) => dirs.has(strip(d)),
      getDirectories: (d) => [...dirs].filter((x) => x.startsWith(strip(d) + "/") && !x.slice(strip(d).length + 1).includes("/")).map((x) => x.slice(x.lastIndexOf("/") + 1)),
      readDirectory: (d, extensions) => [...files.keys()].filter((f) => f.startsWith(strip(d) + "/") && (!extensions || extensions.some((e) => f.endsWith(e)))),
      realpath: (p) => p,
    },
    defaultLibFileName: (o) => `/typescript/lib/${t.getDefaultLibFileName(o)}`,
  };
}

let handlers: Promise<Record<string, (...args: any[]) => unknown>> | null = null;

/** The Notebook's handlers, once the compiler and the build's files are loaded. */
function ready(envUrl: string): Promise<Record<string, (...args: any[]) => unknown>> {
  handlers ??= (async () => {
    const [t, res] = await Promise.all([loadTypeScript(), fetch(envUrl)]);
    if (!res.ok) throw new Error(`the language service's files could not be loaded (${envUrl}: HTTP ${res.status})`);
    const nb = new Notebook("/notebook", environment(t, (await res.json()) as TypeScriptEnvironmentFile));
    const memory = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory;
    return languageHandlers(nb, { heapUsed: () => memory?.usedJSHeapSize ?? 0 });
  })();
  return handlers;
}

let envUrl = "";
const names = ["check", "commit", "addModule", "complete", "inspect", "warmup", "memory"];
serve({
  /** The first request: where the build's file is. */
  configure: (url: string) => void (envUrl = url),
  ...Object.fromEntries(names.map((name) => [name, async (...args: unknown[]) => (await ready(envUrl))[name](...args)])),
});
