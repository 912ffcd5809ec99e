// Builds gradbook's native kernels for Node (engine/backends/cpu/native/*.c, see the README.md
// there) into dist/gb-native.node with gcc, when a source changed since it was built. The engine
// loads it where it runs in Node and falls back to its WebAssembly kernels where it is missing.
//
//   node scripts/native.mjs     (scripts/build.mjs calls buildNative() too)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const NATIVE_SRC = join(root, "engine", "backends", "cpu", "native");
export const NATIVE_LIB = join(root, "dist", "gb-native.node");
/** What the library was built from (buildNative compares it). */
const NATIVE_STAMP = join(root, "dist", "gb-native.stamp");
/** The Debian packages the build needs (scripts/prerequisites.mjs installs them). */
export const NATIVE_PACKAGES = ["gcc", "libc6-dev"];

/** Node's headers (node_api.h): <prefix>/include/node of the running node. */
export function nodeHeaders() {
  const dir = join(dirname(dirname(process.execPath)), "include", "node");
  return existsSync(join(dir, "node_api.h")) ? dir : null;
}

function gccPath() {
  try {
    execFileSync("gcc", ["--version"], { stdio: "ignore" });
    return "gcc";
  } catch {
    return null;
  }
}

/**
 * Compiles the library when a source (.c, .h) was added, changed or removed since it was built (or
 * Node changed), or it is missing; returns its
 * path. Throws (naming the package to install) where gcc or Node's headers are missing, unless
 * `optional`: then it says so on stderr and returns null (the engine runs its WASM kernels).
 */
export function buildNative({ optional = false, quiet = false } = {}) {
  const sources = readdirSync(NATIVE_SRC).filter((f) => f.endsWith(".c") || f.endsWith(".h")).sort();
  // the sources (names, times, sizes) and this script: a file added, changed or removed rebuilds it
  const stamp = JSON.stringify([process.version, statSync(fileURLToPath(import.meta.url)).mtimeMs, ...sources.map((f) => [f, statSync(join(NATIVE_SRC, f)).mtimeMs, statSync(join(NATIVE_SRC, f)).size])]);
  let built = null;
  try {
    built = readFileSync(NATIVE_STAMP, "utf8");
  } catch {}
  if (existsSync(NATIVE_LIB) && built === stamp) return NATIVE_LIB;
  const fail = (why) => {
    if (!optional) throw new Error(`native kernels: ${why}`);
    console.warn(`build: native kernels not built (${why}); the engine runs its WebAssembly kernels`);
    return null;
  };
  if (!gccPath()) return fail(`gcc is missing: install the Debian packages ${NATIVE_PACKAGES.join(" ")} (sudo node scripts/prerequisites.mjs)`);
  const headers = nodeHeaders();
  if (!headers) return fail(`Node's headers (node_api.h) are not in ${join(dirname(dirname(process.execPath)), "include", "node")}`);
  mkdirSync(dirname(NATIVE_LIB), { recursive: true });
  // into a file of its own, then renamed: a process that has the library loaded keeps its copy
  const tmp = `${NATIVE_LIB}.${process.pid}.tmp`;
  const cfiles = sources.filter((f) => f.endsWith(".c")).sort().map((f) => join(NATIVE_SRC, f));
  try {
    // -ffp-contract=off: a multiply then an add stay two roundings (the exact-bits mode's kernels);
    // the fused ones are explicit intrinsics. Instruction sets by function (target pragmas), chosen at run time.
    execFileSync("gcc", ["-O3", "-shared", "-fPIC", "-ffp-contract=off", "-fno-strict-aliasing", "-Wall", "-std=gnu11", `-I${headers}`, "-o", tmp, ...cfiles], {
      stdio: quiet ? "pipe" : ["ignore", "inherit", "inherit"],
    });
    renameSync(tmp, NATIVE_LIB);
    writeFileSync(NATIVE_STAMP, stamp);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (optional) return fail(`gcc failed: ${String(e.stderr ?? e.message).slice(0, 2000)}`);
    throw e;
  }
  return NATIVE_LIB;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(buildNative());
}
