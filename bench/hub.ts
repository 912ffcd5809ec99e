/**
 * A class's hub under load: N students (default 20) log in to a real gradbook hub on this
 * machine, each gets a server and a gradbook kernel, and each executes a cell every second for
 * the run's length (default 300 s). Prints: every execution answered or not (and their round
 * trip), the hub API's latency (GET /hub/api/user and /hub/api/users/NAME with the students'
 * tokens, polled meanwhile: p50, p95, max) and each server's memory (its control group: the
 * server, its kernel and what they started; peak and mean), with the machine's load.
 *
 *   npm run bench -- --hub
 *   GRADBOOK_BENCH_HUB_USERS=5 GRADBOOK_BENCH_HUB_SECONDS=60 npm run bench -- --hub   (shorter)
 * Runs as root (the hub does). Not part of the default bench run.
 */
import { existsSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { KernelManager, SessionManager } from "@jupyterlab/services";
import { api, login, runCode, serverSettings, startHub, startServer } from "../tests/class/hub-helpers.ts";

export interface HubBench {
  users: number;
  seconds: number;
  executions: number;
  unanswered: number;
  failed: number;
  cellMs: { p50: number; p95: number; max: number };
  hubApiMs: { p50: number; p95: number; max: number; calls: number };
  /** Per server: the group's charged memory (what the limit counts) and its anonymous part, MiB. */
  serverMiB: { user: string; peak: number; mean: number; anonPeak: number }[];
}

const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const stats = (xs: number[]) => ({ p50: pct(xs, 50), p95: pct(xs, 95), max: xs.length ? Math.max(...xs) : NaN });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The memory of the control group that holds PID (the user's server and all it started): what the
 * limit counts (v1 memory.usage_in_bytes, v2 memory.current: anonymous memory and the page cache
 * charged to the group) and the anonymous part alone (v1 total_rss, v2 anon).
 */
function cgroupMemory(pid: number): () => { charged: number; anon: number } {
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  const stat = (file: string, key: string) => Number(new RegExp(`^${key} (\\d+)$`, "m").exec(readFileSync(file, "utf8"))?.[1] ?? NaN);
  if (v1 && existsSync("/sys/fs/cgroup/memory")) {
    const dir = join("/sys/fs/cgroup/memory", v1.split(":").slice(2).join(":"));
    return () => ({ charged: Number(readFileSync(join(dir, "memory.usage_in_bytes"), "utf8")), anon: stat(join(dir, "memory.stat"), "total_rss") });
  }
  const dir = join("/sys/fs/cgroup", lines.find((l) => l.startsWith("0::"))!.slice(3));
  return () => ({ charged: Number(readFileSync(join(dir, "memory.current"), "utf8")), anon: stat(join(dir, "memory.stat"), "anon") });
}

export async function benchHub(users = Number(process.env.GRADBOOK_BENCH_HUB_USERS ?? 20), seconds = Number(process.env.GRADBOOK_BENCH_HUB_SECONDS ?? 300)): Promise<HubBench> {
  const students = Array.from({ length: users }, (_, i) => `s${String(i + 1).padStart(2, "0")}`);
  const loadBefore = loadavg();
  const t0 = Date.now();
  const hub = await startHub({ students, instructors: ["prof"], memoryMb: 1024, cpus: 1, notebooks: null });
  const sessions: { user: string; kernel: any; dispose(): Promise<void>; memory: () => { charged: number; anon: number } }[] = [];
  try {
    const tokens: Record<string, string> = {};
    for (const u of students) tokens[u] = (await login(hub, u, hub.password))!;
    // servers in groups of 4 (each start is a Python process loading the server: seconds of CPU)
    for (let i = 0; i < students.length; i += 4) await Promise.all(students.slice(i, i + 4).map((u) => startServer(hub, u, tokens[u], 300_000)));
    for (const u of students) {
      const settings = serverSettings(hub, u, tokens[u]);
      const kernels = new KernelManager({ serverSettings: settings });
      const sm = new SessionManager({ serverSettings: settings, kernelManager: kernels });
      const s = await sm.startNew({ path: "load.ipynb", type: "notebook", name: "load.ipynb", kernel: { name: "gradbook" } });
      const pid = Number(await runCode(s.kernel, "let n = 0; process.pid"));
      sessions.push({ user: u, kernel: s.kernel, memory: cgroupMemory(pid), dispose: async () => (await s.shutdown().catch(() => {}), sm.dispose(), kernels.dispose()) });
    }
    console.log(`[hub] ${users} servers and kernels up in ${((Date.now() - t0) / 1000).toFixed(0)} s; load: a cell a second each for ${seconds} s`);

    const cellMs: number[] = [];
    let executions = 0, unanswered = 0, failed = 0;
    const hubMs: number[] = [];
    const mem = new Map<string, { charged: number; anon: number }[]>(students.map((u) => [u, []]));
    const end = Date.now() + seconds * 1000;
    const clients = sessions.map(async (s, i) => {
      await sleep((i * 1000) / sessions.length); // spread over the second
      let next = Date.now();
      while (Date.now() < end) {
        const t = Date.now();
        executions++;
        const future = s.kernel.requestExecute({ code: "n += 1; Math.sqrt(n)" });
        const reply = await Promise.race([future.done.then((r: any) => r.content.status), sleep(30_000).then(() => "timeout")]);
        if (reply === "timeout") unanswered++;
        else if (reply !== "ok") failed++;
        else cellMs.push(Date.now() - t);
        next += 1000;
        await sleep(Math.max(0, next - Date.now()));
      }
    });
    const poller = (async () => {
      let k = 0;
      while (Date.now() < end) {
        const u = students[k++ % students.length];
        const t = Date.now();
        const r = await api(hub, tokens[u], "GET", k % 2 ? "hub/api/user" : `hub/api/users/${u}`);
        if (r.status === 200) hubMs.push(Date.now() - t);
        await sleep(250);
      }
    })();
    const sampler = (async () => {
      while (Date.now() < end) {
        for (const s of sessions) {
          try {
            mem.get(s.user)!.push(s.memory());
          } catch {}
        }
        await sleep(5000);
      }
    })();
    await Promise.all([...clients, poller, sampler]);
    const loadAfter = loadavg();

    const serverMiB = students.map((u) => {
      const xs = mem.get(u)!.map((b) => b.charged / (1 << 20));
      return { user: u, peak: Math.max(...xs), mean: xs.reduce((a, b) => a + b, 0) / xs.length, anonPeak: Math.max(...mem.get(u)!.map((b) => b.anon / (1 << 20))) };
    });
    const r: HubBench = { users, seconds, executions, unanswered, failed, cellMs: stats(cellMs), hubApiMs: { ...stats(hubMs), calls: hubMs.length }, serverMiB };
    const f = (x: number) => x.toFixed(0);
    console.log(`[hub] load average before ${loadBefore.map((x) => x.toFixed(1)).join(" ")}, after ${loadAfter.map((x) => x.toFixed(1)).join(" ")}`);
    console.log(`[hub] executions: ${executions}, answered ${executions - unanswered}${unanswered ? ` (${unanswered} NOT ANSWERED in 30 s)` : " (all)"}, errors ${failed}; round trip p50 ${f(r.cellMs.p50)} ms, p95 ${f(r.cellMs.p95)} ms, max ${f(r.cellMs.max)} ms`);
    console.log(`[hub] hub API (${r.hubApiMs.calls} calls): p50 ${f(r.hubApiMs.p50)} ms, p95 ${f(r.hubApiMs.p95)} ms, max ${f(r.hubApiMs.max)} ms`);
    const peaks = serverMiB.map((s) => s.peak), anon = serverMiB.map((s) => s.anonPeak);
    console.log(`[hub] memory per server (server + kernel, its cgroup, as the limit counts it): peak ${f(Math.min(...peaks))}-${f(Math.max(...peaks))} MiB (median ${f(pct(peaks, 50))}), all ${users}: ${f(peaks.reduce((a, b) => a + b, 0))} MiB`);
    console.log(`[hub] of which anonymous (not page cache): peak ${f(Math.min(...anon))}-${f(Math.max(...anon))} MiB (median ${f(pct(anon, 50))})`);
    for (const s of serverMiB) console.log(`[hub]   ${s.user}: peak ${f(s.peak)} MiB (anonymous ${f(s.anonPeak)}), mean ${f(s.mean)} MiB`);
    return r;
  } finally {
    for (const s of sessions) await s.dispose();
    await hub.stop();
  }
}
