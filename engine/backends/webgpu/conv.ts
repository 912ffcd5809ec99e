/// <reference types="@webgpu/types" />
/**
 * Convolution (implicit GEMM through gemm.ts: no im2col buffer) and pooling: conv2d and its
 * input and weight gradients, max / average pooling and their gradients. A convolution whose
 * tensors do not fit one shader's bindings is cut into pieces (along the batch, the groups, or
 * the output or input channels); pooling runs in windows of whole planes.
 */
import type { AvgPool2dAttrs, Conv2dAttrs, OpTable, Pool2dAttrs, TensorData } from "../../op-table.js";
import { conv2dOutputSize, pool2dOutputSize, sizeOf } from "../../shape.js";
import { runGemm } from "./gemm.js";
import { same, type Footprint, type GpuTensors, type Operand } from "./tensors.js";
import { MATH, u } from "./wgsl.js";

type ConvPoolOp = "conv2d" | "conv2dBackwardInput" | "conv2dBackwardWeight" | "maxPool2d" | "maxPool2dBackward" | "avgPool2d" | "avgPool2dBackward";

/** The footprint of a tensor of planes of `planeSize` for threads over planes of `threadPlane` (pooling: one plane per (n, c)). */
function planes(threadPlane: number, planeSize: number): Footprint {
  return (lo, hi) => [Math.floor(lo / threadPlane) * planeSize, (Math.floor((hi - 1) / threadPlane) + 1) * planeSize - 1];
}

export function convPoolOps(k: GpuTensors): Pick<OpTable, ConvPoolOp> {
  const { alloc, launch } = k;

  /** Cuts for splitting a convolution's groups in two: [tensor, channel dim, channels per group] -> slices at the first half of the groups. */
  const groupCuts = (G: number, cuts: [TensorData, number, number][]): [TensorData, number, number][] =>
    cuts.map(([t, dim, perGroup]) => [t, dim, Math.ceil(G / 2) * perGroup]);
  const halfGroups = (G: number, i: number) => (i === 0 ? Math.ceil(G / 2) : Math.floor(G / 2));

  function conv2d(x: TensorData, w: TensorData, bias: TensorData | null, a: Conv2dAttrs): TensorData {
    const [N, O, OH, OW] = conv2dOutputSize(x.shape, w.shape, a);
    const [, C, H, W] = x.shape;
    const [, Cg, KH, KW] = w.shape;
    const G = a.groups, Og = O / G;
    const y = alloc([N, O, OH, OW], "float32");
    const operands: Operand[] = [{ name: "x", t: x }, { name: "w", t: w }, { name: "y", t: y, access: "write" }];
    if (bias) operands.push({ name: "bias", t: bias });
    if (!k.fits(operands)) {
      k.free(y);
      // by images, by groups, by output channels (w the largest), by input channels (results added, the bias once)
      if (N > 1 && sizeOf(w.shape) < sizeOf(x.shape) + sizeOf(y.shape)) return k.inTwo([[x, 0]], (_, [xh]) => [conv2d(xh, w, bias, a)], 0)[0];
      if (G > 1) {
        const cuts = groupCuts(G, bias ? [[x, 1, Cg], [w, 0, Og], [bias, 0, Og]] : [[x, 1, Cg], [w, 0, Og]]);
        return k.inTwo(cuts, (i, [xh, wh, bh]) => [conv2d(xh, wh, bh ?? null, { ...a, groups: halfGroups(G, i) })], 1)[0];
      }
      if (O > 1) return k.inTwo(bias ? [[w, 0], [bias, 0]] : [[w, 0]], (_, [wh, bh]) => [conv2d(x, wh, bh ?? null, a)], 1)[0];
      if (C > 1) return k.inTwo([[x, 1], [w, 1]], (i, [xh, wh]) => [conv2d(xh, wh, i === 0 ? bias : null, a)], null)[0];
      if (N > 1) return k.inTwo([[x, 0]], (_, [xh]) => [conv2d(xh, w, bias, a)], 0)[0];
      throw k.tooLarge("conv2d", operands);
    }
    const K = Cg * KH * KW;
    const helpers = () => `
fn loadA(g: u32, m: u32, k: u32) -> f32 {
  let n = m / ${u(OH * OW)}; let r = m % ${u(OH * OW)}; let oh = r / ${u(OW)}; let ow = r % ${u(OW)};
  let c = k / ${u(KH * KW)}; let r2 = k % ${u(KH * KW)}; let kh = r2 / ${u(KW)}; let kw = r2 % ${u(KW)};
  let ih = i32(oh * ${u(a.stride[0])} + kh * ${u(a.dilation[0])}) - ${a.padding[0]}i;
  let iw = i32(ow * ${u(a.stride[1])} + kw * ${u(a.dilation[1])}) - ${a.padding[1]}i;
  if (ih < 0i || ih >= ${H}i || iw < 0i || iw >= ${W}i) { return 0.0; }
  return get_x(((n * ${u(C)} + g * ${u(Cg)} + c) * ${u(H)} + u32(ih)) * ${u(W)} + u32(iw));
}
fn loadB(g: u32, k: u32, o: u32) -> f32 { return get_w((g * ${u(Og)} + o) * ${u(K)} + k); }
fn store(g: u32, m: u32, o: u32, v: f32) {
  let n = m / ${u(OH * OW)}; let r = m % ${u(OH * OW)};
  set_y((n * ${u(O)} + g * ${u(Og)} + o) * ${u(OH * OW)} + r, v${bias ? ` + get_bias(g * ${u(Og)} + o)` : ""});
}
`;
    runGemm(k, { op: "conv2d", M: N * OH * OW, N: Og, K, batch: G, operands, helpers, aMajor: "m", bMajor: "k" });
    return y;
  }

  function conv2dBackwardInput(dy: TensorData, w: TensorData, a: Conv2dAttrs & { xShape: number[] }): TensorData {
    const [N, C, H, W] = a.xShape;
    const [O, Cg, KH, KW] = w.shape;
    const [, , OH, OW] = dy.shape;
    const G = a.groups, Og = O / G;
    const dx = alloc([...a.xShape], "float32");
    const operands: Operand[] = [{ name: "dy", t: dy }, { name: "w", t: w }, { name: "dx", t: dx, access: "write" }];
    if (!k.fits(operands)) {
      k.free(dx);
      const xs = (n: number, c: number) => ({ ...a, xShape: [n, c, H, W] });
      // by images, by groups, by input channels (w the largest), by output channels (results added)
      if (N > 1 && sizeOf(w.shape) < sizeOf(dy.shape) + sizeOf(dx.shape)) return k.inTwo([[dy, 0]], (_, [d]) => [conv2dBackwardInput(d, w, xs(d.shape[0], C))], 0)[0];
      if (G > 1) {
        return k.inTwo(groupCuts(G, [[dy, 1, Og], [w, 0, Og]]), (i, [d, wh]) => [conv2dBackwardInput(d, wh, { ...xs(N, halfGroups(G, i) * Cg), groups: halfGroups(G, i) })], 1)[0];
      }
      if (Cg > 1) return k.inTwo([[w, 1]], (_, [wh]) => [conv2dBackwardInput(dy, wh, xs(N, wh.shape[1]))], 1)[0];
      if (O > 1) return k.inTwo([[dy, 1], [w, 0]], (_, [d, wh]) => [conv2dBackwardInput(d, wh, a)], null)[0];
      if (N > 1) return k.inTwo([[dy, 0]], (_, [d]) => [conv2dBackwardInput(d, w, xs(d.shape[0], C))], 0)[0];
      throw k.tooLarge("conv2dBackwardInput", operands);
    }
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
  return get_dy(((n * ${u(O)} + g * ${u(Og)} + o) * ${u(OH)} + oh) * ${u(OW)} + ow);
}
fn loadB(g: u32, k: u32, c: u32) -> f32 {
  let o = k / ${u(KH * KW)}; let r2 = k % ${u(KH * KW)};
  return get_w(((g * ${u(Og)} + o) * ${u(Cg)} + c) * ${u(KH * KW)} + r2);
}
fn store(g: u32, m: u32, c: u32, v: f32) {
  let n = m / ${u(H * W)}; let r = m % ${u(H * W)};
  set_dx((n * ${u(C)} + g * ${u(Cg)} + c) * ${u(H * W)} + r, v);
}
`;
    runGemm(k, { op: "conv2dBackwardInput", M: N * H * W, N: Cg, K: Og * KH * KW, batch: G, operands, helpers, aMajor: "m", bMajor: "n" });
    return dx;
  }

  function conv2dBackwardWeight(x: TensorData, dy: TensorData, a: Conv2dAttrs & { wShape: number[] }): TensorData {
    const [N, C, H, W] = x.shape;
    const [O, Cg, KH, KW] = a.wShape;
    const [, , OH, OW] = dy.shape;
    const G = a.groups, Og = O / G;
    const dw = alloc([...a.wShape], "float32");
    const operands: Operand[] = [{ name: "x", t: x }, { name: "dy", t: dy }, { name: "dw", t: dw, access: "write" }];
    if (!k.fits(operands)) {
      k.free(dw);
      const ws = (o: number, c: number) => ({ ...a, wShape: [o, c, KH, KW] });
      // by images (results added), by groups, by output channels (dw the largest), by input channels
      if (N > 1 && sizeOf(dw.shape) < sizeOf(x.shape) + sizeOf(dy.shape)) return k.inTwo([[x, 0], [dy, 0]], (_, [xh, d]) => [conv2dBackwardWeight(xh, d, a)], null)[0];
      if (G > 1) {
        return k.inTwo(groupCuts(G, [[x, 1, Cg], [dy, 1, Og]]), (i, [xh, d]) => [conv2dBackwardWeight(xh, d, { ...ws(halfGroups(G, i) * Og, Cg), groups: halfGroups(G, i) })], 0)[0];
      }
      if (O > 1) return k.inTwo([[dy, 1]], (_, [d]) => [conv2dBackwardWeight(x, d, ws(d.shape[1], Cg))], 0)[0];
      if (Cg > 1) return k.inTwo([[x, 1]], (_, [xh]) => [conv2dBackwardWeight(xh, dy, ws(O, xh.shape[1]))], 1)[0];
      if (N > 1) return k.inTwo([[x, 0], [dy, 0]], (_, [xh, d]) => [conv2dBackwardWeight(xh, d, a)], null)[0];
      throw k.tooLarge("conv2dBackwardWeight", operands);
    }
    const helpers = () => `
fn loadA(g: u32, o: u32, k: u32) -> f32 {
  let n = k / ${u(OH * OW)}; let r = k % ${u(OH * OW)};
  return get_dy((n * ${u(O)} + g * ${u(Og)} + o) * ${u(OH * OW)} + r);
}
fn loadB(g: u32, k: u32, j: u32) -> f32 {
  let n = k / ${u(OH * OW)}; let r = k % ${u(OH * OW)}; let oh = r / ${u(OW)}; let ow = r % ${u(OW)};
  let c = j / ${u(KH * KW)}; let r2 = j % ${u(KH * KW)}; let kh = r2 / ${u(KW)}; let kw = r2 % ${u(KW)};
  let ih = i32(oh * ${u(a.stride[0])} + kh * ${u(a.dilation[0])}) - ${a.padding[0]}i;
  let iw = i32(ow * ${u(a.stride[1])} + kw * ${u(a.dilation[1])}) - ${a.padding[1]}i;
  if (ih < 0i || ih >= ${H}i || iw < 0i || iw >= ${W}i) { return 0.0; }
  return get_x(((n * ${u(C)} + g * ${u(Cg)} + c) * ${u(H)} + u32(ih)) * ${u(W)} + u32(iw));
}
fn store(g: u32, o: u32, j: u32, v: f32) { set_dw((g * ${u(Og)} + o) * ${u(Cg * KH * KW)} + j, v); }
`;
    runGemm(k, { op: "conv2dBackwardWeight", M: Og, N: Cg * KH * KW, K: N * OH * OW, batch: G, operands, helpers, aMajor: "k", bMajor: "k" });
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
      const [KH, KW] = p.kernel, [sh, sw] = p.stride, [ph, pw] = p.padding, [dh, dw] = p.dilation;
      const operands: Operand[] = [{ name: "x", t: x }, { name: "out", t: o, access: "write" }, { name: "ind", t: ind, access: "write" }];
      launch("maxPool2d", operands, n, (s) => s.decl + MATH + s.main(`  let ow = i32(idx % ${u(OW)});
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
      let v = get_x(base + u32(ih * ${W}i + iw));
      if (v > best || isnan_(v)) { best = v; bi = ih * ${W}i + iw; }
    }
  }
  set_out(idx, best);
  set_ind(idx, bi);`), { footprints: [planes(OH * OW, H * W), same, same] });
      return [o, ind];
    },

    maxPool2dBackward(dy, indices, { xShape }) {
      const o = k.fill([...xShape], 0, "float32");
      const HW = xShape[2] * xShape[3], OHW = dy.shape[2] * dy.shape[3];
      const operands: Operand[] = [{ name: "dy", t: dy }, { name: "ind", t: indices }, { name: "out", t: o, access: "atomic" }];
      launch("maxPool2dBackward", operands, sizeOf(dy.shape), (s) => s.decl + s.main(`  let v = get_ind(idx);
  if (v < 0i || v >= ${HW}i) { atomicMax(&err[0], 5u); return; }
  add_out((idx / ${u(OHW)}) * ${u(HW)} + u32(v), get_dy(idx));`), { err: true, footprints: [same, same, planes(OHW, HW)] });
      return o;
    },

    avgPool2d(x, p: AvgPool2dAttrs) {
      const shape = pool2dOutputSize(x.shape, { ...p, dilation: [1, 1] });
      const [N, C, OH, OW] = shape;
      const [, , H, W] = x.shape;
      const o = alloc([...shape], "float32");
      const operands: Operand[] = [{ name: "x", t: x }, { name: "out", t: o, access: "write" }];
      launch("avgPool2d", operands, N * C * OH * OW, (s) => s.decl + avgWindowFn(p, H, W) + s.main(`  let ow = i32(idx % ${u(OW)});
  let oh = i32((idx / ${u(OW)}) % ${u(OH)});
  let pl = idx / ${u(OH * OW)};
  let wd = win(oh, ow);
  if (wd.x >= wd.y || wd.z >= wd.w) { set_out(idx, 0.0); return; }
  var s = 0.0;
  let base = pl * ${u(H * W)};
  for (var ih = wd.x; ih < wd.y; ih = ih + 1i) {
    for (var iw = wd.z; iw < wd.w; iw = iw + 1i) { s = s + get_x(base + u32(ih * ${W}i + iw)); }
  }
  set_out(idx, s / divisor(oh, ow, wd));`), { footprints: [planes(OH * OW, H * W), same] });
      return o;
    },

    avgPool2dBackward(dy, p) {
      const [N, C, H, W] = p.xShape;
      const [, , OH, OW] = dy.shape;
      const o = alloc([...p.xShape], "float32");
      const [KH, KW] = p.kernel, [sh, sw] = p.stride, [ph, pw] = p.padding;
      // gather: every output window that covers (ih, iw)
      const operands: Operand[] = [{ name: "dy", t: dy }, { name: "out", t: o, access: "write" }];
      launch("avgPool2dBackward", operands, N * C * H * W, (s) => s.decl + avgWindowFn(p, H, W) + s.main(`  let iw = i32(idx % ${u(W)});
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
        s = s + get_dy(pl * ${u(OH * OW)} + u32(oh * ${OW}i + ow)) / divisor(oh, ow, wd);
      }
    }
  }
  set_out(idx, s);`), { footprints: [planes(H * W, OH * OW), same] });
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
