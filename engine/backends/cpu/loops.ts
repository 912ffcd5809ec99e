// The CPU backend's element-wise loops over typed arrays (any dtype): every unary and binary
// op of the op table. Large float32 exp / tanh / sigmoid and + - * / and the activation
// gradients go to the SIMD module instead (kernels/elementwise.ts), with the same bits.

import type { TypedArray } from "../../dtype.js";
import type { BinaryOp, UnaryOp } from "../../op-table.js";
import { expf, sigmoidf, tanhf } from "./fastmath.js";

export function unaryLoop(op: UnaryOp, x: TypedArray, out: TypedArray): void {
  const n = x.length;
  switch (op) {
    case "neg": for (let i = 0; i < n; i++) out[i] = -x[i]; break;
    case "exp": for (let i = 0; i < n; i++) out[i] = expf(x[i]); break;
    case "log": for (let i = 0; i < n; i++) out[i] = Math.log(x[i]); break;
    case "sqrt": for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]); break;
    case "rsqrt": for (let i = 0; i < n; i++) out[i] = 1 / Math.sqrt(x[i]); break;
    case "abs": for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]); break;
    case "sign": for (let i = 0; i < n; i++) out[i] = Math.sign(x[i]); break;
    case "relu": for (let i = 0; i < n; i++) { const v = x[i]; out[i] = v > 0 ? v : 0; } break;
    case "sigmoid": for (let i = 0; i < n; i++) out[i] = sigmoidf(x[i]); break;
    case "tanh": for (let i = 0; i < n; i++) out[i] = tanhf(x[i]); break;
    case "reciprocal": for (let i = 0; i < n; i++) out[i] = 1 / x[i]; break;
    case "square": for (let i = 0; i < n; i++) out[i] = x[i] * x[i]; break;
    case "step": for (let i = 0; i < n; i++) out[i] = x[i] > 0 ? 1 : 0; break;
    case "floor": for (let i = 0; i < n; i++) out[i] = Math.floor(x[i]); break;
    case "ceil": for (let i = 0; i < n; i++) out[i] = Math.ceil(x[i]); break;
    case "round": for (let i = 0; i < n; i++) { const v = x[i]; const r = Math.round(v); out[i] = Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : r; } break; // half to even, as PyTorch
    case "sin": for (let i = 0; i < n; i++) out[i] = Math.sin(x[i]); break;
    case "cos": for (let i = 0; i < n; i++) out[i] = Math.cos(x[i]); break;
    case "logicalNot": for (let i = 0; i < n; i++) out[i] = x[i] ? 0 : 1; break;
    case "log1p": for (let i = 0; i < n; i++) out[i] = Math.log1p(x[i]); break;
    case "expm1": for (let i = 0; i < n; i++) out[i] = Math.expm1(x[i]); break;
    case "softplus": for (let i = 0; i < n; i++) { const v = x[i]; out[i] = v > 20 ? v : Math.log1p(Math.exp(v)); } break;
    default: throw new Error(`cpu: unknown unary op '${op as string}'`);
  }
}

/** out[i] = a[i*sa] op b[i*sb] — sa/sb are 1 (same shape) or 0 (a scalar). */
export function binaryLoop(op: BinaryOp, a: TypedArray, sa: number, b: TypedArray, sb: number, out: TypedArray, n: number): void {
  switch (op) {
    case "add": for (let i = 0; i < n; i++) out[i] = a[i * sa] + b[i * sb]; break;
    case "sub": for (let i = 0; i < n; i++) out[i] = a[i * sa] - b[i * sb]; break;
    case "mul": for (let i = 0; i < n; i++) out[i] = a[i * sa] * b[i * sb]; break;
    case "div": for (let i = 0; i < n; i++) out[i] = a[i * sa] / b[i * sb]; break;
    case "pow": for (let i = 0; i < n; i++) out[i] = Math.pow(a[i * sa], b[i * sb]); break;
    case "maximum": for (let i = 0; i < n; i++) { const x = a[i * sa], y = b[i * sb]; out[i] = x !== x || y !== y ? NaN : x > y ? x : y; } break;
    case "minimum": for (let i = 0; i < n; i++) { const x = a[i * sa], y = b[i * sb]; out[i] = x !== x || y !== y ? NaN : x < y ? x : y; } break;
    case "eq": for (let i = 0; i < n; i++) out[i] = a[i * sa] === b[i * sb] ? 1 : 0; break;
    case "ne": for (let i = 0; i < n; i++) out[i] = a[i * sa] !== b[i * sb] ? 1 : 0; break;
    case "lt": for (let i = 0; i < n; i++) out[i] = a[i * sa] < b[i * sb] ? 1 : 0; break;
    case "le": for (let i = 0; i < n; i++) out[i] = a[i * sa] <= b[i * sb] ? 1 : 0; break;
    case "gt": for (let i = 0; i < n; i++) out[i] = a[i * sa] > b[i * sb] ? 1 : 0; break;
    case "ge": for (let i = 0; i < n; i++) out[i] = a[i * sa] >= b[i * sb] ? 1 : 0; break;
    case "logicalAnd": for (let i = 0; i < n; i++) out[i] = a[i * sa] && b[i * sb] ? 1 : 0; break;
    case "logicalOr": for (let i = 0; i < n; i++) out[i] = a[i * sa] || b[i * sb] ? 1 : 0; break;
    case "tanhGrad": for (let i = 0; i < n; i++) { const y = a[i * sa]; out[i] = b[i * sb] * (1 - y * y); } break;
    case "sigmoidGrad": for (let i = 0; i < n; i++) { const y = a[i * sa]; out[i] = b[i * sb] * y * (1 - y); } break;
    case "reluGrad": for (let i = 0; i < n; i++) out[i] = a[i * sa] > 0 ? b[i * sb] : 0; break;
    default: throw new Error(`cpu: unknown binary op '${op as string}'`);
  }
}

/**
 * out[r * m + j] = full[r * m + j] op row[j] (or row[j] op full[r * m + j] when `rowFirst`) for
 * r < rows, j < m: a binary op with one operand broadcast over the leading dimensions (a linear
 * layer's bias), without materializing the broadcast; + − × ÷ on float32, binaryLoop's bits.
 * False for other ops (the caller expands the row and runs binaryLoop).
 */
export function rowBroadcastF32(op: BinaryOp, full: Float32Array, row: Float32Array, rowFirst: boolean, out: Float32Array, rows: number, m: number): boolean {
  if (op !== "add" && op !== "sub" && op !== "mul" && op !== "div") return false;
  for (let r = 0, o = 0; r < rows; r++, o += m) {
    if (op === "add") for (let j = 0; j < m; j++) out[o + j] = full[o + j] + row[j];
    else if (op === "mul") for (let j = 0; j < m; j++) out[o + j] = full[o + j] * row[j];
    else if (op === "sub") {
      if (rowFirst) for (let j = 0; j < m; j++) out[o + j] = row[j] - full[o + j];
      else for (let j = 0; j < m; j++) out[o + j] = full[o + j] - row[j];
    } else if (rowFirst) for (let j = 0; j < m; j++) out[o + j] = row[j] / full[o + j];
    else for (let j = 0; j < m; j++) out[o + j] = full[o + j] / row[j];
  }
  return true;
}
