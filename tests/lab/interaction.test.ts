/**
 * Working in gradbook's JupyterLab as a student does (Chromium, mouse and keyboard): a slider
 * dragged with the mouse redraws a plot and changes the value in the kernel, a button click
 * reaches the kernel, the interrupt button stops `while (true) {}` and the next cell sees the
 * earlier state, restart, Tab completion and the Shift+Tab tooltip from the kernel, the dark
 * theme; the server's additions (/api/me, the events websocket, the page-config copy).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
// @ts-expect-error -- ws ships no type declarations (no @types/ws installed)
import WebSocket from "ws";
import { OUTPUT_DIR, command, labMissing, labNotebook, openLab, startLab, waitKernelIdle, type Lab } from "./harness.js";
import { dragSliderToEnd } from "../widgets/browser/harness.js";

const missing = labMissing();
if (missing) throw new Error(`the JupyterLab tests cannot run: ${missing}`);

const CELLS = [
  `const k = new widgets.IntSlider({ value: 2, min: 1, max: 8, description: "k" });\nwidgets.interact(({ k }) => widgets.plot.line(gb.arange(0, 4).mul(k), { title: \`k = \${k}\`, height: 300 }), { k })`,
  "k.value",
  `const b = new widgets.Button({ description: "step" });\nlet clicks = 0;\nb.onClick(() => { clicks++; });\nb`,
  "clicks",
  "let total = 42;\nwhile (true) {}",
  "total",
  "",
];

/** Runs the cell at index i as a user does: select it, Shift+Enter. */
async function runCell(page: Page, i: number): Promise<void> {
  await page.evaluate((k) => {
    const panel = (window as any).jupyterapp.shell.currentWidget;
    panel.content.activeCellIndex = k;
    panel.content.mode = "command";
  }, i);
  await page.keyboard.press("Shift+Enter");
}

/** The text of the i-th code cell's outputs once its execution count is set (not "*"). */
async function cellOutput(page: Page, i: number, timeout = 120_000): Promise<string> {
  await page.waitForFunction(
    (k) => {
      const cell = (window as any).jupyterapp.shell.currentWidget.content.widgets[k];
      return typeof cell.model.executionCount === "number" && !cell.node.querySelector(".jp-InputArea-prompt")?.textContent?.includes("*");
    },
    i,
    { timeout },
  );
  return page.evaluate((k) => {
    const node = (window as any).jupyterapp.shell.currentWidget.content.widgets[k].node as HTMLElement;
    return Array.from(node.querySelectorAll(".jp-OutputArea-output")).map((o) => o.textContent ?? "").join("\n").trim();
  }, i);
}

/** Puts code in the i-th cell and the cursor at its end, in edit mode. */
async function editCell(page: Page, i: number, code: string): Promise<void> {
  await page.evaluate(([k, src]) => {
    const panel = (window as any).jupyterapp.shell.currentWidget;
    panel.content.activeCellIndex = k;
    panel.content.widgets[k].model.sharedModel.setSource(src);
  }, [i, code] as const);
  await page.locator(".jp-Notebook .jp-Cell").nth(i).locator(".cm-content").click();
  await page.keyboard.press("Control+End");
}

describe("gradbook's JupyterLab: widgets, interrupt, restart, completion, tooltip", () => {
  let lab: Lab;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(OUTPUT_DIR, { recursive: true });
    lab = await startLab({ "work.ipynb": labNotebook(CELLS) });
    page = await openLab(lab, "/lab/tree/work.ipynb");
    await waitKernelIdle(page);
  }, 180_000);

  afterAll(async () => {
    await page?.close().catch(() => {});
    await lab?.stop();
  }, 60_000);

  it("a slider dragged with the mouse redraws the plot and sets the value in the kernel", async () => {
    await runCell(page, 0);
    await page.waitForFunction(() => document.querySelector(".gb-PlotlyRenderer .gtitle")?.textContent === "k = 2", undefined, { timeout: 60_000 });
    const handle = page.locator(".widget-slider .noUi-handle").first();
    const track = page.locator(".widget-slider .noUi-target").first();
    await dragSliderToEnd(page, handle, track);
    await page.waitForFunction(() => document.querySelector(".gb-PlotlyRenderer .gtitle")?.textContent === "k = 8", undefined, { timeout: 60_000 });
    const y = await page.evaluate(() => (document.querySelector(".gb-PlotlyRenderer") as any).data[0].y);
    expect(y).toEqual([0, 8, 16, 24]);
    expect(await page.locator(".widget-slider .widget-readout").first().textContent()).toBe("8");
    await runCell(page, 1);
    expect(await cellOutput(page, 1)).toBe("8");
    await page.screenshot({ path: join(OUTPUT_DIR, "lab-slider.png") });
  }, 180_000);

  it("a button click reaches the kernel", async () => {
    await runCell(page, 2);
    await page.locator(".jp-OutputArea-output button.jupyter-button", { hasText: "step" }).click();
    await page.locator(".jp-OutputArea-output button.jupyter-button", { hasText: "step" }).click();
    await page.waitForTimeout(500);
    await runCell(page, 3);
    expect(await cellOutput(page, 3)).toBe("2");
  }, 180_000);

  it("the interrupt button stops while (true) {}; the next cell sees the earlier state", async () => {
    await runCell(page, 4);
    await page.waitForFunction(() => (window as any).jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === "busy", undefined, { timeout: 30_000 });
    await page.waitForTimeout(1000);
    const interrupt = page.locator(".jp-NotebookPanel-toolbar [data-command='notebook:interrupt-kernel']");
    // as a user would: press again while the loop runs on
    for (let i = 0; i < 10; i++) {
      await interrupt.click();
      const stopped = await page
        .waitForFunction(() => /KeyboardInterrupt/.test(document.querySelectorAll(".jp-Notebook .jp-Cell")[4].querySelector(".jp-OutputArea")?.textContent ?? ""), undefined, { timeout: 3000 })
        .then(() => true, () => false);
      if (stopped) break;
    }
    expect(await cellOutput(page, 4)).toMatch(/KeyboardInterrupt/);
    await runCell(page, 5);
    expect(await cellOutput(page, 5)).toBe("42");
  }, 180_000);

  it("Tab completes from the kernel; Shift+Tab shows the kernel's inspection", async () => {
    await editCell(page, 6, "Math.a");
    await page.keyboard.press("Tab");
    await page.waitForSelector(".jp-Completer:not(.lm-mod-hidden) .jp-Completer-item", { timeout: 30_000 });
    const items = await page.locator(".jp-Completer .jp-Completer-item .jp-Completer-match").allTextContents();
    expect(items).toEqual(expect.arrayContaining(["abs", "acos", "asin", "atan", "atan2"]));
    await page.screenshot({ path: join(OUTPUT_DIR, "lab-completion.png") });
    // a click takes the item
    await page.locator(".jp-Completer .jp-Completer-item", { hasText: "atan2" }).click();
    await page.waitForFunction(() => (window as any).jupyterapp.shell.currentWidget.content.widgets[6].model.sharedModel.getSource() === "Math.atan2", undefined, { timeout: 30_000 });
    await editCell(page, 6, "total");
    await page.keyboard.press("Shift+Tab");
    await page.waitForSelector(".jp-Tooltip", { timeout: 30_000 });
    // (the tooltip's box comes first, its rendered text a moment later: on a loaded machine the
    // text was still empty when read at once)
    await page.waitForFunction(() => /\S/.test(document.querySelector(".jp-Tooltip")?.textContent ?? ""), undefined, { timeout: 30_000 }).catch(() => {});
    expect(await page.locator(".jp-Tooltip").textContent()).toMatch(/let total: number/);
    // the signature alone: no list (an empty bullet was drawn under it from a stray "*" in the markdown)
    expect(await page.locator(".jp-Tooltip li").count()).toBe(0);
    await page.screenshot({ path: join(OUTPUT_DIR, "lab-tooltip.png") });
    await page.keyboard.press("Escape");
  }, 180_000);

  it("restart clears the kernel's state and it runs again", async () => {
    await command(page, "notebook:enter-command-mode");
    await page.locator(".jp-NotebookPanel-toolbar [data-command='notebook:restart-kernel']").click();
    await page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click();
    await page.waitForTimeout(500);
    await waitKernelIdle(page);
    await editCell(page, 6, "typeof (globalThis as any).total");
    await command(page, "notebook:enter-command-mode");
    await runCell(page, 6);
    expect(await cellOutput(page, 6)).toBe("'undefined'");
    const count = await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.widgets[6].model.executionCount);
    expect(count).toBe(1);
  }, 180_000);

  it("the dark theme loads from the server", async () => {
    await command(page, "apputils:change-theme", { theme: "JupyterLab Dark" });
    await page.waitForFunction(() => document.body.dataset.jpThemeName === "JupyterLab Dark" && getComputedStyle(document.body).getPropertyValue("--jp-layout-color0").trim() !== "", undefined, { timeout: 30_000 });
    const bg = await page.evaluate(() => getComputedStyle(document.body).getPropertyValue("--jp-layout-color0").trim());
    expect(bg).not.toBe("white");
    await page.screenshot({ path: join(OUTPUT_DIR, "lab-dark.png") });
    await command(page, "apputils:change-theme", { theme: "JupyterLab Light" });
    await page.waitForFunction(() => document.body.dataset.jpThemeName === "JupyterLab Light", undefined, { timeout: 30_000 });
  }, 60_000);

  it("the whole session made no failing request, none outside 127.0.0.1, no page error", () => {
    expect(lab.pageErrors).toEqual([]);
    expect(lab.badResponses).toEqual([]);
    expect(lab.external).toEqual([]);
  });

  it("server: /api/me, the events websocket, and a page after an unknown /lab URL is not 'not found'", async () => {
    const me = await fetch(lab.url("/api/me"));
    expect(me.status).toBe(200);
    const body = await me.json();
    expect(Object.keys(body.identity)).toEqual(expect.arrayContaining(["username", "name", "display_name", "initials", "avatar_url", "color"]));
    expect((await fetch(`${lab.server.url}/api/me`)).status).toBe(403);
    const asked = await (await fetch(lab.url(`/api/me?permissions=${encodeURIComponent(JSON.stringify({ contents: ["read", "write"] }))}`))).json();
    expect(asked.permissions).toEqual({ contents: ["read", "write"] });
    expect((await fetch(lab.url("/api/me?permissions=[1]"))).status).toBe(400);
    // the websocket opens with the token, says nothing, and is refused without it
    const ws = new WebSocket(lab.url("/api/events/subscribe").replace("http:", "ws:"));
    const opened = await new Promise<boolean>((res) => {
      ws.on("open", () => res(true));
      ws.on("error", () => res(false));
    });
    expect(opened).toBe(true);
    const said: unknown[] = [];
    ws.on("message", (m: unknown) => said.push(m));
    await new Promise((r) => setTimeout(r, 500));
    expect(said).toEqual([]);
    ws.close();
    const anon = new WebSocket(`${lab.server.url.replace("http:", "ws:")}/api/events/subscribe`);
    const refused = await new Promise<boolean>((res) => {
      anon.on("open", () => res(false));
      anon.on("error", () => res(true));
      anon.on("unexpected-response", () => res(true));
    });
    expect(refused).toBe(true);
    anon.terminate?.();
    const pageConfig = async (path: string) => {
      const html = await (await fetch(lab.url(path))).text();
      return JSON.parse(html.match(/<script id="jupyter-config-data" type="application\/json">([\s\S]*?)<\/script>/)![1]);
    };
    expect((await pageConfig("/lab/no-such-page")).notFoundUrl).toBe("/lab/no-such-page");
    expect((await pageConfig("/lab/tree/work.ipynb")).treePath).toBe("work.ipynb");
    const after = await pageConfig("/lab");
    expect(after.notFoundUrl).toBeUndefined();
    expect(after.treePath).toBe("");
    expect(after.fullMathjaxUrl).toBe("");
  }, 60_000);
});
