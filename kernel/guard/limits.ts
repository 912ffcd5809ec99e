/**
 * The kernel's limits, read once at start from the environment (a kernelspec's `env`, or the
 * grader's): memory (soft: the cell is stopped; hard: the kernel ends with a death report),
 * output per cell and per rich output, GPU memory. Sizes are `512M`, `2G`, `1.5GiB`, a number
 * of bytes, or `75%` of the memory available to the kernel (its cgroup's limit, else the
 * machine's); `off` turns a limit off.
 */
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";

export interface Limit {
  /** Bytes (for the output limits: characters); null when off. */
  bytes: number | null;
  /** Where it came from, for messages: "GRADBOOK_MEMORY_LIMIT=512M" or "default: 75% of 23.5 GiB (physical memory)". */
  source: string;
}

export interface KernelLimits {
  /** The memory guard: JS heap + array buffers + WASM memory; a cell that passes it is stopped. */
  memory: Limit;
  /** Resident memory of the whole process past which the kernel ends itself (with a death report). */
  memoryHard: Limit;
  /** Stream output (stdout + stderr) of one cell, in characters. */
  stream: Limit;
  /** One rich output (display_data, execute_result), in characters of its JSON. */
  display: Limit;
  /** GPU memory tensors may hold. */
  gpu: Limit;
  /** What the defaults are shares of. */
  available: { bytes: number; what: string };
  /** Keep a death record and report a previous kernel's death at the next start (GRADBOOK_DEATH_REPORT=off: not; the grader knows its kernels' deaths itself). */
  deathReport: boolean;
  /** The kernel runs under the grader (GRADBOOK_GRADING=1), which sets the limits: messages say so. */
  grading: boolean;
  /** Settings that could not be read (their defaults are used), for the first cell's output. */
  problems: string[];
}

export const ENV = {
  memory: "GRADBOOK_MEMORY_LIMIT",
  memoryHard: "GRADBOOK_MEMORY_HARD_LIMIT",
  stream: "GRADBOOK_OUTPUT_LIMIT",
  display: "GRADBOOK_DISPLAY_LIMIT",
  gpu: "GRADBOOK_GPU_MEMORY_LIMIT",
} as const;

const DEFAULTS: Record<keyof typeof ENV, string> = {
  memory: "75%",
  memoryHard: "90%",
  stream: "5M",
  display: "20M",
  gpu: "off",
};

const UNITS: Record<string, number> = { "": 1, b: 1, k: 2 ** 10, kb: 2 ** 10, kib: 2 ** 10, m: 2 ** 20, mb: 2 ** 20, mib: 2 ** 20, g: 2 ** 30, gb: 2 ** 30, gib: 2 ** 30, t: 2 ** 40, tb: 2 ** 40, tib: 2 ** 40 };

/** `512M` → bytes (binary units), `75%` → that share of `available`, `off`/`none`/`0` → null. Throws on anything else. */
export function parseSize(text: string, available: number): number | null {
  const s = text.trim().toLowerCase();
  if (s === "off" || s === "none" || s === "0" || s === "") return null;
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(s);
  if (pct) {
    const p = Number(pct[1]);
    if (!(p > 0 && p <= 100)) throw new Error(`${text}: a share must be between 0 and 100%`);
    return Math.floor((available * p) / 100);
  }
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(s);
  if (!m || !(m[2] in UNITS)) throw new Error(`${JSON.stringify(text)} is not a size (examples: 512M, 2G, 1.5GiB, 75%, off)`);
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]]);
  return bytes > 0 ? bytes : null;
}

export function formatBytes(n: number): string {
  const a = Math.abs(n);
  if (a >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (a >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (a >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

/** The control group's memory limit (v2 memory.max, v1 memory.limit_in_bytes) on the way to the root, the smallest; null if none. */
export function cgroupMemoryLimit(): number | null {
  let text: string;
  try {
    text = readFileSync("/proc/self/cgroup", "utf8");
  } catch {
    return null;
  }
  let best: number | null = null;
  const consider = (file: string) => {
    try {
      const v = readFileSync(file, "utf8").trim();
      if (v === "max") return;
      const n = Number(v);
      // v1 writes "no limit" as a huge number (a page count below 2^63)
      if (Number.isFinite(n) && n > 0 && n < 2 ** 60) best = best === null ? n : Math.min(best, n);
    } catch {}
  };
  for (const line of text.split("\n")) {
    const [, controllers, path] = line.split(":");
    if (path === undefined) continue;
    const [root, file] = controllers === "" ? ["/sys/fs/cgroup", "memory.max"] : controllers.split(",").includes("memory") ? ["/sys/fs/cgroup/memory", "memory.limit_in_bytes"] : [null, null];
    if (!root) continue;
    // inside a container the group's own folder is often mounted as the root
    consider(`${root}/${file}`);
    const parts = path.split("/").filter(Boolean);
    for (let i = parts.length; i > 0; i--) consider(`${root}/${parts.slice(0, i).join("/")}/${file}`);
  }
  return best;
}

export function availableMemory(): { bytes: number; what: string } {
  const physical = totalmem();
  const cg = cgroupMemoryLimit();
  return cg !== null && cg < physical ? { bytes: cg, what: "the control group's memory limit" } : { bytes: physical, what: "physical memory" };
}

export function readLimits(env: NodeJS.ProcessEnv = process.env, available = availableMemory()): KernelLimits {
  const problems: string[] = [];
  const one = (key: keyof typeof ENV): Limit => {
    const name = ENV[key];
    const given = env[name];
    if (given !== undefined && given.trim() !== "") {
      try {
        return { bytes: parseSize(given, available.bytes), source: `${name}=${given}` };
      } catch (e) {
        problems.push(`${name}: ${(e as Error).message}; the default (${DEFAULTS[key]}) is used`);
      }
    }
    const d = DEFAULTS[key];
    return { bytes: parseSize(d, available.bytes), source: d.endsWith("%") ? `default: ${d} of ${formatBytes(available.bytes)} (${available.what})` : `default: ${d}` };
  };
  const death = (env.GRADBOOK_DEATH_REPORT ?? "on").trim().toLowerCase();
  if (death !== "on" && death !== "off") problems.push(`GRADBOOK_DEATH_REPORT: ${JSON.stringify(env.GRADBOOK_DEATH_REPORT)} is neither on nor off; on is used`);
  return { memory: one("memory"), memoryHard: one("memoryHard"), stream: one("stream"), display: one("display"), gpu: one("gpu"), available, deathReport: death !== "off", grading: env.GRADBOOK_GRADING === "1", problems };
}
