// The optimizers' updates on the SIMD module: SGD (momentum, dampening, Nesterov, weight decay) and
// Adam / AdamW, in place over a parameter's float32 arrays, for ../kernels/optim.ts. They compute
// the bits of the TypeScript loops of engine/optim (sgd.ts sgdLoop, adam.ts adamLoop), which
// compute those of the op-by-op updates: every step a single float32 operation (+ − × ÷ and the
// square root are correctly rounded in both), no fused multiply-add, the same order. (A term
// `a + alpha·b` with alpha 1 is an add in the loops and a multiply by 1.0 and an add here: the
// same value, -0 and NaN included.)
//
// Exports (addresses in bytes; n floats, a multiple of 4 is fastest, the last n % 4 one at a
// time; arrays may not overlap):
//   sgdstep(p, g, b, n, flags, wd, m, damp, lr): flags 1 weight decay, 2 momentum (b: the buffer),
//     4 Nesterov. d = g (+ wd·p); b = m·b + damp·d, d = b (or d + m·b); p = p + lr·d (lr negative).
//   adamstep(p, g, mo, v, n, flags, keep, l2, b1, a1, b2, a2, sqrtbc2, eps, step): flags 1 AdamW's
//     decay (p·keep first), 2 Adam's L2 (g + l2·p). mo = b1·mo + a1·g; v = b2·v + a2·g²;
//     p = p' + step·(mo / (√v / sqrtbc2 + eps)) (step negative).

import { Code, F32, I32, V128, Op, Simd, type FuncDef } from "./writer.ts";

/** One element width: f32x4 lanes (4) or one f32 (1), with its opcodes. */
interface Width {
  bytes: number;
  type: number;
  load(c: Code): void;
  store(c: Code): void;
  add(c: Code): void;
  mul(c: Code): void;
  div(c: Code): void;
  sqrt(c: Code): void;
}

const F32X4: Width = {
  bytes: 16, type: V128,
  load: (c) => void c.simdMem(Simd.v128_load, 0, 0),
  store: (c) => void c.simdMem(Simd.v128_store, 0, 0),
  add: (c) => void c.simd(0xe4), mul: (c) => void c.simd(0xe6), div: (c) => void c.simd(0xe7), sqrt: (c) => void c.simd(0xe3),
};
const F32S: Width = {
  bytes: 4, type: F32,
  load: (c) => void c.mem(Op.f32_load, 2, 0),
  store: (c) => void c.mem(Op.f32_store, 2, 0),
  add: (c) => void c.op(0x92), mul: (c) => void c.op(0x94), div: (c) => void c.op(0x95), sqrt: (c) => void c.op(0x91),
};

/**
 * A function of `arrays` float32 array addresses, n, flags and `scalars` f32 parameters: the
 * scalars splatted once, then `body(c, W, at, k, flag, tmp)` over groups of four and over the last
 * n % 4 floats one at a time. `at(i)` pushes the address of array i's current element, `k(j)` the
 * scalar j (splatted where W is f32x4), `flag(bit)` whether the flag is set (an i32 condition),
 * `tmp(W)` gives a scratch local of W's type (a new one at each call within one body).
 */
function updateFunc(
  name: string, arrays: number, scalars: number,
  body: (c: Code, W: Width, at: (i: number) => void, k: (j: number) => void, flag: (bit: number) => void, tmp: (W: Width) => number) => void,
): FuncDef {
  const N = arrays, FLAGS = arrays + 1, S0 = arrays + 2;
  const params = [...Array<number>(arrays + 2).fill(I32), ...Array<number>(scalars).fill(F32)];
  const locals: number[] = [];
  const local = (t: number) => (locals.push(t), params.length + locals.length - 1);
  const OFF = local(I32), END = local(I32);
  const splat = Array.from({ length: scalars }, () => local(V128));
  const temps = new Map<Width, number[]>();
  const c = new Code();
  for (let j = 0; j < scalars; j++) c.get(S0 + j).simd(Simd.f32x4_splat).set(splat[j]);
  const loop = (W: Width, end: () => void) => {
    end();
    c.block();
    c.get(OFF).get(END).op(Op.i32_ge_s).brIf(0);
    c.loop();
    let used = 0;
    const tmp = (w: Width) => {
      const list = temps.get(w) ?? (temps.set(w, []), temps.get(w)!);
      if (used >= list.length) list.push(local(w.type));
      return list[used++];
    };
    body(c, W, (i) => void c.get(i).get(OFF).op(Op.i32_add), (j) => void c.get(W === F32X4 ? splat[j] : S0 + j), (bit) => void c.get(FLAGS).i32(bit).op(0x71 /* i32.and */), tmp);
    c.get(OFF).i32(W.bytes).op(Op.i32_add).tee(OFF).get(END).op(Op.i32_lt_s).brIf(0);
    c.end();
    c.end();
  };
  c.i32(0).set(OFF);
  loop(F32X4, () => void c.get(N).i32(-4).op(0x71).i32(2).op(Op.i32_shl).set(END)); // groups of four
  loop(F32S, () => void c.get(N).i32(2).op(Op.i32_shl).set(END)); // the rest
  return { name, params, results: [], locals, body: c };
}

/** SGD's update (sgd.ts's loop). Arrays: p 0, g 1, b 2; scalars: wd 0, m 1, damp 2, lr 3. */
function sgdStep(): FuncDef {
  return updateFunc("sgdstep", 3, 4, (c, W, at, k, flag, tmp) => {
    const D = tmp(W), B = tmp(W);
    at(1); W.load(c); c.set(D);
    flag(1); c.if_(); // d = d + wd·p
    c.get(D); at(0); W.load(c); k(0); W.mul(c); W.add(c); c.set(D);
    c.end();
    flag(2); c.if_(); // b = m·b + damp·d (as b·m + d·damp); d = b, or d + m·b
    at(2); W.load(c); k(1); W.mul(c); c.get(D); k(2); W.mul(c); W.add(c); c.set(B);
    at(2); c.get(B); W.store(c);
    flag(4); c.if_();
    c.get(D).get(B); k(1); W.mul(c); W.add(c); c.set(D);
    c.op(Op.else);
    c.get(B).set(D);
    c.end();
    c.end();
    at(0); at(0); W.load(c); c.get(D); k(3); W.mul(c); W.add(c); W.store(c); // p = p + lr·d
  });
}

/** Adam's update (adam.ts's loop). Arrays: p 0, g 1, m 2, v 3; scalars: keep 0, l2 1, b1 2, a1 3, b2 4, a2 5, sqrtbc2 6, eps 7, step 8. */
function adamStep(): FuncDef {
  return updateFunc("adamstep", 4, 9, (c, W, at, k, flag, tmp) => {
    const P = tmp(W), G = tmp(W), M = tmp(W), V = tmp(W);
    at(0); W.load(c); c.set(P);
    at(1); W.load(c); c.set(G);
    flag(2); c.if_(); // Adam: g = g + l2·p
    c.get(G).get(P); k(1); W.mul(c); W.add(c); c.set(G);
    c.end();
    flag(1); c.if_(); // AdamW: p = p·keep
    c.get(P); k(0); W.mul(c); c.set(P);
    c.end();
    at(2); W.load(c); k(2); W.mul(c); c.get(G); k(3); W.mul(c); W.add(c); c.set(M); // m·b1 + g·a1
    at(3); W.load(c); k(4); W.mul(c); c.get(G).get(G); W.mul(c); k(5); W.mul(c); W.add(c); c.set(V); // v·b2 + (g·g)·a2
    at(2); c.get(M); W.store(c);
    at(3); c.get(V); W.store(c);
    // p + (m / (√v / sqrtbc2 + eps))·step
    at(0); c.get(P).get(M).get(V); W.sqrt(c); k(6); W.div(c); k(7); W.add(c); W.div(c); k(8); W.mul(c); W.add(c); W.store(c);
  });
}

export function optimFuncs(): FuncDef[] {
  return [sgdStep(), adamStep()];
}
