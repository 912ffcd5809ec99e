/**
 * The interpreter's Platform on Node: cells run with `vm` (breakOnSigint), values print with
 * util.inspect, process.stdout/stderr and uncaught errors go to the kernel, modules resolve from
 * the notebook's folder, and the engine and widgets are the package's own bundles.
 */
import vm from "node:vm";
import { builtinModules, createRequire } from "node:module";
import { join } from "node:path";
import { inspect } from "node:util";
import type { Platform } from "./platform.ts";
import { resolveFromNotebook } from "./resolve.ts";

const PRELOADED = new Set(["gradbook", "gradbook/widgets"]);
const builtins = new Set(builtinModules);

export function nodePlatform(cwd: string): Platform {
  const notebookRequire = createRequire(join(cwd, "__notebook__.js"));
  return {
    formatText: (value) => inspect(value, { depth: 4, colors: false, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100 }),
    script(js, fileName) {
      const s = new vm.Script(js, { filename: fileName });
      return () => s.runInThisContext({ breakOnSigint: true, displayErrors: false });
    },
    captureOutput(write, uncaught) {
      const hook = (name: "stdout" | "stderr") =>
        function (chunk: any, encoding?: any, cb?: any) {
          if (typeof encoding === "function") (cb = encoding), (encoding = undefined);
          write(name, typeof chunk === "string" ? chunk : Buffer.from(chunk).toString(encoding || "utf8"));
          if (typeof cb === "function") process.nextTick(cb);
          return true;
        };
      (process.stdout as any).write = hook("stdout");
      (process.stderr as any).write = hook("stderr");
      process.on("unhandledRejection", (reason) => uncaught("Unhandled promise rejection", reason));
      process.on("uncaughtException", (err) => uncaught("Uncaught exception", err));
    },
    isSyncSpecifier: (spec) => PRELOADED.has(spec) || spec.startsWith("node:") || builtins.has(spec),
    importModule: (spec) => import(resolveFromNotebook(spec, cwd)),
    requireModule: notebookRequire,
    loadEngine: () => import("gradbook" as string),
    loadWidgets: () => import("gradbook/widgets" as string),
    runtime: { name: "Node.js", version: process.version },
    memory() {
      (globalThis as any).gc?.();
      const m = process.memoryUsage();
      return { heap: m.heapUsed, rss: m.rss };
    },
  };
}
