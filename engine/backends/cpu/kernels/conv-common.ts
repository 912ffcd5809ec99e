// What the convolution strategies share: the parameters, the checks of a gradient's shapes, the
// geometry of one call, and small helpers. (The output size and the input/weight checks are
// engine/shape.ts's, shared with the WebGPU backend.)

import { checkConv2dShapes, conv2dOutputSize, sizeOf } from "../../../shape.ts";

export { conv2dOutputSize };
export interface Conv2dParams {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}


export const fmt = (s: readonly number[]) => `[${s.join(", ")}]`;

/** Checks dy against x for the backward functions (see the header comment). */
export function checkDy(fn: string, xShape: number[], wShape: number[], dyShape: number[], p: Conv2dParams): void {
  checkConv2dShapes(fn, xShape, wShape, p);
  const bad = (why: string) =>
    new Error(`${fn}: input shape ${fmt(xShape)}, weight shape ${fmt(wShape)}, grad_output shape ${fmt(dyShape)}: ${why}`);
  if (dyShape.length !== 4) throw bad("grad_output must be 4-D");
  if (dyShape[0] !== xShape[0] || dyShape[1] !== wShape[0]) throw bad("batch or channel count mismatch");
  for (let d = 0; d < 2; d++) {
    const OH = dyShape[2 + d], H = xShape[2 + d], k = wShape[2 + d];
    const s = p.stride[d], pad = p.padding[d], dil = p.dilation[d];
    if (!(Number.isInteger(OH) && OH >= 1)) throw bad("empty grad_output");
    const hMin = (OH - 1) * s - 2 * pad + dil * (k - 1) + 1;
    const extra = H - hMin;
    if (!(extra >= 0 && extra < Math.max(s, dil))) {
      throw bad(`spatial size does not match the conv2d output size formula (stride ${fmt(p.stride)}, padding ${fmt(p.padding)}, dilation ${fmt(p.dilation)})`);
    }
  }
}

export function checkLen(fn: string, name: string, a: Float32Array, shape: number[]): void {
  const n = sizeOf(shape); // (not reduce with an arrow made at each call: V8 compiled it again after full collections)
  if (a.length !== n) throw new Error(`${fn}: ${name} has ${a.length} elements, shape ${fmt(shape)} needs ${n}`);
}


export interface Geo {
  N: number; C: number; H: number; W: number;
  O: number; Cg: number; Og: number; G: number; KH: number; KW: number;
  OH: number; OW: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  CKK: number; OHW: number;
}

export function geometry(xShape: number[], wShape: number[], OH: number, OW: number, p: Conv2dParams): Geo {
  const [N, C, H, W] = xShape;
  const [O, Cg, KH, KW] = wShape;
  const G = p.groups;
  return {
    N, C, H, W, O, Cg, Og: O / G, G, KH, KW, OH, OW,
    sh: p.stride[0], sw: p.stride[1], ph: p.padding[0], pw: p.padding[1], dh: p.dilation[0], dw: p.dilation[1],
    CKK: Cg * KH * KW, OHW: OH * OW,
  };
}


/** Valid output-column range [start, end) for kernel column offset `off` (= kw*dw - pw). */
export function validRange(off: number, s: number, inSize: number, outSize: number): [number, number] {
  // need 0 <= o*s + off < inSize
  const start = off >= 0 ? 0 : Math.ceil(-off / s);
  const end = Math.min(outSize, Math.floor((inSize - 1 - off) / s) + 1);
  return [Math.min(start, outSize), Math.max(end, Math.min(start, outSize))];
}

export const align4 = (v: number) => Math.ceil(v / 4) * 4;

/** 1x1 kernel, stride 1, no padding: the convolution is a GEMM on the planes. */
export function isPointwise(g: Geo): boolean {
  return g.KH === 1 && g.KW === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0;
}

/**
 * Convolutions of at least this many multiply-adds use worker threads (measured on 2 cores: the
 * forward and input gradient break even around 4M).
 */
export const PAR_MIN_WORK = 1 << 22;
