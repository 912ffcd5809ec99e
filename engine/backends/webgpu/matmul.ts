/// <reference types="@webgpu/types" />
/**
 * Batched matmul through the GEMM template (gemm.ts), with broadcast batch dimensions and
 * transposed operands. A product whose tensors do not fit one shader's bindings is cut into
 * pieces: along a batch dimension or M (results joined), N (joined), or K (results added).
 */
import type { OpTable, TensorData } from "../../op-table.js";
import { broadcastStrides, matmulSizes, sizeOf } from "../../shape.js";
import { runGemm } from "./gemm.js";
import type { GpuTensors, Operand } from "./tensors.js";
import { offsetFn, u } from "./wgsl.js";

type MatmulAttrs = Parameters<OpTable["matmul"]>[2];

export function matmulOps(k: GpuTensors): Pick<OpTable, "matmul"> {
  function matmul(a: TensorData, b: TensorData, attrs: MatmulAttrs): TensorData {
    const { transA, transB, outShape } = attrs;
    const { M, N, K, batchShape, batch } = matmulSizes(a.shape, transA, outShape);
    if (K === 0 || sizeOf(outShape) === 0) return k.fill(outShape, 0, "float32");
    const o = k.alloc(outShape, "float32");
    const operands: Operand[] = [{ name: "A", t: a }, { name: "B", t: b }, { name: "C", t: o, access: "write" }];
    if (!k.fits(operands)) {
      k.free(o);
      return matmulInPieces(a, b, attrs, operands);
    }
    const aStr = broadcastStrides(a.shape.slice(0, -2), batchShape).map((s) => s * M * K);
    const bStr = broadcastStrides(b.shape.slice(0, -2), batchShape).map((s) => s * K * N);
    const helpers = () => `${offsetFn("aBase", batchShape, aStr)}${offsetFn("bBase", batchShape, bStr)}
fn loadA(bz: u32, m: u32, k: u32) -> f32 { return get_A(aBase(bz) + ${transA ? `k * ${u(M)} + m` : `m * ${u(K)} + k`}); }
fn loadB(bz: u32, k: u32, n: u32) -> f32 { return get_B(bBase(bz) + ${transB ? `n * ${u(K)} + k` : `k * ${u(N)} + n`}); }
fn store(bz: u32, m: u32, n: u32, v: f32) { set_C((bz * ${u(M)} + m) * ${u(N)} + n, v); }
`;
    runGemm(k, {
      op: "matmul", M, N, K, batch, helpers, operands,
      aMajor: transA ? "m" : "k",
      bMajor: transB ? "k" : "n",
      vec4: {
        views: [{ name: "A4", t: a }, { name: "B4", t: b }],
        helpers: () => `
fn loadA4(bz: u32, m: u32, k: u32) -> vec4f { return A4[(aBase(bz) + ${transA ? `k * ${u(M)} + m` : `m * ${u(K)} + k`}) / 4u]; }
fn loadB4(bz: u32, k: u32, n: u32) -> vec4f { return B4[(bBase(bz) + ${transB ? `n * ${u(K)} + k` : `k * ${u(N)} + n`}) / 4u]; }
`,
      },
    });
    return o;
  }

  /** The product in two pieces (each split again while it does not fit). */
  function matmulInPieces(a: TensorData, b: TensorData, attrs: MatmulAttrs, operands: Operand[]): TensorData {
    const { transA, transB, outShape } = attrs;
    const r = outShape.length, ra = a.shape.length, rb = b.shape.length;
    const { M, N, K } = matmulSizes(a.shape, transA, outShape);
    /** The products of halves: A cut along dimA, B along dimB (-1: not cut), joined along output dimension `outDim` (null: a K cut, added). */
    const pieces = (dimA: number, dimB: number, outDim: number | null): TensorData => {
      const cuts: [TensorData, number][] = [];
      if (dimA >= 0 && a.shape[dimA] > 1) cuts.push([a, dimA]);
      if (dimB >= 0 && b.shape[dimB] > 1) cuts.push([b, dimB]);
      return k.inTwo(cuts, (i, halves) => {
        const pa = dimA >= 0 && a.shape[dimA] > 1 ? halves[0] : a;
        const pb = dimB >= 0 && b.shape[dimB] > 1 ? halves[halves.length - 1] : b;
        const shape = [...outShape];
        if (outDim !== null) shape[outDim] = i === 0 ? Math.ceil(outShape[outDim] / 2) : Math.floor(outShape[outDim] / 2);
        return [k.ops.matmul(pa, pb, { transA, transB, outShape: shape })];
      }, outDim)[0];
    };
    // a batch dimension longer than 1: each operand cut where it has it (not where it is broadcast)
    const bd = outShape.slice(0, r - 2).findIndex((n) => n > 1);
    if (bd >= 0) return pieces(ra - r + bd, rb - r + bd, bd);
    // the largest tensor decides: A by M (or K), B by N (or K), C by the longer of M and N
    const [sa, sb, sc] = operands.map((o) => sizeOf(o.t.shape));
    const cutM = () => pieces(transA ? ra - 1 : ra - 2, -1, r - 2);
    const cutN = () => pieces(-1, transB ? rb - 2 : rb - 1, r - 1);
    if (sc >= sa && sc >= sb && Math.max(M, N) > 1) return M >= N ? cutM() : cutN();
    if (sa >= sb && M > 1) return cutM();
    if (sb >= sa && N > 1) return cutN();
    if (K < 2) throw k.tooLarge("matmul", operands);
    return pieces(transA ? ra - 2 : ra - 1, transB ? rb - 1 : rb - 2, null);
  }

  return { matmul };
}
