#!/usr/bin/env node
// The `gradbook` command: runs dist/cli.js, building dist/ first when it is missing.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cli = join(root, "dist", "cli.js");
// (a dist/ built before the kernel's threads had bundles of their own lacks them: built again)
if (![cli, ...["kernel.js", "kernel-main.js", "kernel-server.cjs", "kernel-helper.js"].map((f) => join(root, "dist", f))].every((f) => existsSync(f))) {
  const r = spawnSync(process.execPath, [join(root, "scripts", "build.mjs")], { stdio: ["ignore", "inherit", "inherit"] });
  if (!existsSync(cli)) {
    console.error(`gradbook: building dist/ failed (exit ${r.status})`);
    process.exit(1);
  }
}
const { main } = await import(pathToFileURL(cli).href);
process.exit(await main(process.argv.slice(2)));
