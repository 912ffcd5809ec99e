// GPU memory: the buffer pool, tidy()/keep()/dispose(), and LeNet-5 training steps
// that must not grow GPU memory. Values are checked against the CPU backend
// (itself tested against PyTorch), memory through gb.gpuMemory().
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";
import { gpuContext } from "../../../engine/backends/webgpu/api.ts";
import { mismatch, startGpu } from "./gpu.ts";

const hasGpu = await startGpu();
const mem = () => gb.gpuMemory()!;

/** LeNet-5 (28x28 input, C1 padded by 2) from gb.nn layers. */
function lenet(): gb.nn.Module {
  const nn = gb.nn;
  return new nn.Sequential(
    new nn.Conv2d(1, 6, 5, { padding: 2 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(6, 16, 5), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(16 * 5 * 5, 120), new nn.ReLU(),
    new nn.Linear(120, 84), new nn.ReLU(),
    new nn.Linear(84, 10),
  );
}

/** One SGD step of `model` on (x, y); returns the loss (kept by tidy as the result). */
function step(model: gb.nn.Module, x: Tensor, y: Tensor, lr: number): Tensor {
  return gb.tidy(() => {
    model.zeroGrad();
    const loss = gb.nn.F.crossEntropy(model.forward(x) as Tensor, y);
    // backward is async only for GPU->CPU moves; here everything is on one device
    void loss.backward();
    gb.noGrad(() => {
      for (const p of model.parameters()) p.assign(p.sub(p.grad!.mul(lr)));
    });
    model.zeroGrad();
    return loss.detach();
  });
}

describe.skipIf(!hasGpu)("GPU memory", { timeout: 300_000 }, () => {
  beforeAll(() => gb.setDefaultDevice("gpu"));
  afterAll(() => gb.releaseGpu());

  it("tidy frees what was made inside, except the result and kept tensors", async () => {
    const a = gb.randn([64, 64]);
    const before = mem().bytesInUse;
    let kept: Tensor | null = null;
    const r = gb.tidy(() => {
      const b = a.matmul(a).relu();
      const c = b.add(1).mul(2);
      kept = gb.keep(b.sum(0));
      return { c, list: [c.sum()] };
    });
    // alive: c (64x64), its sum, the kept sum
    expect(mem().bytesInUse - before).toBe(64 * 64 * 4 + 16 + 256);
    gb.dispose([r, kept]);
    expect(mem().bytesInUse).toBe(before);
  });

  it("nested tidy hands returned tensors to the outer scope", () => {
    const before = mem().bytesInUse;
    gb.tidy(() => {
      const inner = gb.tidy(() => gb.ones([1000]).add(1));
      expect(mem().bytesInUse - before).toBe(4000);
      return null;
      void inner;
    });
    expect(mem().bytesInUse).toBe(before);
  });

  it("a tensor used after dispose is a clear error; dispose twice is harmless", async () => {
    const t = gb.ones([10]);
    t.dispose();
    t.dispose();
    expect(() => t.add(1)).toThrow(/used after it was disposed/);
    await expect(t.data()).rejects.toThrow(/used after it was disposed/);
  });

  // memory deltas are measured without an await in between: the garbage collector's
  // safety net (FinalizationRegistry) may free earlier tests' tensors at any await
  it("reshape shares the buffer; it is freed with the last view", async () => {
    let before = mem().bytesInUse;
    const i = gb.arange(12);
    const t = i.float();
    const v = t.reshape([3, 4]);
    expect(mem().bytesInUse - before).toBe(48 + 48); // arange (int32) + float copy; the view is free
    t.dispose();
    expect(mem().bytesInUse - before).toBe(48 + 48);
    expect(await v.toArray()).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
    before = mem().bytesInUse;
    v.dispose();
    i.dispose();
    expect(before - mem().bytesInUse).toBe(48 + 48);
  });

  it("the out-of-memory error names what is held, the largest tensor alive and the device's buffer limits", () => {
    const big = gb.zeros([1024, 1024]), small = gb.zeros([16]);
    const L = gpuContext()!.limits;
    const msg = gpuContext()!.outOfMemoryMessage();
    const mb = (n: number) => (n / 2 ** 20).toFixed(1);
    expect(msg).toMatch(/^webgpu: out of GPU memory \([\d.]+ MB held by tensors, the largest 1024x1024 \(4\.0 MB\); [\d.]+ MB in the pool; /);
    expect(msg).toContain(`this GPU's limits: ${mb(L.maxBufferSize)} MB per buffer, ${mb(L.maxStorageBufferBindingSize)} MB per binding — larger tensors are split`);
    gb.dispose([big, small]);
  });

  it("the pool reuses freed buffers instead of allocating", () => {
    const work = () => void gb.randn([256, 256]).mul(2).exp();
    for (let i = 0; i < 3; i++) gb.tidy(work);
    const n = mem().numBuffers;
    for (let i = 0; i < 20; i++) gb.tidy(work);
    expect(mem().numBuffers).toBe(n);
  });

  it("LeNet-5 training steps on the GPU match the CPU and do not grow GPU memory", async () => {
    gb.setDefaultDevice("cpu");
    gb.manualSeed(0);
    const cpuModel = lenet();
    gb.manualSeed(0);
    const gpuModel = lenet().to("gpu");
    gb.setDefaultDevice("gpu");
    for (const p of gpuModel.parameters()) expect(p.device).toBe("gpu");
    const xs = gb.randn([16, 1, 28, 28], { device: "cpu" });
    const ys = gb.randint(0, 10, [16], { device: "cpu" });
    const xg = xs.to("gpu"), yg = ys.to("gpu");
    const steps = Number(process.env.GB_LENET_STEPS ?? 60);
    let after10 = null as ReturnType<typeof mem> | null;
    for (let i = 0; i < steps; i++) {
      const lc = step(cpuModel, xs, ys, 0.05);
      const lg = step(gpuModel, xg, yg, 0.05);
      if (i < 5 || i === steps - 1) {
        const [a, b] = [await lc.item(), await lg.item()];
        expect(Math.abs(a - b), `step ${i}: loss cpu ${a} gpu ${b}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(a)) * (i + 1));
      }
      lg.dispose();
      if (i === 9) {
        await gb.gpuSync();
        after10 = mem();
      }
    }
    await gb.gpuSync();
    const end = mem();
    expect(end.bytesInUse, "bytes held by tensors").toBe(after10!.bytesInUse);
    expect(end.bytesAllocated, "bytes allocated (tensors + pool)").toBe(after10!.bytesAllocated);
    expect(end.numBuffers).toBe(after10!.numBuffers);
    // few submits: one per read, or per 64 dispatches
    expect(end.numSubmits - after10!.numSubmits).toBeLessThan((steps - 10) * 6);
    const pc = cpuModel.parameters(), pg = gpuModel.parameters();
    for (let k = 0; k < pc.length; k++) {
      const msg = mismatch(await pg[k].data(), await pc[k].data(), 1e-4, 1e-3);
      expect(msg, `parameter ${k}`).toBeNull();
    }
  });
});
