/// <reference types="@webgpu/types" />
/**
 * GPU memory: the buffer pool and the tensor handles on it. The one place where the WebGPU
 * backend creates, reuses and frees buffers and words the out-of-memory error (GpuContext
 * extends this class with the device, pipelines and command batching).
 *
 * - Buffers come from a pool keyed by byte size (TensorFlow.js's BufferManager):
 *   releasing puts a buffer back; a buffer released while the open command
 *   encoder may still use it is only handed out again for GPU-side writes until
 *   the encoder is submitted (queue.writeBuffer runs before unsubmitted work).
 * - A tensor's values (GpuStorage) are one pooled buffer, or, when larger than one storage
 *   binding, several "parts" of `partElems` elements each (the last one shorter): ops bind each
 *   part (tensors.ts). A tensor's storage reference is a GpuHandle (reshape shares the storage);
 *   handles are freed by tidy() scopes, dispose(), or the garbage collector as a safety net.
 */

// GPUBufferUsage / GPUMapMode values (the globals do not exist in Node).
export const U = { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128 } as const;

/** A pooled GPU buffer. */
export interface PooledBuffer {
  buffer: GPUBuffer;
  bytes: number;
}

/** The values of a tensor: its parts (one buffer unless it exceeds one binding); shared (refcounted) by the handles that view them (reshape). */
export interface GpuStorage {
  parts: PooledBuffer[];
  /** Elements (4 bytes each). */
  elems: number;
  refs: number;
}

/** The `storage` of a GPU TensorData: one reference to a GpuStorage. */
export class GpuHandle {
  released = false;
  kept = false;
  constructor(
    readonly ctx: GpuMemory,
    readonly store: GpuStorage,
    readonly shape: readonly number[],
  ) {}
}

export interface GpuMemoryInfo {
  /** Bytes held by live tensors. */
  bytesInUse: number;
  /** Bytes of free buffers kept in the pool for reuse. */
  bytesInPool: number;
  /** All GPU bytes this backend holds (in use + pool). */
  bytesAllocated: number;
  /** Buffers held (in use + pool). */
  numBuffers: number;
  /** Live tensor handles (storage references). */
  numTensors: number;
  /** Pipelines compiled so far. */
  numPipelines: number;
  /** Command buffers submitted so far. */
  numSubmits: number;
  /** Compute dispatches recorded so far. */
  numDispatches: number;
  /** Tensors made so far that exceeded one storage binding, so were stored in several parts. */
  numSplitTensors: number;
  /** Dispatches so far that bound only a window of their tensors' parts (too many for one shader). */
  numWindows: number;
  /** Ops so far run in two pieces because their tensors had too many parts for one shader. */
  numPieces: number;
}

/** Keep at most this many free bytes in the pool; beyond it, freed buffers are destroyed. */
const POOL_MAX_BYTES = 1 << 30;

export abstract class GpuMemory {
  abstract readonly device: GPUDevice;
  abstract readonly limits: GPUSupportedLimits;
  /** Elements per part of a tensor: the largest power of two whose bytes fit one storage binding and one buffer. */
  abstract readonly partElems: number;
  /** Set when the device is lost: every later use throws it. */
  lostError: Error | null = null;
  private free = new Map<number, GPUBuffer[]>();
  /** Released while the open encoder may still reference them (safe only for GPU-side reuse). */
  private freePending = new Map<number, GPUBuffer[]>();
  bytesInUse = 0;
  bytesInPool = 0;
  numBuffers = 0;
  numHandles = 0;
  numSplitTensors = 0;
  numWindows = 0;
  numPieces = 0;
  /** Live handles (for naming the largest tensor when memory runs out). */
  private live = new Set<GpuHandle>();
  /** tidy() scopes: the handles made in each open scope. */
  scopes: Set<GpuHandle>[] = [];
  private finalizer = new FinalizationRegistry<GpuHandle>((h) => this.releaseHandle(h));
  /** Pool buffers get a number: bind groups are cached by layout and buffer numbers. */
  protected bufferIds = new Map<GPUBuffer, number>();
  private nextBufferId = 1;

  /** Submits the recorded commands (then buffers released meanwhile are free for any use). */
  abstract flush(): void;
  /** Whether commands are being recorded that may still use a released buffer. */
  protected abstract encoderOpen(): boolean;
  /** Drops the cached bind groups that name buffer number `id` (it is being destroyed). */
  protected abstract forgetBindings(id: number): void;
  /** The op being recorded, for error messages (null outside the op table: an upload). */
  protected abstract currentOp(): string | null;
  /** Keeps an error the device reported late, to throw at the next op or read. */
  protected abstract deferError(e: Error): void;

  /** Bytes of GPU memory tensors may hold at most (gb.setGpuMemoryLimit); null: what the device gives. */
  memoryLimit: number | null = null;

  /** The storage of a new tensor of `elems` elements, in parts of `partElems`. `hostWrite`: it will be written with queue.writeBuffer. */
  acquireStorage(elems: number, hostWrite = false): GpuStorage {
    const P = this.partElems;
    const parts: PooledBuffer[] = [];
    for (let at = 0; at < elems || parts.length === 0; at += P) parts.push(this.acquire(Math.min(P, elems - at) * 4, hostWrite));
    if (parts.length > 1) this.numSplitTensors++;
    return { parts, elems, refs: 0 };
  }

  /** A buffer of at least `bytes` (rounded to 16) for GPU-side writes, at most one part. `hostWrite`: it will be written with queue.writeBuffer. */
  acquire(bytes: number, hostWrite = false): PooledBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    if (size > this.partElems * 4) throw new Error(`webgpu: internal error: a buffer of ${mb(size)} MB asked for, larger than one part (${mb(this.partElems * 4)} MB)`);
    let buffer = this.free.get(size)?.pop();
    if (!buffer && this.freePending.get(size)?.length) {
      // a host upload must not overwrite values the open encoder still reads: submit it first
      if (hostWrite) this.flush();
      buffer = (hostWrite ? this.free : this.freePending).get(size)!.pop();
    }
    if (buffer) {
      this.bytesInPool -= size;
    } else {
      buffer = this.createBuffer(size);
      this.bufferIds.set(buffer, this.nextBufferId++);
      this.numBuffers++;
    }
    this.bytesInUse += size;
    return { buffer, bytes: size };
  }

  /**
   * A new buffer. Past the memory limit it throws an OutOfMemoryError naming the op, the size
   * asked and what is in use; when the device itself runs out, WebGPU says so later: the same
   * error then reaches the next op or read, and the cached buffers are freed.
   */
  private createBuffer(size: number): GPUBuffer {
    const op = this.currentOp() ?? "creating a GPU tensor";
    if (this.lostError) throw new Error(`${op}: ${this.lostError.message}`);
    if (this.memoryLimit !== null && this.bytesInUse + this.bytesInPool + size > this.memoryLimit) {
      this.trimPool(0);
      if (this.bytesInUse + size > this.memoryLimit) throw this.outOfMemory(op, size);
    }
    this.device.pushErrorScope("out-of-memory");
    const buffer = this.device.createBuffer({ size, usage: U.STORAGE | U.COPY_SRC | U.COPY_DST });
    this.device.popErrorScope().then(
      (e) => {
        if (!e || this.lostError) return;
        this.deferError(this.outOfMemory(op, size));
        this.trimPool(0);
      },
      () => undefined,
    );
    return buffer;
  }

  protected releaseBuffer(b: PooledBuffer): void {
    this.bytesInUse -= b.bytes;
    if (this.lostError) {
      this.numBuffers--;
      return;
    }
    if (this.bytesInPool + b.bytes > POOL_MAX_BYTES) {
      // too much cached: destroy after the work that may use it is submitted
      this.flush();
      this.destroyBuffer(b.buffer);
      return;
    }
    const pool = this.encoderOpen() ? this.freePending : this.free;
    let list = pool.get(b.bytes);
    if (!list) pool.set(b.bytes, (list = []));
    list.push(b.buffer);
    this.bytesInPool += b.bytes;
  }

  /** Returns a temporary buffer (not owned by a tensor) to the pool. */
  releaseTemp(b: PooledBuffer): void {
    this.releaseBuffer(b);
  }

  /** Destroys pooled free buffers beyond `keepBytes`. */
  trimPool(keepBytes = 0): void {
    this.flush();
    for (const pool of [this.free, this.freePending]) {
      for (const [size, list] of pool) {
        while (list.length && this.bytesInPool > keepBytes) {
          this.destroyBuffer(list.pop()!);
          this.bytesInPool -= size;
        }
      }
    }
  }

  /** A new handle on a storage, for a tensor of `shape` (registered with the current tidy scope and the GC safety net). */
  handle(store: GpuStorage, owner: object, shape: readonly number[]): GpuHandle {
    store.refs++;
    const h = new GpuHandle(this, store, shape);
    this.numHandles++;
    this.live.add(h);
    if (this.scopes.length) this.scopes[this.scopes.length - 1].add(h);
    this.finalizer.register(owner, h, h);
    return h;
  }

  releaseHandle(h: GpuHandle): void {
    if (h.released) return;
    h.released = true;
    this.numHandles--;
    this.live.delete(h);
    this.finalizer.unregister(h);
    for (const s of this.scopes) s.delete(h);
    if (--h.store.refs === 0) for (const p of h.store.parts) this.releaseBuffer(p);
  }

  /** Destroys a pool buffer and forgets the bind groups that name it. */
  protected destroyBuffer(buffer: GPUBuffer): void {
    const id = this.bufferIds.get(buffer);
    if (id !== undefined) {
      this.forgetBindings(id);
      this.bufferIds.delete(buffer);
    }
    buffer.destroy();
    this.numBuffers--;
  }

  /** Buffers released while the dropped or submitted encoder was open become free for any use. */
  protected releasePending(): void {
    for (const [size, list] of this.freePending) {
      let f = this.free.get(size);
      if (!f) this.free.set(size, (f = []));
      f.push(...list);
    }
    this.freePending.clear();
  }

  /** The live tensor with the most bytes: "shape (MB)", or null when none is alive. */
  largestTensor(): string | null {
    let best: GpuHandle | null = null;
    for (const h of this.live) if (!best || h.store.elems > best.store.elems) best = h;
    return best ? `${best.shape.length ? best.shape.join("x") : "scalar"} (${mb(best.store.elems * 4)} MB)` : null;
  }

  /**
   * The error of an allocation that ran out of GPU memory: what tensors and the pool hold, the
   * largest tensor, the device's buffer limits (a tensor larger than one buffer is already split
   * into parts, so what is missing is memory), and how to free it.
   */
  outOfMemoryMessage(): string {
    const largest = this.largestTensor();
    return (
      `webgpu: out of GPU memory (${mb(this.bytesInUse)} MB held by tensors${largest ? `, the largest ${largest}` : ""}; ${mb(this.bytesInPool)} MB in the pool; ` +
      `this GPU's limits: ${mb(this.limits.maxBufferSize)} MB per buffer, ${mb(this.limits.maxStorageBufferBindingSize)} MB per binding — larger tensors are split). ` +
      "Free tensors with t.dispose() or run steps inside gb.tidy(), or use a smaller batch or model; CPU tensors are unaffected"
    );
  }

  /**
   * The error of an allocation that ran out of GPU memory, an OutOfMemoryError: the op and the
   * size asked when known (past gb.setGpuMemoryLimit: what is in use, the largest tensor, the
   * limit), else what the device reported late (outOfMemoryMessage); how to free memory.
   */
  outOfMemory(op: string | null, size: number | null): Error {
    let message: string;
    if (op === null || size === null) message = this.outOfMemoryMessage();
    else {
      const limit = this.memoryLimit === null ? "" : ` (limit ${formatBytes(this.memoryLimit)}, gb.setGpuMemoryLimit)`;
      const largest = this.largestTensor();
      message =
        `${op}: out of GPU memory: tried to allocate ${formatBytes(size)}; ${formatBytes(this.bytesInUse)} is in use by ${this.numHandles} tensors${largest ? ` (the largest ${largest})` : ""} and ${formatBytes(this.bytesInPool)} is cached${limit}. ` +
        "Free GPU tensors you no longer need (t.dispose(), gb.dispose([...])), run each step inside gb.tidy(), or use a smaller batch; CPU tensors are unaffected";
    }
    const e = new Error(message);
    e.name = "OutOfMemoryError";
    return e;
  }
}

export function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} B`;
}
