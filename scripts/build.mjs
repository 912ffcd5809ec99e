// Bundles the TypeScript sources into dist/ with esbuild (about a second).
// Each entry: [source, output, platform, format (esm unless given)]. Node-only code is kept out
// of the engine bundle so it also runs in a browser.
import { build } from "esbuild";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { buildNative } from "./native.mjs";

const entries = [
  ["engine/index.ts", "dist/gradbook.js", "neutral"],
  ["widgets/index.ts", "dist/widgets.js", "neutral"],
  // CommonJS, the kernelspec's entry: Node starts it about 9 ms sooner than an ES module (measured);
  // dist/kernel.js (below) imports it for the commands that name that file
  ["kernel/main.ts", "dist/kernel.cjs", "node", "cjs"],
  ["kernel/main-thread.ts", "dist/kernel-main.js", "node"],
  // CommonJS: a worker whose entry is an ES module starts the ES module loader first (about 5 ms of
  // CPU before the sockets are bound, measured); zeromq's JavaScript is bundled in (zeromqBundled)
  ["kernel/protocol/thread.ts", "dist/kernel-server.cjs", "node", "cjs"],
  ["kernel/ts/helper.ts", "dist/kernel-helper.js", "node"],
  ["kernel/cli.ts", "dist/cli.js", "node"],
  ["bench/index.ts", "dist/bench.js", "node"],
];

const external = ["zeromq", "typescript", "webgpu", "mnist", "node:*", "playwright-core", "esbuild", "gradbook", "gradbook/*"];

// The widgets bundle must share the engine with the notebook (one Tensor class, one
// grad mode): its imports of engine/index resolve to the package's own "gradbook"
// export (dist/gradbook.js) instead of a bundled second copy.
// The benchmark imports the build scripts (scripts/*.mjs, through the tests' helpers): they stay
// files of their own, imported from dist/, so that their "run as a script" checks stay false.
const scriptsAsFiles = {
  name: "scripts-as-files",
  setup(b) {
    b.onResolve({ filter: /[\\/]scripts[\\/][\w-]+\.mjs$/ }, (args) => ({ path: `../scripts/${args.path.split(/[\\/]/).pop()}`, external: true }));
  },
};

// The protocol worker's bundle holds zeromq's JavaScript: resolving and loading its files at run
// time (package "exports" maps, cmake-ts's loader) cost the worker 9 ms of CPU before its bind,
// bundled 5.7 (measured, 10 starts each). Its addon (a .node file) stays where npm put it: the
// loader is pointed at zeromq's build folder by its path relative to dist/.
const zeromqBundled = {
  name: "zeromq-bundled",
  setup(b) {
    b.onLoad({ filter: /[\\/]zeromq[\\/]lib[\\/]load-addon\.js$/ }, (args) => {
      const fromDist = relative(resolve("dist"), join(dirname(args.path), "..", "build"));
      const code = readFileSync(args.path, "utf8").replace('path_1.default.resolve(__dirname, "..", "build")', `path_1.default.resolve(__dirname, ${JSON.stringify(fromDist)})`);
      if (!code.includes(JSON.stringify(fromDist))) throw new Error(`zeromq's ${args.path} changed: its addon's folder is no longer found this way`);
      return { contents: code, loader: "js" };
    });
  },
};

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
    .map(([src, out, platform, format = "esm"]) =>
      build({
        entryPoints: [src],
        outfile: out,
        bundle: true,
        format,
        platform,
        target: "node20",
        sourcemap: "linked",
        external: out === "dist/kernel-server.cjs" ? external.filter((e) => e !== "zeromq") : external,
        plugins: src.startsWith("widgets/") ? [engineAsPackage] : src.startsWith("bench/") ? [scriptsAsFiles] : out === "dist/kernel-server.cjs" ? [zeromqBundled] : [],
        mainFields: ["module", "main"],
        logLevel: "warning",
        banner:
          platform === "node" && format === "esm"
            ? { js: "import { createRequire as __gbCreateRequire } from 'node:module'; const require = __gbCreateRequire(import.meta.url);" }
            : platform === "node"
              ? { js: "\"use strict\"; var __gbImportMeta = { get url() { return require('node:url').pathToFileURL(__filename).href; } };" }
              : undefined,
        // (a CommonJS bundle has no import.meta: its modules' import.meta.url is the bundle's file URL)
        define: platform === "node" && format === "cjs" ? { "import.meta": "__gbImportMeta" } : undefined,
      }).then(() => restoreClassNames(out)),
    ),
);

// the native kernels for Node (engine/backends/cpu/native/): dist/gb-native.node, compiled by gcc
// when a source changed (without gcc the engine runs its WASM kernels; the tests say what to install)
buildNative({ optional: true });

// `node dist/kernel.js -f <connection file>` keeps working for the commands and tests that name it:
// it imports the kernel's CommonJS entry (the kernelspec starts dist/kernel.cjs directly)
if (existsSync("kernel/main.ts")) {
  writeFileSync("dist/kernel.js", '// the gradbook kernel: dist/kernel.cjs (kernel/main.ts)\nimport "./kernel.cjs";\n');
  rmSync("dist/kernel.js.map", { force: true });
}

// esbuild renames a top-level class whose body names itself (`var Tensor = class _Tensor {`),
// and its `name` with it: students saw "_Tensor" and "_Sequential(" (a model's repr, the memory
// guard's listing). The bundle gives such classes their own names back once defined. (esbuild's
// keepNames would too, but wraps every named closure in a call that costs ~0.4 µs each time an
// op creates one: measured, 1 to 4 per small op.) tests/engine/bundle.test.ts checks the result.
function restoreClassNames(file) {
  const code = readFileSync(file, "utf8");
  const renamed = [...code.matchAll(/^var (\w+) = class _\1\b/gm)].map((m) => m[1]);
  if (!renamed.length) return;
  const fix = renamed.map((n) => `Object.defineProperty(${n}, "name", { value: ${JSON.stringify(n)} });\n`).join("");
  const map = code.lastIndexOf("//# sourceMappingURL=");
  writeFileSync(file, map < 0 ? code + fix : code.slice(0, map) + fix + code.slice(map));
}

// Notebook cells see `gb` as `declare const gb: typeof import("gradbook")` (a value). So that
// they can also write gb.Tensor or gb.nn.Module as types, the kernel's language service adds a
// types-only namespace `gb` of aliases, listed here from the engine's actual exports: classes at
// the top level and one namespace deep (gb.nn, gb.optim, ...), plus the engine's type-only names.
{
  const engine = await import(new URL("../dist/gradbook.js", import.meta.url).href);
  const isClass = (v) => typeof v === "function" && /^class[\s{]/.test(Function.prototype.toString.call(v));
  const lines = ["declare namespace gb {"];
  for (const name of ["Device", "DType", "TypedArray", "NestedArray", "IndexSpec"]) lines.push(`  type ${name} = import("gradbook").${name};`);
  for (const [name, value] of Object.entries(engine).sort()) {
    if (isClass(value)) lines.push(`  type ${name} = import("gradbook").${name};`);
    else if (value && typeof value === "object" && !Array.isArray(value)) {
      const classes = Object.entries(value).filter(([, v]) => isClass(v)).map(([k]) => k).sort();
      if (classes.length) lines.push(`  namespace ${name} {`, ...classes.map((k) => `    type ${k} = import("gradbook").${name}.${k};`), "  }");
    }
  }
  lines.push("}");
  writeFileSync(new URL("../dist/gb-namespace.d.ts", import.meta.url), lines.join("\n") + "\n");
  if (typeof engine.releaseGpu === "function") engine.releaseGpu();
}

// Declarations of the engine and the widgets (dist/types/) for the kernel's language service:
// a session's first type check reads these .d.ts files faster than it parses the sources and
// infers their types (measured: a first cell 1.2-1.4 s -> 0.8-1.1 s). Made again only when a source is newer.
{
  const newest = (dir) => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) t = Math.max(t, newest(p));
      else if (e.name.endsWith(".ts")) t = Math.max(t, statSync(p).mtimeMs);
    }
    return t;
  };
  const stampFile = "dist/types/.built";
  const stamp = String(Math.max(newest("engine"), newest("widgets"), statSync("scripts/build.mjs").mtimeMs));
  let current = null;
  try {
    current = readFileSync(stampFile, "utf8");
  } catch {}
  if (current !== stamp) {
    const ts = (await import("typescript")).default;
    rmSync("dist/types", { recursive: true, force: true });
    const program = ts.createProgram(["engine/index.ts", "widgets/index.ts"], {
      declaration: true,
      emitDeclarationOnly: true,
      outDir: "dist/types",
      rootDir: ".",
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ["lib.es2023.d.ts", "lib.dom.d.ts"],
      types: ["node"],
      strict: true,
      skipLibCheck: true,
      allowImportingTsExtensions: true,
    });
    const { diagnostics } = program.emit();
    if (diagnostics.length) {
      // the language service then reads the sources (slower, same types)
      rmSync("dist/types", { recursive: true, force: true });
      console.warn(`build: declarations not written (the kernel's type checks read the sources):\n${ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => "\n" })}`);
    } else writeFileSync(stampFile, stamp);
  }
}
