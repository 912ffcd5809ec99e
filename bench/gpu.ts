/**
 * `npm run bench -- --gpu`: the WebGPU backend against PyTorch CUDA (TF32 off), same machine, same run:
 * fp32 matmul 1024/2048/4096, a LeNet-5 training step at batch 64/256/1024, AlexNet forward and
 * training step at batch 128 (224x224). Prints a "no GPU" line when WebGPU finds no adapter.
 * The PyTorch side runs bench/torch_gpu.py with $GB_TORCH_PYTHON (default python3; needs a CUDA build).
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as gb from "../engine/index.js";
import { setGemmTile, setGemmTiling, type Tile } from "../engine/backends/webgpu/gemm.js";
import type { Tensor } from "../engine/index.js";

/** Seconds per call of `fn` (best of 3 rounds), waiting for the GPU to finish each round. */
async function timeGpu(fn: () => void | Promise<void>, reps: number): Promise<number> {
  await fn();
  await gb.gpuSync();
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await fn();
    await gb.gpuSync();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  return best / 1e3;
}

/** One plain-SGD training step inside tidy (every temporary freed at the end). */
function trainStep(model: gb.nn.Module, x: Tensor, y: Tensor, lr = 0.01): () => Promise<void> {
  return async () => {
    await gb.tidy(async () => {
      model.zeroGrad();
      const loss = gb.nn.F.crossEntropy(model.forward(x) as Tensor, y);
      await loss.backward();
      gb.noGrad(() => {
        for (const p of model.parameters()) if (p.grad) p.assign(p.sub(p.grad.mul(lr)));
      });
      model.zeroGrad();
    });
  };
}

function torchCuda(): Record<string, number | string | boolean | object> | null {
  const py = process.env.GB_TORCH_PYTHON ?? "python3";
  try {
    const script = fileURLToPath(new URL("../bench/torch_gpu.py", import.meta.url));
    const out = execFileSync(py, [script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 600_000 });
    return JSON.parse(out.trim().split("\n").pop()!);
  } catch (e) {
    console.log(`PyTorch CUDA reference failed to run with ${py}: ${(e as Error).message.split("\n")[0]}`);
    return null;
  }
}

export async function benchGpu(): Promise<void> {
  console.log("== WebGPU backend vs PyTorch CUDA (fp32, TF32 off), same machine, same run ==");
  try {
    const desc = await gb.initGpu();
    console.log(`adapter: ${desc}`);
  } catch (e) {
    console.log(`no GPU: ${(e as Error).message.replace(/^initGpu: /, "")} — GPU benchmark skipped`);
    return;
  }
  gb.setDefaultDevice("gpu");
  gb.manualSeed(0);
  // GB_GPU_BENCH_QUICK=1: tiny sizes, to check the benchmark runs (e.g. on lavapipe); the labels keep the full sizes
  const quick = !!process.env.GB_GPU_BENCH_QUICK;
  if (quick) console.log("quick mode: tiny sizes (matmul n/8, batch/16, AlexNet batch 2): not a measurement");
  const ours: Record<string, number> = {};
  const hostMs: Record<number, number> = {};
  for (const n0 of [1024, 2048, 4096]) {
    const n = quick ? n0 / 8 : n0;
    const a = gb.randn([n, n]), b = gb.randn([n, n]);
    const t = await timeGpu(() => gb.tidy(() => void a.matmul(b)), n < 4096 ? 20 : 10);
    ours[`matmul${n0}_tflops`] = (2 * n ** 3) / t / 1e12;
    gb.dispose([a, b]);
  }
  for (const b0 of [64, 256, 1024]) {
    const batch = quick ? b0 / 16 : b0;
    const model = new gb.models.LeNet5();
    const x = gb.rand([batch, 1, 28, 28]), y = gb.randint(0, 10, [batch]);
    const step = trainStep(model, x, y);
    const t = await timeGpu(step, quick ? 2 : 20);
    ours[`lenet${b0}_images_per_s`] = batch / t;
    // host time: recording the step (autograd, WGSL pipelines looked up, dispatches encoded), GPU not awaited
    let host = 0;
    const reps = quick ? 2 : 20;
    for (let i = 0; i < reps; i++) {
      const h0 = performance.now();
      await step();
      host += performance.now() - h0;
    }
    await gb.gpuSync();
    hostMs[b0] = host / reps;
    gb.dispose([x, y, model.parameters()]);
  }
  try {
    const B = quick ? 2 : 128;
    const model = new gb.models.AlexNet();
    const x = gb.rand([B, 3, 224, 224]), y = gb.randint(0, 1000, [B]);
    model.eval();
    let t = await timeGpu(() => gb.tidy(() => gb.noGrad(() => void model.forward(x))), quick ? 1 : 5);
    ours.alexnet128_forward_images_per_s = B / t;
    model.train();
    t = await timeGpu(trainStep(model, x, y), quick ? 1 : 5);
    ours.alexnet128_train_images_per_s = B / t;
  } catch (e) {
    console.log(`AlexNet skipped: ${(e as Error).message.split("\n")[0]}`);
  }
  const torch = quick ? null : torchCuda();
  if (torch && !torch.cuda) console.log(`PyTorch ${torch.torch}: CUDA is not available — no reference column (set GB_TORCH_PYTHON to a CUDA build)`);
  else if (torch) console.log(`PyTorch ${torch.torch} on ${torch.device}, fp32 settings ${JSON.stringify(torch.fp32_precision)}`);
  const ref = torch && torch.cuda ? torch : null;
  // `target`: issue 19's goal for the ratio (gradbook / PyTorch), printed beside the ratio
  const row = (name: string, key: string, unit: string, target?: number) => {
    const g = ours[key], t = ref ? Number(ref[key]) : undefined;
    if (g === undefined) return console.log(`${name.padEnd(30)} gradbook        n/a`);
    const goal = target === undefined ? "" : `   target >= ${target}x${t ? (g / t >= target ? " (met)" : " (NOT met)") : ""}`;
    console.log(`${name.padEnd(30)} gradbook ${g.toFixed(2).padStart(10)} ${unit}   pytorch-cuda ${t === undefined ? "       n/a" : t.toFixed(2).padStart(10)} ${unit}   ratio ${t ? (g / t).toFixed(3) + "x" : "n/a"}${goal}`);
  };
  for (const n of [1024, 2048, 4096]) row(`matmul ${n}`, `matmul${n}_tflops`, "TFLOP/s", n === 4096 ? 0.8 : undefined);
  for (const b of [64, 256, 1024]) row(`LeNet-5 train step b=${b}`, `lenet${b}_images_per_s`, "img/s", b === 256 ? 1.0 : undefined);
  for (const b of [64, 256, 1024]) if (hostMs[b] !== undefined) console.log(`LeNet-5 b=${b}: ${hostMs[b].toFixed(2)} ms of host time per step (recording; the GPU step time is ${(1000 * (quick ? b / 16 : b) / ours[`lenet${b}_images_per_s`]).toFixed(2)} ms)`);
  row("AlexNet forward b=128", "alexnet128_forward_images_per_s", "img/s");
  row("AlexNet train step b=128", "alexnet128_train_images_per_s", "img/s", 0.4);
  console.log(`GPU memory: ${JSON.stringify(gb.gpuMemory())}`);
  gb.releaseGpu();
}

/** The GEMM variants `npm run bench -- --gpu-sweep` times (the first is the default for large products). */
export const GEMM_VARIANTS: Tile[] = [
  { BM: 128, BN: 128, TM: 8, TN: 8, BK: 8, vec4: true, prefetch: true },
  { BM: 128, BN: 128, TM: 8, TN: 8, BK: 8 },
  { BM: 128, BN: 128, TM: 8, TN: 8, BK: 8, prefetch: true },
  { BM: 128, BN: 128, TM: 8, TN: 8, BK: 8, vec4: true },
  { BM: 128, BN: 128, TM: 8, TN: 8, BK: 16 },
  { BM: 128, BN: 128, TM: 8, TN: 8, BK: 16, vec4: true },
  { BM: 128, BN: 128, TM: 8, TN: 8, BK: 16, vec4: true, prefetch: true },
  { BM: 128, BN: 64, TM: 8, TN: 4, BK: 16, vec4: true, prefetch: true },
  { BM: 64, BN: 128, TM: 4, TN: 8, BK: 16, vec4: true, prefetch: true },
  { BM: 128, BN: 128, TM: 8, TN: 8, BK: 32, vec4: true, prefetch: true },
];

/**
 * `npm run bench -- --gpu-sweep`: each GEMM variant at 2048 and 4096 (TFLOP/s, best of 3 rounds),
 * checked first against the default kernel at 1000 and 1024 (relative error under 1e-5).
 */
export async function benchGemmSweep(): Promise<void> {
  console.log("== GEMM variants on WebGPU (fp32 TFLOP/s) ==");
  try {
    console.log(`adapter: ${await gb.initGpu()}`);
  } catch (e) {
    console.log(`no GPU: ${(e as Error).message.replace(/^initGpu: /, "")} — sweep skipped`);
    return;
  }
  gb.setDefaultDevice("gpu");
  setGemmTiling("always"); // also on a software adapter, where "auto" keeps the simple kernel
  const quick = !!process.env.GB_GPU_BENCH_QUICK;
  const sizes = quick ? [512] : [2048, 4096];
  gb.manualSeed(0);
  const checks = [1000, 1024].map((n) => [gb.randn([n, n]), gb.randn([n, n])] as const);
  const refs = await Promise.all(checks.map(async ([a, b]) => a.matmul(b).data()));
  for (const t of GEMM_VARIANTS) {
    const name = `${t.BM}x${t.BN} ${t.TM}x${t.TN} BK${t.BK}${t.vec4 ? " vec4" : ""}${t.prefetch ? " prefetch" : ""}`;
    setGemmTile(t);
    try {
      let worst = 0;
      for (let i = 0; i < checks.length; i++) {
        const got = await checks[i][0].matmul(checks[i][1]).data();
        let d = 0, r = 0;
        for (let j = 0; j < got.length; j++) (d += (got[j] - refs[i][j]) ** 2), (r += refs[i][j] ** 2);
        worst = Math.max(worst, Math.sqrt(d / r));
      }
      const cols: string[] = [];
      for (const n of sizes) {
        const a = gb.randn([n, n]), b = gb.randn([n, n]);
        const s = await timeGpu(() => gb.tidy(() => void a.matmul(b)), n < 4096 ? 20 : 10);
        cols.push(`${n}: ${((2 * n ** 3) / s / 1e12).toFixed(2).padStart(6)}`);
        gb.dispose([a, b]);
      }
      console.log(`${name.padEnd(40)} ${cols.join("   ")}   rel.err ${worst.toExponential(1)}${worst > 1e-5 ? "  WRONG" : ""}`);
    } catch (e) {
      console.log(`${name.padEnd(40)} failed: ${(e as Error).message.split("\n")[0]}`);
    } finally {
      setGemmTile(null);
    }
  }
  setGemmTiling("auto");
  gb.releaseGpu();
}
