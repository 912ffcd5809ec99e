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
import { OUTPUT_DIR, dragSliderToEnd } from "../widgets/browser/harness.js";
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

  it("widgets both ways: a slider dragged with the mouse reaches the kernel, the kernel moves it back; a button click", async () => {
    const plot = await runCell(page, `const k = new widgets.IntSlider({ value: 2, min: 1, max: 8, description: "k" });\nwidgets.interact(({ k }) => widgets.plot.line(gb.arange(0, 4).mul(k), { title: \`k = \${k}\`, height: 300 }), { k })`);
    expect(plot[0].data["application/vnd.jupyter.widget-view+json"]).toBeDefined();
    await page.waitForFunction(() => document.querySelector(".gb-PlotlyRenderer .gtitle")?.textContent === "k = 2", undefined, { timeout: 60_000 });
    const handle = page.locator(".widget-slider .noUi-handle").last();
    const track = page.locator(".widget-slider .noUi-target").last();
    await track.scrollIntoViewIfNeeded();
    await dragSliderToEnd(page, handle, track);
    // the kernel ran the interact's function again: its plot is redrawn
    await page.waitForFunction(() => Array.from(document.querySelectorAll(".gb-PlotlyRenderer .gtitle")).some((t) => t.textContent === "k = 8"), undefined, { timeout: 60_000 });
    await page.screenshot({ path: join(OUTPUT_DIR, "lite-slider.png") });
    expect(textOf(await runCell(page, "k.value"))).toBe("8");
    await runCell(page, "k.value = 5;");
    await page.waitForFunction(() => document.querySelectorAll(".widget-slider .widget-readout")[0]?.textContent === "5", undefined, { timeout: 30_000 });
    await runCell(page, `const b = new widgets.Button({ description: "step" });\nlet clicks = 0;\nb.onClick(() => { clicks++; });\nb`);
    await page.locator(".jp-OutputArea-output button.jupyter-button", { hasText: "step" }).click();
    await page.locator(".jp-OutputArea-output button.jupyter-button", { hasText: "step" }).click();
    await page.waitForTimeout(500);
    expect(textOf(await runCell(page, "clicks"))).toBe("2");
  }, 180_000);

  it("asks for input (stdin) and goes on with the answer", async () => {
    const index = await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.model.cells.length);
    const done = runCell(page, 'const who = await input("your name? ");\nwho.toUpperCase()');
    const box = page.locator(".jp-Stdin-input");
    await box.waitFor({ timeout: 60_000 });
    expect(await page.locator(".jp-Stdin-prompt").textContent()).toBe("your name? ");
    await box.fill("ada");
    await box.press("Enter");
    const out = await done;
    expect(textOf(out)).toContain("'ADA'");
    expect(index).toBeGreaterThan(0);
  }, 120_000);

  it("the interrupt button stops a busy loop at once (the kernel's state survives), and an awaiting loop", async () => {
    const interrupt = page.locator(".jp-NotebookPanel-toolbar [data-command='notebook:interrupt-kernel']");
    const stop = async (code: string) => {
      const done = runCell(page, code);
      await page.waitForFunction(() => (window as any).jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === "busy", undefined, { timeout: 30_000 });
      await page.waitForTimeout(500);
      const t0 = Date.now();
      await interrupt.click();
      const out = await done;
      return { text: textOf(out), seconds: (Date.now() - t0) / 1000 };
    };
    const busy = await stop("let total = 42;\nlet spins = 0;\nwhile (true) { spins++; }");
    expect(busy.text).toMatch(/^KeyboardInterrupt: execution was interrupted/);
    expect(busy.text).not.toContain("restarted");
    expect(textOf(await runCell(page, "[total, spins > 0]"))).toBe("[ 42, true ]");
    const waiting = await stop("for (;;) await new Promise((r) => setTimeout(r, 50));");
    expect(waiting.text).toMatch(/^KeyboardInterrupt/);
    console.log(`interrupt: a busy loop stopped in ${busy.seconds.toFixed(2)} s, an awaiting one in ${waiting.seconds.toFixed(2)} s`);
  }, 180_000);

  it("an interrupt no loop check reaches replaces the kernel's worker and says so; the next cell runs", async () => {
    const interrupt = page.locator(".jp-NotebookPanel-toolbar [data-command='notebook:interrupt-kernel']");
    // a loop in code the kernel did not compile (new Function): no interrupt check in it
    const done = runCell(page, 'new Function("while (true) {}")()');
    await page.waitForFunction(() => (window as any).jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === "busy", undefined, { timeout: 30_000 });
    await page.waitForTimeout(500);
    await interrupt.click();
    const text = textOf(await done);
    expect(text).toContain("The kernel did not stop within 3 s of the interrupt");
    expect(text).toContain("Variables and imports are gone");
    expect(text).toMatch(/KeyboardInterrupt/);
    expect(textOf(await runCell(page, "[typeof (globalThis as any).total, 6 * 7]"))).toBe("[ 'undefined', 42 ]");
  }, 180_000);

  it("Tab completes from the kernel's language service; Shift+Tab shows its inspection", async () => {
    await runCell(page, "const total = 42;");
    const edit = async (code: string) => {
      const i = await page.evaluate((src) => {
        const nb = (window as any).jupyterapp.shell.currentWidget.content;
        nb.model.sharedModel.insertCell(nb.model.cells.length, { cell_type: "code", source: src });
        nb.activeCellIndex = nb.model.cells.length - 1;
        return nb.activeCellIndex;
      }, code);
      await page.locator(".jp-Notebook .jp-Cell").nth(i).locator(".cm-content").click();
      await page.keyboard.press("Control+End");
    };
    await edit("gb.datasets.fashionM");
    await page.keyboard.press("Tab");
    // one completion is inserted at once; JupyterLab lists it when the notebook's own words (an earlier cell's) offer it too
    const source = () => page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel.getSource());
    await page.waitForFunction(() => (window as any).jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel.getSource() === "gb.datasets.fashionMnist" || !!document.querySelector(".jp-Completer:not(.lm-mod-hidden) .jp-Completer-item"), undefined, { timeout: 60_000 });
    if ((await source()) !== "gb.datasets.fashionMnist") {
      expect(await page.locator(".jp-Completer .jp-Completer-item .jp-Completer-match").allTextContents()).toContain("fashionMnist");
      await page.locator(".jp-Completer .jp-Completer-item", { hasText: "fashionMnist" }).first().click();
    }
    await page.waitForFunction(() => (window as any).jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel.getSource() === "gb.datasets.fashionMnist", undefined, { timeout: 30_000 });
    await edit("Math.a");
    await page.keyboard.press("Tab");
    await page.waitForSelector(".jp-Completer:not(.lm-mod-hidden) .jp-Completer-item", { timeout: 60_000 });
    const items = await page.locator(".jp-Completer .jp-Completer-item .jp-Completer-match").allTextContents();
    expect(items).toEqual(expect.arrayContaining(["abs", "acos", "asin", "atan", "atan2"]));
    await page.screenshot({ path: join(OUTPUT_DIR, "lite-completion.png") });
    await page.keyboard.press("Escape");
    await edit("total");
    await page.keyboard.press("Shift+Tab");
    await page.waitForSelector(".jp-Tooltip", { timeout: 60_000 });
    // the tooltip's node is attached before its rendered content (as in tests/lab/interaction.test.ts)
    await page.waitForFunction(() => /\S/.test(document.querySelector(".jp-Tooltip")?.textContent ?? ""), undefined, { timeout: 60_000 }).catch(() => {});
    expect(await page.locator(".jp-Tooltip").textContent()).toMatch(/const total: 42/);
    await page.keyboard.press("Escape");
    await page.evaluate(() => (window as any).jupyterapp.commands.execute("notebook:enter-command-mode"));
  }, 180_000);

  it("restart clears the kernel's state; it runs again from In[1]", async () => {
    await page.locator(".jp-NotebookPanel-toolbar [data-command='notebook:restart-kernel']").click();
    await page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click();
    await page.waitForFunction(() => {
      const k = (window as any).jupyterapp.shell.currentWidget.sessionContext.session?.kernel;
      return k?.status === "idle" && k.connectionStatus === "connected";
    }, undefined, { timeout: 120_000 });
    const out = await runCell(page, "typeof (globalThis as any).total");
    expect(textOf(out)).toBe("'undefined'");
    expect(out[0].execution_count).toBe(1);
  }, 180_000);

  it("made no request outside 127.0.0.1, none failed, no page error", () => {
    expect(site.external).toEqual([]);
    expect(site.badResponses).toEqual([]);
    expect(site.pageErrors).toEqual([]);
  });
});
