/**
 * The TypeScript compiler API, loaded on first use (never at start-up) in the threads that need
 * it: the compiler thread and the language service. Loading typescript.js (9 MB) costs about
 * 250 ms of CPU; with V8's code cache of it (dist/typescript.v8cache, written by the language
 * service after its warm-up, reused by later kernels) about half.
 */
import type * as TS from "typescript";
import vm from "node:vm";
import { createRequire } from "node:module";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

let mod: typeof TS | null = null;
let script: vm.Script | null = null;
let cacheUsed = false;

const cacheFile = () => fileURLToPath(new URL("typescript.v8cache", import.meta.url));

/** The version of the installed compiler (its package.json: typescript.js is not loaded for it). */
export const typescriptVersion = (): string => createRequire(import.meta.url)("typescript/package.json").version;

export function ts(): typeof TS {
  return (mod ??= load());
}

/** typescript.js run as CommonJS through a vm.Script, so that V8's code cache can be given and made. */
function load(): typeof TS {
  const require = createRequire(import.meta.url);
  const file = require.resolve("typescript");
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile());
  } catch {}
  script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, "utf8")}\n})`, { filename: file, cachedData });
  cacheUsed = !!cachedData && !script.cachedDataRejected;
  const module = { exports: {} as typeof TS };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}

/** Writes the code cache of the compiler as used so far, unless one was used (a failed write is fine). */
export function saveTypeScriptCodeCache(): void {
  if (!script || cacheUsed) return;
  const file = cacheFile();
  try {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, script.createCachedData());
    renameSync(tmp, file);
    cacheUsed = true;
  } catch {}
}
