/// <reference types="@webgpu/types" />
/**
 * What every op family of the WebGPU backend shares: a tensor's storage (checked: a GPU tensor
 * of this device, not disposed), new tensors, filling, and binding tensors to shaders.
 *
 * A tensor larger than one storage binding is stored in parts (memory.ts), and a shader reaches
 * any tensor through accessors (get_x(i), set_out(i, v), add_out(i, v): wgsl.ts operandDecl)
 * that pick the part of element i. A shader binds every part of its operands when they fit the
 * device's storage bindings per shader (`maxBindings`); else:
 * - `launch` (one thread per element: element-wise, movement, indexing, pooling) runs the threads
 *   in windows, each binding only the parts its threads touch (each operand's footprint: the
 *   element range a window of threads reads or writes);
 * - matmul, the convolutions and reductions check `fits` and split the op into pieces that fit
 *   (`inTwo`: the op on slices, joined by concat or added).
 */
import type { DType } from "../../dtype.js";
import type { OpTable, TensorData } from "../../op-table.js";
import { shapeStr, sizeOf, stridesOf } from "../../shape.js";
import type { GpuContext } from "./context.js";
import { GpuHandle, mb, type GpuStorage } from "./memory.js";
import { ATOMIC_ADD_F32, binding, constOf, operandDecl, u, wtype, type Access } from "./wgsl.js";

/** A tensor as a shader operand, named `name` in the WGSL (accessors get_name / set_name / add_name). */
export interface Operand {
  name: string;
  t: TensorData;
  /** Default "read". */
  access?: Access;
}

/** Operands bound for one dispatch: their WGSL declarations and accessors (made when read: only for a pipeline not cached yet), and the buffers and access modes in binding order. */
export interface Bound {
  readonly decl: string;
  buffers: GPUBuffer[];
  access: boolean[];
}

/**
 * The element range [first, last] of an operand that threads [lo, hi) may touch (null: none);
 * `along`: the window of the indexed dimension (ops with `along`, see `launch`).
 */
export type Footprint = (lo: number, hi: number, along?: [number, number]) => [number, number] | null;

/** What `launch` gives the shader maker: the operands' declarations and the entry point for this dispatch's threads. */
export interface ShaderParts {
  decl: string;
  /** The entry point: `body` runs for each thread index `idx` of this dispatch (out-of-range threads have returned). */
  main(body: string): string;
  /** Ops with `along`: a statement that returns when position `v` (i32) of the indexed dimension is outside this dispatch's window ("" for the whole dimension). */
  skip(v: string): string;
}

export interface GpuTensors {
  ctx: GpuContext;
  /** The op table (set by index.ts), for ops that split into pieces. */
  ops: OpTable;
  /** The storage of a GPU tensor of this device; throws naming `op` for other storage, a disposed tensor or an earlier device. */
  storage(x: TensorData, op: string): GpuStorage;
  /** A new tensor (`hostWrite`: it will be written with queue.writeBuffer). */
  alloc(shape: number[], dtype: DType, hostWrite?: boolean): TensorData;
  /** A new tensor (handle) on an existing storage. */
  wrap(store: GpuStorage, shape: number[], dtype: DType): TensorData;
  /** A new tensor filled with `value`. */
  fill(shape: number[], value: number, dtype: DType): TensorData;
  /** Releases tensors made inside an op (pieces of a split op). */
  free(...xs: TensorData[]): void;
  /** Elements [start, start + len) of `x` along `dim` (a piece of a split op). */
  slice(x: TensorData, dim: number, start: number, len: number): TensorData;
  /**
   * An op whose tensors do not fit one shader, in two pieces: each cut [t, dim, at] slices t into
   * [0, at) and [at, end) along dim (at: half by default); `piece(i, halves)` computes piece i (it
   * may split again) and the pieces' results are concatenated along `joinDim`, or added (null).
   */
  inTwo(cuts: [TensorData, number, number?][], piece: (i: number, halves: TensorData[]) => TensorData[], joinDim: number | null): TensorData[];
  /** Whether every part of `operands` (plus `extra` other bindings) fits one shader's storage bindings. */
  fits(operands: Operand[], extra?: number): boolean;
  /** Binds `operands` (all their parts, or the parts covering `ranges[k]` of operand k) for one dispatch. */
  bind(op: string, operands: Operand[], ranges?: ([number, number] | null)[]): Bound;
  /**
   * Records a shader of one thread per index in [0, threads) over `operands` (then the index-error
   * flag `err` if `opts.err`): made by `shader` from the declarations and entry point. When the
   * operands do not fit, the threads run in windows that bind the parts given by each operand's
   * `footprints` entry (none: the whole tensor); ops that read or write a tensor at positions
   * taken from an index (gather, scatterAdd, ...) give `along`, the length of that dimension, and
   * may also be run in windows of it (their threads skip positions outside: `skip`). The windows
   * share pipelines: where they start and which parts they bind is a uniform (`win`).
   */
  launch(op: string, operands: Operand[], threads: number, shader: (s: ShaderParts) => string, opts?: { err?: boolean; footprints?: (Footprint | undefined)[]; along?: number }): void;
  /** The error of an op whose operands cannot be bound within the device's limits, even in pieces. */
  tooLarge(op: string, operands: Operand[]): Error;
}

/** The most elements of one GPU tensor: shaders index elements with u32. */
const MAX_ELEMENTS = 2 ** 32 - 1;

export function gpuTensors(ctx: GpuContext): GpuTensors {
  const storage = (x: TensorData, op: string): GpuStorage => {
    const h = x.storage as GpuHandle;
    if (!(h instanceof GpuHandle)) throw new Error(`${op}: expected a GPU tensor (webgpu backend), got storage of another backend`);
    if (h.released) throw new Error(`${op}: a tensor of shape ${shapeStr(x.shape)} was used after it was disposed (by dispose() or a gb.tidy() scope)`);
    if (h.ctx !== ctx) throw new Error(`${op}: the tensor belongs to an earlier GPU device (it was lost or replaced); recreate it`);
    return h.store;
  };
  const alloc = (shape: number[], dtype: DType, hostWrite = false): TensorData => {
    const n = sizeOf(shape);
    if (n > MAX_ELEMENTS) throw new RangeError(`webgpu: a tensor of shape ${shapeStr(shape)} has ${n} elements; GPU shaders index at most ${MAX_ELEMENTS} (32-bit indices)`);
    return wrap(ctx.acquireStorage(n, hostWrite), shape, dtype);
  };
  const wrap = (store: GpuStorage, shape: number[], dtype: DType): TensorData => {
    const td: TensorData = { storage: null, shape, dtype };
    td.storage = ctx.handle(store, td, shape);
    return td;
  };
  const P = ctx.partElems;
  const nParts = (x: TensorData) => (x.storage as GpuHandle).store.parts.length;
  const fits = (operands: Operand[], extra = 0) => operands.reduce((s, o) => s + nParts(o.t), extra) <= ctx.maxBindings;

  /** Binds operands (their parts covering ranges[k], all by default); `first(k)`: a WGSL expression for the first bound part, instead of a constant. */
  const bind = (op: string, operands: Operand[], ranges?: ([number, number] | null)[], first?: (k: number) => string): Bound => {
    const buffers: GPUBuffer[] = [];
    const access: boolean[] = [];
    const decls: (() => string)[] = [];
    if (operands.some((o) => o.access === "atomic" && o.t.dtype === "float32")) decls.push(() => ATOMIC_ADD_F32);
    operands.forEach((o, k) => {
      const parts = storage(o.t, op).parts;
      const r = ranges?.[k];
      const p0 = r ? Math.floor(r[0] / P) : 0;
      const p1 = r ? Math.floor(r[1] / P) : parts.length - 1;
      const acc = o.access ?? "read";
      const at = buffers.length;
      decls.push(() => operandDecl(o.name, wtype(o.t.dtype), acc, at, parts.length === 1, p1 - p0 + 1, first ? first(k) : p0, P));
      for (let j = p0; j <= p1; j++) {
        buffers.push(parts[j].buffer);
        access.push(acc !== "read");
      }
    });
    return {
      get decl() {
        return decls.map((d) => d()).join("");
      },
      buffers,
      access,
    };
  };

  const tooLarge = (op: string, operands: Operand[]): Error =>
    new Error(
      `${op}: its tensors (${operands.map((o) => `${o.name} ${shapeStr(o.t.shape)}: ${nParts(o.t)} part${nParts(o.t) === 1 ? "" : "s"}`).join(", ")}) ` +
        `cannot be bound within this GPU's limits (${ctx.maxBindings} storage bindings per shader, parts of ${P * 4 >= 2 ** 20 ? `${mb(P * 4)} MB` : `${P * 4} bytes`}), even in pieces`,
    );

  const launch: GpuTensors["launch"] = (op, operands, threads, shader, opts = {}) => {
    if (threads === 0) return;
    const errDecl = (at: number) => (opts.err ? binding(at, "err", "atomic<u32>", true) : "");
    if (fits(operands, opts.err ? 1 : 0)) {
      const b = bind(op, operands);
      const main = (body: string) => entry(`gid.x + gid.y * nwg.x * 256u`, u(threads), body);
      ctx.dispatch(op, () => shader({ decl: b.decl + errDecl(b.buffers.length), main, skip: () => "" }), b.buffers, ctx.grid(threads), b.access, opts.err);
      return;
    }
    // windows of threads (and of the indexed dimension), halved until the parts each touches fit
    const along = opts.along ?? 1;
    const rangesOf = (lo: number, hi: number, a: number, b: number) =>
      operands.map((o, k) => opts.footprints?.[k]?.(lo, hi, [a, b]) ?? ([0, Math.max(0, sizeOf(o.t.shape) - 1)] as [number, number]));
    const need = (ranges: ([number, number] | null)[]) => ranges.reduce((s, r) => s + (r ? Math.floor(r[1] / P) - Math.floor(r[0] / P) + 1 : 1), opts.err ? 1 : 0);
    const wins: { lo: number; hi: number; a: number; b: number; ranges: ([number, number] | null)[] }[] = [];
    const search = (lo: number, hi: number, a: number, b: number): void => {
      const ranges = rangesOf(lo, hi, a, b);
      if (need(ranges) <= ctx.maxBindings) return void wins.push({ lo, hi, a, b, ranges });
      const halves: [number, () => void][] = [];
      if (hi - lo > 1) {
        const m = lo + Math.ceil((hi - lo) / 2);
        halves.push([need(rangesOf(lo, m, a, b)), () => (search(lo, m, a, b), search(m, hi, a, b))]);
      }
      if (b > a) {
        const m = a + Math.ceil((b - a + 1) / 2);
        halves.push([need(rangesOf(lo, hi, a, m - 1)), () => (search(lo, hi, a, m - 1), search(lo, hi, m, b))]);
      }
      if (!halves.length) throw tooLarge(op, operands);
      halves.sort((x, y) => x[0] - y[0])[0][1]();
    };
    search(0, threads, 0, along - 1);
    // per window, 256 bytes: lo, hi, the indexed dimension's window [a, b], then each operand's first bound part
    const params = new Uint32Array(64 * wins.length);
    wins.forEach((w, i) => {
      params.set([w.lo, w.hi, w.a, w.b], 64 * i);
      w.ranges.forEach((r, k) => (params[64 * i + 4 + k] = r ? Math.floor(r[0] / P) : 0));
    });
    const buffer = ctx.uniforms(params);
    const main = (body: string) => entry(`win.v[0].x + gid.x + gid.y * nwg.x * 256u`, `win.v[0].y`, body);
    const skip = (v: string) => (opts.along ? `if (u32(${v}) < win.v[0].z || u32(${v}) > win.v[0].w) { return; }` : "");
    wins.forEach((w, i) => {
      const b = bind(op, operands, w.ranges.map((r) => r ?? [0, 0]), (k) => `win.v[${1 + (k >> 2)}][${k & 3}]`);
      const at = b.buffers.length + (opts.err ? 1 : 0);
      const decl = () => b.decl + errDecl(b.buffers.length) + `struct Window { v: array<vec4u, 16> }\n@group(0) @binding(${at}) var<uniform> win: Window;\n`;
      ctx.numWindows++;
      ctx.dispatch(op, () => shader({ decl: decl(), main, skip }), b.buffers, ctx.grid(w.hi - w.lo), b.access, opts.err, { buffer, offset: 256 * i });
    });
    ctx.retire(buffer);
  };

  const fill = (shape: number[], value: number, dtype: DType): TensorData => {
    const o = alloc(shape, dtype);
    const n = sizeOf(shape);
    launch("fill", [{ name: "out", t: o, access: "write" }], n, (s) => s.decl + s.main(`  set_out(idx, ${constOf(value, dtype)});`), { footprints: [same] });
    return o;
  };
  const free = (...xs: TensorData[]) => {
    for (const x of xs) ctx.releaseHandle(x.storage as GpuHandle);
  };

  const slice = (x: TensorData, dim: number, start: number, len: number): TensorData => {
    const begin = x.shape.map((_, d) => (d === dim ? start : 0));
    const outShape = x.shape.map((n, d) => (d === dim ? len : n));
    return k.ops.slice(x, { begin, step: x.shape.map(() => 1), outShape });
  };

  const inTwo: GpuTensors["inTwo"] = (cuts, piece, joinDim) => {
    ctx.numPieces++;
    const results = [0, 1].map((i) => {
      const halves = cuts.map(([t, dim, at = Math.ceil(t.shape[dim] / 2)]) => (i === 0 ? slice(t, dim, 0, at) : slice(t, dim, at, t.shape[dim] - at)));
      const r = piece(i, halves);
      free(...halves);
      return r;
    });
    const joined = results[0].map((r0, j) => {
      const r1 = results[1][j];
      return joinDim === null ? k.ops.binary(r0, r1, { op: "add", outShape: [...r0.shape], outDtype: r0.dtype }) : k.ops.concat([r0, r1], { axis: joinDim });
    });
    free(...results.flat());
    return joined;
  };

  const k: GpuTensors = { ctx, ops: null as unknown as OpTable, storage, alloc, wrap, fill, free, slice, inTwo, fits, bind, launch, tooLarge };
  return k;
}

/** A compute entry point of workgroups of 256 threads: `body` runs for thread index `idx` = `first` + the global id, below `end`. */
function entry(first: string, end: string, body: string): string {
  return `
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = ${first};
  if (idx >= ${end}) { return; }
${body}
}
`;
}

/** The footprint of an operand indexed by the thread index itself (an output written at idx). */
export const same: Footprint = (lo, hi) => [lo, hi - 1];

/**
 * The footprint of an operand read (or written) at offset + sum_d c'_d * strides_d for the
 * coordinates c of the thread index in `shape` (strides >= 0), where c'_d = c_d unless `remap`
 * maps the range [first, last] of c_d to another (null: no element is touched), e.g. a padded
 * read's valid range or the whole dimension an index selects from.
 */
export function affine(shape: readonly number[], strides: readonly number[], offset = 0, remap?: (d: number, first: number, last: number) => [number, number] | null): Footprint {
  return (lo, hi) => {
    let min = Infinity, max = -Infinity;
    for (const box of boxes(shape, lo, hi)) {
      let a = offset, b = offset, empty = false;
      box.forEach(([first, last], d) => {
        const r = remap ? remap(d, first, last) : [first, last];
        if (!r || r[0] > r[1]) empty = true;
        else {
          a += r[0] * strides[d];
          b += r[1] * strides[d];
        }
      });
      if (empty) continue;
      min = Math.min(min, a);
      max = Math.max(max, b);
    }
    return min <= max ? [min, max] : null;
  };
}

/**
 * Boxes of coordinates (per dimension [first, last]) that together cover the flat indices [lo, hi)
 * of `shape` (row-major): a partial first row, whole rows, a partial last row, per dimension.
 */
export function boxes(shape: readonly number[], lo: number, hi: number): [number, number][][] {
  const out: [number, number][][] = [];
  const st = stridesOf(shape);
  const rec = (d: number, lo: number, hi: number, prefix: [number, number][]): void => {
    if (lo >= hi) return;
    if (d === shape.length) return void out.push(prefix);
    const P = st[d];
    let a = Math.floor(lo / P), b = Math.floor((hi - 1) / P);
    if (a === b) return rec(d + 1, lo - a * P, hi - a * P, [...prefix, [a, a]]);
    if (lo % P) rec(d + 1, lo - a * P, P, [...prefix, [a, a]]), a++;
    if (hi % P) rec(d + 1, 0, hi - b * P, [...prefix, [b, b]]), b--;
    if (a <= b) out.push([...prefix, [a, b], ...shape.slice(d + 1).map((n) => [0, n - 1] as [number, number])]);
  };
  rec(0, lo, hi, []);
  return out;
}
