/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend: assembles the op table from the op families (elementwise.ts, reduce.ts,
 * matmul.ts, conv.ts, movement.ts) and adds uploads, reads and disposal.
 * Storage is a GpuHandle (a reference to a tensor's pooled buffers: one, or several parts
 * when it exceeds one binding); every element is 4 bytes (float32 as f32, int32 as i32, bool
 * as u32 0/1). Shapes are baked into the shader text; pipelines are cached by that text.
 */
import type { Backend, OpTable, TensorData } from "../../op-table.js";
import { shapeStr, sizeOf } from "../../shape.js";
import type { GpuContext } from "./context.js";
import { GpuHandle } from "./memory.js";
import { convPoolOps } from "./conv.js";
import { elementwiseOps } from "./elementwise.js";
import { gemmTiling } from "./gemm.js";
import { matmulOps } from "./matmul.js";
import { movementOps } from "./movement.js";
import { reductionOps } from "./reduce.js";
import { gpuTensors } from "./tensors.js";

export function makeWebGpuBackend(ctx: GpuContext): Backend {
  const k = gpuTensors(ctx);
  const ops: OpTable = { ...elementwiseOps(k), ...reductionOps(k), ...matmulOps(k), ...convPoolOps(k), ...movementOps(k) };
  k.ops = keyedOps(ctx, ops);
  const parts = (x: TensorData, op: string) => k.storage(x, op).parts.map((p) => p.buffer);

  const backend: Backend = {
    name: "webgpu",
    ops: k.ops,
    fromHost(values, shape, dtype) {
      const n = sizeOf(shape);
      if (values.length !== n) throw new Error(`fromHost: ${values.length} values do not fit shape ${shapeStr(shape)}`);
      const o = k.alloc([...shape], dtype, true);
      let data: ArrayBufferView;
      if (dtype === "float32") data = values instanceof Float32Array ? values : Float32Array.from(values);
      else if (dtype === "int32") data = values instanceof Int32Array ? values : Int32Array.from(values);
      else data = Uint32Array.from(values, (v) => (v ? 1 : 0));
      ctx.write(parts(o, "fromHost"), data);
      return o;
    },
    fill(shape, value, dtype) {
      return k.fill([...shape], value, dtype);
    },
    async read(x) {
      const n = sizeOf(x.shape);
      const bytes = await ctx.read(parts(x, "read"), n * 4, "data");
      if (x.dtype === "float32") return new Float32Array(bytes);
      if (x.dtype === "int32") return new Int32Array(bytes);
      return Uint8Array.from(new Uint32Array(bytes));
    },
    readSync() {
      return null;
    },
    assign(dst, src) {
      const d = parts(dst, "assign"), s = parts(src, "assign");
      if (sizeOf(dst.shape) !== sizeOf(src.shape)) throw new Error(`assign: shape ${shapeStr(src.shape)} does not match ${shapeStr(dst.shape)}`);
      if (d[0] !== s[0]) ctx.copy(s, d, sizeOf(dst.shape) * 4);
    },
    dispose(x) {
      const h = x.storage as GpuHandle;
      if (h instanceof GpuHandle) ctx.releaseHandle(h);
    },
  };
  return backend;
}

/**
 * The op table with every call run under a key naming all that its shaders depend on (the
 * kernel, its inputs' dtypes and shapes, its attributes, the GEMM tiling mode), so that repeated
 * calls (every step of a training loop) find their pipelines without generating WGSL.
 */
function keyedOps(ctx: GpuContext, ops: OpTable): OpTable {
  const keyed: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(ops) as [string, (...args: unknown[]) => unknown][]) {
    keyed[name] = (...args: unknown[]) => {
      let key = name + "|" + gemmTiling();
      for (const a of args) key += "|" + keyOf(a);
      return ctx.inKernel(key, () => fn(...args));
    };
  }
  return keyed as unknown as OpTable;
}

/** A string that tells apart any two different kernel arguments (a tensor by dtype and shape only). */
function keyOf(v: unknown): string {
  if (v === null || v === undefined) return "~";
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
  if (typeof v !== "object") return String(v);
  if (Array.isArray(v)) {
    let s = "[";
    for (const x of v) s += keyOf(x) + ",";
    return s + "]";
  }
  const o = v as Record<string, unknown>;
  if ("storage" in o && "dtype" in o && Array.isArray(o.shape)) return `${o.dtype as string}(${(o.shape as number[]).join(",")})`;
  let s = "{";
  for (const k in o) s += k + ":" + keyOf(o[k]) + ",";
  return s + "}";
}

