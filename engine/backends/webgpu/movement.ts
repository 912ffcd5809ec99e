/// <reference types="@webgpu/types" />
/** Movement and indexing: permute, reshape (free), expand, slice and its gradient, pad, concat, gather, scatterAdd, indexSelect, indexAdd. */
import type { OpTable, TensorData } from "../../op-table.js";
import { broadcastStrides, shapeStr, sizeOf, stridesOf } from "../../shape.js";
import { affine, same, type Footprint, type GpuTensors } from "./tensors.js";
import { constOf, coords, offsetFn, u, wtype } from "./wgsl.js";

type MovementOp = "permute" | "reshape" | "expand" | "slice" | "sliceGrad" | "pad" | "concat" | "gather" | "scatterAdd" | "indexSelect" | "indexAdd";

export function movementOps(k: GpuTensors): Pick<OpTable, MovementOp> {
  const { alloc, launch, fill } = k;
  /** out[i] = x[offset + sum_d c_d * strides_d] for every index of `shape`. */
  function gatherCopy(op: string, x: TensorData, shape: number[], strides: number[], offset: number): TensorData {
    const o = alloc(shape, x.dtype);
    launch(op, [{ name: "x", t: x }, { name: "out", t: o, access: "write" }], sizeOf(shape), (s) =>
      s.decl + offsetFn("src", shape, strides, offset) + s.main(`  set_out(idx, get_x(src(idx)));`),
    { footprints: [affine(shape, strides, offset), same] });
    return o;
  }
  /** Footprint of a tensor that index ops read or write along `dim` at positions in the window of that dimension, elsewhere at the thread's coordinates. */
  const anyAlong = (shape: number[], strides: number[], dim: number): Footprint => (lo, hi, along) =>
    affine(shape, strides, 0, (d, a, b) => (d === dim ? along! : [a, b]))(lo, hi);

  return {
    permute(x, { perm }) {
      const st = stridesOf(x.shape);
      const shape = perm.map((p) => x.shape[p]);
      return gatherCopy("permute", x, shape, perm.map((p) => st[p]), 0);
    },

    reshape(x, { shape }) {
      return k.wrap(k.storage(x, "reshape"), [...shape], x.dtype);
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
      const t = wtype(dy.dtype);
      const dst = stridesOf(dy.shape);
      const conds: string[] = [];
      let offExpr = "0u";
      inShape.forEach((_, d) => {
        conds.push(`c${d} >= ${u(begin[d])}`, `(c${d} - ${u(begin[d])}) % ${u(step[d])} == 0u`, `(c${d} - ${u(begin[d])}) / ${u(step[d])} < ${u(dy.shape[d])}`);
        offExpr += ` + ((c${d} - ${u(begin[d])}) / ${u(step[d])}) * ${u(dst[d])}`;
      });
      const body = `${coords("idx", inShape)}
  var v = ${t}(0);
  if (${conds.length ? conds.join(" && ") : "true"}) { v = get_dy(${offExpr}); }
  set_out(idx, v);`;
      // the elements of dy that input coordinates [a, b] of dimension d come from
      const dyRange = (d: number, a: number, b: number): [number, number] =>
        [Math.max(0, Math.ceil((a - begin[d]) / step[d])), Math.min(dy.shape[d] - 1, Math.floor((b - begin[d]) / step[d]))];
      launch("sliceGrad", [{ name: "dy", t: dy }, { name: "out", t: o, access: "write" }], sizeOf(inShape), (s) => s.decl + s.main(body),
        { footprints: [affine(inShape, dst, 0, dyRange), same] });
      return o;
    },

    pad(x, { pads, value }) {
      const outShape = x.shape.map((d, i) => d + pads[i][0] + pads[i][1]);
      if (outShape.some((d) => d < 0)) throw new Error(`pad: padding ${JSON.stringify(pads)} would give a negative size for shape ${shapeStr(x.shape)}`);
      const o = alloc(outShape, x.dtype);
      const st = stridesOf(x.shape);
      const conds: string[] = [];
      let offExpr = "0";
      outShape.forEach((_, d) => {
        conds.push(`s${d} >= 0i && s${d} < ${x.shape[d]}i`);
        offExpr += ` + s${d} * ${st[d]}i`;
      });
      const lets = outShape.map((_, d) => `  let s${d} = i32(c${d}) - ${pads[d][0]}i;`).join("\n");
      const body = `${coords("idx", outShape)}
${lets}
  var v = ${constOf(value, x.dtype)};
  if (${conds.length ? conds.join(" && ") : "true"}) { v = get_x(u32(${offExpr})); }
  set_out(idx, v);`;
      const xRange = (d: number, a: number, b: number): [number, number] => [Math.max(0, a - pads[d][0]), Math.min(x.shape[d] - 1, b - pads[d][0])];
      launch("pad", [{ name: "x", t: x }, { name: "out", t: o, access: "write" }], sizeOf(outShape), (s) => s.decl + s.main(body),
        { footprints: [affine(outShape, st, 0, xRange), same] });
      return o;
    },

    concat(xs, { axis }) {
      const shape = [...xs[0].shape];
      shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
      const o = alloc(shape, xs[0].dtype);
      const ost = stridesOf(shape);
      let at = 0;
      for (const x of xs) {
        // each input writes its block: out index = coords of x, shifted by `at` along axis
        const dst = at * ost[axis];
        launch("concat", [{ name: "x", t: x }, { name: "out", t: o, access: "write" }], sizeOf(x.shape), (s) =>
          s.decl + offsetFn("dst", x.shape, ost, dst) + s.main(`  set_out(dst(idx), get_x(idx));`),
        { footprints: [same, affine(x.shape, ost, dst)] });
        at += x.shape[axis];
      }
      return o;
    },

    gather(x, index, { dim }) {
      const outShape = [...index.shape];
      const o = alloc(outShape, x.dtype);
      const t = wtype(x.dtype);
      const xst = stridesOf(x.shape);
      let offExpr = "0u";
      outShape.forEach((_, d) => (offExpr += d === dim ? ` + u32(v) * ${u(xst[d])}` : ` + c${d} * ${u(xst[d])}`));
      launch("gather", [{ name: "x", t: x }, { name: "index", t: index }, { name: "out", t: o, access: "write" }], sizeOf(outShape), (s) => s.decl + s.main(`${coords("idx", outShape)}
  let v = get_index(idx);
  if (v < 0i || v >= ${x.shape[dim]}i) { atomicMax(&err[0], 1u); set_out(idx, ${t}(0)); return; }
  ${s.skip("v")}
  set_out(idx, get_x(${offExpr}));`), { err: true, footprints: [anyAlong(outShape, xst, dim), same, same], along: x.shape[dim] });
      return o;
    },

    scatterAdd(src, index, { dim, shape }) {
      const o = fill([...shape], 0, src.dtype);
      const ost = stridesOf(shape), sst = stridesOf(src.shape);
      let dstExpr = "0u", srcExpr = "0u";
      index.shape.forEach((_, d) => {
        dstExpr += d === dim ? ` + u32(v) * ${u(ost[d])}` : ` + c${d} * ${u(ost[d])}`;
        srcExpr += ` + c${d} * ${u(sst[d])}`;
      });
      launch("scatterAdd", [{ name: "src", t: src }, { name: "index", t: index }, { name: "out", t: o, access: "atomic" }], sizeOf(index.shape), (s) => s.decl + s.main(`${coords("idx", index.shape)}
  let v = get_index(idx);
  if (v < 0i || v >= ${shape[dim]}i) { atomicMax(&err[0], 2u); return; }
  ${s.skip("v")}
  add_out(${dstExpr}, get_src(${srcExpr}));`), { err: true, footprints: [affine(index.shape, sst), same, anyAlong(index.shape, ost, dim)], along: shape[dim] });
      return o;
    },

    indexSelect(x, index, { dim }) {
      const shape = [...x.shape];
      const n = sizeOf(index.shape);
      shape[dim] = n;
      const o = alloc(shape, x.dtype);
      const t = wtype(x.dtype);
      const inner = sizeOf(x.shape.slice(dim + 1)), len = x.shape[dim];
      const xst = stridesOf(x.shape);
      const indexSt = shape.map((_, d) => (d === dim ? 1 : 0));
      launch("indexSelect", [{ name: "x", t: x }, { name: "index", t: index }, { name: "out", t: o, access: "write" }], sizeOf(shape), (s) => s.decl + s.main(`  let i = idx % ${u(inner)};
  let j = (idx / ${u(inner)}) % ${u(n)};
  let o = idx / ${u(inner * n)};
  let v = get_index(j);
  if (v < 0i || v >= ${len}i) { atomicMax(&err[0], 3u); set_out(idx, ${t}(0)); return; }
  ${s.skip("v")}
  set_out(idx, get_x((o * ${u(len)} + u32(v)) * ${u(inner)} + i));`), { err: true, footprints: [anyAlong(shape, xst, dim), affine(shape, indexSt), same], along: len });
      return o;
    },

    indexAdd(src, index, { dim, shape }) {
      const o = fill([...shape], 0, src.dtype);
      const n = sizeOf(index.shape);
      const inner = sizeOf(shape.slice(dim + 1)), len = shape[dim];
      const indexSt = src.shape.map((_, d) => (d === dim ? 1 : 0));
      launch("indexAdd", [{ name: "src", t: src }, { name: "index", t: index }, { name: "out", t: o, access: "atomic" }], sizeOf(src.shape), (s) => s.decl + s.main(`  let i = idx % ${u(inner)};
  let j = (idx / ${u(inner)}) % ${u(n)};
  let oo = idx / ${u(inner * n)};
  let v = get_index(j);
  if (v < 0i || v >= ${len}i) { atomicMax(&err[0], 4u); return; }
  ${s.skip("v")}
  add_out((oo * ${u(len)} + u32(v)) * ${u(inner)} + i, get_src(idx));`), { err: true, footprints: [same, affine(src.shape, indexSt), anyAlong(src.shape, stridesOf(shape), dim)], along: len });
      return o;
    },
  };
}
