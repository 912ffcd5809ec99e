/** Argument checks the layer classes share (layers.ts, norm-layers.ts). */
import { shapeStr } from "../shape.js";
import type { Tensor } from "../tensor.js";

export function checkRank(name: string, x: Tensor, ranks: number[], what: string): void {
  if (!ranks.includes(x.ndim)) throw new Error(`${name}: expected ${what} input, got input of shape ${shapeStr(x.shape)} (${x.ndim}-D)`);
}

export function checkPositiveInt(name: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: ${what} must be a positive integer, got ${v}`);
}
