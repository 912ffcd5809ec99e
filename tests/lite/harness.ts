/**
 * Browser tests of gradbook's JupyterLite site (dist/lite, built by `npm run lite`): the site on a
 * local static server (scripts/lite.mjs's, with or without the isolation headers), Debian's
 * Chromium through playwright-core with every request outside 127.0.0.1 refused and recorded,
 * and every 4xx/5xx response and page error recorded. WebGPU is enabled (`--enable-unsafe-webgpu`:
 * SwiftShader's software adapter in headless Chromium).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "node:http";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { CHROMIUM, ROOT, guardContext, type PageWatch } from "../widgets/browser/harness.js";
import { LITE_SITE, serveSite } from "../../scripts/lite.mjs";

export { ROOT };
/** dist/lite (from scripts/lite.mjs: right also where this file is bundled, as in dist/bench.js) */
export const SITE = LITE_SITE;
export const CHROMIUM_LITE_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--enable-unsafe-webgpu"];

/** Why these tests cannot run (null when they can): npm test builds the site first. */
export function liteMissing(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed (node scripts/prerequisites.mjs --test installs it)`;
  if (!existsSync(join(SITE, "build.json"))) return "dist/lite is not built (npm run lite)";
  return null;
}

/** What the site's build recorded (scripts/lite.mjs). */
export function siteInfo(): { instructor: boolean; notebooks: string[]; bytes: Record<string, number>; jupyterlab: string; jupyterlite: string } {
  return JSON.parse(readFileSync(join(SITE, "build.json"), "utf8"));
}

export interface Site extends PageWatch {
  server: Server;
  url: string;
  browser: Browser;
  context: BrowserContext;
  stop(): Promise<void>;
}

/** The site served (with the isolation headers unless `isolation: false`) and a Chromium context guarding the network. */
export async function startSite({ isolation = true } = {}): Promise<Site> {
  const { server, url } = await serveSite({ dir: SITE, isolation });
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_LITE_ARGS, headless: true });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const watch = await guardContext(context, new URL(url).origin);
  return {
    server,
    url,
    browser,
    context,
    ...watch,
    stop: async () => {
      await browser.close().catch(() => {});
      await new Promise((r) => server.close(r));
    },
  };
}

/** Opens the site's JupyterLab (lab/, `query` appended) and waits until it has restored its layout. */
export async function openSite(site: Site, query = ""): Promise<Page> {
  const page = await site.context.newPage();
  await page.goto(`${site.url}lab/index.html${query}`);
  await page.waitForFunction(() => document.body.dataset.gbLab === "restored", undefined, { timeout: 180_000 });
  return page;
}

/** Puts a notebook into the site's storage (as an upload does) and opens it; resolves when its kernel is idle. */
export async function openNotebook(page: Page, path: string, notebook?: unknown): Promise<void> {
  await page.evaluate(
    async ([path, nb]) => {
      const app = (window as any).jupyterapp;
      if (nb) await app.serviceManager.contents.save(path, { type: "notebook", format: "json", content: nb });
      await app.commands.execute("docmanager:open", { path, factory: "Notebook" });
    },
    [path, notebook ?? null] as const,
  );
  await page.waitForFunction(
    (p) => {
      const w = (window as any).jupyterapp.shell.currentWidget;
      const k = w?.sessionContext?.session?.kernel;
      return w?.context?.path === p && !!k && k.status === "idle" && k.connectionStatus === "connected";
    },
    path,
    { timeout: 180_000 },
  );
}

/** Runs code as a new cell at the end of the current notebook (typed, Shift+Enter as a user would) and resolves to its outputs. */
export async function runCell(page: Page, code: string, timeout = 120_000): Promise<any[]> {
  const index = await page.evaluate((code) => {
    const panel = (window as any).jupyterapp.shell.currentWidget;
    const nb = panel.content;
    nb.model.sharedModel.insertCell(nb.model.cells.length, { cell_type: "code", source: code });
    nb.activeCellIndex = nb.model.cells.length - 1;
    nb.mode = "command";
    return nb.activeCellIndex;
  }, code);
  await page.evaluate(() => (window as any).jupyterapp.commands.execute("notebook:run-cell"));
  return waitCell(page, index, timeout);
}

/** The outputs of cell `index` once it has run (its prompt has a number and the kernel is idle). */
export async function waitCell(page: Page, index: number, timeout = 120_000): Promise<any[]> {
  await page.waitForFunction(
    (i) => {
      const panel = (window as any).jupyterapp.shell.currentWidget;
      const cell = panel.content.widgets[i];
      return typeof cell.model.executionCount === "number" && !cell.node.querySelector(".jp-InputArea-prompt")?.textContent?.includes("*") && panel.sessionContext.session?.kernel?.status === "idle";
    },
    index,
    { timeout, polling: 200 },
  );
  return page.evaluate((i) => (window as any).jupyterapp.shell.currentWidget.content.widgets[i].model.outputs.toJSON(), index);
}

/** The text of outputs: streams, text/plain results, and errors (ename: evalue and the traceback, ANSI removed). */
export function textOf(outputs: any[]): string {
  const src = (s: string | string[]) => (Array.isArray(s) ? s.join("") : s);
  return outputs
    .map((o) => (o.output_type === "stream" ? src(o.text) : o.output_type === "error" ? `${o.ename}: ${o.evalue}\n${(o.traceback ?? []).join("\n")}` : src(o.data?.["text/plain"] ?? "")))
    .join("\n")
    .replace(/\x1b\[[0-9;]*m/g, "");
}
