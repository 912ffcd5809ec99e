/**
 * Browser tests of gradbook's JupyterLab (lab/): the server (lab/server/gradbook_lab.py on a
 * free loopback port, hermetic Jupyter dirs), Chromium through playwright-core with every
 * request leaving 127.0.0.1 refused and recorded, and every 4xx/5xx response recorded.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, OUTPUT_DIR, ROOT, jupyterEnv, startJupyter, type JupyterEnv, type RunningServer } from "../widgets/browser/harness.js";

export { OUTPUT_DIR, ROOT };

/** Why these tests cannot run (null when they can): npm test installs and builds all of it first. */
export function labMissing(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed (node scripts/prerequisites.mjs --test installs it)`;
  if (!existsSync("/usr/lib/python3/dist-packages/jupyterlab_server")) return "python3-jupyterlab-server is not installed (node scripts/prerequisites.mjs)";
  if (!existsSync(join(ROOT, "dist", "lab", "build.json"))) return "dist/lab is not built (node scripts/lab.mjs)";
  if (!existsSync(join(ROOT, "dist", "kernel.js"))) return "dist/kernel.js is missing (npm run build)";
  return null;
}

export interface Lab {
  je: JupyterEnv;
  server: RunningServer;
  browser: Browser;
  context: BrowserContext;
  /** 4xx/5xx responses and failed requests seen by the page */
  badResponses: string[];
  /** requests to anything but 127.0.0.1 (refused) */
  external: string[];
  /** uncaught page errors */
  pageErrors: string[];
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
  const badResponses: string[] = [];
  const external: string[] = [];
  const pageErrors: string[] = [];
  const origin = new URL(server.url).origin;
  await context.route("**/*", (route) => {
    const u = route.request().url();
    if (u.startsWith("http://127.0.0.1:") || u.startsWith("ws://127.0.0.1:") || u.startsWith("data:") || u.startsWith("blob:")) return route.continue();
    external.push(u);
    return route.abort("internetdisconnected");
  });
  context.on("response", (r) => {
    if (r.status() >= 400) badResponses.push(`${r.status()} ${r.request().method()} ${r.url().replace(origin, "")}`);
  });
  context.on("requestfailed", (r) => {
    // a page navigating away cancels its pending requests (net::ERR_ABORTED): not a failure of the server
    if (r.failure()?.errorText !== "net::ERR_ABORTED") badResponses.push(`failed ${r.method()} ${r.url().replace(origin, "")}: ${r.failure()?.errorText}`);
  });
  context.on("page", (p) => p.on("pageerror", (e) => pageErrors.push(String(e.stack ?? e))));
  return {
    je,
    server,
    browser,
    context,
    badResponses,
    external,
    pageErrors,
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
