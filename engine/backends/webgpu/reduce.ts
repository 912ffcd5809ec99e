/// <reference types="@webgpu/types" />
/** Reductions (sum, prod, max, min, argmax, argmin over any axes): one thread per output, or one workgroup per output for long reductions. */
import type { DType } from "../../dtype.js";
import type { OpTable, ReduceOp, TensorData } from "../../op-table.js";
import { shapeStr, sizeOf, stridesOf } from "../../shape.js";
import type { GpuTensors, Operand } from "./tensors.js";
import { main, MATH, offsetFn, u, wtype } from "./wgsl.js";

export function reductionOps(k: GpuTensors): Pick<OpTable, "reduce"> {
  const { ctx } = k;
  function reduce(x: TensorData, op: ReduceOp, axes: number[], keepdim: boolean): TensorData {
    const arg = op === "argmax" || op === "argmin";
    const outDtype: DType = arg ? "int32" : (op === "sum" || op === "prod") && x.dtype === "bool" ? "int32" : x.dtype;
    const outShapeKeep = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const outShape = keepdim ? outShapeKeep : x.shape.filter((_, i) => !axes.includes(i));
    const nOut = sizeOf(outShape);
    const redShape = axes.map((a) => x.shape[a]);
    const R = sizeOf(redShape);
    if (nOut > 0 && R === 0 && op !== "sum" && op !== "prod") throw new Error(`${op}: cannot reduce over an empty dimension of shape ${shapeStr(x.shape)}`);
    const o = k.alloc(outShape, outDtype);
    const operands: Operand[] = [{ name: "x", t: x }, { name: "out", t: o, access: "write" }];
    if (nOut === 0) return o;
    if (!k.fits(operands)) {
      k.free(o);
      return reduceInPieces(x, op, axes, keepdim, outShape, outDtype);
    }
    const wgMode = nOut < 2048 && R >= 512;
    const b = k.bind(op, operands);
    const code = () => reduceShader(x, op, axes, outDtype, nOut, wgMode, b.decl);
    ctx.dispatch(op, code, b.buffers, wgMode ? ctx.grid(nOut, 1) : ctx.grid(nOut), b.access);
    return o;
  }

  /**
   * A reduction whose tensors do not fit one shader's bindings: x is cut in two along its first
   * dimension longer than 1, each half reduced, and the results joined (a kept dimension) or
   * combined (a reduced one: added, multiplied, the larger or smaller, or the better argument).
   */
  function reduceInPieces(x: TensorData, op: ReduceOp, axes: number[], keepdim: boolean, outShape: number[], outDtype: DType): TensorData {
    const d = x.shape.findIndex((n) => n > 1);
    const h = Math.ceil(x.shape[d] / 2);
    const a = k.slice(x, d, 0, h), b = k.slice(x, d, h, x.shape[d] - h);
    const part = (t: TensorData, o: ReduceOp) => reduce(t, o, axes, keepdim);
    const tmp: TensorData[] = [a, b];
    let res: TensorData;
    if (!axes.includes(d)) {
      const ra = part(a, op), rb = part(b, op);
      tmp.push(ra, rb);
      res = k.ops.concat([ra, rb], { axis: keepdim ? d : d - axes.filter((ax) => ax < d).length });
    } else if (op === "argmax" || op === "argmin") {
      // the second half's best wins if strictly better (ties: the first), or NaN where the first has none
      const best = op === "argmax" ? "max" : "min";
      const va = part(a, best), vb = part(b, best), ia = part(a, op), ib = part(b, op);
      const cmp = (p: "gt" | "lt" | "ne" | "logicalAnd" | "logicalOr", l: TensorData, r: TensorData) => k.ops.binary(l, r, { op: p, outShape, outDtype: "bool" });
      let take = cmp(op === "argmax" ? "gt" : "lt", vb, va);
      tmp.push(va, vb, ia, ib, take);
      if (x.dtype === "float32") {
        const nanA = cmp("ne", va, va), nanB = cmp("ne", vb, vb);
        const either = cmp("logicalOr", nanB, take), notNanA = k.ops.unary(nanA, { op: "logicalNot" });
        tmp.push(nanA, nanB, either, notNanA);
        take = cmp("logicalAnd", notNanA, either);
        tmp.push(take);
      }
      const offset = k.fill([], h, "int32");
      const ibs = k.ops.binary(ib, offset, { op: "add", outShape, outDtype: "int32" });
      tmp.push(offset, ibs);
      res = k.ops.where(take, ibs, ia, { outShape });
    } else {
      const ra = part(a, op), rb = part(b, op);
      tmp.push(ra, rb);
      const combine = ({ sum: "add", prod: "mul", max: "maximum", min: "minimum" } as const)[op];
      res = k.ops.binary(ra, rb, { op: combine, outShape, outDtype });
    }
    k.free(...tmp);
    return res;
  }

  /** Reduction shader: one thread per output, or (wgMode) one workgroup per output with a tree in workgroup memory. */
  function reduceShader(x: TensorData, op: ReduceOp, axes: number[], outDtype: DType, nOut: number, wgMode: boolean, decl: string): string {
    const arg = op === "argmax" || op === "argmin";
    const redShape = axes.map((a) => x.shape[a]);
    const R = sizeOf(redShape);
    const st = stridesOf(x.shape);
    const keptAxes = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const keptShape = keptAxes.map((a) => x.shape[a]);
    const xt = wtype(x.dtype);
    const acc = op === "sum" || op === "prod" ? wtype(outDtype) : xt;
    const isMax = op === "max" || op === "argmax";
    let code = MATH + decl;
    code += offsetFn("keptOff", keptShape, keptAxes.map((a) => st[a]));
    code += offsetFn("redOff", redShape, axes.map((a) => st[a]));
    const init = op === "sum" ? `${acc}(0)` : op === "prod" ? `${acc}(1)` : `get_x(base)`;
    // combine (acc a, index ai) with (value v, index vi); NaN wins for max/min (first NaN for arg*)
    const better = (v: string, best: string) =>
      xt === "f32" ? `(!isnan_(${best}) && (isnan_(${v}) || ${v} ${isMax ? ">" : "<"} ${best}))` : `(${v} ${isMax ? ">" : "<"} ${best})`;
    const step = (v: string, vi: string) => {
      switch (op) {
        case "sum": return `a = a + ${acc}(${v});`;
        case "prod": return `a = a * ${acc}(${v});`;
        default: return `if (${better(v, "a")}) { a = ${v}; ai = ${vi}; }`;
      }
    };
    const result = arg ? `i32(ai)` : `a`;
    if (!wgMode) {
      code += main(`  if (idx >= ${u(nOut)}) { return; }
  let base = keptOff(idx);
  var a: ${acc} = ${init};
  var ai = 0u;
  for (var r = 0u; r < ${u(R)}; r = r + 1u) {
    let v = get_x(base + redOff(r));
    ${step("v", "r")}
  }
  set_out(idx, ${result});`);
      return code;
    }
    // one workgroup per output: strided partial results, then a tree in workgroup memory
    const merge = op === "sum" ? `sa[l] = sa[l] + sa[l + s];` : op === "prod" ? `sa[l] = sa[l] * sa[l + s];`
      : `if (${better("sa[l + s]", "sa[l]")} || (sa[l + s] == sa[l] && si[l + s] < si[l])) { sa[l] = sa[l + s]; si[l] = si[l + s]; }`;
    code += `var<workgroup> sa: array<${acc}, 256>;\nvar<workgroup> si: array<u32, 256>;\n`;
    code += `@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = wid.x + wid.y * nwg.x;
  let l = lid.x;
  let base = keptOff(o);
  var a: ${acc} = ${init};
  var ai = 0u;
  for (var r = l; r < ${u(R)}; r = r + 256u) {
    let v = get_x(base + redOff(r));
    ${op === "sum" || op === "prod" ? step("v", "r") : `if (r == l) { a = v; ai = r; } else { ${step("v", "r")} }`}
  }
  sa[l] = a;
  si[l] = ai;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (l < s && l + s < ${u(Math.min(R, 256))}) { ${merge} }
    workgroupBarrier();
  }
  if (l == 0u && o < ${u(nOut)}) {
    let a = sa[0];
    let ai = si[0];
    set_out(o, ${result});
  }
}
`;
    return code;
  }


  return {
    reduce(x, { op, axes, keepdim }) {
      return reduce(x, op, axes, keepdim);
    },
  };
}
