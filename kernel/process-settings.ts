/**
 * How the kernel's Node process starts: the V8 flags before its script and the environment it
 * adds. The kernelspec (kernelspec.ts: every `gradbook install`, the class hub's), the grader's
 * kernels (grader/client.ts) and the engine section of `npm run bench` (bench/engine.ts, so that
 * it measures what a notebook gets) start Node with them. Measured in BENCHMARKS.md, "Issue 18,
 * fourth round (cpu2: 1 thread)". The browser kernel (JupyterLite) has none of this.
 */

/**
 * V8 flags, before the kernel's script. `--no-parallel-scavenge`: young-generation collections on
 * the thread that needs them only. A training step's results are array buffers, and V8 collects
 * its young generation whenever their bytes pile up (about once a LeNet-5 step), while the young
 * generation itself holds little (a few MB, most of it dead): helper threads add CPU time and,
 * when the cores are busy, make the pause wait for them (a LeNet-5 step's pauses, at load 5–7:
 * 0.3–2.4 ms each without helpers, 0.6–14 ms with them). This flag keeps V8's flag hash (the code
 * caches made without it stay valid); the heap-size flags would not (semi-space, old-space sizes:
 * fewer collections, but Node's and TypeScript's code caches rejected at every start).
 */
export const KERNEL_NODE_FLAGS: readonly string[] = ["--no-parallel-scavenge"];

/**
 * glibc malloc, read once as the process starts. A CPU tensor's storage is a malloc block, freed
 * when V8 collects the dead tensor. By default glibc serves a block of megabytes from a fresh
 * mapping until a block that large was freed (its mmap threshold starts at 128 KiB and follows
 * the largest freed block up to 32 MiB), and hands the top of its heap back to the system once
 * twice that threshold lies free there: a training step's 4.8 MB results came in fresh pages,
 * each page faulted in and zeroed by the system. These fix both at the 32 MiB that glibc's own
 * threshold reaches: blocks below it come from the heap, whose free top is kept up to 32 MiB (at
 * most that much resident memory that no tensor uses; default glibc keeps up to 64 MiB once its
 * threshold has risen).
 */
export const KERNEL_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: String(32 << 20),
  MALLOC_TRIM_THRESHOLD_: String(32 << 20),
};
