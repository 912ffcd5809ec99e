/**
 * Engine CPU benchmark: matmul 512/1024 and a LeNet-5 training step at batch 256,
 * gradbook against PyTorch CPU (Debian python3-torch) measured in the same run.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as gb from "../engine/index.js";

function bestOf(fn: () => void, reps: number, rounds = 3): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return best / 1e3;
}

async function bestOfAsync(fn: () => Promise<void>, reps: number, rounds = 3): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await fn();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return best / 1e3;
}

export interface EngineBenchResult {
  matmul512: number;
  matmul1024: number;
  lenetImagesPerS: number;
  lenetStepMs: number;
}

export async function measureEngine(batch = 256): Promise<EngineBenchResult> {
  gb.manualSeed(0);
  const res: Partial<EngineBenchResult> = {};
  for (const n of [512, 1024]) {
    const a = gb.randn([n, n]), b = gb.randn([n, n]);
    a.matmul(b);
    const t = bestOf(() => void a.matmul(b), n === 512 ? 10 : 4);
    res[n === 512 ? "matmul512" : "matmul1024"] = (2 * n ** 3) / t / 1e9;
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
  for (let i = 0; i < 3; i++) await step();
  const t = await bestOfAsync(step, 5);
  res.lenetStepMs = t * 1e3;
  res.lenetImagesPerS = batch / t;
  return res as EngineBenchResult;
}

export function measureTorch(threads = 1): Record<string, number> {
  const script = fileURLToPath(new URL("../bench/torch_cpu.py", import.meta.url));
  const out = execFileSync("/usr/bin/python3", [script, String(threads), "tanh", "avg"], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").pop()!);
}

export async function benchEngine(): Promise<void> {
  console.log("== engine (CPU): gradbook vs PyTorch CPU, same machine, same run ==");
  const ours = await measureEngine();
  let torch: Record<string, number> | null = null;
  try {
    torch = measureTorch(1);
  } catch (e) {
    console.log(`PyTorch reference unavailable (${(e as Error).message.split("\n")[0]}); install python3-torch`);
  }
  const row = (name: string, g: number, t: number | undefined, unit: string) =>
    console.log(`${name.padEnd(28)} gradbook ${g.toFixed(2).padStart(9)} ${unit}   pytorch(1 thread) ${t === undefined ? "      n/a" : t.toFixed(2).padStart(9)} ${unit}   ratio ${t ? (g / t).toFixed(3) : "n/a"}x`);
  row("matmul 512", ours.matmul512, torch?.matmul512_gflops, "GFLOP/s");
  row("matmul 1024", ours.matmul1024, torch?.matmul1024_gflops, "GFLOP/s");
  row("LeNet-5 train step b=256", ours.lenetImagesPerS, torch?.lenet_images_per_s, "img/s");
}
