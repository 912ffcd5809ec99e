/**
 * The death report. A kernel can die where nothing of it can speak (SIGKILL from the
 * out-of-memory killer, V8 aborting at its heap limit, a native crash): so it keeps a small
 * record beside its connection file — the cell running, the memory seen — and asks Node for a
 * diagnostic report on a fatal error. A clean shutdown removes them; the next kernel started
 * with the same connection file (a restart) finds them and says in its first cell's output
 * that the previous kernel died, while running what, and why.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { formatBytes } from "./limits.ts";

export interface DeathFiles {
  /** The record (JSON), rewritten as cells start and end. */
  record: string;
  /** Where Node writes its diagnostic report on a fatal error. */
  fatalDir: string;
  fatalName: string;
}

interface Record {
  pid: number;
  started: string;
  /** The cell running (execute_input), or null between cells. */
  cell: { count: number; code: string; since: string } | null;
  /** The largest memory the guard saw while cells ran, and its limit. */
  memory: { used: number; limit: number | null } | null;
  /** Why the kernel ended itself (the hard limit), when it did. */
  reason: string | null;
  /** The control group's count of out-of-memory kills at start. */
  oomKills: number | null;
}

/** Files beside the connection file (where the next kernel of this notebook will look), else in the temp folder. */
export function deathFiles(connectionFile: string): DeathFiles {
  const base = basename(connectionFile).replace(/\.json$/, "");
  let dir = dirname(connectionFile);
  try {
    const probe = join(dir, `.${base}.gradbook-probe`);
    writeFileSync(probe, "");
    rmSync(probe);
  } catch {
    // (node:crypto loaded here only: loading it took the kernel's start 3-10 ms before the protocol worker's bind)
    const { createHash } = createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto");
    dir = join(tmpdir(), `gradbook-${createHash("sha256").update(connectionFile).digest("hex").slice(0, 16)}`);
  }
  return { record: join(dir, `${base}.gradbook-state.json`), fatalDir: dir, fatalName: `${base}.gradbook-fatal.json` };
}

/** The count of out-of-memory kills in this process's control group (v2 memory.events, v1 memory.oom_control), or null. */
export function oomKills(): number | null {
  try {
    const lines = readFileSync("/proc/self/cgroup", "utf8").split("\n");
    for (const line of lines) {
      const [, controllers, path] = line.split(":");
      if (path === undefined) continue;
      const file = controllers === "" ? `/sys/fs/cgroup${path}/memory.events` : controllers.split(",").includes("memory") ? `/sys/fs/cgroup/memory${path}/memory.oom_control` : null;
      if (!file) continue;
      for (const f of [file, file.replace(path, "")]) {
        try {
          const m = /^oom_kill (\d+)$/m.exec(readFileSync(f, "utf8"));
          if (m) return Number(m[1]);
        } catch {}
      }
    }
  } catch {}
  return null;
}

/**
 * At start (main thread): what became of the previous kernel of this connection file, as a notice
 * for the first cell (null when it shut down cleanly, or there was none); removes its files.
 */
export function takePreviousDeath(files: DeathFiles): string | null {
  let rec: Record | null = null;
  let fatal: any = null;
  const fatalPath = join(files.fatalDir, files.fatalName);
  try {
    rec = JSON.parse(readFileSync(files.record, "utf8"));
  } catch {}
  try {
    fatal = JSON.parse(readFileSync(fatalPath, "utf8"));
  } catch {}
  rmSync(files.record, { force: true });
  rmSync(fatalPath, { force: true });
  if (!rec && !fatal) return null;
  if (rec && rec.pid === process.pid) return null;

  let why: string;
  if (rec?.reason) why = rec.reason;
  else if (fatal?.header?.event) {
    const stack = Array.isArray(fatal.javascriptStack?.stack) ? fatal.javascriptStack.stack.filter((l: string) => /cell-\d+\.ts/.test(l)).slice(0, 3) : [];
    why = `it crashed: ${fatal.header.event}${/heap out of memory/i.test(fatal.header.event) ? ` (V8's heap limit is ${formatBytes(fatal.javascriptHeap?.memoryLimit ?? 0)})` : ""}${stack.length ? ` at ${stack.join(" ← ")}` : ""}`;
  } else {
    const kills = oomKills();
    why =
      rec?.oomKills != null && kills != null && kills > rec.oomKills
        ? "the system's out-of-memory killer ended it (its control group's oom_kill count went up)"
        : "it ended without a word: it was killed (SIGKILL: the out-of-memory killer, or a forced restart) or it crashed in native code";
  }
  const cell = rec?.cell;
  const what = cell ? `while running In[${cell.count}] (${oneLine(cell.code)})` : rec ? "while no cell was running" : "";
  const mem = rec?.memory && !rec.reason ? ` The most memory seen while cells ran: ${formatBytes(rec.memory.used)}${rec.memory.limit ? ` (limit ${formatBytes(rec.memory.limit)})` : ""}.` : "";
  return `The previous kernel of this notebook died ${what}: ${why}.${mem} Its variables are gone: run the cells you need again.`.replace(/ {2,}/g, " ");
}

function oneLine(code: string): string {
  const s = code.replace(/\s+/g, " ").trim();
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/**
 * The record of this kernel, kept by the protocol worker (it sees every cell start and end, and
 * keeps running while the main thread is busy).
 */
export class DeathRecord {
  private rec: Record;
  private noted = 0;

  constructor(private files: DeathFiles, limit: number | null) {
    this.rec = { pid: process.pid, started: new Date().toISOString(), cell: null, memory: limit === null ? null : { used: 0, limit }, reason: null, oomKills: oomKills() };
    this.write();
  }

  cellStarted(count: number, code: string): void {
    this.rec.cell = { count, code: code.length > 2000 ? `${code.slice(0, 2000)}...` : code, since: new Date().toISOString() };
    this.write();
  }

  cellEnded(): void {
    if (!this.rec.cell) return;
    this.rec.cell = null;
    this.write();
  }

  /** The memory the guard measured; written when it passes the largest seen by a tenth. */
  note(used: number): void {
    if (!this.rec.memory || used <= this.noted * 1.1) return;
    this.noted = used;
    if (used > this.rec.memory.used) this.rec.memory.used = used;
    this.write();
  }

  /** The kernel is ending itself for `reason`. */
  dying(reason: string): void {
    this.rec.reason = reason;
    this.write();
  }

  /** A clean shutdown: nothing to report. */
  clean(): void {
    rmSync(this.files.record, { force: true });
  }

  get cell() {
    return this.rec.cell;
  }

  private write() {
    try {
      const tmp = `${this.files.record}.tmp`;
      writeFileSync(tmp, JSON.stringify(this.rec), { mode: 0o600 });
      renameSync(tmp, this.files.record);
    } catch {}
  }
}

/** Writes why the kernel is ending into its record (from the main thread, when the protocol worker failed). */
export function recordDeath(files: DeathFiles, reason: string): void {
  try {
    const rec = JSON.parse(readFileSync(files.record, "utf8")) as Record;
    rec.reason = reason;
    writeFileSync(files.record, JSON.stringify(rec), { mode: 0o600 });
  } catch {}
}

/** Asks Node for a diagnostic report (the fatal error, the JavaScript stack, the heap) when V8 or Node aborts. */
export function reportFatalErrors(files: DeathFiles): void {
  try {
    const report = process.report as NodeJS.ProcessReport & { excludeNetwork?: boolean };
    report.directory = files.fatalDir;
    report.filename = files.fatalName;
    report.reportOnFatalError = true;
    report.excludeNetwork = true;
  } catch {}
}
