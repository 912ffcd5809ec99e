// gb.memoryStats() and gb.emptyCache(): the CPU kernels' WASM memory grows for a large op, is
// counted, and goes back to its first size; the kernels give the same results after it. With
// resident tensor storage (the default in Node) the tensors live in that memory too: counted beside
// it, and the memory is given back only once none lives in it.
import { expect, test } from "vitest";
import * as gb from "../../engine/index.ts";
import { residentStorage, setResidentStorage } from "../../engine/backends/cpu/wasm/heap.ts";

const wasmPool = () => gb.memoryStats().pools.find((p) => p.name === "WASM memory of the CPU kernels")!;
const residentPool = () => gb.memoryStats().pools.find((p) => p.name === "CPU tensor storage in the WASM memory")!;

test("the WASM memory grown for a large matmul is counted, and emptyCache() gives it back; results unchanged", async () => {
  // (ordinary arrays: with resident storage on, the memory is given back once no tensor lives in it)
  const mode = residentStorage();
  setResidentStorage("off");
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
  setResidentStorage(mode);
});

test("with resident storage, the tensors' storage is counted beside the kernels' memory, which emptyCache() keeps while tensors live in it", async () => {
  setResidentStorage("always");
  gb.manualSeed(1);
  const a = gb.randn([1024, 1024]).mul(1), b = gb.randn([1024, 1024]).mul(1);
  const c = gb.matmul(a, b);
  const stored = residentPool().bytes;
  expect(stored).toBeGreaterThanOrEqual(3 * 4 * 2 ** 20);
  expect(gb.memoryStats().cpuPoolBytes).toBe(wasmPool().bytes + stored);
  gb.emptyCache();
  expect(residentPool().bytes).toBeGreaterThanOrEqual(3 * 4 * 2 ** 20);
  expect(Array.from(c.dataSync().slice(0, 4))).toEqual(Array.from(await gb.matmul(a, b).slice(0, 0, 1).data()).slice(0, 4));
  setResidentStorage("auto");
});
