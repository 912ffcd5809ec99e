// gb.memoryStats() and gb.emptyCache(): the CPU kernels' WASM memory grows for a large op, is
// counted, and goes back to its first size; the kernels give the same results after it.
import { expect, test } from "vitest";
import * as gb from "../../engine/index.ts";

const wasmPool = () => gb.memoryStats().pools.find((p) => p.name === "WASM memory of the CPU kernels")!;

test("the WASM memory grown for a large matmul is counted, and emptyCache() gives it back; results unchanged", async () => {
  gb.manualSeed(1);
  const a = gb.randn([1024, 1024]), b = gb.randn([1024, 1024]);
  const before = await gb.matmul(a, b).data();
  const grown = wasmPool().bytes;
  // A and B packed for the WASM kernels: at least the 8 MiB of the two operands
  expect(grown).toBeGreaterThanOrEqual(8 * 2 ** 20);
  expect(gb.memoryStats().cpuPoolBytes).toBe(grown);
  gb.emptyCache();
  expect(wasmPool().bytes).toBe(64 * 65536);
  const after = await gb.matmul(a, b).data();
  expect(after).toEqual(before);
  // emptyCache with nothing to free does nothing
  gb.emptyCache();
  gb.emptyCache();
  expect(await gb.matmul(gb.slice(a, 0, 0, 2), b).data()).toEqual(before.slice(0, 2 * 1024));
});
