/**
 * A student's session on gradbook's JupyterLite site (dist/lite) in Chromium, nothing installed:
 * the page loads cross-origin isolated from a static server, a new gradbook notebook's first
 * cell answers (the cold load is timed), cells keep the Node kernel's semantics (declarations
 * persist and are declared again, top-level await, display, the last expression), the engine
 * runs on 2 Web Worker threads, datasets load over HTTP, errors point at the cell's line, a Node
 * module names the browser's alternative, and WebGPU runs on Chromium's software adapter where
 * it starts (else the test says the CPU path was taken). Screenshots: tests/output/lite-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import type { Page } from "playwright-core";
import * as gb from "../../engine/index.ts";
import { OUTPUT_DIR } from "../widgets/browser/harness.js";
import { liteMissing, openNotebook, openSite, runCell, startSite, textOf, type Site } from "./harness.ts";

const missing = liteMissing();
if (missing) throw new Error(`the JupyterLite tests cannot run: ${missing}`);

const EMPTY_NOTEBOOK = { nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: "gradbook", display_name: "TypeScript (gradbook)", language: "typescript" } }, cells: [] };

describe("the JupyterLite site: a student's session", () => {
  let site: Site;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(OUTPUT_DIR, { recursive: true });
    site = await startSite();
  }, 120_000);

  afterAll(async () => {
    await site?.stop();
  }, 60_000);

  it("loads cross-origin isolated and answers the first cell of a new notebook", async () => {
    const t0 = Date.now();
    page = await openSite(site);
    const loaded = Date.now() - t0;
    await openNotebook(page, "session.ipynb", EMPTY_NOTEBOOK);
    const out = await runCell(page, "1 + 1");
    const first = Date.now() - t0;
    console.log(`cold load: JupyterLab restored in ${(loaded / 1000).toFixed(1)} s, first cell result after ${(first / 1000).toFixed(1)} s`);
    expect(out).toEqual([{ output_type: "execute_result", execution_count: 1, data: { "text/plain": "2" }, metadata: {} }]);
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    const info = textOf(await runCell(page, "[gb.getNumThreads(), typeof SharedArrayBuffer, typeof (globalThis as any).process]"));
    expect(info).toBe("[ 2, 'function', 'undefined' ]");
  }, 300_000);

  it("keeps the Node kernel's cell semantics", async () => {
    expect(textOf(await runCell(page, "const a = 2;\nfunction twice(x: number) { return 2 * x; }\nclass P { constructor(readonly v: number) {} }"))).toBe("");
    // declared again, top-level await, the last expression
    expect(textOf(await runCell(page, "const a = 3;\nawait new Promise((r) => setTimeout(r, 10));\ntwice(a) + new P(1).v"))).toBe("7");
    expect(textOf(await runCell(page, "console.log('x', { a, s: 'str' }, [1, 2]); console.error('to stderr')"))).toBe("x { a: 3, s: 'str' } [ 1, 2 ]\n\nto stderr\n");
    const shown = await runCell(page, "display(gb.tensor([[1, 2], [3, 4]]))");
    expect(shown[0].output_type).toBe("display_data");
    expect(shown[0].data["text/plain"]).toBe("tensor([[1., 2.],\n        [3., 4.]])");
    expect(shown[0].data["text/html"]).toContain("gradbook-tensor");
  }, 120_000);

  it("loads the datasets over HTTP from the site", async () => {
    const code = "const d = await gb.datasets.mnist({ train: false });\nconst f = await gb.datasets.fashionMnist({ train: false });\n[d.images.shape, await d.labels.slice(0, 0, 5).toArray(), await d.images.sum().item(), f.images.shape, await f.labels.slice(0, 100, 105).toArray(), await f.images.mean().item(), f.classes[9]]";
    const out = textOf(await runCell(page, code, 180_000));
    // the same tensors as the engine reads from the files in Node
    const d = await gb.datasets.mnist({ train: false });
    const f = await gb.datasets.fashionMnist({ train: false });
    const node = [d.images.shape, await d.labels.slice(0, 0, 5).toArray(), await d.images.sum().item(), f.images.shape, await f.labels.slice(0, 100, 105).toArray(), await f.images.mean().item(), f.classes[9]];
    expect(out).toBe(inspect(node, { depth: 4, breakLength: 100 }));
  }, 240_000);

  it("points errors at the cell's line, and names the browser's alternative to Node's modules", async () => {
    const err = textOf(await runCell(page, "const ok = 1;\nconst t = gb.ones([2, 3]);\nt.matmul(gb.ones([2, 3]));"));
    expect(err).toMatch(/^Error: /);
    expect(err).toMatch(/Cell In\[\d+\], line 3/);
    expect(err).toContain("--> ");
    const fs = textOf(await runCell(page, 'import { readFileSync } from "fs";'));
    expect(fs).toContain('"fs" is a Node.js module, which the browser kernel does not have');
    expect(fs).toContain("fetch(url)");
    const save = textOf(await runCell(page, 'await gb.nn.safetensors.saveFile(new gb.nn.Linear(2, 2), "w.safetensors")'));
    expect(save).toContain("safetensors.saveFile reads or writes files, which only Node can: in a browser");
  }, 120_000);

  it("runs WebGPU on Chromium's adapter where it starts, else says the CPU path is taken", async () => {
    const out = textOf(
      await runCell(
        page,
        `let gpuNote = "";
try {
  const x = gb.randn([64, 48]), y = gb.randn([48, 32]);
  const adapter = await gb.initGpu();
  const onGpu = await x.to("gpu").matmul(y.to("gpu")).toAsync("cpu");
  gpuNote = "webgpu (" + adapter + ") " + (await onGpu.sub(x.matmul(y)).abs().max().item() < 1e-4);
} catch (e) {
  gpuNote = "cpu " + (e as Error).message;
}
gpuNote`,
        180_000,
      ),
    );
    console.log(`WebGPU in headless Chromium: ${out}`);
    if (out.startsWith("'webgpu")) expect(out).toMatch(/ true'$/);
    else console.log("WebGPU did not start here: the notebooks run on the CPU path");
    await page.screenshot({ path: join(OUTPUT_DIR, "lite-session.png") });
  }, 240_000);

  it("made no request outside 127.0.0.1, none failed, no page error", () => {
    expect(site.external).toEqual([]);
    expect(site.badResponses).toEqual([]);
    expect(site.pageErrors).toEqual([]);
  });
});
