/**
 * Grader throughput and the sandbox's cost, `npm run bench -- --grader`:
 *
 * 1. What the sandbox adds to a kernel's start: bubblewrap with the
 *    kernel's mounts and limits running /bin/true against /bin/true alone
 *    (wall milliseconds, medians of 50 each, alternating, also at a
 *    real-time priority when root, where a busy machine's other work does
 *    not delay them; CPU milliseconds, the difference of perf stat's
 *    task-clock means, where perf runs); then a
 *    kernel from spawn to ready, sandboxed and not, alternating (wall
 *    milliseconds, and the kernel process's own CPU at ready).
 * 2. Grades the same 24 submissions of the quick fixture notebook
 *    (tests/grader/fixtures/perceptron.ipynb) without the sandbox and in it
 *    (CPU seconds per submission: the grader's own and its kernels', the
 *    sandbox included); then N (default 100) with one sandboxed kernel per
 *    submission, as many at once as the machine has cores, and prints
 *    submissions per minute and CPU seconds per submission. Every score of
 *    every run is checked.
 * The load average is printed with each figure: on a shared machine the
 * wall times are the load's; the CPU figures much less.
 *
 *   npm run bench -- --grader               (node dist/bench.js --grader)
 *   GRADBOOK_BENCH_SUBMISSIONS=20 ...       (fewer submissions)
 * (Not runnable on its own: bundled into dist/bench.js, a self-run check would fire there.)
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findKernelScript, KernelProcess, killedKernelsCpuSeconds, processCpuSeconds } from "../kernel/grader/client.ts";
import { grade, loadSources } from "../kernel/grader/grade.ts";
import { findBwrap, kernelReadPaths, sandboxArgs } from "../kernel/grader/sandbox.ts";
import { makeSubmissions } from "../tests/grader/submissions.ts";

export interface GraderBench {
  submissions: number;
  jobs: number;
  seconds: number;
  perMinute: number;
  cpuPerSubmission: number;
  /** CPU seconds per submission of the same submissions without the sandbox. */
  bareCpuPerSubmission: number;
  sandboxStartMs: number;
  wrong: string[];
}

const load = () => loadavg().map((x) => x.toFixed(1)).join(" ");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const root = typeof process.getuid === "function" && process.getuid() === 0;
const user = root ? { uid: 61000, gid: 61000 } : null;

/**
 * The CPU milliseconds of one run of `argv` and every process it starts, the mean of `runs`
 * (`perf stat`'s task-clock, which follows every descendant: a process's reaped children's times
 * miss what runs in the sandbox's pid namespace); null without perf.
 */
function perfCpuMs(argv: string[], runs: number): number | null {
  const r = spawnSync("perf", ["stat", "-x,", "-e", "task-clock", "-r", String(runs), "--", ...argv], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  if (r.error || r.status !== 0) return null;
  const line = r.stderr.trim().split("\n").find((l) => l.includes("task-clock"));
  return line ? Number(line.split(",")[0]) : null;
}

/** The sandbox alone (bwrap, mounts, limits, capabilities dropped) around /bin/true, against /bin/true. */
function sandboxAlone(dir: string): { wallMs: number; rtWallMs: number | null; cpuMs: number | null } {
  const bwrap = findBwrap();
  if (!bwrap) throw new Error("bubblewrap (bwrap) is not installed: apt-get install bubblewrap");
  const home = join(dir, "home");
  for (const d of ["work", "tmp"]) mkdirSync(join(home, d), { recursive: true, mode: 0o777 });
  chmodSync(home, 0o777);
  const args = sandboxArgs({ home, readOnly: kernelReadPaths(findKernelScript()), limits: { memoryMb: 2048, maxTasks: 512, fileMb: 1024, cpuSeconds: 3600 }, argv: ["/bin/true"] });
  /** Added wall ms: medians of 50 each, alternating; `prefix` runs both through another command. */
  const added = (prefix: string[], asUser: boolean) => {
    const walls: number[][] = [[], []];
    const id = asUser ? { uid: user?.uid, gid: user?.gid } : {};
    for (let i = 0; i < 100; i++) {
      const boxed = i % 2;
      const argv = [...prefix, ...(boxed ? [bwrap, ...args] : ["/bin/true"])];
      const t0 = performance.now();
      const r = spawnSync(argv[0], argv.slice(1), { stdio: "ignore", ...id });
      walls[boxed].push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`${argv.join(" ").slice(0, 80)}... exited with ${r.status}`);
    }
    return median(walls[1]) - median(walls[0]);
  };
  const wallMs = added([], true);
  // as root: also at a real-time priority (chrt -f), where neither waits for a CPU behind a busy machine's other work
  const rtWallMs = root && spawnSync("chrt", ["-f", "10", "/bin/true"]).status === 0 ? added(["chrt", "-f", "10"], false) : null;
  const boxedCpu = perfCpuMs([bwrap, ...args], 50), bareCpu = perfCpuMs(["/bin/true"], 50);
  return { wallMs, rtWallMs, cpuMs: boxedCpu === null || bareCpu === null ? null : boxedCpu - bareCpu };
}

/** Kernels from spawn to ready, sandboxed and not, alternating: medians of wall ms and of the kernel's own CPU ms at ready. */
async function kernelStarts(dir: string, pairs = 10) {
  const wall: number[][] = [[], []], cpu: number[][] = [[], []];
  for (let i = 0; i < 2 * pairs; i++) {
    const boxed = i % 2;
    const t0 = performance.now();
    const k = await KernelProcess.start(findKernelScript(), { dir: join(dir, `k${i}`), permissions: true, user, isolate: !!boxed }, { memoryMb: 2048, maxOutputChars: 1000 });
    wall[boxed].push(performance.now() - t0);
    cpu[boxed].push(processCpuSeconds(k.pid!) * 1000);
    k.kill();
    await k.exited();
  }
  return { bare: median(wall[0]), boxed: median(wall[1]), bareCpu: median(cpu[0]), boxedCpu: median(cpu[1]) };
}

export async function benchGrader(n = Number(process.env.GRADBOOK_BENCH_SUBMISSIONS ?? 100), jobs = availableParallelism()): Promise<GraderBench> {
  const source = fileURLToPath(new URL("../tests/grader/fixtures/perceptron.ipynb", import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "gradbook-bench-grader-"));
  chmodSync(dir, 0o711);
  try {
    // 1. the sandbox's cost at start
    const l0 = load();
    const alone = sandboxAlone(join(dir, "alone"));
    const starts = await kernelStarts(join(dir, "starts"));
    console.log(
      `[grader] sandbox start: +${alone.wallMs.toFixed(1)} ms wall (medians of 50, alternating)` +
        `${alone.rtWallMs === null ? "" : `, +${alone.rtWallMs.toFixed(1)} ms at a real-time priority (chrt -f 10, as root: the figure for free cores)`}, ` +
        `${alone.cpuMs === null ? "CPU not measured (perf stat did not run: apt-get install linux-perf)" : `+${alone.cpuMs.toFixed(1)} CPU-ms (perf stat's task-clock, means of 50)`} per kernel ` +
        `(bwrap with the kernel's mounts and limits around /bin/true, vs /bin/true; load ${l0})`,
    );
    console.log(
      `[grader] kernel start to ready: ${starts.bare.toFixed(0)} ms bare, ${starts.boxed.toFixed(0)} ms sandboxed (medians of 10, alternating); the kernel's own CPU at ready ${starts.bareCpu.toFixed(0)} / ${starts.boxedCpu.toFixed(0)} ms (load ${load()})`,
    );

    // 2. grading: the same submissions without and with the sandbox (CPU seconds per submission), then N in sandboxes
    const [s] = loadSources(source);
    const made = makeSubmissions(s.release);
    // the quick kinds only (the infinite loop and process.exit ones are slow by design)
    const kinds = ["correct", "partly_wrong", "empty", "deleted_tests", "tampered", "correct", "not_json", "correct"].map((k) => made[k]);
    /** Grades `count` submissions (the kinds in turn) in `jobs` at once; wall and CPU seconds (grader, kernels, sandboxes), wrong scores. */
    const run = async (name: string, count: number, sandbox: boolean) => {
      const subs = join(dir, `subs-${name}`);
      mkdirSync(subs);
      const expected = new Map<string, number>();
      for (let i = 0; i < count; i++) {
        const m = kinds[i % kinds.length];
        const id = `s${String(i).padStart(3, "0")}`;
        writeFileSync(join(subs, `${id}.ipynb`), m.content);
        expected.set(id, m.score);
      }
      const cpu0 = process.cpuUsage(), kernels0 = killedKernelsCpuSeconds();
      const t0 = Date.now();
      const summary = await grade({ source, submissions: subs, out: join(dir, `out-${name}`), jobs, sandbox, progress: process.stderr.isTTY ? process.stderr : null });
      const seconds = (Date.now() - t0) / 1000;
      const self = process.cpuUsage(cpu0);
      // (the grader's own and its kernels', each kernel's tree read just before it is killed: the same count with the sandbox and without)
      const cpuSeconds = (self.user + self.system) / 1e6 + (killedKernelsCpuSeconds() - kernels0);
      const wrong = summary.results.filter((r) => r.score !== expected.get(r.student)).map((r) => `${name} ${r.student}: ${r.score} != ${expected.get(r.student)}`);
      if (summary.results.length !== count) wrong.push(`${name}: ${summary.results.length} results for ${count} submissions`);
      return { seconds, cpuSeconds, wrong };
    };
    const pair = Math.min(n, 3 * kinds.length);
    const l2 = load();
    const bare = await run("bare", pair, false);
    const boxed = await run("boxed", pair, true);
    console.log(
      `[grader] the same ${pair} submissions, ${jobs} at once: ${(bare.cpuSeconds / pair).toFixed(2)} CPU-s per submission without the sandbox, ` +
        `${(boxed.cpuSeconds / pair).toFixed(2)} in it (${(((boxed.cpuSeconds - bare.cpuSeconds) / bare.cpuSeconds) * 100).toFixed(1)}%); ` +
        `${bare.seconds.toFixed(1)} s / ${boxed.seconds.toFixed(1)} s wall (load ${l2} before, ${load()} after)`,
    );
    const l1 = load();
    const main = await run("main", n, true);
    const wrong = [...bare.wrong, ...boxed.wrong, ...main.wrong];
    const perMinute = (n / main.seconds) * 60;
    console.log(
      `[grader] ${n} submissions of perceptron.ipynb, each in its sandbox, ${jobs} at once on ${cpus().length} cores (${cpus()[0]?.model ?? "?"}): ` +
        `${main.seconds.toFixed(1)} s, ${perMinute.toFixed(1)} submissions/min, ${(main.cpuSeconds / n).toFixed(2)} CPU-s per submission ` +
        `(load ${l1} before, ${load()} after); scores ${wrong.length ? `WRONG: ${wrong.slice(0, 5).join("; ")}` : "all right"}`,
    );
    return { submissions: n, jobs, seconds: main.seconds, perMinute, cpuPerSubmission: main.cpuSeconds / n, bareCpuPerSubmission: bare.cpuSeconds / pair, sandboxStartMs: alone.wallMs, wrong };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
