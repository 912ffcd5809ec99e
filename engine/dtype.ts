import type { BinaryOp, UnaryOp } from "./op-table.js";

/** Element types. float32 is the default; int32 holds class labels and indices; bool holds comparison results. */
export type DType = "float32" | "int32" | "bool";

export type TypedArray = Float32Array | Int32Array | Uint8Array;

export function typedArrayFor(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "int32":
      return new Int32Array(size);
    case "bool":
      return new Uint8Array(size);
  }
}

export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Int32Array) return "int32";
  return "bool";
}

/** The result type of a binary arithmetic op (PyTorch's promotion for the types we have). */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === "float32" || b === "float32") return "float32";
  if (a === "int32" || b === "int32") return "int32";
  return "bool";
}

/** Unary ops whose result is float32 whatever the input dtype (as PyTorch's exp/log/... of an int tensor). */
const FLOAT_RESULT: ReadonlySet<UnaryOp> = new Set<UnaryOp>(["exp", "log", "sqrt", "rsqrt", "sigmoid", "tanh", "reciprocal", "sin", "cos", "log1p", "expm1", "softplus"]);

/** The dtype of a unary op's result: bool for logicalNot, float32 for the FLOAT_RESULT ops and any op on bool, else the input's. */
export function unaryResultDtype(op: UnaryOp, x: DType): DType {
  if (op === "logicalNot") return "bool";
  return FLOAT_RESULT.has(op) || x === "bool" ? "float32" : x;
}

/** Binary ops that compare or combine truth values: their result is bool, their operands keep their dtypes. */
const COMPARISONS: ReadonlySet<BinaryOp> = new Set<BinaryOp>(["eq", "ne", "lt", "le", "gt", "ge", "logicalAnd", "logicalOr"]);

export function isComparison(op: BinaryOp): boolean {
  return COMPARISONS.has(op);
}
