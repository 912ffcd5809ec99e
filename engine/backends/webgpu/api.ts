/// <reference types="@webgpu/types" />
/**
 * Device selection and GPU memory management (exported as `gb.*`):
 *
 *   await gb.ready();              // WebGPU when an adapter exists, else the CPU (one-line notice why)
 *   gb.device();                   // "gpu" or "cpu"
 *   const x = gb.randn([64, 784]).to("gpu");   // CPU -> GPU is synchronous
 *   const y = await x.toAsync("cpu");          // GPU -> CPU needs a read: async
 *   gb.tidy(() => { ...one training step... });  // frees every GPU tensor made inside, except the result
 *
 * In Node the `webgpu` npm package (Dawn) is loaded by dynamic import; in a browser
 * `navigator.gpu` is used. Without a GPU, Mesa's lavapipe (a Vulkan driver on the CPU)
 * gives a working software adapter.
 */
import { registerBackend, registerUnavailableReason, setDefaultDevice, device as currentDevice, parseDevice, backendFor, type Device } from "../../device.js";
import { Tensor } from "../../tensor.js";
import { GpuContext, type GpuLimitOverrides } from "./context.js";
import { GpuHandle, type GpuMemoryInfo } from "./memory.js";
import { makeWebGpuBackend } from "./index.js";
import { registerMemoryPool } from "../../memory.js";
import { closeCpuScope, cpuBackend, keepCpu, openCpuScope } from "../cpu/index.js";
import type { TensorData } from "../../op-table.js";

export type { GpuMemoryInfo } from "./memory.js";

let ctx: GpuContext | null = null;
/** The object from the `webgpu` package's create(): it keeps Node alive, so releaseGpu() drops it. */
let nodeGpu: GPU | null = null;
let initializing: Promise<GpuContext> | null = null;
let lastFailure: string | null = null;
let memoryLimit: number | null = null;
registerMemoryPool({
  name: "GPU buffers",
  device: "gpu",
  bytes: () => (ctx ? ctx.bytesInUse + ctx.bytesInPool : 0),
  inUse: () => ctx?.bytesInUse ?? 0,
  tensors: () => ctx?.numHandles ?? 0,
  release: () => ctx?.trimPool(0),
});
registerUnavailableReason("gpu", () =>
  lastFailure ? `WebGPU could not be started (${lastFailure})` : initializing ? "WebGPU is still starting: await gb.ready() first" : "WebGPU has not been started: call await gb.ready() (or await gb.initGpu()) first",
);

export interface GpuInitOptions {
  powerPreference?: "high-performance" | "low-power";
  /**
   * Limits lower than the device's, to test how tensors are split: the bytes of one storage
   * binding (a larger tensor is stored in parts of at most this size) and the storage bindings
   * one shader may use (ops on more parts run in windows or pieces). Applies when a device
   * starts (gb.releaseGpu() first to change them).
   */
  limits?: GpuLimitOverrides;
}

async function getGpu(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (nodeGpu) return nodeGpu;
  const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";
  if (!isNode) throw new Error("this browser has no WebGPU (navigator.gpu is missing)");
  let mod: { create(flags: string[]): GPU };
  try {
    const name = "webgpu";
    mod = (await import(/* @vite-ignore */ name)) as { create(flags: string[]): GPU };
  } catch (e) {
    throw new Error(`the 'webgpu' package could not be loaded (${(e as Error).message.split("\n")[0]})`);
  }
  nodeGpu = mod.create([]);
  return nodeGpu;
}

/**
 * Starts WebGPU and registers it as device "gpu". Throws a clear error when no adapter
 * is found. Safe to call again (returns the running device's description).
 */
export async function initGpu(opts: GpuInitOptions = {}): Promise<string> {
  if (ctx && !ctx.lostError) return ctx.adapterInfo;
  if (!initializing) {
    initializing = (async () => {
      const gpu = await getGpu();
      const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? "high-performance" });
      if (!adapter) throw new Error("no WebGPU adapter was found (no GPU, or no Vulkan/Metal/D3D12 driver: on Linux without a GPU install Mesa's lavapipe, mesa-vulkan-drivers >= 23)");
      const info = adapter.info;
      const desc = [info?.vendor, info?.architecture, info?.device, info?.description].filter((s) => s).join(" ").trim() || "WebGPU adapter";
      const L = adapter.limits;
      const device = await adapter.requestDevice({
        requiredLimits: {
          maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
          maxBufferSize: L.maxBufferSize,
          maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
          maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
          maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
          maxComputeWorkgroupSizeX: L.maxComputeWorkgroupSizeX,
          maxComputeWorkgroupSizeY: L.maxComputeWorkgroupSizeY,
          maxComputeWorkgroupsPerDimension: L.maxComputeWorkgroupsPerDimension,
        },
      });
      const software = /llvmpipe|lavapipe|swiftshader/i.test(desc) || (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
      const c = new GpuContext(device, desc, software, opts.limits);
      c.memoryLimit = memoryLimit;
      registerBackend("gpu", makeWebGpuBackend(c));
      ctx = c;
      lastFailure = null;
      // a lost device (driver reset, GPU removed): new tensors go to the CPU; GPU ops say what happened
      void device.lost.then((info) => {
        if (ctx !== c) return;
        lastFailure = `the GPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ""})`;
        if (currentDevice() === "gpu") {
          setDefaultDevice("cpu");
          console.warn(`gradbook: ${lastFailure}; new tensors are made on the CPU — await gb.initGpu() starts a new GPU device`);
        }
      });
      return c;
    })();
  }
  try {
    return (await initializing).adapterInfo;
  } catch (e) {
    lastFailure = (e as Error).message;
    throw new Error(`initGpu: ${(e as Error).message}`);
  } finally {
    initializing = null;
  }
}

/** Makes "gpu" (starting WebGPU) or "cpu" the device new tensors are created on. */
export async function setBackend(name: Device | "webgpu" | string): Promise<Device> {
  const d = parseDevice(name);
  if (d === "gpu") await initGpu();
  setDefaultDevice(d);
  return d;
}

/**
 * Picks the default device: WebGPU when an adapter is found, else the CPU with a
 * one-line notice saying why. Returns the device chosen.
 */
export async function ready(opts: { quiet?: boolean; log?: (line: string) => void; allowSoftware?: boolean } = {}): Promise<Device> {
  const say = (line: string) => {
    if (!opts.quiet) (opts.log ?? console.log)(line);
  };
  try {
    const desc = await initGpu();
    if (ctx?.software && !opts.allowSoftware) {
      // a Vulkan driver running on the CPU (lavapipe, SwiftShader) is slower than the CPU backend
      setDefaultDevice("cpu");
      say(`gradbook: using the CPU — the only WebGPU adapter is a software one (${desc}); gb.setBackend("gpu") uses it anyway`);
      return "cpu";
    }
    setDefaultDevice("gpu");
    say(`gradbook: using the GPU (WebGPU: ${desc})`);
    return "gpu";
  } catch (e) {
    setDefaultDevice("cpu");
    const why = (e as Error).message.replace(/^initGpu: /, "");
    say(`gradbook: using the CPU — ${why}`);
    return "cpu";
  }
}

/** Whether a WebGPU device is running (after initGpu / ready). */
export function hasGpu(): boolean {
  return ctx !== null && !ctx.lostError;
}

/** Why the last initGpu failed (null if it did not). */
export function gpuFailure(): string | null {
  return lastFailure;
}

/** GPU memory held by tensors and the pool, and counters (null without a GPU). */
export function gpuMemory(): GpuMemoryInfo | null {
  return ctx ? ctx.memory() : null;
}

/** Waits until the GPU has finished everything submitted so far (for timing). */
export async function gpuSync(): Promise<void> {
  if (ctx) await ctx.sync();
}

/**
 * Limits the GPU memory tensors may hold (bytes; null: what the device gives). An op that would
 * pass it throws an OutOfMemoryError naming the op, the size asked and what is in use.
 */
export function setGpuMemoryLimit(bytes: number | null): void {
  if (bytes !== null && !(bytes > 0)) throw new Error(`setGpuMemoryLimit: expected a positive number of bytes or null, got ${bytes}`);
  memoryLimit = bytes;
  if (ctx) ctx.memoryLimit = bytes;
}

/**
 * Destroys the GPU device and drops the `webgpu` module's handle so Node can exit.
 * GPU tensors become invalid; the default device goes back to the CPU.
 */
export function releaseGpu(): void {
  if (ctx) {
    ctx.destroy();
    ctx = null;
  }
  // (the GPU instance, Node's `webgpu` module, is kept: dropping it while the released device's threads wind down, then creating another, crashes Dawn)
  if (currentDevice() === "gpu") setDefaultDevice("cpu");
}

// ---------------------------------------------------------------- scopes

function collectHandles(v: unknown, out: Set<GpuHandle>, seen: Set<unknown>): void {
  if (v === null || typeof v !== "object" || seen.has(v)) return;
  seen.add(v);
  if (v instanceof Tensor) {
    if (v._d.storage instanceof GpuHandle) out.add(v._d.storage);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collectHandles(x, out, seen);
  else if (v instanceof Map) for (const x of v.values()) collectHandles(x, out, seen);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collectHandles(x, out, seen);
}

function endScope(c: GpuContext, scope: Set<GpuHandle>, result: unknown): void {
  const keepSet = new Set<GpuHandle>();
  collectHandles(result, keepSet, new Set());
  const idx = c.scopes.indexOf(scope);
  if (idx >= 0) c.scopes.splice(idx, 1);
  const parent = c.scopes[c.scopes.length - 1];
  for (const h of scope) {
    if (keepSet.has(h) || h.kept) {
      if (parent && !h.kept) parent.add(h);
    } else {
      c.releaseHandle(h);
    }
  }
}

/**
 * Runs `fn` and then frees the GPU memory of every tensor created inside it,
 * except the tensors it returns (also inside arrays / plain objects) and those
 * passed to `keep()` (as TensorFlow.js's tf.tidy). Large CPU tensors made inside it
 * live in the CPU kernels' WASM memory, where the kernels use them in place, and are
 * freed the same way (engine/backends/cpu/README.md, resident storage). `fn` may be async; the scope
 * then ends when its promise settles. Using a freed tensor afterwards is an error.
 */
export function tidy<T>(fn: () => T): T {
  const c = ctx;
  const scope = new Set<GpuHandle>();
  c?.scopes.push(scope);
  // CPU tensors: large results made in the scope live in the WASM memory and go back to its
  // allocator at the end (engine/backends/cpu/wasm/heap.ts)
  const cpu = openCpuScope();
  const end = (r: unknown) => {
    closeCpuScope(cpu, cpuDatas(r));
    if (c) endScope(c, scope, r);
  };
  let result: T;
  try {
    result = fn();
  } catch (e) {
    end(undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (r) => (end(r), r),
      (e) => {
        end(undefined);
        throw e;
      },
    ) as T;
  }
  end(result);
  return result;
}

/** The CPU tensors' data in a value (a tensor, or arrays / maps / plain objects of tensors). */
function cpuDatas(v: unknown, out: TensorData[] = [], seen = new Set<unknown>()): TensorData[] {
  if (v === null || typeof v !== "object" || seen.has(v)) return out;
  seen.add(v);
  if (v instanceof Tensor) {
    if (v.device === "cpu") out.push(v._d);
  } else if (Array.isArray(v)) for (const x of v) cpuDatas(x, out, seen);
  else if (v instanceof Map) for (const x of v.values()) cpuDatas(x, out, seen);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) cpuDatas(x, out, seen);
  return out;
}

/** Keeps a tensor alive past the tidy() scopes it was made in (e.g. optimizer state). */
export function keep<T extends Tensor>(t: T): T {
  const h = t._d.storage;
  if (h instanceof GpuHandle) {
    h.kept = true;
    for (const s of h.ctx.scopes) s.delete(h);
  } else if (t.device === "cpu") keepCpu(t._d);
  return t;
}

/** Frees tensors now (a tensor, or arrays / objects of tensors); CPU tensors' storage in the WASM memory too (others are left to the garbage collector). */
export function dispose(x: unknown): void {
  const hs = new Set<GpuHandle>();
  collectHandles(x, hs, new Set());
  for (const h of hs) h.ctx.releaseHandle(h);
  for (const d of new Set(cpuDatas(x))) cpuBackend.dispose(d);
}

/**
 * Copies a tensor to a device; from the GPU to the CPU this needs an async read.
 * Gradients flow back through the move (to the source device).
 */
export async function toDevice(t: Tensor, target: Device | string): Promise<Tensor> {
  return t.toAsync(target);
}

/** The running GPU context (for tests and tools; null without a GPU). */
export function gpuContext(): GpuContext | null {
  return ctx;
}

/** The GPU backend object (for tests and tools). */
export function gpuBackend() {
  return backendFor("gpu");
}
