/** Matrix products (batched, broadcasting) with their backward. */
import { apply } from "../autograd.js";
import { broadcastShapes, shapeStr } from "../shape.js";
import { Tensor } from "../tensor.js";
import { backendOf, checkFloat } from "./util.js";

/** op(a) @ op(b) on the last two dims (op = transpose when the flag is set); batch dims broadcast. */
export function matmulT(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  checkFloat("matmul", a);
  checkFloat("matmul", b);
  const ra = a.shape.length, rb = b.shape.length;
  const M = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const Ka = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (Ka !== Kb) {
    const sa = transA ? `${shapeStr(a.shape)} (transposed)` : shapeStr(a.shape);
    const sb = transB ? `${shapeStr(b.shape)} (transposed)` : shapeStr(b.shape);
    throw new Error(`matmul: cannot multiply ${sa} by ${sb}: inner dimensions ${Ka} and ${Kb} differ`);
  }
  const batch = broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2));
  const outShape = [...batch, M, N];
  const bk = backendOf("matmul", [a, b]);
  const data = bk.ops.matmul(a._d, b._d, { transA, transB, outShape });
  return apply("matmul", [a, b], data, (g) => [
    a.requiresGrad ? (transA ? matmulT(b, g, transB, true) : matmulT(g, b, false, !transB)) : null,
    b.requiresGrad ? (transB ? matmulT(g, a, true, transA) : matmulT(a, g, !transA, false)) : null,
  ]);
}

/** torch.matmul: 1-D operands are promoted to matrices and the added dims removed afterwards. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length === 0 || b.shape.length === 0) throw new Error(`matmul: both arguments need at least 1 dimension, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  const va = a.shape.length === 1, vb = b.shape.length === 1;
  const A = va ? a.unsqueeze(0) : a;
  const B = vb ? b.unsqueeze(1) : b;
  if (A.shape[A.shape.length - 1] !== B.shape[B.shape.length - 2]) {
    throw new Error(`matmul: cannot multiply ${shapeStr(a.shape)} by ${shapeStr(b.shape)}`);
  }
  let out = matmulT(A, B, false, false);
  if (va) out = out.squeeze(-2);
  if (vb) out = out.squeeze(-1);
  return out;
}

export function mm(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length !== 2 || b.shape.length !== 2) throw new Error(`mm: expected 2-D tensors, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  return matmul(a, b);
}

export function bmm(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length !== 3 || b.shape.length !== 3 || a.shape[0] !== b.shape[0]) throw new Error(`bmm: expected 3-D tensors with the same batch size, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  return matmul(a, b);
}

export function dot(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length !== 1 || b.shape.length !== 1 || a.shape[0] !== b.shape[0]) throw new Error(`dot: expected two 1-D tensors of the same length, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  return a.mul(b).sum();
}

export function outer(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length !== 1 || b.shape.length !== 1) throw new Error(`outer: expected two 1-D tensors, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  return a.reshape([-1, 1]).mul(b.reshape([1, -1]));
}
