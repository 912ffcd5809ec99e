// Data-movement functions of the SIMD module: strided copies, gathers and scatter-adds
// (im2col / col2im inside WASM memory, operand packing, layout changes).
//
// Exports:
//  copy2d(src, sPitch, sPlane, dst, dPitch, dPlane, planes, rows, n): copies
//    planes x rows x n floats between strided layouts (pitches in bytes);
//    writes nothing outside the n floats of each destination row.
//  gather(src, sStep, sPitch, sPlane, dst, dPitch, dPlane, planes, rows, n):
//    dst[p][r][i] = src[p][r][i * step] (strides in bytes; destination rows contiguous).
//  scatteradd(src, sPitch, sPlane, dst, dStep, dPitch, dPlane, planes, rows, n):
//    dst[p][r][i * step] += src[p][r][i] (contiguous destinations, step 4 bytes: four at a time,
//    f32x4 adds, the same bits).

import { Code, I32, Simd, Op, type FuncDef } from "./writer.ts";

/** Strided 3-D float copy with f32x4 moves (the last vector of a row overlaps when n % 4 != 0). */
function copy2d(): FuncDef {
  const SRC = 0, SP = 1, SPL = 2, DST = 3, DP = 4, DPL = 5, PLANES = 6, ROWS = 7, N = 8;
  const PC = 9, RC = 10, S = 11, D = 12, I = 13, NB = 14, TAIL = 15;
  const c = new Code();
  c.block();
  c.get(PLANES).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(ROWS).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(N).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(N).i32(2).op(Op.i32_shl).set(NB); // row bytes
  c.get(NB).i32(16).op(Op.i32_sub).set(TAIL); // offset of the last full vector
  c.get(PLANES).set(PC);
  c.loop(); // planes
  c.get(SRC).set(S).get(DST).set(D).get(ROWS).set(RC);
  c.loop(); // rows
  c.get(N).i32(4).op(Op.i32_lt_s).if_();
  // short rows: scalar
  c.i32(0).set(I);
  c.loop();
  c.get(D).get(I).op(Op.i32_add).get(S).get(I).op(Op.i32_add).mem(Op.f32_load, 2, 0).mem(Op.f32_store, 2, 0);
  c.get(I).i32(4).op(Op.i32_add).tee(I).get(NB).op(Op.i32_lt_s).brIf(0);
  c.end();
  c.op(Op.else);
  c.i32(0).set(I);
  c.block().loop();
  c.get(I).get(TAIL).op(Op.i32_gt_s).brIf(1);
  c.get(D).get(I).op(Op.i32_add).get(S).get(I).op(Op.i32_add).simdMem(Simd.v128_load, 0, 0).simdMem(Simd.v128_store, 0, 0);
  c.get(I).i32(16).op(Op.i32_add).set(I);
  c.br(0);
  c.end().end();
  c.get(I).get(NB).op(Op.i32_lt_s).if_();
  c.get(D).get(TAIL).op(Op.i32_add).get(S).get(TAIL).op(Op.i32_add).simdMem(Simd.v128_load, 0, 0).simdMem(Simd.v128_store, 0, 0);
  c.end();
  c.end(); // if
  c.get(S).get(SP).op(Op.i32_add).set(S);
  c.get(D).get(DP).op(Op.i32_add).set(D);
  c.get(RC).i32(1).op(Op.i32_sub).tee(RC).brIf(0);
  c.end();
  c.get(SRC).get(SPL).op(Op.i32_add).set(SRC);
  c.get(DST).get(DPL).op(Op.i32_add).set(DST);
  c.get(PC).i32(1).op(Op.i32_sub).tee(PC).brIf(0);
  c.end();
  c.end();
  return {
    name: "copy2d",
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32, I32, I32],
    body: c,
  };
}

/** Strided gather (add = false) or scatter-add (add = true) over planes x rows x n: scalar, but a scatter-add to contiguous floats by f32x4. */
function strided(add: boolean): FuncDef {
  // gather:     (src, sStep, sPitch, sPlane, dst, dPitch, dPlane, planes, rows, n)
  // scatteradd: (src, sPitch, sPlane, dst, dStep, dPitch, dPlane, planes, rows, n)
  const SRC = 0, DST = add ? 3 : 4, PLANES = 7, ROWS = 8, N = 9;
  const SSTEP = add ? -1 : 1, SPITCH = add ? 1 : 2, SPLANE = add ? 2 : 3;
  const DSTEP = add ? 4 : -1, DPITCH = 5, DPLANE = 6;
  const PC = 10, RC = 11, S = 12, D = 13, IC = 14, SI = 15, DI = 16;
  const c = new Code();
  c.block();
  c.get(PLANES).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(ROWS).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(N).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(PLANES).set(PC);
  c.loop();
  c.get(SRC).set(S).get(DST).set(D).get(ROWS).set(RC);
  c.loop();
  c.get(S).set(SI).get(D).set(DI).get(N).set(IC);
  if (add) {
    // contiguous destination (step 4 bytes): four floats a step while four remain
    c.get(DSTEP).i32(4).op(Op.i32_eq).if_();
    c.block().loop();
    c.get(IC).i32(4).op(Op.i32_lt_s).brIf(1);
    c.get(DI).get(DI).simdMem(Simd.v128_load, 0, 0).get(SI).simdMem(Simd.v128_load, 0, 0).simd(Simd.f32x4_add).simdMem(Simd.v128_store, 0, 0);
    c.get(SI).i32(16).op(Op.i32_add).set(SI);
    c.get(DI).i32(16).op(Op.i32_add).set(DI);
    c.get(IC).i32(4).op(Op.i32_sub).set(IC);
    c.br(0);
    c.end().end();
    c.end();
  }
  c.block();
  c.get(IC).op(Op.i32_eqz).brIf(0);
  c.loop();
  if (add) {
    c.get(DI).get(DI).mem(Op.f32_load, 2, 0).get(SI).mem(Op.f32_load, 2, 0).op(Op.f32_add).mem(Op.f32_store, 2, 0);
    c.get(SI).i32(4).op(Op.i32_add).set(SI);
    c.get(DI).get(DSTEP).op(Op.i32_add).set(DI);
  } else {
    c.get(DI).get(SI).mem(Op.f32_load, 2, 0).mem(Op.f32_store, 2, 0);
    c.get(SI).get(SSTEP).op(Op.i32_add).set(SI);
    c.get(DI).i32(4).op(Op.i32_add).set(DI);
  }
  c.get(IC).i32(1).op(Op.i32_sub).tee(IC).brIf(0);
  c.end();
  c.end();
  c.get(S).get(SPITCH).op(Op.i32_add).set(S);
  c.get(D).get(DPITCH).op(Op.i32_add).set(D);
  c.get(RC).i32(1).op(Op.i32_sub).tee(RC).brIf(0);
  c.end();
  c.get(SRC).get(SPLANE).op(Op.i32_add).set(SRC);
  c.get(DST).get(DPLANE).op(Op.i32_add).set(DST);
  c.get(PC).i32(1).op(Op.i32_sub).tee(PC).brIf(0);
  c.end();
  c.end();
  return {
    name: add ? "scatteradd" : "gather",
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32, I32, I32],
    body: c,
  };
}

/** copy2d, gather, scatteradd. */
export function copyFuncs(): FuncDef[] {
  return [copy2d(), strided(false), strided(true)];
}
