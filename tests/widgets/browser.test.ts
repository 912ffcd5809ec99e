/**
 * Browser tests: the widgets rendered by real Jupyter front ends on the gradbook kernel, in
 * Debian's Chromium driven by playwright-core. Screenshots go to tests/output/ (git-ignored).
 *
 *  1. classic notebook 6 (`jupyter notebook`): a Plotly figure (through its offline HTML), an
 *     image grid, a live training view whose progress bar advances;
 *  2. `jupyter nbconvert --to html --execute` of the same notebook, opened with the network cut off;
 *  3. a page built from @jupyterlab/services + @jupyter-widgets/html-manager (the ipywidgets 8
 *     manager, protocol 2.1.0) against `jupyter server`: a slider and a plot, moving the slider
 *     redraws the plot, a progress bar advances.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  JUPYTER,
  OUTPUT_DIR,
  bundleWidgetPage,
  jupyterEnv,
  missingPrerequisite,
  notebook,
  serveDir,
  startJupyter,
  type JupyterEnv,
  type RunningServer,
} from "./browser/harness.js";

const missing = missingPrerequisite();
const CELLS = [
  `widgets.plot.line({ train: [1, 0.62, 0.45, 0.37, 0.33], val: [1.05, 0.7, 0.55, 0.5, 0.49] }, { title: "Loss", xlabel: "epoch" })`,
  `widgets.imageGrid(gb.rand([16, 1, 8, 8]), { nrow: 8, title: "random 8×8 images" })`,
  [
    `const view = widgets.trainingView({ epochs: 3, batchesPerEpoch: 6, throttleMs: 50, title: "training" });`,
    `for (let epoch = 0; epoch < 3; epoch++) {`,
    `  for (let batch = 0; batch < 6; batch++) {`,
    `    await new Promise((r) => setTimeout(r, 120));`,
    `    const step = epoch * 6 + batch;`,
    `    view.update({ epoch, batch, trainLoss: 1 / (1 + 0.3 * step), trainAcc: 0.5 + 0.025 * step, samples: 64 });`,
    `  }`,
    `  view.update({ epoch, valLoss: 0.9 / (1 + epoch), valAcc: 0.6 + 0.1 * epoch });`,
    `}`,
    `await view.close();`,
  ].join("\n"),
  `widgets.decisionBoundary((x) => x.index(":", 0).sub(0.5).mul(x.index(":", 1).sub(0.5)).neg(), gb.tensor([[0, 0], [0, 1], [1, 0], [1, 1]]), gb.tensor([0, 1, 1, 0]), { title: "XOR" })`,
  `widgets.convArithmetic({ input: 5, kernel: 3, stride: 2, padding: 1 })`,
  // no ipywidgets 8 manager in the classic notebook: the static view with its note
  `widgets.interact(({ stride }) => widgets.convArithmetic({ input: 5, kernel: 3, stride }), { stride: [1, 3] })`,
  `widgets.activations(["sigmoid", "tanh", "relu", "gelu"])`,
  `widgets.confusionMatrix(gb.tensor([0, 1, 2, 2, 1, 0, 2, 1, 1, 0]), gb.tensor([0, 1, 2, 1, 1, 0, 2, 2, 1, 0]), { classNames: ["cat", "dog", "bird"] })`,
  `widgets.mlpDiagram(new gb.nn.Sequential(new gb.nn.Linear(2, 4), new gb.nn.Tanh(), new gb.nn.Linear(4, 1), new gb.nn.Sigmoid()), { title: "XOR MLP" })`,
  [
    `const a = gb.tensor(2.0, { requiresGrad: true }); a.name = "a";`,
    `const b = gb.tensor(-3.0, { requiresGrad: true }); b.name = "b";`,
    `const c = gb.tensor(10.0, { requiresGrad: true }); c.name = "c";`,
    `const f = gb.tensor(-2.0, { requiresGrad: true }); f.name = "f";`,
    `const e = a.mul(b); e.name = "e"; const d = e.add(c); d.name = "d"; const L = d.mul(f); L.name = "L";`,
    `await L.backward();`,
    `widgets.drawGraph(L)`,
  ].join("\n"),
];

describe.skipIf(missing !== null)("widgets in real Jupyter front ends (Chromium)", () => {
  let browser: Browser;
  let je: JupyterEnv;
  const servers: RunningServer[] = [];
  const tempDirs: string[] = [];

  beforeAll(async () => {
    mkdirSync(OUTPUT_DIR, { recursive: true });
    je = jupyterEnv();
    writeFileSync(join(je.dir, "work", "widgets-demo.ipynb"), notebook(CELLS));
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  }, 60_000);

  afterAll(async () => {
    for (const s of servers) await s.stop();
    await browser?.close();
    for (const d of [je?.dir, ...tempDirs]) if (d) rmSync(d, { recursive: true, force: true });
  }, 60_000);

  async function progressWatcher(page: Page, selector: string, read: string): Promise<() => Promise<string[]>> {
    // records every distinct value the page shows while the cell runs
    await page.evaluate(
      ([sel, expr]) => {
        const seen: string[] = [];
        (window as any).__gbSeen = seen;
        const tick = () => {
          document.querySelectorAll(sel).forEach((el) => {
            const v = new Function("el", `return ${expr}`)(el);
            if (v != null && seen[seen.length - 1] !== String(v)) seen.push(String(v));
          });
        };
        (window as any).__gbTimer = setInterval(tick, 25);
      },
      [selector, read],
    );
    return async () => page.evaluate(() => {
      clearInterval((window as any).__gbTimer);
      return (window as any).__gbSeen as string[];
    });
  }

  it("classic notebook 6: Plotly figure (HTML fallback), image grid and a live training view render", async () => {
    const srv = await startJupyter("notebook", je);
    servers.push(srv);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${srv.url}/notebooks/widgets-demo.ipynb?token=${srv.token}`);
    await page.waitForFunction(() => (window as any).Jupyter?.notebook?.kernel?.is_connected?.(), undefined, { timeout: 60_000 });
    // cell by cell (as a student would): the training view's live updates are watched while its cell runs
    const runCell = async (i: number) => {
      await page.evaluate((k) => (window as any).Jupyter.notebook.execute_cells([k]), i);
      await page.waitForFunction((k) => {
        const c = (window as any).Jupyter.notebook.get_cell(k);
        return typeof c.input_prompt_number === "number";
      }, i, { timeout: 90_000 });
    };
    await runCell(0);
    await runCell(1);
    await page.waitForFunction(() => document.querySelectorAll(".output_area .js-plotly-plot .main-svg").length >= 1, undefined, { timeout: 60_000 });
    const stop = await progressWatcher(page, ".gb-training-view", "el.getAttribute('data-progress')");
    await runCell(2);
    await page.waitForFunction(() => document.querySelectorAll(".gb-training-view[data-progress='100']").length === 1, undefined, { timeout: 90_000 });
    await runCell(3);
    await runCell(4);
    for (let i = 5; i < CELLS.length; i++) await runCell(i);
    await page.waitForFunction(() => document.querySelectorAll(".output_area .js-plotly-plot .main-svg").length >= 4, undefined, { timeout: 60_000 });
    const seen = (await stop()).map(Number);
    // the progress bar advanced through intermediate values to 100
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.some((p) => p > 0 && p < 100)).toBe(true);
    expect(seen[seen.length - 1]).toBe(100);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
    const info = await page.evaluate(() => {
      const plots = Array.from(document.querySelectorAll(".output_area .js-plotly-plot"));
      return {
        plotlySvg: document.querySelectorAll(".output_area .plotly svg.main-svg").length,
        traces: plots.map((p) => p.querySelectorAll(".scatterlayer .trace, .heatmaplayer .hm").length),
        titles: plots.map((p) => p.querySelector(".gtitle")?.textContent ?? ""),
        img: Array.from(document.querySelectorAll(".output_area .gb-image-grid img")).map((i) => ({ w: (i as HTMLImageElement).naturalWidth, ok: (i as HTMLImageElement).complete })),
        progress: (document.querySelector(".gb-training-view progress") as HTMLProgressElement | null)?.value,
        series: document.querySelectorAll(".gb-training-view .gb-series").length,
        conv: document.querySelector(".gb-conv-view")?.getAttribute("data-output-h"),
        plotlyScripts: Array.from(document.querySelectorAll(".output_area script")).filter((s) => (s.textContent ?? "").includes("plotly.js, embedded once")).length,
        notLoaded: document.body.innerText.includes("plotly.js is not loaded"),
        mlpUnits: document.querySelectorAll(".output_area .gb-mlp-svg circle").length,
        graphBoxes: document.querySelectorAll(".output_area .gb-graph-svg .gb-graph-value").length,
        staticWidget: Array.from(document.querySelectorAll(".output_area .gb-widget-static")).map((e) => ({
          note: (e as HTMLElement).innerText.includes("needs a front end with Jupyter widgets"),
          slider: !!e.querySelector("input[type=range]"),
          conv: e.querySelector(".gb-conv-view")?.getAttribute("data-output-h"),
        })),
      };
    });
    // the notebook scrolls inside #site: make the viewport as tall as the notebook for the screenshot
    const h = await page.evaluate(() => (document.querySelector("#notebook") as HTMLElement).scrollHeight + 150);
    await page.setViewportSize({ width: 1200, height: Math.min(h, 6000) });
    await page.screenshot({ path: join(OUTPUT_DIR, "classic-notebook.png"), fullPage: true });
    expect(info.plotlySvg).toBeGreaterThanOrEqual(2);
    expect(info.titles).toEqual(["Loss", "XOR", "Activation functions and their derivatives", "Confusion matrix — accuracy 80.0% (8/10)"]);
    expect(info.traces[0]).toBe(2);
    expect(info.img).toHaveLength(1);
    expect(info.img[0].w).toBeGreaterThan(0);
    expect(info.progress).toBe(100);
    expect(info.series).toBe(4);
    expect(info.conv).toBe("3");
    expect(info.plotlyScripts).toBe(1); // plotly.js embedded once in the page
    expect(info.notLoaded).toBe(false);
    expect(info.mlpUnits).toBe(2 + 4 + 1);
    expect(info.graphBoxes).toBe(7); // a, b, c, f, e, d, L
    expect(info.staticWidget).toEqual([{ note: true, slider: true, conv: "2" }]);
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);

  it("nbconvert --to html of the executed notebook shows the figures with the network cut off", async () => {
    const out = mkdtempSync(join(tmpdir(), "gb-nbconvert-"));
    tempDirs.push(out);
    const r = spawnSync(
      JUPYTER,
      // store_widget_state=False: without saved widget state nbconvert uses the widgets' static
      // text/html views (with their note); saved state would need the html-manager from a CDN.
      ["nbconvert", "--to", "html", "--execute", "--ExecutePreprocessor.timeout=120", "--ExecutePreprocessor.store_widget_state=False", "--output-dir", out, join(je.dir, "work", "widgets-demo.ipynb")],
      { env: je.env, encoding: "utf8", timeout: 200_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const htmlFile = join(out, "widgets-demo.html");
    const html = readFileSync(htmlFile, "utf8");
    expect(html).toContain("plotly.js, embedded once");
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const blocked: string[] = [];
    await context.route("**/*", (route) => {
      const u = route.request().url();
      if (u.startsWith("file:") || u.startsWith("data:")) return route.continue();
      blocked.push(u);
      return route.abort("internetdisconnected");
    });
    const page = await context.newPage();
    await page.goto(`file://${htmlFile}`);
    await page.waitForFunction(() => document.querySelectorAll(".js-plotly-plot .main-svg").length >= 4, undefined, { timeout: 60_000 });
    const info = await page.evaluate(() => ({
      plots: document.querySelectorAll(".js-plotly-plot").length,
      img: Array.from(document.querySelectorAll(".gb-image-grid img")).map((i) => (i as HTMLImageElement).naturalWidth),
      progress: document.querySelector(".gb-training-view")?.getAttribute("data-progress"),
      conv: document.querySelectorAll(".gb-conv-view .gb-out-cell").length,
      staticNote: Array.from(document.querySelectorAll(".gb-widget-static")).map((e) => (e as HTMLElement).innerText.includes("needs a front end with Jupyter widgets")),
    }));
    await page.screenshot({ path: join(OUTPUT_DIR, "nbconvert-offline.png"), fullPage: true });
    expect(info.plots).toBe(4);
    expect(info.img[0]).toBeGreaterThan(0);
    expect(info.progress).toBe("100");
    expect(info.staticNote).toEqual([true]);
    expect(info.conv).toBe(9 + 4); // the conv view (3×3), and the interact's static view of stride 2 (2×2)
    await context.close();
  }, 240_000);

  it("@jupyter-widgets/html-manager + @jupyterlab/services page: slider redraws the plot, progress bar advances", async () => {
    const pageDir = mkdtempSync(join(tmpdir(), "gb-widget-page-"));
    tempDirs.push(pageDir);
    await bundleWidgetPage(pageDir);
    const web = await serveDir(pageDir);
    const srv = await startJupyter("server", je, ["--ServerApp.allow_origin=*", "--ServerApp.disable_check_xsrf=True"]);
    servers.push(srv);
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    try {
      await page.goto(`${web.url}/index.html`);
      await page.evaluate(([u, t]) => (window as any).gb.start(u, t, "gradbook"), [srv.url, srv.token]);
      const status = await page.evaluate(() =>
        (window as any).gb.run(
          [
            `const w = widgets.interact(({ stride }) => widgets.plot.line(gb.arange(0, 8).mul(stride), { title: \`stride \${stride}\`, height: 300 }), { stride: [1, 3] });`,
            `w`,
          ].join("\n"),
          "c1",
        ),
      );
      expect(status).toBe("ok");
      await page.waitForSelector("#c1 .widget-slider", { timeout: 30_000 });
      await page.waitForFunction(() => document.querySelector("#c1 .js-plotly-plot .gtitle")?.textContent === "stride 2", undefined, { timeout: 60_000 });
      const yBefore = await page.evaluate(() => (document.querySelector("#c1 .js-plotly-plot") as any).data[0].y);
      expect(yBefore).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
      await page.screenshot({ path: join(OUTPUT_DIR, "widgets-page-before.png"), fullPage: true });
      // move the slider with the keyboard, as a user would
      await page.focus("#c1 .noUi-handle");
      await page.keyboard.press("ArrowRight");
      await page.waitForFunction(() => document.querySelector("#c1 .js-plotly-plot .gtitle")?.textContent === "stride 3", undefined, { timeout: 30_000 });
      const after = await page.evaluate(() => ({
        y: (document.querySelector("#c1 .js-plotly-plot") as any).data[0].y,
        readout: (document.querySelector("#c1 .widget-readout") as HTMLElement | null)?.textContent?.trim(),
      }));
      expect(after.y).toEqual([0, 3, 6, 9, 12, 15, 18, 21]);
      expect(after.readout).toBe("3");
      // further moves keep syncing (the kernel answers each comm message with busy/idle)
      await page.keyboard.press("ArrowLeft");
      await page.waitForFunction(() => document.querySelector("#c1 .js-plotly-plot .gtitle")?.textContent === "stride 2", undefined, { timeout: 30_000 });
      await page.keyboard.press("ArrowLeft");
      await page.waitForFunction(() => document.querySelector("#c1 .js-plotly-plot .gtitle")?.textContent === "stride 1", undefined, { timeout: 30_000 });
      expect(await page.evaluate(() => (document.querySelector("#c1 .js-plotly-plot") as any).data[0].y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      await page.keyboard.press("ArrowRight");
      await page.waitForFunction(() => document.querySelector("#c1 .js-plotly-plot .gtitle")?.textContent === "stride 2", undefined, { timeout: 30_000 });
      await page.keyboard.press("ArrowRight");
      await page.waitForFunction(() => document.querySelector("#c1 .js-plotly-plot .gtitle")?.textContent === "stride 3", undefined, { timeout: 30_000 });

      // a progress bar updated from a running cell
      const run = page.evaluate(() =>
        (window as any).gb.run(
          [
            `const p = new widgets.IntProgress({ max: 10, description: "epochs" });`,
            `display(p);`,
            `for (let i = 1; i <= 10; i++) { await new Promise((r) => setTimeout(r, 150)); p.value = i; }`,
          ].join("\n"),
          "c2",
        ),
      );
      await page.waitForSelector("#c2 .progress-bar", { timeout: 30_000 });
      const seen: string[] = [];
      const t0 = Date.now();
      for (;;) {
        const w = await page.evaluate(() => (document.querySelector("#c2 .progress-bar") as HTMLElement | null)?.style.width ?? "");
        if (w && seen[seen.length - 1] !== w) seen.push(w);
        if (w === "100%" || Date.now() - t0 > 30_000) break;
        await new Promise((r) => setTimeout(r, 40));
      }
      expect(await run).toBe("ok");
      // a dropdown, a button (custom messages) and a label in an HBox
      const run3 = await page.evaluate(() =>
        (window as any).gb.run(
          [
            `const d = new widgets.Dropdown({ options: ["relu", "tanh", "sigmoid"], description: "activation" });`,
            `const b = new widgets.Button({ description: "apply", buttonStyle: "primary" });`,
            `const lab = new widgets.Label("clicks: 0");`,
            `let n = 0;`,
            `b.onClick(() => { n++; lab.value = \`clicks: \${n}, activation: \${d.value}\`; });`,
            `new widgets.HBox([d, b, lab])`,
          ].join("\n"),
          "c3",
        ),
      );
      expect(run3).toBe("ok");
      await page.waitForSelector("#c3 select", { timeout: 30_000 });
      await page.selectOption("#c3 select", "tanh");
      await page.click("#c3 button");
      await page
        .waitForFunction(() => document.querySelector("#c3 div.widget-label")?.textContent === "clicks: 1, activation: tanh", undefined, { timeout: 30_000 })
        .catch(async (e) => {
          throw new Error(`${e}\n#c3: ${await page.evaluate(() => document.querySelector("#c3 .outputs")?.innerHTML)}\nlog: ${await page.evaluate(() => JSON.stringify((window as any).gbLog))}`);
        });
      await page.screenshot({ path: join(OUTPUT_DIR, "widgets-page.png"), fullPage: true });
      expect(seen[seen.length - 1]).toBe("100%");
      expect(seen.length).toBeGreaterThanOrEqual(3);
      expect(errors).toEqual([]);
      const log = await page.evaluate(() => (window as any).gbLog as string[]);
      expect(log.filter((l) => !l.startsWith("kernel "))).toEqual([]);
    } finally {
      await page.close();
      web.server.close();
    }
  }, 240_000);
});

if (missing !== null)
  describe("widgets in real Jupyter front ends", () => {
    it.skip(`skipped: ${missing}`, () => {});
  });
