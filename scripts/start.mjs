// `npm start`: installs what is missing, builds, registers the gradbook kernel and
// serves notebooks/ in Jupyter. Extra arguments go to Jupyter (`npm start -- --port 9999`).
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
const isRoot = process.getuid?.() === 0;

const debianPackages = ["jupyter-notebook", "python3-jupyter-server", "python3-ipywidgets", "python3-widgetsnbextension", "dataset-fashion-mnist"];

if (!existsSync(join(root, "node_modules", ".package-lock.json"))) {
  console.log("gradbook: installing npm packages …");
  run("npm", ["install", "--no-audit", "--no-fund"]);
}

if (!existsSync("/usr/bin/jupyter") || !existsSync("/usr/share/datasets/fashion-mnist")) {
  const apt = ["apt-get", "install", "-y", ...debianPackages];
  if (isRoot) {
    console.log(`gradbook: installing ${debianPackages.join(", ")} with apt-get …`);
    run("apt-get", ["update", "-qq"]);
    run(apt[0], apt.slice(1), { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  } else {
    console.error(`gradbook: Jupyter is missing. Install it with:\n  sudo ${apt.join(" ")}\nthen run npm start again.`);
    process.exit(1);
  }
}

console.log("gradbook: building …");
run(process.execPath, [join(root, "scripts", "build.mjs")]);
console.log("gradbook: registering the kernel …");
run(process.execPath, [join(root, "bin", "gradbook.js"), "install", "--user"]);

const jupyter = existsSync("/usr/bin/jupyter") ? "/usr/bin/jupyter" : "jupyter";
const args = ["notebook", `--notebook-dir=${join(root, "notebooks")}`, ...process.argv.slice(2)];
if (isRoot && !args.includes("--allow-root")) args.push("--allow-root");
console.log(`gradbook: ${jupyter} ${args.join(" ")}`);
const child = spawn(jupyter, args, { stdio: "inherit", cwd: join(root, "notebooks") });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code) => process.exit(code ?? 0));
