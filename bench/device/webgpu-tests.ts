/**
 * The WebGPU test files, run without vitest on the GPU machine (bundled by bench/device/bundle.mjs
 * with `vitest` aliased to vitest-shim.ts). Usage: node webgpu-tests.mjs [name filter regexp].
 * Exits 1 when a test fails.
 */
import { beginFile, runFile, summary } from "./vitest-shim.ts";

process.env.CI ??= "1"; // a missing adapter is a failure here, as in CI
const filter = process.argv[2] ? new RegExp(process.argv[2]) : undefined;
beginFile("device.test.ts");
await import("../../tests/engine/webgpu/device.test.ts");
await runFile(filter);
beginFile("ops.test.ts");
await import("../../tests/engine/webgpu/ops.test.ts");
await runFile(filter);
beginFile("nn.test.ts");
await import("../../tests/engine/webgpu/nn.test.ts");
await runFile(filter);
beginFile("gemm.test.ts");
await import("../../tests/engine/webgpu/gemm.test.ts");
await runFile(filter);
beginFile("memory.test.ts");
await import("../../tests/engine/webgpu/memory.test.ts");
await runFile(filter);
const failed = summary();
process.exit(failed ? 1 : 0);
