/**
 * The course notebooks in gradbook's JupyterLab (Chromium): each opened from the file
 * browser's folder, Run All with the quick settings, then: no cell in error and nothing on
 * stderr, every Plotly figure drawn (an SVG in each), every image decoded, the Markdown's
 * math typeset, and no failing or external request. Screenshots: tests/output/lab-NN-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { OUTPUT_DIR, ROOT, command, labMissing, openLab, quickNotebook, screenshotNotebook, startLab, waitAllRun, waitKernelIdle, type Lab } from "./harness.js";

const missing = labMissing();
if (missing) throw new Error(`the JupyterLab tests cannot run: ${missing}`);

// every course notebook (notebooks/NN-*.ipynb)
const NOTEBOOKS = readdirSync(join(ROOT, "notebooks")).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).map((f) => f.replace(/\.ipynb$/, "")).sort();

if (NOTEBOOKS.length < 6) throw new Error(`expected the course notebooks in notebooks/, found ${NOTEBOOKS.join(", ") || "none"}`);

/** What each notebook shows besides its figures: a selector in the rendered outputs and how many at least. */
const VIEWS: Record<string, Record<string, number>> = {
  "02-xor": { ".gb-mlp-svg": 2 },
  "03-backprop": { ".gb-graph-svg": 1 },
  // the convolution view, the gallery, an interact with its sliders (the widget manager), image grids
  "04-convolution-arithmetic": { ".gb-conv-view": 3, ".jp-OutputArea-output .widget-slider": 5, ".gb-image-grid img": 5 },
  // the live training view, finished; digits, filters and feature maps
  "05-lenet5": { ".gb-training-view[data-progress='100']": 1, ".gb-image-grid img": 6 },
  "06-alexnet": { ".gb-training-view[data-progress='100']": 1, ".gb-image-grid img": 1 },
};

describe("the course notebooks in JupyterLab", () => {
  let lab: Lab;

  beforeAll(async () => {
    mkdirSync(OUTPUT_DIR, { recursive: true });
    lab = await startLab(Object.fromEntries(NOTEBOOKS.map((n) => [`${n}.ipynb`, quickNotebook(n)])));
  }, 120_000);

  afterAll(async () => {
    await lab?.stop();
  }, 60_000);

  for (const name of NOTEBOOKS) {
    it(`${name}: Run All renders every output, no error`, async () => {
      // ?reset: a fresh workspace, so the notebooks opened before are not reopened (with their kernels)
      const page = await openLab(lab, `/lab/tree/${name}.ipynb?reset`);
      try {
        await waitKernelIdle(page);
        const t0 = Date.now();
        await command(page, "notebook:run-all-cells");
        await waitAllRun(page, 900_000);
        const seconds = (Date.now() - t0) / 1000;
        // figures further down are drawn when their output exists; bring each into view as a reader would
        const plots = await page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.plotly.v1+json']").all();
        for (const p of plots) {
          await p.scrollIntoViewIfNeeded();
          await p.locator(".main-svg").first().waitFor({ state: "attached", timeout: 60_000 });
        }
        const views = await page.evaluate(
          (sels) => Object.fromEntries(sels.map((sel) => [sel, document.querySelectorAll(`.jp-NotebookPanel-notebook ${sel}`).length])),
          Object.keys(VIEWS[name] ?? {}),
        );
        const info = await page.evaluate(() => {
          const panel = (window as any).jupyterapp.shell.currentWidget;
          const outputs = panel.content.widgets.flatMap((c: any) => (c.model.type === "code" ? c.model.outputs.toJSON() : []));
          const byType = (t: string) => outputs.filter((o: any) => o.output_type === t);
          const nodes = (sel: string) => Array.from(document.querySelectorAll(`.jp-NotebookPanel-notebook ${sel}`));
          return {
            errors: byType("error").map((o: any) => `${o.ename}: ${o.evalue}`),
            stderr: byType("stream").filter((o: any) => o.name === "stderr").map((o: any) => o.text),
            plotlyOutputs: outputs.filter((o: any) => o.data?.["application/vnd.plotly.v1+json"]).length,
            plotlyDrawn: nodes(".gb-PlotlyRenderer").filter((p) => p.querySelector(".main-svg")).length,
            plotlySvgs: nodes(".gb-PlotlyRenderer .main-svg").length,
            images: nodes(".jp-OutputArea-output img").map((i) => ({ ok: (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0, src: (i as HTMLImageElement).src.slice(0, 40) })),
            math: nodes(".jp-MarkdownCell mjx-container").length,
            mathSource: nodes(".jp-MarkdownCell .jp-RenderedMarkdown").filter((m) => /\$[^$]+\$/.test((m as HTMLElement).innerText)).length,
            widgets: nodes(".jp-OutputArea-output .jupyter-widgets").length,
            widgetErrors: nodes(".jupyter-widgets.jupyter-widgets-error-widget, .jp-OutputArea-output .widget-error").length,
          };
        });
        await screenshotNotebook(page, join(OUTPUT_DIR, `lab-${name}.png`));
        console.log(`${name}: ran in ${seconds.toFixed(1)} s; ${info.plotlyOutputs} Plotly figures, ${info.images.length} images, ${info.math} formulas, ${info.widgets} widgets`);
        for (const [sel, min] of Object.entries(VIEWS[name] ?? {})) expect(views[sel], sel).toBeGreaterThanOrEqual(min);
        expect(info.errors).toEqual([]);
        expect(info.stderr).toEqual([]);
        expect(info.plotlyDrawn).toBe(info.plotlyOutputs);
        expect(info.plotlySvgs).toBeGreaterThanOrEqual(info.plotlyOutputs);
        expect(info.images.filter((i) => !i.ok)).toEqual([]);
        expect(info.mathSource).toBe(0); // no formula left as $...$ text
        expect(info.widgetErrors).toBe(0);
        expect(lab.pageErrors).toEqual([]);
        expect(lab.badResponses).toEqual([]);
        expect(lab.external).toEqual([]);
      } finally {
        // the kernel goes with its notebook: the next notebook gets the CPU
        await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget?.sessionContext?.shutdown()).catch(() => {});
        await page.close();
      }
    }, 1_000_000);
  }
});
