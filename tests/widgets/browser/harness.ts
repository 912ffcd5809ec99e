/**
 * Browser-test plumbing: temp Jupyter dirs with the gradbook kernelspec, Jupyter servers on free
 * loopback ports (killed afterwards), Chromium through playwright-core, the widget page bundle.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { AddressInfo, createServer as netServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { BrowserContext, Locator, Page } from "playwright-core";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const OUTPUT_DIR = join(ROOT, "tests", "output");
export const CHROMIUM = "/usr/bin/chromium";
export const JUPYTER = "/usr/bin/jupyter";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];

/** Why the browser tests cannot run here (null when they can). */
export function missingPrerequisite(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed`;
  if (!existsSync(JUPYTER)) return `${JUPYTER} is not installed`;
  for (const f of ["dist/kernel.js", "dist/widgets.js", "dist/gradbook.js"]) if (!existsSync(join(ROOT, f))) return `${f} is missing (run npm run build)`;
  return null;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = netServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => res(port));
    });
  });
}

export interface JupyterEnv {
  dir: string;
  env: NodeJS.ProcessEnv;
}

/** Temp JUPYTER_* dirs with the gradbook kernelspec installed (via `gradbook install --prefix`). */
export function jupyterEnv(): JupyterEnv {
  const dir = mkdtempSync(join(tmpdir(), "gb-widgets-browser-"));
  const prefix = join(dir, "prefix");
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "gradbook.js"), "install", "--prefix", prefix], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`gradbook install failed: ${r.stderr || r.stdout}`);
  for (const d of ["config", "data", "runtime", "work", "home"]) mkdirSync(join(dir, d), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JUPYTER_PATH: join(prefix, "share", "jupyter"),
    JUPYTER_CONFIG_DIR: join(dir, "config"),
    JUPYTER_DATA_DIR: join(dir, "data"),
    JUPYTER_RUNTIME_DIR: join(dir, "runtime"),
    JUPYTER_PLATFORM_DIRS: "1",
    HOME: join(dir, "home"),
    PYTHONNOUSERSITE: "1",
  };
  delete env.PYTHONPATH;
  return { dir, env };
}

export interface RunningServer {
  url: string;
  token: string;
  proc: ChildProcess;
  log: () => string;
  stop: () => Promise<void>;
}

/**
 * Starts `jupyter notebook` (classic 6), `jupyter server`, or gradbook's JupyterLab ("lab":
 * lab/server/gradbook_lab.py serving dist/lab) on a free port with a token; waits until it answers.
 */
export async function startJupyter(kind: "notebook" | "server" | "lab", je: JupyterEnv, extra: string[] = []): Promise<RunningServer> {
  const port = await freePort();
  const token = randomBytes(16).toString("hex");
  const app = kind === "notebook" ? "NotebookApp" : "ServerApp";
  const [cmd, first, env] =
    kind === "lab"
      ? ["/usr/bin/python3", ["-m", "gradbook_lab"], { ...je.env, PYTHONPATH: join(ROOT, "lab", "server") }]
      : [JUPYTER, [kind], je.env];
  const args = [
    ...first,
    "--no-browser",
    "--ip=127.0.0.1",
    `--port=${port}`,
    `--${app}.port_retries=0`,
    `--${app}.token=${token}`,
    kind === "notebook" ? `--NotebookApp.notebook_dir=${join(je.dir, "work")}` : `--ServerApp.root_dir=${join(je.dir, "work")}`,
    ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
    ...extra,
  ];
  let out = "";
  const proc = spawn(cmd, args, { env, cwd: join(je.dir, "work"), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`jupyter ${kind} exited (${proc.exitCode}):\n${out}`);
    try {
      const r = await fetch(`${url}/api/kernelspecs?token=${token}`);
      if (r.ok) {
        const specs = await r.json();
        if (!specs.kernelspecs?.gradbook) throw new Error(`the gradbook kernelspec is not visible to jupyter ${kind}: ${JSON.stringify(Object.keys(specs.kernelspecs ?? {}))}`);
        break;
      }
    } catch (e) {
      if (String(e).includes("kernelspec")) throw e;
    }
    if (Date.now() > deadline) throw new Error(`jupyter ${kind} did not start in 60 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const stop = async () => {
    if (proc.exitCode !== null) return;
    // shut kernels down through the API, then end the server's process group
    try {
      const r = await fetch(`${url}/api/kernels?token=${token}`);
      for (const k of (await r.json()) as { id: string }[]) await fetch(`${url}/api/kernels/${k.id}?token=${token}`, { method: "DELETE" });
    } catch {
      /* server already gone */
    }
    try {
      process.kill(-proc.pid!, "SIGTERM");
    } catch {
      /* gone */
    }
    await new Promise<void>((res) => {
      const t = setTimeout(() => {
        try {
          process.kill(-proc.pid!, "SIGKILL");
        } catch {
          /* gone */
        }
        res();
      }, 5000);
      proc.once("exit", () => {
        clearTimeout(t);
        res();
      });
    });
  };
  return { url, token, proc, log: () => out, stop };
}

/** A notebook (nbformat 4) of TypeScript code cells for the gradbook kernel. */
export function notebook(cells: string[]): string {
  return JSON.stringify(
    {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {
        kernelspec: { name: "gradbook", display_name: "TypeScript (gradbook)", language: "typescript" },
        language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/typescript" },
      },
      cells: cells.map((source, i) => ({ cell_type: "code", id: `cell-${i}`, metadata: {}, execution_count: null, outputs: [], source })),
    },
    null,
    1,
  );
}

/** Bundles tests/widgets/browser/widget-page.ts (with its CSS) for the browser into `outDir`. */
export async function bundleWidgetPage(outDir: string): Promise<void> {
  const { build } = await import("esbuild");
  const req = createRequire(join(ROOT, "package.json"));
  // @jupyter/web-components imports tslib without declaring it; use the copy fast-foundation carries.
  let tslib: string;
  try {
    tslib = req.resolve("tslib/tslib.es6.js");
  } catch {
    tslib = join(ROOT, "node_modules/@microsoft/fast-foundation/node_modules/tslib/tslib.es6.js");
  }
  await build({
    entryPoints: [join(ROOT, "tests/widgets/browser/widget-page.ts")],
    outfile: join(outDir, "page.js"),
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    loader: { ".css": "css", ".woff": "dataurl", ".woff2": "dataurl", ".ttf": "dataurl", ".eot": "dataurl", ".svg": "dataurl", ".png": "dataurl", ".gif": "dataurl" },
    define: { "process.env.NODE_ENV": '"production"', global: "window" },
    plugins: [{ name: "tslib", setup: (b) => void b.onResolve({ filter: /^tslib$/ }, () => ({ path: tslib })) }],
    logLevel: "error",
  });
  writeFileSync(
    join(outDir, "index.html"),
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>gradbook widgets</title><link rel="stylesheet" href="page.css">
<style>body{font:13px sans-serif;margin:16px} .cell{border:1px solid #ddd;margin:8px 0;padding:6px} pre.code{background:#f7f7f7;margin:0 0 6px;padding:4px}</style>
</head><body><h3>gradbook kernel + @jupyter-widgets/html-manager</h3><div id="cells"></div><script src="page.js"></script></body></html>`,
  );
}

/** Serves a folder over HTTP on a free loopback port. */
export async function serveDir(dir: string): Promise<{ url: string; server: Server }> {
  const port = await freePort();
  const types: Record<string, string> = { html: "text/html", js: "text/javascript", css: "text/css" };
  const server = createServer((req, res) => {
    const name = (req.url ?? "/").split("?")[0].replace(/^\/+/, "") || "index.html";
    const file = join(dir, name);
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": types[name.split(".").pop()!] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${port}`, server };
}

/** Drags an ipywidgets slider's handle with the mouse, through the middle of its track and past its
 *  right end (the slider goes to its maximum), as a student would. */
export async function dragSliderToEnd(page: Page, handle: Locator, track: Locator): Promise<void> {
  const h = (await handle.boundingBox())!;
  const t = (await track.boundingBox())!;
  await page.mouse.move(h.x + h.width / 2, h.y + h.height / 2);
  await page.mouse.down();
  await page.mouse.move(t.x + t.width * 0.5, h.y + h.height / 2, { steps: 5 });
  await page.mouse.move(t.x + t.width + 20, h.y + h.height / 2, { steps: 5 });
  await page.mouse.up();
}

/** What a guarded browser context saw: the tests assert these are empty. */
export interface PageWatch {
  /** 4xx/5xx responses and failed requests (a navigation's cancelled requests and the refused ones excepted) */
  badResponses: string[];
  /** requests to anything but 127.0.0.1, data: and blob: (each refused as if offline) */
  external: string[];
  /** uncaught errors of any page of the context */
  pageErrors: string[];
}

/** Refuses and records every request leaving 127.0.0.1 (only those go through the route: the
 *  served site's own requests are not slowed), and records bad responses and page errors. */
export async function guardContext(context: BrowserContext, origin: string): Promise<PageWatch> {
  const watch: PageWatch = { badResponses: [], external: [], pageErrors: [] };
  await context.route(
    (u) => u.hostname !== "127.0.0.1" && !["data:", "blob:"].includes(u.protocol),
    (route) => {
      watch.external.push(route.request().url());
      return route.abort("internetdisconnected");
    },
  );
  context.on("response", (r) => {
    if (r.status() >= 400) watch.badResponses.push(`${r.status()} ${r.request().method()} ${r.url().replace(origin, "")}`);
  });
  context.on("requestfailed", (r) => {
    // a page navigating away cancels its pending requests (net::ERR_ABORTED); the refused ones are in `external`
    const why = r.failure()?.errorText;
    if (why !== "net::ERR_ABORTED" && why !== "net::ERR_INTERNET_DISCONNECTED") watch.badResponses.push(`failed ${r.method()} ${r.url().replace(origin, "")}: ${why}`);
  });
  context.on("page", (p) => p.on("pageerror", (e) => watch.pageErrors.push(String(e.stack ?? e))));
  return watch;
}
