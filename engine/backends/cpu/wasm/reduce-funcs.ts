// The reduction functions of the SIMD module.
//
// Exports:
//  sumrows(x, n, rows, out): for each of `rows` rows of n floats at x (one after the other),
//    out[row] = the sum as the TypeScript loop of reduce.ts computes it, bit for bit: four
//    running sums in double precision (element r into sum r mod 4; the tail after the last
//    group of four into the first), then (s0 + s1) + (s2 + s3) rounded to float32. Here the four
//    sums are two f64x2 accumulators: (s0, s1) += the group's first two floats, (s2, s3) += the
//    last two; the same additions in the same order. ROWS rows are summed side by side (each
//    row's additions still in its own order): one row's two accumulators are two chains of
//    dependent additions, which left the core waiting on the f64x2 add's latency (4 cycles) at
//    a quarter of its throughput.
//  addrows(x, rows, m, acc): acc[j] += x[r][j] for r = 0, 1, ... rows - 1 in that order, j < m (rows
//    of m floats one after the other; m >= 4): float32 additions, each rounded, as the TypeScript
//    loop of reduce.ts sums over an axis that is not the last (a bias gradient's sum over the
//    batch); f32x4 columns, the last group of four overlapping the one before when m % 4 != 0
//    (its columns summed again from acc's old values: acc is read before any of it is written).

import { Code, I32, V128, Simd, Op, type FuncDef } from "./writer.ts";

/** The column sums of addrows (see above). */
export function addRows(): FuncDef {
  const X = 0, ROWS = 1, M = 2, ACC = 3;
  const J = 4, JE = 5, P = 6, PE = 7, RB = 8, S = 9, T = 10;
  const c = new Code();
  c.block();
  c.get(ROWS).i32(0).op(Op.i32_le_s).brIf(0);
  c.get(M).i32(2).op(Op.i32_shl).set(RB); // a row's bytes
  c.get(RB).i32(16).op(Op.i32_sub).set(JE); // the last group's offset
  // the last group first, from acc's old values, kept in T (the groups before may overlap it)
  const column = (to: number) => {
    c.get(ACC).get(J).op(Op.i32_add).simdMem(Simd.v128_load, 0, 0).set(S);
    c.get(X).get(J).op(Op.i32_add).set(P);
    c.get(P).get(RB).get(ROWS).op(Op.i32_mul).op(Op.i32_add).set(PE);
    c.loop();
    c.get(S).get(P).simdMem(Simd.v128_load, 0, 0).simd(Simd.f32x4_add).set(S);
    c.get(P).get(RB).op(Op.i32_add).tee(P).get(PE).op(Op.i32_lt_s).brIf(0);
    c.end();
    c.get(S).set(to);
  };
  c.get(JE).set(J);
  column(T);
  c.i32(0).set(J);
  c.block();
  c.get(J).get(JE).op(Op.i32_ge_s).brIf(0);
  c.loop(); // the other groups
  column(S);
  c.get(ACC).get(J).op(Op.i32_add).get(S).simdMem(Simd.v128_store, 0, 0);
  c.get(J).i32(16).op(Op.i32_add).tee(J).get(JE).op(Op.i32_lt_s).brIf(0);
  c.end();
  c.end();
  c.get(ACC).get(JE).op(Op.i32_add).get(T).simdMem(Simd.v128_store, 0, 0);
  c.end();
  return { name: "addrows", params: [I32, I32, I32, I32], results: [], locals: [I32, I32, I32, I32, I32, V128, V128], body: c };
}

const F64 = 0x7c;
const f64x2_promote_low_f32x4 = 0x5f, f64x2_add = 0xf0, f64x2_extract_lane = 0x21;
const f64_add = 0xa0, f64_promote_f32 = 0xbb, f32_demote_f64 = 0xb6;

/** Rows summed side by side (2 accumulators each: 8 independent chains). */
const ROWS_AT_ONCE = 4;

export function sumRows(): FuncDef {
  const X = 0, N = 1, ROWS = 2, OUT = 3;
  let next = 4;
  const types: number[] = [];
  const local = (t: number) => (types.push(t), next++);
  const Q = local(I32), QE = local(I32), RB = local(I32), V = local(V128);
  const R = ROWS_AT_ONCE;
  const base = Array.from({ length: R }, () => local(I32));
  const acc = Array.from({ length: R }, () => [local(V128), local(V128)]);
  const s0 = Array.from({ length: R }, () => local(F64));
  const c = new Code();
  const high = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]; // lanes 2, 3 moved to 0, 1
  c.get(N).i32(2).op(Op.i32_shl).set(RB); // a row's bytes
  c.get(N).i32(-4).op(0x71 /* i32.and */).i32(2).op(Op.i32_shl).set(QE); // the end of its groups of four
  // k rows from X on, out[0..k) from OUT on; then X, OUT and ROWS move past them
  const rows = (k: number) => {
    for (let r = 0; r < k; r++) {
      c.get(X);
      if (r > 0) c.get(RB).i32(r).op(Op.i32_mul).op(Op.i32_add);
      c.set(base[r]);
      c.v128Zero().set(acc[r][0]).v128Zero().set(acc[r][1]);
    }
    c.i32(0).set(Q);
    c.block();
    c.get(Q).get(QE).op(Op.i32_ge_s).brIf(0);
    c.loop(); // groups of four, of each row
    for (let r = 0; r < k; r++) {
      const [A, B] = acc[r];
      c.get(base[r]).get(Q).op(Op.i32_add).simdMem(Simd.v128_load, 0, 0).set(V);
      c.get(A).get(V).simd(f64x2_promote_low_f32x4).simd(f64x2_add).set(A);
      c.get(B).get(V).get(V).shuffle(high).simd(f64x2_promote_low_f32x4).simd(f64x2_add).set(B);
    }
    c.get(Q).i32(16).op(Op.i32_add).tee(Q).get(QE).op(Op.i32_lt_s).brIf(0);
    c.end();
    c.end();
    for (let r = 0; r < k; r++) {
      const [A, B] = acc[r];
      c.get(A).simd(f64x2_extract_lane).op(0).set(s0[r]);
      c.get(QE).set(Q);
      c.block();
      c.get(Q).get(RB).op(Op.i32_ge_s).brIf(0);
      c.loop(); // the tail, into the first sum
      c.get(s0[r]).get(base[r]).get(Q).op(Op.i32_add).mem(Op.f32_load, 2, 0).op(f64_promote_f32).op(f64_add).set(s0[r]);
      c.get(Q).i32(4).op(Op.i32_add).tee(Q).get(RB).op(Op.i32_lt_s).brIf(0);
      c.end();
      c.end();
      // out = (s0 + s1) + (s2 + s3), rounded to float32
      c.get(OUT);
      c.get(s0[r]).get(A).simd(f64x2_extract_lane).op(1).op(f64_add);
      c.get(B).simd(f64x2_extract_lane).op(0).get(B).simd(f64x2_extract_lane).op(1).op(f64_add);
      c.op(f64_add).op(f32_demote_f64).mem(Op.f32_store, 2, 4 * r);
    }
    c.get(X).get(RB).i32(k).op(Op.i32_mul).op(Op.i32_add).set(X);
    c.get(OUT).i32(4 * k).op(Op.i32_add).set(OUT);
    c.get(ROWS).i32(k).op(Op.i32_sub).set(ROWS);
  };
  c.block();
  c.loop(); // ROWS_AT_ONCE rows at a time
  c.get(ROWS).i32(R).op(Op.i32_lt_s).brIf(1);
  rows(R);
  c.br(0);
  c.end();
  c.end();
  c.block();
  c.loop(); // the last rows one by one
  c.get(ROWS).i32(0).op(Op.i32_le_s).brIf(1);
  rows(1);
  c.br(0);
  c.end();
  c.end();
  return { name: "sumrows", params: [I32, I32, I32, I32], results: [], locals: types, body: c };
}
