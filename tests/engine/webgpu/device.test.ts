// Device choice and movement between the CPU and the GPU: gb.ready(), to()/toAsync(),
// gradients through moves, mixing devices, and GPU failures turned into clear errors
// (index out of range, use after dispose, a released device) while CPU tensors stay valid.
import { afterAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { gpuContext } from "../../../engine/backends/webgpu/api.ts";
import { isResident, setResidentStorage } from "../../../engine/backends/cpu/wasm/heap.ts";
import { startGpu } from "./gpu.ts";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const hasGpu = await startGpu();

describe.skipIf(!hasGpu)("devices", { timeout: 300_000 }, () => {
  afterAll(() => gb.releaseGpu());

  it("ready() picks the GPU when an adapter exists, with a one-line notice", async () => {
    const lines: string[] = [];
    const first = await gb.ready({ log: (l) => lines.push(l) });
    expect(lines.length).toBe(1);
    if (/llvmpipe|lavapipe|swiftshader/i.test(lines[0])) {
      // a software adapter (CI's lavapipe) is slower than the CPU backend: the CPU is chosen, and the notice says why
      expect(first).toBe("cpu");
      expect(lines[0]).toMatch(/^gradbook: using the CPU — the only WebGPU adapter is a software one \(.+\); gb.setBackend\("gpu"\) uses it anyway$/);
      lines.length = 0;
      expect(await gb.ready({ allowSoftware: true, log: (l) => lines.push(l) })).toBe("gpu");
    } else expect(first).toBe("gpu");
    expect(gb.device()).toBe("gpu");
    expect(lines[0]).toMatch(/^gradbook: using the GPU \(WebGPU: .+\)$/);
    expect(gb.zeros([2]).device).toBe("gpu");
    gb.setDefaultDevice("cpu");
    expect(gb.zeros([2]).device).toBe("cpu");
    expect(await gb.setBackend("gpu")).toBe("gpu");
    expect(gb.device()).toBe("gpu");
    gb.setDefaultDevice("cpu");
  });

  it("model.to('gpu') moves parameters in place; leaving the GPU takes model.toAsync", async () => {
    const model = new gb.nn.Sequential(new gb.nn.Linear(3, 4), new gb.nn.ReLU(), new gb.nn.Linear(4, 2));
    const params = model.parameters();
    const before = params.map((p) => Array.from(p.dataSync()));
    const x = gb.tensor([[1, -2, 0.5]]);
    const want = Array.from(model.forward(x).dataSync());
    model.to("gpu");
    expect(model.parameters()).toEqual(params); // the same tensors (optimizers hold them by identity)
    for (const p of params) expect(p.device).toBe("gpu");
    const y = model.forward(x.to("gpu"));
    Array.from(await y.data()).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    expect(() => model.to("cpu")).toThrow(/use await model.toAsync\("cpu"\)/);
    await model.toAsync("cpu");
    params.forEach((p, k) => {
      expect(p.device).toBe("cpu");
      expect(Array.from(p.dataSync())).toEqual(before[k]);
    });
  });

  it("to('gpu') is synchronous; to('cpu') from the GPU says to use toAsync; values survive the round trip", async () => {
    const x = gb.tensor([[1.5, -2], [3, 4]]);
    const g = x.to("gpu");
    expect(g.device).toBe("gpu");
    expect(String(g)).toMatch(/<gpu> shape=\[2, 2\]/);
    expect(() => g.to("cpu")).toThrow(/toAsync\("cpu"\)/);
    expect(() => g.dataSync()).toThrow(/await t.data\(\)/);
    const back = await g.toAsync("cpu");
    expect(back.device).toBe("cpu");
    expect(back.toArraySync()).toEqual([[1.5, -2], [3, 4]]);
    expect((await gb.toDevice(g.mul(2), "cpu")).toArraySync()).toEqual([[3, -4], [6, 8]]);
    for (const [vals, dtype] of [[[1, -7, 2 ** 30], "int32"], [[true, false, true], "bool"]] as const) {
      const t = gb.tensor(vals as unknown as number[], { dtype, device: "gpu" });
      expect(t.dtype).toBe(dtype);
      expect(await t.toArray()).toEqual(vals);
    }
  });

  it("a CPU tensor stored in the WASM memory (a SharedArrayBuffer) moves to the GPU with its values (Dawn's writeBuffer refused it)", async () => {
    // found by notebook 06 on an H200 (BENCHMARKS.md, 2026-12-04): the test images, resident after a slice, failed in to(device)
    setResidentStorage("always");
    try {
      const n = (1 << 22) + 12; // 16 MiB + 48 bytes: more than one staging copy
      const x = gb.arange(0, n, 1, { dtype: "float32" }).mul(0.5);
      expect(isResident(x._d.storage as Float32Array)).toBe(true);
      const want = x.dataSync() as Float32Array;
      const g = x.to("gpu");
      const got = (await g.data()) as Float32Array;
      expect(got.length).toBe(n);
      let mismatches = 0;
      for (let i = 0; i < n; i++) if (got[i] !== want[i]) mismatches++;
      expect(mismatches).toBe(0);
      expect(await g.slice(0, n - 3, n).toArray()).toEqual([(n - 3) / 2, (n - 2) / 2, (n - 1) / 2]);
      gb.dispose([x, g]);
    } finally {
      setResidentStorage("auto");
    }
  });

  it("mixing devices in one op is a clear error", () => {
    const a = gb.ones([2]), b = gb.ones([2], { device: "gpu" });
    expect(() => a.add(b)).toThrow(/add: expected all tensors on the same device, but found cpu and gpu/);
    expect(() => gb.matmul(b.reshape([1, 2]), a.reshape([2, 1]))).toThrow(/matmul: expected all tensors on the same device/);
  });

  it("gradients flow through device moves in both directions", async () => {
    // CPU leaf -> GPU compute: the gradient comes back to the CPU
    const x = gb.tensor([1, -2, 3], { requiresGrad: true });
    await x.to("gpu").square().mul(3).sum().backward();
    expect(x.grad!.device).toBe("cpu");
    expect(x.grad!.toArraySync()).toEqual([6, -12, 18]);
    // GPU leaf -> CPU compute: the gradient goes back to the GPU
    const w = gb.tensor([0.5, 2], { requiresGrad: true, device: "gpu" });
    const wc = await w.toAsync("cpu");
    await wc.exp().sum().backward();
    expect(w.grad!.device).toBe("gpu");
    const want = [Math.exp(0.5), Math.exp(2)];
    const got = await w.grad!.data();
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    // a CPU-side branch and a GPU-side branch of the same leaf add up
    const z = gb.tensor([2, 3], { requiresGrad: true });
    const gpuPart = await z.to("gpu").mul(z.to("gpu")).sum().toAsync("cpu");
    await gpuPart.add(z.mul(10).sum()).backward();
    expect(z.grad!.toArraySync()).toEqual([14, 16]);
  });

  it("an index out of range on the GPU is reported on the next read, naming the op", async () => {
    const x = gb.arange(6, undefined, 1, { device: "gpu" }).float();
    const bad = gb.tensor([0, 7], { dtype: "int32", device: "gpu" });
    const y = x.indexSelect(0, bad);
    await expect(y.data()).rejects.toThrow(/indexSelect index was out of range/);
    // the flag is cleared: the next read works
    expect(await x.sum().item()).toBe(15);
    const g = x.reshape([2, 3]).gather(1, gb.tensor([[0, 3]], { dtype: "int32", device: "gpu" }));
    await expect(g.data()).rejects.toThrow(/gather index was out of range/);
  });

  it("a shader error becomes a clear error on the next GPU use, and the GPU keeps working", async () => {
    const x = gb.ones([4], { device: "gpu" });
    expect(await x.sum().item()).toBe(4);
    gpuContext()!.dispatch("brokenShader", "this is not WGSL", [], [1, 1, 1], []);
    // reported by the next op (or read) that touches the GPU
    await expect(async () => x.sum().item()).rejects.toThrow(/sum: an earlier GPU command failed — webgpu: .*WGSL/s);
    expect(await x.add(1).sum().item()).toBe(8);
  });

  it("the device gets the adapter's own limits (not WebGPU's defaults); a tensor's part is the largest power of two one binding holds", async () => {
    // the adapter, asked for here through the same `webgpu` package, independently of initGpu
    const name = "webgpu";
    const { create } = (await import(/* @vite-ignore */ name)) as { create(flags: string[]): GPU };
    const adapter = (await create([]).requestAdapter({ powerPreference: "high-performance" }))!;
    const L = gpuContext()!.limits;
    for (const k of ["maxBufferSize", "maxStorageBufferBindingSize", "maxStorageBuffersPerShaderStage", "maxComputeWorkgroupStorageSize", "maxComputeInvocationsPerWorkgroup"] as const) {
      expect(L[k], k).toBe(adapter.limits[k]);
    }
    const bind = Math.min(L.maxBufferSize, L.maxStorageBufferBindingSize);
    const part = gpuContext()!.partElems * 4;
    expect(part <= bind && part * 2 > bind, `part of ${part} bytes for bindings of ${bind}`).toBe(true);
  });

  it("a device released as soon as it started, then another started, works (Dawn crashed when the GPU instance was dropped)", () => {
    // in a plain Node process on the built engine (under vitest's worker the crash did not show);
    // on the GPU machine the engine bundle bench/device/bundle.mjs makes
    const engine = process.env.GB_ENGINE_BUNDLE ?? join(ROOT, "dist", "gradbook.js");
    const code = `
      const gb = await import(${JSON.stringify(pathToFileURL(engine).href)});
      for (let i = 0; i < 3; i++) {
        await gb.initGpu({ limits: { maxStorageBufferBindingSize: 16 } });
        gb.releaseGpu();
      }
      await gb.initGpu({ limits: { maxStorageBufferBindingSize: 1024 } });
      console.log("sum", await gb.ones([1000], { device: "gpu" }).relu().sum().item());
      process.exit(0);`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8", timeout: 120_000 });
    expect(r.stdout.trim().split("\n").pop(), `exit ${r.status ?? r.signal}\n${r.stderr.slice(-2000)}`).toBe("sum 1000");
    expect(r.status).toBe(0);
  });

  it("a tensor beyond what shaders index (2^32 elements) is refused up front", () => {
    // (larger than one binding is fine: split.test.ts)
    expect(() => gb.zeros([2 ** 16, 2 ** 16], { device: "gpu" })).toThrow(/webgpu: a tensor of shape 65536x65536 has 4294967296 elements; GPU shaders index at most 4294967295/);
    expect(gb.ones([3], { device: "gpu" }).device).toBe("gpu");
  });

  it("a released device gives clear errors for its tensors; CPU tensors stay valid; a new device starts", async () => {
    const c = gb.tensor([1, 2, 3]);
    const g = c.to("gpu");
    gb.releaseGpu();
    expect(gb.device()).toBe("cpu");
    expect(() => g.add(1)).toThrow(/device was released/);
    await expect(g.data()).rejects.toThrow(/device was released/);
    expect(c.add(1).toArraySync()).toEqual([2, 3, 4]);
    await gb.initGpu();
    expect(() => g.add(1)).toThrow(/earlier GPU device/);
    expect(await c.to("gpu").add(1).toArray()).toEqual([2, 3, 4]);
  });
});
