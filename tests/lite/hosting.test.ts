/**
 * gradbook's JupyterLite site as a student meets it on a plain static host (no isolation headers,
 * as GitHub Pages): the site's service worker makes the page cross-origin isolated (one reload);
 * the page's Validate button shows what `gradbook validate` shows for the released notebook and
 * for the answered one; a course notebook a student answers in the browser and downloads grades
 * with `gradbook grade` unchanged, with full points; and once loaded the site works offline: a reload with the network
 * cut restores JupyterLab, opens a notebook the first visit never opened and draws a figure.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { OUTPUT_DIR } from "../widgets/browser/harness.js";
import { liteMissing, openNotebook, openSite, ROOT, runCell, SITE, startSite, textOf, type Site } from "./harness.ts";

const missing = liteMissing();
if (missing) throw new Error(`the JupyterLite tests cannot run: ${missing}`);

const NOTEBOOK = "01-perceptron.ipynb";

interface Validation {
  summary: string;
  /** "MARK grade_id (score/max)" per test */
  rows: string[];
}

/** Clicks the notebook's Validate button; resolves to what its dialog shows. */
async function validateInPage(page: Page): Promise<Validation> {
  await page.locator(".jp-NotebookPanel-toolbar .gb-ValidateButton").click();
  await page.waitForSelector(".jp-Dialog .gb-Validation", { timeout: 300_000 });
  const v = await page.evaluate(() => {
    const root = document.querySelector(".jp-Dialog .gb-Validation")!;
    const rows = Array.from(root.querySelectorAll("tr")).map((tr) => {
      const [mark, id, points] = Array.from(tr.querySelectorAll("td")).map((td) => td.textContent);
      return `${mark}  ${id} (${points})`;
    });
    return { summary: (root.querySelector(".gb-Validation-summary") ?? root.querySelector(".gb-Validation-failed"))!.textContent!, rows };
  });
  await page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click();
  return v;
}

/** `gradbook validate FILE` (the command line, in Node): the same summary and rows. */
function validateCli(path: string): Validation {
  const r = spawnSync(process.execPath, [join(ROOT, "dist", "cli.js"), "validate", path], { encoding: "utf8", timeout: 600_000 });
  const lines = r.stdout.split("\n");
  expect(lines[0], r.stdout + r.stderr).toMatch(/visible tests pass/);
  return { summary: lines[0], rows: lines.filter((l) => /^\s+(PASS|FAIL|PART|HAND)\s/.test(l)).map((l) => l.trim().replace(/\):.*$/, ")")) };
}

describe("the JupyterLite site on a host without isolation headers, saved work graded, offline", () => {
  let site: Site;
  let page: Page;
  let dir: string;

  beforeAll(async () => {
    mkdirSync(OUTPUT_DIR, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), "gradbook-lite-hosting-"));
    site = await startSite({ isolation: false });
  }, 120_000);

  afterAll(async () => {
    await site?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("is cross-origin isolated through its service worker (the engine gets its threads)", async () => {
    page = await openSite(site);
    expect(await page.evaluate(() => [crossOriginIsolated, !!navigator.serviceWorker.controller])).toEqual([true, true]);
    await openNotebook(page, NOTEBOOK);
    expect(textOf(await runCell(page, "gb.getNumThreads()"))).toBe("2");
  }, 300_000);

  it("Validate in the page: the released notebook's visible tests fail, as the command line's validate says", async () => {
    const inPage = await validateInPage(page);
    expect(inPage.summary).toBe(`${NOTEBOOK}: 0 of 4 visible tests pass (0 of 10 points)`);
    expect(inPage).toEqual(validateCli(join(SITE, "files", NOTEBOOK)));
    // the student's own kernel was left alone
    expect(textOf(await runCell(page, "gb.getNumThreads()"))).toBe("2");
  }, 600_000);

  it("a notebook answered in the browser validates there, and downloaded grades with gradbook grade, full points", async () => {
    // the student's answers: the instructor's solutions typed into the released notebook's solution cells
    const solutions = new Map<string, string>();
    for (const c of JSON.parse(readFileSync(join(ROOT, "notebooks", NOTEBOOK), "utf8")).cells) {
      if (c.metadata?.nbgrader?.solution) solutions.set(c.metadata.nbgrader.grade_id, Array.isArray(c.source) ? c.source.join("") : c.source);
    }
    const answered = await page.evaluate((sol) => {
      const nb = (window as any).jupyterapp.shell.currentWidget.content;
      let n = 0;
      for (const cell of nb.model.cells) {
        const m = cell.getMetadata("nbgrader");
        if (m?.solution && sol[m.grade_id] !== undefined) {
          cell.sharedModel.setSource(sol[m.grade_id]);
          n++;
        }
      }
      return n;
    }, Object.fromEntries(solutions));
    expect(answered).toBe(solutions.size);
    expect(answered).toBeGreaterThan(0);
    // Run All in the page: every test cell passes here already (the visible tests)
    await page.evaluate(() => (window as any).jupyterapp.commands.execute("notebook:run-all-cells"));
    await page.waitForFunction(
      () => {
        const panel = (window as any).jupyterapp.shell.currentWidget;
        const cells = panel.content.widgets.filter((c: any) => c.model.type === "code");
        const failed = cells.some((c: any) => c.model.outputs.toJSON().some((o: any) => o.output_type === "error"));
        return panel.sessionContext.session?.kernel?.status === "idle" && (failed || cells.every((c: any) => typeof c.model.executionCount === "number" && !c.node.querySelector(".jp-InputArea-prompt")?.textContent?.includes("*")));
      },
      undefined,
      { timeout: 300_000, polling: 500 },
    );
    const errors = await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.model.toJSON().cells.flatMap((c: any) => (c.outputs ?? []).filter((o: any) => o.output_type === "error").map((o: any) => `${o.ename}: ${o.evalue}`)));
    expect(errors).toEqual([]);
    await page.evaluate(() => (window as any).jupyterapp.commands.execute("docmanager:save"));
    // File > Download, as the student hands it in
    const subs = join(dir, "submissions", "browser-student");
    mkdirSync(subs, { recursive: true });
    const [download] = await Promise.all([page.waitForEvent("download", { timeout: 60_000 }), page.evaluate(() => (window as any).jupyterapp.commands.execute("docmanager:download"))]);
    expect(download.suggestedFilename()).toBe(NOTEBOOK);
    await download.saveAs(join(subs, NOTEBOOK));
    const inPage = await validateInPage(page);
    expect(inPage.summary).toBe(`${NOTEBOOK}: 4 of 4 visible tests pass (10 of 10 points)`);
    expect(inPage).toEqual(validateCli(join(subs, NOTEBOOK)));
    const grade = spawnSync(process.execPath, [join(ROOT, "dist", "cli.js"), "grade", "--source", join(ROOT, "notebooks", NOTEBOOK), "--submissions", join(dir, "submissions"), "--out", join(dir, "graded"), "--quiet"], { encoding: "utf8", timeout: 600_000 });
    expect(grade.status, grade.stdout + grade.stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(dir, "graded", "results", "browser-student.json"), "utf8"));
    const max = result.tests.reduce((s: number, t: any) => s + t.maxScore, 0);
    expect(max).toBeGreaterThan(0);
    expect(result.tests.filter((t: any) => t.score !== t.maxScore && t.status !== "manual")).toEqual([]);
  }, 600_000);

  it("works offline once loaded: reload with the network cut, a notebook not opened before, a figure", async () => {
    const list: string[] = JSON.parse(readFileSync(join(SITE, "precache.json"), "utf8"));
    // the service worker fetches the rest of the site in the background once JupyterLab runs
    await page.waitForFunction(
      async (n) => (await (await caches.open("gradbook-site-v1")).keys()).length >= n,
      list.length,
      { timeout: 180_000, polling: 1000 },
    );
    await site.context.setOffline(true);
    try {
      await page.reload();
      await page.waitForFunction(() => document.body.dataset.gbLab === "restored", undefined, { timeout: 180_000 });
      await openNotebook(page, "02-xor.ipynb");
      const out = await runCell(page, 'widgets.plot.line(gb.tensor([1, 4, 9, 16]), { title: "offline" })');
      expect(out[0].data["application/vnd.plotly.v1+json"]).toBeDefined();
      await page.waitForFunction(() => Array.from(document.querySelectorAll(".gb-PlotlyRenderer .gtitle")).some((t) => t.textContent === "offline"), undefined, { timeout: 60_000 });
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      await page.screenshot({ path: join(OUTPUT_DIR, "lite-offline.png") });
    } finally {
      await site.context.setOffline(false);
    }
  }, 420_000);

  it("made no request outside 127.0.0.1, none failed, no page error", () => {
    expect(site.external).toEqual([]);
    expect(site.badResponses).toEqual([]);
    expect(site.pageErrors).toEqual([]);
  });
});
