// The pooling function of the SIMD module.
//
// Export:
//  maxpool2(x, H, W, npl, OH, OW, out, idx): 2x2 / stride 2 max pooling of
//    npl planes [H, W] into [OH, OW] planes (values, i32 flat indices), for
//    output rows < OH (all windows inside) and the first 4*floor(OW/4) columns.

import { Code, I32, V128, Simd, Op, type FuncDef } from "./writer.ts";

/** 2x2 stride-2 max pooling, 4 outputs per step, PyTorch's scan order and NaN rule, branch-free. */
export function maxPool2(): FuncDef {
  const X = 0, H = 1, W = 2, NPL = 3, OH = 4, OW = 5, OUT = 6, IDX = 7;
  const PLANE = 8, OHC = 9, OWC = 10, RA = 11, RB = 12, I0 = 13, OP = 14, IP = 15, OW4 = 16, ROWB = 17;
  const V0 = 18, V1 = 19, V2 = 20, V3 = 21, M = 22, MI = 23, BASE = 24, C = 25, S1 = 26, SW = 27, SW1 = 28, K = 29;
  const c = new Code();
  const even = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
  const odd = even.map((v) => v + 4);
  c.get(OW).i32(2).op(0x75 /* i32.shr_s */).set(OW4);
  c.block();
  c.get(OW4).op(Op.i32_eqz).brIf(0);
  c.get(NPL).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(OH).i32(0).op(Op.i32_le_s).brIf(0);
  c.i32(1).simd(Simd.i32x4_splat).set(S1);
  c.get(W).simd(Simd.i32x4_splat).set(SW);
  c.get(W).i32(1).op(Op.i32_add).simd(Simd.i32x4_splat).set(SW1);
  c.v128I32([0, 2, 4, 6]).set(K);
  c.get(W).i32(8).op(Op.i32_mul).set(ROWB); // two input rows, in bytes
  c.get(OUT).set(OP).get(IDX).set(IP);
  c.loop(); // planes
  c.get(X).set(PLANE).i32(0).set(I0);
  c.get(OH).set(OHC);
  c.loop(); // output rows
  c.get(PLANE).set(RA);
  c.get(PLANE).get(W).i32(2).op(Op.i32_shl).op(Op.i32_add).set(RB);
  c.get(I0).simd(Simd.i32x4_splat).get(K).simd(Simd.i32x4_add).set(BASE);
  c.get(OW4).set(OWC);
  c.loop(); // groups of 4 outputs
  c.get(RA).simdMem(Simd.v128_load, 0, 0).get(RA).simdMem(Simd.v128_load, 0, 16).shuffle(even).set(V0);
  c.get(RA).simdMem(Simd.v128_load, 0, 0).get(RA).simdMem(Simd.v128_load, 0, 16).shuffle(odd).set(V1);
  c.get(RB).simdMem(Simd.v128_load, 0, 0).get(RB).simdMem(Simd.v128_load, 0, 16).shuffle(even).set(V2);
  c.get(RB).simdMem(Simd.v128_load, 0, 0).get(RB).simdMem(Simd.v128_load, 0, 16).shuffle(odd).set(V3);
  c.get(V0).set(M).get(BASE).set(MI);
  for (const [v, s] of [[V1, S1], [V2, SW], [V3, SW1]]) {
    // take v where v > m or v is NaN
    c.get(v).get(M).simd(Simd.f32x4_gt).get(v).get(v).simd(Simd.f32x4_ne).simd(Simd.v128_or).set(C);
    c.get(v).get(M).get(C).simd(Simd.v128_bitselect).set(M);
    c.get(BASE).get(s).simd(Simd.i32x4_add).get(MI).get(C).simd(Simd.v128_bitselect).set(MI);
  }
  c.get(OP).get(M).simdMem(Simd.v128_store, 0, 0);
  c.get(IP).get(MI).simdMem(Simd.v128_store, 0, 0);
  c.get(OP).i32(16).op(Op.i32_add).set(OP);
  c.get(IP).i32(16).op(Op.i32_add).set(IP);
  c.get(RA).i32(32).op(Op.i32_add).set(RA);
  c.get(RB).i32(32).op(Op.i32_add).set(RB);
  c.get(BASE).i32(8).simd(Simd.i32x4_splat).simd(Simd.i32x4_add).set(BASE);
  c.get(OWC).i32(1).op(Op.i32_sub).tee(OWC).brIf(0);
  c.end();
  // skip the output columns past 4*OW4 (done by the caller)
  c.get(OP).get(OW).get(OW4).i32(2).op(Op.i32_shl).op(Op.i32_sub).i32(2).op(Op.i32_shl).op(Op.i32_add).set(OP);
  c.get(IP).get(OW).get(OW4).i32(2).op(Op.i32_shl).op(Op.i32_sub).i32(2).op(Op.i32_shl).op(Op.i32_add).set(IP);
  c.get(PLANE).get(ROWB).op(Op.i32_add).set(PLANE);
  c.get(I0).get(W).i32(1).op(Op.i32_shl).op(Op.i32_add).set(I0);
  c.get(OHC).i32(1).op(Op.i32_sub).tee(OHC).brIf(0);
  c.end();
  c.get(X).get(H).get(W).op(Op.i32_mul).i32(2).op(Op.i32_shl).op(Op.i32_add).set(X);
  c.get(NPL).i32(1).op(Op.i32_sub).tee(NPL).brIf(0);
  c.end();
  c.end();
  const locals = [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32];
  for (let i = 0; i < 12; i++) locals.push(V128);
  return { name: "maxpool2", params: [I32, I32, I32, I32, I32, I32, I32, I32], results: [], locals, body: c };
}
