/**
 * Kernel benchmark, measured with a real client (Debian's jupyter_client, via
 * bench/kernel_client.py): start-up until the first kernel_info_reply and the
 * median round trip of executing `1 + 1`; the same for ipykernel as the
 * reference when it is installed. Targets: at most 1.0 s and 5 ms.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PYTHON = "/usr/bin/python3";

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

interface Result {
  kernel: string;
  startup_s: number;
  startups_s: number[];
  first_cell_s: number;
  rtt_median_ms: number;
  rtt_p90_ms: number;
  executions: number;
}

function measure(root: string, env: NodeJS.ProcessEnv, kernel: string, starts: number, executions: number, firstCell: string): Result | null {
  const r = spawnSync(PYTHON, [join(root, "bench", "kernel_client.py"), kernel, String(starts), String(executions), firstCell], { env, encoding: "utf8", timeout: 600_000 });
  const line = (r.stdout ?? "").split("\n").find((l) => l.startsWith("{"));
  if (!line) {
    console.log(`  ${kernel}: failed (exit ${r.status}) ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" | ")}`);
    return null;
  }
  return JSON.parse(line);
}

export async function benchKernel(): Promise<void> {
  const root = findRoot();
  if (!existsSync(PYTHON)) {
    console.log("kernel: skipped (/usr/bin/python3 with jupyter_client is not installed)");
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), "gradbook-bench-kernel-"));
  try {
    const prefix = join(tmp, "prefix");
    const env = {
      ...process.env,
      JUPYTER_PATH: join(prefix, "share", "jupyter"),
      JUPYTER_DATA_DIR: join(tmp, "data"),
      JUPYTER_RUNTIME_DIR: join(tmp, "runtime"),
      PYTHONWARNINGS: "ignore",
    };
    execFileSync(process.execPath, [join(root, "bin", "gradbook.js"), "install", "--prefix", prefix], { env, stdio: "ignore" });
    const starts = Number(process.env.GRADBOOK_BENCH_KERNEL_STARTS ?? 5);
    const executions = Number(process.env.GRADBOOK_BENCH_KERNEL_EXECUTIONS ?? 200);
    console.log(`kernel (jupyter_client; median of ${starts} start-ups, median round trip of ${executions} executions of 1 + 1):`);
    // the first cell as "Run All" sends it right after start-up: a typed declaration and an expression
    const ours = measure(root, env, "gradbook", starts, executions, "const a: number = 20; a + 1");
    const hasIpykernel = spawnSync(PYTHON, ["-c", "import ipykernel"], { env }).status === 0;
    const ref = hasIpykernel ? measure(root, env, "python3", starts, executions, "a = 20; a + 1") : null;
    const row = (name: string, r: Result) =>
      console.log(`  ${name.padEnd(10)} start-up ${r.startup_s.toFixed(3)} s   first cell ${r.first_cell_s.toFixed(3)} s   1 + 1 round trip ${r.rtt_median_ms.toFixed(2)} ms (p90 ${r.rtt_p90_ms.toFixed(2)} ms)`);
    if (ours) row("gradbook", ours);
    if (ref) row("ipykernel", ref);
    else if (!hasIpykernel) console.log("  ipykernel: not installed (python3-ipykernel), no reference");
    if (ours && ref)
      console.log(
        `  ratio gradbook/ipykernel: start-up ${(ours.startup_s / ref.startup_s).toFixed(2)}x, first cell ${(ours.first_cell_s / ref.first_cell_s).toFixed(1)}x, round trip ${(ours.rtt_median_ms / ref.rtt_median_ms).toFixed(2)}x`,
      );
    if (ours) console.log(`  targets: start-up <= 1.0 s ${ours.startup_s <= 1 ? "met" : "NOT met"}, round trip <= 5 ms ${ours.rtt_median_ms <= 5 ? "met" : "NOT met"}`);
    const load = loadavg()[0];
    if (load > cpus().length) console.log(`  (load average ${load.toFixed(1)} on ${cpus().length} CPUs during the run: absolute times are inflated, compare the ratio)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
