/**
 * Engine CPU benchmark: matmul 512/1024 and a LeNet-5 training step at batch 256,
 * gradbook against PyTorch CPU (Debian python3-torch) measured in the same run, on one
 * thread and on gb.getNumThreads()'s default (PyTorch pinned to the same count). Both run as
 * servers (this file's `--engine-serve`, bench/torch_cpu.py) that take turns in rounds: this VM's
 * speed moves by 20–30% between seconds, so figures measured one engine after the other gave
 * ratios that moved as much between runs.
 */
import { fileURLToPath } from "node:url";
import * as gb from "../engine/index.js";
import { wasmInfo } from "../engine/backends/cpu/kernels/index.js";
import { nativeLine, nativePeak, simd128Peak } from "./simd-peak.js";
import { machineBusy, Server } from "./serve.js";
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

/** One round: the LeNet-5 steps (and the thread pool's counters over them, per step), or the matmuls (per call). */
export interface EngineRound {
  matmul512?: Timing;
  matmul1024?: Timing;
  lenet?: Timing;
  /** CPU seconds the process used between its previous answer and this round (threads polling, work left running: Measured.tailCpu) */
  idleCpu: number;
  lenetThreads?: ThreadStats;
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

/**
 * Interleaved rounds per thread count: gradbook and PyTorch take turns (the first to go alternates),
 * the LeNet-5 step's rounds first, then the matmuls' (a matmul round just before a LeNet-5 round let
 * OpenBLAS's threads, polling ~0.1 s after their last call, into PyTorch's 2-thread LeNet-5 turn:
 * 7.2-9.0k img/s against 10.5-12.6k with the rounds apart; and it left 4 MB results to gradbook's
 * garbage collector in its next steps, which a training loop has not).
 */
const ROUNDS = 7;
/** LeNet-5 steps in a round; matmul 512 and 1024 calls in one (the same for PyTorch: bench/torch_cpu.py). */
const STEPS = 5, REPS512 = 10, REPS1024 = 4;
/**
 * Matmul calls of each size both engines make before the LeNet-5's warm-up (the same for PyTorch).
 * The first touch of a fresh page costs the process a page fault; on this VM ~3 ms a MiB (a 4 MiB
 * result on fresh pages: 13 ms on top of matmul 1024's 40). gradbook's results live in the tensor
 * area of the WASM memory, whose blocks come back when the collector finds their arrays dead: a loop
 * of matmuls that drops each result walks over fresh pages until its area's first reclaim (64-256
 * MiB: heap.ts's headroom), once a process; glibc hands PyTorch's freed 4 MiB back at the next
 * call. 64 calls of each size (320 MiB) pass that once, as a notebook's first minute does.
 */
export const MATMUL_WARMUP = 64;
/**
 * The pause before each turn (ms): OpenBLAS's and OpenMP's threads, and gradbook's, poll for a while
 * after their last job; the pause keeps that out of the other engine's turn (the bench prints it
 * apart: `tailCpu`).
 */
const PAUSE_MS = 300;

async function timed(fn: () => void | Promise<void>, reps: number): Promise<Timing> {
  const t0 = performance.now(), c0 = cpuSeconds();
  for (let i = 0; i < reps; i++) await fn();
  return { wall: (performance.now() - t0) / 1e3 / reps, cpu: (cpuSeconds() - c0) / reps };
}

const SERVE = "engine-serve ";

/**
 * `dist/bench.js --engine-serve N`: gradbook's side of the engine bench on N threads, in a process
 * started as the kernel's. Prints `engine-serve {ready, warmup}` after the warm-up steps, then answers
 * each stdin line: `{"op":"lenet"}` and `{"op":"matmul"}` (an EngineRound), `{"op":"idle"}` (idleCpu only), `{"op":"poll"}` (with threads: the step with
 * the workers polling LONG_POLL_US after each job against the default, interleaved), `{"op":"quit"}`.
 */
export async function engineServeChild(threads: number): Promise<void> {
  gb.setNumThreads(threads);
  gb.manualSeed(0);
  const reply = (o: unknown) => process.stdout.write(SERVE + JSON.stringify(o) + "\n");
  const mats = [512, 1024].map((n) => [gb.randn([n, n]), gb.randn([n, n])] as const);
  const matmulWarmup: Record<string, Timing> = {};
  for (const [a, b] of mats) matmulWarmup[`matmul${a.shape[0]}`] = await timed(() => void a.matmul(b), MATMUL_WARMUP);
  const model = new gb.models.LeNet5();
  const opt = new gb.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = gb.rand([256, 1, 28, 28]);
  const y = gb.randint(0, 10, [256]);
  const step = async () => {
    opt.zeroGrad();
    const loss = gb.nn.functional.crossEntropy(model.forward(x), y);
    await loss.backward();
    opt.step();
  };
  reply({ ready: true, warmup: await timed(step, WARMUP_STEPS), matmulWarmup });
  let last = cpuSeconds();
  const { createInterface } = await import("node:readline");
  for await (const line of createInterface({ input: process.stdin })) {
    const op = (JSON.parse(line) as { op: string }).op;
    const idleCpu = cpuSeconds() - last;
    if (op === "quit") break;
    if (op === "idle") reply({ idleCpu });
    else if (op === "lenet") {
      const s0 = threadStats();
      const lenet = await timed(step, STEPS);
      reply({ lenet, idleCpu, lenetThreads: statsPerStep(s0, threadStats(), STEPS) } satisfies EngineRound);
    } else if (op === "matmul") {
      const [m512, m1024] = mats;
      const matmul512 = await timed(() => void m512[0].matmul(m512[1]), REPS512);
      const matmul1024 = await timed(() => void m1024[0].matmul(m1024[1]), REPS1024);
      reply({ matmul512, matmul1024, idleCpu } satisfies EngineRound);
    } else if (op === "poll") {
      // waking a sleeping worker costs the caller a system call and the worker a scheduling delay (a
      // VM: an idle vCPU's wake-up): the same steps with the workers polling through the gaps instead
      // (setThreadSpin's value applies within pipelined ops; an eighth of it after other jobs)
      const spin = threadSpin();
      let long = { wall: Infinity, cpu: Infinity }, short = long;
      for (let r = 0; r < 3; r++) {
        setThreadSpin(8 * LONG_POLL_US);
        long = best(long, await timed(step, STEPS));
        setThreadSpin(spin);
        short = best(short, await timed(step, STEPS));
      }
      reply({ long, default: short, spinUs: spin });
    } else throw new Error(`bench --engine-serve: unknown command ${line}`);
    last = cpuSeconds();
  }
  process.exit(0);
}

const best = (a: Timing, b: Timing): Timing => ({ wall: Math.min(a.wall, b.wall), cpu: Math.min(a.cpu, b.cpu) });

const OP_IDLE = JSON.stringify({ op: "idle" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The figures of one engine on one thread count: the best round of each case, every round's LeNet-5 step, and the warm-up. */
interface Measured {
  matmul512: Timing;
  matmul1024: Timing;
  lenet: Timing;
  /** every round's LeNet-5 step */
  lenetRounds: Timing[];
  /**
   * CPU seconds the process used between its rounds, per round: its threads polling after their
   * last job until they sleep (OpenBLAS's and OpenMP's for ~0.1 s; gradbook's workers briefly), and
   * work left running after the round (V8's GC and compiler threads). Not in the figures: a training
   * loop has no such gaps (within a round, the same work runs beside the steps and is counted).
   */
  tailCpu: number;
  warmup: Timing;
  /** per call, over the MATMUL_WARMUP calls of each size before the LeNet-5's warm-up */
  matmulWarmup: { matmul512?: Timing; matmul1024?: Timing };
}

/** The figures of one engine from its answers in order (the LeNet-5 rounds', the matmuls', then the last `idle`). */
function collect(answers: EngineRound[], ready: Record<string, unknown>): Measured {
  const inf = { wall: Infinity, cpu: Infinity };
  const m: Measured = { matmul512: inf, matmul1024: inf, lenet: inf, lenetRounds: [], tailCpu: 0, warmup: ready.warmup as Timing, matmulWarmup: (ready.matmulWarmup ?? {}) as Measured["matmulWarmup"] };
  answers.forEach((r, i) => {
    if (r.matmul512) m.matmul512 = best(m.matmul512, r.matmul512);
    if (r.matmul1024) m.matmul1024 = best(m.matmul1024, r.matmul1024);
    if (r.lenet) {
      m.lenet = best(m.lenet, r.lenet);
      m.lenetRounds.push(r.lenet);
      // what the process used after the round, until its next command
      m.tailCpu += answers[i + 1].idleCpu / ROUNDS;
    }
  });
  return m;
}

interface ThreadCountResult {
  ours: Measured;
  torch: Measured | null;
  blas?: string;
  torchError?: string;
  /** the pool's counters per step, averaged over the rounds */
  poolPerStep: ThreadStats;
  poll?: { long: Timing; default: Timing };
  /** cores other processes kept busy on average during the rounds, or null */
  others: number | null;
}

/**
 * gradbook (in a Node process started as the kernel's process starts: kernel/process-settings.ts,
 * its V8 flags and malloc settings, which a process takes only at its start: what a notebook gets)
 * and PyTorch on `threads` threads, in ROUNDS interleaved rounds: both processes warm up, then take
 * turns, each alone on the machine during its turn.
 */
async function measureInterleaved(threads: number): Promise<ThreadCountResult> {
  const n = String(threads);
  // Debian's torch computes with OpenBLAS, whose threads torch.set_num_threads does not limit
  const torchEnv = { ...process.env, OMP_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, MKL_NUM_THREADS: n };
  const script = fileURLToPath(new URL("../bench/torch_cpu.py", import.meta.url));
  let torch: Server | null = new Server("pytorch", "/usr/bin/python3", [script, n, "tanh", "avg", String(WARMUP_STEPS), String(MATMUL_WARMUP)], torchEnv, "torch-serve ");
  let torchReady: Record<string, unknown> | null = null, torchError: string | undefined;
  try {
    torchReady = await torch.next();
  } catch (e) {
    torchError = (e as Error).message;
    torch = null;
  }
  const ours = new Server("gradbook", process.execPath, [...KERNEL_NODE_FLAGS, fileURLToPath(import.meta.url), "--engine-serve", n], { ...process.env, ...KERNEL_ENV }, SERVE);
  const oursReady = await ours.next();
  const oursAnswers: EngineRound[] = [], torchAnswers: EngineRound[] = [];
  const b0 = machineBusy(), t0 = performance.now(), p0 = (ours.cpuSeconds() ?? NaN) + (torch?.cpuSeconds() ?? 0);
  for (const op of ["lenet", "matmul"]) {
    for (let r = 0; r < ROUNDS; r++) {
      const order: [Server, EngineRound[]][] = [[ours, oursAnswers]];
      if (torch) order[r % 2 ? "push" : "unshift"]([torch, torchAnswers]);
      for (const [s, list] of order) {
        await sleep(PAUSE_MS);
        list.push((await s.request(JSON.stringify({ op }))) as unknown as EngineRound);
      }
    }
  }
  await sleep(PAUSE_MS);
  // the CPU each process used after its last round
  oursAnswers.push((await ours.request(OP_IDLE)) as unknown as EngineRound);
  if (torch) torchAnswers.push((await torch.request(OP_IDLE)) as unknown as EngineRound);
  const b1 = machineBusy(), wall = (performance.now() - t0) / 1e3, p1 = (ours.cpuSeconds() ?? NaN) + (torch?.cpuSeconds() ?? 0);
  const poll = threads > 1 ? ((await ours.request(JSON.stringify({ op: "poll" }))) as unknown as { long: Timing; default: Timing }) : undefined;
  ours.quit(JSON.stringify({ op: "quit" }));
  torch?.quit(JSON.stringify({ op: "quit" }));
  const pool = oursAnswers.filter((r) => r.lenetThreads).map((r) => r.lenetThreads!);
  const poolPerStep = Object.fromEntries(Object.keys(pool[0]).map((k) => [k, pool.reduce((a, p) => a + p[k as keyof ThreadStats], 0) / pool.length])) as unknown as ThreadStats;
  return {
    ours: collect(oursAnswers, oursReady),
    torch: torch ? collect(torchAnswers, torchReady!) : null,
    blas: torchReady?.blas as string | undefined,
    torchError,
    poolPerStep,
    poll,
    others: b0 === null || b1 === null || !Number.isFinite(p1 - p0) ? null : Math.max(0, (b1 - b0 - (p1 - p0)) / wall),
  };
}

export async function benchEngine(): Promise<void> {
  // threads: 1, then gb.getNumThreads()'s default (os.availableParallelism() capped at 8, or GB_NUM_THREADS)
  const many = gb.getNumThreads();
  const counts = many > 1 ? [1, many] : [1];
  console.log(`== engine (CPU): gradbook vs PyTorch CPU, same machine, same run; threads ${counts.join(" and ")} (PyTorch pinned to the same count) ==`);
  console.log(
    `gradbook runs in a Node process started as the kernel's (${[...KERNEL_NODE_FLAGS, ...Object.entries(KERNEL_ENV).map(([k, v]) => `${k}=${v}`)].join(" ") || "no settings"}); ` +
      `both warm up (matmul 512 and 1024: ${MATMUL_WARMUP} calls each; then LeNet-5: ${WARMUP_STEPS} steps), then take turns in ${ROUNDS} rounds (each alone on the machine in its turn, ${PAUSE_MS} ms apart; ` +
      `the LeNet-5 rounds (${STEPS} steps each) first, then the matmuls' (512 x${REPS512}, 1024 x${REPS1024}); figures: the best round of each`,
  );
  const res = new Map<number, ThreadCountResult>();
  for (const n of counts) res.set(n, await measureInterleaved(n));
  const any = [...res.values()];
  const err = any.find((r) => r.torchError)?.torchError;
  if (err) console.log(`PyTorch reference unavailable (${err.split("\n")[0]}); install python3-torch`);
  const blas = any.find((r) => r.blas)?.blas;
  if (blas !== undefined) console.log(`PyTorch's BLAS: ${blas}${String(blas).includes("openblas") ? "" : " (not OpenBLAS: install libopenblas0-pthread for a fair reference)"}`);
  const info = wasmInfo();
  console.log(`gradbook's CPU kernels: ${info.wasm ? `WASM SIMD128${info.fma ? " with relaxed-SIMD FMA" : " (no FMA)"}` : `TypeScript only (${info.error})`}; ${nativeLine(info.native)}`);
  const others = counts.filter((n) => res.get(n)!.others !== null).map((n) => `${n} thread${n > 1 ? "s" : ""}: ${res.get(n)!.others!.toFixed(2)}`);
  if (others.length) console.log(`other processes kept busy, on average, during the rounds (cores): ${others.join(", ")}`);
  const gflops = (n: number, t: number) => (2 * n ** 3) / t / 1e9;
  const row = (name: string, n: number, g: number, t: number | undefined, unit: string) =>
    console.log(`${name.padEnd(34)} ${String(n).padStart(2)} thr  gradbook ${g.toFixed(1).padStart(8)} ${unit}   pytorch ${t === undefined ? "     n/a" : t.toFixed(1).padStart(8)} ${unit}   ratio ${t ? (g / t).toFixed(3) : "n/a"}x`);
  for (const [clock, key] of [["wall", "wall"], ["CPU time", "cpu"]] as const) {
    console.log(`-- by ${clock}${key === "cpu" ? " (process CPU seconds, all threads; robust when other work shares the cores)" : ""}`);
    for (const n of counts) {
      const { ours: o, torch: t } = res.get(n)!;
      row("matmul 512", n, gflops(512, o.matmul512[key]), t ? gflops(512, t.matmul512[key]) : undefined, "GFLOP/s");
      row("matmul 1024", n, gflops(1024, o.matmul1024[key]), t ? gflops(1024, t.matmul1024[key]) : undefined, "GFLOP/s");
      row("LeNet-5 training step, batch 256", n, 256 / o.lenet[key], t ? 256 / t.lenet[key] : undefined, "img/s");
    }
  }
  // the ratio of each round's pair (PyTorch's turn and gradbook's next to it): how much the VM's speed moved the figures
  for (const n of counts) {
    const { ours: o, torch: t } = res.get(n)!;
    if (!t) continue;
    const spread = (key: "wall" | "cpu") => {
      const r = o.lenetRounds.map((x, i) => t.lenetRounds[i][key] / x[key]).sort((a, b) => a - b);
      return `${r[0].toFixed(2)}–${r[r.length - 1].toFixed(2)} (median ${r[r.length >> 1].toFixed(2)})`;
    };
    console.log(`-- LeNet-5 step, ${n} thread${n > 1 ? "s" : ""}, each round's ratio: by wall ${spread("wall")}, by CPU ${spread("cpu")}`);
  }
  console.log(
    `-- CPU used between rounds (threads polling until they sleep, GC and compiler threads finishing; not in the figures), per round: ` +
      counts.map((n) => { const r = res.get(n)!; return `${n} thread${n > 1 ? "s" : ""}: gradbook ${(r.ours.tailCpu * 1e3).toFixed(1)} ms${r.torch ? `, PyTorch ${(r.torch.tailCpu * 1e3).toFixed(1)} ms` : ""}`; }).join("; "),
  );
  if (info.wasm && info.native.on && info.native.names.includes("block")) {
    // the ceiling of the native GEMM's vectors on this machine: registers-only FMAs, one thread
    const peak = nativePeak()!;
    const frac = (n: number) => gflops(1024, res.get(n)!.ours.matmul1024.cpu) / (peak.gflops * n);
    console.log(
      `-- native peak (measured: ${peak.isa} FMA on registers, 1 thread, CPU time): ${peak.gflops.toFixed(1)} GFLOP/s; ` +
        `matmul 1024 reaches ${counts.map((n) => `${(100 * frac(n)).toFixed(0)}% of it on ${n} thread${n > 1 ? "s" : ""}${n > 1 ? ` (of ${n} x the peak)` : ""}`).join(", ")}`,
    );
  }
  if (info.wasm) {
    // the ceiling of 128-bit SIMD on this machine: registers-only multiply-adds, one thread
    const peak = simd128Peak();
    const frac = (n: number) => gflops(1024, res.get(n)!.ours.matmul1024.cpu) / (peak.gflops * n);
    console.log(
      `-- SIMD128 peak (measured: f32x4 ${peak.fma ? "FMA" : "multiply + add"} on registers, 1 thread, CPU time): ${peak.gflops.toFixed(1)} GFLOP/s; ` +
        `matmul 1024 reaches ${counts.map((n) => `${(100 * frac(n)).toFixed(0)}% of it on ${n} thread${n > 1 ? "s" : ""}${n > 1 ? ` (of ${n} x the peak)` : ""}`).join(", ")}`,
    );
  }
  const ms = (v: number) => (v * 1e3).toFixed(1);
  console.log(
    `-- LeNet-5's ${WARMUP_STEPS} warm-up steps (V8 optimizing the step's code meanwhile), per step: ` +
      counts.map((n) => { const w = res.get(n)!.ours.warmup; return `${n} thread${n > 1 ? "s" : ""} ${ms(w.wall)} ms by wall, ${ms(w.cpu)} ms by CPU time`; }).join("; ") +
      ` (measured steps: ${counts.map((n) => `${ms(res.get(n)!.ours.lenet.wall)} / ${ms(res.get(n)!.ours.lenet.cpu)} ms`).join("; ")})`,
  );
  const mmWarm = (m: Measured | null | undefined, k: "matmul512" | "matmul1024") => (m?.matmulWarmup[k] ? `${ms(m.matmulWarmup[k]!.wall)} ms` : "-");
  console.log(
    `-- the matmuls' ${MATMUL_WARMUP} warm-up calls (a fresh page's first touch: ~3 ms a MiB on this VM), per call by wall, gradbook / PyTorch: ` +
      counts.map((n) => { const r = res.get(n)!; return `${n} thread${n > 1 ? "s" : ""}: 512 ${mmWarm(r.ours, "matmul512")} / ${mmWarm(r.torch, "matmul512")}, 1024 ${mmWarm(r.ours, "matmul1024")} / ${mmWarm(r.torch, "matmul1024")} (measured: ${ms(r.ours.matmul1024.wall)} / ${r.torch ? ms(r.torch.matmul1024.wall) : "-"} ms)`; }).join("; "),
  );
  if (counts.length > 1) {
    const [a, b] = [res.get(1)!, res.get(many)!];
    const sp = (x: number, y: number) => `${(x / y).toFixed(2)}x`;
    const t = b.poolPerStep, f = (v: number) => v.toFixed(2);
    console.log(
      `-- ${many}-thread LeNet-5 step, the thread pool per step: ${t.jobs.toFixed(0)} jobs; the calling thread: ${f(t.callerBesideMs)} ms copying beside the workers, ` +
        `${f(t.callerTaskMs)} ms of tasks, ${f(t.callerPollMs)} ms polling and ${f(t.callerSleepMs)} ms sleeping for the workers' last tasks; the workers: ${f(t.workerTaskUs / 1000)} ms in jobs, ` +
        `${t.workerSleeps.toFixed(1)} sleeps, woken ${t.workerWakes ? (t.workerWakeUs / t.workerWakes).toFixed(0) : "-"} us after the notify on average`,
    );
    if (b.poll) {
      const { long, default: d } = b.poll;
      console.log(
        `-- ${many}-thread LeNet-5 step with idle workers polling ${LONG_POLL_US / 1000} ms after each job instead of the default ${(threadSpin() / 8000).toFixed(3)} ms ` +
          `(best of 3 interleaved rounds of ${STEPS} steps each): ${ms(long.wall)} vs ${ms(d.wall)} ms wall, ${ms(long.cpu)} vs ${ms(d.cpu)} ms CPU a step`,
      );
    }
    const [ta, tb] = [a.torch, b.torch];
    console.log(`-- ${many} threads over 1 (wall): gradbook matmul 512 ${sp(a.ours.matmul512.wall, b.ours.matmul512.wall)}, 1024 ${sp(a.ours.matmul1024.wall, b.ours.matmul1024.wall)}, LeNet-5 step ${sp(a.ours.lenet.wall, b.ours.lenet.wall)}` +
      (ta && tb ? `; PyTorch matmul 512 ${sp(ta.matmul512.wall, tb.matmul512.wall)}, 1024 ${sp(ta.matmul1024.wall, tb.matmul1024.wall)}, LeNet-5 step ${sp(ta.lenet.wall, tb.lenet.wall)}` : ""));
  }
}
