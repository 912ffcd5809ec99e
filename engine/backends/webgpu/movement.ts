/// <reference types="@webgpu/types" />
/** Movement and indexing: permute, reshape (free), expand, slice and its gradient, pad, concat, gather, scatterAdd, indexSelect, indexAdd. */
import type { OpTable, TensorData } from "../../op-table.js";
import { broadcastStrides, shapeStr, sizeOf, stridesOf } from "../../shape.js";
import type { GpuHandle } from "./memory.js";
import type { GpuTensors } from "./tensors.js";
import { ATOMIC_ADD_F32, binding, constOf, coords, main, offsetFn, u, wtype } from "./wgsl.js";

type MovementOp = "permute" | "reshape" | "expand" | "slice" | "sliceGrad" | "pad" | "concat" | "gather" | "scatterAdd" | "indexSelect" | "indexAdd";

export function movementOps(k: GpuTensors): Pick<OpTable, MovementOp> {
  const { buf, alloc, wrap, run, fill } = k;
  /** out[i] = x[offset + sum_d c_d * strides_d] for every index of `shape`. */
  function gatherCopy(op: string, x: TensorData, shape: number[], strides: number[], offset: number): TensorData {
    const o = alloc(shape, x.dtype);
    const n = sizeOf(shape);
    if (n === 0) return o;
    const t = wtype(x.dtype);
    const code = () => binding(0, "x", t) + binding(1, "out", t, true) + offsetFn("src", shape, strides, offset) +
      main(`  if (idx >= ${u(n)}) { return; }\n  out[idx] = x[src(idx)];`);
    run(op, code, [x], o, n);
    return o;
  }


  return {
    permute(x, { perm }) {
      const st = stridesOf(x.shape);
      const shape = perm.map((p) => x.shape[p]);
      return gatherCopy("permute", x, shape, perm.map((p) => st[p]), 0);
    },

    reshape(x, { shape }) {
      const h = x.storage as GpuHandle;
      buf(x, "reshape");
      return wrap(h.buf, [...shape], x.dtype);
    },

    expand(x, { shape }) {
      return gatherCopy("expand", x, [...shape], broadcastStrides(x.shape, shape), 0);
    },

    slice(x, { begin, step, outShape }) {
      const st = stridesOf(x.shape);
      let off = 0;
      for (let d = 0; d < begin.length; d++) off += begin[d] * st[d];
      return gatherCopy("slice", x, [...outShape], st.map((s, d) => s * step[d]), off);
    },

    sliceGrad(dy, { begin, step, inShape }) {
      const o = alloc([...inShape], dy.dtype);
      const n = sizeOf(inShape);
      if (n === 0) return o;
      const t = wtype(dy.dtype);
      const dst = stridesOf(dy.shape);
      const conds: string[] = [];
      let offExpr = "0u";
      inShape.forEach((_, d) => {
        conds.push(`c${d} >= ${u(begin[d])}`, `(c${d} - ${u(begin[d])}) % ${u(step[d])} == 0u`, `(c${d} - ${u(begin[d])}) / ${u(step[d])} < ${u(dy.shape[d])}`);
        offExpr += ` + ((c${d} - ${u(begin[d])}) / ${u(step[d])}) * ${u(dst[d])}`;
      });
      const body = `  if (idx >= ${u(n)}) { return; }
${coords("idx", inShape)}
  var v = ${t}(0);
  if (${conds.length ? conds.join(" && ") : "true"}) { v = dy[${offExpr}]; }
  out[idx] = v;`;
      run("sliceGrad", () => binding(0, "dy", t) + binding(1, "out", t, true) + main(body), [dy], o, n);
      return o;
    },

    pad(x, { pads, value }) {
      const outShape = x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
      if (outShape.some((d) => d < 0)) throw new Error(`pad: padding ${JSON.stringify(pads)} would give a negative size for shape ${shapeStr(x.shape)}`);
      const o = alloc(outShape, x.dtype);
      const n = sizeOf(outShape);
      if (n === 0) return o;
      const t = wtype(x.dtype);
      const st = stridesOf(x.shape);
      const conds: string[] = [];
      let offExpr = "0";
      outShape.forEach((_, d) => {
        conds.push(`s${d} >= 0i && s${d} < ${x.shape[d]}i`);
        offExpr += ` + s${d} * ${st[d]}i`;
      });
      const lets = outShape.map((_, d) => `  let s${d} = i32(c${d}) - ${pads[d][0]}i;`).join("\n");
      const body = `  if (idx >= ${u(n)}) { return; }
${coords("idx", outShape)}
${lets}
  var v = ${constOf(value, x.dtype)};
  if (${conds.length ? conds.join(" && ") : "true"}) { v = x[u32(${offExpr})]; }
  out[idx] = v;`;
      run("pad", () => binding(0, "x", t) + binding(1, "out", t, true) + main(body), [x], o, n);
      return o;
    },

    concat(xs, { axis }) {
      const shape = [...xs[0].shape];
      shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
      const dtype = xs[0].dtype;
      const o = alloc(shape, dtype);
      const t = wtype(dtype);
      const ost = stridesOf(shape);
      let at = 0;
      for (const x of xs) {
        const n = sizeOf(x.shape);
        if (n > 0) {
          // each input writes its block: out index = coords of x, shifted by `at` along axis
          const code = () => binding(0, "x", t) + binding(1, "out", t, true) + offsetFn("dst", x.shape, ost, at * ost[axis]) +
            main(`  if (idx >= ${u(n)}) { return; }\n  out[dst(idx)] = x[idx];`);
          run("concat", code, [x], o, n);
        }
        at += x.shape[axis];
      }
      return o;
    },

    gather(x, index, { dim }) {
      const outShape = [...index.shape];
      const o = alloc(outShape, x.dtype);
      const n = sizeOf(outShape);
      if (n === 0) return o;
      const t = wtype(x.dtype);
      const xst = stridesOf(x.shape);
      let offExpr = "0u";
      outShape.forEach((_, d) => (offExpr += d === dim ? ` + u32(v) * ${u(xst[d])}` : ` + c${d} * ${u(xst[d])}`));
      const code = () => binding(0, "x", t) + binding(1, "index", "i32") + binding(2, "out", t, true) + `@group(0) @binding(3) var<storage, read_write> err: array<atomic<u32>>;\n` +
        main(`  if (idx >= ${u(n)}) { return; }
${coords("idx", outShape)}
  let v = index[idx];
  if (v < 0i || v >= ${x.shape[dim]}i) { atomicMax(&err[0], 1u); out[idx] = ${t}(0); return; }
  out[idx] = x[${offExpr}];`);
      run("gather", code, [x, index], o, n, true);
      return o;
    },

    scatterAdd(src, index, { dim, shape }) {
      const t = wtype(src.dtype);
      const o = fill([...shape], 0, src.dtype);
      const n = sizeOf(index.shape);
      if (n === 0) return o;
      const ost = stridesOf(shape), sst = stridesOf(src.shape);
      let dstExpr = "0u", srcExpr = "0u";
      index.shape.forEach((_, d) => {
        dstExpr += d === dim ? ` + u32(v) * ${u(ost[d])}` : ` + c${d} * ${u(ost[d])}`;
        srcExpr += ` + c${d} * ${u(sst[d])}`;
      });
      const atomicT = t === "f32" ? "u32" : t;
      const add = t === "f32" ? `atomicAddF32(&out[${dstExpr}], s)` : `atomicAdd(&out[${dstExpr}], s)`;
      const code = () => binding(0, "src", t) + binding(1, "index", "i32") + `@group(0) @binding(2) var<storage, read_write> out: array<atomic<${atomicT}>>;\n` +
        `@group(0) @binding(3) var<storage, read_write> err: array<atomic<u32>>;\n` + (t === "f32" ? ATOMIC_ADD_F32 : "") +
        main(`  if (idx >= ${u(n)}) { return; }
${coords("idx", index.shape)}
  let v = index[idx];
  if (v < 0i || v >= ${shape[dim]}i) { atomicMax(&err[0], 2u); return; }
  let s = src[${srcExpr}];
  ${add};`);
      run("scatterAdd", code, [src, index], o, n, true);
      return o;
    },

    indexSelect(x, index, { dim }) {
      const shape = [...x.shape];
      const k = sizeOf(index.shape);
      shape[dim] = k;
      const o = alloc(shape, x.dtype);
      const n = sizeOf(shape);
      if (n === 0) return o;
      const t = wtype(x.dtype);
      const inner = sizeOf(x.shape.slice(dim + 1)), len = x.shape[dim];
      const code = () => binding(0, "x", t) + binding(1, "index", "i32") + binding(2, "out", t, true) + `@group(0) @binding(3) var<storage, read_write> err: array<atomic<u32>>;\n` +
        main(`  if (idx >= ${u(n)}) { return; }
  let i = idx % ${u(inner)};
  let j = (idx / ${u(inner)}) % ${u(k)};
  let o = idx / ${u(inner * k)};
  let v = index[j];
  if (v < 0i || v >= ${len}i) { atomicMax(&err[0], 3u); out[idx] = ${t}(0); return; }
  out[idx] = x[(o * ${u(len)} + u32(v)) * ${u(inner)} + i];`);
      run("indexSelect", code, [x, index], o, n, true);
      return o;
    },

    indexAdd(src, index, { dim, shape }) {
      const t = wtype(src.dtype);
      const o = fill([...shape], 0, src.dtype);
      const n = sizeOf(src.shape);
      if (n === 0) return o;
      const k = sizeOf(index.shape);
      const inner = sizeOf(shape.slice(dim + 1)), len = shape[dim];
      const atomicT = t === "f32" ? "u32" : t;
      const dst = `(oo * ${u(len)} + u32(v)) * ${u(inner)} + i`;
      const add = t === "f32" ? `atomicAddF32(&out[${dst}], src[idx])` : `atomicAdd(&out[${dst}], src[idx])`;
      const code = () => binding(0, "src", t) + binding(1, "index", "i32") + `@group(0) @binding(2) var<storage, read_write> out: array<atomic<${atomicT}>>;\n` +
        `@group(0) @binding(3) var<storage, read_write> err: array<atomic<u32>>;\n` + (t === "f32" ? ATOMIC_ADD_F32 : "") +
        main(`  if (idx >= ${u(n)}) { return; }
  let i = idx % ${u(inner)};
  let j = (idx / ${u(inner)}) % ${u(k)};
  let oo = idx / ${u(inner * k)};
  let v = index[j];
  if (v < 0i || v >= ${len}i) { atomicMax(&err[0], 4u); return; }
  ${add};`);
      run("indexAdd", code, [src, index], o, n, true);
      return o;
    },

  };
}
