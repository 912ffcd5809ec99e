#!/usr/bin/env node
// The `gradbook` command: runs dist/cli.js, building dist/ first when it is missing.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cli = join(root, "dist", "cli.js");
if (!existsSync(cli) || !existsSync(join(root, "dist", "kernel.js"))) {
  const r = spawnSync(process.execPath, [join(root, "scripts", "build.mjs")], { stdio: ["ignore", "inherit", "inherit"] });
  if (!existsSync(cli)) {
    console.error(`gradbook: building dist/ failed (exit ${r.status})`);
    process.exit(1);
  }
}
const { main } = await import(pathToFileURL(cli).href);
process.exit(await main(process.argv.slice(2)));
