/**
 * gradbook's JupyterLab 4.6 (lab/, served by lab/server/gradbook_lab.py on Debian's Jupyter
 * server) in Debian's Chromium: the page loads with the gradbook kernel, a notebook runs, its
 * outputs render (text, Markdown with math, a Plotly figure, an image, a widget), and the
 * session makes no failing request and none outside 127.0.0.1. Screenshots in tests/output/.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { OUTPUT_DIR, command, labMissing, labNotebook, openLab, startLab, waitAllRun, waitKernelIdle, type Lab } from "./harness.js";

const missing = labMissing();
if (missing) throw new Error(`the JupyterLab tests cannot run: ${missing}`);

const SMOKE = [
  "md:# Smoke\nEuler: $e^{i\\pi} + 1 = 0$",
  "const n: number = 20;\nn + 1",
  `widgets.plot.line({ train: [1, 0.6, 0.4], val: [1.1, 0.7, 0.5] }, { title: "Loss", xlabel: "epoch" })`,
  `widgets.imageGrid(gb.rand([4, 1, 8, 8]), { nrow: 4 })`,
  `new widgets.IntSlider({ value: 3, min: 0, max: 10, description: "k" })`,
];

describe("gradbook's JupyterLab in Chromium", () => {
  let lab: Lab;

  beforeAll(async () => {
    mkdirSync(OUTPUT_DIR, { recursive: true });
    lab = await startLab({ "smoke.ipynb": labNotebook(SMOKE) });
  }, 120_000);

  afterAll(async () => {
    await lab?.stop();
  }, 60_000);

  it("the launcher offers the gradbook kernel with its logo", async () => {
    const page = await openLab(lab, "/lab?reset");
    try {
      const card = page.locator(".jp-LauncherCard", { hasText: "TypeScript (gradbook)" }).first();
      await card.waitFor({ timeout: 60_000 });
      const logo = card.locator("img").first();
      await logo.waitFor({ timeout: 30_000 });
      await page.waitForFunction((img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0, await logo.elementHandle(), { timeout: 30_000 });
      expect(await logo.getAttribute("src")).toMatch(/\/kernelspecs\/gradbook\/logo-/);
      await page.screenshot({ path: join(OUTPUT_DIR, "jupyterlab-launcher.png") });
    } finally {
      await page.close();
    }
  }, 180_000);

  it("opens a notebook on the gradbook kernel and renders every kind of output; no request fails or leaves 127.0.0.1", async () => {
    const page = await openLab(lab, "/lab/tree/smoke.ipynb");
    try {
      await waitKernelIdle(page);
      const kernel = await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.sessionContext.session.kernel.name);
      expect(kernel).toBe("gradbook");
      await command(page, "notebook:run-all-cells");
      await waitAllRun(page, 120_000);
      await page.waitForSelector(".gb-PlotlyRenderer .main-svg", { timeout: 60_000 });
      await page.waitForSelector(".jp-OutputArea-output .widget-slider", { timeout: 60_000 });
      await page.waitForSelector(".jp-MarkdownCell mjx-container", { timeout: 60_000 });
      const info = await page.evaluate(() => ({
        result: document.querySelectorAll(".jp-CodeCell")[0].querySelector(".jp-OutputArea-output")?.textContent?.trim(),
        plotTitle: document.querySelector(".gb-PlotlyRenderer .gtitle")?.textContent,
        traces: document.querySelectorAll(".gb-PlotlyRenderer .scatterlayer .trace").length,
        images: Array.from(document.querySelectorAll(".jp-OutputArea-output img")).map((i) => (i as HTMLImageElement).naturalWidth),
        sliderValue: document.querySelector(".widget-slider .widget-readout")?.textContent?.trim(),
        errors: document.querySelectorAll(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").length,
      }));
      await page.screenshot({ path: join(OUTPUT_DIR, "jupyterlab-smoke.png"), fullPage: true });
      expect(info.result).toBe("21");
      expect(info.plotTitle).toBe("Loss");
      expect(info.traces).toBe(2);
      expect(info.images.length).toBe(1);
      expect(info.images[0]).toBeGreaterThan(0);
      expect(info.sliderValue).toBe("3");
      expect(info.errors).toBe(0);
      expect(lab.pageErrors).toEqual([]);
      expect(lab.badResponses).toEqual([]);
      expect(lab.external).toEqual([]);
    } catch (e) {
      await page.screenshot({ path: join(OUTPUT_DIR, "jupyterlab-smoke-failed.png"), fullPage: true });
      throw new Error(`${e}\npage errors: ${lab.pageErrors.join("\n")}\nbad responses: ${lab.badResponses.join("\n")}\nserver log: ${lab.server.log().slice(-3000)}`);
    } finally {
      await page.close();
    }
  }, 300_000);
});
