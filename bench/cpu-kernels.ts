// Micro-benchmark of the CPU compute kernels (engine/backends/cpu/kernels)
// against PyTorch CPU, measured in the same run (each kernel next to PyTorch's: a PyTorch process
// per thread count serves the cases by name): on one thread, and on the default
// thread count (getNumThreads(): os.availableParallelism() capped at 8, or
// GB_NUM_THREADS) with PyTorch pinned to the same count.
//
//   benchCpuKernels() (npm run bench: in a process started as the kernel's, benchCpuKernelsAsKernel): GEMM GFLOP/s at 256/512/1024, conv2d forward/backward
//   and pooling for LeNet-5's shapes at batch 256, exp/tanh/sigmoid over 1M
//   floats (with the TypeScript loops for scale), and a kernels-only LeNet-5
//   step estimate; for the arithmetic kernels below 0.5x, the fraction of the
//   SIMD128 peak they reach and the one 0.5x would take.
// PyTorch is run with /usr/bin/python3 (Debian's python3-torch); if that is
// missing, only our numbers are printed.
import {
  avgPool2dBackward, avgPool2dForward, conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dOutputSize,
  wasmInfo, gemm, gemmReference, getNumThreads, initWasm, maxPool2dBackward, maxPool2dForward, setNumThreads, setWasmFma,
  type Conv2dParams,
} from "../engine/backends/cpu/kernels/index.ts";
import { unaryF32 } from "../engine/backends/cpu/kernels/elementwise.ts";
import { expf, sigmoidf, tanhf } from "../engine/backends/cpu/fastmath.ts";
// the kernel tests' input generator (as bench/grader.ts takes its submissions from tests/)
import { rand as randArray } from "../tests/engine/kernels/xorshift.ts";
import { allocResident, freeResident, isResident, residentStorage } from "../engine/backends/cpu/wasm/heap.ts";
import { nativeLine, nativePeak, simd128Peak } from "./simd-peak.ts";
import { setCpuNative } from "../engine/backends/cpu/wasm/runtime.ts";
import { machineBusy, Server } from "./serve.ts";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { KERNEL_ENV, KERNEL_NODE_FLAGS } from "../kernel/process-settings.ts";

interface Case {
  name: string;
  flops: number; // multiply-adds x 2
  run: () => void;
}

const PYTHON = "/usr/bin/python3";
const BATCH = 256;


/** CPU time of this process (ms): robust to other work on the machine, unlike wall time. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Timing { wall: number; cpu: number } // best ms per call

/** Best of `reps` samples after >= 200 ms of warm-up (JIT and WASM tier-up), repeating fast cases to ~minMs per sample. */
function time(fn: () => void, reps = 7, minMs = 30): Timing {
  const t0 = performance.now();
  let calls = 0;
  while (calls < 3 || performance.now() - t0 < 200) {
    fn();
    calls++;
  }
  const once = Math.max(0.005, (performance.now() - t0) / calls);
  const inner = Math.max(1, Math.ceil(minMs / once));
  let wall = Infinity, cpu = Infinity;
  for (let r = 0; r < reps; r++) {
    const s = performance.now(), c = cpuMs();
    for (let i = 0; i < inner; i++) fn();
    cpu = Math.min(cpu, (cpuMs() - c) / inner);
    wall = Math.min(wall, (performance.now() - s) / inner);
  }
  return { wall, cpu };
}

const CONV1 = { x: [BATCH, 1, 28, 28], w: [6, 1, 5, 5], p: { stride: [1, 1], padding: [2, 2], dilation: [1, 1], groups: 1 } as Conv2dParams };
const CONV2 = { x: [BATCH, 6, 14, 14], w: [16, 6, 5, 5], p: { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 } as Conv2dParams };
const AVG = { kernel: [2, 2] as [number, number], stride: [2, 2] as [number, number], padding: [0, 0] as [number, number], ceilMode: false, countIncludePad: true };
const POOL = { kernel: [2, 2] as [number, number], stride: [2, 2] as [number, number], padding: [0, 0] as [number, number], dilation: [1, 1] as [number, number], ceilMode: false };
const LINEARS: [number, number][] = [[400, 120], [120, 84], [84, 10]];

/**
 * Operands as the CPU backend keeps a tensor's storage by default: in the WASM memory where resident
 * storage is on (Node: engine/backends/cpu/README.md), else an ordinary array. A kernel's result is
 * given back after each call, as backward's consumed gradients and the collector's reclaim give a
 * training step's back (without it, each call's result would take a fresh block up to the limit,
 * then an ordinary array: the rows would measure a mix of both).
 */
function operand(a: Float32Array): Float32Array {
  const r = residentStorage() === "always" ? allocResident(a.length) : null;
  if (!r) return a;
  r.set(a);
  return r;
}
function giveBack(r: Float32Array): void {
  if (isResident(r)) freeResident(r);
}

/** `s` padded with spaces to `n` characters (the tables' columns). */
const pad = (s: string, n: number) => s.padEnd(n);

export function buildCases(): Case[] {
  const cases: Case[] = [];
  const rand = (n: number, seed: number) => operand(randArray(n, seed));
  for (const n of [256, 512, 1024]) {
    const A = rand(n * n, 1), B = rand(n * n, 2), C = operand(new Float32Array(n * n));
    cases.push({ name: `gemm ${n}`, flops: 2 * n * n * n, run: () => gemm(false, false, n, n, n, 1, A, 0, n, B, 0, n, 0, C, 0, n) });
  }
  for (const [label, c] of [["conv1 1->6 5x5 p2 28x28", CONV1], ["conv2 6->16 5x5 14x14", CONV2]] as [string, { x: number[]; w: number[]; p: Conv2dParams }][]) {
    const yShape = conv2dOutputSize(c.x, c.w, c.p);
    const x = rand(c.x.reduce((a, b) => a * b), 3), w = rand(c.w.reduce((a, b) => a * b), 4);
    const bias = rand(c.w[0], 5), dy = rand(yShape.reduce((a, b) => a * b), 6);
    const flops = 2 * yShape.reduce((a, b) => a * b) * c.w[1] * c.w[2] * c.w[3];
    cases.push({ name: `${label} fwd`, flops, run: () => giveBack(conv2dForward(x, c.x, w, c.w, bias, c.p)) });
    cases.push({ name: `${label} bwd-input`, flops, run: () => giveBack(conv2dBackwardInput(dy, yShape, w, c.w, c.x, c.p)) });
    cases.push({ name: `${label} bwd-weight`, flops, run: () => giveBack(conv2dBackwardWeight(x, c.x, dy, yShape, c.w, c.p)) });
  }
  const pools: [string, number[]][] = [["maxpool2 6x28x28", [BATCH, 6, 28, 28]], ["maxpool2 16x10x10", [BATCH, 16, 10, 10]]];
  for (const [label, shape] of pools) {
    const x = rand(shape.reduce((a, b) => a * b, 1), 7);
    const r = maxPool2dForward(x, [...shape], POOL);
    cases.push({ name: `${label} fwd`, flops: 0, run: () => {
        const f = maxPool2dForward(x, [...shape], POOL);
        giveBack(f.out);
        if (isResident(f.indices)) freeResident(f.indices);
      } });
    cases.push({ name: `${label} bwd`, flops: 0, run: () => giveBack(maxPool2dBackward(r.out, r.indices, r.shape, [...shape])) });
    const a = avgPool2dForward(x, [...shape], AVG);
    const avgLabel = label.replace("maxpool2", "avgpool2");
    cases.push({ name: `${avgLabel} fwd`, flops: 0, run: () => giveBack(avgPool2dForward(x, [...shape], AVG).out) });
    cases.push({ name: `${avgLabel} bwd`, flops: 0, run: () => giveBack(avgPool2dBackward(a.out, a.shape, [...shape], AVG)) });
  }
  for (const [inF, outF] of LINEARS) {
    // y = x W^T (fwd), dX = dY W, dW = dY^T X
    const x = rand(BATCH * inF, 8), W = rand(outF * inF, 9), y = operand(new Float32Array(BATCH * outF));
    const dX = operand(new Float32Array(BATCH * inF)), dW = operand(new Float32Array(outF * inF));
    const flops = 2 * BATCH * inF * outF;
    cases.push({ name: `linear ${inF}->${outF} fwd`, flops, run: () => gemm(false, true, BATCH, outF, inF, 1, x, 0, inF, W, 0, inF, 0, y, 0, outF) });
    cases.push({ name: `linear ${inF}->${outF} bwd-input`, flops, run: () => gemm(false, false, BATCH, inF, outF, 1, y, 0, outF, W, 0, inF, 0, dX, 0, inF) });
    cases.push({ name: `linear ${inF}->${outF} bwd-weight`, flops, run: () => gemm(true, false, outF, inF, BATCH, 1, y, 0, outF, x, 0, inF, 0, dW, 0, inF) });
  }
  for (const [op, x, out] of unaryCases()) cases.push({ name: `${op} 1M`, flops: 0, run: () => void unaryF32(op, x, out) });
  return cases;
}

/** Activations over 1M floats in [-8, 8): what the CPU backend runs for x.exp(), x.tanh(), x.sigmoid(). */
const UNARY_OPS: [string, (v: number) => number][] = [["exp", expf], ["tanh", tanhf], ["sigmoid", sigmoidf]];
function unaryCases(): [string, Float32Array, Float32Array, (v: number) => number][] {
  const x = operand(randArray(1 << 20, 10).map((v) => v * 8));
  return UNARY_OPS.map(([op, f]) => [op, x, operand(new Float32Array(x.length)), f]);
}

const PY_SCRIPT = String.raw`
import json, sys, time
import torch
import torch.nn.functional as F
torch.set_num_threads(int(sys.argv[2]))
B = int(sys.argv[1])
def best(fn, reps=7, min_s=0.03):
    t0 = time.perf_counter(); calls = 0
    while calls < 3 or time.perf_counter() - t0 < 0.2:
        fn(); calls += 1
    once = max(5e-6, (time.perf_counter() - t0) / calls)
    inner = max(1, int(min_s / once + 0.999))
    w = c = 1e9
    for _ in range(reps):
        s = time.perf_counter(); sc = time.process_time()
        for _ in range(inner): fn()
        c = min(c, (time.process_time() - sc) / inner)
        w = min(w, (time.perf_counter() - s) / inner)
    return {"wall": w * 1000, "cpu": c * 1000}
torch.set_grad_enabled(False)
# each case a function of its own tensors (default arguments: bound now, not at the loop's end)
cases = {}
for n in (256, 512, 1024):
    a = torch.randn(n, n); b = torch.randn(n, n); c = torch.empty(n, n)
    cases["gemm %d" % n] = lambda a=a, b=b, c=c: torch.mm(a, b, out=c)
for label, xs, ws, pad in (("conv1 1->6 5x5 p2 28x28", (B, 1, 28, 28), (6, 1, 5, 5), 2), ("conv2 6->16 5x5 14x14", (B, 6, 14, 14), (16, 6, 5, 5), 0)):
    x = torch.randn(*xs); w = torch.randn(*ws); bias = torch.randn(ws[0])
    y = F.conv2d(x, w, bias, padding=pad); dy = torch.randn_like(y)
    args = ([ws[0]], [1, 1], [pad, pad], [1, 1], False, [0, 0], 1)
    cases[label + " fwd"] = lambda x=x, w=w, bias=bias, pad=pad: F.conv2d(x, w, bias, padding=pad)
    cases[label + " bwd-input"] = lambda dy=dy, x=x, w=w, args=args: torch.ops.aten.convolution_backward(dy, x, w, *args, [True, False, False])
    cases[label + " bwd-weight"] = lambda dy=dy, x=x, w=w, args=args: torch.ops.aten.convolution_backward(dy, x, w, *args, [False, True, False])
for label, shape in (("maxpool2 6x28x28", (B, 6, 28, 28)), ("maxpool2 16x10x10", (B, 16, 10, 10))):
    x = torch.randn(*shape)
    y, idx = F.max_pool2d(x, 2, 2, return_indices=True)
    cases[label + " fwd"] = lambda x=x: F.max_pool2d(x, 2, 2, return_indices=True)
    cases[label + " bwd"] = lambda y=y, x=x, idx=idx: torch.ops.aten.max_pool2d_with_indices_backward(y, x, [2, 2], [2, 2], [0, 0], [1, 1], False, idx)
    alabel = label.replace("maxpool2", "avgpool2")
    ya = F.avg_pool2d(x, 2, 2)
    cases[alabel + " fwd"] = lambda x=x: F.avg_pool2d(x, 2, 2)
    cases[alabel + " bwd"] = lambda ya=ya, x=x: torch.ops.aten.avg_pool2d_backward(ya, x, [2, 2], [2, 2], [0, 0], False, True, None)
for (i, o) in ((400, 120), (120, 84), (84, 10)):
    x = torch.randn(B, i); W = torch.randn(o, i); y = torch.randn(B, o)
    cases["linear %d->%d fwd" % (i, o)] = lambda x=x, W=W: x @ W.t()
    cases["linear %d->%d bwd-input" % (i, o)] = lambda y=y, W=W: y @ W
    cases["linear %d->%d bwd-weight" % (i, o)] = lambda y=y, x=x: y.t() @ x
x = torch.rand(1 << 20) * 16 - 8; o = torch.empty_like(x)
cases["exp 1M"] = lambda: torch.exp(x, out=o)
cases["tanh 1M"] = lambda: torch.tanh(x, out=o)
cases["sigmoid 1M"] = lambda: torch.sigmoid(x, out=o)
# one line per request: a case's name in, its timing out (the bench interleaves these with gradbook's)
print("torch-serve {}", flush=True)
for line in sys.stdin:
    print("torch-serve " + json.dumps(best(cases[line.strip()])), flush=True)
`;

/** PyTorch on `threads` threads, serving the cases by name; null (and why, printed) if it does not start. */
async function startTorch(threads: number): Promise<Server | null> {
  // Debian's torch computes with OpenBLAS, whose threads torch.set_num_threads does not limit
  const n = String(threads);
  const env = { ...process.env, OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n };
  const s = new Server(`pytorch ${n}t`, PYTHON, ["-c", PY_SCRIPT, String(BATCH), n], env, "torch-serve ");
  try {
    await s.next();
    return s;
  } catch (e) {
    console.log(`  (PyTorch reference unavailable: ${(e as Error).message})`);
    return null;
  }
}

/** Kernels of one LeNet-5 training step (batch 256, average pooling as gb.models.LeNet5's default): forward + backward (no input grad for conv1). */
const STEP = [
  "conv1 1->6 5x5 p2 28x28 fwd", "conv1 1->6 5x5 p2 28x28 bwd-weight",
  "conv2 6->16 5x5 14x14 fwd", "conv2 6->16 5x5 14x14 bwd-input", "conv2 6->16 5x5 14x14 bwd-weight",
  "avgpool2 6x28x28 fwd", "avgpool2 6x28x28 bwd", "avgpool2 16x10x10 fwd", "avgpool2 16x10x10 bwd",
  ...LINEARS.flatMap(([i, o]) => [`linear ${i}->${o} fwd`, `linear ${i}->${o} bwd-input`, `linear ${i}->${o} bwd-weight`]),
];

/**
 * The section as `npm run bench` runs it: in a Node process started as the kernel's (its V8 flags
 * and malloc settings, kernel/process-settings.ts), as the engine section's gradbook process is, so
 * that each row measures what a notebook gets (with glibc's defaults a result of megabytes comes in
 * fresh pages, each faulted in and zeroed: the max-pool gradients' rows measured mostly that).
 */
export async function benchCpuKernelsAsKernel(): Promise<void> {
  const settings = [...KERNEL_NODE_FLAGS, ...Object.entries(KERNEL_ENV).map(([k, v]) => `${k}=${v}`)].join(" ");
  console.log(`(gradbook's kernels measured in a Node process started as the kernel's: ${settings || "no settings"})`);
  const child = spawnSync(process.execPath, [...KERNEL_NODE_FLAGS, fileURLToPath(import.meta.url), "--kernels-child"], {
    env: { ...process.env, ...KERNEL_ENV },
    stdio: "inherit",
  });
  if (child.status !== 0) throw new Error(`the CPU kernels' measuring process ended with ${child.status ?? child.signal}`);
}

export async function benchCpuKernels(): Promise<void> {
  await initWasm();
  const info = wasmInfo();
  const many = getNumThreads();
  console.log(
    `== CPU kernels: ${info.wasm ? `WASM SIMD${info.fma ? " + relaxed-SIMD FMA" : " (no FMA: this engine has no relaxed SIMD)"}` : `TypeScript only (${info.error})`}; ${nativeLine(info.native)}; ` +
      `1 and ${many} threads, vs PyTorch CPU (${PYTHON}, torch.set_num_threads and OPENBLAS_NUM_THREADS the same), same run ==`,
  );
  const ours: Record<string, Timing> = {};
  const oursMany: Record<string, Timing> = {};
  const cases = buildCases();
  const torch1 = await startTorch(1);
  const torchManyServer = many > 1 ? await startTorch(many) : null;
  const torch: Record<string, Timing> | null = torch1 ? {} : null;
  const torchMany: Record<string, Timing> | null = torchManyServer ? {} : null;
  // each kernel on 1 and `many` threads, each next to PyTorch's on the same count (the machine's speed drifts)
  const busy = () => cpuMs() / 1000 + (torch1?.cpuSeconds() ?? 0) + (torchManyServer?.cpuSeconds() ?? 0);
  const b0 = machineBusy(), c0 = busy(), t0 = performance.now();
  for (const c of cases) {
    setNumThreads(1);
    ours[c.name] = time(c.run);
    if (torch1) torch![c.name] = (await torch1.request(c.name)) as unknown as Timing;
    if (many > 1) {
      setNumThreads(many);
      oursMany[c.name] = time(c.run);
      if (torchManyServer) torchMany![c.name] = (await torchManyServer.request(c.name)) as unknown as Timing;
    }
  }
  torch1?.quit();
  torchManyServer?.quit();
  const b1 = machineBusy();
  const othersBusy = b0 === null || b1 === null ? null : Math.max(0, (b1 - b0 - (busy() - c0)) / ((performance.now() - t0) / 1000));
  setNumThreads(1);
  {
    // the plain-TypeScript fallback, for scale
    const n = 512, A = randArray(n * n, 1), B = randArray(n * n, 1), C = new Float32Array(n * n);
    ours["gemm 512 (TS fallback)"] = time(() => gemmReference(false, false, n, n, n, 1, A, 0, n, B, 0, n, 0, C, 0, n), 3);
    // the TypeScript loops the WASM element-wise functions replace (the same bits)
    for (const [op, x, out, f] of unaryCases())
      ours[`${op} 1M (TS loop)`] = time(() => {
        for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
      }, 3);
  }
  const num = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : "-");
  if (othersBusy !== null) console.log(`other processes kept ${othersBusy.toFixed(2)} cores busy, on average, while the kernels were measured`);
  console.log(`operands: ${residentStorage() === "always" ? "in the WASM memory, as the CPU backend keeps a tensor's storage by default here (resident storage); each call's result given back after it" : "ordinary arrays (resident storage off)"}`);
  console.log("times: best per call, wall / CPU ms; 1 thread: GFLOP/s and ratio from CPU time (what counts when the machine is shared);");
  console.log(`${many} threads: wall ms (CPU time adds up the threads), ratio from wall time, and gradbook's speed-up over 1 thread (wall)`);
  console.log(
    `${pad("kernel", 36)} ${pad("gradbook ms", 16)} ${pad("GFLOP/s", 8)} ${pad("torch ms", 16)} ${pad("GFLOP/s", 8)} ${pad("ratio", 7)}` +
      (many > 1 ? ` | ${pad(`${many}t gb ms`, 10)} ${pad(`${many}t torch`, 10)} ${pad("ratio", 7)} gb ${many}t/1t` : ""),
  );
  const rows = [...cases.map((c) => [c.name, c.flops] as const), ["gemm 512 (TS fallback)", 2 * 512 ** 3] as const, ...UNARY_OPS.map(([op]) => [`${op} 1M (TS loop)`, 0] as const)];
  for (const [name, flops] of rows) {
    const o = ours[name];
    const t = torch?.[name.replace(/ \((TS fallback|TS loop)\)$/, "")];
    const om = oursMany[name], tm = torchMany?.[name];
    console.log(
      `${pad(name, 36)} ${pad(`${num(o.wall, 3)} / ${num(o.cpu, 3)}`, 16)} ${pad(flops ? num(flops / o.cpu / 1e6, 1) : "", 8)} ` +
        `${pad(t ? `${num(t.wall, 3)} / ${num(t.cpu, 3)}` : "-", 16)} ${pad(flops && t ? num(flops / t.cpu / 1e6, 1) : "", 8)} ${pad(t ? num(t.cpu / o.cpu, 3) + "x" : "", 7)}` +
        (om ? ` | ${pad(num(om.wall, 3), 10)} ${pad(tm ? num(tm.wall, 3) : "-", 10)} ${pad(tm ? num(tm.wall / om.wall, 3) + "x" : "", 7)} ${num(o.wall / om.wall, 2)}x` : ""),
    );
  }
  if (torch) {
    // the issue's bar: no kernel below 0.5x of PyTorch (1 thread by CPU time, more threads by wall time)
    const below = (m: Record<string, Timing>, ref: Record<string, Timing> | null, key: keyof Timing) =>
      cases.filter((c) => ref?.[c.name] && ref[c.name][key] / m[c.name][key] < 0.5).map((c) => `${c.name} ${num(ref![c.name][key] / m[c.name][key], 2)}x`);
    const b1 = below(ours, torch, "cpu"), bm = many > 1 ? below(oursMany, torchMany, "wall") : [];
    console.log(`kernels below 0.5x of PyTorch: 1 thread (CPU time): ${b1.length ? b1.join(", ") : "none"}` + (many > 1 ? `; ${many} threads (wall): ${bm.length ? bm.join(", ") : "none"}` : ""));
    // what 0.5x takes for the arithmetic kernels below it: a fraction of the SIMD128 peak (f32x4
    // multiply-adds on registers, one thread), where PyTorch computes with AVX2 / AVX-512
    const peak = simd128Peak();
    const np = info.native.on ? nativePeak() : null;
    if (np) {
      const gemms = cases.filter((c) => c.name.startsWith("gemm "));
      console.log(
        `native peak of this machine: ${num(np.gflops, 1)} GFLOP/s (${np.isa} FMA on registers, 1 thread, CPU time); ` +
          gemms.map((c) => `${c.name} reaches ${num((100 * c.flops) / ours[c.name].cpu / 1e6 / np.gflops, 0)}%`).join(", ") + " of it (1 thread)",
      );
    }
    const slow = cases.filter((c) => c.flops > 0 && torch[c.name] && torch[c.name].cpu / ours[c.name].cpu < 0.5);
    if (slow.length) {
      console.log(`SIMD128 peak of this machine: ${num(peak.gflops, 1)} GFLOP/s (${peak.fma ? "FMA" : "multiply + add"}); for the arithmetic kernels below 0.5x, 1 thread, CPU time:`);
      for (const c of slow) {
        const g = c.flops / ours[c.name].cpu / 1e6, t = c.flops / torch[c.name].cpu / 1e6, need = (0.5 * t) / peak.gflops;
        console.log(
          `  ${pad(c.name, 34)} gradbook ${num(g, 1)} GFLOP/s = ${num((100 * g) / peak.gflops, 0)}% of the peak${np ? ` (${num((100 * g) / np.gflops, 0)}% of the native peak)` : ""}; PyTorch ${num(t, 1)} GFLOP/s = ` +
            `${num(t / peak.gflops, 2)}x the peak: 0.5x needs ${num(100 * need, 0)}% of the peak${need > 1 ? " (beyond 128-bit SIMD)" : ""}`,
        );
      }
    }
  }
  const sum = (m: Record<string, Timing>, key: keyof Timing) => STEP.reduce((s, k) => s + m[k][key], 0);
  const stepLine = (label: string, m: Record<string, Timing>, ref: Record<string, Timing> | null, key: keyof Timing) => {
    const stepOurs = sum(m, key);
    const stepTorch = ref ? sum(ref, key) : NaN;
    console.log(
      `${label}: ${num(stepOurs, 1)} ms = ${num((BATCH * 1000) / stepOurs, 0)} images/s` +
        (ref ? `; PyTorch ${num(stepTorch, 1)} ms = ${num((BATCH * 1000) / stepTorch, 0)} images/s; ratio ${num(stepTorch / stepOurs, 3)}x` : ""),
    );
  };
  stepLine(`LeNet-5 step, these kernels only (conv, avg pool, linear; batch ${BATCH}; 1 thread, CPU time)`, ours, torch, "cpu");
  if (many > 1) {
    stepLine(`the same, 1 thread, wall time`, ours, torch, "wall");
    stepLine(`the same, ${many} threads, wall time`, oursMany, torchMany, "wall");
  }
  setNumThreads(1);
  if (info.fma) {
    // what FMA brings: the same kernels in the exact-bits mode (separate multiply and add)
    setWasmFma(false);
    const plain: Record<string, Timing> = { ...ours };
    for (const c of cases) if (c.flops > 0) plain[c.name] = time(c.run);
    setWasmFma(true);
    console.log("in the exact-bits mode (setWasmFma(false): no FMA), 1 thread:");
    for (const c of cases) {
      if (!c.name.startsWith("gemm") && !c.name.startsWith("conv")) continue;
      const t = torch?.[c.name];
      console.log(`${pad(c.name, 36)} ${pad(`${num(plain[c.name].wall, 3)} / ${num(plain[c.name].cpu, 3)}`, 16)} ${pad(num(c.flops / plain[c.name].cpu / 1e6, 1), 8)} ${t ? num(t.cpu / plain[c.name].cpu, 3) + "x" : ""}`);
    }
    stepLine("LeNet-5 step kernels without FMA (1 thread, CPU time)", plain, torch, "cpu");
  }
  setNumThreads(many);
}

/**
 * The native kernels (engine/backends/cpu/native/) against the WASM exports they replace, in one
 * process: the same cases (buildCases: operands resident, as the backend keeps them), `rounds`
 * rounds each alternating WASM and native (setCpuNative) on 1 thread and on getNumThreads(),
 * best of each. `npm run bench -- --native-ab` (GB_AB_ROUNDS: rounds, default 5; GB_AB_ONLY: a
 * regular expression of the rows).
 */
export async function benchNativeAB(): Promise<void> {
  await initWasm();
  const info = wasmInfo();
  if (!info.native.on) {
    console.log(`== native vs WASM kernels: ${nativeLine(info.native)}; nothing to compare ==`);
    return;
  }
  const many = getNumThreads();
  const rounds = Number(process.env.GB_AB_ROUNDS ?? 5);
  const only = process.env.GB_AB_ONLY ? new RegExp(process.env.GB_AB_ONLY) : null;
  const cases = buildCases().filter((c) => !only || only.test(c.name));
  const peak = nativePeak()!;
  console.log(`== native vs WASM kernels, interleaved in one process: ${nativeLine(info.native)}; ${rounds} rounds (each: WASM then native, 1 and ${many} threads), best per call ==`);
  console.log(`native peak: ${peak.gflops.toFixed(1)} GFLOP/s (${peak.isa} FMA on registers, 1 thread, CPU time); SIMD128 peak: ${simd128Peak().gflops.toFixed(1)} GFLOP/s`);
  const best: Record<string, Timing> = {};
  const keep = (k: string, t: Timing) => {
    const b = best[k];
    best[k] = b ? { wall: Math.min(b.wall, t.wall), cpu: Math.min(b.cpu, t.cpu) } : t;
  };
  const counts = many > 1 ? [1, many] : [1];
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      for (const n of counts) {
        setNumThreads(n);
        for (const nat of [false, true]) {
          setCpuNative(nat);
          keep(`${c.name}|${n}|${nat}`, time(c.run, 3, 20));
        }
      }
    }
  }
  setCpuNative(true);
  setNumThreads(many);
  console.log(`${pad("kernel", 36)} 1 thread (CPU ms): WASM -> native (speed-up, native GFLOP/s, % of the native peak)` + (many > 1 ? ` | ${many} threads (wall ms): WASM -> native (speed-up)` : ""));
  for (const c of cases) {
    const w1 = best[`${c.name}|1|false`].cpu, n1 = best[`${c.name}|1|true`].cpu;
    const g = c.flops ? c.flops / n1 / 1e6 : 0;
    let line = `${pad(c.name, 36)} ${w1.toFixed(3)} -> ${n1.toFixed(3)} (${(w1 / n1).toFixed(2)}x${c.flops ? `, ${g.toFixed(1)}, ${((100 * g) / peak.gflops).toFixed(0)}%` : ""})`;
    if (many > 1) {
      const wm = best[`${c.name}|${many}|false`].wall, nm = best[`${c.name}|${many}|true`].wall;
      line = `${pad(line, 100)} | ${wm.toFixed(3)} -> ${nm.toFixed(3)} (${(wm / nm).toFixed(2)}x)`;
    }
    console.log(line);
  }
}
