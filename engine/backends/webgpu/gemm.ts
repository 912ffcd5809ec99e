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
import type { GpuContext } from "./context.js";
import { u } from "./wgsl.js";

export interface GemmBinding {
  name: string;
  type: "f32" | "i32" | "u32";
  rw: boolean;
  buffer: GPUBuffer;
}

export interface GemmSpec {
  op: string;
  M: number;
  N: number;
  K: number;
  batch: number;
  bindings: GemmBinding[];
  /**
   * Makes the WGSL of fn loadA(b: u32, m: u32, k: u32) -> f32, fn loadB(b: u32, k: u32, n: u32) -> f32
   * and fn store(b: u32, m: u32, n: u32, v: f32) (called only when a pipeline is compiled).
   */
  helpers: () => string;
  /** The index that is contiguous in memory for A (m or k) and for B (k or n): decides the tile-load order. */
  aMajor: "m" | "k";
  bMajor: "k" | "n";
}

interface Tile {
  BM: number;
  BN: number;
  TM: number;
  TN: number;
  BK: number;
}

const BIG: Tile = { BM: 128, BN: 128, TM: 8, TN: 8, BK: 8 };
const MID: Tile = { BM: 64, BN: 64, TM: 4, TN: 4, BK: 16 };
const NARROW: Tile = { BM: 256, BN: 16, TM: 16, TN: 1, BK: 8 };
const WIDE: Tile = { BM: 16, BN: 256, TM: 1, TN: 16, BK: 8 };

function pickTile(M: number, N: number): Tile {
  if (N <= 16 && M >= 512) return NARROW;
  if (M <= 16 && N >= 512) return WIDE;
  if (M >= 512 && N >= 512) return BIG;
  return MID;
}

function decls(bindings: GemmBinding[], rwOverride?: (i: number) => boolean): string {
  return bindings
    .map((b, i) => `@group(0) @binding(${i}) var<storage, ${(rwOverride ? rwOverride(i) : b.rw) ? "read_write" : "read"}> ${b.name}: array<${b.type}>;\n`)
    .join("");
}

function tileLoad(which: "A" | "B", t: Tile, major: string): string {
  // A tile: BK x BM stored As[k * BM + m]; B tile: BK x BN stored Bs[k * BN + n]
  const rows = which === "A" ? t.BM : t.BN;
  const total = rows * t.BK;
  const loads = Math.ceil(total / 256);
  const lines: string[] = [];
  for (let l = 0; l < loads; l++) {
    const guard = (l + 1) * 256 > total;
    lines.push(`    {`, `      let e = tid + ${u(l * 256)};`);
    if (guard) lines.push(`      if (e < ${u(total)}) {`);
    // contiguous index varies fastest across threads
    const contiguousIsK = (which === "A" && major === "k") || (which === "B" && major === "k");
    if (contiguousIsK) lines.push(`      let kk = e % ${u(t.BK)};`, `      let rr = e / ${u(t.BK)};`);
    else lines.push(`      let rr = e % ${u(rows)};`, `      let kk = e / ${u(rows)};`);
    if (which === "A") {
      lines.push(`      let gm = m0 + rr;`, `      let gk = k0 + kk;`, `      var v = 0.0;`, `      if (gm < M && gk < kEnd) { v = loadA(bz, gm, gk); }`, `      As[kk * ${u(t.BM)} + rr] = v;`);
    } else {
      lines.push(`      let gn = n0 + rr;`, `      let gk = k0 + kk;`, `      var v = 0.0;`, `      if (gn < N && gk < kEnd) { v = loadB(bz, gk, gn); }`, `      Bs[kk * ${u(t.BN)} + rr] = v;`);
    }
    if (guard) lines.push(`      }`);
    lines.push(`    }`);
  }
  return lines.join("\n");
}

function gemmShader(spec: GemmSpec, t: Tile, splits: number, kChunk: number): string {
  const TX = t.BN / t.TN, TY = t.BM / t.TM;
  const { M, N, K } = spec;
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
  const partialDecl = splits > 1 ? `@group(0) @binding(${spec.bindings.length}) var<storage, read_write> partial: array<f32>;\n` : "";
  return `${decls(spec.bindings)}${partialDecl}
const M = ${u(M)};
const N = ${u(N)};
const K = ${u(K)};
var<workgroup> As: array<f32, ${t.BK * t.BM}>;
var<workgroup> Bs: array<f32, ${t.BK * t.BN}>;
${spec.helpers()}
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
  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + ${u(t.BK)}) {
${tileLoad("A", t, spec.aMajor)}
${tileLoad("B", t, spec.bMajor)}
    workgroupBarrier();
    for (var kk = 0u; kk < ${u(t.BK)}; kk = kk + 1u) {
${inner.join("\n")}
    }
    workgroupBarrier();
  }
${stores.join("\n")}
}
`;
}

function splitReduceShader(spec: GemmSpec, splits: number): string {
  const total = spec.batch * spec.M * spec.N;
  return `${decls(spec.bindings)}@group(0) @binding(${spec.bindings.length}) var<storage, read> partial: array<f32>;
const M = ${u(spec.M)};
const N = ${u(spec.N)};
${spec.helpers()}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = gid.x + gid.y * nwg.x * 256u;
  if (idx >= ${u(total)}) { return; }
  var s = 0.0;
  for (var p = 0u; p < ${u(splits)}; p = p + 1u) { s = s + partial[p * ${u(total)} + idx]; }
  let n = idx % N;
  let m = (idx / N) % M;
  let bz = idx / (M * N);
  store(bz, m, n, s);
}
`;
}

/** One thread per output, looping over K: for small products (quick to compile, e.g. on lavapipe). */
function simpleShader(spec: GemmSpec): string {
  const total = spec.batch * spec.M * spec.N;
  return `${decls(spec.bindings)}
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
  for (var k = 0u; k < ${u(spec.K)}; k = k + 1u) { s = fma(loadA(bz, m, k), loadB(bz, k, n), s); }
  store(bz, m, n, s);
}
`;
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

/** The tiling mode (part of the key under which GEMM pipelines are cached). */
export function gemmTiling(): "auto" | "always" | "never" {
  return tiling;
}

/** Records the GEMM (and its split-K reduction) on `ctx`. */
export function runGemm(ctx: GpuContext, spec: GemmSpec): void {
  const { M, N, K, batch } = spec;
  if (M === 0 || N === 0 || batch === 0) return;
  const simple = tiling === "never" || (tiling === "auto" && (M * N * K * batch <= SIMPLE_MAX_FLOPS || ctx.software));
  if (simple) {
    ctx.dispatch(spec.op, () => simpleShader(spec), spec.bindings.map((b) => b.buffer), ctx.grid(batch * M * N), spec.bindings.map((b) => b.rw));
    return;
  }
  const t = pickTile(M, N);
  const tilesM = Math.ceil(M / t.BM), tilesN = Math.ceil(N / t.BN);
  const tiles = tilesM * tilesN * batch;
  let splits = 1;
  if (tiles < 128 && K >= 1024) splits = Math.max(1, Math.min(Math.ceil(256 / tiles), Math.floor(K / 512), 64));
  let kChunk = Math.max(t.BK, Math.ceil(Math.ceil(K / splits) / t.BK) * t.BK);
  splits = Math.max(1, Math.ceil(K / kChunk));
  if (K === 0) kChunk = t.BK;
  if (tilesM > ctx.limits.maxComputeWorkgroupsPerDimension || tilesN > ctx.limits.maxComputeWorkgroupsPerDimension || batch * splits > ctx.limits.maxComputeWorkgroupsPerDimension) {
    throw new Error(`${spec.op}: a ${M}x${N} (x${batch}) product is too large for one GPU dispatch`);
  }
  const access = spec.bindings.map((b) => b.rw);
  const bufs = spec.bindings.map((b) => b.buffer);
  if (splits === 1) {
    ctx.dispatch(spec.op, () => gemmShader(spec, t, 1, kChunk), bufs, [tilesN, tilesM, batch], access);
    return;
  }
  const partial = ctx.acquire(splits * batch * M * N * 4);
  try {
    ctx.dispatch(spec.op, () => gemmShader(spec, t, splits, kChunk), [...bufs, partial.buffer], [tilesN, tilesM, batch * splits], [...access, true]);
    ctx.dispatch(spec.op, () => splitReduceShader(spec, splits), [...bufs, partial.buffer], ctx.grid(batch * M * N), [...access, false]);
  } finally {
    ctx.releaseTemp(partial);
  }
}
