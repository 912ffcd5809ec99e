/**
 * The memory watcher, in the protocol worker: while a request runs it samples the main thread's
 * memory every 50 ms through the inspector (which reaches it even inside a busy loop), and asks
 * for the cell to be stopped when it crosses the limit; at any time it ends the kernel, with a
 * death report, when the whole process's resident memory passes the hard limit.
 */
import { Session } from "node:inspector";
import { SAMPLER_EXPRESSION, StopState, inUse, type Sample } from "./memory.ts";

export interface WatchOptions {
  /** Bytes the notebook's memory (heap + array buffers + WASM) may reach; null: no soft limit. */
  limit: number | null;
  /** Resident bytes of the process past which the kernel ends; null: none. */
  hard: number | null;
  stop: StopState;
  /** Stops the cell running on the main thread (as an interrupt does). */
  interrupt(): void;
  /** The hard limit was passed: the kernel must end now. */
  hardLimit(rss: number): void;
  /** A figure to keep for a death report (the largest memory seen while a cell ran). */
  note(used: number): void;
  log(text: string): void;
}

const BUSY_MS = 50;
const IDLE_MS = 1000;
/**
 * The JS heap may fill this share of V8's heap limit less its young generation (V8 aborts the
 * process when the old generation cannot grow: measured at 316 MiB used of a 348 MiB limit).
 */
const heapCap = (heapLimit: number) => 0.8 * (heapLimit - 64 * 2 ** 20);
/** A cell is stopped only if it grew the memory by more than this since it started (it may free memory while over the limit). */
const GROWTH_SLACK = 16 * 2 ** 20;

export class MemoryWatch {
  private session: Session | null = null;
  private sampler: string | null = null;
  private busy = false;
  private stopped = false;
  private ticking = false;
  /** The least memory (in use, JS heap) seen since the request started: growth is measured from it. */
  private least: { used: number; heap: number } | null = null;
  private lastCollect = 0;
  private timer: NodeJS.Timeout | null = null;
  private rssTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private o: WatchOptions) {
    this.schedule(IDLE_MS);
    // apart from the sampling, which waits for the main thread (not answered inside one long native call)
    const hard = o.hard;
    if (hard !== null) {
      this.rssTimer = setInterval(() => {
        const rss = process.memoryUsage.rss();
        if (rss > hard && !this.closed) o.hardLimit(rss);
      }, BUSY_MS);
      this.rssTimer.unref();
    }
  }

  /** A request started on the main thread. */
  started(): void {
    this.busy = true;
    this.stopped = false;
    this.schedule(BUSY_MS);
  }

  /** The request ended: the memory now is the next one's starting point. */
  ended(): void {
    this.busy = false;
    this.stopped = false;
    if (this.o.limit !== null) this.sample(false).then((s) => s && !this.busy && (this.least = { used: inUse(s), heap: s[0] }), () => undefined);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.rssTimer) clearInterval(this.rssTimer);
    try {
      this.session?.disconnect();
    } catch {}
  }

  private schedule(ms: number) {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick().finally(() => this.schedule(this.busy ? BUSY_MS : IDLE_MS)), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      if (!this.busy || this.stopped || this.o.limit === null) return;
      let s = await this.sample(false);
      if (!s) return;
      this.o.note(inUse(s));
      if (!this.over(s)) return;
      // garbage counts until it is collected: decide after a full collection (at most every 300 ms)
      if (Date.now() - this.lastCollect < 300) return;
      this.lastCollect = Date.now();
      s = await this.sample(true);
      if (!s || !this.over(s) || !this.busy || this.stopped) return;
      this.stopped = true;
      const heapNearLimit = s[0] > heapCap(s[3]);
      this.o.stop.request(heapNearLimit ? 2 : 1, inUse(s), s[0]);
      this.o.interrupt();
    } catch (e) {
      if (!this.closed) this.o.log(`memory guard: ${(e as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Over the limit, and grown since the request started or since the least memory seen during it
   * (a cell that frees memory while over the limit is not stopped).
   */
  private over(s: Sample): boolean {
    const used = inUse(s), heap = s[0];
    const least = (this.least = this.least ? { used: Math.min(this.least.used, used), heap: Math.min(this.least.heap, heap) } : { used: 0, heap: 0 });
    const limit = this.o.limit!, cap = heapCap(s[3]);
    const slack = (of: number) => Math.max(GROWTH_SLACK, 0.02 * of);
    return (used > limit && used > least.used + slack(limit)) || (heap > cap && heap > least.heap + slack(cap));
  }

  /** Calls the main thread's sampler through the inspector; null while it is not installed yet. */
  private async sample(collect: boolean): Promise<Sample | null> {
    const post = <T>(method: string, params: object) =>
      new Promise<T>((resolve, reject) => this.session!.post(method, params, (err, r) => (err ? reject(err) : resolve(r as T))));
    if (!this.session) {
      this.session = new Session();
      this.session.connectToMainThread();
    }
    if (!this.sampler) {
      const r = await post<{ result: { objectId?: string } }>("Runtime.evaluate", { expression: SAMPLER_EXPRESSION, objectGroup: "gradbook-guard" });
      if (!r.result.objectId) return null;
      this.sampler = r.result.objectId;
    }
    const r = await post<{ result: { value?: Sample }; exceptionDetails?: unknown }>("Runtime.callFunctionOn", {
      objectId: this.sampler,
      functionDeclaration: "function (collect) { return this(collect); }",
      arguments: [{ value: collect }],
      returnByValue: true,
    });
    return r.exceptionDetails || !Array.isArray(r.result.value) ? null : r.result.value;
  }
}
