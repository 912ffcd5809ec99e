/**
 * The course notebooks in the browser: each notebook opened on gradbook's JupyterLite site
 * (dist/lite) in Chromium and run with Run All, one browser for all of them, beside the Node
 * kernel running the same notebooks with the same parameters through nbclient (the Jupyter
 * client of `nbconvert --execute`, tests/notebooks/run_notebooks.py). 01–04 run in full, 05–07
 * with quick settings (as the issue asks: seconds to a minute each). Checked per notebook: no
 * cell fails, every code cell ran, each cell's outputs carry the same MIME types as Node's and
 * the same text (streams, results: the lecture's numbers) once timings are blanked, every
 * Plotly figure is drawn (an SVG in the page) with Node's traces, every widget is rendered.
 * The executed browser notebooks and screenshots go to tests/output/lite/.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Page } from "playwright-core";
import { makeJupyterEnv, stripAnsi, type JupyterEnv } from "../kernel/helpers.ts";
import { liteMissing, openNotebook, openSite, ROOT, startSite, type Site } from "./harness.ts";
import { withParameters } from "../notebooks/parameters.ts";

const missing = liteMissing();
if (missing) throw new Error(`the JupyterLite tests cannot run: ${missing}`);

/** The notebooks and their settings: 01–04 in full, the training notebooks quick. */
const NOTEBOOKS: [name: string, quick: boolean][] = [
  ["01-perceptron", false],
  ["02-xor", false],
  ["03-backprop", false],
  ["04-convolution-arithmetic", false],
  ["05-lenet5", true],
  ["06-alexnet", true],
  ["07-training-diagnosis", true],
];
const OUT = join(ROOT, "tests", "output", "lite");
const PLOTLY = "application/vnd.plotly.v1+json";
const WIDGET = "application/vnd.jupyter.widget-view+json";

const input = (name: string, quick: boolean) => withParameters(JSON.parse(readFileSync(join(ROOT, "notebooks", `${name}.ipynb`), "utf8")), { quick });

const src = (s: string | string[]) => (Array.isArray(s) ? s.join("") : s);
/**
 * What differs from run to run or machine to machine is blanked: timings and rates (with their
 * padding), elapsed times, and the WebGPU adapter's name (Chromium's SwiftShader here, Mesa's
 * llvmpipe for Node).
 */
const untimed = (s: string) =>
  stripAnsi(s)
    .replace(/ *\d+(\.\d+)?( ?)(ms|s|images\/s|samples\/s)\b/g, " #$2$3")
    .replace(/\d\d:\d\d elapsed/g, "#:# elapsed")
    .replace(/WebGPU adapter: .*?(?= \(a software renderer|$)/gm, "WebGPU adapter: #");

/** Consecutive stream outputs of one name as one (JupyterLab's output area joins them; nbclient keeps each message). */
function joinStreams(outputs: any[]): any[] {
  const out: any[] = [];
  for (const o of outputs) {
    const last = out.at(-1);
    if (o.output_type === "stream" && last?.output_type === "stream" && last.name === o.name) last.text = src(last.text) + src(o.text);
    else out.push(o.output_type === "stream" ? { ...o, text: src(o.text) } : o);
  }
  return out;
}

/** A cell's outputs as compared: per output, its kind, MIME types and text. */
function summary(outputs: any[]): string[] {
  return joinStreams(outputs).map((o) => {
    if (o.output_type === "stream") return `${o.name}: ${untimed(src(o.text))}`;
    if (o.output_type === "error") return `error ${o.ename}: ${stripAnsi(o.evalue)}`;
    const types = Object.keys(o.data ?? {}).sort().join(",");
    return `${o.output_type} [${types}] ${untimed(src(o.data?.["text/plain"] ?? ""))}`;
  });
}

/**
 * A Plotly figure's traces: keys sorted (nbformat writes them so), numbers rounded (the same math
 * in another order may differ in the last bits); a figure of timings (its titles say ms or
 * seconds) keeps its shape, its numbers blanked.
 */
function traces(fig: any): string {
  const timed = /millisecond|second|\bms\b|\/s\b/.test(JSON.stringify(fig.layout ?? {}));
  return JSON.stringify(fig.data, (_k, v) =>
    typeof v === "number" ? (timed ? "#" : Number.isInteger(v) ? v : Number(v.toPrecision(6))) : v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

// ---------------------------------------------------------------- the Node kernel's run (started first, runs beside the browser)
let env: JupyterEnv;
const node = new Map<string, Promise<{ nb: any; error: string | null }>>();

function startNodeRun(): void {
  env = makeJupyterEnv();
  const dir = join(env.dir, "notebooks");
  const out = join(env.dir, "executed");
  mkdirSync(out);
  const inputs = NOTEBOOKS.map(([name, quick]) => {
    const path = join(dir, `${name}.ipynb`);
    writeFileSync(path, JSON.stringify(input(name, quick)));
    return path;
  });
  const resolvers = new Map<string, (r: { nb: any; error: string | null }) => void>();
  for (const [n] of NOTEBOOKS) node.set(n, new Promise((r) => resolvers.set(n, r)));
  const runner = spawn("/usr/bin/python3", [join(ROOT, "tests", "notebooks", "run_notebooks.py"), out, "1", "600", ...inputs], { env: env.env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  runner.stderr.on("data", (d) => (log = (log + d).slice(-20_000)));
  createInterface({ input: runner.stdout }).on("line", (line) => {
    let r: { name: string; error: string | null };
    try {
      r = JSON.parse(line);
    } catch {
      return void (log += line + "\n");
    }
    const name = r.name.replace(/\.ipynb$/, "");
    resolvers.get(name)?.({ nb: JSON.parse(readFileSync(join(out, r.name), "utf8")), error: r.error });
    resolvers.delete(name);
  });
  runner.on("close", (code) => {
    for (const [, resolve] of resolvers) resolve({ nb: null, error: `run_notebooks.py exited with ${code}:\n${log.slice(-3000)}` });
  });
}

// ---------------------------------------------------------------- the browser's run

/** Runs the open notebook with Run All; resolves when every code cell has run or one failed (Run All stops there). */
async function runAll(page: Page, timeout: number): Promise<void> {
  await page.evaluate(() => (window as any).jupyterapp.commands.execute("notebook:run-all-cells"));
  await page.waitForFunction(
    () => {
      const panel = (window as any).jupyterapp.shell.currentWidget;
      const cells = panel.content.widgets.filter((c: any) => c.model.type === "code");
      if (panel.sessionContext.session?.kernel?.status !== "idle") return false;
      if (cells.some((c: any) => c.model.executionState === "running" || c.node.querySelector(".jp-InputArea-prompt")?.textContent?.includes("*"))) return false;
      const failed = cells.some((c: any) => c.model.outputs.toJSON().some((o: any) => o.output_type === "error"));
      return failed || cells.every((c: any) => typeof c.model.executionCount === "number");
    },
    undefined,
    { timeout, polling: 500 },
  );
}

interface BrowserRun {
  nb: any;
  seconds: number;
  /** Plotly figures drawn in the page (an SVG each) and widgets rendered */
  drawnFigures: number;
  renderedWidgets: number;
}

let site: Site;
let page: Page;
const browser = new Map<string, Promise<BrowserRun>>();

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  startNodeRun();
  site = await startSite();
  page = await openSite(site);
  // one notebook after another in the one page (a kernel each, shut down after)
  let chain: Promise<unknown> = Promise.resolve();
  for (const [name, quick] of NOTEBOOKS) {
    const run = chain.then(async (): Promise<BrowserRun> => {
      const path = `run-${name}.ipynb`;
      await openNotebook(page, path, input(name, quick));
      const t0 = Date.now();
      await runAll(page, 240_000);
      const seconds = (Date.now() - t0) / 1000;
      // figures and widgets are drawn as they scroll into view: scroll through the notebook, then count
      await page.evaluate(async () => {
        const nb = (window as any).jupyterapp.shell.currentWidget.content;
        for (let i = 0; i < nb.widgets.length; i++) {
          await nb.scrollToItem(i, "start");
          await new Promise((r) => setTimeout(r, 30));
        }
      });
      await page.waitForFunction(
        () => {
          const panel = (window as any).jupyterapp.shell.currentWidget;
          const want = panel.content.widgets.flatMap((c: any) => (c.model.type === "code" ? c.model.outputs.toJSON() : [])).filter((o: any) => o.data?.["application/vnd.plotly.v1+json"]).length;
          return panel.node.querySelectorAll(".gb-PlotlyRenderer .main-svg").length >= want;
        },
        undefined,
        { timeout: 60_000, polling: 500 },
      ).catch(() => {});
      const drawn = await page.evaluate(() => {
        const panel = (window as any).jupyterapp.shell.currentWidget;
        return {
          nb: panel.content.model.toJSON(),
          drawnFigures: new Set(Array.from(panel.node.querySelectorAll(".gb-PlotlyRenderer .main-svg")).map((s: any) => s.closest(".gb-PlotlyRenderer"))).size,
          renderedWidgets: panel.node.querySelectorAll(".jp-OutputArea-output .widget-inline-hbox, .jp-OutputArea-output .widget-box, .jp-OutputArea-output .jupyter-widgets.widget-container").length,
        };
      });
      // the screenshot shows the notebook's first figure
      await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.node.querySelector(".gb-PlotlyRenderer")?.scrollIntoView({ block: "center" }));
      await page.screenshot({ path: join(OUT, `${name}.png`) });
      writeFileSync(join(OUT, `${name}.ipynb`), JSON.stringify(drawn.nb, null, 1));
      await page.evaluate(async () => {
        const panel = (window as any).jupyterapp.shell.currentWidget;
        await panel.sessionContext.shutdown();
        // closed without the "save changes?" question (its outputs were kept above)
        panel.context.model.dirty = false;
        panel.dispose();
      });
      return { ...drawn, seconds };
    });
    browser.set(name, run);
    chain = run.catch(() => {});
  }
}, 300_000);

afterAll(async () => {
  const times = await Promise.all([...browser].map(async ([n, r]) => `${n}: ${(await r.catch(() => null))?.seconds.toFixed(1) ?? "failed"} s`));
  console.log(`in the browser (Run All):\n${times.join("\n")}`);
  await site?.stop();
  await Promise.all(node.values());
  env?.cleanup();
}, 600_000);

describe("the course notebooks on the JupyterLite site, next to the Node kernel", () => {
  for (const [name, quick] of NOTEBOOKS) {
    test(`${name} (${quick ? "quick settings" : "in full"}): every cell runs, outputs as in the Node kernel, figures drawn`, async () => {
      const b = await browser.get(name)!;
      const n = await node.get(name)!;
      expect(n.error, `the Node kernel's run of ${name}`).toBeNull();
      const code = (nb: any) => nb.cells.filter((c: any) => c.cell_type === "code");
      const bCells = code(b.nb), nCells = code(n.nb);
      const errors = bCells.flatMap((c: any) => c.outputs.filter((o: any) => o.output_type === "error").map((o: any) => `${o.ename}: ${stripAnsi(o.evalue)}\n${stripAnsi(o.traceback.join("\n"))}`));
      expect(errors, `cells in error in the browser`).toEqual([]);
      expect(bCells.every((c: any) => typeof c.execution_count === "number"), "every code cell ran").toBe(true);
      expect(bCells.length).toBe(nCells.length);
      for (let i = 0; i < bCells.length; i++) {
        const where = `${name}, cell ${bCells[i].id}`;
        expect(summary(bCells[i].outputs), where).toEqual(summary(nCells[i].outputs));
        const figs = (c: any) => c.outputs.filter((o: any) => o.data?.[PLOTLY]).map((o: any) => traces(o.data[PLOTLY]));
        expect(figs(bCells[i]), `${where}: Plotly traces`).toEqual(figs(nCells[i]));
      }
      const outputs = bCells.flatMap((c: any) => c.outputs);
      expect(b.drawnFigures, "Plotly figures drawn").toBe(outputs.filter((o: any) => o.data?.[PLOTLY]).length);
      expect(b.renderedWidgets, "widgets rendered").toBeGreaterThanOrEqual(outputs.filter((o: any) => o.data?.[WIDGET]).length);
      console.log(`${name}: ${b.seconds.toFixed(1)} s in the browser, ${b.drawnFigures} figures drawn, ${outputs.length} outputs as in Node`);
    }, 900_000);
  }
  test("made no request outside 127.0.0.1, none failed, no page error", async () => {
    await Promise.all([...browser.values()].map((r) => r.catch(() => {})));
    expect(site.external).toEqual([]);
    expect(site.badResponses).toEqual([]);
    expect(site.pageErrors).toEqual([]);
  });
});
