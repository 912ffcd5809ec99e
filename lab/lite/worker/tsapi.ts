/**
 * The TypeScript compiler API in the browser kernel's workers: the lite bundle puts this module
 * in place of kernel/ts/tsapi.ts (Node's loader, with V8's code cache) for compile.ts and
 * language.ts. The compiler is its own chunk, loaded by `loadTypeScript()` on first use.
 */
import type * as TS from "typescript";

let mod: typeof TS | null = null;
let loading: Promise<typeof TS> | null = null;

/** Loads the compiler (a chunk of about 3.5 MB) once. */
export function loadTypeScript(): Promise<typeof TS> {
  loading ??= import(/* webpackChunkName: "typescript" */ "typescript").then((m: any) => (mod = (m.default ?? m) as typeof TS));
  return loading;
}

/** The compiler, once `loadTypeScript()` resolved. */
export function ts(): typeof TS {
  if (!mod) throw new Error("the TypeScript compiler is still loading");
  return mod;
}

/** (Node's kernel keeps V8's code cache of the compiler; a browser has its own caches.) */
export function saveTypeScriptCodeCache(): void {}
