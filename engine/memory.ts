/**
 * What the engine holds in memory, for whoever watches it (`gb.memoryStats()`, a notebook
 * kernel's memory guard). Knows no backend: a backend registers its pools here (the CPU
 * kernels' WASM memory, the GPU buffers) and the Tensor constructor reports CPU storage.
 */

/** A pool of memory a backend holds besides the tensors' own arrays. */
export interface MemoryPool {
  /** What it is, for people: "WASM memory of the CPU kernels". */
  readonly name: string;
  readonly device: "cpu" | "gpu";
  /** Bytes held now. */
  bytes(): number;
  /** Bytes in use by live tensors (GPU pools); the rest is cache that release() frees. */
  inUse?(): number;
  /** Tensors whose storage is in this pool (GPU pools). */
  tensors?(): number;
  /** Frees what no tensor uses (cached buffers, scratch memory grown for a large op). */
  release?(): void;
}

const pools: MemoryPool[] = [];

export function registerMemoryPool(pool: MemoryPool): void {
  pools.push(pool);
}

/**
 * CPU tensor storage is counted from this size up: smaller arrays do not matter to a memory
 * budget, and counting one costs about a microsecond (a FinalizationRegistry entry).
 */
export const TRACKED_MIN_BYTES = 1 << 16;
let cpuBytes = 0;
let cpuCount = 0;
const seen = new WeakSet<object>();
const finalizer = new FinalizationRegistry<number>((bytes) => {
  cpuBytes -= bytes;
  cpuCount--;
});

/** Called by the Tensor constructor for CPU storage (a typed array; views that share it count once). */
export function trackCpuStorage(storage: unknown): void {
  if (!ArrayBuffer.isView(storage) || storage.byteLength < TRACKED_MIN_BYTES || seen.has(storage)) return;
  seen.add(storage);
  finalizer.register(storage, storage.byteLength);
  cpuBytes += storage.byteLength;
  cpuCount++;
}

export interface PoolStats {
  name: string;
  device: "cpu" | "gpu";
  bytes: number;
  inUse: number | null;
  tensors: number | null;
}

export interface MemoryStats {
  /** CPU tensor storage of at least 64 KiB not yet garbage-collected (after a collection: the live ones). */
  cpuTensors: { bytes: number; count: number };
  /** The backends' pools (WASM memory of the CPU kernels, GPU buffers). */
  pools: PoolStats[];
  /** The CPU pools' bytes (host memory besides the tensors' arrays). */
  cpuPoolBytes: number;
}

/** What the engine holds now: CPU tensor storage, the CPU kernels' WASM memory, GPU buffers. */
export function memoryStats(): MemoryStats {
  const out: PoolStats[] = [];
  let cpu = 0;
  for (const p of pools) {
    const s: PoolStats = { name: p.name, device: p.device, bytes: p.bytes(), inUse: p.inUse?.() ?? null, tensors: p.tensors?.() ?? null };
    if (s.device === "cpu") cpu += s.bytes;
    out.push(s);
  }
  return { cpuTensors: { bytes: cpuBytes, count: cpuCount }, pools: out, cpuPoolBytes: cpu };
}

/**
 * Frees memory the engine holds but no tensor uses: pooled GPU buffers and the CPU kernels'
 * scratch memory (a WebAssembly memory cannot shrink: it is replaced by a small one).
 */
export function emptyCache(): void {
  for (const p of pools) p.release?.();
}
