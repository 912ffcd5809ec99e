/**
 * The benches' measuring processes: a child that answers each line of its stdin with one line of
 * JSON (the lines with its prefix; what else it prints passes through to stderr), so that a bench
 * can interleave gradbook's measurements and PyTorch's (this VM's speed moves by 20–30% between
 * seconds: figures measured one engine after the other moved their ratios as much).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";

/** Busy CPU seconds of the whole machine so far (Linux /proc/stat), or null. */
export function machineBusy(): number | null {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100;
  } catch {
    return null;
  }
}

/** A measuring process that answers one JSON line per command (lines with its prefix; other output passes through to stderr). */
export class Server {
  private readonly proc: ChildProcess;
  private readonly waiting: { res: (o: Record<string, unknown>) => void; rej: (e: Error) => void }[] = [];
  private readonly queued: Record<string, unknown>[] = [];
  private failure: Error | null = null;
  private buf = "";

  constructor(readonly name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, prefix: string) {
    this.proc = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "inherit"] });
    this.proc.stdout!.setEncoding("utf8").on("data", (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (!line.startsWith(prefix)) {
          process.stderr.write(`[${name}] ${line}\n`);
          continue;
        }
        const o = JSON.parse(line.slice(prefix.length)) as Record<string, unknown>;
        const w = this.waiting.shift();
        if (w) w.res(o);
        else this.queued.push(o);
      }
    });
    const fail = (why: string) => {
      this.failure ??= new Error(`${name}: ${why}`);
      for (const w of this.waiting.splice(0)) w.rej(this.failure);
    };
    this.proc.on("error", (e) => fail(e.message));
    this.proc.stdin!.on("error", (e) => fail(e.message)); // written to after it ended
    this.proc.on("exit", (code, sig) => fail(`exited (${sig ?? code}) before answering`));
  }

  /** The next answer (the first: the ready line). */
  next(): Promise<Record<string, unknown>> {
    const q = this.queued.shift();
    if (q) return Promise.resolve(q);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((res, rej) => this.waiting.push({ res, rej }));
  }

  /** Sends one line; its answer. */
  request(line: string): Promise<Record<string, unknown>> {
    this.proc.stdin!.write(line + "\n");
    return this.next();
  }

  /** CPU seconds the process used, all threads (Linux /proc), or null. */
  cpuSeconds(): number | null {
    try {
      const f = readFileSync(`/proc/${this.proc.pid}/stat`, "utf8");
      const v = f.slice(f.lastIndexOf(")") + 2).split(" ");
      return (Number(v[11]) + Number(v[12])) / 100; // utime + stime, in clock ticks (100 a second)
    } catch {
      return null;
    }
  }

  /** Closes its stdin (after `lastLine`, if given): it ends. */
  quit(lastLine?: string): void {
    if (this.proc.exitCode === null && !this.proc.killed) this.proc.stdin!.end(lastLine === undefined ? undefined : lastLine + "\n");
  }
}

