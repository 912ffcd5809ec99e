/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend: fills the op table with WGSL compute shaders.
 * Storage is a GpuHandle (a reference to a pooled GPU buffer); every element is
 * 4 bytes (float32 as f32, int32 as i32, bool as u32 0/1). Shapes are baked into
 * the shader text; pipelines are cached by that text.
 */
import { isComparison, unaryResultDtype, type DType } from "../../dtype.js";
import type { AvgPool2dAttrs, Backend, BinaryOp, Conv2dAttrs, OpTable, Pool2dAttrs, ReduceOp, TensorData, UnaryOp } from "../../op-table.js";
import { broadcastStrides, conv2dOutputSize, pool2dOutputSize, shapeStr, sizeOf, stridesOf } from "../../shape.js";
import { GpuContext, GpuHandle, type PooledBuffer } from "./context.js";
import { gemmTiling, runGemm, type GemmBinding } from "./gemm.js";
import { ATOMIC_ADD_F32, binding, constOf, coords, main, offsetFn, u, wtype } from "./wgsl.js";

export function makeWebGpuBackend(ctx: GpuContext): Backend {
  const buf = (x: TensorData, op: string): GPUBuffer => {
    const h = x.storage as GpuHandle;
    if (!(h instanceof GpuHandle)) throw new Error(`${op}: expected a GPU tensor (webgpu backend), got storage of another backend`);
    if (h.released) throw new Error(`${op}: a tensor of shape ${shapeStr(x.shape)} was used after it was disposed (by dispose() or a gb.tidy() scope)`);
    if (h.ctx !== ctx) throw new Error(`${op}: the tensor belongs to an earlier GPU device (it was lost or replaced); recreate it`);
    return h.buf.buffer;
  };
  /** A new tensor on a fresh buffer. */
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

  // ---------------------------------------------------------------- element-wise
  function unaryExpr(op: UnaryOp, v: string, t: string): string {
    switch (op) {
      case "neg": return `-${v}`;
      case "exp": return `exp(${v})`;
      case "log": return `log(${v})`;
      case "sqrt": return `sqrt(${v})`;
      case "rsqrt": return `inverseSqrt(${v})`;
      case "abs": return `abs(${v})`;
      case "sign": return t === "f32" ? `select(select(select(0.0, -1.0, ${v} < 0.0), 1.0, ${v} > 0.0), ${v}, ${v} != ${v})` : `select(select(0i, -1i, ${v} < 0i), 1i, ${v} > 0i)`;
      case "relu": return `select(${t}(0), ${v}, ${v} > ${t}(0))`;
      case "sigmoid": return `sigm(${v})`;
      case "tanh": return `stanh(${v})`;
      case "reciprocal": return `1.0 / ${v}`;
      case "square": return `${v} * ${v}`;
      case "step": return `select(${t}(0), ${t}(1), ${v} > ${t}(0))`;
      case "floor": return t === "f32" ? `floor(${v})` : v;
      case "ceil": return t === "f32" ? `ceil(${v})` : v;
      case "round": return t === "f32" ? `round(${v})` : v;
      case "sin": return `sin(${v})`;
      case "cos": return `cos(${v})`;
      case "logicalNot": return `select(1u, 0u, ${v} != ${t}(0))`;
      case "log1p": return `log1p_(${v})`;
      case "expm1": return `expm1_(${v})`;
      case "softplus": return `select(log1p_(exp(${v})), ${v}, ${v} > 20.0)`;
    }
    throw new Error(`webgpu: unknown unary op '${op as string}'`);
  }
  const MATH = `
fn sigm(v: f32) -> f32 { if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); } let e = exp(v); return e / (1.0 + e); }
fn stanh(v: f32) -> f32 { let t = exp(-2.0 * abs(v)); let r = (1.0 - t) / (1.0 + t); return select(r, -r, v < 0.0); }
fn log1p_(v: f32) -> f32 { let w = 1.0 + v; if (w == 1.0) { return v; } return log(w) * (v / (w - 1.0)); }
fn expm1_(v: f32) -> f32 { if (abs(v) < 1e-5) { return v + 0.5 * v * v; } let e = exp(v); if (e == 1.0) { return v; } if (e - 1.0 == -1.0) { return -1.0; } return (e - 1.0) * v / log(e); }
fn gpow(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a != a || b != b) { return a + b; }
  let r = pow(abs(a), b);
  if (a < 0.0) {
    if (floor(b) != b) { return f32bits(0x7fc00000u); }
    if (fract(b * 0.5) != 0.0) { return -r; }
  }
  return r;
}
fn isnan_(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
`;

  function binaryExpr(op: BinaryOp, a: string, b: string, t: string): string {
    switch (op) {
      case "add": return `${a} + ${b}`;
      case "sub": return `${a} - ${b}`;
      case "mul": return `${a} * ${b}`;
      case "div": return `${a} / ${b}`;
      case "pow": return t === "f32" ? `gpow(${a}, ${b})` : `${t}(round(gpow(f32(${a}), f32(${b}))))`;
      case "maximum": return t === "f32" ? `select(max(${a}, ${b}), ${a} + ${b}, isnan_(${a}) || isnan_(${b}))` : `max(${a}, ${b})`;
      case "minimum": return t === "f32" ? `select(min(${a}, ${b}), ${a} + ${b}, isnan_(${a}) || isnan_(${b}))` : `min(${a}, ${b})`;
      case "eq": return `select(0u, 1u, ${a} == ${b})`;
      case "ne": return `select(0u, 1u, ${a} != ${b})`;
      case "lt": return `select(0u, 1u, ${a} < ${b})`;
      case "le": return `select(0u, 1u, ${a} <= ${b})`;
      case "gt": return `select(0u, 1u, ${a} > ${b})`;
      case "ge": return `select(0u, 1u, ${a} >= ${b})`;
      case "logicalAnd": return `select(0u, 1u, (${a} != ${t}(0)) && (${b} != ${t}(0)))`;
      case "logicalOr": return `select(0u, 1u, (${a} != ${t}(0)) || (${b} != ${t}(0)))`;
      case "tanhGrad": return `${b} * (1.0 - ${a} * ${a})`;
      case "sigmoidGrad": return `${b} * ${a} * (1.0 - ${a})`;
      case "reluGrad": return `select(${t}(0), ${b}, ${a} > ${t}(0))`;
    }
    throw new Error(`webgpu: unknown binary op '${op as string}'`);
  }

  /** Element-wise map over `outShape`: each input is read through broadcast strides. */
  function elementwise(op: string, inputs: TensorData[], outShape: number[], outDtype: DType, expr: (vals: string[]) => string, convert?: (i: number) => string): TensorData {
    const o = alloc(outShape, outDtype);
    const n = sizeOf(outShape);
    if (n === 0) return o;
    const code = () => {
      let code = MATH;
      inputs.forEach((x, k) => {
        code += binding(k, `in${k}`, wtype(x.dtype));
        code += offsetFn(`off${k}`, outShape, broadcastStrides(x.shape, outShape));
      });
      code += binding(inputs.length, "out", wtype(outDtype), true);
      const vals = inputs.map((_, k) => {
        const raw = `in${k}[off${k}(idx)]`;
        return convert ? `${convert(k)}(${raw})` : raw;
      });
      const lets = vals.map((v, k) => `  let v${k} = ${v};`).join("\n");
      return code + main(`  if (idx >= ${u(n)}) { return; }\n${lets}\n  out[idx] = ${expr(inputs.map((_, k) => `v${k}`))};`);
    };
    run(op, code, inputs, o, n);
    return o;
  }

  // ---------------------------------------------------------------- reductions
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

  // ---------------------------------------------------------------- conv / pool
  function conv2d(x: TensorData, w: TensorData, bias: TensorData | null, a: Conv2dAttrs): TensorData {
    const [N, O, OH, OW] = conv2dOutputSize(x.shape, w.shape, a);
    const [, C, H, W] = x.shape;
    const [, Cg, KH, KW] = w.shape;
    const G = a.groups, Og = O / G;
    const y = alloc([N, O, OH, OW], "float32");
    const bindings: GemmBinding[] = [
      { name: "x", type: "f32", rw: false, buffer: buf(x, "conv2d") },
      { name: "w", type: "f32", rw: false, buffer: buf(w, "conv2d") },
      { name: "y", type: "f32", rw: true, buffer: out(y) },
    ];
    if (bias) bindings.push({ name: "bias", type: "f32", rw: false, buffer: buf(bias, "conv2d") });
    const K = Cg * KH * KW;
    const helpers = () => `
fn loadA(g: u32, m: u32, k: u32) -> f32 {
  let n = m / ${u(OH * OW)}; let r = m % ${u(OH * OW)}; let oh = r / ${u(OW)}; let ow = r % ${u(OW)};
  let c = k / ${u(KH * KW)}; let r2 = k % ${u(KH * KW)}; let kh = r2 / ${u(KW)}; let kw = r2 % ${u(KW)};
  let ih = i32(oh * ${u(a.stride[0])} + kh * ${u(a.dilation[0])}) - ${a.padding[0]}i;
  let iw = i32(ow * ${u(a.stride[1])} + kw * ${u(a.dilation[1])}) - ${a.padding[1]}i;
  if (ih < 0i || ih >= ${H}i || iw < 0i || iw >= ${W}i) { return 0.0; }
  return x[((n * ${u(C)} + g * ${u(Cg)} + c) * ${u(H)} + u32(ih)) * ${u(W)} + u32(iw)];
}
fn loadB(g: u32, k: u32, o: u32) -> f32 { return w[(g * ${u(Og)} + o) * ${u(K)} + k]; }
fn store(g: u32, m: u32, o: u32, v: f32) {
  let n = m / ${u(OH * OW)}; let r = m % ${u(OH * OW)};
  y[(n * ${u(O)} + g * ${u(Og)} + o) * ${u(OH * OW)} + r] = v${bias ? ` + bias[g * ${u(Og)} + o]` : ""};
}
`;
    runGemm(ctx, { op: "conv2d", M: N * OH * OW, N: Og, K, batch: G, bindings, helpers, aMajor: "m", bMajor: "k" });
    return y;
  }

  function conv2dBackwardInput(dy: TensorData, w: TensorData, a: Conv2dAttrs & { xShape: number[] }): TensorData {
    const [N, C, H, W] = a.xShape;
    const [O, Cg, KH, KW] = w.shape;
    const [, , OH, OW] = dy.shape;
    const G = a.groups, Og = O / G;
    const dx = alloc([...a.xShape], "float32");
    const bindings: GemmBinding[] = [
      { name: "dy", type: "f32", rw: false, buffer: buf(dy, "conv2dBackwardInput") },
      { name: "w", type: "f32", rw: false, buffer: buf(w, "conv2dBackwardInput") },
      { name: "dx", type: "f32", rw: true, buffer: out(dx) },
    ];
    const [sh, sw] = a.stride, [ph, pw] = a.padding, [dh, dw] = a.dilation;
    const helpers = () => `
fn loadA(g: u32, m: u32, k: u32) -> f32 {
  let n = m / ${u(H * W)}; let r = m % ${u(H * W)}; let ih = r / ${u(W)}; let iw = r % ${u(W)};
  let o = k / ${u(KH * KW)}; let r2 = k % ${u(KH * KW)}; let kh = r2 / ${u(KW)}; let kw = r2 % ${u(KW)};
  let th = i32(ih) + ${ph}i - i32(kh * ${u(dh)});
  let tw = i32(iw) + ${pw}i - i32(kw * ${u(dw)});
  if (th < 0i || tw < 0i) { return 0.0; }
  let oh = u32(th) / ${u(sh)}; let ow = u32(tw) / ${u(sw)};
  if (oh * ${u(sh)} != u32(th) || ow * ${u(sw)} != u32(tw) || oh >= ${u(OH)} || ow >= ${u(OW)}) { return 0.0; }
  return dy[((n * ${u(O)} + g * ${u(Og)} + o) * ${u(OH)} + oh) * ${u(OW)} + ow];
}
fn loadB(g: u32, k: u32, c: u32) -> f32 {
  let o = k / ${u(KH * KW)}; let r2 = k % ${u(KH * KW)};
  return w[((g * ${u(Og)} + o) * ${u(Cg)} + c) * ${u(KH * KW)} + r2];
}
fn store(g: u32, m: u32, c: u32, v: f32) {
  let n = m / ${u(H * W)}; let r = m % ${u(H * W)};
  dx[(n * ${u(C)} + g * ${u(Cg)} + c) * ${u(H * W)} + r] = v;
}
`;
    runGemm(ctx, { op: "conv2dBackwardInput", M: N * H * W, N: Cg, K: Og * KH * KW, batch: G, bindings, helpers, aMajor: "m", bMajor: "n" });
    return dx;
  }

  function conv2dBackwardWeight(x: TensorData, dy: TensorData, a: Conv2dAttrs & { wShape: number[] }): TensorData {
    const [N, C, H, W] = x.shape;
    const [O, Cg, KH, KW] = a.wShape;
    const [, , OH, OW] = dy.shape;
    const G = a.groups, Og = O / G;
    const dw = alloc([...a.wShape], "float32");
    const bindings: GemmBinding[] = [
      { name: "x", type: "f32", rw: false, buffer: buf(x, "conv2dBackwardWeight") },
      { name: "dy", type: "f32", rw: false, buffer: buf(dy, "conv2dBackwardWeight") },
      { name: "dw", type: "f32", rw: true, buffer: out(dw) },
    ];
    const helpers = () => `
fn loadA(g: u32, o: u32, k: u32) -> f32 {
  let n = k / ${u(OH * OW)}; let r = k % ${u(OH * OW)};
  return dy[(n * ${u(O)} + g * ${u(Og)} + o) * ${u(OH * OW)} + r];
}
fn loadB(g: u32, k: u32, j: u32) -> f32 {
  let n = k / ${u(OH * OW)}; let r = k % ${u(OH * OW)}; let oh = r / ${u(OW)}; let ow = r % ${u(OW)};
  let c = j / ${u(KH * KW)}; let r2 = j % ${u(KH * KW)}; let kh = r2 / ${u(KW)}; let kw = r2 % ${u(KW)};
  let ih = i32(oh * ${u(a.stride[0])} + kh * ${u(a.dilation[0])}) - ${a.padding[0]}i;
  let iw = i32(ow * ${u(a.stride[1])} + kw * ${u(a.dilation[1])}) - ${a.padding[1]}i;
  if (ih < 0i || ih >= ${H}i || iw < 0i || iw >= ${W}i) { return 0.0; }
  return x[((n * ${u(C)} + g * ${u(Cg)} + c) * ${u(H)} + u32(ih)) * ${u(W)} + u32(iw)];
}
fn store(g: u32, o: u32, j: u32, v: f32) { dw[(g * ${u(Og)} + o) * ${u(Cg * KH * KW)} + j] = v; }
`;
    runGemm(ctx, { op: "conv2dBackwardWeight", M: Og, N: Cg * KH * KW, K: N * OH * OW, batch: G, bindings, helpers, aMajor: "k", bMajor: "k" });
    return dw;
  }

  // ---------------------------------------------------------------- the table
  const ops: OpTable = {
    unary(x, { op }) {
      const outDtype = unaryResultDtype(op, x.dtype);
      const t = op === "logicalNot" ? wtype(x.dtype) : wtype(outDtype);
      return elementwise(op, [x], [...x.shape], outDtype, ([v]) => unaryExpr(op, v, t), () => t);
    },

    binary(a, b, { op, outShape, outDtype }) {
      let t = wtype(outDtype);
      if (isComparison(op)) t = a.dtype === b.dtype ? wtype(a.dtype) : "f32";
      return elementwise(op, [a, b], outShape, outDtype, ([x, y]) => binaryExpr(op, x, y, t), () => t);
    },

    where(cond, a, b, { outShape }) {
      const t = wtype(a.dtype);
      return elementwise("where", [cond, a, b], outShape, a.dtype, ([c, x, y]) => `select(${y}, ${x}, ${c} != 0u)`, (k) => (k === 0 ? "u32" : t));
    },

    addcmul(input, t1, t2, { outShape }) {
      return elementwise("addcmul", [input, t1, t2], outShape, "float32", ([a, b, c]) => `${a} + ${b} * ${c}`);
    },

    clamp(x, { min, max }) {
      const t = wtype(x.dtype);
      let e = "v0";
      if (min !== null) e = `select(${e}, ${constOf(min, x.dtype)}, v0 < ${constOf(min, x.dtype)})`;
      if (max !== null) e = `select(${e}, ${constOf(max, x.dtype)}, (${e}) > ${constOf(max, x.dtype)})`;
      return elementwise("clamp", [x], [...x.shape], x.dtype, () => e, () => t);
    },

    reduce(x, { op, axes, keepdim }) {
      return reduce(x, op, axes, keepdim);
    },

    matmul(a, b, { transA, transB, outShape }) {
      const r = outShape.length;
      const M = outShape[r - 2], N = outShape[r - 1];
      const K = transA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
      const batchShape = outShape.slice(0, r - 2);
      const batch = sizeOf(batchShape);
      if (K === 0 || sizeOf(outShape) === 0) return fill(outShape, 0, "float32");
      const o = alloc(outShape, "float32");
      const aStr = broadcastStrides(a.shape.slice(0, -2), batchShape).map((s) => s * M * K);
      const bStr = broadcastStrides(b.shape.slice(0, -2), batchShape).map((s) => s * K * N);
      const helpers = () => `${offsetFn("aBase", batchShape, aStr)}${offsetFn("bBase", batchShape, bStr)}
fn loadA(bz: u32, m: u32, k: u32) -> f32 { return A[aBase(bz) + ${transA ? `k * ${u(M)} + m` : `m * ${u(K)} + k`}]; }
fn loadB(bz: u32, k: u32, n: u32) -> f32 { return B[bBase(bz) + ${transB ? `n * ${u(K)} + k` : `k * ${u(N)} + n`}]; }
fn store(bz: u32, m: u32, n: u32, v: f32) { C[(bz * ${u(M)} + m) * ${u(N)} + n] = v; }
`;
      runGemm(ctx, {
        op: "matmul", M, N, K, batch, helpers,
        bindings: [
          { name: "A", type: "f32", rw: false, buffer: buf(a, "matmul") },
          { name: "B", type: "f32", rw: false, buffer: buf(b, "matmul") },
          { name: "C", type: "f32", rw: true, buffer: out(o) },
        ],
        aMajor: transA ? "m" : "k",
        bMajor: transB ? "k" : "n",
        vec4: {
          bindings: [
            { name: "A4", type: "vec4f", rw: false, buffer: buf(a, "matmul") },
            { name: "B4", type: "vec4f", rw: false, buffer: buf(b, "matmul") },
          ],
          helpers: () => `
fn loadA4(bz: u32, m: u32, k: u32) -> vec4f { return A4[(aBase(bz) + ${transA ? `k * ${u(M)} + m` : `m * ${u(K)} + k`}) / 4u]; }
fn loadB4(bz: u32, k: u32, n: u32) -> vec4f { return B4[(bBase(bz) + ${transB ? `n * ${u(K)} + k` : `k * ${u(N)} + n`}) / 4u]; }
`,
        },
      });
      return o;
    },

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

    cast(x, { dtype }) {
      const from = wtype(x.dtype), to = wtype(dtype);
      let e: string;
      if (dtype === "bool") e = `select(0u, 1u, v0 != ${from}(0))`;
      else if (from === to) e = "v0";
      else e = `${to}(v0)`;
      return elementwise("cast", [x], [...x.shape], dtype, () => e, () => from);
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
      const o = fillRaw([...shape], 0, src.dtype);
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
      const o = fillRaw([...shape], 0, src.dtype);
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

    conv2d(x, w, bias, attrs) {
      return conv2d(x, w, bias, attrs);
    },
    conv2dBackwardInput(dy, w, attrs) {
      return conv2dBackwardInput(dy, w, attrs);
    },
    conv2dBackwardWeight(x, dy, attrs) {
      return conv2dBackwardWeight(x, dy, attrs);
    },

    maxPool2d(x, p: Pool2dAttrs) {
      const shape = pool2dOutputSize(x.shape, p);
      const [N, C, OH, OW] = shape;
      const [, , H, W] = x.shape;
      const o = alloc([...shape], "float32");
      const ind = alloc([...shape], "int32");
      const n = N * C * OH * OW;
      if (n === 0) return [o, ind];
      const [KH, KW] = p.kernel, [sh, sw] = p.stride, [ph, pw] = p.padding, [dh, dw] = p.dilation;
      const code = () => binding(0, "x", "f32") + binding(1, "out", "f32", true) + binding(2, "ind", "i32", true) + MATH +
        main(`  if (idx >= ${u(n)}) { return; }
  let ow = i32(idx % ${u(OW)});
  let oh = i32((idx / ${u(OW)}) % ${u(OH)});
  let pl = idx / ${u(OH * OW)};
  var h0 = oh * ${sh}i - ${ph}i;
  let h1 = min(h0 + ${(KH - 1) * dh + 1}i, ${H}i);
  while (h0 < 0i) { h0 = h0 + ${dh}i; }
  var w0 = ow * ${sw}i - ${pw}i;
  let w1 = min(w0 + ${(KW - 1) * dw + 1}i, ${W}i);
  while (w0 < 0i) { w0 = w0 + ${dw}i; }
  var best = f32bits(0xff800000u);
  var bi = h0 * ${W}i + w0;
  let base = pl * ${u(H * W)};
  for (var ih = h0; ih < h1; ih = ih + ${dh}i) {
    for (var iw = w0; iw < w1; iw = iw + ${dw}i) {
      let v = x[base + u32(ih * ${W}i + iw)];
      if (v > best || isnan_(v)) { best = v; bi = ih * ${W}i + iw; }
    }
  }
  out[idx] = best;
  ind[idx] = bi;`);
      ctx.dispatch("maxPool2d", code, [buf(x, "maxPool2d"), out(o), out(ind)], ctx.grid(n), [false, true, true]);
      return [o, ind];
    },

    maxPool2dBackward(dy, indices, { xShape }) {
      const o = fillRaw([...xShape], 0, "float32");
      const n = sizeOf(dy.shape);
      if (n === 0) return o;
      const HW = xShape[2] * xShape[3], OHW = dy.shape[2] * dy.shape[3];
      const code = () => binding(0, "dy", "f32") + binding(1, "ind", "i32") + `@group(0) @binding(2) var<storage, read_write> out: array<atomic<u32>>;\n` +
        `@group(0) @binding(3) var<storage, read_write> err: array<atomic<u32>>;\n` + ATOMIC_ADD_F32 +
        main(`  if (idx >= ${u(n)}) { return; }
  let v = ind[idx];
  if (v < 0i || v >= ${HW}i) { atomicMax(&err[0], 5u); return; }
  atomicAddF32(&out[(idx / ${u(OHW)}) * ${u(HW)} + u32(v)], dy[idx]);`);
      run("maxPool2dBackward", code, [dy, indices], o, n, true);
      return o;
    },

    avgPool2d(x, p: AvgPool2dAttrs) {
      const shape = pool2dOutputSize(x.shape, { ...p, dilation: [1, 1] });
      const [N, C, OH, OW] = shape;
      const [, , H, W] = x.shape;
      const o = alloc([...shape], "float32");
      const n = N * C * OH * OW;
      if (n === 0) return o;
      const code = () => binding(0, "x", "f32") + binding(1, "out", "f32", true) + avgWindowFn(p, H, W) +
        main(`  if (idx >= ${u(n)}) { return; }
  let ow = i32(idx % ${u(OW)});
  let oh = i32((idx / ${u(OW)}) % ${u(OH)});
  let pl = idx / ${u(OH * OW)};
  let wd = win(oh, ow);
  if (wd.x >= wd.y || wd.z >= wd.w) { out[idx] = 0.0; return; }
  var s = 0.0;
  let base = pl * ${u(H * W)};
  for (var ih = wd.x; ih < wd.y; ih = ih + 1i) {
    for (var iw = wd.z; iw < wd.w; iw = iw + 1i) { s = s + x[base + u32(ih * ${W}i + iw)]; }
  }
  out[idx] = s / divisor(oh, ow, wd);`);
      run("avgPool2d", code, [x], o, n);
      return o;
    },

    avgPool2dBackward(dy, p) {
      const [N, C, H, W] = p.xShape;
      const [, , OH, OW] = dy.shape;
      const o = alloc([...p.xShape], "float32");
      const n = N * C * H * W;
      if (n === 0) return o;
      const [KH, KW] = p.kernel, [sh, sw] = p.stride, [ph, pw] = p.padding;
      // gather: every output window that covers (ih, iw)
      const code = () => binding(0, "dy", "f32") + binding(1, "out", "f32", true) + avgWindowFn(p, H, W) +
        main(`  if (idx >= ${u(n)}) { return; }
  let iw = i32(idx % ${u(W)});
  let ih = i32((idx / ${u(W)}) % ${u(H)});
  let pl = idx / ${u(H * W)};
  let oh0 = max(0i, (ih + ${ph}i - ${KH}i + ${sh}i) / ${sh}i);
  let oh1 = min(${OH}i, (ih + ${ph}i) / ${sh}i + 1i);
  let ow0 = max(0i, (iw + ${pw}i - ${KW}i + ${sw}i) / ${sw}i);
  let ow1 = min(${OW}i, (iw + ${pw}i) / ${sw}i + 1i);
  var s = 0.0;
  for (var oh = oh0; oh < oh1; oh = oh + 1i) {
    for (var ow = ow0; ow < ow1; ow = ow + 1i) {
      let wd = win(oh, ow);
      if (ih >= wd.x && ih < wd.y && iw >= wd.z && iw < wd.w) {
        s = s + dy[pl * ${u(OH * OW)} + u32(oh * ${OW}i + ow)] / divisor(oh, ow, wd);
      }
    }
  }
  out[idx] = s;`);
      run("avgPool2dBackward", code, [dy], o, n);
      return o;
    },
  };

  /** Window [h0, h1) x [w0, w1) clipped to the input, and the divisor, as the CPU kernel (PyTorch's rule). */
  function avgWindowFn(p: AvgPool2dAttrs, H: number, W: number): string {
    const [KH, KW] = p.kernel, [sh, sw] = p.stride, [ph, pw] = p.padding;
    return `
fn win(oh: i32, ow: i32) -> vec4i {
  let h0 = oh * ${sh}i - ${ph}i;
  let h1 = min(h0 + ${KH}i, ${H + ph}i);
  let w0 = ow * ${sw}i - ${pw}i;
  let w1 = min(w0 + ${KW}i, ${W + pw}i);
  return vec4i(max(h0, 0i), min(h1, ${H}i), max(w0, 0i), min(w1, ${W}i));
}
fn divisor(oh: i32, ow: i32, wd: vec4i) -> f32 {
  ${p.countIncludePad
    ? `let h0 = oh * ${sh}i - ${ph}i; let h1 = min(h0 + ${KH}i, ${H + ph}i); let w0 = ow * ${sw}i - ${pw}i; let w1 = min(w0 + ${KW}i, ${W + pw}i); return f32((h1 - h0) * (w1 - w0));`
    : `return f32((wd.y - wd.x) * (wd.w - wd.z));`}
}
`;
  }

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

  function fillRaw(shape: number[], value: number, dtype: DType): TensorData {
    const o = alloc(shape, dtype);
    const n = sizeOf(shape);
    if (n === 0) return o;
    const t = wtype(dtype);
    const code = () => binding(0, "out", t, true) + main(`  if (idx >= ${u(n)}) { return; }\n  out[idx] = ${constOf(value, dtype)};`);
    ctx.dispatch("fill", code, [out(o)], ctx.grid(n), [true]);
    return o;
  }
  const fill = fillRaw;

  const backend: Backend = {
    name: "webgpu",
    ops: keyedOps(ctx, ops),
    fromHost(values, shape, dtype) {
      const n = sizeOf(shape);
      if (values.length !== n) throw new Error(`fromHost: ${values.length} values do not fit shape ${shapeStr(shape)}`);
      const o = alloc([...shape], dtype, true);
      let data: ArrayBufferView;
      if (dtype === "float32") data = values instanceof Float32Array ? values : Float32Array.from(values);
      else if (dtype === "int32") data = values instanceof Int32Array ? values : Int32Array.from(values);
      else data = Uint32Array.from(values, (v) => (v ? 1 : 0));
      ctx.write(out(o), data);
      return o;
    },
    fill(shape, value, dtype) {
      return fill([...shape], value, dtype);
    },
    async read(x) {
      const b = buf(x, "read");
      const n = sizeOf(x.shape);
      const bytes = await ctx.read(b, n * 4, "data");
      if (x.dtype === "float32") return new Float32Array(bytes);
      if (x.dtype === "int32") return new Int32Array(bytes);
      return Uint8Array.from(new Uint32Array(bytes));
    },
    readSync() {
      return null;
    },
    assign(dst, src) {
      const d = buf(dst, "assign"), s = buf(src, "assign");
      if (sizeOf(dst.shape) !== sizeOf(src.shape)) throw new Error(`assign: shape ${shapeStr(src.shape)} does not match ${shapeStr(dst.shape)}`);
      if (d !== s) ctx.copy(s, d, sizeOf(dst.shape) * 4);
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

export { GpuContext, GpuHandle } from "./context.js";
