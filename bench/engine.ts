/**
 * Engine CPU benchmark: matmul 512/1024 and a LeNet-5 training step at batch 256,
 * gradbook against PyTorch CPU (Debian python3-torch) measured in the same run, on one
 * thread and on gb.getNumThreads()'s default (PyTorch pinned to the same count).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as gb from "../engine/index.js";
import { wasmInfo } from "../engine/backends/cpu/kernels/index.js";
import { simd128Peak } from "./simd-peak.js";
import { setThreadSpin, threadSpin, threadStats, type ThreadStats } from "../engine/backends/cpu/wasm/threads.js";
import { KERNEL_ENV, KERNEL_NODE_FLAGS } from "../kernel/process-settings.js";

/** Per-call time: wall seconds and process CPU seconds (robust when other work shares the cores). */
interface Timing {
  wall: number;
  cpu: number;
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function bestOf(fn: () => void | Promise<void>, reps: number, rounds = 3): Promise<Timing> {
  let wall = Infinity, cpu = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now(), c0 = cpuSeconds();
    for (let i = 0; i < reps; i++) await fn();
    wall = Math.min(wall, (performance.now() - t0) / 1e3 / reps);
    cpu = Math.min(cpu, (cpuSeconds() - c0) / reps);
  }
  return { wall, cpu };
}

export interface EngineBenchResult {
  matmul512: Timing;
  matmul1024: Timing;
  lenet: Timing;
  /** the thread pool's counters over the LeNet-5 steps timed, per step */
  lenetThreads: ThreadStats;
  /** The warm-up steps, per step: V8 compiles the step's code with its optimizing compiler meanwhile (on its own threads). */
  lenetWarmup: Timing;
  /** with threads: the step with idle workers polling LONG_POLL_US after every job (instead of sleeping after an eighth of threadSpin()), and with the default, in interleaved rounds */
  lenetPoll?: { long: Timing; default: Timing };
}

/** The workers' polling after a job in the bench's comparison (microseconds): covers most gaps between a step's threaded ops. */
const LONG_POLL_US = 2000;

/** (b - a) / steps for every counter (the workers' int32 microseconds modulo 2^32). */
function statsPerStep(a: ThreadStats, b: ThreadStats, steps: number): ThreadStats {
  const out = {} as Record<keyof ThreadStats, number>;
  for (const k of Object.keys(a) as (keyof ThreadStats)[]) out[k] = (k.startsWith("worker") ? (b[k] - a[k]) >>> 0 : b[k] - a[k]) / steps;
  return out;
}

/**
 * Training steps before the measured ones, for gradbook and PyTorch alike. V8 optimizes the step's
 * functions as they get hot, on its own threads, over the first 20–50 steps (TurboFan's CPU time:
 * ~15–19 ms a step over steps 4–18, 2–3 ms a step after 30: BENCHMARKS.md, issue 18's fourth
 * round); a training run's steps are the steady state after them, a one-time cost that the bench
 * prints apart.
 */
export const WARMUP_STEPS = 30;

export async function measureEngine(batch = 256): Promise<EngineBenchResult> {
  gb.manualSeed(0);
  const res: Partial<EngineBenchResult> = {};
  for (const n of [512, 1024]) {
    const a = gb.randn([n, n]), b = gb.randn([n, n]);
    a.matmul(b);
    res[n === 512 ? "matmul512" : "matmul1024"] = await bestOf(() => void a.matmul(b), n === 512 ? 10 : 4);
  }
  const model = new gb.models.LeNet5();
  const opt = new gb.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = gb.rand([batch, 1, 28, 28]);
  const y = gb.randint(0, 10, [batch]);
  const step = async () => {
    opt.zeroGrad();
    const loss = gb.nn.functional.crossEntropy(model.forward(x), y);
    await loss.backward();
    opt.step();
  };
  const t0 = performance.now(), c0 = cpuSeconds();
  for (let i = 0; i < WARMUP_STEPS; i++) await step();
  res.lenetWarmup = { wall: (performance.now() - t0) / 1e3 / WARMUP_STEPS, cpu: (cpuSeconds() - c0) / WARMUP_STEPS };
  const s0 = threadStats();
  res.lenet = await bestOf(step, 5);
  res.lenetThreads = statsPerStep(s0, threadStats(), 15);
  if (gb.getNumThreads() > 1) {
    // waking a sleeping worker costs the caller a system call and the worker a scheduling delay (a
    // VM: an idle vCPU's wake-up): the same steps with the workers polling through the gaps instead
    // (setThreadSpin's value applies within pipelined ops; an eighth of it after other jobs)
    const spin = threadSpin();
    const min = (a: Timing, b: Timing): Timing => ({ wall: Math.min(a.wall, b.wall), cpu: Math.min(a.cpu, b.cpu) });
    let long: Timing = { wall: Infinity, cpu: Infinity }, short = long;
    for (let r = 0; r < 3; r++) {
      setThreadSpin(8 * LONG_POLL_US);
      long = min(long, await bestOf(step, 5, 1));
      setThreadSpin(spin);
      short = min(short, await bestOf(step, 5, 1));
    }
    res.lenetPoll = { long, default: short };
  }
  return res as EngineBenchResult;
}

export function measureTorch(threads = 1): Record<string, number> & { blas?: string } {
  const script = fileURLToPath(new URL("../bench/torch_cpu.py", import.meta.url));
  // Debian's torch computes with OpenBLAS, whose threads torch.set_num_threads does not limit
  const n = String(threads);
  const env = { ...process.env, OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n };
  const out = execFileSync("/usr/bin/python3", [script, n, "tanh", "avg", String(WARMUP_STEPS)], { encoding: "utf8", env });
  return JSON.parse(out.trim().split("\n").pop()!);
}

/** Busy CPU seconds of the whole machine so far (Linux /proc/stat), or null. */
function machineBusy(): number | null {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100;
  } catch {
    return null;
  }
}

const RESULT = "engine-measure-result ";

/** `dist/bench.js --engine-measure N`: gradbook's figures on N threads, as one line of JSON with the process's CPU seconds. */
export async function engineMeasureChild(threads: number): Promise<void> {
  gb.setNumThreads(threads);
  const result = await measureEngine();
  console.log(RESULT + JSON.stringify({ result, cpu: cpuSeconds() }));
  process.exit(0);
}

/**
 * gradbook's figures on `threads` threads, measured in a Node process started as the kernel's
 * process starts (kernel/process-settings.ts: its V8 flags and malloc settings, which a process
 * takes only at its start): what a notebook gets. Also how many cores other processes kept busy
 * meanwhile (on average), where /proc/stat exists.
 */
function measureEngineAsKernel(threads: number): [EngineBenchResult, number | null] {
  const b0 = machineBusy(), t0 = performance.now();
  const script = fileURLToPath(import.meta.url); // dist/bench.js
  const out = execFileSync(process.execPath, [...KERNEL_NODE_FLAGS, script, "--engine-measure", String(threads)], {
    encoding: "utf8",
    env: { ...process.env, ...KERNEL_ENV },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = out.split("\n").find((l) => l.startsWith(RESULT));
  if (!line) throw new Error(`the engine's measuring process printed no result:\n${out}`);
  const { result, cpu } = JSON.parse(line.slice(RESULT.length)) as { result: EngineBenchResult; cpu: number };
  const b1 = machineBusy(), wall = (performance.now() - t0) / 1e3;
  return [result, b0 === null || b1 === null ? null : Math.max(0, (b1 - b0 - cpu) / wall)];
}

export async function benchEngine(): Promise<void> {
  // threads: 1, then gb.getNumThreads()'s default (os.availableParallelism() capped at 8, or GB_NUM_THREADS)
  const many = gb.getNumThreads();
  const counts = many > 1 ? [1, many] : [1];
  console.log(`== engine (CPU): gradbook vs PyTorch CPU, same machine, same run; threads ${counts.join(" and ")} (PyTorch pinned to the same count) ==`);
  console.log(
    `gradbook runs in a Node process started as the kernel's (${[...KERNEL_NODE_FLAGS, ...Object.entries(KERNEL_ENV).map(([k, v]) => `${k}=${v}`)].join(" ") || "no settings"}); ` +
      `LeNet-5: ${WARMUP_STEPS} warm-up steps before the measured ones, for both`,
  );
  const ours = new Map<number, EngineBenchResult>();
  const torch = new Map<number, (Record<string, number> & { blas?: string }) | null>();
  const others: string[] = [], torchBusy: string[] = [];
  for (const n of counts) {
    const [r, load] = measureEngineAsKernel(n);
    ours.set(n, r);
    if (load !== null) others.push(`${n} thread${n > 1 ? "s" : ""}: ${load.toFixed(2)}`);
    try {
      const b0 = machineBusy(), t0 = performance.now();
      torch.set(n, measureTorch(n));
      const b1 = machineBusy();
      if (b0 !== null && b1 !== null) torchBusy.push(`${n} thread${n > 1 ? "s" : ""}: ${((b1 - b0) / ((performance.now() - t0) / 1e3)).toFixed(2)}`);
    } catch (e) {
      torch.set(n, null);
      console.log(`PyTorch reference unavailable (${(e as Error).message.split("\n")[0]}); install python3-torch`);
    }
  }
  const blas = [...torch.values()].find((t) => t)?.blas;
  if (blas !== undefined) console.log(`PyTorch's BLAS: ${blas}${String(blas).includes("openblas") ? "" : " (not OpenBLAS: install libopenblas0-pthread for a fair reference)"}`);
  const info = wasmInfo();
  console.log(`gradbook's CPU kernels: ${info.wasm ? `WASM SIMD128${info.fma ? " with relaxed-SIMD FMA" : " (no FMA)"}` : `TypeScript only (${info.error})`}`);
  if (others.length) console.log(`other processes kept busy, on average, during gradbook's runs (cores): ${others.join(", ")}`);
  if (torchBusy.length) console.log(`busy cores during PyTorch's runs, its own included (its start-up on one): ${torchBusy.join(", ")}`);
  const gflops = (n: number, t: number) => (2 * n ** 3) / t / 1e9;
  const row = (name: string, n: number, g: number, t: number | undefined, unit: string) =>
    console.log(`${name.padEnd(34)} ${String(n).padStart(2)} thr  gradbook ${g.toFixed(1).padStart(8)} ${unit}   pytorch ${t === undefined ? "     n/a" : t.toFixed(1).padStart(8)} ${unit}   ratio ${t ? (g / t).toFixed(3) : "n/a"}x`);
  for (const [clock, key] of [["wall", "wall"], ["CPU time", "cpu"]] as const) {
    const sfx = key === "cpu" ? "_cpu" : "";
    console.log(`-- by ${clock}${key === "cpu" ? " (process CPU seconds, all threads; robust when other work shares the cores)" : ""}`);
    for (const n of counts) {
      const o = ours.get(n)!, t = torch.get(n);
      row("matmul 512", n, gflops(512, o.matmul512[key]), t?.[`matmul512_gflops${sfx}`], "GFLOP/s");
      row("matmul 1024", n, gflops(1024, o.matmul1024[key]), t?.[`matmul1024_gflops${sfx}`], "GFLOP/s");
      row("LeNet-5 training step, batch 256", n, 256 / o.lenet[key], t?.[key === "cpu" ? "lenet_images_per_s_cpu" : "lenet_images_per_s"], "img/s");
    }
  }
  if (info.wasm) {
    // the ceiling of 128-bit SIMD on this machine: registers-only multiply-adds, one thread
    const peak = simd128Peak();
    const frac = (n: number) => gflops(1024, ours.get(n)!.matmul1024.cpu) / (peak.gflops * n);
    console.log(
      `-- SIMD128 peak (measured: f32x4 ${peak.fma ? "FMA" : "multiply + add"} on registers, 1 thread, CPU time): ${peak.gflops.toFixed(1)} GFLOP/s; ` +
        `matmul 1024 reaches ${counts.map((n) => `${(100 * frac(n)).toFixed(0)}% of it on ${n} thread${n > 1 ? "s" : ""}${n > 1 ? ` (of ${n} x the peak)` : ""}`).join(", ")}`,
    );
  }
  console.log(
    `-- LeNet-5's ${WARMUP_STEPS} warm-up steps (V8 optimizing the step's code meanwhile), per step: ` +
      counts.map((n) => { const w = ours.get(n)!.lenetWarmup; return `${n} thread${n > 1 ? "s" : ""} ${(w.wall * 1e3).toFixed(1)} ms by wall, ${(w.cpu * 1e3).toFixed(1)} ms by CPU time`; }).join("; ") +
      ` (measured steps: ${counts.map((n) => `${(ours.get(n)!.lenet.wall * 1e3).toFixed(1)} / ${(ours.get(n)!.lenet.cpu * 1e3).toFixed(1)} ms`).join("; ")})`,
  );
  if (counts.length > 1) {
    const [a, b] = [ours.get(1)!, ours.get(many)!];
    const ta = torch.get(1), tb = torch.get(many);
    const sp = (x: number, y: number) => `${(x / y).toFixed(2)}x`;
    const t = b.lenetThreads, f = (v: number) => v.toFixed(2);
    console.log(
      `-- ${many}-thread LeNet-5 step, the thread pool per step: ${t.jobs.toFixed(0)} jobs; the calling thread: ${f(t.callerBesideMs)} ms copying beside the workers, ` +
        `${f(t.callerTaskMs)} ms of tasks, ${f(t.callerPollMs)} ms polling and ${f(t.callerSleepMs)} ms sleeping for the workers' last tasks; the workers: ${f(t.workerTaskUs / 1000)} ms in jobs, ` +
        `${t.workerSleeps.toFixed(1)} sleeps, woken ${t.workerWakes ? (t.workerWakeUs / t.workerWakes).toFixed(0) : "-"} us after the notify on average`,
    );
    if (b.lenetPoll) {
      const ms = (v: number) => (v * 1e3).toFixed(1), { long, default: d } = b.lenetPoll;
      console.log(
        `-- ${many}-thread LeNet-5 step with idle workers polling ${LONG_POLL_US / 1000} ms after each job instead of the default ${(threadSpin() / 8000).toFixed(3)} ms ` +
          `(best of 3 interleaved rounds of 5 steps each): ${ms(long.wall)} vs ${ms(d.wall)} ms wall, ${ms(long.cpu)} vs ${ms(d.cpu)} ms CPU a step`,
      );
    }
    console.log(`-- ${many} threads over 1 (wall): gradbook matmul 512 ${sp(a.matmul512.wall, b.matmul512.wall)}, 1024 ${sp(a.matmul1024.wall, b.matmul1024.wall)}, LeNet-5 step ${sp(a.lenet.wall, b.lenet.wall)}` +
      (ta && tb ? `; PyTorch matmul 512 ${sp(tb.matmul512_gflops, ta.matmul512_gflops)}, 1024 ${sp(tb.matmul1024_gflops, ta.matmul1024_gflops)}, LeNet-5 step ${sp(tb.lenet_images_per_s, ta.lenet_images_per_s)}` : ""));
  }
}
