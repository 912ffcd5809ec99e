/** Shared set-up for the kernel tests: a hermetic Jupyter environment with the kernelspec installed. */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
export const PYTHON = "/usr/bin/python3";
export const JUPYTER = "/usr/bin/jupyter";

export interface JupyterEnv {
  dir: string;
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

export function ensureBuilt() {
  if (!existsSync(join(ROOT, "dist", "kernel.js")) || !existsSync(join(ROOT, "dist", "cli.js"))) {
    spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
  }
  if (!existsSync(join(ROOT, "dist", "kernel.js"))) throw new Error("dist/kernel.js is missing and the build failed");
}

/** A temp dir with its own JUPYTER_PATH, data, config, runtime and HOME; the kernelspec installed with --prefix. */
export function makeJupyterEnv(extraInstalls: string[][] = []): JupyterEnv {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), "gradbook-kernel-test-"));
  const prefix = join(dir, "prefix");
  for (const d of ["home", "data", "config", "runtime", "notebooks"]) mkdirSync(join(dir, d), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: join(dir, "home"),
    JUPYTER_PATH: join(prefix, "share", "jupyter"),
    JUPYTER_DATA_DIR: join(dir, "data"),
    JUPYTER_CONFIG_DIR: join(dir, "config"),
    JUPYTER_RUNTIME_DIR: join(dir, "runtime"),
    IPYTHONDIR: join(dir, "home", ".ipython"),
    JUPYTER_PLATFORM_DIRS: "1",
    PYTHONWARNINGS: "ignore",
    PYTHONDONTWRITEBYTECODE: "1",
  };
  delete env.PYTHONPATH;
  delete env.VIRTUAL_ENV;
  const gradbook = join(ROOT, "bin", "gradbook.js");
  execFileSync(process.execPath, [gradbook, "install", "--prefix", prefix], { env, stdio: "pipe" });
  for (const args of extraInstalls) execFileSync(process.execPath, [gradbook, "install", "--prefix", prefix, ...args], { env, stdio: "pipe" });
  return { dir, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as any).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** Runs a command, returns its exit code and output (never throws on a non-zero exit). */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(cmd, args, { env: opts.env, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    p.stdin.end(opts.input ?? "");
  });
}

/** Runs a Python script (Debian's python, with jupyter_client) given as text. */
export async function runPython(script: string, env: JupyterEnv, args: string[] = [], timeoutMs = 120_000) {
  const file = join(env.dir, `script-${Math.random().toString(36).slice(2)}.py`);
  writeFileSync(file, script);
  return run(PYTHON, [file, ...args], { env: env.env, cwd: join(env.dir, "notebooks"), timeoutMs });
}

export const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

/** Runs a scenario written against tests/kernel/kclient.py; returns the JSON it emitted. */
export async function runScenario<T = any>(body: string, env: JupyterEnv, timeoutMs = 120_000): Promise<T> {
  const script = `import sys; sys.path.insert(0, ${JSON.stringify(join(ROOT, "tests", "kernel"))})\nfrom kclient import *\n${body}\n`;
  const r = await runPython(script, env, [], timeoutMs);
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`scenario failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line.slice(7));
}
