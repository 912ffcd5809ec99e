/// <reference types="@webgpu/types" />
/**
 * Convolution (implicit GEMM through gemm.ts: no im2col buffer) and pooling: conv2d and its
 * input and weight gradients, max / average pooling and their gradients.
 */
import type { AvgPool2dAttrs, Conv2dAttrs, OpTable, Pool2dAttrs, TensorData } from "../../op-table.js";
import { conv2dOutputSize, pool2dOutputSize, sizeOf } from "../../shape.js";
import { runGemm, type GemmBinding } from "./gemm.js";
import type { GpuTensors } from "./tensors.js";
import { ATOMIC_ADD_F32, binding, main, MATH, u } from "./wgsl.js";

type ConvPoolOp = "conv2d" | "conv2dBackwardInput" | "conv2dBackwardWeight" | "maxPool2d" | "maxPool2dBackward" | "avgPool2d" | "avgPool2dBackward";

export function convPoolOps(k: GpuTensors): Pick<OpTable, ConvPoolOp> {
  const { ctx, buf, alloc, out, run, fill } = k;
  function conv2d(x: TensorData, w: TensorData, bias: TensorData | null, a: Conv2dAttrs): TensorData {
    const [N, O, OH, OW] = conv2dOutputSize(x.shape, w.shape, a);
    const [, C, H, W] = x.shape;
    const [, Cg, KH, KW] = w.shape;
    const G = a.groups, Og = O / G;
    const y = alloc([N, O, OH, OW], "float32");
    const bindings: GemmBinding[] = [
      { name: "x", type: "f32", rw: false, buffer: buf(x, "conv2d") },
      { name: "w", type: "f32", rw: false, buffer: buf(w, "conv2d") },
      { name: "y", type: "f32", rw: true, buffer: out(y) },
    ];
    if (bias) bindings.push({ name: "bias", type: "f32", rw: false, buffer: buf(bias, "conv2d") });
    const K = Cg * KH * KW;
    const helpers = () => `
fn loadA(g: u32, m: u32, k: u32) -> f32 {
  let n = m / ${u(OH * OW)}; let r = m % ${u(OH * OW)}; let oh = r / ${u(OW)}; let ow = r % ${u(OW)};
  let c = k / ${u(KH * KW)}; let r2 = k % ${u(KH * KW)}; let kh = r2 / ${u(KW)}; let kw = r2 % ${u(KW)};
  let ih = i32(oh * ${u(a.stride[0])} + kh * ${u(a.dilation[0])}) - ${a.padding[0]}i;
  let iw = i32(ow * ${u(a.stride[1])} + kw * ${u(a.dilation[1])}) - ${a.padding[1]}i;
  if (ih < 0i || ih >= ${H}i || iw < 0i || iw >= ${W}i) { return 0.0; }
  return x[((n * ${u(C)} + g * ${u(Cg)} + c) * ${u(H)} + u32(ih)) * ${u(W)} + u32(iw)];
}
fn loadB(g: u32, k: u32, o: u32) -> f32 { return w[(g * ${u(Og)} + o) * ${u(K)} + k]; }
fn store(g: u32, m: u32, o: u32, v: f32) {
  let n = m / ${u(OH * OW)}; let r = m % ${u(OH * OW)};
  y[(n * ${u(O)} + g * ${u(Og)} + o) * ${u(OH * OW)} + r] = v${bias ? ` + bias[g * ${u(Og)} + o]` : ""};
}
`;
    runGemm(ctx, { op: "conv2d", M: N * OH * OW, N: Og, K, batch: G, bindings, helpers, aMajor: "m", bMajor: "k" });
    return y;
  }

  function conv2dBackwardInput(dy: TensorData, w: TensorData, a: Conv2dAttrs & { xShape: number[] }): TensorData {
    const [N, C, H, W] = a.xShape;
    const [O, Cg, KH, KW] = w.shape;
    const [, , OH, OW] = dy.shape;
    const G = a.groups, Og = O / G;
    const dx = alloc([...a.xShape], "float32");
    const bindings: GemmBinding[] = [
      { name: "dy", type: "f32", rw: false, buffer: buf(dy, "conv2dBackwardInput") },
      { name: "w", type: "f32", rw: false, buffer: buf(w, "conv2dBackwardInput") },
      { name: "dx", type: "f32", rw: true, buffer: out(dx) },
    ];
    const [sh, sw] = a.stride, [ph, pw] = a.padding, [dh, dw] = a.dilation;
    const helpers = () => `
fn loadA(g: u32, m: u32, k: u32) -> f32 {
  let n = m / ${u(H * W)}; let r = m % ${u(H * W)}; let ih = r / ${u(W)}; let iw = r % ${u(W)};
  let o = k / ${u(KH * KW)}; let r2 = k % ${u(KH * KW)}; let kh = r2 / ${u(KW)}; let kw = r2 % ${u(KW)};
  let th = i32(ih) + ${ph}i - i32(kh * ${u(dh)});
  let tw = i32(iw) + ${pw}i - i32(kw * ${u(dw)});
  if (th < 0i || tw < 0i) { return 0.0; }
  let oh = u32(th) / ${u(sh)}; let ow = u32(tw) / ${u(sw)};
  if (oh * ${u(sh)} != u32(th) || ow * ${u(sw)} != u32(tw) || oh >= ${u(OH)} || ow >= ${u(OW)}) { return 0.0; }
  return dy[((n * ${u(O)} + g * ${u(Og)} + o) * ${u(OH)} + oh) * ${u(OW)} + ow];
}
fn loadB(g: u32, k: u32, c: u32) -> f32 {
  let o = k / ${u(KH * KW)}; let r2 = k % ${u(KH * KW)};
  return w[((g * ${u(Og)} + o) * ${u(Cg)} + c) * ${u(KH * KW)} + r2];
}
fn store(g: u32, m: u32, c: u32, v: f32) {
  let n = m / ${u(H * W)}; let r = m % ${u(H * W)};
  dx[(n * ${u(C)} + g * ${u(Cg)} + c) * ${u(H * W)} + r] = v;
}
`;
    runGemm(ctx, { op: "conv2dBackwardInput", M: N * H * W, N: Cg, K: Og * KH * KW, batch: G, bindings, helpers, aMajor: "m", bMajor: "n" });
    return dx;
  }

  function conv2dBackwardWeight(x: TensorData, dy: TensorData, a: Conv2dAttrs & { wShape: number[] }): TensorData {
    const [N, C, H, W] = x.shape;
    const [O, Cg, KH, KW] = a.wShape;
    const [, , OH, OW] = dy.shape;
    const G = a.groups, Og = O / G;
    const dw = alloc([...a.wShape], "float32");
    const bindings: GemmBinding[] = [
      { name: "x", type: "f32", rw: false, buffer: buf(x, "conv2dBackwardWeight") },
      { name: "dy", type: "f32", rw: false, buffer: buf(dy, "conv2dBackwardWeight") },
      { name: "dw", type: "f32", rw: true, buffer: out(dw) },
    ];
    const helpers = () => `
fn loadA(g: u32, o: u32, k: u32) -> f32 {
  let n = k / ${u(OH * OW)}; let r = k % ${u(OH * OW)};
  return dy[(n * ${u(O)} + g * ${u(Og)} + o) * ${u(OH * OW)} + r];
}
fn loadB(g: u32, k: u32, j: u32) -> f32 {
  let n = k / ${u(OH * OW)}; let r = k % ${u(OH * OW)}; let oh = r / ${u(OW)}; let ow = r % ${u(OW)};
  let c = j / ${u(KH * KW)}; let r2 = j % ${u(KH * KW)}; let kh = r2 / ${u(KW)}; let kw = r2 % ${u(KW)};
  let ih = i32(oh * ${u(a.stride[0])} + kh * ${u(a.dilation[0])}) - ${a.padding[0]}i;
  let iw = i32(ow * ${u(a.stride[1])} + kw * ${u(a.dilation[1])}) - ${a.padding[1]}i;
  if (ih < 0i || ih >= ${H}i || iw < 0i || iw >= ${W}i) { return 0.0; }
  return x[((n * ${u(C)} + g * ${u(Cg)} + c) * ${u(H)} + u32(ih)) * ${u(W)} + u32(iw)];
}
fn store(g: u32, o: u32, j: u32, v: f32) { dw[(g * ${u(Og)} + o) * ${u(Cg * KH * KW)} + j] = v; }
`;
    runGemm(ctx, { op: "conv2dBackwardWeight", M: Og, N: Cg * KH * KW, K: N * OH * OW, batch: G, bindings, helpers, aMajor: "k", bMajor: "k" });
    return dw;
  }


  return {
    conv2d(x, w, bias, attrs) {
      return conv2d(x, w, bias, attrs);
    },
    conv2dBackwardInput(dy, w, attrs) {
      return conv2dBackwardInput(dy, w, attrs);
    },
    conv2dBackwardWeight(x, dy, attrs) {
      return conv2dBackwardWeight(x, dy, attrs);
    },

    maxPool2d(x, p: Pool2dAttrs) {
      const shape = pool2dOutputSize(x.shape, p);
      const [N, C, OH, OW] = shape;
      const [, , H, W] = x.shape;
      const o = alloc([...shape], "float32");
      const ind = alloc([...shape], "int32");
      const n = N * C * OH * OW;
      if (n === 0) return [o, ind];
      const [KH, KW] = p.kernel, [sh, sw] = p.stride, [ph, pw] = p.padding, [dh, dw] = p.dilation;
      const code = () => binding(0, "x", "f32") + binding(1, "out", "f32", true) + binding(2, "ind", "i32", true) + MATH +
        main(`  if (idx >= ${u(n)}) { return; }
  let ow = i32(idx % ${u(OW)});
  let oh = i32((idx / ${u(OW)}) % ${u(OH)});
  let pl = idx / ${u(OH * OW)};
  var h0 = oh * ${sh}i - ${ph}i;
  let h1 = min(h0 + ${(KH - 1) * dh + 1}i, ${H}i);
  while (h0 < 0i) { h0 = h0 + ${dh}i; }
  var w0 = ow * ${sw}i - ${pw}i;
  let w1 = min(w0 + ${(KW - 1) * dw + 1}i, ${W}i);
  while (w0 < 0i) { w0 = w0 + ${dw}i; }
  var best = f32bits(0xff800000u);
  var bi = h0 * ${W}i + w0;
  let base = pl * ${u(H * W)};
  for (var ih = h0; ih < h1; ih = ih + ${dh}i) {
    for (var iw = w0; iw < w1; iw = iw + ${dw}i) {
      let v = x[base + u32(ih * ${W}i + iw)];
      if (v > best || isnan_(v)) { best = v; bi = ih * ${W}i + iw; }
    }
  }
  out[idx] = best;
  ind[idx] = bi;`);
      ctx.dispatch("maxPool2d", code, [buf(x, "maxPool2d"), out(o), out(ind)], ctx.grid(n), [false, true, true]);
      return [o, ind];
    },

    maxPool2dBackward(dy, indices, { xShape }) {
      const o = fill([...xShape], 0, "float32");
      const n = sizeOf(dy.shape);
      if (n === 0) return o;
      const HW = xShape[2] * xShape[3], OHW = dy.shape[2] * dy.shape[3];
      const code = () => binding(0, "dy", "f32") + binding(1, "ind", "i32") + `@group(0) @binding(2) var<storage, read_write> out: array<atomic<u32>>;\n` +
        `@group(0) @binding(3) var<storage, read_write> err: array<atomic<u32>>;\n` + ATOMIC_ADD_F32 +
        main(`  if (idx >= ${u(n)}) { return; }
  let v = ind[idx];
  if (v < 0i || v >= ${HW}i) { atomicMax(&err[0], 5u); return; }
  atomicAddF32(&out[(idx / ${u(OHW)}) * ${u(HW)} + u32(v)], dy[idx]);`);
      run("maxPool2dBackward", code, [dy, indices], o, n, true);
      return o;
    },

    avgPool2d(x, p: AvgPool2dAttrs) {
      const shape = pool2dOutputSize(x.shape, { ...p, dilation: [1, 1] });
      const [N, C, OH, OW] = shape;
      const [, , H, W] = x.shape;
      const o = alloc([...shape], "float32");
      const n = N * C * OH * OW;
      if (n === 0) return o;
      const code = () => binding(0, "x", "f32") + binding(1, "out", "f32", true) + avgWindowFn(p, H, W) +
        main(`  if (idx >= ${u(n)}) { return; }
  let ow = i32(idx % ${u(OW)});
  let oh = i32((idx / ${u(OW)}) % ${u(OH)});
  let pl = idx / ${u(OH * OW)};
  let wd = win(oh, ow);
  if (wd.x >= wd.y || wd.z >= wd.w) { out[idx] = 0.0; return; }
  var s = 0.0;
  let base = pl * ${u(H * W)};
  for (var ih = wd.x; ih < wd.y; ih = ih + 1i) {
    for (var iw = wd.z; iw < wd.w; iw = iw + 1i) { s = s + x[base + u32(ih * ${W}i + iw)]; }
  }
  out[idx] = s / divisor(oh, ow, wd);`);
      run("avgPool2d", code, [x], o, n);
      return o;
    },

    avgPool2dBackward(dy, p) {
      const [N, C, H, W] = p.xShape;
      const [, , OH, OW] = dy.shape;
      const o = alloc([...p.xShape], "float32");
      const n = N * C * H * W;
      if (n === 0) return o;
      const [KH, KW] = p.kernel, [sh, sw] = p.stride, [ph, pw] = p.padding;
      // gather: every output window that covers (ih, iw)
      const code = () => binding(0, "dy", "f32") + binding(1, "out", "f32", true) + avgWindowFn(p, H, W) +
        main(`  if (idx >= ${u(n)}) { return; }
  let iw = i32(idx % ${u(W)});
  let ih = i32((idx / ${u(W)}) % ${u(H)});
  let pl = idx / ${u(H * W)};
  let oh0 = max(0i, (ih + ${ph}i - ${KH}i + ${sh}i) / ${sh}i);
  let oh1 = min(${OH}i, (ih + ${ph}i) / ${sh}i + 1i);
  let ow0 = max(0i, (iw + ${pw}i - ${KW}i + ${sw}i) / ${sw}i);
  let ow1 = min(${OW}i, (iw + ${pw}i) / ${sw}i + 1i);
  var s = 0.0;
  for (var oh = oh0; oh < oh1; oh = oh + 1i) {
    for (var ow = ow0; ow < ow1; ow = ow + 1i) {
      let wd = win(oh, ow);
      if (ih >= wd.x && ih < wd.y && iw >= wd.z && iw < wd.w) {
        s = s + dy[pl * ${u(OH * OW)} + u32(oh * ${OW}i + ow)] / divisor(oh, ow, wd);
      }
    }
  }
  out[idx] = s;`);
      run("avgPool2dBackward", code, [dy], o, n);
      return o;
    },
  };
}

/** Window [h0, h1) x [w0, w1) clipped to the input, and the divisor, as the CPU kernel (PyTorch's rule). */
function avgWindowFn(p: AvgPool2dAttrs, H: number, W: number): string {
  const [KH, KW] = p.kernel, [sh, sw] = p.stride, [ph, pw] = p.padding;
  return `
fn win(oh: i32, ow: i32) -> vec4i {
  let h0 = oh * ${sh}i - ${ph}i;
  let h1 = min(h0 + ${KH}i, ${H + ph}i);
  let w0 = ow * ${sw}i - ${pw}i;
  let w1 = min(w0 + ${KW}i, ${W + pw}i);
  return vec4i(max(h0, 0i), min(h1, ${H}i), max(w0, 0i), min(w1, ${W}i));
}
fn divisor(oh: i32, ow: i32, wd: vec4i) -> f32 {
  ${p.countIncludePad
    ? `let h0 = oh * ${sh}i - ${ph}i; let h1 = min(h0 + ${KH}i, ${H + ph}i); let w0 = ow * ${sw}i - ${pw}i; let w1 = min(w0 + ${KW}i, ${W + pw}i); return f32((h1 - h0) * (w1 - w0));`
    : `return f32((wd.y - wd.x) * (wd.w - wd.z));`}
}
`;
}
