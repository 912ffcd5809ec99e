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
