/** Devices and their backends. The CPU backend is always there; the WebGPU backend registers itself as "gpu". */
import type { Backend } from "./op-table.js";
import { cpuBackend } from "./backends/cpu/index.js";

export type Device = "cpu" | "gpu";

const backends = new Map<Device, Backend>([["cpu", cpuBackend]]);
let current: Device = "cpu";

/** Why a device that is not registered is missing (the WebGPU module says: not started yet, or why it failed). */
const whyMissing = new Map<Device, () => string>();

export function registerBackend(device: Device, backend: Backend): void {
  backends.set(device, backend);
}

export function registerUnavailableReason(device: Device, why: () => string): void {
  whyMissing.set(device, why);
}

export function backendFor(device: Device): Backend {
  const b = backends.get(device);
  if (!b) {
    const why = whyMissing.get(device)?.();
    throw new Error(`device '${device}' is not available (available: ${[...backends.keys()].join(", ")})${why ? `: ${why}` : ""}`);
  }
  return b;
}

export function parseDevice(d: string): Device {
  const s = d.toLowerCase();
  if (s === "cpu") return "cpu";
  if (s === "gpu" || s === "webgpu" || s === "cuda") return "gpu";
  throw new Error(`unknown device '${d}': use "cpu" or "gpu"`);
}

/** The device new tensors are created on (gb.device()). */
export function device(): Device {
  return current;
}

/** Sets the device new tensors are created on. */
export function setDefaultDevice(d: Device | string): void {
  const dev = parseDevice(d);
  backendFor(dev);
  current = dev;
}
