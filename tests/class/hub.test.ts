// A class on a real JupyterHub (gradbook hub: Debian's jupyterhub 3.0 and configurable-http-proxy on 127.0.0.1,
// the dummy authenticator, the local process spawner with course uids): three students and an instructor log in
// through the hub, the instructor releases an assignment, each student gets a server, fetches it, runs it in their
// kernel, validates and submits through their server (alice twice, carol after the deadline); the instructor
// collects, grades and returns through the exchange service; each student sees their own feedback and is refused
// another's. Also: the folders' permissions seen from a student's kernel, and the per-student memory limit.
import { afterAll, beforeAll, expect, onTestFailed, test, vi } from "vitest";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadSources, NO_SANDBOX_NOTE } from "../../kernel/grader/grade.ts";
import { parseNotebook } from "../../kernel/grader/notebook.ts";
import { answer, MAX_SCORE, NOTEBOOK, SCORES, writeSource } from "./fixtures.ts";
import { api, exchange, login, runCode, runNotebook, serverSettings, startHub, startServer, type TestHub } from "./hub-helpers.ts";
import { KernelManager, SessionManager } from "@jupyterlab/services";
import { ensureBuilt, ROOT } from "../kernel/helpers.ts";

vi.setConfig({ testTimeout: 600_000, hookTimeout: 300_000 });

const STUDENTS = ["alice", "bob", "carol"];
let hub: TestHub;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  ensureBuilt();
  hub = await startHub({ students: STUDENTS, instructors: ["prof"], setup: (course) => writeSource(join(course, "source", "ps1")) });
});

afterAll(async () => {
  await hub?.stop();
});

let stepName = "start";
let stepAt = Date.now();
const step = (s: string) => {
  if (process.env.GRADBOOK_TEST_TIMES) console.log(`${((Date.now() - stepAt) / 1000).toFixed(1)} s: ${stepName}`);
  stepName = s;
  stepAt = Date.now();
};
const report = () => onTestFailed(() => console.error(`failed at step: ${stepName}\n--- hub log (last 8000 characters) ---\n${hub.log().slice(-8000)}`));

/** A call to the user's own server's Assignments handlers (what the panel does). */
const panel = (user: string, action: string, body: unknown = {}) => api(hub, tokens[user], action === "list" ? "GET" : "POST", `user/${user}/gradbook/assignments${action === "list" ? "" : `/ps1/${action}`}`, action === "list" ? undefined : body);

test("logins: the roster's users with the password; others refused", async () => {
  report();
  for (const u of [...STUDENTS, "prof"]) {
    const t = await login(hub, u, hub.password);
    expect(t, u).toBeTruthy();
    tokens[u] = t!;
  }
  expect(await login(hub, "alice", "wrong password")).toBeNull();
  expect(await login(hub, "mallory", hub.password)).toBeNull(); // not in course.json
  const me = await api(hub, tokens.prof, "GET", "hub/api/user");
  expect(me.body).toMatchObject({ name: "prof", admin: true });
  expect((await api(hub, tokens.alice, "GET", "hub/api/user")).body).toMatchObject({ name: "alice", admin: false });
});

test("the assignment flow through the hub: release, fetch, run, validate, submit, collect, grade, return, feedback", async () => {
  report();
  step("release");
  expect((await api(hub, tokens.alice, "POST", `${exchange("ps1")}/release`, {})).status).toBe(403);
  const inAnHour = new Date(Date.now() + 3600_000).toISOString();
  const rel = await api(hub, tokens.prof, "POST", `${exchange("ps1")}/release`, { deadline: inAnHour });
  expect(rel.status).toBe(200);
  expect(rel.body.notebooks).toEqual([NOTEBOOK]);
  expect(rel.body.files.map((f: any) => f.path)).toEqual(["data.csv", NOTEBOOK]);

  step("servers");
  await Promise.all(STUDENTS.map((u) => startServer(hub, u, tokens[u])));
  // a student may not reach another student's server
  expect((await api(hub, tokens.alice, "GET", "user/bob/api/contents")).status).toBe(403);

  step("the course notebooks in each new home, student versions");
  const home = await api(hub, tokens.alice, "GET", "user/alice/api/contents/notebooks");
  expect(home.body.content.map((f: any) => f.name).sort()).toEqual(readdirSync(join(ROOT, "notebooks")).filter((f) => f.endsWith(".ipynb")).sort());
  const perceptron = await api(hub, tokens.alice, "GET", "user/alice/api/contents/notebooks/01-perceptron.ipynb?content=1");
  expect(JSON.stringify(perceptron.body.content)).not.toContain("BEGIN SOLUTION");
  expect(JSON.stringify(perceptron.body.content)).toContain("YOUR CODE HERE");

  step("list and fetch through each server");
  for (const u of STUDENTS) {
    const list = await panel(u, "list");
    expect(list.status, JSON.stringify(list.body)).toBe(200);
    expect(list.body.assignments).toEqual([expect.objectContaining({ name: "ps1", deadline: inAnHour, fetched: false, submissions: [], feedback: null })]);
    const f = await panel(u, "fetch");
    expect(f.status, JSON.stringify(f.body)).toBe(200);
    expect(f.body.written.sort()).toEqual(["data.csv", NOTEBOOK]);
  }
  // fetching again keeps the student's files
  expect((await panel("alice", "fetch")).body).toMatchObject({ written: [], kept: ["data.csv", NOTEBOOK] });

  step("run in the students' kernels");
  const release = loadSources(join(hub.course, "source", "ps1"))[0].release;
  const kinds: Record<string, keyof typeof SCORES> = { alice: "wrong_mean", bob: "wrong_mean", carol: "correct" };
  const pids: Record<string, number> = {};
  for (const u of STUDENTS) {
    const run = await runNotebook(hub, u, tokens[u], `assignments/ps1/${NOTEBOOK}`, (nb) => {
      const answered = answer(release, kinds[u]);
      nb.cells.forEach((c, i) => (c.source = answered.cells[i].source));
    });
    pids[u] = run.pid;
    // the locked cell read the fetched data.csv in the notebook's folder: 4 rows
    const load = run.results.find((r) => r.source.includes('readFileSync("data.csv"'))!;
    expect(load.outputs.find((o) => o.output_type === "execute_result")?.data["text/plain"]).toBe("4");
    const errors = run.results.filter((r) => r.status !== "ok").map((r) => r.source.split("\n")[0]);
    expect(errors).toEqual(kinds[u] === "correct" ? [] : ["assertClose(mean(xs), 2.5);"]);
  }

  step("validate");
  const va = await panel("alice", "validate");
  expect(va.status, JSON.stringify(va.body)).toBe(200);
  expect(va.body[0].notebook).toBe(NOTEBOOK);
  expect(va.body[0].tests.map((t: any) => [t.gradeId, t.status])).toEqual([
    ["test_square", "passed"],
    ["test_mean", "failed"],
  ]);

  step("submit");
  const s1 = await panel("alice", "submit");
  expect(s1.status, JSON.stringify(s1.body)).toBe(200);
  expect(s1.body).toMatchObject({ late: false, submissions: 1 });
  // alice corrects her mean, runs the notebook again and submits a second time
  await runNotebook(hub, "alice", tokens.alice, `assignments/ps1/${NOTEBOOK}`, (nb) => {
    const answered = answer(release, "correct");
    nb.cells.forEach((c, i) => (c.source = answered.cells[i].source));
  });
  const s2 = await panel("alice", "submit");
  expect(s2.body).toMatchObject({ late: false, submissions: 2 });
  expect(Date.parse(s2.body.timestamp)).toBeGreaterThan(Date.parse(s1.body.timestamp));
  const sb = await panel("bob", "submit");
  expect(sb.body).toMatchObject({ late: false, submissions: 1 });

  step("deadline passes; carol submits late");
  expect((await api(hub, tokens.bob, "PUT", `${exchange("ps1")}/deadline`, { deadline: new Date().toISOString() })).status).toBe(403);
  // the deadline moved to just after bob's submission (the exchange's clock): carol's, after it, is late
  const dl = await api(hub, tokens.prof, "PUT", `${exchange("ps1")}/deadline`, { deadline: new Date(Date.parse(sb.body.timestamp) + 1).toISOString() });
  expect(dl.status).toBe(200);
  const s3 = await panel("carol", "submit");
  expect(s3.body).toMatchObject({ late: true, submissions: 1 });
  expect(s3.body.lateBySeconds).toBeGreaterThan(0);
  // nothing to read before the instructor returns it
  const early = await panel("alice", "feedback");
  expect(early.status).toBe(404);
  expect(early.body.error).toMatch(/no feedback has been returned to alice/);

  step("collect, grade, return (the instructor, through the exchange)");
  for (const op of ["collect", "grade", "return"]) expect((await api(hub, tokens.carol, "POST", `${exchange("ps1")}/${op}`, {})).status).toBe(403);
  const col = await api(hub, tokens.prof, "POST", `${exchange("ps1")}/collect`, {});
  expect(col.status).toBe(200);
  expect(col.body.missing).toEqual([]);
  expect(col.body.students.alice).toMatchObject({ count: 2, late: false, timestamp: s2.body.timestamp });
  expect(col.body.students.bob).toMatchObject({ count: 1, late: false });
  expect(col.body.students.carol).toMatchObject({ count: 1, late: true });
  const g = await api(hub, tokens.prof, "POST", `${exchange("ps1")}/grade`, {});
  expect(g.status).toBe(202);
  let job = g.body;
  while (job.state === "running") {
    await new Promise((r) => setTimeout(r, 500));
    job = (await api(hub, tokens.prof, "GET", `${exchange("ps1")}/grade`)).body;
  }
  expect(job.state, JSON.stringify(job)).toBe("done");
  const scores = Object.fromEntries(job.students.map((s: any) => [s.student, s.score]));
  expect(scores).toEqual({ alice: SCORES.correct, bob: SCORES.wrong_mean, carol: SCORES.correct });
  const ret = await api(hub, tokens.prof, "POST", `${exchange("ps1")}/return`, {});
  expect(ret.body).toEqual({ returned: STUDENTS, notGraded: [] });
  // graded in the grader's sandbox (a run without it says so in every result)
  for (const u of STUDENTS) expect(readFileSync(join(hub.course, "exchange", "graded", "ps1", "results", `${u}.json`), "utf8")).not.toContain(NO_SANDBOX_NOTE);
  const csv = await api(hub, tokens.prof, "GET", `${exchange("ps1")}/gradebook.csv`);
  expect(csv.body).toMatch(/^student,score,max_score,test_square \(3\),test_mean \(2\),status,messages\r\nalice,5,5,3,2,graded,/);

  step("feedback: each student their own");
  for (const u of STUDENTS) {
    const fb = await panel(u, "feedback");
    expect(fb.status, JSON.stringify(fb.body)).toBe(200);
    expect(fb.body).toMatchObject({ student: u, assignment: "ps1", score: scores[u], maxScore: MAX_SCORE, late: u === "carol" });
    expect(fb.body.saved).toEqual([`ps1/feedback/squares.html`, `ps1/feedback/squares.ipynb`]);
    // saved in the student's own folder, readable through their server
    const html = await api(hub, tokens[u], "GET", `user/${u}/api/contents/assignments/ps1/feedback/squares.html?content=1`);
    expect(html.status).toBe(200);
    expect(html.body.content).toContain(`<strong>${u}</strong>: ${scores[u]} / ${MAX_SCORE} points`);
    // the hidden test's code is not in the feedback
    expect(html.body.content).not.toContain("square(-2)");
    const list = await panel(u, "list");
    expect(list.body.assignments[0].feedback).toMatchObject({ score: scores[u], maxScore: MAX_SCORE });
  }
  const bobTests = (await panel("bob", "feedback")).body.tests.map((t: any) => [t.gradeId, t.score, t.hidden]);
  expect(bobTests).toEqual([
    ["test_square", 3, true],
    ["test_mean", 0, false],
  ]);

  step("another student's feedback is refused");
  for (const path of [`${exchange("ps1")}/feedback?student=bob`, `${exchange("ps1")}/feedback/files/squares.html?student=bob`]) {
    const r = await api(hub, tokens.alice, "GET", path);
    expect(r.status, path).toBe(403);
    expect(r.body.error).toBe("alice may not read bob's feedback: students see only their own");
  }
  expect((await api(hub, tokens.alice, "GET", `user/bob/api/contents/assignments/ps1/feedback/squares.html`)).status).toBe(403);
  // an instructor reads anyone's
  expect((await api(hub, tokens.prof, "GET", `${exchange("ps1")}/feedback?student=bob`)).body).toMatchObject({ student: "bob", score: SCORES.wrong_mean });
  // a token that is not the hub's
  expect((await api(hub, "not-a-token", "GET", exchange())).status).toBe(403);

  step("the exchange keeps every submission, 0700 and root's");
  const inbound = join(hub.course, "exchange", "inbound", "alice", "ps1");
  expect(readdirSync(inbound).filter((f) => !f.endsWith(".json"))).toHaveLength(2);
  for (const p of [join(hub.course, "exchange"), join(hub.course, "hub"), inbound]) expect(statSync(p).mode & 0o777, p).toBe(0o700);

  step("from alice's kernel: her uid, and the folders she may not enter");
  const settings = serverSettings(hub, "alice", tokens.alice);
  const kernels = new KernelManager({ serverSettings: settings });
  const sessions = new SessionManager({ serverSettings: settings, kernelManager: kernels });
  const session = await sessions.startNew({ path: "probe.ipynb", type: "notebook", name: "probe.ipynb", kernel: { name: "gradbook" } });
  try {
    const uids = JSON.parse(readFileSync(join(hub.course, "hub", "uids.json"), "utf8"));
    expect(await runCode(session.kernel, "process.getuid!()")).toBe(String(uids.alice));
    expect(new Set(Object.values(uids)).size).toBe(Object.keys(uids).length);
    const probe = (p: string) => runCode(session.kernel, `(() => { try { require("node:fs").readdirSync(${JSON.stringify(p)}); return "read"; } catch (e) { return (e as any).code; } })()`);
    for (const p of [join(hub.course, "home", "bob"), join(hub.course, "source"), join(hub.course, "exchange"), join(hub.course, "hub"), join(hub.course, "home")]) expect(await probe(p), p).toMatch(/'EACCES'/);
    expect(await probe(join(hub.course, "home", "alice", "assignments"))).toBe("'read'");

    step("the memory limit: the server's group, and a kernel past it is ended, the server goes on");
    const pid = Number(await runCode(session.kernel, "process.pid"));
    const memLine = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => /(^|:)memory:|^0::/.test(l))!;
    const group = memLine.split(":").slice(2).join(":");
    const v1 = existsSync("/sys/fs/cgroup/memory");
    const dir = v1 ? join("/sys/fs/cgroup/memory", group) : join("/sys/fs/cgroup", group);
    expect(group).toMatch(/gradbook\/course-[0-9a-f]{8}-alice$/);
    expect(Number(readFileSync(join(dir, v1 ? "memory.limit_in_bytes" : "memory.max"), "utf8"))).toBe(1024 * 1024 * 1024);
    const cpuDir = v1 ? join("/sys/fs/cgroup/cpu", readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => /:cpu[,:]/.test(l))!.split(":").slice(2).join(":")) : dir;
    if (v1) expect(Number(readFileSync(join(cpuDir, "cpu.cfs_quota_us"), "utf8"))).toBe(100_000);
    else expect(readFileSync(join(dir, "cpu.max"), "utf8").trim()).toBe("100000 100000");
    const statuses: string[] = [];
    session.kernel!.statusChanged.connect((_: unknown, s: string) => void statuses.push(s));
    const hog = session.kernel!.requestExecute({ code: "const hog: Buffer[] = []; for (let i = 0; i < 64; i++) hog.push(Buffer.alloc(64 << 20, 1)); hog.length" });
    await hog.done.catch(() => {});
    const until = Date.now() + 60_000;
    while (!statuses.includes("restarting") && !statuses.includes("dead") && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    expect(statuses).toContain("restarting");
    // the server restarted her kernel: the client reconnects, and the new kernel runs cells
    // (shutting down mid-reconnect would leave @jupyterlab/services' reconnect promise rejected)
    const back = Date.now() + 60_000;
    while (session.kernel!.connectionStatus !== "connected" && Date.now() < back) await new Promise((r) => setTimeout(r, 200));
    expect(session.kernel!.connectionStatus).toBe("connected");
    expect(await runCode(session.kernel, "6 * 7")).toBe("42");
    expect((await api(hub, tokens.alice, "GET", "user/alice/api/status")).status).toBe(200);
  } finally {
    await session.shutdown().catch(() => {});
    sessions.dispose();
    kernels.dispose();
  }
  // what alice handed in last is what was graded
  const graded = parseNotebook(readFileSync(join(hub.course, "exchange", "collected", "ps1", "alice", NOTEBOOK), "utf8"));
  expect(graded.cells.find((c) => c.metadata.nbgrader?.grade_id === "mean")?.source).toContain("reduce");
});
