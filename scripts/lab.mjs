// Builds gradbook's JupyterLab front end (lab/) into dist/lab/ with rspack, once: the build is
// kept while a hash of its sources (lab/src, the rspack config, lab/package-lock.json, this
// script) is unchanged. `node scripts/lab.mjs [--force] [--dev]`; `--deps-only` installs
// lab/node_modules and builds nothing (for `npm run typecheck:lab`).
//
// dist/lab/: static/ (the bundle: main.<hash>.js and its chunks), schemas/<package>/ (the
// extensions' settings schemas), themes/<package>/index.css, build.json (bundle name, hash,
// versions). Served by lab/server/gradbook_lab.py.
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ensureLabPackages } from "./prerequisites.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const labDir = join(root, "lab");
export const LAB_BUILD = join(root, "dist", "lab");

export function filesUnder(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

/** The hash of everything the bundle is made from. */
export function labSourceHash(mode = "production") {
  const files = [...filesUnder(join(labDir, "src")), join(labDir, "rspack.config.mjs"), join(labDir, "package.json"), join(labDir, "package-lock.json"), fileURLToPath(import.meta.url)].sort();
  const h = createHash("sha256").update(mode);
  for (const f of files) h.update(relative(root, f)).update("\0").update(readFileSync(f)).update("\0");
  return h.digest("hex").slice(0, 16);
}

/** The CSS file with its local `@import './x.css'` inlined (JupyterLab's theme files import only their variables). */
function inlineCss(file, seen = new Set()) {
  if (seen.has(file)) return "";
  seen.add(file);
  return readFileSync(file, "utf8").replace(/@import\s+(?:url\()?['"]([^'"]+)['"]\)?\s*;/g, (m, spec) => {
    if (!spec.startsWith(".")) throw new Error(`lab build: ${file} imports ${spec}: only local imports are inlined in themes`);
    return inlineCss(join(dirname(file), spec), seen);
  });
}

/** The JupyterLite site's own packages (scripts/lite.mjs): not part of the JupyterLab build. */
export const LITE_ONLY_PACKAGES = /^@jupyterlite\/|^@jupyterlab\/services-extension$|^node-inspect-extracted$/;

/** Settings schemas and themes of every package that declares them (package.json's "jupyterlab" field); `lite`: the JupyterLite site's packages too. */
export function copyExtensionAssets(out, { lite = false } = {}) {
  const require = createRequire(join(labDir, "package.json"));
  const pkgs = Object.keys(JSON.parse(readFileSync(join(labDir, "package.json"), "utf8")).dependencies).filter((name) => lite || !LITE_ONLY_PACKAGES.test(name));
  const found = { schemas: 0, themes: [] };
  for (const name of pkgs) {
    let pkgFile;
    try {
      pkgFile = require.resolve(`${name}/package.json`);
    } catch {
      continue; // (a package whose exports hide its package.json is no JupyterLab extension: node-inspect-extracted)
    }
    const pkgDir = dirname(pkgFile);
    const meta = JSON.parse(readFileSync(pkgFile, "utf8"));
    const lab = meta.jupyterlab ?? {};
    // (a package may declare a schema folder it does not ship: @jupyterlite/apputils-extension 0.8.3)
    if (lab.schemaDir && existsSync(join(pkgDir, lab.schemaDir))) {
      const dest = join(out, "schemas", name);
      mkdirSync(dest, { recursive: true });
      for (const f of readdirSync(join(pkgDir, lab.schemaDir)).filter((f) => f.endsWith(".json"))) {
        cpSync(join(pkgDir, lab.schemaDir, f), join(dest, f));
        found.schemas++;
      }
      // jupyterlab_server reads the version shown for each schema from here
      writeFileSync(join(dest, "package.json.orig"), JSON.stringify({ name, version: meta.version }, null, 2));
    }
    if (lab.themePath) {
      const dest = join(out, "themes", name);
      mkdirSync(dest, { recursive: true });
      writeFileSync(join(dest, "index.css"), inlineCss(join(pkgDir, lab.themePath)));
      found.themes.push(name);
    }
  }
  return found;
}

/** Builds dist/lab/ unless the build there was made from the same sources. Returns what it did. */
export async function buildLab({ force = false, dev = false, quiet = false } = {}) {
  const mode = dev ? "development" : "production";
  const hash = labSourceHash(mode);
  const log = quiet ? () => {} : (m) => console.log(m);
  let current = null;
  try {
    current = JSON.parse(readFileSync(join(LAB_BUILD, "build.json"), "utf8"));
  } catch {}
  if (!force && current?.hash === hash && existsSync(join(LAB_BUILD, "static", current.bundle))) {
    log(`gradbook: JupyterLab front end is up to date (dist/lab, ${hash})`);
    return { built: false, hash };
  }
  ensureLabPackages();
  log(`gradbook: building the JupyterLab front end (rspack, ${mode}) …`);
  const t0 = Date.now();
  const tmp = `${LAB_BUILD}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const require = createRequire(join(labDir, "package.json"));
  const { rspack } = require("@rspack/core");
  const { labConfig } = await import(pathToFileURL(join(labDir, "rspack.config.mjs")).href);
  const stats = await new Promise((res, rej) =>
    rspack(labConfig({ outDir: join(tmp, "static"), mode }), (err, s) => (err ? rej(err) : s.hasErrors() ? rej(new Error(s.toString({ all: false, errors: true }))) : res(s))),
  );
  const bundle = stats.toJson({ all: false, entrypoints: true }).entrypoints.main.assets.map((a) => a.name).filter((n) => n.endsWith(".js"));
  if (bundle.length !== 1) throw new Error(`lab build: expected one entry script, got ${bundle.join(", ")}`);
  const assets = copyExtensionAssets(tmp);
  const jupyterlab = JSON.parse(readFileSync(createRequire(join(labDir, "package.json")).resolve("@jupyterlab/application/package.json"), "utf8")).version;
  const size = filesUnder(join(tmp, "static")).reduce((n, f) => n + statSync(f).size, 0);
  const info = { hash, mode, bundle: bundle[0], jupyterlab, bytes: size, schemas: assets.schemas, themes: assets.themes, seconds: (Date.now() - t0) / 1000 };
  writeFileSync(join(tmp, "build.json"), JSON.stringify(info, null, 2) + "\n");
  rmSync(LAB_BUILD, { recursive: true, force: true });
  renameSync(tmp, LAB_BUILD);
  log(`gradbook: JupyterLab ${jupyterlab} front end built in ${info.seconds.toFixed(1)} s: ${(size / 1e6).toFixed(1)} MB, ${assets.schemas} settings schemas, ${assets.themes.length} themes`);
  return { built: true, hash, info };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--deps-only")) ensureLabPackages();
  else await buildLab({ force: process.argv.includes("--force"), dev: process.argv.includes("--dev") });
}
