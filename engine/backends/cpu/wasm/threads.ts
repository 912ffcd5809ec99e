// Worker threads for the WASM kernels (PyTorch's intra-op parallelism, in the
// shape of torch.set_num_threads / get_num_threads): GEMM (../kernels/gemm.ts),
// convolutions and their gradients (../kernels/conv*.ts). Pooling, sums and element-wise ops
// (../kernels/elementwise.ts, ../reduce.ts) use the threads only where their operands are
// resident (wasm/heap.ts): else copying in and out of the WASM memory, which only the calling
// thread can do, is most of their work (they use an instance on a private memory, runtime.ts's
// serialWasmInstance: copies into shared memory are slower).
//
// How it works:
//  - The SIMD module (module.ts) is instantiated on a shared WebAssembly.Memory;
//    each worker instantiates the same compiled module on that memory, so a
//    kernel call (e.g. `cblock` over some column panels) gives the same result
//    whichever thread makes it.
//  - A kernel describes its heavy part as a TaskList: tasks, each a sequence of
//    calls of WASM exports with integer arguments. Every output element is
//    written by exactly one task, with the same calls in the same order as the
//    single-threaded code, so results are bit-identical for any thread count.
//  - runTasks() writes the list into the WASM memory, wakes the workers, and
//    the calling thread claims tasks from the same atomic counter as the
//    workers (dynamic scheduling: a worker that is slow to start or descheduled
//    by other load just takes fewer tasks). It then waits for the tasks that
//    workers claimed. Ops stay synchronous.
//  - Idle threads poll a while (then nap, where setThreadNap turned naps on)
//    before they sleep in Atomics.wait (setThreadSpin: 100 us between the jobs
//    of a pipelined op, an eighth of it after other
//    jobs): waking a sleeper costs tens of microseconds, and a training step
//    makes tens of jobs close together. A sleeper counts itself, so a job
//    with every worker polling costs no system call; a kernel about to stage a
//    job's operands wakes sleepers first (threadsFor), so that their wake-up
//    overlaps its copying.
//  - The operands are JavaScript arrays, which only the calling thread can copy
//    into the WASM memory: runPipelined() cuts an op into chunks, and while the
//    threads compute chunk c the caller copies chunk c + 1 in and chunk c - 1
//    out (then takes tasks too).
//  - The claim word (a 64-bit atomic) holds the task count, the next index and
//    the job's tag: a worker claims (compare-exchange) only tasks of the job it
//    entered, so a late worker never runs a task of a job that has ended, nor
//    carries a job's settings (scratch areas, memory size, thread limit) into
//    the next one.
//  - If the calling thread is stopped in the middle of a job (a Jupyter
//    interrupt terminates JavaScript, Atomics.wait included), the next job
//    closes the old one and waits for the tasks workers had claimed before it
//    touches the memory again.
//
// Where: Node (worker_threads, via process.getBuiltinModule: no static Node
// import, the engine bundle also runs in browsers) and browser workers with
// cross-origin isolation (Web Workers from a Blob URL). A browser main thread
// may not block in Atomics.wait, so there the kernels stay single-threaded.
// Anything missing (no SharedArrayBuffer, a worker that cannot start, Node's
// permission model without --allow-worker) means one thread, silently.
// Workers are unref'd: they never keep Node alive.

import { SIMD_EXPORTS } from "./module.ts";
import { routeNative } from "../native/loader.ts";

const FN_NAMES: readonly string[] = SIMD_EXPORTS;
/** The exports a task may call, by index. */
export const FN = Object.fromEntries(SIMD_EXPORTS.map((n, i) => [n, i])) as Record<FnName, number>;
export type FnName = (typeof SIMD_EXPORTS)[number];

/** What runTasks needs of the instantiated SIMD module (runtime.ts's WasmInstance has it). */
export interface TaskTarget {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  exports: Record<FnName, (...args: number[]) => void>;
  /** the native kernels its exports are routed to (../native/): each worker loads them too */
  native?: { path: string; fma: boolean } | null;
}

const ARGS = 10; // arguments per call record
const REC = ARGS + 1;
/** The claim word: the next task's index in bits 0-23, the task count in bits 24-47, the job's tag (GEN's low 16 bits) in 48-63. */
const COUNT_SHIFT = 24n;
const TAG_SHIFT = 48n;
const MAX_TASKS = 1 << 23;

// control words (Int32Array over a SharedArrayBuffer; the claim word is a BigInt64 at byte 64)
const GEN = 0; // incremented per job (workers wait on it)
const DONE = 1; // tasks completed in the current job
const ACTIVE = 2; // workers inside their claim loop
const TABLE = 3; // byte address of the task table in WASM memory
const LIMIT = 4; // workers with id < LIMIT take part
const STOP = 5; // workers exit
const ERROR = 6; // a task failed in a worker
const WORKED = 7; // tasks run by workers, in all (diagnostics, tests)
const PAGES = 8; // the size of the WASM memory in 64 KiB pages when the current job began
const CLAIM = 8; // index in the BigInt64Array view
// the first worker failure of a job: its length in UTF-16 units at MSG_LEN, the text from MSG (bytes)
const MSG_LEN = 9;
const SLEEPERS = 10; // workers asleep in Atomics.wait (the others are spinning or working: no notify needed)
const SPIN = 11; // how long an idle worker polls for the next job before it sleeps, in microseconds
const CALLER_WAITS = 12; // the caller sleeps until DONE reaches the task count (else it polls: no notify needed)
const PIPELINE = 13; // a runPipelined op is under way: its next job comes soon (idle workers poll SPIN, else SPIN / 8)
const SCRATCH = 14; // byte address of the threads' scratch areas (TaskList.scratch): thread t's is SCRATCH + t * SCRATCH_STRIDE
const SCRATCH_STRIDE = 15;
// diagnostics (threadStats): the workers' time inside jobs and their sleeps, int32 sums (read as
// differences modulo 2^32); NOTIFY_AT (a float64 at byte 96): when the caller last woke sleepers
const W_TASK_US = 18; // microseconds inside jobs, all workers
const W_SLEEPS = 19; // times a worker went to sleep
const W_WAKE_US = 20; // microseconds from the caller's notify to a sleeper's wake-up, summed
const W_WAKES = 21; // wake-ups so timed
const NAP_US = 22; // after polling, an idle thread naps: timed waits of this many microseconds (0: none), ...
const NAP_LIMIT_US = 23; // ... for this long since its last job, before it sleeps until notified
const W_NAPS = 26; // naps the workers took (diagnostics)
const W_NATIVE = 27; // workers that run the native kernels (../native/) in place of their WASM exports
const NOTIFY_AT = 12; // index in the Float64Array view: performance.timeOrigin + performance.now() of the last notify
/** A call record's first word: the export's index, and in the bits from REL_SHIFT which arguments are scratch offsets. */
const REL_SHIFT = 16;
const MSG = 128;
const MSG_UNITS = 512;
const CTL_BYTES = MSG + 2 * MSG_UNITS;

// ---------------------------------------------------------------------------
// the number of threads

function envThreads(): number | null {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const v = p?.env?.GB_NUM_THREADS;
  if (v === undefined || v === "") return null;
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 ? n : null;
}

function hardwareThreads(): number {
  const p = (globalThis as { process?: { getBuiltinModule?: (m: string) => unknown } }).process;
  try {
    const os = p?.getBuiltinModule?.("node:os") as { availableParallelism?: () => number; cpus: () => unknown[] } | undefined;
    if (os) return os.availableParallelism?.() ?? os.cpus().length;
  } catch {
    // fall through
  }
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return nav?.hardwareConcurrency ?? 1;
}

const MAX_DEFAULT = 8;
let numThreads = envThreads() ?? Math.max(1, Math.min(MAX_DEFAULT, hardwareThreads()));

/**
 * Sets the number of threads the CPU kernels use (torch.set_num_threads). 1 gives the
 * single-threaded kernels exactly; results are bit-identical for every n.
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected a positive integer, got ${n}`);
  numThreads = n;
}

/**
 * The number of threads the CPU kernels use (torch.get_num_threads): the value set, by default
 * os.availableParallelism() capped at 8 (GB_NUM_THREADS overrides it in Node); 1 where threads
 * are impossible (a browser main thread, no SharedArrayBuffer).
 */
export function getNumThreads(): number {
  return threadsSupported() ? numThreads : 1;
}

// ---------------------------------------------------------------------------
// platform

type WorkerLike = { postMessage?: (m: unknown) => void; unref?: () => void; on?: (e: string, f: (x: unknown) => void) => void; addEventListener?: (e: string, f: (x: unknown) => void) => void; terminate: () => unknown };
type Spawn = (code: string, data: unknown) => WorkerLike;

let spawner: Spawn | null | undefined;

function canBlock(): boolean {
  try {
    // throws where this thread may not wait (a browser main thread); returns "not-equal" at once otherwise
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

function findSpawner(): Spawn | null {
  if (typeof SharedArrayBuffer !== "function" || typeof Atomics !== "object" || typeof BigInt64Array !== "function") return null;
  if (!canBlock()) return null;
  const p = (globalThis as { process?: { getBuiltinModule?: (m: string) => unknown; versions?: { node?: string } } }).process;
  if (p?.versions?.node) {
    let wt: { Worker: new (code: string, opts: object) => WorkerLike } | undefined;
    try {
      wt = p.getBuiltinModule?.("node:worker_threads") as typeof wt;
    } catch {
      wt = undefined;
    }
    if (!wt) return null;
    const W = wt.Worker;
    return (code, data) => new W(code, { eval: true, workerData: data, stdout: false, stderr: false });
  }
  const g = globalThis as { Worker?: new (url: string) => WorkerLike; crossOriginIsolated?: boolean; Blob?: typeof Blob; URL?: typeof URL };
  if (typeof g.Worker === "function" && g.crossOriginIsolated === true && g.Blob && g.URL?.createObjectURL) {
    const W = g.Worker;
    let url: string | null = null;
    return (code, data) => {
      url ??= g.URL!.createObjectURL(new g.Blob!([code], { type: "text/javascript" }));
      const w = new W(url);
      w.postMessage!(data);
      return w;
    };
  }
  return null;
}

/** Whether this thread can run kernels on worker threads (shared memory, blocking waits, workers). */
export function threadsSupported(): boolean {
  if (spawner === undefined) spawner = findSpawner();
  return spawner !== null;
}

// ---------------------------------------------------------------------------
// the worker (self-contained source: a Node eval worker or a browser Blob worker)

const WORKER_SOURCE = `"use strict";
(function () {
  var NAMES = ${JSON.stringify(FN_NAMES)};
  function start(d) {
    var inst = new WebAssembly.Instance(d.module, { env: { memory: d.memory } });
    var fns = NAMES.map(function (n) { return inst.exports[n]; });
    var ctl = new Int32Array(d.ctl), claim = new BigInt64Array(d.ctl), f64 = new Float64Array(d.ctl);
    var mem = d.memory, i32 = new Int32Array(mem.buffer), id = d.id, seen = 0;
    // the native kernels in place of their WASM exports (the same bits), as on the calling thread;
    // a worker that cannot load them keeps the WASM ones
    if (d.native) {
      try {
        var lib = { exports: {} };
        process.dlopen(lib, d.native.path);
        var nat = (${routeNative.toString()})(lib.exports, d.memory, d.native.fma);
        NAMES.forEach(function (n, i) { if (nat[n]) fns[i] = nat[n]; });
        Atomics.add(ctl, ${W_NATIVE}, 1);
      } catch (e) {}
    }
    var now = typeof performance === "object" ? function () { return performance.now(); } : Date.now;
    var origin = typeof performance === "object" ? performance.timeOrigin : 0;
    for (;;) {
      var g = Atomics.load(ctl, ${GEN});
      if (g === seen) {
        // poll a while (jobs of one op, and of consecutive ops, come close together), nap if naps
        // are on, then sleep; a sleeper counts itself, so that the caller wakes it (a wake without
        // a job: poll again)
        var until = 0;
        for (var i = 1; ; i++) {
          if (Atomics.load(ctl, ${GEN}) !== seen) break;
          if ((i & 127) === 0) {
            var t = now();
            if (until === 0) until = t + Atomics.load(ctl, ${SPIN}) / (Atomics.load(ctl, ${PIPELINE}) ? 1000 : 8000);
            else if (t >= until) break;
          }
        }
        // then nap: timed waits, woken by its own timer on its own CPU (a notify from the caller got
        // a sleeper scheduled on the caller's CPU here, behind the caller: see napMicros)
        // (the settings read at each nap: setThreadNap takes effect at once)
        for (var nap; Atomics.load(ctl, ${GEN}) === seen && (nap = Atomics.load(ctl, ${NAP_US})) > 0 && now() < until + Atomics.load(ctl, ${NAP_LIMIT_US}) / 1000;) {
          Atomics.add(ctl, ${W_NAPS}, 1);
          Atomics.wait(ctl, ${GEN}, seen, nap / 1000);
        }
        if (Atomics.load(ctl, ${GEN}) === seen) {
          Atomics.add(ctl, ${W_SLEEPS}, 1);
          Atomics.add(ctl, ${SLEEPERS}, 1);
          // woken by a notify, the notifier has taken this thread off SLEEPERS (so that a second
          // notify before this thread runs again costs no system call); else it does so itself
          if (Atomics.wait(ctl, ${GEN}, seen) === "ok") {
            var late = origin + now() - f64[${NOTIFY_AT}];
            if (late >= 0 && late < 1e5) {
              Atomics.add(ctl, ${W_WAKE_US}, Math.round(late * 1000));
              Atomics.add(ctl, ${W_WAKES}, 1);
            }
          } else Atomics.sub(ctl, ${SLEEPERS}, 1);
        }
        continue;
      }
      seen = g;
      if (Atomics.load(ctl, ${STOP})) return;
      if (id >= Atomics.load(ctl, ${LIMIT})) continue;
      // a thread that does not see the memory as large as the job's caller does keeps out of it
      // (the caller runs the tasks nobody claims)
      if (mem.buffer.byteLength < Atomics.load(ctl, ${PAGES}) * 65536) continue;
      var scr = Atomics.load(ctl, ${SCRATCH}) + (id + 1) * Atomics.load(ctl, ${SCRATCH_STRIDE}), tag = BigInt(g & 0xffff);
      Atomics.add(ctl, ${ACTIVE}, 1);
      var t0 = now();
      try {
        for (;;) {
          // only tasks of the job this thread entered (its scratch, memory size and thread limit)
          var v = Atomics.load(claim, ${CLAIM});
          if (((v >> ${TAG_SHIFT}n) & 0xffffn) !== tag) break;
          var n = Number((v >> ${COUNT_SHIFT}n) & 0xffffffn), t = Number(v & 0xffffffn);
          if (t >= n) break;
          if (Atomics.compareExchange(claim, ${CLAIM}, v, v + 1n) !== v) continue;
          var tab = Atomics.load(ctl, ${TABLE}) >> 2;
          if (i32.length < tab + n + 1) i32 = new Int32Array(mem.buffer);
          var r0 = i32[tab + t], r1 = i32[tab + t + 1];
          if (i32.length < tab + n + 1 + r1 * ${REC}) i32 = new Int32Array(mem.buffer);
          try {
            for (var r = r0; r < r1; r++) {
              var p = tab + n + 1 + r * ${REC};
              var f = i32[p];
              if (f < ${1 << REL_SHIFT}) fns[f](i32[p + 1], i32[p + 2], i32[p + 3], i32[p + 4], i32[p + 5], i32[p + 6], i32[p + 7], i32[p + 8], i32[p + 9], i32[p + 10]);
              else callRel(fns, i32, p, f, scr);
            }
          } catch (e) {
            // the first failure of the job leaves its text for the caller's error
            if (Atomics.compareExchange(ctl, ${ERROR}, 0, 1) === 0) {
              var text = NAMES[i32[p] & ${(1 << REL_SHIFT) - 1}] + "(" + Array.prototype.slice.call(i32, p + 1, p + ${REC}).join(", ") + "): " + String(e && e.stack || e);
              var u16 = new Uint16Array(d.ctl, ${MSG}, ${MSG_UNITS}), k = Math.min(text.length, ${MSG_UNITS});
              for (var c = 0; c < k; c++) u16[c] = text.charCodeAt(c);
              Atomics.store(ctl, ${MSG_LEN}, k);
            }
          }
          Atomics.add(ctl, ${WORKED}, 1);
          if (Atomics.add(ctl, ${DONE}, 1) + 1 === n && Atomics.load(ctl, ${CALLER_WAITS})) Atomics.notify(ctl, ${DONE});
        }
      } finally {
        Atomics.add(ctl, ${W_TASK_US}, Math.round((now() - t0) * 1000));
        Atomics.sub(ctl, ${ACTIVE}, 1);
        Atomics.notify(ctl, ${ACTIVE});
      }
    }
  }
  ${callRel.toString()}
  if (typeof require === "function" && typeof process === "object") start(require("node:worker_threads").workerData);
  else self.onmessage = function (e) { self.onmessage = null; start(e.data); };
})();
`;

// ---------------------------------------------------------------------------
// the pool

interface Pool {
  target: TaskTarget;
  ctl: Int32Array;
  f64: Float64Array;
  claim: BigInt64Array;
  workers: WorkerLike[];
  broken: boolean;
  open: boolean; // a job was started and not finished (the caller was interrupted)
}

let pool: Pool | null = null;

function newPool(target: TaskTarget): Pool {
  const sab = new SharedArrayBuffer(CTL_BYTES);
  const ctl = new Int32Array(sab);
  ctl[SPIN] = spinMicros;
  ctl[NAP_US] = napMicros;
  ctl[NAP_LIMIT_US] = napLimitMicros;
  return { target, ctl, f64: new Float64Array(sab), claim: new BigInt64Array(sab), workers: [], broken: false, open: false };
}

/**
 * How long idle threads poll before they sleep (microseconds): a worker after a job, the caller
 * while it waits for the workers' last tasks. Waking a sleeping thread costs tens of microseconds
 * (more in a VM); a LeNet-5 step makes some 20 jobs, most of them within this of the one before
 * or of wakeThreads.
 */
let spinMicros = 100;

/** The polling time of idle threads (microseconds): 100 unless setThreadSpin changed it. */
export function threadSpin(): number {
  return spinMicros;
}

/** Sets the polling time of idle threads (microseconds; 0: sleep at once). For measurements. */
export function setThreadSpin(micros: number): void {
  spinMicros = Math.max(0, Math.round(micros));
  if (pool) Atomics.store(pool.ctl, SPIN, spinMicros);
}

/**
 * Naps (off unless set: setThreadNap, or GB_THREAD_NAP=micros[,limitMicros] in Node): after
 * polling, an idle thread (a worker between jobs, the caller waiting for the workers' last tasks)
 * makes timed waits of napMicros, for napLimitMicros (the caller: since it began to wait), and
 * only then sleeps until another thread notifies it. Why (BENCHMARKS.md, issue 18's sixth round):
 * on the project's VM at normal priority a worker woken by Atomics.notify ran on the caller's vCPU,
 * after the caller (two 1 ms halves of a job: 2.04-2.07 ms at p10), while one that woke itself from
 * a 50 us nap ran beside it (1.09-1.13 ms); but the LeNet-5 step measured slower with naps at the
 * loads of that round (each nap costs its thread ~20 us of CPU; the caller's copies beside the
 * workers slowed), and on the quiet machine after it within the runs' spread (2-thread step
 * 0.954x of PyTorch's with 50 us naps, 0.908x without, one run each): so they stay off.
 */
function envNap(): [number, number] {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.GB_THREAD_NAP;
  const [us, limit] = (v ?? "").split(",").map(Number);
  return [Number.isFinite(us) && us > 0 ? us : 0, Number.isFinite(limit) && limit > 0 ? limit : 20_000];
}
let [napMicros, napLimitMicros] = envNap();

/** Sets the naps of idle threads (microseconds; 0: none, sleep until notified after polling) and how long they last. For measurements. */
export function setThreadNap(micros: number, limitMicros = napLimitMicros): void {
  napMicros = Math.max(0, Math.round(micros));
  napLimitMicros = Math.max(0, Math.round(limitMicros));
  if (pool) {
    Atomics.store(pool.ctl, NAP_US, napMicros);
    Atomics.store(pool.ctl, NAP_LIMIT_US, napLimitMicros);
  }
}

/**
 * A hint that a job for `target` comes soon (a kernel calls it before it stages its operands):
 * sleeping workers wake now and poll, so that their wake-up overlaps the caller's copying.
 */
export function wakeThreads(target: TaskTarget): void {
  if (pool && pool.target === target && Atomics.load(pool.ctl, SLEEPERS) > 0) notifyWorkers(pool);
}

/**
 * Wakes the sleeping workers (noting when, for threadStats) and takes those it woke off SLEEPERS:
 * a notify is a system call (about 30 us measured here, a VM: the wake-up of another vCPU), and
 * a kernel may ask again (threadsFor, then runTasks) before the woken threads have run.
 */
function notifyWorkers(p: Pool): void {
  p.f64[NOTIFY_AT] = performance.timeOrigin + performance.now();
  stats.notifies++;
  const woken = Atomics.notify(p.ctl, GEN);
  if (woken > 0) Atomics.sub(p.ctl, SLEEPERS, woken);
}

/** Starts workers up to `want` (they join jobs as soon as they are up). */
function grow(p: Pool, want: number): void {
  while (!p.broken && p.workers.length < want) {
    try {
      const w = spawner!(WORKER_SOURCE, { module: p.target.module, memory: p.target.memory, ctl: p.ctl.buffer, id: p.workers.length, native: p.target.native ?? null });
      w.unref?.();
      const fail = () => {
        p.broken = true;
      };
      w.on?.("error", fail);
      w.addEventListener?.("error", fail);
      p.workers.push(w);
    } catch {
      p.broken = true;
    }
  }
}

/** Closes an interrupted job: no more claims, then waits for the tasks workers were running. */
function drain(p: Pool): void {
  Atomics.store(p.claim, CLAIM, 0n);
  for (;;) {
    const a = Atomics.load(p.ctl, ACTIVE);
    if (a <= 0) break;
    Atomics.wait(p.ctl, ACTIVE, a, 50);
  }
  p.open = false;
}

/** Stops the pool's workers (e.g. when the kernels are recompiled with another module). */
export function releasePool(): void {
  if (!pool) return;
  if (pool.open) drain(pool);
  Atomics.store(pool.ctl, STOP, 1);
  Atomics.add(pool.ctl, GEN, 1);
  Atomics.notify(pool.ctl, GEN);
  pool = null;
}

/**
 * Must be called before the WASM memory is used (any kernel): finishes what an interrupted
 * job left running in the workers.
 */
export function quiesce(): void {
  if (pool?.open) drain(pool);
}

/**
 * Threads a job would use now (1: run serially). A kernel asks just before it stages a threaded
 * job's operands, so sleeping workers are woken here (wakeThreads).
 */
export function threadsFor(target: TaskTarget): number {
  if (numThreads <= 1 || !threadsSupported()) return 1;
  if (!(target.memory.buffer instanceof SharedArrayBuffer)) return 1;
  if (pool && pool.target !== target) releasePool();
  if (pool?.broken) return 1;
  wakeThreads(target);
  return numThreads;
}

// ---------------------------------------------------------------------------
// task lists

/** Tasks, each a sequence of calls of the WASM exports (see the module comment). */
export class TaskList {
  /** call records: fn, then ARGS arguments (the first `size` of them) */
  rec = new Int32Array(REC * 64);
  size = 0;
  /** record index where each task starts */
  readonly starts: number[] = [];
  /** the threads' scratch areas: thread t (the caller is 0) has bytes [scratchPtr + t * scratchStride, + scratchStride) */
  scratchPtr = 0;
  scratchStride = 0;
  get length(): number {
    return this.starts.length;
  }
  /** Starts a new task. */
  task(): this {
    this.starts.push(this.size / REC);
    return this;
  }
  /**
   * Gives each thread a scratch area of `stride` bytes from byte `ptr` (room for getNumThreads()
   * of them): arguments marked in callIn are offsets into the area of the thread that runs the
   * call, so a task's scratch stays in its thread's cache whichever thread claims it.
   */
  scratch(ptr: number, stride: number): this {
    this.scratchPtr = ptr;
    this.scratchStride = stride;
    return this;
  }
  call(fn: FnName, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0, a8 = 0, a9 = 0): void {
    this.callIn(0, fn, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9);
  }
  /** A call whose arguments i with bit i of `rel` set are byte offsets into the scratch area of the thread that runs it. */
  callIn(rel: number, fn: FnName, a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0, a8 = 0, a9 = 0): void {
    if (this.starts.length === 0) this.task();
    if (this.size + REC > this.rec.length) {
      const r = new Int32Array(this.rec.length * 2);
      r.set(this.rec);
      this.rec = r;
    }
    const r = this.rec, p = this.size;
    r[p] = FN[fn] | (rel << REL_SHIFT);
    r[p + 1] = a0; r[p + 2] = a1; r[p + 3] = a2; r[p + 4] = a3; r[p + 5] = a4;
    r[p + 6] = a5; r[p + 7] = a6; r[p + 8] = a7; r[p + 9] = a8; r[p + 10] = a9;
    this.size = p + REC;
  }
  clear(): void {
    if (this.borrowed) {
      this.rec = new Int32Array(REC * 64);
      this.borrowed = false;
    }
    this.size = 0;
    this.starts.length = 0;
  }
  /** rec is a cached list's (reusedTasks): cleared, this list gets an array of its own */
  private borrowed = false;
  /** Makes this list `from`'s tasks (its records by reference: valid until the next reusedTasks of its key). */
  assign(from: TaskList): void {
    this.rec = from.rec;
    this.borrowed = true;
    this.size = from.size;
    this.starts.length = 0;
    for (const t of from.starts) this.starts.push(t);
    this.scratchPtr = from.scratchPtr;
    this.scratchStride = from.scratchStride;
  }
}

/** A task list kept for reuse (reusedTasks): built for `bases`, with the record words that hold an address relative to each base. */
interface KeptTasks {
  list: TaskList;
  bases: number[];
  /** per base: indices of the record words that move with it */
  words: Int32Array[];
}
const kept = new Map<string, KeptTasks>();
/** Lists kept at most (a key a kernel geometry: a training step's convolutions make a few). */
const KEPT_MAX = 64;

/**
 * Fills `into` with the tasks `build(bases, list)` makes, reusing the list built for an earlier call
 * with the same `key` (everything the records depend on but the bases: a kernel's geometry, its
 * scratch layout, the thread count): the records are the same but for the words that hold byte
 * addresses `4 * bases[i] + ...` (float indices of operands where they lie: resident tensors, at
 * other addresses every step), which are moved by the bases' change. Which words those are is found
 * once, by building the list a second time with every base shifted by a different amount (a list
 * whose words move otherwise is not kept). A LeNet-5 step's threaded convolutions in place each
 * built their 32-260 records' tasks anew, 0.1-0.2 ms of the caller's alone before the job began.
 */
export function reusedTasks(key: string, bases: number[], into: TaskList, build: (bases: number[], list: TaskList) => void): void {
  const k = kept.get(key);
  if (k) {
    // (out of the map while its words move: an interrupt in the middle, a Jupyter one, leaves no half-moved list behind)
    kept.delete(key);
    const rec = k.list.rec;
    for (let b = 0; b < bases.length; b++) {
      const d = (bases[b] - k.bases[b]) * 4;
      if (d === 0) continue;
      const ws = k.words[b];
      for (let i = 0; i < ws.length; i++) rec[ws[i]] += d;
      k.bases[b] = bases[b];
    }
    kept.set(key, k);
    into.assign(k.list);
    return;
  }
  const list = new TaskList(), moved = new TaskList();
  build(bases, list);
  // each base shifted by its own power of two of floats (bytes: 4 MiB, 8 MiB, ...)
  build(bases.map((v, b) => v + (1 << (20 + b))), moved);
  const words: number[][] = bases.map(() => []);
  let ok = list.size === moved.size && list.starts.length === moved.starts.length && list.starts.every((t, i) => t === moved.starts[i]);
  for (let i = 0; ok && i < list.size; i++) {
    const d = moved.rec[i] - list.rec[i];
    if (d === 0) continue;
    const b = d > 0 && (d & (d - 1)) === 0 ? Math.log2(d) - 22 : -1;
    if (b >= 0 && b < bases.length && i % REC !== 0) words[b].push(i);
    else ok = false;
  }
  if (ok) {
    if (kept.size >= KEPT_MAX) kept.delete(kept.keys().next().value!);
    kept.set(key, { list, bases: [...bases], words: words.map((w) => Int32Array.from(w)) });
    into.assign(list);
    return;
  }
  into.clear();
  build(bases, into);
}

/** A record with scratch-relative arguments (bits REL_SHIFT.. of its first word), `scr` the running thread's area. Also in the worker's source. */
function callRel(fns: ((...a: number[]) => void)[], r: Int32Array, p: number, f: number, scr: number): void {
  const m = f >>> 16;
  fns[f & 0xffff](
    r[p + 1] + (m & 1 ? scr : 0), r[p + 2] + (m & 2 ? scr : 0), r[p + 3] + (m & 4 ? scr : 0), r[p + 4] + (m & 8 ? scr : 0), r[p + 5] + (m & 16 ? scr : 0),
    r[p + 6] + (m & 32 ? scr : 0), r[p + 7] + (m & 64 ? scr : 0), r[p + 8] + (m & 128 ? scr : 0), r[p + 9] + (m & 256 ? scr : 0), r[p + 10] + (m & 512 ? scr : 0),
  );
}

function runRecords(fns: ((...a: number[]) => void)[], rec: Int32Array, base: number, r0: number, r1: number, scr: number): void {
  for (let r = r0; r < r1; r++) {
    const p = base + r * REC, f = rec[p];
    if (f < 1 << REL_SHIFT) fns[f](rec[p + 1], rec[p + 2], rec[p + 3], rec[p + 4], rec[p + 5], rec[p + 6], rec[p + 7], rec[p + 8], rec[p + 9], rec[p + 10]);
    else callRel(fns, rec, p, f, scr);
  }
}

const fnsOf = new WeakMap<TaskTarget, ((...a: number[]) => void)[]>();
function fnList(t: TaskTarget): ((...a: number[]) => void)[] {
  let f = fnsOf.get(t);
  if (!f) {
    f = FN_NAMES.map((n) => t.exports[n as FnName]);
    fnsOf.set(t, f);
  }
  return f;
}

/**
 * Runs the tasks (on up to getNumThreads() threads, the calling one included) and returns when
 * all are done. `freeByte`: where the WASM memory is free for the task table (grown as needed).
 * `ensure(bytes)` grows the memory (and refreshes the caller's views). `maxThreads`: the threads
 * the kernel laid its scratch out for (threadsFor's answer when it decided; 1: the calling
 * thread only, the workers neither woken nor let in), whatever getNumThreads() says now.
 */
export function runTasks(target: TaskTarget, list: TaskList, freeByte: number, ensure: (bytes: number) => void, beside?: () => void, maxThreads = Infinity): void {
  const n = list.length;
  if (n === 0) {
    beside?.();
    return;
  }
  if (n >= MAX_TASKS) throw new RangeError(`cpu kernels: ${n} tasks in one job (at most ${MAX_TASKS - 1})`);
  const fns = fnList(target);
  const threads = n > 1 && maxThreads > 1 ? Math.min(maxThreads, threadsFor(target)) : 1;
  const nrec = list.size / REC;
  if (threads <= 1) {
    beside?.();
    runRecords(fns, list.rec, 0, 0, nrec, list.scratchPtr);
    return;
  }
  if (!pool) pool = newPool(target);
  const p = pool;
  if (p.open) drain(p);
  // table: n + 1 task starts, then the records (the memory grown before a new worker is sent it)
  const tab = Math.ceil(freeByte / 16) * 16;
  ensure(tab + (n + 1 + list.size) * 4);
  grow(p, threads - 1);
  if (p.broken) {
    beside?.();
    runRecords(fns, list.rec, 0, 0, nrec, list.scratchPtr);
    return;
  }
  const i32 = new Int32Array(target.memory.buffer, tab, n + 1 + list.size);
  for (let t = 0; t < n; t++) i32[t] = list.starts[t];
  i32[n] = nrec;
  i32.set(list.rec.subarray(0, list.size), n + 1);
  const ctl = p.ctl;
  Atomics.store(ctl, TABLE, tab);
  Atomics.store(ctl, DONE, 0);
  Atomics.store(ctl, ERROR, 0);
  Atomics.store(ctl, MSG_LEN, 0);
  Atomics.store(ctl, LIMIT, threads - 1);
  Atomics.store(ctl, PAGES, target.memory.buffer.byteLength >>> 16);
  Atomics.store(ctl, SCRATCH, list.scratchPtr);
  Atomics.store(ctl, SCRATCH_STRIDE, list.scratchStride);
  p.open = true;
  const gen = (Atomics.load(ctl, GEN) + 1) | 0;
  Atomics.store(p.claim, CLAIM, (BigInt(gen & 0xffff) << TAG_SHIFT) | (BigInt(n) << COUNT_SHIFT));
  Atomics.store(ctl, GEN, gen);
  if (Atomics.load(ctl, SLEEPERS) > 0) notifyWorkers(p);
  stats.jobs++;
  stats.tasks += n;
  let t = performance.now();
  const base = n + 1;
  let mine = 0;
  let failure: unknown = null;
  // the caller's own work beside the tasks (it must not touch the memory the tasks use)
  if (beside) {
    try {
      beside();
    } catch (e) {
      failure = e;
    }
  }
  const t1 = performance.now();
  stats.besideMs += t1 - t;
  t = t1;
  // take tasks on this thread too
  while (callerWorks) {
    const v = Atomics.add(p.claim, CLAIM, 1n);
    const t = Number(v & 0xffffffn);
    if (t >= n) break;
    try {
      runRecords(fns, i32, base, i32[t], i32[t + 1], list.scratchPtr);
    } catch (e) {
      failure ??= e;
    }
    mine++;
  }
  let done = Atomics.add(ctl, DONE, mine) + mine;
  const t2 = performance.now();
  stats.callerTaskMs += t2 - t;
  t = t2;
  // the workers' last tasks: poll a while, then sleep
  if (done < n) {
    const until = performance.now() + spinMicros / 1000;
    for (let i = 1; done < n; i++) {
      done = Atomics.load(ctl, DONE);
      if ((i & 127) === 0 && performance.now() >= until) break;
    }
  }
  const t3 = performance.now();
  stats.pollMs += t3 - t;
  if (done < n && napMicros > 0) {
    // nap (no notify needed: see napMicros)
    const until = t3 + napLimitMicros / 1000;
    for (; done < n && performance.now() < until; done = Atomics.load(ctl, DONE)) Atomics.wait(ctl, DONE, done, napMicros / 1000);
  }
  const t4 = performance.now();
  stats.napMs += t4 - t3;
  if (done < n) {
    Atomics.store(ctl, CALLER_WAITS, 1);
    for (done = Atomics.load(ctl, DONE); done < n; done = Atomics.load(ctl, DONE)) Atomics.wait(ctl, DONE, done);
    Atomics.store(ctl, CALLER_WAITS, 0);
    stats.sleepMs += performance.now() - t4;
  }
  Atomics.store(p.claim, CLAIM, 0n);
  p.open = false;
  if (failure) throw failure;
  if (Atomics.load(ctl, ERROR)) {
    const k = Atomics.load(ctl, MSG_LEN);
    const text = String.fromCharCode(...new Uint16Array(ctl.buffer, MSG, k));
    throw new Error(`cpu kernels: a WASM call failed in a worker thread (${threads} threads, memory ${target.memory.buffer.byteLength} bytes): ${text || "no message"}`);
  }
}

/**
 * Runs `chunks` jobs, one a chunk, with the caller's copies beside the threads' work:
 * `stage(c)` copies chunk c's operands into the WASM memory, `build(c, list)` adds its tasks to an
 * empty list, `collect(c)` copies its results out. Beside chunk c's job the caller collects chunk
 * c - 1, stages chunk c + 1 and builds its tasks, then takes tasks as the workers do; so chunk c's buffers must not be those
 * of c - 1 or c + 1 (alternate two sets). On one thread: stage, run, collect, in that order.
 * `stage` and `collect` must read the memory through fresh views (it may grow). `maxThreads` as
 * runTasks's.
 */
export function runPipelined(
  target: TaskTarget, chunks: number, freeByte: number, ensure: (bytes: number) => void,
  stage: (c: number) => void, build: (c: number, list: TaskList) => void, collect: (c: number) => void, maxThreads = Infinity,
): void {
  if (chunks <= 0) return;
  if (numThreads > 1 && maxThreads > 1) wakeThreads(target);
  const ctl = maxThreads > 1 && pool?.target === target ? pool.ctl : null;
  if (ctl) Atomics.store(ctl, PIPELINE, 1);
  try {
    // two lists: chunk c + 1's is built beside chunk c's job too
    const lists = [new TaskList(), new TaskList()];
    stage(0);
    build(0, lists[0]);
    for (let c = 0; c < chunks; c++) {
      const next = lists[(c + 1) & 1];
      runTasks(target, lists[c & 1], freeByte, ensure, pipelineBeside.bind(null, c, chunks, stage, build, collect, next), maxThreads);
    }
    collect(chunks - 1);
  } finally {
    if (ctl) Atomics.store(ctl, PIPELINE, 0);
  }
}

/**
 * runPipelined's work beside chunk c's job: chunk c - 1 collected, chunk c + 1 staged and its tasks
 * built into `next`. (A module-level function bound to its arguments, not a closure made for each
 * chunk: V8 drops a closure's optimized code at every full garbage collection once no closure of it
 * lives, and TurboFan compiled it again.)
 */
function pipelineBeside(
  c: number, chunks: number, stage: (c: number) => void, build: (c: number, list: TaskList) => void, collect: (c: number) => void, next: TaskList,
): void {
  if (c > 0) collect(c - 1);
  if (c + 1 < chunks) {
    stage(c + 1);
    next.clear();
    build(c + 1, next);
  }
}

/** Splits [0, n) into at most `parts` ranges of at least `min` (>= 1) items each. */
export function splitRange(n: number, parts: number, min = 1): [number, number][] {
  const k = Math.max(1, Math.min(parts, Math.floor(n / Math.max(1, min))));
  const out: [number, number][] = [];
  for (let i = 0; i < k; i++) {
    const a = Math.floor((i * n) / k), b = Math.floor(((i + 1) * n) / k);
    if (b > a) out.push([a, b]);
  }
  return out;
}

const stats = { jobs: 0, tasks: 0, notifies: 0, besideMs: 0, callerTaskMs: 0, pollMs: 0, napMs: 0, sleepMs: 0 };

/** Where the pool's time went, summed since the process started (the workers' sums are int32 microseconds: take differences modulo 2^32 of workerTaskUs). */
export interface ThreadStats {
  /** threaded jobs, and their tasks */
  jobs: number;
  tasks: number;
  /** the caller's work beside the workers' (a pipelined op's copies in and out), its own share of the tasks, its polling, napping and sleeping for the workers' last tasks (ms) */
  callerBesideMs: number;
  callerTaskMs: number;
  callerPollMs: number;
  callerNapMs: number;
  callerSleepMs: number;
  /** times the caller woke sleeping workers */
  notifies: number;
  /** the workers' time inside jobs (µs, int32), their naps (timed waits) and sleeps (until notified), and the wake-ups timed from the caller's notify (count, µs) */
  workerTaskUs: number;
  workerNaps: number;
  workerSleeps: number;
  workerWakes: number;
  workerWakeUs: number;
}

/** The pool's counters (diagnostics: bench/engine.ts prints them for the 2-thread LeNet-5 step). */
export function threadStats(): ThreadStats {
  const c = pool?.ctl;
  return {
    jobs: stats.jobs, tasks: stats.tasks, callerBesideMs: stats.besideMs, callerTaskMs: stats.callerTaskMs, callerPollMs: stats.pollMs, callerNapMs: stats.napMs, callerSleepMs: stats.sleepMs, notifies: stats.notifies,
    workerTaskUs: c ? Atomics.load(c, W_TASK_US) : 0, workerNaps: c ? Atomics.load(c, W_NAPS) : 0, workerSleeps: c ? Atomics.load(c, W_SLEEPS) : 0, workerWakes: c ? Atomics.load(c, W_WAKES) : 0, workerWakeUs: c ? Atomics.load(c, W_WAKE_US) : 0,
  };
}

/** Workers started, and the tasks they have run (diagnostics, tests). */
export function poolInfo(): { workers: number; workerTasks: number; nativeWorkers: number } {
  return { workers: pool && !pool.broken ? pool.workers.length : 0, workerTasks: pool ? Atomics.load(pool.ctl, WORKED) : 0, nativeWorkers: pool ? Atomics.load(pool.ctl, W_NATIVE) : 0 };
}

let minWorkScale = 1;
/** Whether a job of `work` units is worth threads, given the kernel's crossover `min` (measured). */
export function worthThreads(work: number, min: number): boolean {
  return work >= min * minWorkScale;
}
/** Testing aid: scales the kernels' crossovers (0: every job that can be split uses the threads). */
export function setMinWorkScale(scale: number): void {
  minWorkScale = scale;
}

let callerWorks = true;
/**
 * Testing aid: with false, the calling thread leaves every task of a threaded job to the workers
 * (so that a test can tell that the workers' results are the ones it checks).
 */
export function setCallerTakesTasks(on: boolean): void {
  callerWorks = on;
}
