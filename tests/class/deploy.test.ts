// Past one machine: the container recipe, the Zero to JupyterHub values and the Kubernetes manifests parse, name the
// image the recipe builds, and agree with each other and with the code (the exchange's address and port, the
// shard arguments of the Indexed Job and the Slurm array, the users' server settings). No cluster runs here.
import { describe, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments, parse } from "yaml";
import { parseShard } from "../../kernel/grader/shard.ts";
import { ROOT } from "../kernel/helpers.ts";

const DEPLOY = join(ROOT, "kernel", "class", "deploy");
const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
const IMAGE = `gradbook/singleuser:${version}`;
const read = (f: string) => readFileSync(join(DEPLOY, f), "utf8");
const docs = (f: string) =>
  parseAllDocuments(read(f)).map((d) => {
    expect(d.errors, f).toEqual([]);
    return d.toJS();
  });
const containers = (d: any): any[] => d.spec.template.spec.containers;

describe("the container recipe", () => {
  const cf = read("Containerfile");
  test("builds gradbook/singleuser:<package version> from files in the repository", () => {
    expect(cf).toContain(`-t ${IMAGE} .`);
    expect(cf).toContain(`org.opencontainers.image.version="${version}"`);
    const copies = [...cf.matchAll(/^COPY (.+)$/gm)].flatMap((m) => m[1].split(/\s+/).slice(0, -1));
    expect(copies.length).toBeGreaterThan(2);
    for (const c of copies) if (c !== ".") expect(existsSync(join(ROOT, c)), c).toBe(true);
  });
  test("the users' server as gradbook hub runs it: ServerApp with gradbook_lab and the Assignments handlers, jupyterhub-singleuser", () => {
    expect(cf).toMatch(/JUPYTERHUB_SINGLEUSER_APP=jupyter_server\.serverapp\.ServerApp/);
    const cfg = /printf '(\{.*\})\\n' > \/etc\/jupyter\/jupyter_server_config\.json/.exec(cf);
    expect(JSON.parse(cfg![1])).toEqual({ ServerApp: { jpserver_extensions: { gradbook_lab: true, "gradbook_hub.assignments": true } } });
    const pythonPath = /PYTHONPATH=(\S+)/.exec(cf)![1].split(":");
    expect(pythonPath).toEqual(["/opt/gradbook/lab/server", "/opt/gradbook/kernel/class/python"]);
    for (const p of pythonPath) expect(existsSync(join(ROOT, p.replace("/opt/gradbook/", ""))), p).toBe(true);
    expect(existsSync(join(ROOT, "lab", "server", "gradbook_lab.py"))).toBe(true);
    expect(existsSync(join(ROOT, "kernel", "class", "python", "gradbook_hub", "assignments.py"))).toBe(true);
    expect(cf).toMatch(/CMD \["jupyterhub-singleuser"\]/);
    // the commands it runs exist
    for (const cmd of ["release", "install"]) expect(cf).toContain(`node bin/gradbook.js ${cmd} `);
  });
});

describe("Zero to JupyterHub values", () => {
  const v = parse(read("z2jh-values.yaml"));
  test("name the image and run it as the recipe expects", () => {
    expect(`${v.singleuser.image.name}:${v.singleuser.image.tag}`).toBe(IMAGE);
    expect(v.singleuser.cmd).toBe("jupyterhub-singleuser");
    expect(v.singleuser.defaultUrl).toBe("/lab");
    expect(v.singleuser.uid).toBe(1000);
    expect(read("Containerfile")).toContain("useradd -m -u 1000 -g 100");
  });
  test("per-student limits, instructors as admins, the exchange as a hub service the servers may reach", () => {
    expect(v.singleuser.memory.limit).toMatch(/^\d+G$/);
    expect(v.singleuser.cpu.limit).toBeGreaterThan(0);
    expect(v.hub.config.Authenticator.admin_users.length).toBeGreaterThan(0);
    const svc = docs("k8s/exchange.yaml").find((d) => d.kind === "Service");
    const url = new URL(v.hub.services["gradbook-exchange"].url);
    expect(url.hostname).toBe(svc.metadata.name);
    expect(Number(url.port)).toBe(svc.spec.ports[0].port);
    expect(v.singleuser.extraEnv.GRADBOOK_EXCHANGE_URL).toBe(`${url.origin}/`);
    const egress = v.singleuser.networkPolicy.egress[0];
    expect(egress.to[0].podSelector.matchLabels).toEqual(svc.spec.selector);
    expect(egress.ports[0].port).toBe(svc.spec.ports[0].port);
    // the course notebooks the image holds
    expect(v.singleuser.lifecycleHooks.postStart.exec.command.join(" ")).toContain("/opt/gradbook/course-notebooks");
    expect(read("Containerfile")).toContain("--out /opt/gradbook/course-notebooks");
  });
});

describe("Kubernetes manifests", () => {
  test("the exchange: the image, the hub's API, the service's prefix, the course volume", () => {
    const all = docs("k8s/exchange.yaml");
    expect(all.map((d) => d.kind)).toEqual(["PersistentVolumeClaim", "Deployment", "Service"]);
    const dep = all[1];
    const c = containers(dep)[0];
    expect(c.image).toBe(IMAGE);
    expect(c.command).toEqual(["node", "/opt/gradbook/dist/cli.js", "exchange", "/course"]);
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
    expect(env.JUPYTERHUB_API_URL).toBe("http://hub:8081/hub/api");
    expect(env.JUPYTERHUB_SERVICE_PREFIX).toBe("/services/gradbook-exchange/");
    expect(new URL(env.JUPYTERHUB_SERVICE_URL).port).toBe(String(all[2].spec.ports[0].targetPort));
    expect(dep.spec.template.metadata.labels["hub.jupyter.org/network-access-hub"]).toBe("true");
    expect(dep.spec.template.spec.volumes[0].persistentVolumeClaim.claimName).toBe(all[0].metadata.name);
    expect(all[0].spec.accessModes).toEqual(["ReadWriteMany"]);
  });

  test("the grading Indexed Job: N pods, each --shard (JOB_COMPLETION_INDEX+1)/N; the merge Job takes the N outputs", () => {
    const [job] = docs("k8s/grade-job.yaml");
    expect(job.kind).toBe("Job");
    expect(job.spec.completionMode).toBe("Indexed");
    const n = job.spec.completions;
    expect(job.spec.parallelism).toBe(n);
    const c = containers(job)[0];
    expect(c.image).toBe(IMAGE);
    const cmd = c.command.join(" ");
    expect(cmd).toContain(`--shard $((JOB_COMPLETION_INDEX + 1))/${n}`);
    expect(c.command.slice(0, 2)).toEqual(["sh", "-c"]);
    const sh = spawnSync("sh", ["-n", "-c", c.command[2]]);
    expect(sh.status, String(sh.stderr)).toBe(0);
    // each pod's shard, as its shell expands it, is one grade accepts; together they cover 1..N once
    const shards = Array.from({ length: n }, (_, index) => parseShard(`${index + 1}/${n}`));
    expect(shards.map((s) => s.index)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const out = /--out (\S+)\$\(\(JOB_COMPLETION_INDEX \+ 1\)\)/.exec(cmd)![1];
    const [merge] = docs("k8s/grade-merge.yaml");
    expect(containers(merge)[0].image).toBe(IMAGE);
    const mergeCmd = containers(merge)[0].command.join(" ");
    expect(mergeCmd).toContain(`node /opt/gradbook/dist/cli.js merge ${Array.from({ length: n }, (_, i) => `${out}${i + 1}`).join(" ")} --out`);
    for (const d of [job, merge]) expect(d.spec.template.spec.volumes[0].persistentVolumeClaim.claimName).toBe("gradbook-course");
    // what the grader's sandbox needs in a pod (a masked /proc stops it: see gradescope.test.ts), in a user namespace of its own
    expect(c.securityContext).toMatchObject({ runAsUser: 0, procMount: "Unmasked", capabilities: { add: ["SYS_ADMIN"] }, seccompProfile: { type: "Unconfined" } });
    expect(job.spec.template.spec.hostUsers).toBe(false);
  });

  test("the Slurm array: --shard TASK_ID/TASK_COUNT over --array=1-N", () => {
    const s = read("slurm/grade.sbatch");
    expect(s).toMatch(/^#SBATCH --array=1-\d+$/m);
    expect(s).toContain('--shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT"');
  });
});
