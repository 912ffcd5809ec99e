/// <reference types="@webgpu/types" />
/** Element-wise ops (unary, binary, where, addcmul, clamp, cast): one thread per output element, inputs read through broadcast strides. */
import { isComparison, unaryResultDtype, type DType } from "../../dtype.js";
import type { BinaryOp, OpTable, TensorData, UnaryOp } from "../../op-table.js";
import { broadcastStrides, sizeOf } from "../../shape.js";
import { affine, same, type GpuTensors, type Operand } from "./tensors.js";
import { constOf, MATH, offsetFn, wtype } from "./wgsl.js";

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

export function elementwiseOps(k: GpuTensors): Pick<OpTable, "unary" | "binary" | "where" | "addcmul" | "clamp" | "cast"> {
  /** Element-wise map over `outShape`: each input is read through broadcast strides. */
  function elementwise(op: string, inputs: TensorData[], outShape: number[], outDtype: DType, expr: (vals: string[]) => string, convert?: (i: number) => string): TensorData {
    const o = k.alloc(outShape, outDtype);
    const strides = inputs.map((x) => broadcastStrides(x.shape, outShape));
    const operands: Operand[] = [...inputs.map((x, i) => ({ name: `in${i}`, t: x })), { name: "out", t: o, access: "write" as const }];
    k.launch(op, operands, sizeOf(outShape), (s) => {
      let code = MATH + s.decl;
      strides.forEach((st, i) => (code += offsetFn(`off${i}`, outShape, st)));
      const vals = inputs.map((_, i) => {
        const raw = `get_in${i}(off${i}(idx))`;
        return convert ? `${convert(i)}(${raw})` : raw;
      });
      const lets = vals.map((v, i) => `  let v${i} = ${v};`).join("\n");
      return code + s.main(`${lets}\n  set_out(idx, ${expr(inputs.map((_, i) => `v${i}`))});`);
    }, { footprints: [...strides.map((st) => affine(outShape, st)), same] });
    return o;
  }

  return {
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

    cast(x, { dtype }) {
      const from = wtype(x.dtype), to = wtype(dtype);
      let e: string;
      if (dtype === "bool") e = `select(0u, 1u, v0 != ${from}(0))`;
      else if (from === to) e = "v0";
      else e = `${to}(v0)`;
      return elementwise("cast", [x], [...x.shape], dtype, () => e, () => from);
    },
  };
}
