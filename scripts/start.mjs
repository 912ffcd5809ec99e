// `npm start`: installs what is missing, builds the kernel and the JupyterLab front end (kept
// while their sources are unchanged), registers the gradbook kernel and opens JupyterLab at /lab
// on notebooks/. `npm start -- --classic` serves the classic notebook 6 instead. Other
// arguments go to the Jupyter server (`npm start -- --port 9999 --no-browser`).
import { execFileSync, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePrerequisites } from "./prerequisites.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = (cmd, args) => execFileSync(cmd, args, { stdio: "inherit", cwd: root });
const isRoot = process.getuid?.() === 0;
const userArgs = process.argv.slice(2);
const classic = userArgs.includes("--classic");
const serverArgs = userArgs.filter((a) => a !== "--classic");

ensurePrerequisites();
console.log("gradbook: building …");
run(process.execPath, [join(root, "scripts", "build.mjs")]);
if (!classic) {
  const { buildLab } = await import("./lab.mjs");
  await buildLab();
}
console.log("gradbook: registering the kernel …");
run(process.execPath, [join(root, "bin", "gradbook.js"), "install", "--user"]);

// notebooks/ unless the arguments name another folder (Jupyter refuses the option twice)
const notebooks = join(root, "notebooks");
const ownDir = serverArgs.some((a) => /^--(ServerApp\.root_dir|NotebookApp\.notebook_dir|notebook-dir)=/.test(a));
const [cmd, args, env] = classic
  ? ["/usr/bin/jupyter", ["notebook", ...(ownDir ? [] : [`--notebook-dir=${notebooks}`])], process.env]
  : [
      "/usr/bin/python3",
      ["-m", "gradbook_lab", ...(ownDir ? [] : [`--ServerApp.root_dir=${notebooks}`])],
      { ...process.env, PYTHONPATH: [join(root, "lab", "server"), process.env.PYTHONPATH].filter(Boolean).join(":") },
    ];
args.push(...serverArgs);
if (isRoot && !args.includes("--allow-root")) args.push("--allow-root");
console.log(`gradbook: ${cmd} ${args.join(" ")}`);
const child = spawn(cmd, args, { stdio: "inherit", cwd: notebooks, env });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code) => process.exit(code ?? 0));
