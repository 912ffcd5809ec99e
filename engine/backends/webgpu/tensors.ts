/// <reference types="@webgpu/types" />
/**
 * What every op family of the WebGPU backend shares: a tensor's buffer (checked: a GPU tensor
 * of this device, not disposed), new tensors on pooled buffers, filling, and `run`, which records
 * a one-thread-per-output-element shader over a tensor's inputs and output.
 */
import type { DType } from "../../dtype.js";
import type { TensorData } from "../../op-table.js";
import { shapeStr, sizeOf } from "../../shape.js";
import type { GpuContext } from "./context.js";
import { GpuHandle, type PooledBuffer } from "./memory.js";
import { binding, constOf, main, u, wtype } from "./wgsl.js";

export interface GpuTensors {
  ctx: GpuContext;
  /** The buffer of a GPU tensor of this device; throws naming `op` for other storage, a disposed tensor or an earlier device. */
  buf(x: TensorData, op: string): GPUBuffer;
  /** A new tensor on a fresh pooled buffer (`hostWrite`: it will be written with queue.writeBuffer). */
  alloc(shape: number[], dtype: DType, hostWrite?: boolean): TensorData;
  /** A new tensor (handle) on an existing pooled buffer. */
  wrap(pb: PooledBuffer, shape: number[], dtype: DType): TensorData;
  /** The buffer of a tensor just allocated (no checks). */
  out(x: TensorData): GPUBuffer;
  /** Records `code` (bindings: the inputs read-only, then the output read-write, then the index-error flag if `useErr`) over `threads` threads. */
  run(op: string, code: () => string, inputs: TensorData[], output: TensorData, threads: number, useErr?: boolean): void;
  /** A new tensor filled with `value`. */
  fill(shape: number[], value: number, dtype: DType): TensorData;
}

export function gpuTensors(ctx: GpuContext): GpuTensors {
  const buf = (x: TensorData, op: string): GPUBuffer => {
    const h = x.storage as GpuHandle;
    if (!(h instanceof GpuHandle)) throw new Error(`${op}: expected a GPU tensor (webgpu backend), got storage of another backend`);
    if (h.released) throw new Error(`${op}: a tensor of shape ${shapeStr(x.shape)} was used after it was disposed (by dispose() or a gb.tidy() scope)`);
    if (h.ctx !== ctx) throw new Error(`${op}: the tensor belongs to an earlier GPU device (it was lost or replaced); recreate it`);
    return h.buf.buffer;
  };
  const alloc = (shape: number[], dtype: DType, hostWrite = false): TensorData => {
    const pb = ctx.acquire(sizeOf(shape) * 4, hostWrite);
    return wrap(pb, shape, dtype);
  };
  const wrap = (pb: PooledBuffer, shape: number[], dtype: DType): TensorData => {
    const td: TensorData = { storage: null, shape, dtype };
    td.storage = ctx.handle(pb, td);
    return td;
  };
  const out = (x: TensorData): GPUBuffer => (x.storage as GpuHandle).buf.buffer;
  const run = (op: string, code: () => string, inputs: TensorData[], output: TensorData, threads: number, useErr = false) => {
    const bufs = inputs.map((x) => buf(x, op));
    ctx.dispatch(op, code, [...bufs, out(output)], ctx.grid(threads), [...inputs.map(() => false), true], useErr);
  };
function fill(shape: number[], value: number, dtype: DType): TensorData {
  const o = alloc(shape, dtype);
  const n = sizeOf(shape);
  if (n === 0) return o;
  const t = wtype(dtype);
  const code = () => binding(0, "out", t, true) + main(`  if (idx >= ${u(n)}) { return; }\n  out[idx] = ${constOf(value, dtype)};`);
  ctx.dispatch("fill", code, [out(o)], ctx.grid(n), [true]);
  return o;
}
  return { ctx, buf, alloc, wrap, out, run, fill };
}
