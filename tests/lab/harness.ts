/**
 * Browser tests of gradbook's JupyterLab (lab/): the server (lab/server/gradbook_lab.py on a
 * free loopback port, hermetic Jupyter dirs), Chromium through playwright-core with every
 * request leaving 127.0.0.1 refused and recorded, and every 4xx/5xx response recorded.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, OUTPUT_DIR, ROOT, guardContext, type PageWatch, jupyterEnv, startJupyter, type JupyterEnv, type RunningServer } from "../widgets/browser/harness.js";

export { OUTPUT_DIR, ROOT };

/** Why these tests cannot run (null when they can): npm test installs and builds all of it first. */
export function labMissing(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed (node scripts/prerequisites.mjs --test installs it)`;
  if (!existsSync("/usr/lib/python3/dist-packages/jupyterlab_server")) return "python3-jupyterlab-server is not installed (node scripts/prerequisites.mjs)";
  if (!existsSync(join(ROOT, "dist", "lab", "build.json"))) return "dist/lab is not built (node scripts/lab.mjs)";
  if (!existsSync(join(ROOT, "dist", "kernel.js"))) return "dist/kernel.js is missing (npm run build)";
  return null;
}

export interface Lab extends PageWatch {
  je: JupyterEnv;
  server: RunningServer;
  browser: Browser;
  context: BrowserContext;
  url(path: string): string;
  stop(): Promise<void>;
}

/** A gradbook JupyterLab server on a temp folder with `files` in it, and a Chromium context guarding the network. */
export async function startLab(files: Record<string, string | Buffer> = {}): Promise<Lab> {
  const je = jupyterEnv();
  const work = join(je.dir, "work");
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(work, name, ".."), { recursive: true });
    writeFileSync(join(work, name), text);
  }
  // the page gives the tests window.jupyterapp (as JupyterLab's exposeAppInBrowser)
  mkdirSync(join(je.dir, "config", "labconfig"), { recursive: true });
  writeFileSync(join(je.dir, "config", "labconfig", "page_config.json"), JSON.stringify({ exposeAppInBrowser: true }));
  const server = await startJupyter("lab", je);
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const watch = await guardContext(context, new URL(server.url).origin);
  return {
    je,
    server,
    browser,
    context,
    ...watch,
    url: (path) => `${server.url}${path}${path.includes("?") ? "&" : "?"}token=${server.token}`,
    stop: async () => {
      await browser.close().catch(() => {});
      await server.stop();
    },
  };
}

/** Opens a JupyterLab URL and waits until the app has restored its layout. */
export async function openLab(lab: Lab, path = "/lab"): Promise<Page> {
  const page = await lab.context.newPage();
  await page.goto(lab.url(path));
  await page.waitForFunction(() => document.body.dataset.gbLab === "restored", undefined, { timeout: 120_000 });
  return page;
}

/** Waits until the current notebook's kernel is idle (its toolbar's status) and ready for input. */
export async function waitKernelIdle(page: Page, timeout = 120_000): Promise<void> {
  await page.waitForFunction(
    () => {
      const app = (window as any).jupyterapp;
      const w = app?.shell.currentWidget;
      const k = w?.sessionContext?.session?.kernel;
      return !!k && k.status === "idle" && k.connectionStatus === "connected";
    },
    undefined,
    { timeout },
  );
}

/** Runs a JupyterLab command (as the menus do). */
export function command(page: Page, id: string, args: Record<string, unknown> = {}): Promise<unknown> {
  return page.evaluate(([i, a]) => (window as any).jupyterapp.commands.execute(i, a), [id, args] as const);
}

/** A course notebook with `quick = true` set in a cell after its parameters cell (as papermill injects it). */
export function quickNotebook(name: string): string {
  const nb = JSON.parse(readFileSync(join(ROOT, "notebooks", `${name}.ipynb`), "utf8"));
  const at = nb.cells.findIndex((c: any) => (c.metadata.tags ?? []).includes("parameters"));
  if (at < 0) throw new Error(`${name}.ipynb has no parameters cell`);
  nb.cells.splice(at + 1, 0, { cell_type: "code", id: "injected-parameters", metadata: { tags: ["injected-parameters"] }, execution_count: null, outputs: [], source: "quick = true;" });
  return JSON.stringify(nb);
}

/**
 * Resolves when every code cell of the current notebook has run (a number in its prompt, none
 * queued) and the kernel is idle, or when the kernel is idle with a cell in error (Run All
 * stops there).
 */
export async function waitAllRun(page: Page, timeout: number): Promise<void> {
  await page.waitForFunction(
    () => {
      const panel = (window as any).jupyterapp.shell.currentWidget;
      const cells = [...panel.content.widgets].filter((c: any) => c.model.type === "code" && c.model.sharedModel.getSource().trim());
      const idle = panel.sessionContext.session?.kernel?.status === "idle";
      const ran = (c: any) => typeof c.model.executionCount === "number" && !c.node.querySelector(".jp-InputArea-prompt")?.textContent?.includes("*");
      const failed = cells.some((c: any) => c.model.outputs.toJSON().some((o: any) => o.output_type === "error"));
      return idle && (cells.every(ran) || failed);
    },
    undefined,
    { timeout, polling: 500 },
  );
}

/** Screenshot of the whole notebook: the viewport grows to the notebook's height (at most 16000 px) first. */
export async function screenshotNotebook(page: Page, file: string): Promise<void> {
  const size = page.viewportSize() ?? { width: 1400, height: 1000 };
  const h = await page.evaluate(() => {
    // the notebook scrolls inside its windowed panel
    const scroller = document.querySelector(".jp-NotebookPanel .jp-WindowedPanel-outer") as HTMLElement | null;
    if (!scroller) return 1000;
    scroller.scrollTop = 0;
    return scroller.scrollHeight + scroller.getBoundingClientRect().top + 60;
  });
  await page.setViewportSize({ width: size.width, height: Math.min(Math.max(h, size.height), 16000) });
  await page.waitForTimeout(500);
  // (a page up to 16000 px tall: over 30 s, Playwright's default, on a loaded 2-core machine)
  await page.screenshot({ path: file, timeout: 120_000 });
  await page.setViewportSize(size);
}

/** A notebook (nbformat 4.5) for the gradbook kernel from code cells and `md:`-prefixed Markdown cells. */
export function labNotebook(cells: string[]): string {
  return JSON.stringify(
    {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {
        kernelspec: { name: "gradbook", display_name: "TypeScript (gradbook)", language: "typescript" },
        language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/typescript" },
      },
      cells: cells.map((source, i) =>
        source.startsWith("md:")
          ? { cell_type: "markdown", id: `cell-${i}`, metadata: {}, source: source.slice(3) }
          : { cell_type: "code", id: `cell-${i}`, metadata: {}, execution_count: null, outputs: [], source },
      ),
    },
    null,
    1,
  );
}
