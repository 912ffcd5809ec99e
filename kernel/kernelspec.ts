/** Writes the gradbook kernelspec (kernel.json and logos) for Jupyter. */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { execFileSync } from "node:child_process";
import { KERNEL_ENV, KERNEL_NODE_FLAGS } from "./process-settings.ts";

export interface InstallOptions {
  /** "user" (default), "sys-prefix", or an explicit prefix. */
  where: { kind: "user" } | { kind: "sys-prefix" } | { kind: "prefix"; dir: string };
  name?: string;
  displayName?: string;
  /** The package root (holding dist/kernel.js and kernel/kernelspec/). */
  root: string;
  interruptMode?: "message" | "signal";
  /** The kernel's environment (its limits: GRADBOOK_MEMORY_LIMIT and the others of kernel/guard/limits.ts). */
  env?: Record<string, string>;
}

function userDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return process.env.JUPYTER_DATA_DIR;
  if (process.platform === "darwin") return join(homedir(), "Library", "Jupyter");
  if (process.platform === "win32") return join(process.env.APPDATA ?? homedir(), "jupyter");
  return join(process.env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "jupyter");
}

/** The Python that runs `jupyter` (its shebang), else python3 on PATH. */
function jupyterPython(): string[] {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const exe = join(dir, "jupyter");
    try {
      const first = readFileSync(exe, "utf8").slice(0, 300).split("\n")[0];
      const m = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(first);
      if (m) return m[1].endsWith("/env") && m[2] ? [m[2]] : [m[1]];
    } catch {}
  }
  return [];
}

function sysPrefix(): string {
  for (const py of [...jupyterPython(), "python3", "python"]) {
    try {
      return execFileSync(py, ["-c", "import sys; print(sys.prefix)"], { encoding: "utf8" }).trim();
    } catch {}
  }
  throw new Error("--sys-prefix needs a python on PATH to find sys.prefix");
}

export function kernelSpecDir(o: InstallOptions): string {
  const name = o.name ?? "gradbook";
  switch (o.where.kind) {
    case "user":
      return join(userDataDir(), "kernels", name);
    case "sys-prefix":
      return join(sysPrefix(), "share", "jupyter", "kernels", name);
    case "prefix":
      return join(resolve(o.where.dir), "share", "jupyter", "kernels", name);
  }
}

export function kernelJson(o: InstallOptions) {
  return {
    argv: [process.execPath, ...KERNEL_NODE_FLAGS, join(o.root, "dist", "kernel.cjs"), "-f", "{connection_file}"],
    display_name: o.displayName ?? "TypeScript (gradbook)",
    language: "typescript",
    interrupt_mode: o.interruptMode ?? "message",
    env: { ...KERNEL_ENV, ...o.env },
    metadata: { debugger: false },
  };
}

export function installKernelSpec(o: InstallOptions): string {
  const dir = kernelSpecDir(o);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "kernel.json"), JSON.stringify(kernelJson(o), null, 2) + "\n");
  for (const logo of ["logo-32x32.png", "logo-64x64.png", "logo-svg.svg"]) {
    const src = join(o.root, "kernel", "kernelspec", logo);
    if (existsSync(src)) copyFileSync(src, join(dir, logo));
  }
  return dir;
}

