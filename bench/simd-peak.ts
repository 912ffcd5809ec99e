/**
 * The SIMD128 peak of this machine, measured: a WebAssembly loop of independent f32x4
 * multiply-adds on registers only (12 accumulators, no memory traffic), relaxed-SIMD FMA when
 * the engine has it (as the CPU kernels use), else a multiply and an add. What the GEMM's
 * GFLOP/s are a fraction of.
 */
import { buildModule, Code, I32, Simd, V128 } from "../engine/backends/cpu/wasm/writer.ts";
import { Op } from "../engine/backends/cpu/wasm/writer.ts";
import { nativeLibrary } from "../engine/backends/cpu/native/loader.ts";

const ACC = 12;

function peakModule(fma: boolean): Uint8Array<ArrayBuffer> {
  const N = 0, A = 1, B = 2; // param n (iterations); locals a, b, accumulators
  const acc = (i: number) => 3 + i;
  const c = new Code();
  c.v128Zero().set(A).v128Zero().set(B);
  for (let i = 0; i < ACC; i++) c.v128Zero().set(acc(i));
  c.block().loop();
  for (let i = 0; i < ACC; i++) {
    if (fma) c.get(A).get(B).get(acc(i)).simd(Simd.f32x4_relaxed_madd).set(acc(i));
    else c.get(acc(i)).get(A).get(B).simd(Simd.f32x4_mul).simd(Simd.f32x4_add).set(acc(i));
  }
  c.get(N).i32(1).op(Op.i32_sub).tee(N).op(Op.i32_eqz).brIf(1);
  c.br(0);
  c.end().end();
  // keep the sums alive
  c.get(acc(0));
  for (let i = 1; i < ACC; i++) c.get(acc(i)).simd(Simd.f32x4_add);
  c.lane(0);
  return buildModule([{ name: "run", params: [I32], results: [0x7d], locals: [V128, V128, ...Array(ACC).fill(V128)], body: c }]);
}

/** The least CPU seconds (user + system) of 7 calls of `fn`, after one call to warm it up. */
function bestCpuSeconds(fn: () => void): number {
  fn();
  let best = Infinity;
  for (let r = 0; r < 7; r++) {
    const u0 = process.cpuUsage();
    fn();
    const u = process.cpuUsage(u0);
    best = Math.min(best, (u.user + u.system) / 1e6);
  }
  return best;
}

/** Single-thread SIMD128 peak in GFLOP/s (best of a few runs of ~50 ms), and whether it used FMA. */
export function simd128Peak(): { gflops: number; fma: boolean } {
  let bytes = peakModule(true), fma = true;
  if (!WebAssembly.validate(bytes)) [bytes, fma] = [peakModule(false), false];
  const run = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: new WebAssembly.Memory({ initial: 1 }) } }).exports.run as (n: number) => number;
  const iters = 2_000_000;
  const best = bestCpuSeconds(() => run(iters));
  return { gflops: (iters * ACC * 8) / best / 1e9, fma };
}

/**
 * The native kernels' peak (engine/backends/cpu/native/, Node where built): 12 independent
 * chains of fused multiply-adds of the widest vectors the library uses here (AVX-512: 16 floats,
 * AVX2: 8) on registers, one thread, CPU time. Null where the native path is off.
 */
export function nativePeak(): { gflops: number; isa: string } | null {
  const lib = nativeLibrary();
  if (!lib) return null;
  const iters = 2_000_000;
  let flops = 0;
  const best = bestCpuSeconds(() => void (flops = lib.peak(iters)));
  return { gflops: flops / best / 1e9, isa: lib.isa };
}

/** The bench's words for wasmInfo().native: which exports run natively, on what, or why none do. */
export function nativeLine(n: { on: boolean; isa: string | null; names: string[]; why: string }): string {
  return n.on ? `native kernels for ${n.names.join(", ")} (${n.isa}, dist/gb-native.node)` : `no native kernels (${n.why})`;
}
