// The pooling functions of the SIMD module.
//
// Exports:
//  maxpool2(x, H, W, npl, OH, OW, out, idx): 2x2 / stride 2 max pooling of
//    npl planes [H, W] into [OH, OW] planes (values, i32 flat indices), for
//    output rows < OH (all windows inside) and every column (OW >= 4).
//  avgpool2(x, H, W, npl, OH, OW, y), avgpool2grad(dy, H, W, npl, OH, OW, dx): 2x2 / stride 2
//    average pooling and its gradient, for output rows < OH and every column (OW >= 4; see avgPool2).
//  maxpool2grad(dy, idx, H, W, npl, OH, OW, dx, flag) -> ok: the gradient of 2x2 / stride 2 max
//    pooling, by compare and select instead of a scatter (see maxPool2Grad).
//  avgpool2grad_tanh / _sigmoid / _relu(dy, a, H, W, npl, OH, OW, dx): avgpool2grad and the
//    gradient of the activation before the pooling in one pass (see avgPool2GradAct).
//  maxpool2grad_relu(dy, idx, H, W, npl, OH, OW, dx, z, flag) -> ok: maxpool2grad and the gradient of the
//    relu before the pooling in one pass (see maxPool2Grad).

import { Code, I32, V128, Simd, Op, type FuncDef } from "./writer.ts";

/**
 * 2x2 stride-2 max pooling, 4 outputs per step (the last OW mod 4 by a step moved back to end at
 * OW, rewriting the same values), PyTorch's scan order and NaN rule, branch-free.
 */
export function maxPool2(): FuncDef {
  const X = 0, H = 1, W = 2, NPL = 3, OH = 4, OW = 5, OUT = 6, IDX = 7;
  const PLANE = 8, OHC = 9, OWC = 10, RA = 11, RB = 12, I0 = 13, OP = 14, IP = 15, OW4 = 16, ROWB = 17;
  const TB = 18, TA = 19, TR = 20, TO = 21, TI = 22; // the moved-back step's back shift (bytes of output) and pointers
  const V0 = 23, V1 = 24, V2 = 25, V3 = 26, M = 27, MI = 28, BASE = 29, C = 30, S1 = 31, SW = 32, SW1 = 33, K = 34, TBASE = 35;
  const c = new Code();
  const even = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
  const odd = even.map((v) => v + 4);
  /** the 4 outputs at op / ip, their windows' rows at ra and rb, flat indices of their first taps in base */
  const step = (ra: number, rb: number, op: number, ip: number, base: number) => {
    c.get(ra).simdMem(Simd.v128_load, 0, 0).get(ra).simdMem(Simd.v128_load, 0, 16).shuffle(even).set(V0);
    c.get(ra).simdMem(Simd.v128_load, 0, 0).get(ra).simdMem(Simd.v128_load, 0, 16).shuffle(odd).set(V1);
    c.get(rb).simdMem(Simd.v128_load, 0, 0).get(rb).simdMem(Simd.v128_load, 0, 16).shuffle(even).set(V2);
    c.get(rb).simdMem(Simd.v128_load, 0, 0).get(rb).simdMem(Simd.v128_load, 0, 16).shuffle(odd).set(V3);
    c.get(V0).set(M).get(base).set(MI);
    for (const [v, s] of [[V1, S1], [V2, SW], [V3, SW1]]) {
      // take v where v > m or v is NaN
      c.get(v).get(M).simd(Simd.f32x4_gt).get(v).get(v).simd(Simd.f32x4_ne).simd(Simd.v128_or).set(C);
      c.get(v).get(M).get(C).simd(Simd.v128_bitselect).set(M);
      c.get(base).get(s).simd(Simd.i32x4_add).get(MI).get(C).simd(Simd.v128_bitselect).set(MI);
    }
    c.get(op).get(M).simdMem(Simd.v128_store, 0, 0);
    c.get(ip).get(MI).simdMem(Simd.v128_store, 0, 0);
  };
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
  // the moved-back step: 4 - OW mod 4 outputs back (TB bytes of output, 2*TB of input rows)
  c.i32(4).get(OW).i32(3).op(Op.i32_and).op(Op.i32_sub).i32(2).op(Op.i32_shl).set(TB);
  c.loop(); // planes
  c.get(X).set(PLANE).i32(0).set(I0);
  c.get(OH).set(OHC);
  c.loop(); // output rows
  c.get(PLANE).set(RA);
  c.get(PLANE).get(W).i32(2).op(Op.i32_shl).op(Op.i32_add).set(RB);
  c.get(I0).simd(Simd.i32x4_splat).get(K).simd(Simd.i32x4_add).set(BASE);
  c.get(OW4).set(OWC);
  c.loop(); // groups of 4 outputs
  step(RA, RB, OP, IP, BASE);
  c.get(OP).i32(16).op(Op.i32_add).set(OP);
  c.get(IP).i32(16).op(Op.i32_add).set(IP);
  c.get(RA).i32(32).op(Op.i32_add).set(RA);
  c.get(RB).i32(32).op(Op.i32_add).set(RB);
  c.get(BASE).i32(8).simd(Simd.i32x4_splat).simd(Simd.i32x4_add).set(BASE);
  c.get(OWC).i32(1).op(Op.i32_sub).tee(OWC).brIf(0);
  c.end();
  c.get(OW).i32(3).op(Op.i32_and).if_();
  c.get(RA).get(TB).i32(1).op(Op.i32_shl).op(Op.i32_sub).set(TA);
  c.get(RB).get(TB).i32(1).op(Op.i32_shl).op(Op.i32_sub).set(TR);
  c.get(OP).get(TB).op(Op.i32_sub).set(TO);
  c.get(IP).get(TB).op(Op.i32_sub).set(TI);
  c.get(BASE).get(TB).i32(1).op(0x76 /* i32.shr_u */).simd(Simd.i32x4_splat).simd(0xb1 /* i32x4.sub */).set(TBASE);
  step(TA, TR, TO, TI, TBASE);
  c.end();
  // skip to the next row (past the columns not covered by the steps)
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
  const locals: number[] = [];
  for (let i = PLANE; i < V0; i++) locals.push(I32);
  for (let i = V0; i <= TBASE; i++) locals.push(V128);
  return { name: "maxpool2", params: [I32, I32, I32, I32, I32, I32, I32, I32], results: [], locals, body: c };
}

const EVEN = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
const ODD = EVEN.map((v) => v + 4);
const HIGH = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
const LOW = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
const DUP_LO = [0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7];
const DUP_HI = DUP_LO.map((v) => v + 8);
const S = { f64x2_promote_low_f32x4: 0x5f, f32x4_demote_f64x2_zero: 0x5e, f64x2_add: 0xf0, f64x2_mul: 0xf2, f64x2_splat: 0x14, f32x4_mul: 0xe6, f32x4_splat: 0x13 } as const;

/**
 * avgpool2(x, H, W, npl, OH, OW, y) with grad = false: y = the mean of each 2x2 window, as
 * pool.ts's loop computes it: ((x0 + x1) + x2) + x3, times 0.25, in double precision (f64x2
 * lanes), rounded once to float32. avgpool2grad(dy, H, W, npl, OH, OW, dx) with grad = true:
 * each window's four dx = float32(dy * 0.25). Both for output rows < OH, every column (OW >= 4:
 * four outputs a step, a last step moved back to end at OW where OW is not a multiple of 4: it
 * rewrites the same values); planes [H, W] and [OH, OW], byte addresses.
 */
export function avgPool2(grad: boolean): FuncDef {
  // X: the [H, W] planes (x, or dx for the gradient), Y: the [OH, OW] planes (y, or dy)
  const X = grad ? 6 : 0, H = 1, W = 2, NPL = 3, OH = 4, OW = 5, Y = grad ? 0 : 6;
  const PLANE = 7, OHC = 8, OWC = 9, RA = 10, RB = 11, YP = 12, OW4 = 13, TY = 14, TA = 15, TB = 16;
  const A0 = 17, A1 = 18, B0 = 19, B1 = 20, T = 21, L = 22, G = 23;
  const c = new Code();
  const f64c = (v: number) => {
    c.op(0x44);
    for (const x of new Uint8Array(new Float64Array([v]).buffer)) c.b.push(x);
    c.simd(S.f64x2_splat);
  };
  /** the 4 outputs at yp, their windows' rows at ra and rb */
  const step = (yp: number, ra: number, rb: number) => {
    if (!grad) {
      c.get(ra).simdMem(Simd.v128_load, 0, 0).set(A0).get(ra).simdMem(Simd.v128_load, 0, 16).set(A1);
      c.get(rb).simdMem(Simd.v128_load, 0, 0).set(B0).get(rb).simdMem(Simd.v128_load, 0, 16).set(B1);
      // the sum of the lanes picked by `lanes` (even / odd columns of rows A and B), per half
      const half = (hi: boolean, into: number) => {
        const pick = (v0: number, v1: number, sel: number[]) => {
          c.get(v0).get(v1).shuffle(sel);
          if (hi) c.set(T).get(T).get(T).shuffle(HIGH);
          c.simd(S.f64x2_promote_low_f32x4);
        };
        pick(A0, A1, EVEN); pick(A0, A1, ODD); c.simd(S.f64x2_add);
        pick(B0, B1, EVEN); c.simd(S.f64x2_add);
        pick(B0, B1, ODD); c.simd(S.f64x2_add);
        f64c(0.25); c.simd(S.f64x2_mul).simd(S.f32x4_demote_f64x2_zero).set(into);
      };
      half(false, L);
      half(true, G);
      c.get(yp).get(L).get(G).shuffle(LOW).simdMem(Simd.v128_store, 0, 0);
    } else {
      c.get(yp).simdMem(Simd.v128_load, 0, 0);
      c.op(0x43, 0, 0, 0x80, 0x3e).simd(S.f32x4_splat); // 0.25f
      c.simd(S.f32x4_mul).set(G);
      c.get(G).get(G).shuffle(DUP_LO).set(L);
      c.get(G).get(G).shuffle(DUP_HI).set(G);
      c.get(ra).get(L).simdMem(Simd.v128_store, 0, 0).get(ra).get(G).simdMem(Simd.v128_store, 0, 16);
      c.get(rb).get(L).simdMem(Simd.v128_store, 0, 0).get(rb).get(G).simdMem(Simd.v128_store, 0, 16);
    }
  };
  // x (forward) / dx (gradient) advance by planes of H x W; y / dy by planes of OH x OW
  c.get(OW).i32(2).op(0x75 /* i32.shr_s */).set(OW4);
  c.block();
  c.get(OW4).op(Op.i32_eqz).brIf(0);
  c.get(NPL).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(OH).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(Y).set(YP);
  c.loop(); // planes
  c.get(X).set(PLANE).get(OH).set(OHC);
  c.loop(); // output rows
  c.get(PLANE).set(RA);
  c.get(PLANE).get(W).i32(2).op(Op.i32_shl).op(Op.i32_add).set(RB);
  c.get(OW4).set(OWC);
  c.loop(); // groups of 4 outputs
  step(YP, RA, RB);
  c.get(YP).i32(16).op(Op.i32_add).set(YP);
  c.get(RA).i32(32).op(Op.i32_add).set(RA);
  c.get(RB).i32(32).op(Op.i32_add).set(RB);
  c.get(OWC).i32(1).op(Op.i32_sub).tee(OWC).brIf(0);
  c.end();
  // the last OW mod 4 outputs: a step moved back to end at OW (TY = YP - 4*(4 - OW mod 4) bytes, and 8* for the rows)
  c.get(OW).i32(3).op(Op.i32_and).if_();
  c.i32(4).get(OW).i32(3).op(Op.i32_and).op(Op.i32_sub).i32(2).op(Op.i32_shl).set(TY);
  c.get(RA).get(TY).i32(1).op(Op.i32_shl).op(Op.i32_sub).set(TA);
  c.get(RB).get(TY).i32(1).op(Op.i32_shl).op(Op.i32_sub).set(TB);
  c.get(YP).get(TY).op(Op.i32_sub).set(TY);
  step(TY, TA, TB);
  c.end();
  // skip to the next row (past the columns not covered by the steps); down two input rows
  c.get(YP).get(OW).get(OW4).i32(2).op(Op.i32_shl).op(Op.i32_sub).i32(2).op(Op.i32_shl).op(Op.i32_add).set(YP);
  c.get(PLANE).get(W).i32(3).op(Op.i32_shl).op(Op.i32_add).set(PLANE);
  c.get(OHC).i32(1).op(Op.i32_sub).tee(OHC).brIf(0);
  c.end();
  c.get(X).get(H).get(W).op(Op.i32_mul).i32(2).op(Op.i32_shl).op(Op.i32_add).set(X);
  c.get(NPL).i32(1).op(Op.i32_sub).tee(NPL).brIf(0);
  c.end();
  c.end();
  const locals = [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32];
  for (let i = 0; i < 7; i++) locals.push(V128);
  return { name: grad ? "avgpool2grad" : "avgpool2", params: [I32, I32, I32, I32, I32, I32, I32], results: [], locals, body: c };
}

const INTERLEAVE_LO = [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23];
const INTERLEAVE_HI = INTERLEAVE_LO.map((v) => v + 8);
const I32X4_EQ = 0x37, V128_AND = 0x4e, I32X4_ALL_TRUE = 0xa3, F32X4_GT = 0x44;

/**
 * maxpool2grad(dy, idx, H, W, npl, OH, OW, dx, flag) -> ok: for npl planes of dy and idx [OH, OW]
 * (idx: i32 flat indices into an [H, W] plane, 2*OH <= H, 2*OW <= W, OW >= 4), writes every
 * 2x2 block of the dx planes [H, W] under an output: dy + 0 at the block's element that idx
 * names, +0 at the other three (rows >= 2*OH and columns >= 2*OW are not written). That is the scatter
 * dx[idx] += dy of a zeroed dx when every index lies in its own output's block (the blocks do
 * not overlap); returns 0 if one does not (the caller then scatters), else 1. Four outputs a
 * step (the last step of a row moved back to end at OW: it rewrites the same values).
 * flag: a byte address where ok is also stored as an i32 (a task on the threads, whose result
 * nobody reads), or 0.
 * With `relu`, maxpool2grad_relu(dy, idx, H, W, npl, OH, OW, dx, z, flag): also the gradient of the relu
 * before the pooling, z its input (planes [H, W] as dx): each written value kept where z > 0,
 * else +0 (what reluGrad(z, dx) gives).
 */
export function maxPool2Grad(relu = false): FuncDef {
  const DY = 0, IDX = 1, H = 2, W = 3, NPL = 4, OH = 5, OW = 6, DX = 7, Z = 8;
  const FLAG = relu ? 9 : 8; // (a byte address: where a task on the threads leaves ok, 0: nowhere)
  const base = FLAG + 1;
  const OHC = base, OWI = base + 1, LAST = base + 2, RDY = base + 3, RIX = base + 4, RDX = base + 5, I0 = base + 6, P = base + 7, WB = base + 8;
  const RZ = base + 9, PZ = base + 10; // (relu) z's row and position, as RDX and P
  const RES = relu ? base + 11 : base + 9;
  const v0 = RES + 1;
  const K = v0, SW = v0 + 1, S1 = v0 + 2, OK = v0 + 3, D = v0 + 4, X = v0 + 5, B = v0 + 6, M0 = v0 + 7, M1 = v0 + 8, M2 = v0 + 9, M3 = v0 + 10;
  const c = new Code();
  c.v128I32([-1, -1, -1, -1]).set(OK);
  c.block();
  c.get(OW).i32(4).op(Op.i32_lt_s).brIf(0);
  c.get(NPL).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(OH).i32(0).op(Op.i32_le_s).brIf(0);
  c.i32(1).simd(Simd.i32x4_splat).set(S1);
  c.get(W).simd(Simd.i32x4_splat).set(SW);
  c.v128I32([0, 2, 4, 6]).set(K);
  c.get(OW).i32(4).op(Op.i32_sub).set(LAST);
  c.get(W).i32(2).op(Op.i32_shl).set(WB);
  c.loop(); // planes
  c.get(DY).set(RDY).get(IDX).set(RIX).get(DX).set(RDX).i32(0).set(I0);
  if (relu) c.get(Z).set(RZ);
  c.get(OH).set(OHC);
  c.loop(); // output rows
  c.i32(0).set(OWI);
  c.block().loop(); // groups of 4 outputs
  c.get(OWI).get(LAST).op(Op.i32_gt_s).if_().get(LAST).set(OWI).end();
  // dy + 0: what the scatter's 0 + dy gives (-0 becomes +0)
  c.get(RDY).get(OWI).i32(2).op(Op.i32_shl).op(Op.i32_add).simdMem(Simd.v128_load, 0, 0).v128Zero().simd(Simd.f32x4_add).set(D);
  c.get(RIX).get(OWI).i32(2).op(Op.i32_shl).op(Op.i32_add).simdMem(Simd.v128_load, 0, 0).set(X);
  c.get(I0).get(OWI).i32(1).op(Op.i32_shl).op(Op.i32_add).simd(Simd.i32x4_splat).get(K).simd(Simd.i32x4_add).set(B);
  c.get(X).get(B).simd(I32X4_EQ).set(M0);
  c.get(X).get(B).get(S1).simd(Simd.i32x4_add).simd(I32X4_EQ).set(M1);
  c.get(B).get(SW).simd(Simd.i32x4_add).set(B);
  c.get(X).get(B).simd(I32X4_EQ).set(M2);
  c.get(X).get(B).get(S1).simd(Simd.i32x4_add).simd(I32X4_EQ).set(M3);
  c.get(OK).get(M0).get(M1).simd(Simd.v128_or).get(M2).get(M3).simd(Simd.v128_or).simd(Simd.v128_or).simd(V128_AND).set(OK);
  c.get(RDX).get(OWI).i32(3).op(Op.i32_shl).op(Op.i32_add).set(P);
  if (relu) c.get(RZ).get(OWI).i32(3).op(Op.i32_shl).op(Op.i32_add).set(PZ);
  for (const [lo, hi, off] of [[M0, M1, 0], [M2, M3, -1]] as const) {
    // the block row: (dy & m_lo, dy & m_hi) interleaved, 8 floats from column 2*ow (with relu: & z > 0)
    const store = (lanes: number[], at: number) => {
      c.get(P);
      if (off < 0) c.get(WB).op(Op.i32_add);
      c.get(D).get(lo).simd(V128_AND).get(D).get(hi).simd(V128_AND).shuffle(lanes);
      if (relu) {
        c.get(PZ);
        if (off < 0) c.get(WB).op(Op.i32_add);
        c.simdMem(Simd.v128_load, 0, at).v128Zero().simd(F32X4_GT).simd(V128_AND);
      }
      c.simdMem(Simd.v128_store, 0, at);
    };
    store(INTERLEAVE_LO, 0);
    store(INTERLEAVE_HI, 16);
  }
  c.get(OWI).get(LAST).op(Op.i32_ge_s).brIf(1);
  c.get(OWI).i32(4).op(Op.i32_add).set(OWI);
  c.br(0);
  c.end().end();
  c.get(RDY).get(OW).i32(2).op(Op.i32_shl).op(Op.i32_add).set(RDY);
  c.get(RIX).get(OW).i32(2).op(Op.i32_shl).op(Op.i32_add).set(RIX);
  c.get(RDX).get(WB).i32(1).op(Op.i32_shl).op(Op.i32_add).set(RDX);
  if (relu) c.get(RZ).get(WB).i32(1).op(Op.i32_shl).op(Op.i32_add).set(RZ);
  c.get(I0).get(W).i32(1).op(Op.i32_shl).op(Op.i32_add).set(I0);
  c.get(OHC).i32(1).op(Op.i32_sub).tee(OHC).brIf(0);
  c.end();
  c.get(DY).get(OH).get(OW).op(Op.i32_mul).i32(2).op(Op.i32_shl).tee(P).op(Op.i32_add).set(DY);
  c.get(IDX).get(P).op(Op.i32_add).set(IDX);
  c.get(DX).get(H).get(W).op(Op.i32_mul).i32(2).op(Op.i32_shl).tee(P).op(Op.i32_add).set(DX);
  if (relu) c.get(Z).get(P).op(Op.i32_add).set(Z);
  c.get(NPL).i32(1).op(Op.i32_sub).tee(NPL).brIf(0);
  c.end();
  c.end();
  c.get(OK).simd(I32X4_ALL_TRUE).set(RES);
  c.get(FLAG).if_().get(FLAG).get(RES).mem(Op.i32_store, 2, 0).end();
  c.get(RES);
  const locals: number[] = [];
  for (let i = base; i < v0; i++) locals.push(I32);
  for (let i = 0; i < 11; i++) locals.push(V128);
  const params = [I32, I32, I32, I32, I32, I32, I32, I32];
  if (relu) params.push(I32);
  params.push(I32); // flag
  return { name: relu ? "maxpool2grad_relu" : "maxpool2grad", params, results: [I32], locals, body: c };
}

/** Activations whose gradient avgpool2grad_<act> fuses (the op table's names). */
export type PoolAct = "tanh" | "sigmoid" | "relu";
const F64X2_SUB = 0xf1;

/**
 * avgpool2grad_<act>(dy, a, H, W, npl, OH, OW, dx): the gradient of 2x2 / stride 2 average pooling
 * and of the activation before it in one pass: each window's four dx = act'(g, a) with
 * g = float32(dy * 0.25) (avgpool2grad's value) and a the activation's operand at that element
 * (planes [H, W] as dx): tanh g * (1 - a*a), sigmoid g * a * (1 - a) (a the activation's
 * output; in double precision, rounded once: the bits of ew_tanhgrad / ew_sigmoidgrad and of the
 * TypeScript loops), relu a > 0 ? g : 0 (a its input). For the same outputs as avgpool2grad.
 */
export function avgPool2GradAct(act: PoolAct): FuncDef {
  const DY = 0, A = 1, H = 2, W = 3, NPL = 4, OH = 5, OW = 6, DX = 7;
  const PLANE = 8, APLANE = 9, OHC = 10, OWC = 11, RA = 12, RB = 13, AA = 14, AB = 15, YP = 16, OW4 = 17;
  const TY = 18, TA = 19, TB = 20, TAA = 21, TAB = 22;
  const G = 23, L = 24, GV = 25, AV = 26, T = 27, U = 28, R0 = 29, ONE = 30;
  const c = new Code();
  /** act'(g, a) of the f64x2 halves in GV (g) and AV (a), left on the stack */
  const half = () => {
    if (act === "tanh") c.get(GV).get(ONE).get(AV).get(AV).simd(S.f64x2_mul).simd(F64X2_SUB).simd(S.f64x2_mul);
    else c.get(GV).get(AV).simd(S.f64x2_mul).get(ONE).get(AV).simd(F64X2_SUB).simd(S.f64x2_mul);
  };
  /** stores act'(g, a) for the 4 floats of g in `gl` and of a at `ap` + off into dx at `dp` + off */
  const store = (dp: number, ap: number, off: number, gl: number) => {
    c.get(dp);
    if (act === "relu") {
      // a > 0 ? g : 0
      c.get(gl).v128Zero().get(ap).simdMem(Simd.v128_load, 0, off).v128Zero().simd(F32X4_GT).simd(Simd.v128_bitselect);
    } else {
      c.get(ap).simdMem(Simd.v128_load, 0, off).set(T);
      c.get(gl).simd(S.f64x2_promote_low_f32x4).set(GV).get(T).simd(S.f64x2_promote_low_f32x4).set(AV);
      half();
      c.simd(S.f32x4_demote_f64x2_zero).set(R0);
      c.get(gl).get(gl).shuffle(HIGH).simd(S.f64x2_promote_low_f32x4).set(GV);
      c.get(T).get(T).shuffle(HIGH).simd(S.f64x2_promote_low_f32x4).set(AV);
      half();
      c.simd(S.f32x4_demote_f64x2_zero).set(U);
      c.get(R0).get(U).shuffle(LOW);
    }
    c.simdMem(Simd.v128_store, 0, off);
  };
  c.get(OW).i32(2).op(0x75 /* i32.shr_s */).set(OW4);
  c.block();
  c.get(OW4).op(Op.i32_eqz).brIf(0);
  c.get(NPL).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(OH).i32(0).op(Op.i32_le_s).brIf(0);
  c.op(0x44);
  for (const x of new Uint8Array(new Float64Array([1]).buffer)) c.b.push(x);
  c.simd(S.f64x2_splat).set(ONE);
  c.get(DY).set(YP);
  c.loop(); // planes
  c.get(DX).set(PLANE).get(A).set(APLANE).get(OH).set(OHC);
  c.loop(); // output rows
  c.get(PLANE).set(RA).get(APLANE).set(AA);
  c.get(PLANE).get(W).i32(2).op(Op.i32_shl).op(Op.i32_add).set(RB);
  c.get(APLANE).get(W).i32(2).op(Op.i32_shl).op(Op.i32_add).set(AB);
  c.get(OW4).set(OWC);
  /** the 4 outputs' gradient at yp, their windows' rows at ra and rb (dx), aa and ab (a) */
  const step = (yp: number, ra: number, rb: number, aa: number, ab: number) => {
    c.get(yp).simdMem(Simd.v128_load, 0, 0);
    c.op(0x43, 0, 0, 0x80, 0x3e).simd(S.f32x4_splat); // 0.25f
    c.simd(S.f32x4_mul).set(G);
    c.get(G).get(G).shuffle(DUP_LO).set(L);
    c.get(G).get(G).shuffle(DUP_HI).set(G);
    store(ra, aa, 0, L);
    store(ra, aa, 16, G);
    store(rb, ab, 0, L);
    store(rb, ab, 16, G);
  };
  c.loop(); // groups of 4 outputs
  step(YP, RA, RB, AA, AB);
  c.get(YP).i32(16).op(Op.i32_add).set(YP);
  for (const p of [RA, RB, AA, AB]) c.get(p).i32(32).op(Op.i32_add).set(p);
  c.get(OWC).i32(1).op(Op.i32_sub).tee(OWC).brIf(0);
  c.end();
  // the last OW mod 4 outputs: a step moved back to end at OW (as avgpool2grad)
  c.get(OW).i32(3).op(Op.i32_and).if_();
  c.i32(4).get(OW).i32(3).op(Op.i32_and).op(Op.i32_sub).i32(2).op(Op.i32_shl).set(TY);
  for (const [t, p] of [[TA, RA], [TB, RB], [TAA, AA], [TAB, AB]]) c.get(p).get(TY).i32(1).op(Op.i32_shl).op(Op.i32_sub).set(t);
  c.get(YP).get(TY).op(Op.i32_sub).set(TY);
  step(TY, TA, TB, TAA, TAB);
  c.end();
  // skip to the next row (past the columns not covered by the steps); down two input rows
  c.get(YP).get(OW).get(OW4).i32(2).op(Op.i32_shl).op(Op.i32_sub).i32(2).op(Op.i32_shl).op(Op.i32_add).set(YP);
  c.get(PLANE).get(W).i32(3).op(Op.i32_shl).op(Op.i32_add).set(PLANE);
  c.get(APLANE).get(W).i32(3).op(Op.i32_shl).op(Op.i32_add).set(APLANE);
  c.get(OHC).i32(1).op(Op.i32_sub).tee(OHC).brIf(0);
  c.end();
  c.get(DX).get(H).get(W).op(Op.i32_mul).i32(2).op(Op.i32_shl).tee(PLANE).op(Op.i32_add).set(DX);
  c.get(A).get(PLANE).op(Op.i32_add).set(A);
  c.get(NPL).i32(1).op(Op.i32_sub).tee(NPL).brIf(0);
  c.end();
  c.end();
  const locals: number[] = [];
  for (let i = PLANE; i < G; i++) locals.push(I32);
  for (let i = G; i <= ONE; i++) locals.push(V128);
  return { name: `avgpool2grad_${act}`, params: [I32, I32, I32, I32, I32, I32, I32, I32], results: [], locals, body: c };
}
