// Shared set-up of the WebGPU tests: start the device once per file, or skip with a
// clear message when there is no adapter — except in CI (process.env.CI set), where
// .ci/run installs Mesa's lavapipe, so a missing adapter is a failure.
import * as gb from "../../../engine/index.ts";

/** Starts WebGPU (with `opts`, e.g. forced limits); true when it runs. Throws in CI when there is no adapter. */
export async function startGpu(opts?: gb.GpuInitOptions): Promise<boolean> {
  // the Vulkan loader / lavapipe want a runtime dir; CI sets it, a bare shell may not
  process.env.XDG_RUNTIME_DIR ??= "/tmp";
  try {
    await gb.initGpu(opts);
    return true;
  } catch (e) {
    if (process.env.CI) throw new Error(`WebGPU tests: no adapter in CI (lavapipe should be installed by .ci/run): ${(e as Error).message}`);
    console.warn(`skipping the WebGPU tests: ${(e as Error).message}`);
    return false;
  }
}

/** |got - want| <= atol + rtol * |want|, NaN where want is NaN, same-signed Inf. Returns a message or null. */
export function mismatch(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): string | null {
  if (got.length !== want.length) return `length ${got.length}, expected ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const w = want[i], g = got[i];
    const ok = Number.isNaN(w) ? Number.isNaN(g) : !Number.isFinite(w) ? g === w : Math.abs(g - w) <= atol + rtol * Math.abs(w);
    if (!ok) return `element ${i} is ${g}, expected ${w}`;
  }
  return null;
}
