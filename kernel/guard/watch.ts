/**
 * The memory watcher, in the protocol worker. While a request runs it looks every 50 ms at what
 * costs the main thread nothing: the process's private memory (VmData in /proc/self/status:
 * array buffers count in it from their allocation, written or not, and so do the JS heaps and
 * WASM memories) and the JS heap (the inspector's Runtime.getHeapUsage, which runs no
 * JavaScript). When these say the limit may be passed, it asks the main thread for the exact
 * figures after a full collection (the sampler of guard/memory.ts, called through the inspector,
 * which reaches the thread even inside a busy loop) and stops the cell if it is over. And at any
 * time it ends the kernel, with a death report, when the process's resident memory passes the
 * hard limit.
 *
 * Why not call the sampler every 50 ms: JavaScript run by the inspector inside a busy cell can
 * swallow a termination that arrives meanwhile (an interrupt's), measured as interrupts that
 * took the 1.5 s fallback instead of 30 ms when sampling often.
 *
 * Without the inspector (Node's permission model, as the grader runs kernels, refuses it) the
 * watcher is blind to the main thread: it adds the growth of the resident memory since the request
 * started to the memory in use then (which the main thread wrote) and stops the cell when that
 * passes the limit. Resident, not VmData: garbage array buffers not yet collected are reserved
 * but mostly not written. The MemoryError's figures are then measured, after a collection.
 */
import { readFileSync } from "node:fs";
import { Session } from "node:inspector";
import { SAMPLER_EXPRESSION, StopState, heapCap, inUse, type Sample } from "./memory.ts";

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
  /** A figure to keep for a death report (the memory measured while a cell ran). */
  note(used: number): void;
  log(text: string): void;
}

const BUSY_MS = 50;
/** A cell is stopped only if it grew the memory by more than this since it started (it may free memory while over the limit). */
const GROWTH_SLACK = 16 * 2 ** 20;
const slack = (of: number) => Math.max(GROWTH_SLACK, 0.02 * of);

/** The process's private writable memory (Linux), else its resident memory. */
function privateBytes(): number {
  try {
    const m = /VmData:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "latin1"));
    if (m) return Number(m[1]) * 1024;
  } catch {}
  return process.memoryUsage.rss();
}

export class MemoryWatch {
  private session: Session | null = null;
  private sampler: string | null = null;
  private busy = false;
  private stopped = false;
  private ticking = false;
  /** The last exact figures and the private memory then: growth since is an upper bound of theirs. */
  private anchor: { sample: Sample; private: number } | null = null;
  /** The least memory (in use, JS heap) seen since the request started: growth is measured from it. */
  private least: { used: number; heap: number } | null = null;
  /** Requests ended so far. */
  private ends = 0;
  /** No forced collection before this time unless memory keeps growing (they cost: at most a fifth of the time of a cell that churns near the limit). */
  private nextCollect = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** No inspector (the permission model): the resident memory when the request started. */
  private blind: { rss: number } | null = null;

  constructor(private o: WatchOptions) {
    this.timer = setInterval(() => this.tick(), BUSY_MS);
    this.timer.unref();
    // the first figures, while no cell runs
    if (o.limit !== null) this.sample(0).catch(() => undefined);
  }

  /** A request started on the main thread. */
  started(): void {
    this.busy = true;
    this.stopped = false;
    if (this.blind) this.blind.rss = process.memoryUsage.rss();
  }

  /**
   * The request ended: the memory now is the next one's starting point. (Also when the sample
   * comes back after the next request started, as it does under load: it was asked for first. A
   * cell that kept a large variable and was stopped would otherwise be measured against the
   * memory before it, and the next cell stopped at once.)
   */
  ended(): void {
    this.busy = false;
    this.stopped = false;
    // (the ended request's least figures are not the next one's: until this sample comes back,
    // the next request measures its growth from the least it sees itself)
    this.least = null;
    if (this.o.limit === null || this.blind) return;
    const end = ++this.ends;
    this.sample(0).then(
      (s) => {
        if (s && end === this.ends) this.least = { used: inUse(s), heap: s[0] };
      },
      () => undefined,
    );
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    try {
      this.session?.disconnect();
    } catch {}
  }

  private async tick(): Promise<void> {
    const { hard, limit } = this.o;
    if (hard !== null) {
      // apart from the rest, which waits for the main thread (not answered inside one long native call)
      const rss = process.memoryUsage.rss();
      if (rss > hard && !this.closed) return this.o.hardLimit(rss);
    }
    if (limit === null || !this.busy || this.stopped || this.ticking) return;
    if (this.blind) {
      const growth = process.memoryUsage.rss() - this.blind.rss;
      const used = this.o.stop.baseline() + Math.max(0, growth);
      if (used > limit && growth > slack(limit)) this.stopCell(1, used, 0);
      return;
    }
    this.ticking = true;
    try {
      const anchor = this.anchor;
      if (!anchor) return;
      // the JS heap near V8's own limit: stopped without a collection first (near that limit,
      // forced collections can make V8 abort)
      const heap = (await this.post<{ usedSize: number }>("Runtime.getHeapUsage", {})).usedSize;
      const cap = heapCap(anchor.sample[3]);
      // (not yet known: the request's first figures start it; `used`, its first sample's)
      const least = (this.least ??= { used: Infinity, heap });
      least.heap = Math.min(least.heap, heap);
      if (heap > cap && heap > least.heap + slack(cap)) return this.stopCell(2, inUse(anchor.sample) + heap - anchor.sample[0], heap);
      const growth = Math.max(0, privateBytes() - anchor.private);
      if (inUse(anchor.sample) + growth <= limit) return;
      // garbage counts until it is collected: the figures after a full collection, and if they are
      // over, the exact ones after a second (array buffers found dead are freed by then)
      if (Date.now() < this.nextCollect && growth < Math.max(32 * 2 ** 20, 0.1 * limit)) return;
      const t0 = Date.now();
      let s = await this.sample(1);
      const over = (x: Sample | null): x is Sample => x !== null && this.busy && !this.stopped && inUse(x) > limit && inUse(x) > Math.min(least.used, inUse(x)) + slack(limit);
      if (over(s)) s = await this.sample(2);
      this.nextCollect = Date.now() + Math.max(300, 4 * (Date.now() - t0));
      if (s) least.used = Math.min(least.used, inUse(s));
      if (over(s)) this.stopCell(1, inUse(s), s[0]);
    } catch (e) {
      if (!this.closed) this.o.log(`memory guard: ${(e as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  /** 1: over the limit, 2: the JS heap near V8's limit (both: grown since the request started, or since the least memory seen during it). */
  private stopCell(kind: 1 | 2, used: number, heap: number) {
    this.stopped = true;
    this.o.stop.request(kind, used, heap);
    this.o.interrupt();
  }

  private post<T>(method: string, params: object): Promise<T> {
    if (!this.session) {
      const session = new Session();
      try {
        session.connectToMainThread();
      } catch (e) {
        if ((e as { code?: string }).code === "ERR_ACCESS_DENIED" && !this.blind) {
          this.blind = { rss: process.memoryUsage.rss() };
          this.o.log("memory guard: no inspector (Node's permission model): the limit is watched through the resident memory");
        }
        throw e;
      }
      this.session = session;
    }
    return new Promise<T>((resolve, reject) => this.session!.post(method, params, (err, r) => (err ? reject(err) : resolve(r as T))));
  }

  /** The main thread's figures (after `collections` full collections), through its sampler; null while it is not installed. */
  private async sample(collections: 0 | 1 | 2): Promise<Sample | null> {
    if (!this.sampler) {
      const r = await this.post<{ result: { objectId?: string } }>("Runtime.evaluate", { expression: SAMPLER_EXPRESSION, objectGroup: "gradbook-guard" });
      if (!r.result.objectId) return null;
      this.sampler = r.result.objectId;
    }
    const busy = this.busy;
    let r: { result: { value?: Sample }; exceptionDetails?: unknown };
    try {
      r = await this.post("Runtime.callFunctionOn", {
        objectId: this.sampler,
        functionDeclaration: `function () { return this(${collections}); }`,
        returnByValue: true,
      });
    } catch (e) {
      r = { result: {}, exceptionDetails: e };
    }
    if (r.exceptionDetails || !Array.isArray(r.result.value)) {
      // the sampler ran into a termination meant for the cell (an interrupt) and may have taken
      // it: ask again, so that the cell stops
      if (busy && this.busy && !this.closed) this.o.interrupt();
      return null;
    }
    const s = r.result.value;
    this.anchor = { sample: s, private: privateBytes() };
    this.o.note(inUse(s));
    return s;
  }
}
