/**
 * The WebGPU test files, run without vitest on the GPU machine (bundled by bench/device/bundle.mjs
 * with `vitest` aliased to vitest-shim.ts). Usage: node webgpu-tests.mjs [name filter regexp].
 * Each file runs in a process of its own, as under vitest (a file starts its own device, with its
 * own limits; Dawn aborts when one process starts and releases devices of several files); the last
 * line sums them up. Exits 1 when a test fails.
 */
import { spawnSync } from "node:child_process";
import { beginFile, runFile, summary } from "./vitest-shim.ts";

process.env.CI ??= "1"; // a missing adapter is a failure here, as in CI
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
const child = process.env.GB_WEBGPU_TEST_FILE;
const filterArg = process.argv[2];
if (child) {
  const entry = files.find(([name]) => name === child);
  if (!entry) throw new Error(`no test file ${child}`);
  beginFile(child);
  await entry[1]();
  await runFile(filterArg ? new RegExp(filterArg) : undefined);
  process.exit(summary() ? 1 : 0);
} else {
  const t0 = performance.now();
  const total = { passed: 0, failed: 0, skipped: 0 };
  const broken: string[] = [];
  for (const [name] of files) {
    // (this bundle's path: bundle.mjs rewrites import.meta.url in bench files to their sources)
    const r = spawnSync(process.execPath, [process.argv[1], ...(filterArg ? [filterArg] : [])], {
      env: { ...process.env, GB_WEBGPU_TEST_FILE: name },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      maxBuffer: 1 << 28,
    });
    process.stdout.write(r.stdout);
    const m = /^tests: (\d+) passed, (\d+) failed, (\d+) skipped/m.exec(r.stdout);
    if (m) {
      total.passed += +m[1];
      total.failed += +m[2];
      total.skipped += +m[3];
    }
    if (!m || (r.status !== 0 && !+m[2])) broken.push(`${name} (exit ${r.status ?? r.signal})`);
  }
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped in ${s} s${broken.length ? `; files that did not finish: ${broken.join(", ")}` : ""}`);
  process.exit(total.failed || broken.length ? 1 : 0);
}
