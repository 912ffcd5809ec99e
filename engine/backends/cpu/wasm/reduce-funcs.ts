// The reduction functions of the SIMD module.
//
// Exports:
//  sumrows(x, n, rows, out): for each of `rows` rows of n floats at x (one after the other),
//    out[row] = the sum as the TypeScript loop of reduce.ts computes it, bit for bit: four
//    running sums in double precision (element r into sum r mod 4; the tail after the last
//    group of four into the first), then (s0 + s1) + (s2 + s3) rounded to float32. Here the four
//    sums are two f64x2 accumulators: (s0, s1) += the group's first two floats, (s2, s3) += the
//    last two; the same additions in the same order.

import { Code, I32, V128, Simd, Op, type FuncDef } from "./writer.ts";

const F64 = 0x7c;
const f64x2_promote_low_f32x4 = 0x5f, f64x2_add = 0xf0, f64x2_extract_lane = 0x21;
const f64_add = 0xa0, f64_promote_f32 = 0xbb, f32_demote_f64 = 0xb6;

export function sumRows(): FuncDef {
  const X = 0, N = 1, ROWS = 2, OUT = 3;
  const P = 4, E = 5, TAIL = 6, A = 7, B = 8, V = 9, S0 = 10;
  const c = new Code();
  const high = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]; // lanes 2, 3 moved to 0, 1
  c.block();
  c.get(ROWS).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(X).set(P);
  c.loop(); // rows
  c.v128Zero().set(A).v128Zero().set(B);
  // E: the end of the groups of four (bytes), TAIL: the end of the row
  c.get(P).get(N).i32(-4).op(0x71 /* i32.and */).i32(2).op(Op.i32_shl).op(Op.i32_add).set(E);
  c.get(P).get(N).i32(2).op(Op.i32_shl).op(Op.i32_add).set(TAIL);
  c.block();
  c.get(P).get(E).op(Op.i32_ge_s).brIf(0);
  c.loop(); // groups of four
  c.get(P).simdMem(Simd.v128_load, 0, 0).set(V);
  c.get(A).get(V).simd(f64x2_promote_low_f32x4).simd(f64x2_add).set(A);
  c.get(B).get(V).get(V).shuffle(high).simd(f64x2_promote_low_f32x4).simd(f64x2_add).set(B);
  c.get(P).i32(16).op(Op.i32_add).tee(P).get(E).op(Op.i32_lt_s).brIf(0);
  c.end();
  c.end();
  c.get(A).simd(f64x2_extract_lane).op(0).set(S0);
  c.block();
  c.get(P).get(TAIL).op(Op.i32_ge_s).brIf(0);
  c.loop(); // the tail, into the first sum
  c.get(S0).get(P).mem(Op.f32_load, 2, 0).op(f64_promote_f32).op(f64_add).set(S0);
  c.get(P).i32(4).op(Op.i32_add).tee(P).get(TAIL).op(Op.i32_lt_s).brIf(0);
  c.end();
  c.end();
  // out = (s0 + s1) + (s2 + s3), rounded to float32
  c.get(OUT);
  c.get(S0).get(A).simd(f64x2_extract_lane).op(1).op(f64_add);
  c.get(B).simd(f64x2_extract_lane).op(0).get(B).simd(f64x2_extract_lane).op(1).op(f64_add);
  c.op(f64_add).op(f32_demote_f64).mem(Op.f32_store, 2, 0);
  c.get(OUT).i32(4).op(Op.i32_add).set(OUT);
  c.get(ROWS).i32(1).op(Op.i32_sub).tee(ROWS).brIf(0);
  c.end();
  c.end();
  return { name: "sumrows", params: [I32, I32, I32, I32], results: [], locals: [I32, I32, I32, V128, V128, V128, F64], body: c };
}
