// Bundled by tests/engine/browser.test.ts for Chromium: the same ops on the page's main thread
// (no threads allowed there) and in a module Web Worker with 2 threads (Blob-URL workers on the
// shared WASM memory), reported as FNV-1a hashes of the result bits.
import * as gb from "../../../engine/index.ts";
import { poolInfo, setCallerTakesTasks, setMinWorkScale } from "../../../engine/backends/cpu/wasm/threads.ts";
import { wasmInfo } from "../../../engine/backends/cpu/kernels/index.ts";
import { residentStats, residentStorage, setResidentStorage } from "../../../engine/backends/cpu/wasm/heap.ts";

/**
 * The LeNet-5 loop as a PyTorch user writes it (batch 256, awaited backward, no tidy, nothing
 * disposed) for `steps` steps in one task, with the platform's default storage or "off": every
 * step's loss bits (FNV-1a), the storage mode, the tensor area's highest top, the tasks backward() took.
 */
export async function trainLoop(mode: "auto" | "off", steps: number): Promise<{ mode: string; losses: string; maxTop: number; taskPoints: number }> {
  setResidentStorage(mode);
  gb.manualSeed(3);
  const model = new gb.models.LeNet5();
  const opt = new gb.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = gb.rand([256, 1, 28, 28]), y = gb.randint(0, 10, [256]);
  const losses: number[] = [];
  let maxTop = 0;
  const tp0 = residentStats().taskPoints;
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    const loss = gb.nn.functional.crossEntropy(model.forward(x), y);
    await loss.backward();
    opt.step();
    losses.push(loss.dataSync()[0]);
    maxTop = Math.max(maxTop, residentStats().top);
  }
  const m = residentStorage();
  setResidentStorage("auto");
  return { mode: m, losses: hash(gb.tensor(losses)).hash, maxTop, taskPoints: residentStats().taskPoints - tp0 };
}

/** FNV-1a over the float32 bits, and a few values (to compare across FMA and no FMA). */
function hash(t: gb.Tensor): { hash: string; sample: number[] } {
  const v = Float32Array.from(t.dataSync());
  const bits = new Uint32Array(v.buffer);
  let h = 0x811c9dc5;
  for (const b of bits) for (let k = 0; k < 32; k += 8) h = Math.imul(h ^ ((b >>> k) & 255), 0x01000193) >>> 0;
  const sample: number[] = [];
  for (let i = 0; i < v.length; i += Math.max(1, Math.floor(v.length / 64))) sample.push(v[i]);
  return { hash: h.toString(16), sample };
}

/** The ops (seeded inputs): a matmul, a convolution with both gradients, exp / tanh / sigmoid over 300k floats. */
export function runOps(): Record<string, { hash: string; sample: number[] }> {
  gb.manualSeed(7);
  const a = gb.randn([96, 200]), b = gb.randn([200, 150]);
  const x = gb.randn([4, 3, 20, 20], { requiresGrad: true }), w = gb.randn([8, 3, 5, 5], { requiresGrad: true });
  const y = gb.nn.functional.conv2d(x, w, null, { padding: 2 });
  y.mul(gb.randn(y.shape)).sum().backward();
  const v = gb.randn([300_001]).mul(4);
  // a conv bias gradient's row sums (the SIMD module's sumrows); the fused cross-entropy and its gradient
  const rows = gb.randn([64, 6, 28, 28]).sum([0, 2, 3]), cols = gb.randn([256, 120]).sum(0);
  const logits = gb.randn([256, 10], { requiresGrad: true }).mul(3), labels = gb.randint(0, 10, [256]);
  const loss = gb.nn.functional.crossEntropy(logits, labels);
  logits.retainGrad();
  loss.backward();
  // 2x2 average pooling after tanh: the fused gradient of both (the SIMD module's avgpool2grad_tanh)
  const z = gb.randn([8, 6, 12, 14], { requiresGrad: true });
  gb.nn.functional.avgPool2d(z.tanh(), 2).mul(gb.randn([8, 6, 6, 7])).sum().backward();
  // and 2x2 max pooling after relu (maxpool2grad_relu)
  const zr = gb.randn([8, 6, 12, 14], { requiresGrad: true });
  gb.nn.functional.maxPool2d(zr.relu(), 2).mul(gb.randn([8, 6, 6, 7])).sum().backward();
  // SGD with momentum and Adam, 3 steps on a parameter large enough for the SIMD module's updates
  const sgdP = gb.randn([1001], { requiresGrad: true }), adamP = gb.randn([1001], { requiresGrad: true });
  const sgd = new gb.optim.SGD([sgdP], { lr: 0.1, momentum: 0.9, nesterov: true }), adam = new gb.optim.Adam([adamP], { lr: 0.01 });
  for (let s = 0; s < 3; s++) {
    sgdP.grad = gb.randn([1001]);
    adamP.grad = gb.randn([1001]);
    sgd.step();
    adam.step();
  }
  const biased = gb.randn([256, 120]).add(gb.randn([120])); // a row broadcast on the SIMD module
  return { biasAdd: hash(biased), sgd: hash(sgdP), adam: hash(adamP), matmul: hash(a.matmul(b)), conv: hash(y), convDx: hash(x.grad!), convDw: hash(w.grad!), exp: hash(v.exp()), tanh: hash(v.tanh()), sigmoid: hash(v.sigmoid()), sumRows: hash(rows), sumCols: hash(cols), crossEntropy: hash(loss), crossEntropyDx: hash(logits.grad!), poolTanhDz: hash(z.grad!), poolReluDz: hash(zr.grad!) };
}

const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined";
if (inWorker) {
  (globalThis as unknown as { onmessage: unknown }).onmessage = async () => {
    const post = (m: unknown) => (globalThis as unknown as { postMessage: (m: unknown) => void }).postMessage(m);
    try {
      gb.setNumThreads(1);
      const one = runOps();
      gb.setNumThreads(2);
      setMinWorkScale(0); // every op that can be split uses the threads
      runOps(); // starts the pool's worker
      await new Promise((r) => setTimeout(r, 500)); // (a Web Worker starts asynchronously)
      setCallerTakesTasks(false); // then the pool's worker computes every task
      const before = poolInfo().workerTasks;
      const two = runOps();
      const pool = { threads: gb.getNumThreads(), workers: poolInfo().workers, workerTasks: poolInfo().workerTasks - before };
      // the training loop on 1 thread: the default storage (resident, reclaimed between tasks) and ordinary arrays
      setCallerTakesTasks(true);
      setMinWorkScale(1);
      gb.setNumThreads(1);
      const trainOff = await trainLoop("off", 60), trainAuto = await trainLoop("auto", 60);
      post({ trainOff, trainAuto, one, two, fma: wasmInfo().fma, ...pool, isolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated });
    } catch (e) {
      post({ error: String((e as Error)?.stack ?? e) });
    }
  };
} else {
  (globalThis as { gbTest?: unknown }).gbTest = {
    main: () => ({ results: runOps(), fma: wasmInfo().fma, wasm: wasmInfo().wasm, threads: gb.getNumThreads(), isolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated }),
    worker: () =>
      new Promise((resolve) => {
        const wk = new Worker("page.js", { type: "module" });
        wk.onmessage = (e) => resolve(e.data);
        wk.onerror = (e) => resolve({ error: `worker error: ${e.message}` });
        wk.postMessage("go");
      }),
  };
}
