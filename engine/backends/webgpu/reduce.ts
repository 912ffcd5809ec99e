/// <reference types="@webgpu/types" />
/** Reductions (sum, prod, max, min, argmax, argmin over any axes): one thread per output, or one workgroup per output for long reductions. */
import type { DType } from "../../dtype.js";
import type { OpTable, ReduceOp, TensorData } from "../../op-table.js";
import { shapeStr, sizeOf, stridesOf } from "../../shape.js";
import type { GpuTensors } from "./tensors.js";
import { binding, main, MATH, offsetFn, u, wtype } from "./wgsl.js";

export function reductionOps(k: GpuTensors): Pick<OpTable, "reduce"> {
  const { ctx, buf, alloc, out, run } = k;
  function reduce(x: TensorData, op: ReduceOp, axes: number[], keepdim: boolean): TensorData {
    const arg = op === "argmax" || op === "argmin";
    const outDtype: DType = arg ? "int32" : (op === "sum" || op === "prod") && x.dtype === "bool" ? "int32" : x.dtype;
    const outShapeKeep = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const outShape = keepdim ? outShapeKeep : x.shape.filter((_, i) => !axes.includes(i));
    const nOut = sizeOf(outShape);
    const o = alloc(outShape, outDtype);
    if (nOut === 0) return o;
    const redShape = axes.map((a) => x.shape[a]);
    const R = sizeOf(redShape);
    if (R === 0 && op !== "sum" && op !== "prod") throw new Error(`${op}: cannot reduce over an empty dimension of shape ${shapeStr(x.shape)}`);
    const wgMode = nOut < 2048 && R >= 512;
    const code = () => reduceShader(x, op, axes, outDtype, nOut, wgMode);
    if (!wgMode) run(op, code, [x], o, nOut);
    else ctx.dispatch(op, code, [buf(x, op), out(o)], ctx.grid(nOut, 1), [false, true]);
    return o;
  }

  /** Reduction shader: one thread per output, or (wgMode) one workgroup per output with a tree in workgroup memory. */
  function reduceShader(x: TensorData, op: ReduceOp, axes: number[], outDtype: DType, nOut: number, wgMode: boolean): string {
    const arg = op === "argmax" || op === "argmin";
    const redShape = axes.map((a) => x.shape[a]);
    const R = sizeOf(redShape);
    const st = stridesOf(x.shape);
    const keptAxes = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const keptShape = keptAxes.map((a) => x.shape[a]);
    const xt = wtype(x.dtype);
    const acc = op === "sum" || op === "prod" ? wtype(outDtype) : xt;
    const isMax = op === "max" || op === "argmax";
    let code = MATH + binding(0, "x", xt) + binding(1, "out", wtype(outDtype), true);
    code += offsetFn("keptOff", keptShape, keptAxes.map((a) => st[a]));
    code += offsetFn("redOff", redShape, axes.map((a) => st[a]));
    const init = op === "sum" ? `${acc}(0)` : op === "prod" ? `${acc}(1)` : `x[base]`;
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
    const result = arg ? `i32(ai)` : op === "sum" || op === "prod" ? `a` : `a`;
    if (!wgMode) {
      code += main(`  if (idx >= ${u(nOut)}) { return; }
  let base = keptOff(idx);
  var a: ${acc} = ${init};
  var ai = 0u;
  for (var r = 0u; r < ${u(R)}; r = r + 1u) {
    let v = x[base + redOff(r)];
    ${step("v", "r")}
  }
  out[idx] = ${result};`);
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
    let v = x[base + redOff(r)];
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
    out[o] = ${result};
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
