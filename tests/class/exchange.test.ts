// The exchange over a course folder, without a hub: course.json's checks, the folders' modes, release, what a
// submission may hold, lateness against the deadline as it is when collected, collect --before-deadline, the
// submission limit. (The hub test runs the same through JupyterHub and the exchange service.)
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultUidBase, initCourse, loadCourse, type Course } from "../../kernel/class/course.ts";
import { collect, parseDeadline, releaseAssignment, setDeadline, studentView, submit } from "../../kernel/class/exchange.ts";
import { prepareHub } from "../../kernel/class/hub.ts";
import { readSubmission } from "../../kernel/class/student.ts";
import { NOTEBOOK, writeSource } from "./fixtures.ts";

let dir: string;
let course: Course;
const nb = (text = "{}") => ({ path: NOTEBOOK, data: Buffer.from(text) });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gradbook-exchange-"));
  course = initCourse(join(dir, "c"), { students: ["alice", "bob"], instructors: ["prof"], notebooks: null });
  writeSource(join(course.root, "source", "ps1"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("course.json", () => {
  const write = (json: unknown) => {
    writeFileSync(join(dir, "course.json"), JSON.stringify(json));
    return () => loadCourse(dir);
  };
  test("problems name the field", () => {
    expect(write({ students: ["Alice"], instructors: ["p"] })).toThrow(/students\[0\]: "Alice" has capitals; JupyterHub keeps user names in lowercase, write "alice"/);
    expect(write({ students: ["../x"], instructors: ["p"] })).toThrow(/students\[0\]: "..\/x" is not a usable user name/);
    expect(write({ students: ["a"], instructors: [] })).toThrow(/instructors names no one/);
    expect(write({ students: ["a"], instructors: ["a"] })).toThrow(/a is listed twice/);
    expect(write({ students: [], instructors: ["p"], authenticator: "dummy" })).toThrow(/the dummy authenticator needs a password of at least 8 characters/);
    expect(write({ students: [], instructors: ["p"], limits: { memoryMb: 10 } })).toThrow(/limits.memoryMb must be an integer from 128/);
    expect(write({ students: [], instructors: ["p"], colour: 1 })).toThrow(/unknown field "colour"/);
    expect(write({ students: [], instructors: ["p"], authenticator: "github; import os" })).toThrow(/authenticator must be "pam" .*, "dummy" .* or a JupyterHub authenticator's entry-point name or Python class/);
    expect(write({ students: [], instructors: ["p"], hubConfig: "auth.txt" })).toThrow(/hubConfig must be a JupyterHub config file \(\.py/);
    // any JupyterHub authenticator, its settings in a config file of the course's (hub.test.ts and panel.test.ts start hubs with both kinds)
    expect(write({ students: [], instructors: ["p"], authenticator: "oauthenticator.github.GitHubOAuthenticator", hubConfig: "auth.py" })()).toMatchObject({ authenticator: "oauthenticator.github.GitHubOAuthenticator", hubConfig: join(dir, "auth.py") });
    expect(() => loadCourse(join(dir, "nowhere"))).toThrow(/course.json does not exist: make the course with gradbook class init/);
  });
  test("a hubConfig the hub would run as root must be root's and writable by root only, it and its folder", async () => {
    const c = course.root;
    const useConfig = (rel: string) => writeFileSync(join(c, "course.json"), JSON.stringify({ ...JSON.parse(readFileSync(join(c, "course.json"), "utf8")), hubConfig: rel }));
    useConfig("hub_config.py");
    await expect(prepareHub(c)).rejects.toThrow(/hubConfig .*hub_config\.py does not exist/);
    writeFileSync(join(c, "hub_config.py"), "c.Authenticator.admin_users = {'p'}\n", { mode: 0o664 });
    chmodSync(join(c, "hub_config.py"), 0o664);
    await expect(prepareHub(c)).rejects.toThrow(/hub_config\.py may be changed by someone other than root \(owner uid 0, mode 664\)/);
    // the instructors' group may write source/: a config there could be replaced
    writeFileSync(join(c, "source", "hub_config.py"), "", { mode: 0o644 });
    useConfig("source/hub_config.py");
    await expect(prepareHub(c)).rejects.toThrow(/source may be changed by someone other than root \(owner uid 0, mode 2770\)/);
    useConfig("hub_config.py");
    chmodSync(join(c, "hub_config.py"), 0o644);
    const plan = await prepareHub(c);
    expect(readFileSync(plan.configFile, "utf8")).toContain(`load_subconfig(${JSON.stringify(join(c, "hub_config.py"))})`);
  });
  test("each course its own range of uids (picked from its folder), never nobody's", () => {
    const bases = Array.from({ length: 2000 }, (_, i) => defaultUidBase(`/srv/course${i}`));
    for (const b of bases) {
      expect(b % 1000).toBe(0);
      expect(b).toBeGreaterThanOrEqual(63000);
      expect(b <= 65534 && 65534 < b + 1000).toBe(false);
    }
    expect(new Set(bases).size).toBeGreaterThan(350);
    expect(defaultUidBase("/srv/course7")).toBe(bases[7]);
    expect(course.uidBase).toBe(defaultUidBase(course.root));
  });
  test("the folders' modes", () => {
    const mode = (p: string) => statSync(join(course.root, p)).mode & 0o7777;
    expect([mode("."), mode("course.json"), mode("source"), mode("exchange"), mode("hub"), mode("jupyter"), mode("home")]).toEqual([0o711, 0o600, 0o2770, 0o700, 0o700, 0o755, 0o711]);
    expect(statSync(join(course.root, "source")).gid).toBe(course.uidBase);
  });
});

test("deadlines carry a time zone", () => {
  expect(parseDeadline("2026-12-10T23:59+01:00")).toBe("2026-12-10T22:59:00.000Z");
  expect(parseDeadline("2026-12-10 22:59Z")).toBe("2026-12-10T22:59:00.000Z");
  expect(() => parseDeadline("2026-12-10 23:59")).toThrow(/has no time zone|not a date and time with a time zone/);
  expect(() => parseDeadline("tomorrow")).toThrow(/write it as 2026-12-10T23:59\+01:00/);
});

test("release: the student version and the data file, solutions and hidden tests gone", () => {
  const s = releaseAssignment(course, "ps1", { deadline: "2030-01-01T00:00Z" });
  expect(s.files.map((f) => f.path)).toEqual(["data.csv", NOTEBOOK]);
  const released = readFileSync(join(course.root, "exchange", "released", "ps1", NOTEBOOK), "utf8");
  expect(released).toContain("YOUR CODE HERE");
  expect(released).not.toContain("x * x");
  expect(released).not.toContain("square(-2)");
  expect(() => releaseAssignment(course, "nope")).toThrow(/no folder .*source\/nope: put the instructor's notebooks for nope there first/);
  expect(() => releaseAssignment(course, "../x")).toThrow(/the assignment name "..\/x" is not usable/);
});

test("what a submission may hold", () => {
  releaseAssignment(course, "ps1");
  for (const [path, why] of [
    ["../escape.ipynb", /unusable name/],
    [".hidden.ipynb", /unusable name/],
    ["a/../../b.ipynb", /unusable name/],
    ["bad\u0007.ipynb", /unusable name/],
    ["a\\b.ipynb", /unusable name/],
  ] as const)
    expect(() => submit(course, "alice", "ps1", [{ path, data: Buffer.from("{}") }]), path).toThrow(why);
  expect(() => submit(course, "alice", "ps1", [{ path: "data.csv", data: Buffer.from("x") }])).toThrow(/has no notebook \(squares.ipynb expected\)/);
  expect(() => submit(course, "alice", "ps1", [nb(), nb()])).toThrow(/holds squares.ipynb twice/);
  expect(() => submit(course, "alice", "ps1", [nb(), { path: "d", data: Buffer.from("") }, { path: "d/e", data: Buffer.from("") }])).toThrow(/holds d as a file and as a folder/);
  expect(() => submit(course, "mallory", "ps1", [nb()])).toThrow(/mallory is not in the course/);
  expect(() => submit(course, "alice", "ps2", [nb()])).toThrow(/ps2 has not been released/);
  const big = { ...course, maxSubmissionMb: 1 };
  expect(() => submit(big, "alice", "ps1", [nb(), { path: "big.bin", data: Buffer.alloc(2 << 20) }])).toThrow(/is 2.0 MB; the limit is 1 MB/);
  // nothing of the refused ones was kept
  expect(studentView(course, "alice")[0].submissions).toEqual([]);
});

test("lateness is judged against the deadline when collected; --before-deadline takes the latest on time", () => {
  releaseAssignment(course, "ps1", { deadline: "2026-12-10T12:00Z" });
  submit(course, "alice", "ps1", [nb('{"v": 1}')], new Date("2026-12-10T11:00Z"));
  const late = submit(course, "alice", "ps1", [nb('{"v": 2}')], new Date("2026-12-10T13:30Z"));
  expect(late).toMatchObject({ late: true, lateBySeconds: 5400 });
  submit(course, "bob", "ps1", [nb('{"v": 3}')], new Date("2026-12-10T12:30Z"));
  expect(collect(course, "ps1").students).toMatchObject({ alice: { late: true, count: 2, timestamp: "2026-12-10T13:30:00.000Z" }, bob: { late: true } });
  expect(readFileSync(join(course.root, "exchange", "collected", "ps1", "alice", NOTEBOOK), "utf8")).toBe('{"v": 2}');
  const onTime = collect(course, "ps1", { beforeDeadline: true });
  expect(onTime.students.alice).toMatchObject({ late: false, timestamp: "2026-12-10T11:00:00.000Z" });
  expect(onTime.missing).toEqual(["bob"]);
  expect(readFileSync(join(course.root, "exchange", "collected", "ps1", "alice", NOTEBOOK), "utf8")).toBe('{"v": 1}');
  // an extension makes them on time
  setDeadline(course, "ps1", "2026-12-10T14:00Z");
  expect(collect(course, "ps1").students).toMatchObject({ alice: { late: false }, bob: { late: false } });
  expect(studentView(course, "alice")[0].submissions.map((s) => s.late)).toEqual([false, false]);
  // every submission is kept, each with its record
  expect(readdirSync(join(course.root, "exchange", "inbound", "alice", "ps1")).sort()).toEqual([
    "2026-12-10T11-00-00.000Z",
    "2026-12-10T11-00-00.000Z.json",
    "2026-12-10T13-30-00.000Z",
    "2026-12-10T13-30-00.000Z.json",
  ]);
});

test("the most submissions a student may make", () => {
  releaseAssignment(course, "ps1");
  const c = { ...course, maxSubmissions: 2 };
  submit(c, "alice", "ps1", [nb()]);
  submit(c, "alice", "ps1", [nb()]);
  expect(() => submit(c, "alice", "ps1", [nb()])).toThrow(/alice has made 2 submissions of ps1, the most the course allows/);
});

test("a student's submission: the notebooks and own files, not feedback/ or hidden files or links", () => {
  const a = join(dir, "work");
  writeSource(a);
  writeFileSync(join(a, ".secret"), "x");
  mkdirSync(join(a, "feedback"));
  writeFileSync(join(a, "feedback", "old.html"), "x");
  symlinkSync("/etc/passwd", join(a, "passwd"));
  const r = readSubmission(a);
  expect(r.files.map((f) => f.path)).toEqual([NOTEBOOK, "data.csv"]);
  expect(r.notSent).toEqual(["passwd (a symbolic link; links are refused)"]);
});
