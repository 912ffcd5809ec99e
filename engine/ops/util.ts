/** Helpers shared by the op definitions: operands, device checks, scalars. */
import type { DType } from "../dtype.js";
import type { Backend } from "../op-table.js";
import { backendFor, type Device } from "../device.js";
import { Tensor } from "../tensor.js";

export type TensorLike = Tensor | number | boolean;

/** The backend all `tensors` live on; mixing devices is an error naming the op. */
export function backendOf(op: string, tensors: readonly Tensor[]): Backend {
  const dev = tensors[0].device;
  for (const t of tensors) {
    if (t.device !== dev) {
      throw new Error(`${op}: expected all tensors on the same device, but found ${dev} and ${t.device}; move one with .to("${dev}")`);
    }
  }
  return backendFor(dev);
}

/** A scalar as a 0-d tensor on `device`, typed to combine with `like` (ints stay ints, fractions make floats). */
export function scalar(v: number | boolean, device: Device, like: DType): Tensor {
  const dtype: DType = typeof v === "boolean" ? (like === "bool" ? "bool" : like) : like === "float32" || !Number.isInteger(v) ? "float32" : like === "bool" ? "int32" : like;
  const b = backendFor(device);
  const values = dtype === "float32" ? Float32Array.of(Number(v)) : dtype === "int32" ? Int32Array.of(Number(v)) : Uint8Array.of(v ? 1 : 0);
  return new Tensor(b.fromHost(values, [], dtype), device);
}

/** Turns the two operands of a binary op into tensors (a number takes the other side's device). */
export function operands(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  if (a instanceof Tensor && b instanceof Tensor) return [a, b];
  if (a instanceof Tensor) return [a, scalar(b as number, a.device, a.dtype)];
  if (b instanceof Tensor) return [scalar(a as number, b.device, b.dtype), b];
  throw new Error(`${op}: at least one operand must be a tensor`);
}

export function checkFloat(op: string, t: Tensor): void {
  if (t.dtype !== "float32") throw new Error(`${op}: expected a float32 tensor, got ${t.dtype} (convert with .float())`);
}
