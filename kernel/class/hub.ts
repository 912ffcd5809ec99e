/**
 * `gradbook hub COURSE`: JupyterHub (Debian's jupyterhub 3.0 with
 * configurable-http-proxy) for a course on one machine. It prepares the
 * course folder, installs the gradbook kernelspec and the students' server
 * configuration into COURSE/jupyter, writes COURSE/hub/settings.json and a
 * jupyterhub_config.py that reads it (python/gradbook_hub), and runs the
 * hub, which starts the exchange service and each user's server.
 */
import { spawn } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { findBwrap } from "../grader/sandbox.ts";
import { installKernelSpec } from "../kernelspec.ts";
import { coursePaths, CourseError, ensureLayout, loadCourse, type Course } from "./course.ts";
import { SERVICE_NAME } from "./service.ts";

/** The package root (holding dist/, kernel/, node_modules/). */
export const PACKAGE_ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, "package.json")) && dirname(d) !== d) d = dirname(d);
  return d;
})();

export const PYTHON_DIR = join(PACKAGE_ROOT, "kernel", "class", "python");
export const JUPYTERHUB = "/usr/bin/jupyterhub";

export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, host, () => {
      const port = (s.address() as any).port;
      s.close(() => res(port));
    });
  });
}

/**
 * The package must be readable by the users' uids (their servers run its
 * kernel and CLI): every folder above it passable (o+x), its files readable.
 */
export function checkReadableByOthers(paths: string[]) {
  for (const p of paths) {
    let cur = resolve(p);
    const chain: string[] = [];
    while (true) {
      chain.unshift(cur);
      if (dirname(cur) === cur) break;
      cur = dirname(cur);
    }
    for (const q of chain) {
      const st = statSync(q);
      const need = st.isDirectory() ? 0o001 : 0o004;
      if (!(st.mode & need))
        throw new CourseError(
          `${q} is not ${st.isDirectory() ? "passable" : "readable"} by other users, so the students' servers cannot run ${p}: ` +
            `install gradbook where every user can read it (e.g. under /opt), or chmod o+${st.isDirectory() ? "x" : "r"} ${q}`,
        );
    }
  }
}

/**
 * The users' server: jupyter_server's ServerApp (what jupyterhub-singleuser 3.0 can wrap: it
 * needs a ServerApp, not an extension app) with gradbook's JupyterLab (lab/server, the front
 * end built in dist/lab) loaded as its extension, as jupyter-labhub does.
 */
export function singleUserApp(): { app: string; extension: string; defaultUrl: string; pythonPath: string[] } {
  const server = join(PACKAGE_ROOT, "lab", "server");
  if (!existsSync(join(server, "gradbook_lab.py"))) throw new CourseError(`${server}/gradbook_lab.py is missing: the students' JupyterLab server is part of the package`);
  if (!existsSync(join(PACKAGE_ROOT, "dist", "lab", "build.json"))) throw new CourseError(`${join(PACKAGE_ROOT, "dist", "lab")} holds no JupyterLab front end: build it with  node scripts/lab.mjs`);
  return { app: "jupyter_server.serverapp.ServerApp", extension: "gradbook_lab", defaultUrl: "/lab", pythonPath: [server] };
}

/** The course's hubConfig runs as root in the hub: it must be a file that only root can change (it, and the folder it is in). */
function checkHubConfig(file: string) {
  let st;
  try {
    st = lstatSync(file);
  } catch {
    throw new CourseError(`course.json's hubConfig ${file} does not exist`);
  }
  if (!st.isFile()) throw new CourseError(`course.json's hubConfig ${file} is not a file`);
  for (const [what, s] of [[file, st], [dirname(file), statSync(dirname(file))]] as const)
    if (s.uid !== 0 || (s.mode & 0o022 && !(s.isDirectory() && s.mode & 0o1000)))
      throw new CourseError(`course.json's hubConfig: ${what} may be changed by someone other than root (owner uid ${s.uid}, mode ${(s.mode & 0o7777).toString(8)}), and the hub runs it as root: make it root's and writable by root only`);
}

export interface HubPlan {
  course: Course;
  url: string;
  settingsFile: string;
  configFile: string;
}

/** Prepares the course folder and writes the hub's settings and config; returns what to run. */
export async function prepareHub(courseDir: string, o: { port?: number; ip?: string } = {}): Promise<HubPlan> {
  const course = loadCourse(courseDir);
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    throw new CourseError("gradbook hub runs as root: it starts each user's server as that user (their own account, or a uid of the course's) and holds it to the course's limits");
  if (!existsSync(JUPYTERHUB)) throw new CourseError(`${JUPYTERHUB} is missing: install Debian's JupyterHub with  apt-get install -y jupyterhub`);
  const cli = join(PACKAGE_ROOT, "dist", "cli.js");
  if (!existsSync(cli) || !existsSync(join(PACKAGE_ROOT, "dist", "kernel.js"))) throw new CourseError(`${cli} is missing: run npm run build`);
  const app = singleUserApp();
  checkReadableByOthers([cli, join(PACKAGE_ROOT, "dist", "kernel.js"), join(PACKAGE_ROOT, "dist", "lab", "build.json"), join(PACKAGE_ROOT, "node_modules"), PYTHON_DIR, ...app.pythonPath, process.execPath]);
  ensureLayout(course);
  const p = coursePaths(course);

  // What the users' servers read: the kernelspec; JupyterLab and the Assignments panel's handlers as server extensions.
  installKernelSpec({ where: { kind: "prefix", dir: p.jupyter }, root: PACKAGE_ROOT });
  const etc = join(p.jupyter, "etc", "jupyter");
  mkdirSync(etc, { recursive: true, mode: 0o755 });
  const serverConfig = { ServerApp: { jpserver_extensions: { [app.extension]: true, "gradbook_hub.assignments": true } } };
  writeFileSync(join(etc, "jupyter_server_config.json"), JSON.stringify(serverConfig, null, 1) + "\n", { mode: 0o644 });

  const ip = o.ip ?? course.hub.ip;
  const port = o.port ?? (course.hub.port || (await freePort(ip === "0.0.0.0" ? "127.0.0.1" : ip)));
  const [hubPort, apiPort, servicePort] = [await freePort(), await freePort(), await freePort()];
  const serviceUrl = `http://127.0.0.1:${servicePort}`;
  const settings = {
    course: course.root,
    name: course.name,
    students: course.students,
    instructors: course.instructors,
    authenticator: course.authenticator,
    password: course.password,
    bind_url: `http://${ip}:${port}`,
    hub_bind_url: `http://127.0.0.1:${hubPort}`,
    proxy_api_url: `http://127.0.0.1:${apiPort}`,
    uid_base: course.uidBase,
    notebooks: course.notebooks,
    memory_bytes: course.limits.memoryMb * (1 << 20),
    cpus: course.limits.cpus,
    enforce_limits: course.enforceLimits,
    singleuser: "/usr/bin/jupyterhub-singleuser",
    default_url: app.defaultUrl,
    server_env: {
      JUPYTERHUB_SINGLEUSER_APP: app.app,
      PYTHONPATH: [PYTHON_DIR, ...app.pythonPath].join(":"),
      JUPYTER_PATH: join(p.jupyter, "share", "jupyter"),
      JUPYTER_CONFIG_PATH: etc,
      GRADBOOK_EXCHANGE_URL: `${serviceUrl}/`,
      GRADBOOK_CLI: cli,
      GRADBOOK_NODE: process.execPath,
      PYTHONDONTWRITEBYTECODE: "1",
    },
    service: {
      name: SERVICE_NAME,
      url: serviceUrl,
      command: [process.execPath, cli, "exchange", course.root],
    },
  };
  if (course.hubConfig) checkHubConfig(course.hubConfig);
  const settingsFile = join(p.hub, "settings.json");
  writeFileSync(settingsFile, JSON.stringify(settings, null, 1) + "\n", { mode: 0o600 });
  const configFile = join(p.hub, "jupyterhub_config.py");
  writeFileSync(
    configFile,
    `# Written by gradbook hub from ${join(course.root, "course.json")}: edit that file, not this one.\n` +
      `import sys\nsys.path.insert(0, ${JSON.stringify(PYTHON_DIR)})\nfrom gradbook_hub import configure\nconfigure(c, ${JSON.stringify(settingsFile)})\n` +
      (course.hubConfig ? `# the course's own settings (course.json's hubConfig)\nload_subconfig(${JSON.stringify(course.hubConfig)})\n` : ""),
    { mode: 0o600 },
  );
  const shown = ip === "0.0.0.0" ? "127.0.0.1" : ip;
  return { course, url: `http://${shown}:${port}/`, settingsFile, configFile };
}

/** Runs the hub in the foreground until it exits or is stopped (SIGINT/SIGTERM are passed on). */
export async function runHub(courseDir: string, o: { port?: number; ip?: string } = {}): Promise<number> {
  const plan = await prepareHub(courseDir, o);
  const c = plan.course;
  console.log(`gradbook hub: ${c.name}, ${c.students.length} students, instructors ${c.instructors.join(", ")}, ${c.authenticator} logins; each server ${c.limits.memoryMb} MiB, ${c.limits.cpus} CPU`);
  if (!findBwrap()) console.warn("gradbook hub: warning: bubblewrap is not installed, so grading (Grade in the Assignments panel, gradbook class grade) will stop with that reason until it is: apt-get install -y bubblewrap");
  console.log(`gradbook hub: starting JupyterHub at ${plan.url}`);
  const child = spawn(JUPYTERHUB, ["-f", plan.configFile], { cwd: coursePaths(c).hub, stdio: "inherit", env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  return await new Promise<number>((res) => {
    child.on("exit", (code, sig) => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      res(code ?? (sig ? 128 + 15 : 1));
    });
  });
}
