// The one prerequisites step of `npm start`, `npm test` and `.ci/run`: checks the Debian and npm
// packages gradbook needs and installs what is missing (apt-get as root; otherwise it prints the
// one command that installs everything and exits 1). Quick when nothing is missing.
//
//   node scripts/prerequisites.mjs          what `npm start` needs
//   node scripts/prerequisites.mjs --test   what `npm test` needs too
//
// To add a Debian package, add a line to DEBIAN below (which command needs it, and why).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const self = fileURLToPath(import.meta.url);

/** Debian packages: [package, needed by ("start": npm start and npm test; "test": npm test only), why]. */
export const DEBIAN = [
  ["python3-jupyter-server", "start", "the Jupyter server (1.23) behind JupyterLab"],
  ["python3-jupyterlab-server", "start", "LabServerApp, which serves gradbook's JupyterLab build"],
  ["jupyter-notebook", "start", "the classic notebook (npm start -- --classic) and the jupyter command"],
  ["python3-ipywidgets", "start", "the classic notebook's widget support"],
  ["python3-widgetsnbextension", "start", "the classic notebook's widget support"],
  ["dataset-fashion-mnist", "start", "Fashion-MNIST for the AlexNet notebook"],
  ["gcc", "start", "compiles the native CPU kernels for Node (scripts/native.mjs: dist/gb-native.node)"],
  ["libc6-dev", "start", "the C library's headers for the native CPU kernels"],
  ["jupyter-server", "test", "jupyter-server command for the client tests"],
  ["jupyter-client", "test", "jupyter_client, the reference client"],
  ["python3-jupyter-client", "test", "jupyter_client, the reference client"],
  ["python3-nbclient", "test", "runs the course notebooks"],
  ["jupyter-nbconvert", "test", "nbconvert --execute and HTML export"],
  ["jupyter-console", "test", "the console client test"],
  ["python3-jupyter-kernel-test", "test", "the kernel conformance suite"],
  ["python3-ipykernel", "test", "ipykernel as the protocol reference"],
  ["python3-torch", "test", "PyTorch reference values"],
  ["libopenblas0-pthread", "test", "OpenBLAS behind PyTorch's libblas.so.3 (else Debian's reference BLAS, ~20x slower): npm run bench's fair reference"],
  ["chromium", "test", "browser tests (playwright-core drives it)"],
  ["fonts-dejavu-core", "test", "fonts for the browser screenshots"],
  ["python3-pil", "test", "Pillow, an independent PNG decoder for the widgets' image tests"],
  ["jupyterhub", "test", "gradbook hub and its tests: JupyterHub 3.0 with configurable-http-proxy"],
  ["bubblewrap", "test", "the Gradescope autograder's emulation (and the grader's sandbox)"],
];

/** From bookworm-backports: Mesa 25's lavapipe runs WebGPU on the CPU (tests without a GPU). */
const BACKPORTS = { packages: ["mesa-vulkan-drivers", "libvulkan1"], check: "mesa-vulkan-drivers", minMajor: 25 };
const BACKPORTS_LIST = "/etc/apt/sources.list.d/backports.sources";

function installedVersions(packages) {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Package} ${Status} ${Version}\n", ...packages], { encoding: "utf8" });
  const versions = new Map();
  for (const line of (r.stdout ?? "").split("\n")) {
    const [name, , , state, version] = line.split(" ");
    if (state === "installed") versions.set(name.split(":")[0], version);
  }
  return versions;
}

/** What is missing for `npm start` (test = false) or `npm test` (test = true). */
export function missingDebian(test) {
  const wanted = DEBIAN.filter(([, need]) => test || need === "start").map(([p]) => p);
  const have = installedVersions([...wanted, BACKPORTS.check]);
  const missing = wanted.filter((p) => !have.has(p));
  const mesa = have.get(BACKPORTS.check);
  const backports = test && !(mesa && parseInt(mesa, 10) >= BACKPORTS.minMajor);
  return { missing, backports };
}

function sh(cmd, args, opts = {}) {
  execFileSync(cmd, args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, ...opts });
}

/** Installs the missing Debian packages as root, or prints the one command that does and exits. */
export function ensureDebian({ test = false } = {}) {
  const { missing, backports } = missingDebian(test);
  if (!missing.length && !backports) return;
  const what = [...missing, ...(backports ? [`${BACKPORTS.packages.join(" ")} (bookworm-backports)`] : [])];
  if (process.getuid?.() !== 0) {
    console.error(`gradbook: missing Debian packages: ${what.join(", ")}.\nInstall them with:\n  sudo ${process.execPath} ${self}${test ? " --test" : ""}\nthen run the command again.`);
    process.exit(1);
  }
  console.log(`gradbook: installing ${what.join(", ")} with apt-get …`);
  sh("apt-get", ["update", "-qq"]);
  if (missing.length) sh("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing]);
  if (backports) {
    if (!existsSync(BACKPORTS_LIST)) {
      writeFileSync(BACKPORTS_LIST, "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n");
      sh("apt-get", ["update", "-qq"]);
    }
    sh("apt-get", ["install", "-y", "-qq", "-t", "bookworm-backports", ...BACKPORTS.packages]);
  }
  const still = missingDebian(test);
  if (still.missing.length || still.backports) throw new Error(`gradbook: apt-get did not install ${[...still.missing, ...(still.backports ? BACKPORTS.packages : [])].join(", ")}`);
}

/** Whether dir's node_modules holds what its package-lock.json lists (the versions npm ci would install). */
export function npmPackagesCurrent(dir) {
  let lock, installed;
  try {
    lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8")).packages;
    installed = JSON.parse(readFileSync(join(dir, "node_modules", ".package-lock.json"), "utf8")).packages;
  } catch {
    return false;
  }
  for (const [path, entry] of Object.entries(lock)) {
    if (path === "" || entry.link) continue;
    const got = installed[path];
    // optional packages for other platforms (e.g. @esbuild/darwin-arm64) are not installed
    if (!got) {
      if (entry.optional) continue;
      return false;
    }
    if (got.version !== entry.version) return false;
  }
  return true;
}

function ensureNpm(dir, label) {
  if (npmPackagesCurrent(dir)) return;
  console.log(`gradbook: installing ${label} npm packages (npm ci) …`);
  sh("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir });
}

/** gradbook's own npm packages (root package-lock.json). */
export const ensureRootPackages = () => ensureNpm(root, "gradbook's");
/** The JupyterLab front end's packages (lab/package-lock.json: only needed to build dist/lab/). */
export const ensureLabPackages = () => ensureNpm(join(root, "lab"), "JupyterLab's");

/** Everything `npm start` (or, with test, `npm test`) needs before it builds. */
export function ensurePrerequisites({ test = false } = {}) {
  ensureDebian({ test });
  // under sudo (the command printed above, or .ci/run as a user) only the system part: npm
  // packages belong to the user, who runs npm start / npm test next
  if (!process.env.SUDO_USER) ensureRootPackages();
}

if (process.argv[1] && resolve(process.argv[1]) === self) {
  ensurePrerequisites({ test: process.argv.includes("--test") });
}
