// Bundles the TypeScript sources into dist/ with esbuild (about a second).
// Each entry: [source, output, platform]. Node-only code is kept out of the
// engine bundle so it also runs in a browser.
import { build } from "esbuild";
import { existsSync } from "node:fs";

const entries = [
  ["engine/index.ts", "dist/gradbook.js", "neutral"],
  ["widgets/index.ts", "dist/widgets.js", "neutral"],
  ["kernel/main.ts", "dist/kernel.js", "node"],
  ["kernel/cli.ts", "dist/cli.js", "node"],
  ["bench/index.ts", "dist/bench.js", "node"],
];

const external = ["zeromq", "typescript", "webgpu", "mnist", "node:*", "playwright-core", "esbuild", "gradbook", "gradbook/*"];

// The widgets bundle must share the engine with the notebook (one Tensor class, one
// grad mode): its imports of engine/index resolve to the package's own "gradbook"
// export (dist/gradbook.js) instead of a bundled second copy.
const engineAsPackage = {
  name: "engine-as-package",
  setup(b) {
    b.onResolve({ filter: /(^|\/)engine\/index(\.js|\.ts)?$/ }, (args) =>
      /[\\/]widgets[\\/]/.test(args.importer) ? { path: "gradbook", external: true } : undefined,
    );
  },
};

await Promise.all(
  entries
    .filter(([src]) => existsSync(src))
    .map(([src, out, platform]) =>
      build({
        entryPoints: [src],
        outfile: out,
        bundle: true,
        format: "esm",
        platform,
        target: "node20",
        sourcemap: "linked",
        external,
        plugins: src.startsWith("widgets/") ? [engineAsPackage] : [],
        mainFields: ["module", "main"],
        logLevel: "warning",
        banner: platform === "node" ? { js: "import { createRequire as __gbCreateRequire } from 'node:module'; const require = __gbCreateRequire(import.meta.url);" } : undefined,
      }),
    ),
);
