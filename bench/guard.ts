/**
 * `npm run bench -- --guard`: what the kernel's memory guard (kernel/guard/) costs and how fast
 * it stops a runaway cell, through Debian's jupyter_client. The cost: the same cells in a kernel
 * with the guard off (GRADBOOK_MEMORY_LIMIT=off) and on (the default limit), alternated, CPU time
 * of the whole kernel process per run (process.cpuUsage in the cell) and wall time; medians and
 * their ratio. The stops: with a 256 MiB limit, each runaway cell of the guard's tests, the time
 * to its error reply, the memory it had reached, and the memory once its variable is released.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PYTHON = "/usr/bin/python3";

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Cells whose cost is measured: each returns [process CPU µs, wall ms] of its work. */
const WORKLOADS: Record<string, string> = {
  "LeNet-5, 10 training steps of 64 images (CPU)": `
const nn = gb.nn;
const model = new nn.Sequential(new nn.Conv2d(1, 6, 5, { padding: 2 }), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Conv2d(6, 16, 5), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(400, 120), new nn.ReLU(), new nn.Linear(120, 84), new nn.ReLU(), new nn.Linear(84, 10));
const opt = new gb.optim.SGD(model.parameters(), { lr: 0.01 });
const x = gb.randn([64, 1, 28, 28]), y = gb.randint(0, 10, [64]);
const c0 = process.cpuUsage(), t0 = performance.now();
for (let i = 0; i < 10; i++) { opt.zeroGrad(); const loss = nn.F.crossEntropy(model.forward(x) as any, y); await loss.backward(); opt.step(); }
const c = process.cpuUsage(c0);
[c.user + c.system, performance.now() - t0]`,
  "a synchronous loop allocating 200,000 objects and 2,000 64 KiB arrays": `
const c0 = process.cpuUsage(), t0 = performance.now();
let keepSome: unknown[] = [];
for (let i = 0; i < 200000; i++) { keepSome.push({ i, s: "v" + i }); if (i % 100 === 0) keepSome.push(new Float32Array(16384)); if (keepSome.length > 5000) keepSome = []; }
const c = process.cpuUsage(c0);
[c.user + c.system, performance.now() - t0]`,
};

const RUNAWAYS: Record<string, [string, string]> = {
  "array buffers (128 MiB each, not written)": ["const keep: Float64Array[] = []; for (;;) keep.push(new Float64Array(1 << 24))", "keep.length = 0"],
  "array buffers (32 MiB each, written), async": ["const chunks: Float64Array[] = []; for (;;) { chunks.push(new Float64Array(1 << 22).fill(1)); await null }", "chunks.length = 0"],
  "JS objects": ["const objs: any[] = []; for (let i = 0;; i++) objs.push({ i, name: 'item ' + i, pair: [i, -i] })", "objs.length = 0"],
  "tensors from the WASM GEMM": ["const a = gb.randn([512, 16]), b = gb.randn([16, 512]); const ts: any[] = []; for (;;) ts.push(gb.matmul(a, b))", "ts.length = 0"],
};

const SCRIPT = `
import json, os, sys, time
from jupyter_client.manager import start_new_kernel
spec = json.loads(sys.argv[1])
IN_USE = "const s = (globalThis as any)[Symbol.for('gradbook.memorySampler')]; s(2); await new Promise((r) => setTimeout(r, 10)); const u = s(0); u[0] + u[1] + u[2]"
def start(env):
    os.environ.update(env)
    km, kc = start_new_kernel(kernel_name="gradbook")
    return km, kc
def run(kc, code, timeout=300):
    msg = kc.execute(code)
    t = time.time()
    while True:
        r = kc.get_shell_msg(timeout=timeout)
        if r["parent_header"].get("msg_id") == msg:
            break
    took = time.time() - t
    value = None
    while True:
        m = kc.get_iopub_msg(timeout=timeout)
        if m["parent_header"].get("msg_id") != msg:
            continue
        if m["msg_type"] == "execute_result":
            value = m["content"]["data"]["text/plain"]
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
    return r["content"], took, value
out = {"cost": {}, "stops": {}}
kernels = {"off": start({"GRADBOOK_MEMORY_LIMIT": "off"}), "on": start({"GRADBOOK_MEMORY_LIMIT": "75%"})}
for name, code in spec["workloads"].items():
    runs = {"off": [], "on": []}
    for k in range(spec["repeats"]):
        for mode in (("off", "on") if k % 2 == 0 else ("on", "off")):
            reply, took, value = run(kernels[mode][1], code)
            if reply["status"] != "ok":
                raise SystemExit(f"{name} failed: {reply}")
            runs[mode].append(json.loads(value.replace("'", '"')))
    out["cost"][name] = runs
for km, kc in kernels.values():
    kc.stop_channels()
    km.shutdown_kernel(now=True)
km, kc = start({"GRADBOOK_MEMORY_LIMIT": "256M"})
base = float(run(kc, IN_USE)[2])
for name, (cell, free) in spec["runaways"].items():
    reply, took, _ = run(kc, cell)
    held = float(run(kc, IN_USE)[2])
    run(kc, free)
    freed = float(run(kc, IN_USE)[2])
    out["stops"][name] = {"ename": reply.get("ename"), "evalue": reply.get("evalue"), "took": took, "held": held, "freed": freed, "base": base}
kc.stop_channels()
km.shutdown_kernel(now=True)
print("RESULT " + json.dumps(out))
`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

export async function benchGuard(): Promise<void> {
  const root = findRoot();
  if (!existsSync(PYTHON)) {
    console.log("guard: skipped (/usr/bin/python3 with jupyter_client is not installed)");
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), "gradbook-bench-guard-"));
  try {
    const prefix = join(tmp, "prefix");
    const env = { ...process.env, JUPYTER_PATH: join(prefix, "share", "jupyter"), JUPYTER_DATA_DIR: join(tmp, "data"), JUPYTER_RUNTIME_DIR: join(tmp, "runtime"), PYTHONWARNINGS: "ignore" };
    execFileSync(process.execPath, [join(root, "bin", "gradbook.js"), "install", "--prefix", prefix], { env, stdio: "ignore" });
    const script = join(tmp, "guard.py");
    writeFileSync(script, SCRIPT);
    const repeats = Number(process.env.GRADBOOK_BENCH_GUARD_REPEATS ?? 7);
    const load = loadavg()[0];
    const r = spawnSync(PYTHON, [script, JSON.stringify({ workloads: WORKLOADS, runaways: RUNAWAYS, repeats })], { env, cwd: tmp, encoding: "utf8", timeout: 1_800_000 });
    const line = (r.stdout ?? "").split("\n").find((l) => l.startsWith("RESULT "));
    if (!line) throw new Error(`the guard benchmark failed (exit ${r.status}): ${(r.stderr ?? "").trim().split("\n").slice(-5).join(" | ")}`);
    const out = JSON.parse(line.slice(7));
    console.log(`guard (jupyter_client; load ${load.toFixed(1)} -> ${loadavg()[0].toFixed(1)}): the same cells with the memory guard off and on (default limit), ${repeats} runs each, alternated; medians`);
    console.log(`  ${"".padEnd(72)}${"off".padStart(12)}${"on".padStart(12)}${"on/off".padStart(9)}`);
    for (const [name, runs] of Object.entries(out.cost) as [string, { off: [number, number][]; on: [number, number][] }][]) {
      const cpu = (m: "off" | "on") => median(runs[m].map((x) => x[0] / 1000));
      const wall = (m: "off" | "on") => median(runs[m].map((x) => x[1]));
      console.log(`  ${`${name}: CPU`.padEnd(72)}${`${cpu("off").toFixed(1)} ms`.padStart(12)}${`${cpu("on").toFixed(1)} ms`.padStart(12)}${`${(cpu("on") / cpu("off")).toFixed(3)}x`.padStart(9)}`);
      console.log(`  ${`${name}: wall`.padEnd(72)}${`${wall("off").toFixed(1)} ms`.padStart(12)}${`${wall("on").toFixed(1)} ms`.padStart(12)}${`${(wall("on") / wall("off")).toFixed(3)}x`.padStart(9)}`);
    }
    console.log("  runaway cells, limit 256 MiB: time to the error reply, memory reached (what the guard counts), in use once the variable is released (before the cell)");
    for (const [name, s] of Object.entries(out.stops) as [string, { ename: string; took: number; held: number; freed: number; base: number }][]) {
      console.log(`  ${name.padEnd(48)}${String(s.ename).padStart(12)}${`${s.took.toFixed(2)} s`.padStart(9)}${mib(s.held).padStart(11)}${`${mib(s.freed)} (${mib(s.base)})`.padStart(20)}`);
      if (s.ename !== "MemoryError") process.exitCode = 1;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
