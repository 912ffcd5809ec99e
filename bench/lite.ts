/**
 * `npm run bench -- --lite`: gradbook's JupyterLite site (dist/lite, built first if it is missing
 * or stale) in Debian's Chromium, from a local static server with the isolation headers:
 * - the site's size (all of it, the app, the data; the main bundle gzipped);
 * - a cold load (the first visit of a new browser profile: nothing cached) to JupyterLab restored
 *   and to the first cell's result in a new notebook, then the same in a warm load (a second tab:
 *   the page's cache and service worker kept);
 * - a LeNet-5 training step (batch 64, and 256: issue 18's case; SGD with momentum, CPU backend) in
 *   the browser kernel with 1 and 2 engine threads (Web Workers), next to the same cell's code run
 *   by the engine in Node in the same run (what the Node kernel runs it with), 1 and 2 threads:
 *   images/s and the ratio, and each side's tensor storage in the WASM memory after the loop
 *   (memoryStats(): resident storage is the default on both, README "Tensor storage in the WASM memory").
 * Prints the machine's load beside each figure.
 */
import { gzipSync } from "node:zlib";
import { loadavg } from "node:os";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { liteMissing, openNotebook, openSite, runCell, SITE, siteInfo, startSite, textOf } from "../tests/lite/harness.js";
import * as gb from "../engine/index.js";
import { buildLite } from "../scripts/lite.mjs";

const load = () => loadavg()[0].toFixed(2);
const EMPTY_NOTEBOOK = { nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: "gradbook", display_name: "TypeScript (gradbook)", language: "typescript" } }, cells: [] };
const BATCHES = [64, 256];
const STEPS = 15;
const WARMUP = 6;

/**
 * The training-step measurement, as a cell's code (run by the browser kernel, and by the engine in
 * Node). Its value: "images/s storageBytes": the median of STEPS steps after WARMUP warm-up steps,
 * and the bytes of the tensor area in the WASM memory (0: ordinary arrays).
 */
const trainingCell = (threads: number, BATCH: number) => `gb.setNumThreads(${threads});
gb.manualSeed(0);
const model = new gb.models.LeNet5();
const opt = new gb.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
const x = gb.rand([${BATCH}, 1, 28, 28]);
const y = gb.randint(0, 10, [${BATCH}]);
const times: number[] = [];
for (let i = 0; i < ${STEPS + WARMUP}; i++) {
  const t0 = performance.now();
  opt.zeroGrad();
  const loss = gb.nn.functional.crossEntropy(model.forward(x), y);
  await loss.backward();
  opt.step();
  await loss.item();
  if (i >= ${WARMUP}) times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
\`\${${BATCH} / (times[${STEPS >> 1}] / 1000)} \${gb.memoryStats().pools.find((p) => p.name === "CPU tensor storage in the WASM memory")?.bytes ?? 0}\``;

/** The same code in Node: the cell's body as an async function of gb (its last line returned). */
async function inNode(threads: number, batch: number): Promise<string> {
  const code = trainingCell(threads, batch).replace(/\n([^\n]*)$/, "\nreturn $1").replace(/: number\[\]/, "");
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  return await new AsyncFunction("gb", code)(gb);
}

export async function benchLite(): Promise<void> {
  await buildLite(); // (kept when up to date)
  const missing = liteMissing();
  if (missing) throw new Error(missing);
  const info = siteInfo();
  const main = readFileSync(join(SITE, "build", (info as any).bundle));
  const mb = (n: number) => (n / 1e6).toFixed(1);
  console.log(`[lite] site (JupyterLab ${info.jupyterlab}, JupyterLite ${info.jupyterlite}): ${mb(info.bytes.total)} MB (app ${mb(info.bytes.build)} MB, data ${mb(info.bytes.data)} MB, notebooks ${mb(info.bytes.files)} MB); main bundle ${mb(main.length)} MB, ${mb(gzipSync(main).length)} MB gzipped`);
  const site = await startSite();
  try {
    for (const visit of ["cold", "warm"]) {
      const t0 = performance.now();
      const page = await openSite(site);
      const restored = (performance.now() - t0) / 1000;
      await openNotebook(page, `bench-${visit}.ipynb`, EMPTY_NOTEBOOK);
      const idle = (performance.now() - t0) / 1000;
      const out = textOf(await runCell(page, "1 + 1"));
      const first = (performance.now() - t0) / 1000;
      if (out !== "2") throw new Error(`the first cell answered ${JSON.stringify(out)}`);
      console.log(`[lite] ${visit} load: JupyterLab restored ${restored.toFixed(1)} s, kernel idle ${idle.toFixed(1)} s, first cell's result ${first.toFixed(1)} s (load ${load()})`);
      if (visit === "cold") await page.close();
      else {
        // one run first on each side, not counted: the browser compiles WebAssembly in tiers (a
        // baseline compiler first, optimized code for hot functions later), Node's threads start
        await runCell(page, trainingCell(2, 64), 600_000);
        await inNode(2, 64);
        for (const batch of BATCHES)
          for (const threads of [1, 2]) {
            const [browser, bBytes] = textOf(await runCell(page, trainingCell(threads, batch), 600_000)).replace(/^["']|["']$/g, "").split(" ").map(Number);
            if (!(browser > 0)) throw new Error(`the training cell gave ${browser}`);
            const [node, nBytes] = (await inNode(threads, batch)).split(" ").map(Number);
            const mb = (b: number) => (b ? `${(b / 2 ** 20).toFixed(0)} MiB of tensor storage in the WASM memory` : "ordinary arrays");
            console.log(`[lite] LeNet-5 training step, batch ${batch}, CPU, ${threads} thread${threads > 1 ? "s" : ""}: browser ${browser.toFixed(0)} images/s (${mb(bBytes)}), Node ${node.toFixed(0)} images/s (${mb(nBytes)}), browser/Node ${(browser / node).toFixed(2)} (load ${load()})`);
          }
      }
    }
  } finally {
    await site.stop();
  }
}
