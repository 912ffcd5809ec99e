// The GEMM-family functions of the SIMD module (f32x4 micro-kernels), generated at run time.
//
// Layout contract (all byte addresses in the module's linear memory):
//  - A: packed, row panels of MR rows, each `kc` steps of MR floats (panel p holds rows p*MR..,
//    zero-padded past M; aStep = MR*4), or read in place: row i of k step k at a + 4i + k*aStep
//    (a transposed operand, aStep its row pitch; then the last rows may go as two near halves);
//  - B: packed, column panels of NR columns, each `kc` steps of NR floats (zero-padded past N;
//    bStep = NR*4), or read in place: column j of k step k at b + 4j + k*bStep;
//  - C: a row-major buffer with `ldc` bytes per row; every tile writes NR columns (a half-width
//    last panel NR/2), also past the last wanted column.
//  `kc` must be a multiple of UNROLL (the packers zero-pad K).
//
// Exports:
//  block(mc, np, kc, a, b, c, ldc, accum, aStep, bStep): for each of the `np` B panels and
//    each MR-row panel of the `mc` rows of A, C_tile (+)= A_panel * B_panel (accum bit 0: C +
//    the tile's sum, else overwrite; bit 1: the last B panel by half-width tiles).
//  cblock(mc, np, K, a, x, offs, c, ldc, astride, narrow): "implicit GEMM" for
//    convolution: like block with accum = 0, but B is never packed: B[k][j] =
//    x[j + offs[k]] (offs: K byte offsets, i32), i.e. column panel p reads 8
//    consecutive floats at x + 32p + offs[k]; A's MR-row panels are astride
//    bytes apart (>= K*MR*4: a run of taps may use part of each panel);
//    narrow (bit 0): the last panel by half-width tiles (NR/2 columns computed and written).
//  packa / packb(src, ld, dst, kc, np, sstep, dstep): packs np panels of R rows (R = MR for
//    packa, NR for packb; R <= 8), kc >= 4 steps each: dst[p][k*R + r] = src[p][r*ld + k]
//    (ld, sstep, dstep: bytes between rows, source panels, destination panels), by 4x4
//    transposes of f32x4 loads instead of one float at a time.
//  wblock(mt, kt, J, dy, ldy, x, offs, dw, lddw): weight-gradient dot products
//    dw[r][q] += sum_{j<J} dy[r*ldy + j] * x[offs[q] + j] for WR-row tiles
//    (mt of them) and WK-column tiles (kt of them); J a multiple of 4, ldy/lddw
//    in bytes, dw row-major with lddw bytes per row.
//  vblock(ot, tt, J, x, offs, dyt, dytStep, c, cStep): the weight gradient by transposed tiles
//    (VB_TAPS taps x 8 channels, dy transposed by packb), see vBlock.
//
// These functions call each other by index: module.ts puts them first, in gemmFuncs' order.

import { Code, I32, V128, Simd, Op, type FuncDef } from "./writer.ts";

export interface SimdConfig {
  MR: number; // rows per micro tile
  NV: number; // f32x4 vectors per row of a micro tile (NR = 4*NV)
  UNROLL: number; // k-loop unroll factor
  fma: boolean; // use f32x4.relaxed_madd
  WR?: number; // weight-gradient tile rows (default 2)
  WK?: number; // weight-gradient tile columns (default 4)
}

/** acc = acc + a * b on the stack-free locals */
function madd(c: Code, cfg: SimdConfig, acc: number, a: number, b: number): void {
  if (cfg.fma) c.get(a).get(b).get(acc).simd(Simd.f32x4_relaxed_madd).set(acc);
  else c.get(acc).get(a).get(b).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc);
}

/** kern<mr>: one mr x 4 nv tile (nv = NV: a full panel; nv < NV: a panel's first 4 nv columns). */
function kernel(mr: number, cfg: SimdConfig, NV = cfg.NV): FuncDef {
  const { UNROLL } = cfg;
  const KC = 0, A = 1, B = 2, C = 3, LDC = 4, ACCUM = 5, ASTEP = 6, BSTEP = 7, CROW = 8;
  const acc = (r: number, v: number) => 9 + r * NV + v;
  const bv = (v: number) => 9 + mr * NV + v;
  const av = 9 + mr * NV + NV;
  const locals = [I32];
  for (let i = 0; i < mr * NV + NV + 1; i++) locals.push(V128);
  const c = new Code();
  // accumulators from zero; C, when accumulating (a k block after the first), is added at the
  // store: a C tile last touched a whole k block ago is often out of L2 (more so beside other
  // processes), and loaded first its latency held up every multiply-add chain of the tile
  for (let r = 0; r < mr; r++) for (let v = 0; v < NV; v++) c.v128Zero().set(acc(r, v));
  // main loop (kc > 0, multiple of UNROLL)
  c.block();
  c.get(KC).op(Op.i32_eqz).brIf(0);
  c.loop();
  for (let u = 0; u < UNROLL; u++) {
    for (let v = 0; v < NV; v++) c.get(B).simdMem(Simd.v128_load, 2, 4 * v * 4).set(bv(v));
    for (let r = 0; r < mr; r++) {
      c.get(A).simdMem(Simd.v128_load32_splat, 2, r * 4).set(av);
      for (let v = 0; v < NV; v++) madd(c, cfg, acc(r, v), av, bv(v));
    }
    c.get(A).get(ASTEP).op(Op.i32_add).set(A);
    c.get(B).get(BSTEP).op(Op.i32_add).set(B);
  }
  c.get(KC).i32(UNROLL).op(Op.i32_sub).tee(KC).brIf(0);
  c.end(); // loop
  c.end(); // block
  // store (accum: C + the tile's sum)
  c.get(C).set(CROW);
  c.get(ACCUM).if_();
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < NV; v++) {
      c.get(CROW).get(CROW).simdMem(Simd.v128_load, 2, 16 * v).get(acc(r, v)).simd(Simd.f32x4_add).simdMem(Simd.v128_store, 2, 16 * v);
    }
    if (r + 1 < mr) c.get(CROW).get(LDC).op(Op.i32_add).set(CROW);
  }
  c.op(Op.else);
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < NV; v++) c.get(CROW).get(acc(r, v)).simdMem(Simd.v128_store, 2, 16 * v);
    if (r + 1 < mr) c.get(CROW).get(LDC).op(Op.i32_add).set(CROW);
  }
  c.end();
  return { name: NV === cfg.NV ? `kern${mr}` : `kern${mr}x${4 * NV}`, params: [I32, I32, I32, I32, I32, I32, I32, I32], results: [], locals, body: c };
}

/** block (see the module comment); `narrow0`: the index of the half-width kernels (kern1xNR/2..). */
function driver(cfg: SimdConfig, narrow0: number): FuncDef {
  const { MR, NV } = cfg;
  const NR = NV * 4;
  const MC = 0, NP = 1, KC = 2, A = 3, B = 4, C = 5, LDC = 6, ACCUM = 7, ASTEP = 8, BSTEP = 9;
  const AP = 10, CP = 11, I = 12, ASTRIDE = 13, BSTRIDE = 14, CSTEP = 15, SPLIT = 16, H = 17, NARROW = 18;
  const c = new Code();
  let kern0 = 0; // the function index of kern1 in the code being written
  const kern = (rows: number) => c.get(KC).get(AP).get(B).get(CP).get(LDC).get(ACCUM).get(ASTEP).get(BSTEP).call(kern0 + rows - 1);
  // accum's bit 1: the last panel's columns past NR / 2 are not wanted (computed by half-width tiles)
  c.get(ACCUM).i32(1).op(Op.i32_shr_s).set(NARROW);
  c.get(ACCUM).i32(1).op(Op.i32_and).set(ACCUM);
  // panels: packed (kc steps of MR / NR floats one after the other) or read in place (step = the
  // operand's row pitch; the next panel MR / NR floats further)
  c.get(KC).i32(MR * 4).op(Op.i32_mul).i32(MR * 4).get(ASTEP).i32(MR * 4).op(Op.i32_eq).op(Op.select).set(ASTRIDE);
  c.get(KC).i32(NR * 4).op(Op.i32_mul).i32(NR * 4).get(BSTEP).i32(NR * 4).op(Op.i32_eq).op(Op.select).set(BSTRIDE);
  c.get(LDC).i32(MR).op(Op.i32_mul).set(CSTEP);
  // A read in place: its rows may be split as we like (row i at 4 i bytes); the last MR + r rows
  // (0 < r < MR - 1) go as two near halves (10 rows: 5 + 5, not 6 + 4), so that no tile has fewer
  // than MR / 2 + 1 rows (a 4-row tile's 8 accumulators hide the multiply-add latency less well)
  c.get(ASTEP).i32(MR * 4).op(Op.i32_ne).set(SPLIT);
  c.block();
  c.get(NP).i32(0).op(Op.i32_le_s).brIf(0);
  c.loop();
  c.get(A).set(AP).get(C).set(CP).get(MC).set(I);
  const rows = () => {
  c.block().loop();
  c.get(I).i32(MR).op(Op.i32_lt_s).brIf(1);
  c.get(SPLIT).get(I).i32(MR).op(Op.i32_gt_s).op(Op.i32_and).get(I).i32(2 * MR - 1).op(Op.i32_lt_s).op(Op.i32_and).brIf(1);
  kern(MR);
  c.get(AP).get(ASTRIDE).op(Op.i32_add).set(AP);
  c.get(CP).get(CSTEP).op(Op.i32_add).set(CP);
  c.get(I).i32(MR).op(Op.i32_sub).set(I);
  c.br(0);
  c.end().end();
  c.get(I).i32(MR).op(Op.i32_gt_s).if_(); // (only when split)
  c.get(I).i32(1).op(Op.i32_add).i32(1).op(Op.i32_shr_s).set(H);
  for (let r = 1; r < MR; r++) {
    c.get(H).i32(r).op(Op.i32_eq).if_();
    kern(r);
    c.end();
  }
  c.get(AP).get(H).i32(2).op(Op.i32_shl).op(Op.i32_add).set(AP);
  c.get(CP).get(H).get(LDC).op(Op.i32_mul).op(Op.i32_add).set(CP);
  c.get(I).get(H).op(Op.i32_sub).set(I);
  c.end();
  for (let r = 1; r < MR; r++) {
    c.get(I).i32(r).op(Op.i32_eq).if_();
    kern(r);
    c.end();
  }
  };
  c.get(NARROW).get(NP).i32(1).op(Op.i32_eq).op(Op.i32_and).if_();
  kern0 = narrow0;
  rows();
  c.op(Op.else);
  kern0 = 0;
  rows();
  c.end();
  c.get(B).get(BSTRIDE).op(Op.i32_add).set(B);
  c.get(C).i32(NR * 4).op(Op.i32_add).set(C);
  c.get(NP).i32(1).op(Op.i32_sub).tee(NP).brIf(0);
  c.end(); // loop
  c.end(); // block
  return {
    name: "block",
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32, I32, I32, I32, I32],
    body: c,
  };
}

// function indices: kern1..kernMR, block, ckern1..ckernMR, cblock, wkern, wblock
const CKERN0 = (cfg: SimdConfig) => cfg.MR + 1;
const WKERN = (cfg: SimdConfig) => 2 * cfg.MR + 2;

/** Implicit-GEMM micro kernel for mr rows: C_tile = A_panel * X[offs[k] + 0..NR-1]. */
function convKernel(mr: number, cfg: SimdConfig, NV = cfg.NV): FuncDef {
  const { MR } = cfg;
  const K = 0, A = 1, X = 2, OFFS = 3, C = 4, LDC = 5, XO = 6;
  const acc = (r: number, v: number) => 7 + r * NV + v;
  const bv = (v: number) => 7 + mr * NV + v;
  const av = 7 + mr * NV + NV;
  const locals = [I32];
  for (let i = 0; i < mr * NV + NV + 1; i++) locals.push(V128);
  const c = new Code();
  for (let r = 0; r < mr; r++) for (let v = 0; v < NV; v++) c.v128Zero().set(acc(r, v));
  c.block();
  c.get(K).op(Op.i32_eqz).brIf(0);
  c.loop();
  c.get(X).get(OFFS).mem(Op.i32_load, 2, 0).op(Op.i32_add).set(XO);
  for (let v = 0; v < NV; v++) c.get(XO).simdMem(Simd.v128_load, 0, 16 * v).set(bv(v));
  for (let r = 0; r < mr; r++) {
    c.get(A).simdMem(Simd.v128_load32_splat, 2, r * 4).set(av);
    for (let v = 0; v < NV; v++) madd(c, cfg, acc(r, v), av, bv(v));
  }
  c.get(A).i32(MR * 4).op(Op.i32_add).set(A);
  c.get(OFFS).i32(4).op(Op.i32_add).set(OFFS);
  c.get(K).i32(1).op(Op.i32_sub).tee(K).brIf(0);
  c.end().end();
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < NV; v++) c.get(C).get(acc(r, v)).simdMem(Simd.v128_store, 2, 16 * v);
    if (r + 1 < mr) c.get(C).get(LDC).op(Op.i32_add).set(C);
  }
  return { name: NV === cfg.NV ? `ckern${mr}` : `ckern${mr}x${4 * NV}`, params: [I32, I32, I32, I32, I32, I32], results: [], locals, body: c };
}

/** cblock (see the module comment); `narrow0`: the index of the half-width kernels (ckern1x4..). */
function convDriver(cfg: SimdConfig, narrow0: number): FuncDef {
  const { MR, NV } = cfg;
  const NR = NV * 4;
  const MC = 0, NP = 1, K = 2, A = 3, X = 4, OFFS = 5, C = 6, LDC = 7, ASTRIDE = 8, NARROW = 9;
  const AP = 10, CP = 11, I = 12, CSTEP = 13;
  const c = new Code();
  let kern0 = 0;
  const ckern = (rows: number) => c.get(K).get(AP).get(X).get(OFFS).get(CP).get(LDC).call(kern0 + rows - 1);
  // MR-row tiles, then one of the rest (the packed panels' rows past mc are not computed)
  const rows = () => {
    c.get(A).set(AP).get(C).set(CP).get(MC).set(I);
    c.block().loop();
    c.get(I).i32(MR).op(Op.i32_lt_s).brIf(1);
    ckern(MR);
    c.get(AP).get(ASTRIDE).op(Op.i32_add).set(AP);
    c.get(CP).get(CSTEP).op(Op.i32_add).set(CP);
    c.get(I).i32(MR).op(Op.i32_sub).set(I);
    c.br(0);
    c.end().end();
    for (let r = 1; r < MR; r++) {
      c.get(I).i32(r).op(Op.i32_eq).if_();
      ckern(r);
      c.end();
    }
  };
  c.get(LDC).i32(MR).op(Op.i32_mul).set(CSTEP);
  c.block();
  c.get(NP).i32(0).op(Op.i32_le_s).brIf(0);
  c.loop();
  // narrow: the last panel by half-width tiles (its columns past NR / 2 neither computed nor written)
  c.get(NARROW).get(NP).i32(1).op(Op.i32_eq).op(Op.i32_and).if_();
  kern0 = narrow0;
  rows();
  c.op(Op.else);
  kern0 = CKERN0(cfg);
  rows();
  c.end();
  c.get(X).i32(NR * 4).op(Op.i32_add).set(X);
  c.get(C).i32(NR * 4).op(Op.i32_add).set(C);
  c.get(NP).i32(1).op(Op.i32_sub).tee(NP).brIf(0);
  c.end().end();
  return {
    name: "cblock",
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32],
    body: c,
  };
}

/** Weight-gradient tile: dw[r][q] += sum_j dy_r[j] * x[offs[q] + j], r < WR, q < WK. */
function wKernel(cfg: SimdConfig): FuncDef {
  const WR = cfg.WR ?? 2, WK = cfg.WK ?? 4;
  const J = 0, DY = 1, LDY = 2, X = 3, OFFS = 4, DW = 5, LDDW = 6;
  const JB = 7;
  const row = (r: number) => 8 + r; // i32 dy row pointers
  const xk = (q: number) => 8 + WR + q; // i32 x pointers
  const nI32 = 1 + WR + WK;
  const acc = (r: number, q: number) => 7 + nI32 + r * WK + q;
  const dv = (r: number) => 7 + nI32 + WR * WK + r;
  const xv = 7 + nI32 + WR * WK + WR;
  const locals: number[] = [];
  for (let i = 0; i < nI32; i++) locals.push(I32);
  for (let i = 0; i < WR * WK + WR + 1; i++) locals.push(V128);
  const c = new Code();
  for (let r = 0; r < WR; r++) {
    if (r === 0) c.get(DY).set(row(0));
    else c.get(row(r - 1)).get(LDY).op(Op.i32_add).set(row(r));
  }
  for (let q = 0; q < WK; q++) c.get(X).get(OFFS).mem(Op.i32_load, 2, 4 * q).op(Op.i32_add).set(xk(q));
  for (let r = 0; r < WR; r++) for (let q = 0; q < WK; q++) c.v128Zero().set(acc(r, q));
  c.get(J).i32(2).op(Op.i32_shl).set(J); // J in bytes
  c.i32(0).set(JB);
  c.block();
  c.get(J).op(Op.i32_eqz).brIf(0);
  c.loop();
  for (let r = 0; r < WR; r++) c.get(row(r)).get(JB).op(Op.i32_add).simdMem(Simd.v128_load, 0, 0).set(dv(r));
  for (let q = 0; q < WK; q++) {
    c.get(xk(q)).get(JB).op(Op.i32_add).simdMem(Simd.v128_load, 0, 0).set(xv);
    for (let r = 0; r < WR; r++) madd(c, cfg, acc(r, q), dv(r), xv);
  }
  c.get(JB).i32(16).op(Op.i32_add).tee(JB).get(J).op(Op.i32_lt_s).brIf(0);
  c.end().end();
  // horizontal sums, added into dw
  for (let r = 0; r < WR; r++) {
    for (let q = 0; q < WK; q++) {
      c.get(DW);
      c.get(DW).mem(Op.f32_load, 2, 4 * q);
      c.get(acc(r, q)).lane(0).get(acc(r, q)).lane(1).op(Op.f32_add);
      c.get(acc(r, q)).lane(2).get(acc(r, q)).lane(3).op(Op.f32_add);
      c.op(Op.f32_add).op(Op.f32_add);
      c.mem(Op.f32_store, 2, 4 * q);
    }
    if (r + 1 < WR) c.get(DW).get(LDDW).op(Op.i32_add).set(DW);
  }
  return { name: "wkern", params: [I32, I32, I32, I32, I32, I32, I32], results: [], locals, body: c };
}

function wDriver(cfg: SimdConfig): FuncDef {
  const WR = cfg.WR ?? 2, WK = cfg.WK ?? 4;
  const MT = 0, KT = 1, J = 2, DY = 3, LDY = 4, X = 5, OFFS = 6, DW = 7, LDDW = 8;
  const Q = 9, OP = 10, DP = 11;
  const c = new Code();
  c.block();
  c.get(MT).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(KT).i32(0).op(Op.i32_le_s).brIf(0);
  c.loop();
  c.get(KT).set(Q).get(OFFS).set(OP).get(DW).set(DP);
  c.loop();
  c.get(J).get(DY).get(LDY).get(X).get(OP).get(DP).get(LDDW).call(WKERN(cfg));
  c.get(OP).i32(4 * WK).op(Op.i32_add).set(OP);
  c.get(DP).i32(4 * WK).op(Op.i32_add).set(DP);
  c.get(Q).i32(1).op(Op.i32_sub).tee(Q).brIf(0);
  c.end();
  c.get(DY).get(LDY).i32(WR).op(Op.i32_mul).op(Op.i32_add).set(DY);
  c.get(DW).get(LDDW).i32(WR).op(Op.i32_mul).op(Op.i32_add).set(DW);
  c.get(MT).i32(1).op(Op.i32_sub).tee(MT).brIf(0);
  c.end().end();
  return {
    name: "wblock",
    params: [I32, I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32],
    body: c,
  };
}

/**
 * Taps a vblock tile (its rows). 4 taps x 8 channels: 8 accumulators, 2 vectors of dy, 4 splats;
 * with 6 taps (12 accumulators, as cblock) V8 loads the six splats before the multiply-adds and
 * spills four accumulators through the stack every step (34-41 GFLOP/s against 55; unrolling j
 * spilled more).
 */
export const VB_TAPS = 4;

/**
 * vblock(ot, tt, J, x, offs, dyt, dytStep, c, cStep): the weight gradient by transposed tiles,
 * dWt[t][o] += sum_{j<J} x[offs[t] + j] * dyt[j][o] for tiles of VB_TAPS taps (rows t, tt tiles
 * from `offs`: VB_TAPS i32 byte offsets a tile) by 8 channels (lanes o, ot tiles): channel tile q
 * reads dyt + q*dytStep ([J][8] floats: dy transposed, 8 channels a row) and adds into its rows
 * c + q*cStep + t*32 (8 floats a tap). J a positive multiple of 4. Each lane sums its j in order
 * (one multiply-add a step, no horizontal sums): a splat of x a tap, two vectors of dy a step.
 */
function vBlock(cfg: SimdConfig): FuncDef {
  const OT = 0, TT = 1, J = 2, X = 3, OFFS = 4, DYT = 5, DYTSTEP = 6, C = 7, CSTEP = 8;
  const QT = 9, TC = 10, OP = 11, CP = 12, D = 13, N = 14;
  const xp = (r: number) => 15 + r; // i32: the tile's tap pointers
  const nI32 = 15 + VB_TAPS;
  const acc = (r: number, v: number) => nI32 + 2 * r + v;
  const dv = (v: number) => nI32 + 2 * VB_TAPS + v;
  const av = nI32 + 2 * VB_TAPS + 2;
  const locals: number[] = [];
  for (let i = 9; i < nI32; i++) locals.push(I32);
  for (let i = 0; i < 2 * VB_TAPS + 3; i++) locals.push(V128);
  const c = new Code();
  c.block();
  c.get(OT).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(TT).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(J).i32(4).op(Op.i32_lt_s).brIf(0);
  c.get(OT).set(QT);
  c.loop(); // channel tiles
  c.get(TT).set(TC).get(OFFS).set(OP).get(C).set(CP);
  c.loop(); // tap tiles
  for (let r = 0; r < VB_TAPS; r++) c.get(X).get(OP).mem(Op.i32_load, 2, 4 * r).op(Op.i32_add).set(xp(r));
  for (let r = 0; r < VB_TAPS; r++) for (let v = 0; v < 2; v++) c.get(CP).simdMem(Simd.v128_load, 2, 32 * r + 16 * v).set(acc(r, v));
  c.get(DYT).set(D).get(J).set(N);
  c.loop(); // j
  for (let v = 0; v < 2; v++) c.get(D).simdMem(Simd.v128_load, 2, 16 * v).set(dv(v));
  for (let r = 0; r < VB_TAPS; r++) {
    c.get(xp(r)).simdMem(Simd.v128_load32_splat, 2, 0).set(av);
    for (let v = 0; v < 2; v++) madd(c, cfg, acc(r, v), av, dv(v));
  }
  for (let r = 0; r < VB_TAPS; r++) c.get(xp(r)).i32(4).op(Op.i32_add).set(xp(r));
  c.get(D).i32(32).op(Op.i32_add).set(D);
  c.get(N).i32(1).op(Op.i32_sub).tee(N).brIf(0);
  c.end();
  for (let r = 0; r < VB_TAPS; r++) for (let v = 0; v < 2; v++) c.get(CP).get(acc(r, v)).simdMem(Simd.v128_store, 2, 32 * r + 16 * v);
  c.get(OP).i32(4 * VB_TAPS).op(Op.i32_add).set(OP);
  c.get(CP).i32(32 * VB_TAPS).op(Op.i32_add).set(CP);
  c.get(TC).i32(1).op(Op.i32_sub).tee(TC).brIf(0);
  c.end();
  c.get(DYT).get(DYTSTEP).op(Op.i32_add).set(DYT);
  c.get(C).get(CSTEP).op(Op.i32_add).set(C);
  c.get(QT).i32(1).op(Op.i32_sub).tee(QT).brIf(0);
  c.end();
  c.end();
  return { name: "vblock", params: [I32, I32, I32, I32, I32, I32, I32, I32, I32], results: [], locals, body: c };
}

/** The GEMM-family functions, in index order: kern1..kernMR, block, ckern1..ckernMR, cblock, wkern, wblock, packa, packb, vblock. */
const SHUF = (lanes: number[]) => lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
const V128_STORE32_LANE = 0x5a, V128_STORE64_LANE = 0x5b;

/** packa / packb (see the module comment): the interleaving of R <= 8 rows, four k steps at a time. */
function pack(name: string, R: number): FuncDef {
  const SRC = 0, LD = 1, DST = 2, KC = 3, NP = 4, SSTEP = 5, DSTEP = 6;
  const K = 7, LAST = 8, RP = 9, DP = 10;
  const V = (r: number) => 11 + r; // the rows' four floats
  const T = 19, U = 20; // transposition temporaries: [V(r0).0 V(r1).0 V(r0).1 V(r1).1], the .2/.3 ones
  const c = new Code();
  /** Four vectors t_k = [rows a..a+3 at step k] of the 4 x 4 block of rows a..a+3, stored at byte 4*(k*R + a). */
  const block4 = (a: number) => {
    c.get(V(a)).get(V(a + 1)).shuffle(SHUF([0, 4, 1, 5])).set(T); // a0 b0 a1 b1
    c.get(V(a + 2)).get(V(a + 3)).shuffle(SHUF([0, 4, 1, 5])).set(U); // c0 d0 c1 d1
    c.get(DP).get(T).get(U).shuffle(SHUF([0, 1, 4, 5])).simdMem(Simd.v128_store, 0, 4 * a);
    c.get(DP).get(T).get(U).shuffle(SHUF([2, 3, 6, 7])).simdMem(Simd.v128_store, 0, 4 * (R + a));
    c.get(V(a)).get(V(a + 1)).shuffle(SHUF([2, 6, 3, 7])).set(T); // a2 b2 a3 b3
    c.get(V(a + 2)).get(V(a + 3)).shuffle(SHUF([2, 6, 3, 7])).set(U);
    c.get(DP).get(T).get(U).shuffle(SHUF([0, 1, 4, 5])).simdMem(Simd.v128_store, 0, 4 * (2 * R + a));
    c.get(DP).get(T).get(U).shuffle(SHUF([2, 3, 6, 7])).simdMem(Simd.v128_store, 0, 4 * (3 * R + a));
  };
  const lane = (op: number, v: number, off: number, l: number) => {
    c.get(DP).get(v);
    c.simdMem(op, 0, off);
    c.op(l);
  };
  c.get(KC).i32(4).op(Op.i32_sub).set(LAST);
  c.block();
  c.get(NP).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(LAST).i32(0).op(Op.i32_lt_s).brIf(0);
  c.loop(); // panels
  c.i32(0).set(K);
  c.block().loop(); // four k steps (the last four moved back to end at kc: they rewrite the same values)
  c.get(K).get(LAST).op(Op.i32_gt_s).if_().get(LAST).set(K).end();
  c.get(SRC).get(K).i32(2).op(Op.i32_shl).op(Op.i32_add).set(RP);
  for (let r = 0; r < R; r++) {
    c.get(RP).simdMem(Simd.v128_load, 0, 0).set(V(r));
    if (r + 1 < R) c.get(RP).get(LD).op(Op.i32_add).set(RP);
  }
  c.get(DST).get(K).i32(R * 4).op(Op.i32_mul).op(Op.i32_add).set(DP);
  let a = 0;
  for (; a + 4 <= R; a += 4) block4(a);
  if (R - a >= 2) {
    // rows a, a+1: pairs [a.k a+1.k] for k = 0..3 as 64-bit lanes
    c.get(V(a)).get(V(a + 1)).shuffle(SHUF([0, 4, 1, 5])).set(T);
    c.get(V(a)).get(V(a + 1)).shuffle(SHUF([2, 6, 3, 7])).set(U);
    lane(V128_STORE64_LANE, T, 4 * a, 0);
    lane(V128_STORE64_LANE, T, 4 * (R + a), 1);
    lane(V128_STORE64_LANE, U, 4 * (2 * R + a), 0);
    lane(V128_STORE64_LANE, U, 4 * (3 * R + a), 1);
    a += 2;
  }
  if (R - a === 1) for (let k = 0; k < 4; k++) lane(V128_STORE32_LANE, V(a), 4 * (k * R + a), k);
  c.get(K).get(LAST).op(Op.i32_ge_s).brIf(1);
  c.get(K).i32(4).op(Op.i32_add).set(K);
  c.br(0);
  c.end().end();
  c.get(SRC).get(SSTEP).op(Op.i32_add).set(SRC);
  c.get(DST).get(DSTEP).op(Op.i32_add).set(DST);
  c.get(NP).i32(1).op(Op.i32_sub).tee(NP).brIf(0);
  c.end();
  c.end();
  const locals = [I32, I32, I32, I32];
  for (let i = 0; i < 10; i++) locals.push(V128);
  return { name, params: [I32, I32, I32, I32, I32, I32, I32], results: [], locals, body: c };
}

export function gemmFuncs(cfg: SimdConfig): FuncDef[] {
  if (cfg.MR > 8 || 4 * cfg.NV > 8) throw new Error(`SIMD module: panels of at most 8 rows (MR ${cfg.MR}, NR ${4 * cfg.NV})`);
  const funcs: FuncDef[] = [];
  for (let mr = 1; mr <= cfg.MR; mr++) funcs.push(kernel(mr, cfg));
  const block = funcs.push(driver(cfg, 0)) - 1; // (written again below, with the half-width kernels' index)
  for (let mr = 1; mr <= cfg.MR; mr++) funcs.push(convKernel(mr, cfg));
  const cblock = funcs.push(convDriver(cfg, 0)) - 1; // (written again below)
  funcs.push(wKernel(cfg));
  funcs.push(wDriver(cfg));
  funcs.push(pack("packa", cfg.MR), pack("packb", 4 * cfg.NV));
  funcs.push(vBlock(cfg));
  // half-width tiles for a last panel of at most NR / 2 columns (LeNet-5's 10 outputs: 8 + 4, not 8 + 8)
  const narrow0 = funcs.length;
  for (let mr = 1; mr <= cfg.MR; mr++) funcs.push(kernel(mr, cfg, Math.max(1, cfg.NV >> 1)));
  funcs[block] = driver(cfg, narrow0);
  // the same for cblock (a row of outH * outW = 100 floats: 12 panels and a half, C written in place)
  const cnarrow0 = funcs.length;
  for (let mr = 1; mr <= cfg.MR; mr++) funcs.push(convKernel(mr, cfg, Math.max(1, cfg.NV >> 1)));
  funcs[cblock] = convDriver(cfg, cnarrow0);
  return funcs;
}
