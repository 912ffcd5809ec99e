/// <reference types="@webgpu/types" />
/**
 * The WebGPU device, pipelines and command batching (its memory: memory.ts, extended here).
 *
 * - Dispatches are recorded into one command encoder and one open compute pass;
 *   the encoder is submitted every `SUBMIT_EVERY` dispatches, or when values are read.
 * - Errors (validation, out-of-memory, device loss) are collected from the device
 *   and rethrown as clear errors on the next op or read.
 */

import { GpuMemory, U, type GpuMemoryInfo } from "./memory.js";

const MAP_READ_MODE = 1;

/** Submit after this many dispatches (tfjs uses 15; a training step of LeNet is ~150 dispatches). */
const SUBMIT_EVERY = 64;
/** The largest ordinary copy an upload from a SharedArrayBuffer makes at once (write). */
const STAGE_BYTES = 16 << 20;
/** At most this many cached bind groups (a LeNet-5 step uses ~100); beyond it the cache starts over. */
const BIND_CACHE_MAX = 8192;
const WG = 256;

/**
 * Limits lower than the device's, for testing how tensors are split across bindings: the bytes
 * one storage binding may hold (so one part of a tensor) and the storage bindings per shader.
 */
export interface GpuLimitOverrides {
  maxStorageBufferBindingSize?: number;
  maxStorageBuffersPerShaderStage?: number;
}

export class GpuContext extends GpuMemory {
  readonly device: GPUDevice;
  readonly adapterInfo: string;
  readonly limits: GPUSupportedLimits;
  readonly partElems: number;
  /** Storage bindings one shader may use: tensors of more parts than fit are processed in windows or pieces. */
  readonly maxBindings: number;
  private readPool = new Map<number, GPUBuffer[]>();
  private pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  private errBuffer: GPUBuffer;
  /** The first asynchronous error (validation, out of memory) not yet reported to the user. */
  private asyncError: Error | null = null;
  numSubmits = 0;
  numDispatches = 0;

  /** A CPU implementation (lavapipe / SwiftShader): pipelines are costly to compile, tiling gains little. */
  readonly software: boolean;

  constructor(device: GPUDevice, adapterInfo: string, software = /llvmpipe|lavapipe|swiftshader|software/i.test(adapterInfo), force: GpuLimitOverrides = {}) {
    super();
    this.device = device;
    this.adapterInfo = adapterInfo;
    this.software = software;
    this.limits = device.limits;
    const bindBytes = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize, force.maxStorageBufferBindingSize ?? Infinity);
    this.partElems = 2 ** Math.floor(Math.log2(Math.max(16, bindBytes) / 4));
    this.maxBindings = Math.max(4, Math.min(this.limits.maxStorageBuffersPerShaderStage, force.maxStorageBuffersPerShaderStage ?? Infinity));
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      const e = ev.error;
      // follow-on errors of one failure ("[Invalid X] is invalid due to a previous error"): report the first only
      if (this.asyncError && /due to a previous error/.test(e.message)) return;
      const kind = e.constructor?.name === "GPUOutOfMemoryError" || /out of memory|OutOfMemory/i.test(e.message) ? "out of GPU memory" : "GPU error";
      const error = kind === "out of GPU memory" ? this.outOfMemory(null, null) : new Error(`webgpu: ${e.message.split("\n").slice(0, 6).join("\n")}`);
      if (!this.asyncError) this.asyncError = error;
      if (kind === "out of GPU memory") this.trimPool(0);
    };
    void device.lost.then((info) => {
      this.lostError = new Error(
        `webgpu: the GPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ""}); GPU tensors are gone, CPU tensors stay valid — call await gb.initGpu() to start a new device`,
      );
    });
    this.errBuffer = device.createBuffer({ size: 16, usage: U.STORAGE | U.COPY_SRC | U.COPY_DST });
    this.bufferIds.set(this.errBuffer, 0);
  }

  check(op: string): void {
    if (this.lostError) throw new Error(`${op}: ${this.lostError.message}`);
    if (this.asyncError) {
      const e = this.asyncError;
      this.asyncError = null;
      this.abandon();
      const err = new Error(`${op}: an earlier GPU command failed — ${e.message}\n(GPU results computed since the last read may be invalid; CPU tensors are unaffected)`);
      err.name = e.name;
      throw err;
    }
  }

  memory(): GpuMemoryInfo {
    return {
      bytesInUse: this.bytesInUse,
      bytesInPool: this.bytesInPool,
      bytesAllocated: this.bytesInUse + this.bytesInPool,
      numBuffers: this.numBuffers,
      numTensors: this.numHandles,
      numPipelines: this.pipelines.size,
      numSubmits: this.numSubmits,
      numDispatches: this.numDispatches,
      numSplitTensors: this.numSplitTensors,
      numWindows: this.numWindows,
      numPieces: this.numPieces,
    };
  }

  // ---- pipelines and dispatch ----
  private layouts = new Map<string, GPUBindGroupLayout>();
  /**
   * Bind groups cached by "layout:buffer ids": pooled buffers come back step after step in a
   * training loop, so a step's bind groups are made once (createBindGroup is the dearest call
   * of a dispatch). Entries naming a buffer are dropped when it is destroyed.
   */
  private bindGroups = new Map<string, GPUBindGroup>();
  private bindKeysOf = new Map<number, string[]>();

  private bindGroup(accKey: string, layout: GPUBindGroupLayout, buffers: GPUBuffer[]): GPUBindGroup {
    let key = accKey;
    let cacheable = true;
    for (const b of buffers) {
      const id = this.bufferIds.get(b);
      if (id === undefined) {
        cacheable = false;
        break;
      }
      key += ":" + id;
    }
    if (cacheable) {
      const hit = this.bindGroups.get(key);
      if (hit) return hit;
    }
    const bind = this.device.createBindGroup({ layout, entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) });
    if (cacheable) {
      if (this.bindGroups.size >= BIND_CACHE_MAX) {
        this.bindGroups.clear();
        this.bindKeysOf.clear();
      }
      this.bindGroups.set(key, bind);
      for (const b of buffers) {
        const id = this.bufferIds.get(b)!;
        let keys = this.bindKeysOf.get(id);
        if (!keys) this.bindKeysOf.set(id, (keys = []));
        keys.push(key);
      }
    }
    return bind;
  }

  /** An explicit bind group layout: one storage buffer per binding, read-only or read-write, then a uniform buffer where the key ends with "u". */
  private layout(access: boolean[], key = access.map((w) => (w ? "w" : "r")).join("")): GPUBindGroupLayout {
    let l = this.layouts.get(key);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = access.map((w, binding) => ({ binding, visibility: 4 /* COMPUTE */, buffer: { type: w ? "storage" : "read-only-storage" } }));
      if (key.endsWith("u")) entries.push({ binding: access.length, visibility: 4, buffer: { type: "uniform" } });
      l = this.device.createBindGroupLayout({ entries });
      this.layouts.set(key, l);
    }
    return l;
  }

  pipeline(code: string, op: string, access: boolean[], accKey = access.map((w) => (w ? "w" : "r")).join("")): GPUComputePipeline {
    const key = accKey + code;
    let p = this.pipelines.get(key);
    if (!p) {
      if (code.includes("f32bits(") && !code.includes("fn f32bits")) code += "\nfn f32bits(b: u32) -> f32 { return bitcast<f32>(b); }\n";
      const module = this.device.createShaderModule({ code, label: op });
      const layout = this.device.createPipelineLayout({ bindGroupLayouts: [this.layout(access, accKey)] });
      p = this.device.createComputePipeline({ layout, compute: { module, entryPoint: "main" }, label: op });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private getPass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  private getEncoder(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  /** The kernel-table call being recorded (see `inKernel`): its key and how many dispatches it has made. */
  private kernelKey: string | null = null;
  private kernelOrdinal = 0;
  /** Pipelines by "kernel key#dispatch ordinal": a repeated call skips code generation and hashing the code. */
  private pipelineMemo = new Map<string, GPUComputePipeline>();

  /**
   * Runs one kernel-table call under `key`, a string naming everything its shaders depend on
   * (the kernel, its inputs' shapes and dtypes, its attributes). Its n-th dispatch then finds
   * its pipeline by "key#n" without generating the WGSL text or hashing it (a few KB per shader).
   */
  inKernel<T>(key: string, fn: () => T): T {
    const savedKey = this.kernelKey, savedOrdinal = this.kernelOrdinal;
    this.kernelKey = key;
    this.kernelOrdinal = 0;
    try {
      return fn();
    } finally {
      this.kernelKey = savedKey;
      this.kernelOrdinal = savedOrdinal;
    }
  }

  /**
   * Records one dispatch. `code`: the WGSL text, or a function making it (called only when the
   * pipeline is not cached yet). `buffers`: bindings 0..n-1 in order, `access[i]` true for
   * read_write; `useErr`: binds the index-error flag (read_write) after them; `params`: then binds
   * 256 bytes of a uniform buffer (see `uniforms`) from `offset`.
   */
  dispatch(op: string, code: string | (() => string), buffers: GPUBuffer[], groups: [number, number, number], access: boolean[], useErr = false, params?: { buffer: GPUBuffer; offset: number }): void {
    this.check(op);
    if (groups[0] === 0 || groups[1] === 0 || groups[2] === 0) return;
    const acc = useErr ? [...access, true] : access;
    let accKey = "";
    for (const w of acc) accKey += w ? "w" : "r";
    if (params) accKey += "u";
    const memoKey = this.kernelKey === null ? null : `${this.kernelKey}#${this.kernelOrdinal++}`;
    let pipeline = memoKey === null ? undefined : this.pipelineMemo.get(memoKey);
    if (!pipeline) {
      pipeline = this.pipeline(typeof code === "string" ? code : code(), op, acc, accKey);
      if (memoKey !== null) this.pipelineMemo.set(memoKey, pipeline);
    }
    const all = useErr ? [...buffers, this.errBuffer] : buffers;
    const layout = this.layout(acc, accKey);
    const bind = params
      ? this.device.createBindGroup({
          layout,
          entries: [...all.map((buffer, binding) => ({ binding, resource: { buffer } })), { binding: all.length, resource: { buffer: params.buffer, offset: params.offset, size: 256 } }],
        })
      : this.bindGroup(accKey, layout, all);
    const pass = this.getPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    this.numDispatches++;
    if (++this.pending >= SUBMIT_EVERY) this.flush();
  }

  /**
   * A uniform buffer holding `data` (blocks of 256 bytes, one per dispatch that binds it), for
   * parameters that vary between dispatches of one pipeline. Hand it to `retire` once those
   * dispatches are recorded.
   */
  uniforms(data: Uint32Array): GPUBuffer {
    const buffer = this.device.createBuffer({ size: data.byteLength, usage: U.UNIFORM | U.COPY_DST });
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  /** Destroys `buffer` once the recorded work that uses it is submitted. */
  retire(buffer: GPUBuffer): void {
    this.retired.push(buffer);
  }
  private retired: GPUBuffer[] = [];

  /** Workgroup counts for `n` threads in workgroups of 256 (2-D when over the 65,535 limit). */
  grid(n: number, wg = WG): [number, number, number] {
    const groups = Math.ceil(n / wg);
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= max) return [groups, 1, 1];
    const y = Math.ceil(groups / max);
    return [Math.ceil(groups / y), y, 1];
  }

  /** Copies the first `bytes` of a tensor's parts into another's (same part size). */
  copy(src: GPUBuffer[], dst: GPUBuffer[], bytes: number): void {
    this.check("copy");
    const P = this.partElems * 4;
    for (let i = 0; i * P < bytes; i++) {
      this.getEncoder().copyBufferToBuffer(src[i], 0, dst[i], 0, Math.min(P, bytes - i * P));
      if (++this.pending >= SUBMIT_EVERY) this.flush();
    }
  }

  /**
   * Uploads `data` into a tensor's parts. Data on a SharedArrayBuffer (a CPU tensor stored in the
   * WASM memory, engine/backends/cpu/wasm/heap.ts) goes through ordinary copies of at most 16 MiB:
   * Node's `webgpu` (Dawn) accepts only ArrayBuffers ("no overload matched for writeBuffer").
   */
  write(dst: GPUBuffer[], data: ArrayBufferView): void {
    this.check("upload");
    const P = this.partElems * 4;
    const shared = !(data.buffer instanceof ArrayBuffer);
    for (let i = 0; i * P < data.byteLength; i++) {
      const start = data.byteOffset + i * P, bytes = Math.min(P, data.byteLength - i * P);
      if (!shared) {
        this.device.queue.writeBuffer(dst[i], 0, data.buffer, start, bytes);
        continue;
      }
      for (let o = 0; o < bytes; o += STAGE_BYTES) {
        const chunk = new Uint8Array(data.buffer, start + o, Math.min(STAGE_BYTES, bytes - o)).slice();
        this.device.queue.writeBuffer(dst[i], o, chunk.buffer, 0, chunk.byteLength);
      }
    }
  }

  /** Drops the recorded, unsubmitted commands (after an error: they may hold an invalid pipeline). */
  private abandon(): void {
    if (this.pass) {
      try {
        this.pass.end();
      } catch {
        /* already invalid */
      }
    }
    this.pass = null;
    this.encoder = null;
    this.pending = 0;
    this.releasePending();
    for (const b of this.retired.splice(0)) b.destroy();
  }

  /** Submits the recorded commands; buffers released meanwhile become free for any use. */
  flush(): void {
    if (!this.encoder) return;
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    this.device.queue.submit([this.encoder.finish()]);
    this.numSubmits++;
    this.encoder = null;
    this.pending = 0;
    this.releasePending();
    for (const b of this.retired.splice(0)) b.destroy();
  }

  protected encoderOpen(): boolean {
    return this.encoder !== null;
  }

  protected forgetBindings(id: number): void {
    for (const key of this.bindKeysOf.get(id) ?? []) this.bindGroups.delete(key);
    this.bindKeysOf.delete(id);
  }

  /** The op a kernel key names ("binary|...|{op:add,...}" -> "add", "matmul|..." -> "matmul"). */
  protected currentOp(): string | null {
    const key = this.kernelKey;
    if (key === null) return null;
    const bar = key.indexOf("|");
    return /\|\{op:(\w+)/.exec(key)?.[1] ?? (bar < 0 ? key : key.slice(0, bar));
  }

  protected deferError(e: Error): void {
    this.asyncError ??= e;
  }

  /**
   * Reads the first `bytes` of a tensor's parts (submitting what is recorded) and checks the
   * index-error flag: one staging buffer per part, the flag copied behind the last part.
   */
  async read(src: GPUBuffer[], bytes: number, op = "read"): Promise<ArrayBuffer> {
    this.check(op);
    const P = this.partElems * 4;
    const enc = this.getEncoder();
    const pieces: { staging: GPUBuffer; size: number; n: number }[] = [];
    for (let i = 0; i === 0 || i * P < bytes; i++) {
      const n = Math.max(0, Math.min(P, bytes - i * P));
      const last = (i + 1) * P >= bytes;
      const size = Math.max(16, Math.ceil(n / 16) * 16) + (last ? 16 : 0);
      const staging = this.readPool.get(size)?.pop() ?? this.device.createBuffer({ size, usage: U.MAP_READ | U.COPY_DST });
      if (n) enc.copyBufferToBuffer(src[i], 0, staging, 0, Math.ceil(n / 4) * 4);
      if (last) enc.copyBufferToBuffer(this.errBuffer, 0, staging, size - 16, 16);
      pieces.push({ staging, size, n });
    }
    this.flush();
    try {
      const dbg = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.GB_GPU_DEBUG;
      const t0 = Date.now();
      const timer = dbg ? setInterval(() => console.error(`[gpu] ${op}: waiting ${Date.now() - t0} ms for a read of ${bytes} bytes`), 5000) : null;
      try {
        await Promise.all(pieces.map((p) => p.staging.mapAsync(MAP_READ_MODE)));
      } finally {
        if (timer) clearInterval(timer);
      }
    } catch (e) {
      this.check(op);
      throw new Error(`${op}: reading GPU memory failed: ${(e as Error).message}`);
    }
    const mapped = pieces.map((p) => p.staging.getMappedRange());
    let out: ArrayBuffer;
    if (pieces.length === 1) out = mapped[0].slice(0, bytes);
    else {
      const all = new Uint8Array(bytes);
      pieces.forEach((p, i) => all.set(new Uint8Array(mapped[i], 0, p.n), i * P));
      out = all.buffer;
    }
    const lastSize = pieces[pieces.length - 1].size;
    const err = new Uint32Array(mapped[mapped.length - 1].slice(lastSize - 16, lastSize))[0];
    for (const { staging, size } of pieces) {
      staging.unmap();
      let list = this.readPool.get(size);
      if (!list) this.readPool.set(size, (list = []));
      if (list.length < 4) list.push(staging);
      else staging.destroy();
    }
    this.check(op);
    if (err) {
      this.device.queue.writeBuffer(this.errBuffer, 0, new Uint32Array(4));
      throw new Error(`${op}: ${INDEX_ERRORS[err] ?? "an index"} was out of range in a GPU op since the last read; the results of that op are wrong`);
    }
    return out;
  }

  /** Waits until the GPU has finished the submitted work (for timing). */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.check("sync");
  }

  destroy(): void {
    try {
      this.flush();
    } catch {
      /* the device may already be lost */
    }
    this.lostError ??= new Error("webgpu: the GPU device was released (gb.releaseGpu()); GPU tensors are gone, CPU tensors stay valid — call await gb.initGpu() to start a new device");
    this.device.destroy();
  }
}

/** Codes kernels write into the error flag (atomicMax) for an index out of range. */
export const INDEX_ERRORS: Record<number, string> = {
  1: "a gather index",
  2: "a scatterAdd index",
  3: "an indexSelect index",
  4: "an indexAdd index",
  5: "a maxPool2dBackward index",
};
