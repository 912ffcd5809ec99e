// The engine as a plain library in a browser (Debian's Chromium, headless, driven by playwright-core):
// a cross-origin-isolated page runs a matmul, a convolution with its gradients and exp/tanh/sigmoid on its
// main thread (one thread: a page may not block) and in a module Web Worker with 2 threads, where
// the pool's workers are Blob-URL Web Workers on the shared WASM memory. Results: the same bits on
// the main thread, the worker's one thread and its two threads (the pool's worker computing the
// tasks); the same bits as Node where both use the same kernels, and close where Chromium's
// relaxed SIMD gives the GEMM fused multiply-adds (Node 20 has them behind a flag).
import { afterAll, beforeAll, expect, test } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { runOps } from "./browser/threads-page.ts";
import { setNumThreads } from "../../engine/index.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];

let dir: string, server: Server, url: string, browser: Browser | null = null;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return;
  dir = mkdtempSync(join(tmpdir(), "gradbook-engine-browser-"));
  const { build } = await import("esbuild");
  await build({ entryPoints: [join(ROOT, "tests/engine/browser/threads-page.ts")], outfile: join(dir, "page.js"), bundle: true, format: "esm", platform: "neutral", target: "es2022", external: ["node:*", "webgpu"], mainFields: ["module", "main"], logLevel: "error" });
  writeFileSync(join(dir, "index.html"), `<!DOCTYPE html><html><head><meta charset="utf-8"><title>gradbook engine</title><script type="module" src="page.js"></script></head><body></body></html>`);
  // cross-origin isolation (SharedArrayBuffer, shared WASM memory) needs these two headers
  server = createServer((req, res) => {
    const name = (req.url ?? "/").split("?")[0].replace(/^\/+/, "") || "index.html";
    const file = join(dir, name);
    if (!existsSync(file) || name.includes("..")) return void (res.writeHead(404), res.end());
    res.writeHead(200, {
      "content-type": name.endsWith(".html") ? "text/html" : "text/javascript",
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/index.html`;
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.skipIf(!existsSync(CHROMIUM))("in Chromium: the main thread, and a Web Worker on 2 threads (Blob-URL workers), compute the same bits; the same as Node or within FMA rounding", async () => {
  setNumThreads(1);
  const node = runOps();
  const page = await browser!.newPage();
  const logs: string[] = [];
  page.on("console", (m) => logs.push(m.text()));
  page.on("pageerror", (e) => logs.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as { gbTest?: unknown }).gbTest !== undefined, null, { timeout: 60_000 });
  const main = await page.evaluate(() => (globalThis as any).gbTest.main());
  expect(main.isolated, logs.join("\n")).toBe(true);
  expect(main.threads).toBe(1); // a page's main thread may not block in Atomics.wait
  expect(main.wasm).toBe(true);
  console.log(`Chromium: WASM SIMD${main.fma ? " with relaxed-SIMD FMA" : ""}`);
  const worker = await page.evaluate(() => (globalThis as any).gbTest.worker());
  expect(worker.error, logs.join("\n")).toBeUndefined();
  expect(worker.threads).toBe(2);
  expect(worker.workers).toBe(1);
  expect(worker.workerTasks).toBeGreaterThan(0);
  // resident storage is the default in a Web Worker: 60 steps of LeNet-5 at batch 256 (~15 MB of
  // activations a step, 900 MB in all) in one task stay bounded (backward() takes a task when the
  // blocks in use pass the headroom: the finalizers of collected arrays free theirs), same bits
  expect(worker.trainAuto.mode).toBe("always");
  expect(worker.trainOff.mode).toBe("off");
  expect(worker.trainAuto.losses).toBe(worker.trainOff.losses);
  expect(worker.trainAuto.taskPoints).toBeGreaterThan(0);
  expect(worker.trainAuto.maxTop).toBeLessThan(400 << 20);
  console.log(`Chromium worker, LeNet-5 b=256, 60 steps: tensor area at most ${(worker.trainAuto.maxTop / 2 ** 20).toFixed(0)} MiB, ${worker.trainAuto.taskPoints} tasks taken by backward()`);
  expect(worker.one).toEqual(main.results);
  expect(worker.two).toEqual(main.results);
  for (const [op, r] of Object.entries(main.results as typeof node)) {
    // the element-wise functions, sums and the loss never use FMA; the GEMM-based ops do when Chromium has it
    if (!main.fma || !["matmul", "conv", "convDx", "convDw"].includes(op)) expect(r, op).toEqual(node[op]);
    else r.sample.forEach((v: number, i: number) => expect(Math.abs(v - node[op].sample[i]), `${op} [${i}]`).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(v))));
  }
  await page.close();
}, 180_000);
