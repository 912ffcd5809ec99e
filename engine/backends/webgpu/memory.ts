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
 * - A tensor's storage is a GpuHandle, one reference to a pooled buffer (reshape shares it);
 *   handles are freed by tidy() scopes, dispose(), or the garbage collector as a safety net.
 */

// GPUBufferUsage / GPUMapMode values (the globals do not exist in Node).
export const U = { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128 } as const;

/** A pooled GPU buffer; shared (refcounted) by tensor handles that view the same values (reshape). */
export interface PooledBuffer {
  buffer: GPUBuffer;
  bytes: number;
  refs: number;
}

/** The `storage` of a GPU TensorData: one reference to a pooled buffer. */
export class GpuHandle {
  released = false;
  kept = false;
  constructor(
    readonly ctx: GpuMemory,
    readonly buf: PooledBuffer,
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
}

/** Keep at most this many free bytes in the pool; beyond it, freed buffers are destroyed. */
const POOL_MAX_BYTES = 1 << 30;

export abstract class GpuMemory {
  abstract readonly device: GPUDevice;
  abstract readonly limits: GPUSupportedLimits;
  /** Set when the device is lost: every later use throws it. */
  lostError: Error | null = null;
  private free = new Map<number, GPUBuffer[]>();
  /** Released while the open encoder may still reference them (safe only for GPU-side reuse). */
  private freePending = new Map<number, GPUBuffer[]>();
  bytesInUse = 0;
  bytesInPool = 0;
  numBuffers = 0;
  numHandles = 0;
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

  /** A buffer of at least `bytes` (rounded to 16) for GPU-side writes. `hostWrite`: it will be written with queue.writeBuffer. */
  acquire(bytes: number, hostWrite = false): PooledBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    if (size > this.limits.maxStorageBufferBindingSize || size > this.limits.maxBufferSize) {
      throw new Error(
        `webgpu: a tensor of ${mb(bytes)} MB exceeds this GPU's largest buffer (${mb(Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize))} MB)`,
      );
    }
    let buffer = this.free.get(size)?.pop();
    if (!buffer && this.freePending.get(size)?.length) {
      // a host upload must not overwrite values the open encoder still reads: submit it first
      if (hostWrite) this.flush();
      buffer = (hostWrite ? this.free : this.freePending).get(size)!.pop();
    }
    if (buffer) {
      this.bytesInPool -= size;
    } else {
      buffer = this.device.createBuffer({ size, usage: U.STORAGE | U.COPY_SRC | U.COPY_DST });
      this.bufferIds.set(buffer, this.nextBufferId++);
      this.numBuffers++;
    }
    this.bytesInUse += size;
    return { buffer, bytes: size, refs: 0 };
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

  /** A new handle for a buffer (registered with the current tidy scope and the GC safety net). */
  handle(buf: PooledBuffer, owner: object): GpuHandle {
    buf.refs++;
    const h = new GpuHandle(this, buf);
    this.numHandles++;
    if (this.scopes.length) this.scopes[this.scopes.length - 1].add(h);
    this.finalizer.register(owner, h, h);
    return h;
  }

  releaseHandle(h: GpuHandle): void {
    if (h.released) return;
    h.released = true;
    this.numHandles--;
    this.finalizer.unregister(h);
    for (const s of this.scopes) s.delete(h);
    if (--h.buf.refs === 0) this.releaseBuffer(h.buf);
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

  /** The error of an allocation that ran out of GPU memory (what tensors and the pool hold, how to free it). */
  outOfMemoryMessage(): string {
    return `webgpu: out of GPU memory (${mb(this.bytesInUse)} MB held by tensors, ${mb(this.bytesInPool)} MB in the pool). Free tensors with t.dispose() or run steps inside gb.tidy(); CPU tensors are unaffected`;
  }
}

export function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}
