// Host time of LeNet-5 training steps on the WebGPU backend: the JavaScript of each step (autograd,
// pipeline lookup, dispatch encoding) timed without waiting for the GPU, and the wall time per step.
// Usage: XDG_RUNTIME_DIR=/tmp node bench/gpu-host-time.mjs [batch=16] [steps=100] [built engine=dist/gradbook.js]
// (a software adapter such as lavapipe is allowed: this measures the host side, not the GPU).
import path from "node:path";
import { pathToFileURL } from "node:url";

const [batch = 16, steps = 100] = process.argv.slice(2, 4).map(Number);
const gb = await import(pathToFileURL(path.resolve(process.argv[4] ?? "dist/gradbook.js")).href);
console.log(await gb.initGpu({ allowSoftware: true }));
gb.setDefaultDevice("gpu");
const model = new gb.models.LeNet5();
const x = gb.rand([batch, 1, 28, 28]), y = gb.randint(0, 10, [batch]);
const opt = new gb.optim.SGD(model.parameters(), { lr: 0.01 });
const step = () => gb.tidy(async () => {
  opt.zeroGrad();
  await gb.nn.F.crossEntropy(model.forward(x), y).backward();
  opt.step();
});
for (let i = 0; i < 5; i++) await step();
await gb.gpuSync();
const m0 = gb.gpuMemory();
let host = 0;
const t0 = performance.now();
for (let i = 0; i < steps; i++) {
  const h = performance.now();
  await step();
  host += performance.now() - h;
}
await gb.gpuSync();
const m1 = gb.gpuMemory();
console.log(`batch ${batch}: host ${(host / steps).toFixed(3)} ms/step, wall ${((performance.now() - t0) / steps).toFixed(3)} ms/step, ` +
  `${(m1.numDispatches - m0.numDispatches) / steps} dispatches and ${(m1.numSubmits - m0.numSubmits) / steps} submits per step`);
gb.releaseGpu();
