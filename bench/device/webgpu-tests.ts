/**
 * The WebGPU test files, run without vitest on the GPU machine (bundled by bench/device/bundle.mjs
 * with `vitest` aliased to vitest-shim.ts). Usage: node webgpu-tests.mjs [name filter regexp].
 * Exits 1 when a test fails.
 */
import { beginFile, runFile, summary } from "./vitest-shim.ts";

process.env.CI ??= "1"; // a missing adapter is a failure here, as in CI
const filter = process.argv[2] ? new RegExp(process.argv[2]) : undefined;
// literal import paths, so that esbuild bundles each file
const files: [string, () => Promise<unknown>][] = [
  ["device.test.ts", () => import("../../tests/engine/webgpu/device.test.ts")],
  ["ops.test.ts", () => import("../../tests/engine/webgpu/ops.test.ts")],
  ["nn.test.ts", () => import("../../tests/engine/webgpu/nn.test.ts")],
  ["gemm.test.ts", () => import("../../tests/engine/webgpu/gemm.test.ts")],
  ["memory.test.ts", () => import("../../tests/engine/webgpu/memory.test.ts")],
  ["split.test.ts", () => import("../../tests/engine/webgpu/split.test.ts")],
  ["alexnet.test.ts", () => import("../../tests/engine/webgpu/alexnet.test.ts")],
];
for (const [name, load] of files) {
  beginFile(name);
  await load();
  await runFile(filter);
}
const failed = summary();
process.exit(failed ? 1 : 0);
