/** Resolves npm packages from the notebook's folder (ESM and CommonJS), the way Node would for a file there. */
import { createRequire, builtinModules } from "node:module";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const EXTS = ["", ".js", ".mjs", ".cjs", ".json", "/index.js", "/index.mjs", "/index.cjs"];

function fileWithExt(p: string): string | null {
  for (const e of EXTS) {
    const f = p + e;
    try {
      if (statSync(f).isFile()) return f;
    } catch {}
  }
  return null;
}

function pickExport(target: unknown): string | null {
  if (typeof target === "string") return target;
  if (Array.isArray(target)) {
    for (const t of target) {
      const r = pickExport(t);
      if (r) return r;
    }
    return null;
  }
  if (target && typeof target === "object") {
    for (const cond of ["import", "node", "module", "default", "require"]) if (cond in target) {
      const r = pickExport((target as any)[cond]);
      if (r) return r;
    }
  }
  return null;
}

function resolvePackage(spec: string, from: string): string | null {
  const parts = spec.split("/");
  const name = spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  const sub = "." + spec.slice(name.length);
  for (let dir = from; ; dir = dirname(dir)) {
    const pkgDir = join(dir, "node_modules", name);
    const pj = join(pkgDir, "package.json");
    if (existsSync(pj)) {
      const pkg = JSON.parse(readFileSync(pj, "utf8"));
      if (pkg.exports !== undefined) {
        const ex = pkg.exports;
        const isMap = ex && typeof ex === "object" && !Array.isArray(ex) && Object.keys(ex).some((k) => k.startsWith("."));
        let target: string | null = null;
        if (isMap) {
          if (ex[sub] !== undefined) target = pickExport(ex[sub]);
          else
            for (const [k, v] of Object.entries(ex)) {
              const star = k.indexOf("*");
              if (star >= 0 && sub.startsWith(k.slice(0, star)) && sub.endsWith(k.slice(star + 1))) {
                const t = pickExport(v);
                if (t) target = t.replace("*", sub.slice(star, sub.length - (k.length - star - 1)));
                break;
              }
            }
        } else if (sub === ".") target = pickExport(ex);
        if (target) return resolve(pkgDir, target);
      }
      if (sub === ".") {
        const main = pkg.module && pkg.type !== "commonjs" ? pkg.module : pkg.main;
        return fileWithExt(resolve(pkgDir, main || "index.js")) ?? fileWithExt(join(pkgDir, "index"));
      }
      return fileWithExt(resolve(pkgDir, sub));
    }
    if (dirname(dir) === dir) return null;
  }
}

/** A URL or builtin name `import()` can load, for `spec` as written in a notebook in `cwd`. */
export function resolveFromNotebook(spec: string, cwd: string): string {
  if (spec.startsWith("node:") || builtinModules.includes(spec)) return spec;
  if (/^[a-z]+:/i.test(spec) && !isAbsolute(spec)) return spec; // file:, data:
  if (spec.startsWith(".") || isAbsolute(spec)) {
    const f = fileWithExt(resolve(cwd, spec));
    if (!f) throw Object.assign(new Error(`Cannot find module '${spec}' from ${cwd}`), { code: "ERR_MODULE_NOT_FOUND" });
    return pathToFileURL(f).href;
  }
  let f: string | null = null;
  try {
    f = resolvePackage(spec, cwd);
  } catch {}
  if (!f)
    try {
      f = createRequire(join(cwd, "__notebook__.js")).resolve(spec);
    } catch {}
  if (!f) throw Object.assign(new Error(`Cannot find package '${spec}' from the notebook folder ${cwd}`), { code: "ERR_MODULE_NOT_FOUND" });
  return pathToFileURL(f).href;
}
