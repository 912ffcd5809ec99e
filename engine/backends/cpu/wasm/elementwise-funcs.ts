// The element-wise functions of the SIMD module: WebAssembly SIMD versions of the CPU backend's
// float32 element-wise loops (../loops.ts unaryLoop / binaryLoop), for ../kernels/elementwise.ts,
// and the bias addition of the convolutions.
//
// They compute the same bits as the TypeScript loops: exp / tanh / sigmoid are
// ../fastmath.ts's float32 algorithms, step for step on f32x4 lanes (clamps, no branches);
// +, -, *, / are the same single roundings; the activation gradients
// are evaluated in double precision as JavaScript does (f64x2 lanes promoted from f32, one f32
// rounding at the end).
//
// Exports (addresses in bytes, n >= 4 floats; the last 4-float group (or step of groups) overlaps
// the one before when n % 4 != 0, so src and dst must not overlap):
//   ew_exp / ew_tanh / ew_sigmoid (src, dst, n)
//   ew_add / ew_sub / ew_mul / ew_div / ew_tanhgrad / ew_sigmoidgrad / ew_relugrad (a, sa, b, sb, dst, n):
//     sa / sb are 1 (arrays) or 0 (one value, repeated 4 times at the address).
//   addbias(c, ldc, rows, n, bias): c[r][0..n) += bias[r] (n a multiple of 4, ldc in bytes).

import { EXP_HI, EXP_LO, EXP_MAGIC, EXP_P, LN2_HI, LN2_LO, LOG2E, SIGMOID_MAGIC, SIGMOID_SCALE, TANH_CLAMP, TANH_P, TANH_Q } from "../fastmath.ts";
import { Code, I32, V128, Op, Simd, type FuncDef } from "./writer.ts";

/** SIMD opcodes used only here. */
const S = {
  f64x2_splat: 0x14, f64x2_sub: 0xf1, f64x2_mul: 0xf2,
  f64x2_promote_low_f32x4: 0x5f, f32x4_demote_f64x2_zero: 0x5e,
  f32x4_splat: 0x13, f32x4_eq: 0x41, f32x4_lt: 0x43, f32x4_gt: 0x44, f32x4_ge: 0x46, f32x4_floor: 0x68,
  f32x4_abs: 0xe0, f32x4_neg: 0xe1, f32x4_add: 0xe4, f32x4_sub: 0xe5, f32x4_mul: 0xe6, f32x4_div: 0xe7, f32x4_pmin: 0xea, f32x4_pmax: 0xeb,
  i32x4_shl: 0xab, i32x4_shr_s: 0xac, i32x4_shr_u: 0xad, i32x4_sub: 0xb1, i32x4_trunc_sat_f32x4_s: 0xf8,
  i32x4_relaxed_laneselect: 0x10b,
} as const;
const F64_CONST = 0x44, F32_CONST = 0x43;


/**
 * Locals of one function, after its parameters, and its splatted constants: each is a local set
 * once before the loop (`prologue`), so the loop reads a register (or a stack slot) instead of
 * building the vector from an immediate at every use (V8 does not hoist those out of the loop).
 */
class Locals {
  readonly types: number[] = [];
  private readonly consts = new Map<string, [number, (c: Code) => void]>();
  constructor(private readonly params: number) {}
  v(): number {
    this.types.push(V128);
    return this.params + this.types.length - 1;
  }
  i(): number {
    this.types.push(I32);
    return this.params + this.types.length - 1;
  }
  private konst(key: string, make: (c: Code) => void): number {
    let k = this.consts.get(key);
    if (!k) this.consts.set(key, (k = [this.v(), make]));
    return k[0];
  }
  /** The local holding four f32 lanes = v (a float32 value). */
  f32(v: number): number {
    const bytes = [...new Uint8Array(new Float32Array([v]).buffer)];
    return this.konst(`f32 ${bytes}`, (c) => c.op(F32_CONST, ...bytes).simd(S.f32x4_splat));
  }
  /** The local holding two f64 lanes = v. */
  f64(v: number): number {
    const bytes = [...new Uint8Array(new Float64Array([v]).buffer)];
    return this.konst(`f64 ${bytes}`, (c) => c.op(F64_CONST, ...bytes).simd(S.f64x2_splat));
  }
  /** The local holding four i32 lanes = v. */
  i32x4(v: number): number {
    return this.konst(`i32 ${v}`, (c) => c.i32(v).simd(Simd.i32x4_splat));
  }
  /** Sets every constant's local (before the loop). */
  prologue(c: Code): void {
    for (const [local, make] of this.consts.values()) {
      make(c);
      c.set(local);
    }
  }
}

/** Pushes a v128 with all four f32 lanes = v (a float32 value), from its local. */
function f32c(c: Code, L: Locals, v: number): Code {
  return c.get(L.f32(v));
}

/**
 * R = e^r for the reduced argument T (|r| <= ln2/2) on f32x4 lanes, as ../fastmath.ts's expPoly:
 * 1 + r + r^2 P(r), Horner, every product and sum rounded (no fused multiply-add).
 */
function expPoly32(c: Code, L: Locals, T: number, R: number): void {
  const Z = L.v();
  c.get(T).get(T).simd(S.f32x4_mul).set(Z);
  f32c(c, L, EXP_P[0]).set(R);
  for (let i = 1; i < EXP_P.length; i++) {
    c.get(R).get(T).simd(S.f32x4_mul); f32c(c, L, EXP_P[i]).simd(S.f32x4_add).set(R);
  }
  c.get(R).get(Z).simd(S.f32x4_mul).get(T).simd(S.f32x4_add); f32c(c, L, 1).simd(S.f32x4_add).set(R);
}

/**
 * KB = XC * LOG2E + magic (k = round(x / ln 2) in its low bits), T = x - k ln 2 in two steps
 * (Cody and Waite: k * LN2_HI is exact), as ../fastmath.ts.
 */
function reduce32(c: Code, L: Locals, XC: number, magic: number, KB: number, T: number): void {
  const K = L.v();
  c.get(XC); f32c(c, L, LOG2E).simd(S.f32x4_mul); f32c(c, L, magic).simd(S.f32x4_add).set(KB);
  c.get(KB); f32c(c, L, magic).simd(S.f32x4_sub).set(K);
  c.get(XC).get(K); f32c(c, L, LN2_HI).simd(S.f32x4_mul).simd(S.f32x4_sub);
  c.get(K); f32c(c, L, LN2_LO).simd(S.f32x4_mul).simd(S.f32x4_sub).set(T);
}

/**
 * R = expf(X) on f32x4 lanes, as ../fastmath.ts computes it (the same operations in the same
 * order, in float32, no fused multiply-add): clamp, k = round(x*LOG2E) by the magic number
 * EXP_MAGIC (the sum's low bits hold k + 254), r = x - k*LN2_HI - k*LN2_LO, the polynomial, then
 * * 2^floor(k/2) * 2^ceil(k/2): their bits are (KB >> 1) << 23 and (KB << 23) minus those (the
 * magic's own bits shift out; exponent fields floor((k + 254) / 2) and ceil((k + 254) / 2)).
 * 27 operations for 4 floats.
 */
function expf32(c: Code, L: Locals, X: number, R: number): void {
  const XC = L.v(), KB = L.v(), T = L.v(), F1 = L.v();
  c.get(X); f32c(c, L, EXP_LO).simd(S.f32x4_pmax); f32c(c, L, EXP_HI).simd(S.f32x4_pmin).set(XC);
  reduce32(c, L, XC, EXP_MAGIC, KB, T);
  expPoly32(c, L, T, R);
  c.get(KB).i32(1).simd(S.i32x4_shr_u).i32(23).simd(S.i32x4_shl).set(F1);
  c.get(R).get(F1).simd(S.f32x4_mul);
  c.get(KB).i32(23).simd(S.i32x4_shl).get(F1).simd(S.i32x4_sub).simd(S.f32x4_mul).set(R);
}

/** R = tanhf(X) (../fastmath.ts) on f32x4 lanes: clamp, x P(x^2) / Q(x^2), clamp to [-1, 1]. */
function tanh32(c: Code, L: Locals, X: number, R: number): void {
  const XC = L.v(), T = L.v(), P = L.v(), Q = L.v();
  c.get(X); f32c(c, L, -TANH_CLAMP).simd(S.f32x4_pmax); f32c(c, L, TANH_CLAMP).simd(S.f32x4_pmin).set(XC);
  c.get(XC).get(XC).simd(S.f32x4_mul).set(T);
  f32c(c, L, TANH_P[4]).set(P);
  f32c(c, L, TANH_Q[4]).set(Q);
  for (let i = 3; i >= 0; i--) {
    c.get(P).get(T).simd(S.f32x4_mul); f32c(c, L, TANH_P[i]).simd(S.f32x4_add).set(P);
    c.get(Q).get(T).simd(S.f32x4_mul); f32c(c, L, TANH_Q[i]).simd(S.f32x4_add).set(Q);
  }
  c.get(XC).get(P).simd(S.f32x4_mul).get(Q).simd(S.f32x4_div);
  f32c(c, L, -1).simd(S.f32x4_pmax); f32c(c, L, 1).simd(S.f32x4_pmin).set(R);
}

/**
 * R = sigmoidf(X) (../fastmath.ts): e = e^-|x| (-|x| by setting the sign bit, clamped below at
 * EXP_LO; NaN passes through) as y * 2^(k + 26), whose bits are KB << 23 (SIGMOID_MAGIC: the
 * exponent field k + 153), times 2^-26; then (x >= 0 ? 1 : e) / (1 + e), one division (the
 * numerator picked first: with `relaxed`, by relaxed SIMD's lane select, one blend instead of
 * three bitwise operations; the mask is whole lanes, so it picks the same lanes). 28 operations
 * for 4 floats.
 */
function sigmoid32(relaxed: boolean): F32Fn {
  return (c, L, X, R) => {
    const YC = L.v(), KB = L.v(), T = L.v(), E = L.v();
    c.get(X).get(L.i32x4(-0x80000000)).simd(Simd.v128_or); f32c(c, L, EXP_LO).simd(S.f32x4_pmax).set(YC);
    reduce32(c, L, YC, SIGMOID_MAGIC, KB, T);
    expPoly32(c, L, T, E);
    c.get(E).get(KB).i32(23).simd(S.i32x4_shl).simd(S.f32x4_mul); f32c(c, L, 2 ** -SIGMOID_SCALE).simd(S.f32x4_mul).set(E);
    f32c(c, L, 1).get(E).get(X); f32c(c, L, 0).simd(S.f32x4_ge).simd(relaxed ? S.i32x4_relaxed_laneselect : Simd.v128_bitselect);
    f32c(c, L, 1).get(E).simd(S.f32x4_add).simd(S.f32x4_div).set(R);
  };
}

const LOW = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]; // low halves of two vectors
const HIGH = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

/**
 * The loop over 4-float groups shared by all functions: I (byte offset) runs over [0, 4n) in
 * steps of `step` bytes (16: one group), the last step moved back to end at 4n (n >= step / 4).
 * `body` reads and writes through I.
 */
function groups(c: Code, N: number, I: number, END: number, body: () => void, step = 16): void {
  c.get(N).i32(2).op(Op.i32_shl).i32(step).op(Op.i32_sub).set(END); // offset of the last group
  c.i32(0).set(I);
  c.block().loop();
  c.get(I).get(END).op(Op.i32_gt_s).if_().get(END).set(I).end();
  body();
  c.get(I).get(END).op(Op.i32_ge_s).brIf(1);
  c.get(I).i32(step).op(Op.i32_add).set(I);
  c.br(0);
  c.end().end();
}

type F32Fn = (c: Code, L: Locals, X: number, R: number) => void;

/**
 * A unary function: G groups of 4 floats a step (G independent dependency chains: one chain of
 * exp's ~27 operations leaves the out-of-order core idle; measured best: G = 8 for exp and
 * sigmoid (6 before their shorter scaling: more constants, more spills), 3 for tanh, whose
 * division already overlaps), one group a step below 4G floats.
 */
function unary(name: string, f: F32Fn, G: number): FuncDef {
  const SRC = 0, DST = 1, N = 2;
  const L = new Locals(3);
  const I = L.i(), END = L.i();
  const XS = Array.from({ length: G }, () => L.v()), RS = Array.from({ length: G }, () => L.v());
  const step = (g: number) => {
    const b = new Code();
    for (let i = 0; i < g; i++) b.get(SRC).get(I).op(Op.i32_add).simdMem(Simd.v128_load, 0, 16 * i).set(XS[i]);
    for (let i = 0; i < g; i++) f(b, L, XS[i], RS[i]);
    for (let i = 0; i < g; i++) b.get(DST).get(I).op(Op.i32_add).get(RS[i]).simdMem(Simd.v128_store, 0, 16 * i);
    return b.b;
  };
  const many = step(G), one = step(1);
  const c = new Code();
  L.prologue(c);
  c.get(N).i32(4 * G).op(Op.i32_ge_s).if_();
  groups(c, N, I, END, () => c.op(...many), 16 * G);
  c.op(Op.else);
  groups(c, N, I, END, () => c.op(...one));
  c.end();
  return { name, params: [I32, I32, I32], results: [], locals: L.types, body: c };
}

/** Binary ops: on f32x4 (`f32`), or on f64x2 halves (`f64`: R from locals A, B). */
function binary(name: string, op: { f32?: number; f64?: (c: Code, L: Locals, A: number, B: number, R: number) => void; relu?: boolean }): FuncDef {
  const PA = 0, SA = 1, PB = 2, SB = 3, DST = 4, N = 5;
  const L = new Locals(6);
  const I = L.i(), END = L.i(), VA = L.v(), VB = L.v(), A = L.v(), B = L.v(), RL = L.v(), RH = L.v();
  const body = new Code();
  body.get(PA).get(I).get(SA).op(Op.i32_mul).op(Op.i32_add).simdMem(Simd.v128_load, 0, 0).set(VA);
  body.get(PB).get(I).get(SB).op(Op.i32_mul).op(Op.i32_add).simdMem(Simd.v128_load, 0, 0).set(VB);
  body.get(DST).get(I).op(Op.i32_add);
  if (op.f32 !== undefined) {
    body.get(VA).get(VB).simd(op.f32);
  } else if (op.relu) {
    // a > 0 ? b : 0
    body.get(VB).v128Zero().get(VA).v128Zero().simd(S.f32x4_gt).simd(Simd.v128_bitselect);
  } else {
    body.get(VA).simd(S.f64x2_promote_low_f32x4).set(A).get(VB).simd(S.f64x2_promote_low_f32x4).set(B);
    op.f64!(body, L, A, B, RL);
    body.get(VA).get(VA).shuffle(HIGH).simd(S.f64x2_promote_low_f32x4).set(A);
    body.get(VB).get(VB).shuffle(HIGH).simd(S.f64x2_promote_low_f32x4).set(B);
    op.f64!(body, L, A, B, RH);
    body.get(RL).simd(S.f32x4_demote_f64x2_zero).get(RH).simd(S.f32x4_demote_f64x2_zero).shuffle(LOW);
  }
  body.simdMem(Simd.v128_store, 0, 0);
  const c = new Code();
  L.prologue(c);
  groups(c, N, I, END, () => c.op(...body.b));
  return { name, params: [I32, I32, I32, I32, I32, I32], results: [], locals: L.types, body: c };
}

/**
 * The element-wise functions (ew_*; see module.ts); `relaxed`: the module may use relaxed SIMD
 * (its fused multiply-add configuration), for instructions that give the same bits.
 */
export function elementwiseFuncs(relaxed = false): FuncDef[] {
  return [
    unary("ew_exp", expf32, 8),
    unary("ew_tanh", tanh32, 3),
    unary("ew_sigmoid", sigmoid32(relaxed), 8),
    binary("ew_add", { f32: S.f32x4_add }),
    binary("ew_sub", { f32: S.f32x4_sub }),
    binary("ew_mul", { f32: S.f32x4_mul }),
    binary("ew_div", { f32: S.f32x4_div }),
    // b * (1 - y*y) with y = a
    binary("ew_tanhgrad", {
      f64: (c, L, A, B, R) => {
        c.get(B).get(L.f64(1)).get(A).get(A).simd(S.f64x2_mul).simd(S.f64x2_sub).simd(S.f64x2_mul).set(R);
      },
    }),
    // b * y * (1 - y) with y = a
    binary("ew_sigmoidgrad", {
      f64: (c, L, A, B, R) => {
        c.get(B).get(A).simd(S.f64x2_mul).get(L.f64(1)).get(A).simd(S.f64x2_sub).simd(S.f64x2_mul).set(R);
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

