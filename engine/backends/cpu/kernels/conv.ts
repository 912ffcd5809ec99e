// 2-D convolution (NCHW, float32) with the semantics of torch.nn.functional.conv2d
// and its gradients. Weights are [O, C/groups, kh, kw]. Each entry point picks one of
// four strategies, fastest first:
//  - 1x1 / stride 1 / no padding: GEMM on the planes directly (below);
//  - stride 1, with WASM SIMD: "implicit GEMM" reading a zero-padded copy of each image, no
//    im2col (conv-implicit.ts); the input gradient is the correlation of dy with the flipped
//    weights, the weight gradient dot products over output positions;
//  - otherwise, with WASM SIMD: im2col / col2im inside WASM memory + the same functions
//    (conv-wasm-cols.ts);
//  - without WASM SIMD: the plain im2col / col2im + the TypeScript GEMM (conv-im2col.ts: the
//    lecture's algorithm, and the reference the others are tested against).
// Shapes, checks and geometry: conv-common.ts.
//
// conv_transpose2d is conv2dBackwardInput (its forward), conv2dForward (the
// gradient for its input) and conv2dBackwardWeight (its weight gradient, with
// the roles of x and dy swapped). For that, the backward functions accept a
// dy whose spatial size is any that conv_transpose2d allows for the given x
// (x rows = (OH-1)*stride - 2*pad + dil*(k-1) + 1 + output_padding,
// 0 <= output_padding < max(stride, dil)); rows of x that no window reaches get
// zero gradient.

import { wasmInstance } from "../wasm/runtime.ts";
import { emptyF32 } from "../alloc.ts";
import { gemm } from "./gemm.ts";
import { checkDy, checkLen, conv2dOutputSize, geometry, isPointwise, type Conv2dParams } from "./conv-common.ts";
import { addBiasPlanes, im2colBackwardInput, im2colBackwardWeight, im2colForward } from "./conv-im2col.ts";
import { implicitConv, implicitOk, implicitWeightGrad } from "./conv-implicit.ts";
import { colsBackwardInput, colsBackwardWeight, colsForward } from "./conv-wasm-cols.ts";

export type { Conv2dParams };

export function conv2dForward(
  x: Float32Array, xShape: number[], w: Float32Array, wShape: number[], bias: Float32Array | null, p: Conv2dParams,
): Float32Array {
  const [, , OH, OW] = conv2dOutputSize(xShape, wShape, p);
  checkLen("conv2d", "input", x, xShape);
  checkLen("conv2d", "weight", w, wShape);
  if (bias && bias.length !== wShape[0]) throw new Error(`conv2d: bias has ${bias.length} elements, expected ${wShape[0]}`);
  const g = geometry(xShape, wShape, OH, OW, p);
  const { N, O, Og, G, CKK, OHW, C } = g;
  if (N === 0) return new Float32Array(0);
  const wasm = wasmInstance();
  const implicit = !isPointwise(g) && g.sh === 1 && g.sw === 1 && implicitOk(wasm, O * CKK, g.Cg, OH + g.dh * (g.KH - 1), OW + g.dw * (g.KW - 1));
  // the implicit GEMM writes every output (no zero-filling needed); the other strategies add into it
  const out = implicit ? emptyF32(N * O * OHW) : new Float32Array(N * O * OHW);
  if (isPointwise(g)) {
    for (let n = 0; n < N; n++) {
      for (let gi = 0; gi < G; gi++) {
        gemm(false, false, Og, OHW, CKK, 1, w, gi * Og * CKK, CKK, x, (n * C + gi * CKK) * OHW, OHW, 0, out, (n * O + gi * Og) * OHW, OHW);
      }
    }
    if (bias) addBiasPlanes(out, bias, N, O, OHW);
  } else if (implicit) {
    implicitConv(wasm!, x, N, G, g.Cg, g.H, g.W, w, Og, g.KH, g.KW, g.dh, g.dw, g.ph, g.pw, OH, OW, bias, out);
  } else if (wasm) {
    colsForward(wasm, x, g, w, bias, out);
  } else {
    im2colForward(x, g, w, bias, out);
  }
  return out;
}

export function conv2dBackwardInput(
  dy: Float32Array, dyShape: number[], w: Float32Array, wShape: number[], xShape: number[], p: Conv2dParams,
): Float32Array {
  checkDy("conv2d_backward_input", xShape, wShape, dyShape, p);
  checkLen("conv2d_backward_input", "grad_output", dy, dyShape);
  checkLen("conv2d_backward_input", "weight", w, wShape);
  const g = geometry(xShape, wShape, dyShape[2], dyShape[3], p);
  const { N, C, H, W, Og, G, CKK, OHW, Cg, O } = g;
  if (N === 0) return new Float32Array(0);
  const wasm = wasmInstance();
  const { KH, KW, dh, dw } = g;
  const pointwise = isPointwise(g) && OHW === H * W;
  const implicit = !pointwise && g.sh === 1 && g.sw === 1 && implicitOk(wasm, O * CKK, Og, H + dh * (KH - 1), W + dw * (KW - 1));
  // the implicit GEMM writes every element of dx (no zero-filling needed); the other strategies add into it
  const dx = implicit ? emptyF32(N * C * H * W) : new Float32Array(N * C * H * W);
  if (pointwise) {
    for (let n = 0; n < N; n++) {
      for (let gi = 0; gi < G; gi++) {
        gemm(true, false, Cg, OHW, Og, 1, w, gi * Og * CKK, CKK, dy, (n * O + gi * Og) * OHW, OHW, 0, dx, (n * C + gi * Cg) * OHW, OHW);
      }
    }
    return dx;
  }
  if (implicit) {
    // stride 1: dx = correlation of dy (padded by dil*(k-1) - pad) with the flipped, transposed weights
    const KK = KH * KW;
    const wt = new Float32Array(w.length); // [G][Cg][Og][KH][KW]
    for (let gi = 0; gi < G; gi++) {
      for (let o = 0; o < Og; o++) {
        for (let c = 0; c < Cg; c++) {
          const s = ((gi * Og + o) * Cg + c) * KK, d = ((gi * Cg + c) * Og + o) * KK;
          for (let k = 0; k < KK; k++) wt[d + k] = w[s + KK - 1 - k];
        }
      }
    }
    implicitConv(wasm!, dy, N, G, Og, g.OH, g.OW, wt, Cg, KH, KW, dh, dw, dh * (KH - 1) - g.ph, dw * (KW - 1) - g.pw, H, W, null, dx);
  } else if (wasm) {
    colsBackwardInput(wasm, dy, g, w, dx);
  } else {
    im2colBackwardInput(dy, g, w, dx);
  }
  return dx;
}

export function conv2dBackwardWeight(
  x: Float32Array, xShape: number[], dy: Float32Array, dyShape: number[], wShape: number[], p: Conv2dParams,
): Float32Array {
  checkDy("conv2d_backward_weight", xShape, wShape, dyShape, p);
  checkLen("conv2d_backward_weight", "input", x, xShape);
  checkLen("conv2d_backward_weight", "grad_output", dy, dyShape);
  const g = geometry(xShape, wShape, dyShape[2], dyShape[3], p);
  const { N, C, H, W, O, Og, G, CKK, OHW } = g;
  const dw = new Float32Array(O * CKK);
  if (N === 0) return dw;
  if (isPointwise(g) && OHW === H * W) {
    for (let n = 0; n < N; n++) {
      for (let gi = 0; gi < G; gi++) {
        gemm(false, true, Og, CKK, OHW, 1, dy, (n * O + gi * Og) * OHW, OHW, x, (n * C + gi * CKK) * OHW, OHW, 1, dw, gi * Og * CKK, CKK);
      }
    }
    return dw;
  }
  const wasm = wasmInstance();
  if (g.sh === 1 && g.sw === 1 && implicitOk(wasm, 0, g.Cg, g.OH + g.dh * (g.KH - 1), g.OW + g.dw * (g.KW - 1))) {
    implicitWeightGrad(wasm, x, dy, g, dw);
  } else if (wasm) {
    colsBackwardWeight(wasm, x, dy, g, dw);
  } else {
    im2colBackwardWeight(x, dy, g, dw);
  }
  return dw;
}
