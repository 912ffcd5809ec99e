// A tiny WebAssembly binary writer: just enough to emit the
// SIMD module (module.ts) at run time (no build step, no committed binary,
// works in browsers and Node alike).

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;

/** Opcodes used by the generator (single-byte core opcodes). */
export const Op = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, br_if: 0x0d, ret: 0x0f,
  call: 0x10, drop: 0x1a, select: 0x1b,
  local_get: 0x20, local_set: 0x21, local_tee: 0x22,
  i32_load: 0x28, f32_load: 0x2a, i32_store: 0x36, f32_store: 0x38,
  i32_const: 0x41, f32_const: 0x43,
  i32_eqz: 0x45, i32_eq: 0x46, i32_ne: 0x47, i32_lt_s: 0x48, i32_gt_s: 0x4a, i32_le_s: 0x4c, i32_ge_s: 0x4e,
  i32_add: 0x6a, i32_sub: 0x6b, i32_mul: 0x6c, i32_and: 0x71, i32_shl: 0x74, i32_shr_s: 0x75,
  f32_add: 0x92, f32_mul: 0x94,
} as const;

/** SIMD (0xfd-prefixed) opcodes. */
export const Simd = {
  v128_load: 0x00, v128_load32_splat: 0x09, v128_store: 0x0b, v128_const: 0x0c,
  f32x4_splat: 0x13, f32x4_extract_lane: 0x1f,
  i8x16_shuffle: 0x0d, i32x4_splat: 0x11,
  f32x4_ne: 0x42, f32x4_gt: 0x44,
  v128_or: 0x50, v128_bitselect: 0x52,
  i32x4_add: 0xae,
  f32x4_add: 0xe4, f32x4_sub: 0xe5, f32x4_mul: 0xe6,
  f32x4_relaxed_madd: 0x105,
} as const;

export const BLOCK_VOID = 0x40;

function uleb(out: number[], v: number): void {
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

function sleb(out: number[], v: number): void {
  v |= 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** Emits one function body. */
export class Code {
  readonly b: number[] = [];
  op(...ops: number[]): this {
    for (const o of ops) this.b.push(o);
    return this;
  }
  get(i: number): this { this.b.push(Op.local_get); uleb(this.b, i); return this; }
  set(i: number): this { this.b.push(Op.local_set); uleb(this.b, i); return this; }
  tee(i: number): this { this.b.push(Op.local_tee); uleb(this.b, i); return this; }
  i32(v: number): this { this.b.push(Op.i32_const); sleb(this.b, v); return this; }
  call(f: number): this { this.b.push(Op.call); uleb(this.b, f); return this; }
  br(depth: number): this { this.b.push(Op.br); uleb(this.b, depth); return this; }
  brIf(depth: number): this { this.b.push(Op.br_if); uleb(this.b, depth); return this; }
  block(): this { this.b.push(Op.block, BLOCK_VOID); return this; }
  loop(): this { this.b.push(Op.loop, BLOCK_VOID); return this; }
  if_(): this { this.b.push(Op.if, BLOCK_VOID); return this; }
  end(): this { this.b.push(Op.end); return this; }
  simd(op: number): this { this.b.push(0xfd); uleb(this.b, op); return this; }
  /** SIMD memory op with memarg (align log2, offset). */
  simdMem(op: number, align: number, offset: number): this {
    this.simd(op);
    uleb(this.b, align);
    uleb(this.b, offset);
    return this;
  }
  /** i8x16.shuffle with 16 lane indices */
  shuffle(lanes: number[]): this {
    this.simd(Simd.i8x16_shuffle);
    for (const l of lanes) this.b.push(l);
    return this;
  }
  /** v128.const from four i32 lanes */
  v128I32(v: [number, number, number, number]): this {
    this.simd(Simd.v128_const);
    for (const x of v) this.b.push(x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, (x >>> 24) & 0xff);
    return this;
  }
  /** f32x4.extract_lane */
  lane(i: number): this {
    this.simd(Simd.f32x4_extract_lane);
    this.b.push(i);
    return this;
  }
  v128Zero(): this {
    this.simd(Simd.v128_const);
    for (let i = 0; i < 16; i++) this.b.push(0);
    return this;
  }
  mem(op: number, align: number, offset: number): this {
    this.b.push(op);
    uleb(this.b, align);
    uleb(this.b, offset);
    return this;
  }
}

export interface FuncDef {
  name?: string; // exported under this name when set
  params: number[];
  results: number[];
  locals: number[]; // types of extra locals, in order
  body: Code;
}

function section(out: number[], id: number, content: number[]): void {
  out.push(id);
  uleb(out, content.length);
  for (const x of content) out.push(x);
}

function str(out: number[], s: string): void {
  uleb(out, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
}

/**
 * Builds a module importing `env.memory` and defining the given functions. With `sharedMax`
 * (pages), the import is a shared memory of at most that size (for worker threads).
 */
export function buildModule(funcs: FuncDef[], sharedMax?: number): Uint8Array<ArrayBuffer> {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  // type section: one type per function (simple; duplicates are legal)
  const types: number[] = [];
  uleb(types, funcs.length);
  for (const f of funcs) {
    types.push(0x60);
    uleb(types, f.params.length);
    types.push(...f.params);
    uleb(types, f.results.length);
    types.push(...f.results);
  }
  section(out, 1, types);
  // import section: env.memory, min 1 page, no maximum (or shared, with a maximum)
  const imports: number[] = [];
  uleb(imports, 1);
  str(imports, "env");
  str(imports, "memory");
  if (sharedMax === undefined) {
    imports.push(0x02, 0x00);
    uleb(imports, 1);
  } else {
    imports.push(0x02, 0x03);
    uleb(imports, 1);
    uleb(imports, sharedMax);
  }
  section(out, 2, imports);
  // function section
  const fsec: number[] = [];
  uleb(fsec, funcs.length);
  funcs.forEach((_, i) => uleb(fsec, i));
  section(out, 3, fsec);
  // export section
  const exported = funcs.map((f, i) => [f, i] as const).filter(([f]) => f.name);
  const exps: number[] = [];
  uleb(exps, exported.length);
  for (const [f, i] of exported) {
    str(exps, f.name!);
    exps.push(0x00);
    uleb(exps, i);
  }
  section(out, 7, exps);
  // code section
  const code: number[] = [];
  uleb(code, funcs.length);
  for (const f of funcs) {
    const body: number[] = [];
    // locals, run-length grouped
    const groups: [number, number][] = [];
    for (const t of f.locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(body, groups.length);
    for (const [n, t] of groups) {
      uleb(body, n);
      body.push(t);
    }
    for (const x of f.body.b) body.push(x);
    body.push(Op.end);
    uleb(code, body.length);
    for (const x of body) code.push(x);
  }
  section(out, 10, code);
  return new Uint8Array(out);
}
