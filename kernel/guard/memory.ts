/**
 * The memory guard's main-thread side: the sampler the watcher (guard/watch.ts, in the protocol
 * worker) calls through the inspector — it runs even while a cell is busy in a loop — and, once
 * a cell was stopped, the MemoryError: what is in use, the limit, the largest variables and
 * tensors, and how to free them.
 */
import v8 from "node:v8";
import vm from "node:vm";
import { types } from "node:util";
import type { ErrorInfo } from "../interpreter.ts";
import { formatBytes, type KernelLimits } from "./limits.ts";

/** Where the sampler is found (the watcher keeps a reference to it once it has it). */
export const SAMPLER_EXPRESSION = 'globalThis[Symbol.for("gradbook.memorySampler")]';

/**
 * A sample: [JS heap used, array buffers (typed arrays, CPU tensors), the engine's WASM memory, V8's heap limit].
 * (process.memoryUsage().external would count WASM memories too, but it is updated only a
 * collection or two after array buffers are freed; Node's own count of them is exact.)
 */
export type Sample = [heap: number, arrayBuffers: number, wasm: number, heapLimit: number];
export const inUse = (s: Sample): number => s[0] + s[1] + s[2];

/**
 * The stop the watcher asked for, shared between the two threads: state (0 none, 1 over the
 * limit, 2 the JS heap near V8's limit) and the figures it saw; and the memory in use when the
 * request started, which the main thread writes (the watcher's starting point where it cannot
 * ask the main thread: without the inspector).
 */
export class StopState {
  private readonly state: Int32Array;
  private readonly figures: Float64Array;
  constructor(readonly buffer = new SharedArrayBuffer(32)) {
    this.state = new Int32Array(buffer, 0, 2);
    this.figures = new Float64Array(buffer, 8, 3);
  }
  request(kind: 1 | 2, used: number, heap: number): void {
    this.figures[0] = used;
    this.figures[1] = heap;
    Atomics.store(this.state, 0, kind);
  }
  /** The main thread, as a request starts: the memory in use now. */
  setBaseline(used: number): void {
    this.figures[2] = used;
  }
  baseline(): number {
    return this.figures[2];
  }
  /** Takes the pending stop (clearing it), or null. */
  take(): { kind: 1 | 2; used: number; heap: number } | null {
    const kind = Atomics.exchange(this.state, 0, 0);
    return kind === 1 || kind === 2 ? { kind, used: this.figures[0], heap: this.figures[1] } : null;
  }
}

interface EngineMemory {
  memoryStats(): {
    pools: { name: string; device: string; bytes: number; inUse: number | null; tensors: number | null }[];
    cpuPoolBytes: number;
  };
  emptyCache(): void;
  setGpuMemoryLimit(bytes: number | null): void;
  Tensor: abstract new (...a: never[]) => object;
}

let engine: EngineMemory | null = null;
let gc: () => void = () => {};
let heapLimit = 0;

/**
 * The JS heap may fill this share of V8's heap limit less its young generation. Past it V8 is
 * close to aborting the process (it does when the old generation cannot grow, and when several
 * full collections in a row free little with the heap past 80% of it: forced ones count too).
 */
export const heapCap = (heapLimit: number) => 0.7 * (heapLimit - 64 * 2 ** 20);

/**
 * The figures after `collections` full collections (0, 1 or 2). After one, array buffers found
 * dead may still count: a background sweeper frees them over tens of milliseconds; a second
 * collection first finishes that sweep, so the count is then exact. None near V8's heap limit,
 * where forced collections can make V8 abort.
 */
function sampleNow(collections: number): Sample {
  if (collections && process.memoryUsage().heapUsed < 0.9 * heapCap(heapLimit)) for (let i = 0; i < collections; i++) gc();
  const m = process.memoryUsage();
  let wasm = 0;
  try {
    wasm = engine?.memoryStats().cpuPoolBytes ?? 0;
  } catch {}
  return [m.heapUsed, m.arrayBuffers, wasm, heapLimit];
}

/** Memory in use now, without a collection (cheap: for the watcher's starting point). */
export const inUseNow = (): number => inUse(sampleNow(0));

/**
 * Installs the sampler (before the main thread takes requests). A full collection is available to
 * it without --expose-gc on the command line: the flag, set for a moment, gives a new context a
 * `gc`, and is then turned off again. (Left on, it changes V8's flag hash, and V8 then rejects the
 * code caches made under the flags the process started with: Node's own modules compiled from
 * source in every thread started later, a worker's start-up about 40 -> 90 ms of CPU, measured.)
 * `gpuLimit`: the engine's GPU memory limit (GRADBOOK_GPU_MEMORY_LIMIT), set once it is loaded.
 */
export function installSampler(gpuLimit: number | null): void {
  const exposed = typeof (globalThis as { gc?: unknown }).gc === "function";
  try {
    if (!exposed) v8.setFlagsFromString("--expose-gc");
    gc = vm.runInNewContext("gc") as () => void;
  } catch {
  } finally {
    if (!exposed) v8.setFlagsFromString("--no-expose-gc");
  }
  heapLimit = v8.getHeapStatistics().heap_size_limit;
  Object.defineProperty(globalThis, Symbol.for("gradbook.memorySampler"), { value: sampleNow, enumerable: false, configurable: false, writable: false });
  // the engine is the interpreter's (the same module instance): loaded here too, for its figures
  import("gradbook" as string).then(
    (m: EngineMemory) => {
      engine = m;
      if (gpuLimit !== null) m.setGpuMemoryLimit(gpuLimit);
    },
    () => undefined,
  );
}

/** Memory in use now, after a full collection and the finalizers it queued (they free the GPU buffers of collected tensors). */
export async function measure(): Promise<{ sample: Sample; used: number }> {
  sampleNow(2);
  await new Promise((r) => setTimeout(r, 10));
  const sample = sampleNow(0);
  return { sample, used: inUse(sample) };
}

/**
 * A full collection, after which the finalizers run: GPU tensors that only a failed cell held
 * give their memory back (the engine frees a GPU buffer when its tensor is collected).
 */
export async function collectGarbage(): Promise<void> {
  await measure();
}

// ---------------------------------------------------------------- what holds the memory

interface Holder {
  /** The variable (or path: model.fc1.weight) */
  name: string;
  what: string;
  bytes: number;
  /** How to free it. */
  free: string;
  /** A tensor's device. */
  device?: string;
}

const ARRAY_SAMPLE = 64;
const NODE_BUDGET = 200_000;

/** Estimates the memory reachable from the notebook's variables (typed arrays exactly, objects roughly), largest first. */
export function largestHolders(): { variables: Holder[]; tensors: Holder[] } {
  const Tensor = engine?.Tensor;
  const seen = new Set<unknown>();
  const tensors: Holder[] = [];
  let budget = NODE_BUDGET;

  const tensorBytes = (t: any): number => {
    const st = t?._d?.storage;
    if (ArrayBuffer.isView(st)) return st.byteLength;
    const b = st?.buf?.bytes;
    return typeof b === "number" && !st.released ? b : 0;
  };

  /** Bytes reachable from v not counted yet; path names tensors. */
  const size = (v: unknown, path: string, depth: number): number => {
    if (v === null || v === undefined) return 0;
    const type = typeof v;
    if (type === "string") return 16 + (v as string).length;
    // a number or boolean lives in its slot, which the array or object counted (8 bytes)
    if (type !== "object") return 0;
    // no user code runs here: proxies are passed over, accessors not called
    if (seen.has(v) || --budget < 0 || types.isProxy(v)) return 0;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      const buf = (v as ArrayBufferView).buffer;
      if (seen.has(buf)) return 0;
      seen.add(buf);
      return buf.byteLength;
    }
    if (v instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && v instanceof SharedArrayBuffer)) return v.byteLength;
    if (Tensor && v instanceof Tensor) {
      const t = v as any;
      const st = t._d?.storage;
      let bytes = 0;
      if (st && !seen.has(st)) {
        seen.add(st);
        bytes = tensorBytes(t);
        if (bytes) tensors.push({ name: path, what: describe(t, Tensor), bytes, free: t.device === "gpu" ? `${path}.dispose()` : `${path} = null`, device: t.device });
      }
      return bytes + (depth < 12 && t.grad ? size(t.grad, `${path}.grad`, depth + 1) : 0);
    }
    if (Object.prototype.toString.call(v) === "[object Module]") return 0;
    if (depth >= 12) return 0;
    if (Array.isArray(v)) {
      const n = v.length;
      let bytes = 16 + 8 * n;
      if (n <= ARRAY_SAMPLE * 4) {
        for (let i = 0; i < n; i++) bytes += size(v[i], `${path}[${i}]`, depth + 1);
      } else {
        // a sample of the elements, scaled up (arrays of millions of objects stay quick)
        let sampled = 0;
        for (let k = 0; k < ARRAY_SAMPLE; k++) {
          const i = Math.floor((k * n) / ARRAY_SAMPLE);
          sampled += size(v[i], `${path}[${i}]`, depth + 1);
        }
        bytes += Math.round((sampled * n) / ARRAY_SAMPLE);
      }
      return bytes;
    }
    if (v instanceof Map || v instanceof Set) {
      // the first entries, scaled up (through the built-in methods: a subclass's are not called)
      const proto = v instanceof Map ? Map.prototype : Set.prototype;
      const n: number = Object.getOwnPropertyDescriptor(proto, "size")!.get!.call(v);
      let sum = 0, i = 0;
      for (const x of proto.values.call(v as never) as Iterable<unknown>) {
        if (i++ >= ARRAY_SAMPLE * 4) break;
        sum += size(x, `${path}.get(…)`, depth + 1);
      }
      return 32 + 16 * n + (i ? Math.round((sum * n) / i) : 0);
    }
    let bytes = 24;
    for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(v))) {
      if (!d.enumerable || !("value" in d)) continue;
      bytes += 8 + size(d.value, /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`, depth + 1);
    }
    return bytes;
  };

  const variables: Holder[] = [];
  const g = globalThis as Record<string, unknown>;
  for (const name of Object.keys(g)) {
    if (BUILTIN_GLOBALS.has(name) || name.startsWith("__gb") || name.startsWith("__gradbook")) continue;
    const d = Object.getOwnPropertyDescriptor(g, name);
    if (!d || !("value" in d)) continue;
    const v = d.value;
    const bytes = size(v, name, 0);
    if (bytes > 0) variables.push({ name, what: describe(v, Tensor), bytes, free: howToFree(name, v, Tensor) });
  }
  variables.sort((a, b) => b.bytes - a.bytes);
  tensors.sort((a, b) => b.bytes - a.bytes);
  return { variables, tensors };
}

/** Enumerable globals that are Node's or the kernel's, not the notebook's (taken when this module loads). */
const BUILTIN_GLOBALS = new Set([...Object.keys(globalThis), "gb", "widgets"]);

function describe(v: unknown, Tensor: EngineMemory["Tensor"] | undefined): string {
  if (v === null || typeof v !== "object") return typeof v;
  if (Tensor && v instanceof Tensor) {
    const t = v as any;
    return `Tensor [${(t.shape as number[]).join(", ")}] ${t.dtype} (${t.device})`;
  }
  if (Array.isArray(v)) {
    const kind = (x: unknown) => (x === null ? "null" : Tensor && x instanceof Tensor ? "Tensor" : typeof x === "object" ? (x.constructor?.name ?? "Object") : typeof x);
    const kinds = new Set(v.slice(0, 16).map(kind));
    return `Array(${v.length})${kinds.size === 1 ? ` of ${[...kinds][0]}` : ""}`;
  }
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as any).length ?? v.byteLength})`;
  if (v instanceof Map || v instanceof Set) return `${v.constructor.name}(${v.size})`;
  return (v as object).constructor?.name ?? "Object";
}

function howToFree(name: string, v: unknown, Tensor: EngineMemory["Tensor"] | undefined): string {
  if (Array.isArray(v)) return `${name}.length = 0`;
  if (v instanceof Map || v instanceof Set) return `${name}.clear()`;
  if (Tensor && v instanceof Tensor && (v as any).device === "gpu") return `${name}.dispose()`;
  return `${name} = null`;
}

// ---------------------------------------------------------------- the error

const BOLD_RED = "\x1b[1;31m", CYAN = "\x1b[0;36m", RESET = "\x1b[0m";

/** The MemoryError of a cell the guard stopped: what was in use, the limit, what holds the memory, how to free it. */
export async function memoryError(stop: { kind: 1 | 2; used: number; heap: number }, limits: KernelLimits): Promise<ErrorInfo> {
  // the engine's caches first (a WASM memory grown for the op that was stopped)
  try {
    engine?.emptyCache();
  } catch {}
  const { sample, used } = await measure();
  const heapLimit = sample[3];
  const limit = limits.memory;
  const evalue =
    stop.kind === 2
      ? `the cell was stopped: the JavaScript heap reached ${formatBytes(stop.heap)}, close to V8's heap limit of ${formatBytes(heapLimit)} (past it the kernel would crash)`
      : `the cell was stopped: the kernel's memory reached ${formatBytes(stop.used)}, over its limit of ${formatBytes(limit.bytes ?? 0)} (${limit.source})`;
  const lines = [`${BOLD_RED}MemoryError${RESET}: ${evalue}`];
  let held: ReturnType<typeof largestHolders> = { variables: [], tensors: [] };
  try {
    held = largestHolders();
  } catch {}
  const cpuTensors = held.tensors.filter((h) => h.device === "cpu");
  const inTensors = cpuTensors.length ? ` (of them, ${formatBytes(cpuTensors.reduce((s, h) => s + h.bytes, 0))} in ${cpuTensors.length} CPU tensors your variables hold)` : "";
  const parts = [`JavaScript heap ${formatBytes(sample[0])}`, `array buffers ${formatBytes(sample[1])}${inTensors}`];
  if (sample[2]) parts.push(`WASM memory of the CPU kernels ${formatBytes(sample[2])}`);
  lines.push(`In use now, after a garbage collection: ${formatBytes(used)} = ${parts.join(" + ")}.`);
  let stats: ReturnType<EngineMemory["memoryStats"]> | null = null;
  try {
    stats = engine?.memoryStats() ?? null;
  } catch {}
  for (const p of stats?.pools ?? []) if (p.device === "gpu" && p.bytes) lines.push(`On the GPU (not counted here): ${formatBytes(p.inUse ?? 0)} in ${p.tensors ?? 0} tensors, ${formatBytes(p.bytes - (p.inUse ?? 0))} cached.`);
  const big = held.variables.filter((h) => h.bytes >= 2 ** 20).slice(0, 5);
  if (big.length) {
    lines.push(`${CYAN}Largest variables${RESET} (typed arrays and tensors exactly, other objects estimated):`);
    const w = Math.max(...big.map((h) => h.name.length));
    for (const h of big) lines.push(`  ${h.name.padEnd(w)}  ${formatBytes(h.bytes).padStart(10)}  ${h.what}`);
  }
  const bigTensors = held.tensors.slice(0, 5);
  if (bigTensors.length) {
    const total = held.tensors.reduce((s, h) => s + h.bytes, 0);
    lines.push(`${CYAN}Largest tensors${RESET} (${held.tensors.length} reachable from your variables, ${formatBytes(total)} in all):`);
    const w = Math.max(...bigTensors.map((h) => h.name.length));
    for (const h of bigTensors) lines.push(`  ${h.name.padEnd(w)}  ${formatBytes(h.bytes).padStart(10)}  ${h.what}`);
  }
  const frees = big.slice(0, 3).map((h) => `\`${h.free}\``);
  lines.push(
    `To free memory, release what you no longer need${frees.length ? `: ${frees.join(", ")}` : ""}; then run the cell again, with less data at a time. ` +
      `Your earlier variables are kept and the kernel is still running. ` +
      (limits.grading ? `The limit (${limit.source}) is the grader's: it comes from its --memory.` : `The limit is ${limit.source}: see kernel/README.md to change it.`),
  );
  return { ename: "MemoryError", evalue, traceback: lines };
}
