/**
 * The Node kernel's guard (kernel/guard/memory.ts and output.ts) in the browser kernel's worker,
 * which runs without one (scripts/lite.mjs puts this file in their place): the Node kernel's
 * watcher reads its process's memory through the inspector and limits its output from the
 * protocol thread; a page has neither, and the browser limits a tab's memory itself. The core
 * (kernel/core.ts) uses these only with a guard, except collectGarbage after the GPU's
 * OutOfMemoryError: here it gives the finalizers that free collected tensors' GPU buffers a turn.
 */
export const inUseNow = (): number => 0;

export async function collectGarbage(): Promise<void> {
  await new Promise((r) => setTimeout(r, 10));
}

export async function memoryError(): Promise<never> {
  throw new Error("the memory guard is the Node kernel's: the browser kernel has none");
}

export class OutputLimits {
  constructor() {
    throw new Error("output limits are the Node kernel's guard: the browser kernel has none");
  }
}
