/// <reference types="@webgpu/types" />
/**
 * One register-tiled GEMM template for matmul and the three convolution GEMMs
 * (implicit GEMM: the im2col addresses are computed in `loadA`/`loadB`, so no
 * column buffer is materialized).
 *
 * C[b, m, n] = sum_k loadA(b, m, k) * loadB(b, k, n), written by store(b, m, n, v).
 * A workgroup of 16x16 threads computes a BM x BN tile, each thread TM x TN outputs
 * (rows ty + i*TY, columns tx + j*TX so that loads and stores are coalesced);
 * tiles of A and B go through workgroup memory, A stored transposed (the H100
 * layout measured in shared/notes/engine.md). When the output has few tiles and K is
 * long (weight gradients), K is split across workgroups and a second pass sums the
 * partial products.
 */
import type { TensorData } from "../../op-table.js";
import type { GpuTensors, Operand } from "./tensors.js";
import { binding, u } from "./wgsl.js";

export interface GemmSpec {
  op: string;
  M: number;
  N: number;
  K: number;
  batch: number;
  /** The tensors the helpers read (get_NAME(i)) and write (set_NAME(i, v)); runGemm binds them. */
  operands: Operand[];
  /**
   * Makes the WGSL of fn loadA(b: u32, m: u32, k: u32) -> f32, fn loadB(b: u32, k: u32, n: u32) -> f32
   * and fn store(b: u32, m: u32, n: u32, v: f32) (called only when a pipeline is compiled).
   */
  helpers: () => string;
  /**
   * Optional: makes the WGSL of fn loadA4(b, m, k) -> vec4f (the 4 elements of A from (m, k) on along
   * A's contiguous index) and fn loadB4(b, k, n) -> vec4f, for tiles with `vec4`, reading `views`
   * (tensors bound a second time as array<vec4f>, used only when each is one buffer); the caller
   * guarantees 16-byte alignment whenever the contiguous sizes are multiples of 4.
   */
  vec4?: { views: { name: string; t: TensorData }[]; helpers: () => string };
  /** The index that is contiguous in memory for A (m or k) and for B (k or n): decides the tile-load order. */
  aMajor: "m" | "k";
  bMajor: "k" | "n";
}

/**
 * A tiling of the output (BM x BN per workgroup of (BN/TN) x (BM/TM) threads, TM x TN per thread,
 * K in steps of BK) and two variants: `prefetch` loads the next K-step's tile into registers while
 * the current one is multiplied; `vec4` reads operands 4 at a time along their contiguous index
 * (only where the spec provides vec4 loads and the sizes are multiples of 4).
 */
export interface Tile {
  BM: number;
  BN: number;
  TM: number;
  TN: number;
  BK: number;
  prefetch?: boolean;
  vec4?: boolean;
}

// the default for large products: the fastest of `npm run bench -- --gpu-sweep` on an H200 (BENCHMARKS.md, 2026-12-04: 29.6 vs 24.9 TFLOP/s at 4096, 27.5 vs 23.2 at 2048)
const BIG: Tile = { BM: 128, BN: 128, TM: 8, TN: 8, BK: 8, vec4: true, prefetch: true };
const MID: Tile = { BM: 64, BN: 64, TM: 4, TN: 4, BK: 16 };
const NARROW: Tile = { BM: 256, BN: 16, TM: 16, TN: 1, BK: 8 };
const WIDE: Tile = { BM: 16, BN: 256, TM: 1, TN: 16, BK: 8 };

/** A tile forced for large products (the GPU benchmark's sweep of variants); null: the defaults. */
let forcedTile: Tile | null = null;
export function setGemmTile(t: Tile | null): void {
  if (t) {
    const threads = (t.BN / t.TN) * (t.BM / t.TM);
    if (!Number.isInteger(t.BN / t.TN) || !Number.isInteger(t.BM / t.TM) || threads > 256 || (t.vec4 && t.BK % 4 !== 0)) {
      throw new Error(`setGemmTile: ${JSON.stringify(t)} is not a valid tiling (BM/TM and BN/TN whole, at most 256 threads, BK a multiple of 4 with vec4)`);
    }
  }
  forcedTile = t;
}

function pickTile(M: number, N: number): Tile {
  if (forcedTile && M >= 512 && N >= 512) return forcedTile;
  if (N <= 16 && M >= 512) return NARROW;
  if (M <= 16 && N >= 512) return WIDE;
  if (M >= 512 && N >= 512) return BIG;
  return MID;
}

/** The operands bound for one GEMM: declarations (with the vec4 views when `vec`), buffers and access modes. */
interface GemmBound {
  readonly decl: string;
  buffers: GPUBuffer[];
  access: boolean[];
  vec: boolean;
}

/**
 * The code that moves one K-step's tile of A or B from global memory into workgroup memory
 * (A tile: BK x BM stored As[k * BM + m]; B tile: BK x BN stored Bs[k * BN + n]), as two parts:
 * `load` reads this thread's elements into registers r<which><l> (global index k0 + ...), `store`
 * writes them to workgroup memory. Threads take consecutive elements along the operand's
 * contiguous index (coalesced reads), 4 at a time with vec4.
 */
function tileLoad(which: "A" | "B", t: Tile, major: "m" | "k" | "n", vec: boolean): { decl: string; load: string; store: string } {
  const rows = which === "A" ? t.BM : t.BN;
  const V = vec ? 4 : 1;
  const total = (rows * t.BK) / V;
  const loads = Math.ceil(total / 256);
  const contiguousIsK = major === "k";
  const S = which === "A" ? "As" : "Bs";
  const decl: string[] = [], load: string[] = [], store: string[] = [];
  for (let l = 0; l < loads; l++) {
    const guard = (l + 1) * 256 > total;
    const r = `r${which}${l}`;
    decl.push(`  var ${r}: ${vec ? "vec4f" : "f32"};`);
    const index = [`let e = tid + ${u(l * 256)};`];
    if (contiguousIsK) index.push(`let kk = (e % ${u(t.BK / V)}) * ${u(V)};`, `let rr = e / ${u(t.BK / V)};`);
    else index.push(`let rr = (e % ${u(rows / V)}) * ${u(V)};`, `let kk = e / ${u(rows / V)};`);
    const g = which === "A" ? `let g = m0 + rr;` : `let g = n0 + rr;`;
    const lim = which === "A" ? "M" : "N";
    const fn = (which === "A" ? "loadA" : "loadB") + (vec ? "4" : "");
    const args = which === "A" ? "bz, g, gk" : "bz, gk, g";
    load.push(`    {`, `      ${index.join(" ")}`);
    if (guard) load.push(`      if (e < ${u(total)}) {`);
    load.push(`      ${g} let gk = k0 + kk;`, `      ${r} = ${vec ? "vec4f(0.0)" : "0.0"};`, `      if (g < ${lim} && gk < kEnd) { ${r} = ${fn}(${args}); }`);
    if (guard) load.push(`      }`);
    load.push(`    }`);
    store.push(`    {`, `      ${index.join(" ")}`);
    if (guard) store.push(`      if (e < ${u(total)}) {`);
    if (!vec) store.push(`      ${S}[kk * ${u(rows)} + rr] = ${r};`);
    else if (contiguousIsK) for (let q = 0; q < 4; q++) store.push(`      ${S}[(kk + ${u(q)}) * ${u(rows)} + rr] = ${r}[${q}];`);
    else store.push(`      let o = kk * ${u(rows)} + rr;`, ...[0, 1, 2, 3].map((q) => `      ${S}[o + ${u(q)}] = ${r}[${q}];`));
    if (guard) store.push(`      }`);
    store.push(`    }`);
  }
  return { decl: decl.join("\n"), load: load.join("\n"), store: store.join("\n") };
}

/** Whether `spec` can use vec4 loads with tile `t`: it has them and the contiguous sizes are multiples of 4. */
function vec4Usable(spec: GemmSpec, t: Tile): boolean {
  if (!t.vec4 || !spec.vec4) return false;
  const { M, N, K } = spec;
  const a = spec.aMajor === "k" ? K % 4 === 0 : M % 4 === 0 && t.BM % 4 === 0;
  const b = spec.bMajor === "k" ? K % 4 === 0 : N % 4 === 0 && t.BN % 4 === 0;
  return a && b && t.BK % 4 === 0;
}

function gemmShader(spec: GemmSpec, t: Tile, splits: number, kChunk: number, g: GemmBound): string {
  const TX = t.BN / t.TN, TY = t.BM / t.TM;
  const { M, N, K } = spec;
  const vec = g.vec;
  const A = tileLoad("A", t, spec.aMajor, vec), B = tileLoad("B", t, spec.bMajor, vec);
  const accDecl: string[] = [];
  for (let i = 0; i < t.TM; i++) for (let j = 0; j < t.TN; j++) accDecl.push(`  var c${i}_${j} = 0.0;`);
  const inner: string[] = [];
  for (let i = 0; i < t.TM; i++) inner.push(`      let a${i} = As[kk * ${u(t.BM)} + ty + ${u(i * TY)}];`);
  for (let j = 0; j < t.TN; j++) inner.push(`      let b${j} = Bs[kk * ${u(t.BN)} + tx + ${u(j * TX)}];`);
  for (let i = 0; i < t.TM; i++) for (let j = 0; j < t.TN; j++) inner.push(`      c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
  const stores: string[] = [];
  for (let i = 0; i < t.TM; i++) {
    stores.push(`  { let gm = m0 + ty + ${u(i * TY)};`, `    if (gm < M) {`);
    for (let j = 0; j < t.TN; j++) {
      const target = splits > 1
        ? `partial[((sp * ${u(spec.batch)} + bz) * M + gm) * N + gn] = c${i}_${j};`
        : `store(bz, gm, gn, c${i}_${j});`;
      stores.push(`      { let gn = n0 + tx + ${u(j * TX)}; if (gn < N) { ${target} } }`);
    }
    stores.push(`    }`, `  }`);
  }
  const compute = `    for (var kk = 0u; kk < ${u(t.BK)}; kk = kk + 1u) {
${inner.join("\n")}
    }`;
  // prefetch: the next K-step's global reads are issued before this step's products
  const loop = t.prefetch
    ? `  var k0 = kBegin;
${A.load}
${B.load}
  for (; k0 < kEnd; k0 = k0 + ${u(t.BK)}) {
${A.store}
${B.store}
    workgroupBarrier();
    if (k0 + ${u(t.BK)} < kEnd) {
      k0 = k0 + ${u(t.BK)};
${A.load}
${B.load}
      k0 = k0 - ${u(t.BK)};
    }
${compute}
    workgroupBarrier();
  }`
    : `  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + ${u(t.BK)}) {
${A.load}
${B.load}
${A.store}
${B.store}
    workgroupBarrier();
${compute}
    workgroupBarrier();
  }`;
  const partialDecl = splits > 1 ? binding(g.buffers.length, "partial", "f32", true) : "";
  return `${g.decl}${partialDecl}
const M = ${u(M)};
const N = ${u(N)};
const K = ${u(K)};
var<workgroup> As: array<f32, ${t.BK * t.BM}>;
var<workgroup> Bs: array<f32, ${t.BK * t.BN}>;
${spec.helpers()}
${vec ? spec.vec4!.helpers() : ""}
@compute @workgroup_size(${TX}, ${TY})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * ${u(TX)} + tx;
  let bz = wid.z / ${u(splits)};
  let sp = wid.z % ${u(splits)};
  let m0 = wid.y * ${u(t.BM)};
  let n0 = wid.x * ${u(t.BN)};
  let kBegin = sp * ${u(kChunk)};
  let kEnd = min(K, kBegin + ${u(kChunk)});
${accDecl.join("\n")}
${A.decl}
${B.decl}
${loop}
${stores.join("\n")}
}
`;
}

/**
 * One thread per output (b, m, n) of the spec: `sum` computes `s` (declared before it), which
 * `store` writes; `extraDecl` declares any further binding.
 */
function perOutputShader(spec: GemmSpec, decl: string, sum: string): string {
  const total = spec.batch * spec.M * spec.N;
  return `${decl}
const M = ${u(spec.M)};
const N = ${u(spec.N)};
${spec.helpers()}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = gid.x + gid.y * nwg.x * 256u;
  if (idx >= ${u(total)}) { return; }
  let n = idx % N;
  let m = (idx / N) % M;
  let bz = idx / (M * N);
  var s = 0.0;
  ${sum}
  store(bz, m, n, s);
}
`;
}

/** The second pass of split-K: sums the `splits` partial products of each output. */
function splitReduceShader(spec: GemmSpec, splits: number, g: GemmBound): string {
  const total = spec.batch * spec.M * spec.N;
  return perOutputShader(
    spec,
    g.decl + binding(g.buffers.length, "partial", "f32"),
    `for (var p = 0u; p < ${u(splits)}; p = p + 1u) { s = s + partial[p * ${u(total)} + idx]; }`,
  );
}

/** One thread per output, looping over K: for small products (quick to compile, e.g. on lavapipe). */
function simpleShader(spec: GemmSpec, g: GemmBound): string {
  return perOutputShader(spec, g.decl, `for (var k = 0u; k < ${u(spec.K)}; k = k + 1u) { s = fma(loadA(bz, m, k), loadB(bz, k, n), s); }`);
}

/** Products up to this many multiply-adds use the simple kernel. */
const SIMPLE_MAX_FLOPS = 1 << 22;

let tiling: "auto" | "always" | "never" = "auto";
/**
 * "auto": tiled kernels for large products, except on a software adapter (lavapipe), where
 * the simple kernel is about as fast and its pipelines compile far quicker; "always" /
 * "never" force one (tests of the tiled paths on lavapipe).
 */
export function setGemmTiling(mode: "auto" | "always" | "never"): void {
  tiling = mode;
}

/** The tiling mode and forced tile (part of the key under which GEMM pipelines are cached). */
export function gemmTiling(): string {
  return forcedTile ? `${tiling}:${JSON.stringify(forcedTile)}` : tiling;
}

/**
 * Records the GEMM (and its split-K reduction, where one more binding fits). Its operands must
 * fit one shader's bindings (k.fits(spec.operands)): callers split larger products into pieces.
 */
export function runGemm(k: GpuTensors, spec: GemmSpec): void {
  const { ctx } = k;
  const { M, N, K, batch } = spec;
  if (M === 0 || N === 0 || batch === 0) return;
  const bound = k.bind(spec.op, spec.operands);
  const plain: GemmBound = { get decl() { return bound.decl; }, buffers: bound.buffers, access: bound.access, vec: false };
  const simple = tiling === "never" || (tiling === "auto" && (M * N * K * batch <= SIMPLE_MAX_FLOPS || ctx.software));
  if (simple) {
    ctx.dispatch(spec.op, () => simpleShader(spec, plain), bound.buffers, ctx.grid(batch * M * N), bound.access);
    return;
  }
  const t = pickTile(M, N);
  const smem = (t.BM + t.BN) * t.BK * 4;
  if (smem > ctx.limits.maxComputeWorkgroupStorageSize) {
    throw new Error(`${spec.op}: GEMM tile ${JSON.stringify(t)} needs ${smem} bytes of workgroup memory; this GPU has ${ctx.limits.maxComputeWorkgroupStorageSize}`);
  }
  const tilesM = Math.ceil(M / t.BM), tilesN = Math.ceil(N / t.BN);
  const tiles = tilesM * tilesN * batch;
  let splits = 1;
  // split-K's partial sums must fit one part and one more binding
  if (tiles < 128 && K >= 1024 && k.fits(spec.operands, 1)) {
    splits = Math.max(1, Math.min(Math.ceil(256 / tiles), Math.floor(K / 512), 64, Math.floor(ctx.partElems / (batch * M * N))));
  }
  let kChunk = Math.max(t.BK, Math.ceil(Math.ceil(K / splits) / t.BK) * t.BK);
  splits = Math.max(1, Math.ceil(K / kChunk));
  if (K === 0) kChunk = t.BK;
  if (tilesM > ctx.limits.maxComputeWorkgroupsPerDimension || tilesN > ctx.limits.maxComputeWorkgroupsPerDimension || batch * splits > ctx.limits.maxComputeWorkgroupsPerDimension) {
    throw new Error(`${spec.op}: a ${M}x${N} (x${batch}) product is too large for one GPU dispatch`);
  }
  // vec4 views: each viewed tensor one buffer, two more bindings (and the partial sums)
  const views = spec.vec4?.views ?? [];
  const vec = vec4Usable(spec, t) && views.every((v) => k.storage(v.t, spec.op).parts.length === 1) && k.fits(spec.operands, views.length + (splits > 1 ? 1 : 0));
  const g: GemmBound = vec
    ? {
        get decl() {
          return bound.decl + views.map((v, i) => binding(bound.buffers.length + i, v.name, "vec4f")).join("");
        },
        buffers: [...bound.buffers, ...views.map((v) => k.storage(v.t, spec.op).parts[0].buffer)],
        access: [...bound.access, ...views.map(() => false)],
        vec,
      }
    : plain;
  if (splits === 1) {
    ctx.dispatch(spec.op, () => gemmShader(spec, t, 1, kChunk, g), g.buffers, [tilesN, tilesM, batch], g.access);
    return;
  }
  const partial = ctx.acquire(splits * batch * M * N * 4);
  try {
    ctx.dispatch(spec.op, () => gemmShader(spec, t, splits, kChunk, g), [...g.buffers, partial.buffer], [tilesN, tilesM, batch * splits], [...g.access, true]);
    ctx.dispatch(spec.op, () => splitReduceShader(spec, splits, plain), [...bound.buffers, partial.buffer], ctx.grid(batch * M * N), [...bound.access, false]);
  } finally {
    ctx.releaseTemp(partial);
  }
}
