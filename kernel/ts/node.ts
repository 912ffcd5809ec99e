/**
 * The interpreter's Platform on Node: cells run with `vm` (breakOnSigint), values print with
 * util.inspect, process.stdout/stderr and uncaught errors go to the kernel, modules resolve from
 * the notebook's folder, the engine and widgets are the package's own bundles, and the compiler
 * and the language service run in worker threads.
 */
import { builtinModules, createRequire } from "node:module";
import { readdirSync } from "node:fs";
import { Writable } from "node:stream";
import { dirname, join, resolve } from "node:path";
import { inspect, types } from "node:util";
import type { Platform } from "./platform.ts";
import { resolveFromNotebook } from "./resolve.ts";
import { newScript, runScript } from "../intrinsics.ts";
import { PRELOADED_PACKAGES } from "./globals.ts";
import { CompilerClient } from "./compile-worker.ts";
import type { HelperThread } from "./worker.ts";
import { nodeLanguageClient } from "./language-node.ts";
import { typescriptVersion } from "./tsapi.ts";

const sync = new Set([...PRELOADED_PACKAGES, ...builtinModules]);

/** Imports served synchronously: the preloaded packages and Node's builtins. */
export function isSyncSpecifier(spec: string): boolean {
  return sync.has(spec) || spec.startsWith("node:");
}

/** `compilerThread`: the compiler's thread, if started already (main.ts starts it early). */
export function nodePlatform(cwd: string, log: (text: string) => void, compilerThread?: HelperThread): Platform {
  const notebookRequire = createRequire(join(cwd, "__notebook__.js"));
  return {
    compiler: new CompilerClient(log, compilerThread),
    language: nodeLanguageClient(cwd, log),
    formatText: (value) => inspect(value, { depth: 4, colors: false, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100 }),
    script(js, fileName) {
      // vm.Script and runInThisContext as they were before any cell (intrinsics.ts)
      const s = newScript(js, { filename: fileName });
      return () => runScript(s, { breakOnSigint: true, displayErrors: false });
    },
    captureOutput(write, uncaught) {
      // process.stdout/stderr become plain Writables whose write() goes to the kernel: Node's own
      // pipe streams are never made (about 5 ms each at start-up)
      for (const name of ["stdout", "stderr"] as const) {
        const stream = new Writable({ write: (_chunk, _encoding, cb) => cb() });
        stream.write = function (chunk: any, encoding?: any, cb?: any) {
          if (typeof encoding === "function") (cb = encoding), (encoding = undefined);
          write(name, typeof chunk === "string" ? chunk : Buffer.from(chunk).toString(encoding || "utf8"));
          if (typeof cb === "function") process.nextTick(cb);
          return true;
        } as Writable["write"];
        Object.defineProperty(process, name, { value: stream, configurable: true, enumerable: true, writable: true });
      }
      process.on("unhandledRejection", (reason) => uncaught("Unhandled promise rejection", reason));
      process.on("uncaughtException", (err) => uncaught("Uncaught exception", err));
    },
    isSyncSpecifier,
    importModule: (spec) => import(resolveFromNotebook(spec, cwd)),
    requireModule: notebookRequire,
    loadEngine: () => import("gradbook" as string),
    loadWidgets: () => import("gradbook/widgets" as string),
    moduleNames: (prefix) => moduleNames(prefix, cwd),
    isProxy: (v) => types.isProxy(v),
    runtime: { name: "Node.js", version: process.version },
    typescriptVersion: typescriptVersion(),
    memory() {
      (globalThis as any).gc?.();
      const m = process.memoryUsage();
      return { heap: m.heapUsed, rss: m.rss };
    },
  };
}

/** Module names for an import path typed so far: files beside the notebook, or packages and builtins. */
function moduleNames(prefix: string, cwd: string): string[] {
  const entries = (dir: string) => {
    try {
      return readdirSync(dir, { withFileTypes: true });
    } catch {
      return [];
    }
  };
  if (/^\.{0,2}\//.test(prefix)) {
    const dir = prefix.slice(0, prefix.lastIndexOf("/") + 1);
    return entries(resolve(cwd, dir))
      .filter((e) => !e.name.startsWith(".") && e.name !== "node_modules" && (e.isDirectory() || /\.(m?[jt]sx?|cjs|json)$/.test(e.name)))
      .map((e) => dir + e.name + (e.isDirectory() ? "/" : ""));
  }
  const builtins = builtinModules.filter((m) => !m.startsWith("_"));
  if (prefix.startsWith("node:")) return builtins.map((m) => `node:${m}`);
  const names = [...PRELOADED_PACKAGES, ...builtins, ...builtins.map((m) => `node:${m}`)];
  for (let dir = cwd; ; dir = dirname(dir)) {
    for (const e of entries(join(dir, "node_modules"))) {
      if (e.name.startsWith(".")) continue;
      // a scope's folder only where the prefix may name a package in it
      if (!e.name.startsWith("@")) names.push(e.name);
      else if (e.name.startsWith(prefix) || prefix.startsWith(e.name + "/")) names.push(...entries(join(dir, "node_modules", e.name)).map((s) => `${e.name}/${s.name}`));
    }
    if (dirname(dir) === dir) break;
  }
  return names;
}
