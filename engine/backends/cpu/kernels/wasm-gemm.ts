// Generates the WebAssembly SIMD (f32x4) GEMM micro-kernel module.
//
// Layout contract (all byte addresses in the module's linear memory):
//  - packed A: row panels of MR rows, each `kc` steps of MR floats
//    (panel p holds rows p*MR.., zero-padded past M);
//  - packed B: column panels of NR columns, each `kc` steps of NR floats
//    (zero-padded past N);
//  - C: a row-major buffer with `ldc` bytes per row (>= NR * panels * 4).
//  `kc` must be a multiple of UNROLL (the packers zero-pad K).
//
// Exports:
//  block(mc, np, kc, a, b, c, ldc, accum): for each of the `np` B panels and
//    each MR-row panel of the `mc` rows of packed A, C_tile (+)= A_panel * B_panel
//    (accum != 0: add to what is in C, else overwrite).

import { buildModule, Code, I32, V128, Simd, Op, type FuncDef } from "./wasm-writer.ts";

export interface GemmKernelConfig {
  MR: number; // rows per micro tile
  NV: number; // f32x4 vectors per row of a micro tile (NR = 4*NV)
  UNROLL: number; // k-loop unroll factor
  fma: boolean; // use f32x4.relaxed_madd
}

export const DEFAULT_CONFIG: GemmKernelConfig = { MR: 4, NV: 2, UNROLL: 4, fma: false };

function kernel(mr: number, cfg: GemmKernelConfig): FuncDef {
  const { MR, NV, UNROLL } = cfg;
  const NR = NV * 4;
  const KC = 0, A = 1, B = 2, C = 3, LDC = 4, ACCUM = 5, CROW = 6;
  const acc = (r: number, v: number) => 7 + r * NV + v;
  const bv = (v: number) => 7 + mr * NV + v;
  const av = 7 + mr * NV + NV;
  const locals = [I32];
  for (let i = 0; i < mr * NV + NV + 1; i++) locals.push(V128);
  const c = new Code();
  // init accumulators
  c.get(ACCUM).if_();
  c.get(C).set(CROW);
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < NV; v++) c.get(CROW).simdMem(Simd.v128_load, 2, 16 * v).set(acc(r, v));
    if (r + 1 < mr) c.get(CROW).get(LDC).op(Op.i32_add).set(CROW);
  }
  c.op(Op.else);
  for (let r = 0; r < mr; r++) for (let v = 0; v < NV; v++) c.v128Zero().set(acc(r, v));
  c.end();
  // main loop (kc > 0, multiple of UNROLL)
  c.block();
  c.get(KC).op(Op.i32_eqz).brIf(0);
  c.loop();
  for (let u = 0; u < UNROLL; u++) {
    for (let v = 0; v < NV; v++) c.get(B).simdMem(Simd.v128_load, 2, (u * NR + 4 * v) * 4).set(bv(v));
    for (let r = 0; r < mr; r++) {
      c.get(A).simdMem(Simd.v128_load32_splat, 2, (u * MR + r) * 4).set(av);
      for (let v = 0; v < NV; v++) {
        if (cfg.fma) {
          // relaxed_madd(a, b, c) = a*b + c
          c.get(av).get(bv(v)).get(acc(r, v)).simd(Simd.f32x4_relaxed_madd).set(acc(r, v));
        } else {
          c.get(acc(r, v)).get(av).get(bv(v)).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc(r, v));
        }
      }
    }
  }
  c.get(A).i32(UNROLL * MR * 4).op(Op.i32_add).set(A);
  c.get(B).i32(UNROLL * NR * 4).op(Op.i32_add).set(B);
  c.get(KC).i32(UNROLL).op(Op.i32_sub).tee(KC).brIf(0);
  c.end(); // loop
  c.end(); // block
  // store
  c.get(C).set(CROW);
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < NV; v++) c.get(CROW).get(acc(r, v)).simdMem(Simd.v128_store, 2, 16 * v);
    if (r + 1 < mr) c.get(CROW).get(LDC).op(Op.i32_add).set(CROW);
  }
  return { name: `kern${mr}`, params: [I32, I32, I32, I32, I32, I32], results: [], locals, body: c };
}

function driver(cfg: GemmKernelConfig): FuncDef {
  const { MR, NV } = cfg;
  const NR = NV * 4;
  const MC = 0, NP = 1, KC = 2, A = 3, B = 4, C = 5, LDC = 6, ACCUM = 7;
  const AP = 8, CP = 9, I = 10, ASTRIDE = 11, BSTRIDE = 12, CSTEP = 13;
  const c = new Code();
  c.get(KC).i32(MR * 4).op(Op.i32_mul).set(ASTRIDE);
  c.get(KC).i32(NR * 4).op(Op.i32_mul).set(BSTRIDE);
  c.get(LDC).i32(MR).op(Op.i32_mul).set(CSTEP);
  c.block();
  c.get(NP).i32(0).op(Op.i32_le_s).brIf(0);
  c.loop();
  c.get(A).set(AP).get(C).set(CP).get(MC).set(I);
  c.block().loop();
  c.get(I).i32(MR).op(Op.i32_lt_s).brIf(1);
  c.get(KC).get(AP).get(B).get(CP).get(LDC).get(ACCUM).call(MR - 1);
  c.get(AP).get(ASTRIDE).op(Op.i32_add).set(AP);
  c.get(CP).get(CSTEP).op(Op.i32_add).set(CP);
  c.get(I).i32(MR).op(Op.i32_sub).set(I);
  c.br(0);
  c.end().end();
  for (let r = 1; r < MR; r++) {
    c.get(I).i32(r).op(Op.i32_eq).if_();
    c.get(KC).get(AP).get(B).get(CP).get(LDC).get(ACCUM).call(r - 1);
    c.end();
  }
  c.get(B).get(BSTRIDE).op(Op.i32_add).set(B);
  c.get(C).i32(NR * 4).op(Op.i32_add).set(C);
  c.get(NP).i32(1).op(Op.i32_sub).tee(NP).brIf(0);
  c.end(); // loop
  c.end(); // block
  return {
    name: "block",
    params: [I32, I32, I32, I32, I32, I32, I32, I32],
    results: [],
    locals: [I32, I32, I32, I32, I32, I32],
    body: c,
  };
}

/** The module bytes for a configuration (function i = kern(i+1), i < MR; then block). */
export function gemmModuleBytes(cfg: GemmKernelConfig = DEFAULT_CONFIG): Uint8Array<ArrayBuffer> {
  const funcs: FuncDef[] = [];
  for (let mr = 1; mr <= cfg.MR; mr++) funcs.push(kernel(mr, cfg));
  funcs.push(driver(cfg));
  return buildModule(funcs);
}
