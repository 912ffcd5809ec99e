// The element-wise functions of the SIMD module: WebAssembly SIMD versions of the CPU backend's
// float32 element-wise loops (../loops.ts unaryLoop / binaryLoop), for ../kernels/elementwise.ts,
// and the bias addition of the convolutions.
//
// They compute the same bits as the TypeScript loops: JavaScript evaluates
// expf / tanhf / sigmoidf (../fastmath.ts) and the gradient formulas in double
// precision and rounds once when storing to a Float32Array; these functions do
// the same operations in the same order on f64x2 lanes (promoted from f32, one
// f32 demotion at the end), with the branches turned into selects of lanes that
// were computed the same way. +, -, *, / of two float32 values round the same in
// double-then-float32 as directly in float32, so those run on f32x4.
//
// Exports (addresses in bytes, n >= 4 floats; the last 4-float group overlaps
// the one before when n % 4 != 0, so src and dst must not overlap):
//   ew_exp / ew_tanh / ew_sigmoid (src, dst, n)
//   ew_add / ew_sub / ew_mul / ew_div / ew_tanhgrad / ew_sigmoidgrad / ew_relugrad (a, sa, b, sb, dst, n):
//     sa / sb are 1 (arrays) or 0 (one value, repeated 4 times at the address).
//   addbias(c, ldc, rows, n, bias): c[r][0..n) += bias[r] (n a multiple of 4, ldc in bytes).

import { EXP_C, EXP_HI, EXP_LO, LN2_HI, LN2_LO, LOG2E } from "../fastmath.ts";
import { Code, I32, V128, Op, Simd, type FuncDef } from "./writer.ts";

/** SIMD opcodes used only here. */
const S = {
  f64x2_splat: 0x14, i64x2_splat: 0x12,
  f64x2_lt: 0x49, f64x2_gt: 0x4a, f64x2_ge: 0x4c,
  f64x2_floor: 0x75, f64x2_neg: 0xed, f64x2_add: 0xf0, f64x2_sub: 0xf1, f64x2_mul: 0xf2, f64x2_div: 0xf3,
  f64x2_promote_low_f32x4: 0x5f, f32x4_demote_f64x2_zero: 0x5e,
  i32x4_trunc_sat_f64x2_s_zero: 0xfc, i64x2_extend_low_i32x4_s: 0xc7, i64x2_add: 0xce, i64x2_shl: 0xcb,
  f32x4_gt: 0x44, f32x4_add: 0xe4, f32x4_sub: 0xe5, f32x4_mul: 0xe6, f32x4_div: 0xe7,
} as const;
const F64_CONST = 0x44, I64_CONST = 0x42;

/** Pushes a v128 with both f64 lanes = v. */
function f64c(c: Code, v: number): Code {
  c.op(F64_CONST);
  for (const x of new Uint8Array(new Float64Array([v]).buffer)) c.b.push(x);
  return c.simd(S.f64x2_splat);
}

/** Locals of one function, after its parameters. */
class Locals {
  readonly types: number[] = [];
  constructor(private readonly params: number) {}
  v(): number {
    this.types.push(V128);
    return this.params + this.types.length - 1;
  }
  i(): number {
    this.types.push(I32);
    return this.params + this.types.length - 1;
  }
}

/**
 * R = expf(X) on f64x2 lanes, as ../fastmath.ts computes it: k = floor(x*LOG2E + 0.5);
 * r = x - k*LN2_HI - k*LN2_LO; p = 1 + r*(1 + r*(0.5 + r*(C3 + ... + r*C7))); p * 2^k, with
 * 2^k built from its exponent bits (k is in [-150, 128] where it is used: a normal double);
 * x > EXP_HI gives Infinity, x < EXP_LO gives 0, NaN stays NaN.
 */
function expf64(c: Code, L: Locals, X: number, R: number): void {
  const K = L.v(), T = L.v();
  const [C3, C4, C5, C6, C7] = EXP_C;
  c.get(X); f64c(c, LOG2E).simd(S.f64x2_mul); f64c(c, 0.5).simd(S.f64x2_add).simd(S.f64x2_floor).set(K);
  c.get(X).get(K); f64c(c, LN2_HI).simd(S.f64x2_mul).simd(S.f64x2_sub);
  c.get(K); f64c(c, LN2_LO).simd(S.f64x2_mul).simd(S.f64x2_sub).set(T);
  // from the inside: r*C7, then (k + that) * r for k = C6 ... 1, then 1 + that
  c.get(T); f64c(c, C7).simd(S.f64x2_mul).set(R);
  for (const k of [C6, C5, C4, C3, 0.5, 1]) {
    f64c(c, k).get(R).simd(S.f64x2_add);
    c.get(T).simd(S.f64x2_mul).set(R);
  }
  f64c(c, 1).get(R).simd(S.f64x2_add).set(R);
  // * 2^k: bits (k + 1023) << 52
  c.get(K).simd(S.i32x4_trunc_sat_f64x2_s_zero).simd(S.i64x2_extend_low_i32x4_s);
  c.op(I64_CONST, 0xff, 0x07); // 1023
  c.simd(S.i64x2_splat).simd(S.i64x2_add).i32(52).simd(S.i64x2_shl);
  c.get(R).simd(S.f64x2_mul).set(R);
  f64c(c, Infinity).get(R).get(X); f64c(c, EXP_HI).simd(S.f64x2_gt).simd(Simd.v128_bitselect).set(R);
  f64c(c, 0).get(R).get(X); f64c(c, EXP_LO).simd(S.f64x2_lt).simd(Simd.v128_bitselect).set(R);
}

/** R = tanhf(X) (../fastmath.ts) on f64x2 lanes. */
function tanh64(c: Code, L: Locals, X: number, R: number): void {
  const NEG = L.v(), A = L.v(), V2 = L.v(), PS = L.v(), E = L.v(), Y = L.v(), T = L.v();
  c.get(X); f64c(c, 0).simd(S.f64x2_lt).set(NEG);
  c.get(X).simd(S.f64x2_neg).get(X).get(NEG).simd(Simd.v128_bitselect).set(A); // a = x < 0 ? -x : x
  // |x| < 0.5: (x * (135135 + v2*(17325 + v2*(378 + v2)))) / (135135 + v2*(62370 + v2*(3150 + v2*28)))
  c.get(X).get(X).simd(S.f64x2_mul).set(V2);
  f64c(c, 378).get(V2).simd(S.f64x2_add).get(V2).simd(S.f64x2_mul).set(PS); // v2 * (378 + v2)
  f64c(c, 17325).get(PS).simd(S.f64x2_add).get(V2).simd(S.f64x2_mul).set(PS);
  f64c(c, 135135).get(PS).simd(S.f64x2_add).get(X).simd(S.f64x2_mul).set(PS); // numerator
  c.get(V2); f64c(c, 28).simd(S.f64x2_mul).set(T);
  f64c(c, 3150).get(T).simd(S.f64x2_add).get(V2).simd(S.f64x2_mul).set(T);
  f64c(c, 62370).get(T).simd(S.f64x2_add).get(V2).simd(S.f64x2_mul).set(T);
  f64c(c, 135135).get(T).simd(S.f64x2_add).set(T);
  c.get(PS).get(T).simd(S.f64x2_div).set(PS);
  // otherwise: e = expf(-2 * a); t = (1 - e) / (1 + e); x < 0 ? -t : t
  f64c(c, -2).get(A).simd(S.f64x2_mul).set(Y);
  expf64(c, L, Y, E);
  f64c(c, 1).get(E).simd(S.f64x2_sub);
  f64c(c, 1).get(E).simd(S.f64x2_add).simd(S.f64x2_div).set(T);
  c.get(T).simd(S.f64x2_neg).get(T).get(NEG).simd(Simd.v128_bitselect).set(R);
  // |x| > 9.1: x > 0 ? 1 : x < 0 ? -1 : x
  f64c(c, 1);
  f64c(c, -1).get(X).get(NEG).simd(Simd.v128_bitselect);
  c.get(X); f64c(c, 0).simd(S.f64x2_gt).simd(Simd.v128_bitselect);
  c.get(R).get(A); f64c(c, 9.1).simd(S.f64x2_gt).simd(Simd.v128_bitselect).set(R);
  c.get(PS).get(R).get(A); f64c(c, 0.5).simd(S.f64x2_lt).simd(Simd.v128_bitselect).set(R);
}

/** R = sigmoidf(X): x >= 0 ? 1 / (1 + expf(-x)) : (e = expf(x), e / (1 + e)). */
function sigmoid64(c: Code, L: Locals, X: number, R: number): void {
  const POS = L.v(), Y = L.v(), E = L.v(), D = L.v();
  c.get(X); f64c(c, 0).simd(S.f64x2_ge).set(POS);
  c.get(X).simd(S.f64x2_neg).get(X).get(POS).simd(Simd.v128_bitselect).set(Y);
  expf64(c, L, Y, E);
  f64c(c, 1).get(E).simd(S.f64x2_add).set(D);
  f64c(c, 1).get(D).simd(S.f64x2_div);
  c.get(E).get(D).simd(S.f64x2_div);
  c.get(POS).simd(Simd.v128_bitselect).set(R);
}

const LOW = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]; // low halves of two vectors
const HIGH = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

/**
 * The loop over 4-float groups shared by all functions: I (byte offset) runs over [0, 4n) in
 * steps of 16, the last group moved back to end at 4n. `body` reads and writes through I.
 */
function groups(c: Code, N: number, I: number, END: number, body: () => void): void {
  c.get(N).i32(2).op(Op.i32_shl).i32(16).op(Op.i32_sub).set(END); // offset of the last group
  c.i32(0).set(I);
  c.block().loop();
  c.get(I).get(END).op(Op.i32_gt_s).if_().get(END).set(I).end();
  body();
  c.get(I).get(END).op(Op.i32_ge_s).brIf(1);
  c.get(I).i32(16).op(Op.i32_add).set(I);
  c.br(0);
  c.end().end();
}

type F64Fn = (c: Code, L: Locals, X: number, R: number) => void;

function unary(name: string, f: F64Fn): FuncDef {
  const SRC = 0, DST = 1, N = 2;
  const L = new Locals(3);
  const I = L.i(), END = L.i(), V = L.v(), X = L.v(), RL = L.v(), RH = L.v();
  const c = new Code();
  groups(c, N, I, END, () => {
    c.get(SRC).get(I).op(Op.i32_add).simdMem(Simd.v128_load, 0, 0).set(V);
    c.get(V).simd(S.f64x2_promote_low_f32x4).set(X);
    f(c, L, X, RL);
    c.get(V).get(V).shuffle(HIGH).simd(S.f64x2_promote_low_f32x4).set(X);
    f(c, L, X, RH);
    c.get(DST).get(I).op(Op.i32_add);
    c.get(RL).simd(S.f32x4_demote_f64x2_zero).get(RH).simd(S.f32x4_demote_f64x2_zero).shuffle(LOW);
    c.simdMem(Simd.v128_store, 0, 0);
  });
  return { name, params: [I32, I32, I32], results: [], locals: L.types, body: c };
}

/** Binary ops: on f32x4 (`f32`), or on f64x2 halves (`f64`: R from locals A, B). */
function binary(name: string, op: { f32?: number; f64?: (c: Code, A: number, B: number, R: number) => void; relu?: boolean }): FuncDef {
  const PA = 0, SA = 1, PB = 2, SB = 3, DST = 4, N = 5;
  const L = new Locals(6);
  const I = L.i(), END = L.i(), VA = L.v(), VB = L.v(), A = L.v(), B = L.v(), RL = L.v(), RH = L.v();
  const c = new Code();
  groups(c, N, I, END, () => {
    c.get(PA).get(I).get(SA).op(Op.i32_mul).op(Op.i32_add).simdMem(Simd.v128_load, 0, 0).set(VA);
    c.get(PB).get(I).get(SB).op(Op.i32_mul).op(Op.i32_add).simdMem(Simd.v128_load, 0, 0).set(VB);
    c.get(DST).get(I).op(Op.i32_add);
    if (op.f32 !== undefined) {
      c.get(VA).get(VB).simd(op.f32);
    } else if (op.relu) {
      // a > 0 ? b : 0
      c.get(VB).v128Zero().get(VA).v128Zero().simd(S.f32x4_gt).simd(Simd.v128_bitselect);
    } else {
      c.get(VA).simd(S.f64x2_promote_low_f32x4).set(A).get(VB).simd(S.f64x2_promote_low_f32x4).set(B);
      op.f64!(c, A, B, RL);
      c.get(VA).get(VA).shuffle(HIGH).simd(S.f64x2_promote_low_f32x4).set(A);
      c.get(VB).get(VB).shuffle(HIGH).simd(S.f64x2_promote_low_f32x4).set(B);
      op.f64!(c, A, B, RH);
      c.get(RL).simd(S.f32x4_demote_f64x2_zero).get(RH).simd(S.f32x4_demote_f64x2_zero).shuffle(LOW);
    }
    c.simdMem(Simd.v128_store, 0, 0);
  });
  return { name, params: [I32, I32, I32, I32, I32, I32], results: [], locals: L.types, body: c };
}

/** The element-wise functions (ew_*; see module.ts). */
export function elementwiseFuncs(): FuncDef[] {
  return [
    unary("ew_exp", expf64),
    unary("ew_tanh", tanh64),
    unary("ew_sigmoid", sigmoid64),
    binary("ew_add", { f32: S.f32x4_add }),
    binary("ew_sub", { f32: S.f32x4_sub }),
    binary("ew_mul", { f32: S.f32x4_mul }),
    binary("ew_div", { f32: S.f32x4_div }),
    // b * (1 - y*y) with y = a
    binary("ew_tanhgrad", {
      f64: (c, A, B, R) => {
        c.get(B); f64c(c, 1).get(A).get(A).simd(S.f64x2_mul).simd(S.f64x2_sub).simd(S.f64x2_mul).set(R);
      },
    }),
    // b * y * (1 - y) with y = a
    binary("ew_sigmoidgrad", {
      f64: (c, A, B, R) => {
        c.get(B).get(A).simd(S.f64x2_mul); f64c(c, 1).get(A).simd(S.f64x2_sub).simd(S.f64x2_mul).set(R);
      },
    }),
    binary("ew_relugrad", { relu: true }),
  ];
}

/** c[r][0..n) += bias[r]: a convolution's bias, on f32x4 (n a multiple of 4). */
export function addBias(): FuncDef {
  const C = 0, LDC = 1, ROWS = 2, N = 3, BIAS = 4, P = 5, E = 6, V = 7;
  const c = new Code();
  c.block();
  c.get(ROWS).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(N).i32(0).op(Op.i32_le_s).brIf(0);
  c.loop();
  c.get(BIAS).simdMem(Simd.v128_load32_splat, 2, 0).set(V);
  c.get(C).set(P);
  c.get(C).get(N).i32(2).op(Op.i32_shl).op(Op.i32_add).set(E);
  c.loop();
  c.get(P).get(P).simdMem(Simd.v128_load, 0, 0).get(V).simd(Simd.f32x4_add).simdMem(Simd.v128_store, 0, 0);
  c.get(P).i32(16).op(Op.i32_add).tee(P).get(E).op(Op.i32_lt_s).brIf(0);
  c.end();
  c.get(C).get(LDC).op(Op.i32_add).set(C);
  c.get(BIAS).i32(4).op(Op.i32_add).set(BIAS);
  c.get(ROWS).i32(1).op(Op.i32_sub).tee(ROWS).brIf(0);
  c.end();
  c.end();
  return { name: "addbias", params: [I32, I32, I32, I32, I32], results: [], locals: [I32, I32, V128], body: c };
}

