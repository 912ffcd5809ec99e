// The Assignments panel in a student's JupyterLab on gradbook hub, driven in Chromium: log in through the hub's
// login page, open the panel, fetch (the notebook opens), answer and run it, validate, submit; the instructor
// grades and returns; the panel shows the score and opens the feedback. Screenshot in tests/output/.
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, OUTPUT_DIR } from "../widgets/browser/harness.ts";
import { api, exchange, login, startHub, type TestHub } from "./hub-helpers.ts";
import { MAX_SCORE, NOTEBOOK, writeSource } from "./fixtures.ts";
import { ensureBuilt } from "../kernel/helpers.ts";

vi.setConfig({ testTimeout: 600_000, hookTimeout: 300_000 });

let hub: TestHub;
let browser: Browser;
const pageErrors: string[] = [];
const external: string[] = [];
const serverErrors: string[] = [];

beforeAll(async () => {
  ensureBuilt();
  mkdirSync(OUTPUT_DIR, { recursive: true });
  hub = await startHub({
    students: ["alice"],
    instructors: ["prof"],
    // a JupyterHub authenticator named by its class, its settings in the course's own hub config (course.json's hubConfig)
    authenticator: "jupyterhub.auth.DummyAuthenticator",
    setup: (course, password) => {
      writeFileSync(join(course, "hub_config.py"), `c.DummyAuthenticator.password = ${JSON.stringify(password)}\n`, { mode: 0o644 });
      const json = JSON.parse(readFileSync(join(course, "course.json"), "utf8"));
      writeFileSync(join(course, "course.json"), JSON.stringify({ ...json, hubConfig: "hub_config.py" }));
      writeSource(join(course, "source", "ps1"));
      // the page gives the test window.jupyterapp (JupyterLab's exposeAppInBrowser), to type into cells through the model
      mkdirSync(join(course, "jupyter", "etc", "jupyter", "labconfig"), { recursive: true });
      writeFileSync(join(course, "jupyter", "etc", "jupyter", "labconfig", "page_config.json"), JSON.stringify({ exposeAppInBrowser: true }));
    },
  });
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

afterAll(async () => {
  await browser?.close().catch(() => {});
  await hub?.stop();
});

const panelText = (page: Page) => page.locator("#gradbook-assignments").innerText();
const status = (page: Page) => page.locator("#gradbook-assignments .gb-status");

test("a student fetches, validates and submits in the Assignments panel and reads the returned feedback", async () => {
  const prof = (await login(hub, "prof", hub.password))!;
  expect(await login(hub, "alice", "not the password")).toBeNull(); // the hub config's password is the one asked for
  const deadline = new Date(Date.now() + 2 * 86400_000).toISOString();
  expect((await api(hub, prof, "POST", `${exchange("ps1")}/release`, { deadline })).status).toBe(200);

  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.route("**/*", (route) => {
    const u = route.request().url();
    if (/^(https?|wss?):\/\/127\.0\.0\.1:/.test(u) || /^(data|blob):/.test(u)) return route.continue();
    external.push(u);
    return route.abort("internetdisconnected");
  });
  context.on("response", (r) => void (r.status() >= 500 && serverErrors.push(`${r.status()} ${r.url()}`)));
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  try {
    // the hub's login page, then the spawn, then JupyterLab
    await page.goto(`${hub.url}hub/login`);
    await page.fill("#username_input", "alice");
    await page.fill("#password_input", hub.password);
    await page.click("#login_submit");
    await page.waitForURL(/\/user\/alice\/lab/, { timeout: 240_000 });
    await page.waitForFunction(() => document.body.dataset.gbLab === "restored", undefined, { timeout: 180_000 });

    // the panel: in the left sidebar, the assignment with its deadline
    await page.click('.lm-TabBar-tab[data-id="gradbook-assignments"]');
    const card = page.locator('.gb-assignment[data-assignment="ps1"]');
    await card.waitFor({ timeout: 60_000 });
    expect(await card.innerText()).toMatch(/Due .* \(in (2 days|47 h|48 h)\)[\s\S]*Not fetched/);

    // fetch: the notebook opens
    await card.locator('[data-action="fetch"]').click();
    await expect.poll(() => status(page).innerText(), { timeout: 60_000 }).toMatch(/Fetched ps1: 2 files written/);
    await page.waitForFunction(
      (p) => {
        const w = (window as any).jupyterapp.shell.currentWidget;
        return w?.context?.path === p && w.context.isReady && w.content.model?.cells.length > 0;
      },
      `assignments/ps1/${NOTEBOOK}`,
      { timeout: 60_000 },
    );

    // the student answers (through the notebook's model, as typing does) and runs the notebook
    const answered = await page.evaluate(() => {
      const nb = (window as any).jupyterapp.shell.currentWidget.content.model;
      const done: string[] = [];
      for (let i = 0; i < nb.cells.length; i++) {
        const cell = nb.cells.get(i);
        const id = cell.getMetadata("nbgrader")?.grade_id;
        if (id === "square") cell.sharedModel.setSource("function square(x: number): number {\n  return x * x;\n}");
        if (id === "mean") cell.sharedModel.setSource("function mean(v: number[]): number {\n  return v.reduce((a, b) => a + b, 0) / v.length;\n}");
        if (id === "square" || id === "mean") done.push(id);
      }
      return done;
    });
    expect(answered).toEqual(["square", "mean"]);
    await page.waitForFunction(() => (window as any).jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === "idle", undefined, { timeout: 120_000 });
    await page.evaluate(() => (window as any).jupyterapp.commands.execute("notebook:run-all-cells"));
    await page.waitForFunction(() => Array.from(document.querySelectorAll(".jp-CodeCell .jp-InputArea-prompt")).every((p) => /\[\d+\]/.test(p.textContent ?? "")), undefined, { timeout: 120_000 });
    expect(await page.locator(".jp-Notebook .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()).toBe(0);

    // validate: the notebook is saved and run in a fresh kernel; every visible test passes
    await card.locator('[data-action="validate"]').click();
    await expect.poll(() => status(page).innerText(), { timeout: 180_000 }).toMatch(/Every visible test passes/);
    const rows = await card.locator(".gb-tests tr").allInnerTexts();
    expect(rows.map((r) => r.split("\t")[0])).toEqual(["test_square", "test_mean"]);
    expect(rows.every((r) => r.includes("passed"))).toBe(true);

    // submit
    await card.locator('[data-action="submit"]').click();
    await expect.poll(() => status(page).innerText(), { timeout: 60_000 }).toMatch(/Submitted \d+ files? at .*, on time \(submission 1\)/);
    await expect.poll(() => panelText(page), { timeout: 30_000 }).toMatch(/1 submission, latest .* \(on time\)/);

    // the instructor collects, grades and returns
    await api(hub, prof, "POST", `${exchange("ps1")}/collect`, {});
    let job = (await api(hub, prof, "POST", `${exchange("ps1")}/grade`, {})).body;
    while (job.state === "running") {
      await new Promise((r) => setTimeout(r, 500));
      job = (await api(hub, prof, "GET", `${exchange("ps1")}/grade`)).body;
    }
    expect(job.state, JSON.stringify(job)).toBe("done");
    expect((await api(hub, prof, "POST", `${exchange("ps1")}/return`, {})).body.returned).toEqual(["alice"]);

    // the panel shows the score; Feedback opens the graded page
    await page.click('#gradbook-assignments [data-action="refresh"]');
    await expect.poll(() => card.innerText(), { timeout: 30_000 }).toContain(`Feedback: ${MAX_SCORE} / ${MAX_SCORE} points`);
    await card.locator('[data-action="feedback"]').click();
    await expect.poll(() => card.locator(".gb-tests h4").innerText(), { timeout: 60_000 }).toBe(`Feedback: ${MAX_SCORE} / ${MAX_SCORE}`);
    await page.waitForFunction(() => (window as any).jupyterapp.shell.currentWidget?.context?.path === "assignments/ps1/feedback/squares.html", undefined, { timeout: 60_000 });
    await page.screenshot({ path: join(OUTPUT_DIR, "assignments-panel.png") });

    expect(pageErrors).toEqual([]);
    expect(external).toEqual([]);
    expect(serverErrors).toEqual([]);
  } catch (e) {
    await page.screenshot({ path: join(OUTPUT_DIR, "assignments-panel-failed.png") }).catch(() => {});
    throw new Error(`${(e as Error).stack}\npage errors: ${pageErrors.join("\n")}\n5xx: ${serverErrors.join("\n")}\nhub log:\n${hub.log().slice(-6000)}`);
  } finally {
    await context.close();
  }
});
