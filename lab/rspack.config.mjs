// rspack configuration of gradbook's JupyterLab bundle (used by scripts/lab.mjs, which also
// copies the settings schemas and themes). `entry` and `outDir` let other front ends (the
// JupyterLite site) reuse it with their own entry file.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "package.json"));

/** @returns {import("@rspack/core").Configuration} */
export function labConfig({ entry = join(here, "src", "index.ts"), outDir, mode = "production" }) {
  const rspack = require("@rspack/core");
  return {
    context: here,
    mode,
    entry: { main: entry },
    target: "web",
    bail: true,
    devtool: mode === "production" ? false : "source-map",
    output: {
      path: outDir,
      // chunks load relative to the bundle's own URL, wherever the server mounts it
      publicPath: "auto",
      filename: "[name].[contenthash:12].js",
      chunkFilename: "[name].[contenthash:12].js",
      assetModuleFilename: "assets/[name].[contenthash:12][ext]",
      clean: true,
    },
    resolve: {
      extensions: [".ts", ".tsx", ".js", ".mjs", ".json"],
      modules: [join(here, "node_modules"), "node_modules"],
    },
    module: {
      rules: [
        {
          test: /\.tsx?$/,
          exclude: /node_modules/,
          loader: "builtin:swc-loader",
          options: { jsc: { parser: { syntax: "typescript" }, target: "es2022" } },
          type: "javascript/auto",
        },
        // @jupyter/web-components imports './icon.styles' without an extension
        { test: /\.m?js$/, resolve: { fullySpecified: false } },
        { test: /\.raw\.css$/, type: "asset/source" },
        { test: /(?<!\.raw)\.css$/, use: [require.resolve("style-loader"), require.resolve("css-loader")], type: "javascript/auto" },
        { test: /\.html$/, type: "asset/resource" },
        { test: /\.md$/, type: "asset/source" },
        { test: /\.(jpg|png|gif)$/, type: "asset/resource" },
        { test: /\.js\.map$/, type: "asset/resource" },
        { test: /\.(woff2?|ttf|eot|otf)(\?v=\d+\.\d+\.\d+)?$/, type: "asset/resource" },
        // SVG: a data URI in CSS, the text itself in scripts (LabIcon)
        { test: /\.svg(\?v=\d+\.\d+\.\d+)?$/, issuer: /\.css$/, type: "asset/inline" },
        { test: /\.svg(\?v=\d+\.\d+\.\d+)?$/, issuer: /\.[jt]sx?$/, type: "asset/source" },
      ],
    },
    plugins: [
      new rspack.DefinePlugin({
        "process.env.NODE_ENV": JSON.stringify(mode),
        "process.env": "{}",
        "process.cwd": "(() => '/')",
      }),
    ],
    performance: { hints: false },
    optimization: { moduleIds: "deterministic" },
    stats: "errors-warnings",
  };
}
