/**
 * What the engine holds in memory besides the CPU tensors' own arrays, for whoever watches it
 * (`gb.memoryStats()`, a notebook kernel's memory guard). Knows no backend: a backend registers
 * its pools here (the CPU kernels' WASM memory, the GPU buffers).
 *
 * CPU tensors are not counted here: they are typed arrays, which the JavaScript engine counts
 * (process.memoryUsage().arrayBuffers), and a FinalizationRegistry entry per tensor, the way to
 * count them here, measured 25% slower on element-wise ops of 64 KiB (a registered array
 * survives young-generation collections until a full one).
 */

/** A pool of memory a backend holds besides the tensors' own arrays. */
export interface MemoryPool {
  /** What it is, for people: "WASM memory of the CPU kernels". */
  readonly name: string;
  readonly device: "cpu" | "gpu";
  /** Bytes held now. */
  bytes(): number;
  /**
   * Its bytes are JavaScript array buffers (spare CPU tensor storage), which the JavaScript engine
   * already counts (process.memoryUsage().arrayBuffers): listed, but not added to cpuPoolBytes.
   */
  inArrayBuffers?: boolean;
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

export interface PoolStats {
  name: string;
  device: "cpu" | "gpu";
  bytes: number;
  inUse: number | null;
  tensors: number | null;
}

export interface MemoryStats {
  /** The backends' pools (WASM memory of the CPU kernels, GPU buffers). */
  pools: PoolStats[];
  /** The CPU pools' bytes (host memory besides the tensors' arrays and other array buffers). */
  cpuPoolBytes: number;
}

/** What the engine holds now besides CPU tensors: the CPU kernels' WASM memory, GPU buffers. */
export function memoryStats(): MemoryStats {
  const out: PoolStats[] = [];
  let cpu = 0;
  for (const p of pools) {
    const s: PoolStats = { name: p.name, device: p.device, bytes: p.bytes(), inUse: p.inUse?.() ?? null, tensors: p.tensors?.() ?? null };
    if (s.device === "cpu" && !p.inArrayBuffers) cpu += s.bytes;
    out.push(s);
  }
  return { pools: out, cpuPoolBytes: cpu };
}

/**
 * Frees memory the engine holds but no tensor uses: pooled GPU buffers and the CPU kernels'
 * scratch memory (a WebAssembly memory cannot shrink: it is replaced by a small one).
 */
export function emptyCache(): void {
  for (const p of pools) p.release?.();
}
