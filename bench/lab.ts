/**
 * `npm run bench -- --lab`: the time from `npm start` to a JupyterLab page with an idle gradbook
 * kernel, with the front end cached (dist/lab kept) and cold (dist/lab removed first: the rspack
 * build is part of it), and the built front end's size. Each run starts `node scripts/start.mjs`
 * with private Jupyter folders and a free port, opens /lab/tree/01-perceptron.ipynb in Chromium
 * and waits for the notebook's kernel to be idle. Prints the phases and the machine's load.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { freePort } from "../tests/widgets/browser/harness.js";

const ROOT = resolve(process.cwd());

interface StartRun {
  total: number;
  phases: Record<string, number>;
}

async function timeStart(label: string): Promise<StartRun> {
  const dir = mkdtempSync(join(tmpdir(), "gb-bench-lab-"));
  for (const d of ["home", "config/labconfig", "data", "runtime"]) mkdirSync(join(dir, d), { recursive: true });
  // the page exposes window.jupyterapp (JupyterLab's exposeAppInBrowser) to read the kernel's status
  writeFileSync(join(dir, "config", "labconfig", "page_config.json"), JSON.stringify({ exposeAppInBrowser: true }));
  const port = await freePort();
  const token = "bench";
  const env = {
    ...process.env,
    HOME: join(dir, "home"),
    JUPYTER_CONFIG_DIR: join(dir, "config"),
    JUPYTER_DATA_DIR: join(dir, "data"),
    JUPYTER_RUNTIME_DIR: join(dir, "runtime"),
    JUPYTER_PLATFORM_DIRS: "1",
  };
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  // the server works on a copy of notebooks/ (JupyterLab saves and checkpoints where it serves)
  cpSync(join(ROOT, "notebooks"), join(dir, "notebooks"), { recursive: true });
  const args = ["--no-browser", `--port=${port}`, `--ServerApp.token=${token}`, "--ServerApp.port_retries=0", `--ServerApp.root_dir=${join(dir, "notebooks")}`];
  const child = spawn(process.execPath, [join(ROOT, "scripts", "start.mjs"), ...args], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const mark = (d: Buffer) => {
    const text = String(d);
    log += text;
    const at = (performance.now() - t0) / 1000;
    if (text.includes("building the JupyterLab front end")) phases["front-end build started"] ??= at;
    if (text.includes("registering the kernel")) phases["builds done"] ??= at;
    if (text.includes("/usr/bin/python3 -m gradbook_lab")) phases["server starting"] ??= at;
  };
  child.stdout!.on("data", mark);
  child.stderr!.on("data", mark);
  const { chromium } = await import("playwright-core");
  let browser: Awaited<ReturnType<typeof chromium.launch>> | null = null;
  try {
    const base = `http://127.0.0.1:${port}`;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`npm start exited (${child.exitCode}):\n${log.slice(-3000)}`);
      if (performance.now() - t0 > 600_000) throw new Error(`no server after 600 s:\n${log.slice(-3000)}`);
      try {
        if ((await fetch(`${base}/api/status?token=${token}`)).ok) break;
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
    phases["server answers"] = (performance.now() - t0) / 1000;
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"], headless: true });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${base}/lab/tree/01-perceptron.ipynb?token=${token}`);
    await page.waitForFunction(() => document.body.dataset.gbLab === "restored", undefined, { timeout: 300_000 });
    phases["JupyterLab restored"] = (performance.now() - t0) / 1000;
    await page.waitForFunction(
      () => {
        const kernel = (window as any).jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel;
        return kernel?.name === "gradbook" && kernel.status === "idle" && kernel.connectionStatus === "connected";
      },
      undefined,
      { timeout: 300_000, polling: 50 },
    );
    const total = (performance.now() - t0) / 1000;
    phases["kernel idle"] = total;
    const load = loadavg()[0].toFixed(2);
    console.log(`[lab] ${label}: npm start -> JupyterLab with an idle gradbook kernel in ${total.toFixed(1)} s (load ${load}); ${Object.entries(phases).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(", ")}`);
    return { total, phases };
  } finally {
    await browser?.close();
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {}
    await new Promise((r) => setTimeout(r, 1500));
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  }
}

function du(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) n += e.isDirectory() ? du(join(dir, e.name)) : statSync(join(dir, e.name)).size;
  return n;
}

export async function benchLab(): Promise<void> {
  const build = join(ROOT, "dist", "lab");
  console.log(`[lab] machine load before: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  // cached: the build from an earlier start (made now if missing, not timed)
  await timeStart("warm-up");
  await timeStart("cached build");
  // cold: the front end is built again (lab/node_modules kept; a fresh clone also runs npm ci in lab/)
  const keep = `${build}.bench-keep`;
  rmSync(keep, { recursive: true, force: true });
  cpSync(build, keep, { recursive: true });
  rmSync(build, { recursive: true, force: true });
  try {
    await timeStart("cold (front end built)");
  } catch (e) {
    rmSync(build, { recursive: true, force: true });
    cpSync(keep, build, { recursive: true });
    throw e;
  } finally {
    rmSync(keep, { recursive: true, force: true });
  }
  const info = JSON.parse(readFileSync(join(build, "build.json"), "utf8"));
  const main = readFileSync(join(build, "static", info.bundle));
  const plotly = readdirSync(join(build, "static")).find((f) => f.startsWith("plotly."));
  console.log(
    `[lab] front end (JupyterLab ${info.jupyterlab}, ${info.mode}): dist/lab ${(du(build) / 1e6).toFixed(1)} MB, static/ ${(info.bytes / 1e6).toFixed(1)} MB; ` +
      `main bundle ${(main.length / 1e6).toFixed(2)} MB (${(gzipSync(main).length / 1e6).toFixed(2)} MB gzipped)` +
      (plotly ? `, plotly.js chunk ${(statSync(join(build, "static", plotly)).size / 1e6).toFixed(2)} MB (loaded on the first figure)` : "") +
      `; rspack build ${info.seconds} s`,
  );
}
