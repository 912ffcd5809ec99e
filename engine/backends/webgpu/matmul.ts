/// <reference types="@webgpu/types" />
/** Batched matmul through the GEMM template (gemm.ts), with broadcast batch dimensions and transposed operands. */
import type { OpTable } from "../../op-table.js";
import { broadcastStrides, matmulSizes, sizeOf } from "../../shape.js";
import { runGemm } from "./gemm.js";
import type { GpuTensors } from "./tensors.js";
import { offsetFn, u } from "./wgsl.js";

export function matmulOps(k: GpuTensors): Pick<OpTable, "matmul"> {
  const { ctx, buf, alloc, out, fill } = k;
  return {
    matmul(a, b, { transA, transB, outShape }) {
      const { M, N, K, batchShape, batch } = matmulSizes(a.shape, transA, outShape);
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

  };
}
