/**
 * A class's commands (entries of kernel/cli.ts's table):
 *   gradbook hub COURSE                          JupyterHub for the course (hub.ts)
 *   gradbook class init|release|deadline|collect|grade|return|status   the instructor, on the machine
 *   gradbook assignment list|fetch|validate|submit|feedback|...        a user, through the exchange service
 *   gradbook exchange COURSE                     the exchange service (the hub starts it)
 *   gradbook gradescope SOURCE... --out ZIP      a Gradescope autograder (gradescope.ts)
 *   gradbook merge SHARD_OUT... --out DIR        the shards of grade --shard I/N put together
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Command } from "../cli.ts";
import { formatBytes } from "../grader/files.ts";
import { Usage, wrap } from "../grader/index.ts";
import { mergeShards } from "../grader/shard.ts";
import { formatValidation } from "../grader/validate.ts";
import { initCourse, loadCourse, CourseError } from "./course.ts";
import { classStatus, collect, gradeAssignment, releaseAssignment, releasedAssignments, returnFeedback, setDeadline, sourceAssignments } from "./exchange.ts";
import { buildAutograder, checkAutograder, runAutograder, VISIBILITIES, type Visibility } from "./gradescope.ts";
import { runHub } from "./hub.ts";
import { runService } from "./service.ts";
import { ExchangeClient, ExchangeError, validateAssignment } from "./student.ts";

type Spec = Record<string, { type: "string" | "boolean"; multiple?: boolean }>;

function args<S extends Spec>(argv: string[], options: S) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new Usage((e as Error).message.replace(/^Unknown option '(.*?)'.*$/s, "unknown option $1"));
  }
}

const num = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Usage(`${name} must be a positive number, not ${JSON.stringify(v)}`);
  return n;
};

const list = (v: string | undefined) => (v ? v.split(",").map((s) => s.trim()).filter(Boolean) : []);


const when = (iso: string | null) => (iso ? new Date(iso).toISOString().replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC") : "none");
const late = (s: { late: boolean; lateBySeconds: number }) => (s.late ? `late by ${duration(s.lateBySeconds)}` : "on time");
export function duration(s: number): string {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.round((s % 86400) / 3600)} h`;
}

const collectedText = (r: { students: Record<string, unknown>; missing: string[] }) =>
  `collected ${Object.keys(r.students).length} submissions${r.missing.length ? `; none from ${r.missing.join(", ")}` : ""}`;
const returnedText = (r: { returned: string[]; notGraded: string[] }) => `returned feedback to ${r.returned.length} students${r.notGraded.length ? `; not graded: ${r.notGraded.join(", ")}` : ""}`;
const releasedText = (s: { name: string; notebooks: string[]; deadline: string | null }) => `released ${s.name}: ${s.notebooks.join(", ")}; deadline ${when(s.deadline)}`;

const HUB_USAGE = "gradbook hub COURSE [--port N] [--ip ADDR]";
const CLASS_USAGE = [
  "gradbook class init COURSE --students a,b,... --instructors p,... [--authenticator pam|dummy|NAME] [--password P] [--memory-mb N] [--cpus N] [--port N] [--ip ADDR] [--notebooks DIR | --no-notebooks]",
  "gradbook class release ASSIGNMENT [--deadline 2026-12-10T23:59+01:00] [--course COURSE]",
  "gradbook class deadline ASSIGNMENT DEADLINE|none [--course COURSE]",
  "gradbook class collect ASSIGNMENT [--before-deadline] [--course COURSE]",
  "gradbook class grade ASSIGNMENT [--jobs N] [--force] [--course COURSE]",
  "gradbook class return ASSIGNMENT [--course COURSE]",
  "gradbook class status [ASSIGNMENT] [--course COURSE]",
].join("\n       ");
const ASSIGNMENT_USAGE = [
  "gradbook assignment list|fetch|validate|submit|feedback [ASSIGNMENT] [--dir ~/assignments] [--json] [--url URL] [--token T]",
  "gradbook assignment release|deadline|collect|grade|return|status ASSIGNMENT [--deadline D|none] [--before-deadline] [--student S]   (instructors)",
].join("\n       ");

/** The course folder: --course, else $GRADBOOK_COURSE, else the current folder. */
const courseDir = (v: string | undefined) => v ?? process.env.GRADBOOK_COURSE ?? ".";

async function classCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const { values: v, positionals: pos } = args(rest, {
    course: { type: "string" },
    students: { type: "string" },
    instructors: { type: "string" },
    authenticator: { type: "string" },
    password: { type: "string" },
    "memory-mb": { type: "string" },
    cpus: { type: "string" },
    port: { type: "string" },
    ip: { type: "string" },
    notebooks: { type: "string" },
    "no-notebooks": { type: "boolean" },
    deadline: { type: "string" },
    "before-deadline": { type: "boolean" },
    jobs: { type: "string" },
    force: { type: "boolean" },
  });
  const one = (what: string) => {
    if (pos.length !== 1) throw new Usage(`give one ${what}`);
    return pos[0];
  };
  switch (verb) {
    case "init": {
      const dir = one("course folder");
      const c = initCourse(dir, {
        students: list(v.students),
        instructors: list(v.instructors),
        authenticator: v.authenticator,
        password: v.password,
        memoryMb: num(v["memory-mb"], "--memory-mb"),
        cpus: num(v.cpus, "--cpus"),
        port: v.port === undefined ? undefined : Number(v.port),
        ip: v.ip,
        notebooks: v["no-notebooks"] ? null : v.notebooks,
      });
      console.log(`made the course ${c.name} in ${c.root}: ${c.students.length} students, instructors ${c.instructors.join(", ")}`);
      if (c.notebooks) console.log(`each new home gets a copy of ${c.notebooks}${v.notebooks ? "" : " (the student versions of gradbook's course notebooks)"}`);
      console.log(`put each assignment's notebooks (with solutions and tests) in ${join(c.root, "source", "ASSIGNMENT")}/, then run: gradbook hub ${dir}`);
      return 0;
    }
    case "release": {
      const c = loadCourse(courseDir(v.course));
      const s = releaseAssignment(c, one("assignment"), { deadline: v.deadline === "none" ? null : v.deadline });
      console.log(`${releasedText(s)}; ${s.files.length - s.notebooks.length} other files`);
      return 0;
    }
    case "deadline": {
      const c = loadCourse(courseDir(v.course));
      if (pos.length !== 2) throw new Usage("give the assignment and the deadline (or none)");
      const s = setDeadline(c, pos[0], pos[1] === "none" ? null : pos[1]);
      console.log(`${s.name}: deadline ${when(s.deadline)}`);
      return 0;
    }
    case "collect": {
      const c = loadCourse(courseDir(v.course));
      const r = collect(c, one("assignment"), { beforeDeadline: !!v["before-deadline"] });
      for (const [s, x] of Object.entries(r.students)) console.log(`  ${s}: ${when(x.timestamp)} (${late(x)}; ${x.count} submission${x.count === 1 ? "" : "s"})`);
      console.log(collectedText(r));
      return 0;
    }
    case "grade": {
      const c = loadCourse(courseDir(v.course));
      const a = one("assignment");
      const s = await gradeAssignment(c, a, { jobs: num(v.jobs, "--jobs"), force: !!v.force, progress: process.stderr });
      for (const r of s.results) console.log(`  ${r.student}: ${r.score} / ${r.maxScore}${r.status === "graded" ? "" : ` (${r.status})`}`);
      console.log(`graded ${s.graded} (${s.resumed} from an earlier run); gradebook: ${s.csv}`);
      return 0;
    }
    case "return": {
      const c = loadCourse(courseDir(v.course));
      const r = returnFeedback(c, one("assignment"));
      console.log(returnedText(r));
      return 0;
    }
    case "status": {
      const c = loadCourse(courseDir(v.course));
      if (!pos.length) {
        for (const s of releasedAssignments(c)) console.log(`${s.name}: released ${when(s.releasedAt)}, deadline ${when(s.deadline)}${s.collected ? `, collected ${when(s.collected.at)}` : ""}${s.graded ? `, graded` : ""}${s.returned ? `, returned` : ""}`);
        const released = new Set(releasedAssignments(c).map((s) => s.name));
        const un = sourceAssignments(c).filter((a) => !released.has(a));
        if (un.length) console.log(`not released: ${un.join(", ")}`);
        return 0;
      }
      const st = classStatus(c, one("assignment"));
      for (const s of st.students)
        console.log(`  ${s.student}: ${s.submissions} submission${s.submissions === 1 ? "" : "s"}${s.latest ? `, latest ${when(s.latest.timestamp)} (${late(s.latest)})` : ""}${s.score !== null ? `, ${s.score} / ${s.maxScore}` : ""}${s.returned ? ", returned" : ""}`);
      return 0;
    }
    default:
      throw new Usage(verb ? `unknown class command ${verb}` : "give a class command");
  }
}

async function assignmentCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const { values: v, positionals: pos } = args(rest, {
    dir: { type: "string" },
    json: { type: "boolean" },
    url: { type: "string" },
    token: { type: "string" },
    deadline: { type: "string" },
    "before-deadline": { type: "boolean" },
    student: { type: "string" },
  });
  const json = !!v.json;
  const dir = v.dir ?? join(homedir(), "assignments");
  const out = (value: unknown, text: () => string) => console.log(json ? JSON.stringify(value) : text());
  const one = () => {
    if (pos.length !== 1) throw new Usage(`give the assignment's name`);
    return pos[0];
  };
  try {
    const client = ExchangeClient.fromEnv({ url: v.url, token: v.token });
    switch (verb) {
      case "list": {
        const r = await client.list();
        const rows = r.assignments.map((a) => ({ ...a, fetched: existsSync(join(dir, a.name)) }));
        out({ ...r, assignments: rows, dir }, () =>
          rows.length
            ? rows
                .map((a) => {
                  const last = a.submissions.at(-1);
                  return `${a.name}: deadline ${when(a.deadline)}; ${a.fetched ? "fetched" : "not fetched"}; ${a.submissions.length} submission${a.submissions.length === 1 ? "" : "s"}${last ? ` (latest ${when(last.timestamp)}, ${late(last)})` : ""}${a.feedback ? `; feedback: ${a.feedback.score} / ${a.feedback.maxScore}` : ""}`;
                })
                .join("\n")
            : "no assignments have been released",
        );
        return 0;
      }
      case "fetch": {
        const r = await client.fetchAssignment(one(), dir);
        out(r, () => `fetched into ${r.folder}: ${r.written.length} file${r.written.length === 1 ? "" : "s"} written${r.kept.length ? `, ${r.kept.length} already there kept as they are (${r.kept.join(", ")})` : ""}`);
        return 0;
      }
      case "validate": {
        const r = await validateAssignment(one(), dir);
        out(
          r.map((x) => ({ notebook: x.notebook, passed: x.validation.passed, tests: x.validation.tests, cellErrors: x.validation.cellErrors, warnings: x.validation.warnings })),
          () => r.map((x) => formatValidation(x.validation, x.notebook)).join("\n\n"),
        );
        return r.every((x) => x.validation.passed) ? 0 : json ? 0 : 1;
      }
      case "submit": {
        const r = await client.submit(one(), dir);
        out(r, () => `submitted ${r.files} file${r.files === 1 ? "" : "s"} at ${when(r.timestamp)} (${late(r)}); that is submission ${r.submissions}${r.notSent.length ? `\nnot sent: ${r.notSent.join(", ")}` : ""}`);
        return 0;
      }
      case "feedback": {
        const r = await client.feedback(one(), v.student ? null : dir, v.student);
        out(r, () => [`${r.assignment}: ${r.score} / ${r.maxScore} points (submitted ${when(r.submittedAt)}, ${late(r)})`, ...r.tests.map((t) => `  ${t.status.toUpperCase().padEnd(7)} ${t.gradeId}${t.hidden ? " (hidden)" : ""}: ${t.score} / ${t.maxScore}${t.status === "passed" ? "" : ` ${t.output.split("\n")[0]}`}`), ...r.messages.map((m) => `  ${m}`), ...(r.saved.length ? [`saved: ${r.saved.join(", ")}`] : [])].join("\n"));
        return 0;
      }
      case "release": {
        const r = await client.release(one(), v.deadline === undefined ? undefined : v.deadline === "none" ? null : v.deadline);
        out(r, () => releasedText(r));
        return 0;
      }
      case "deadline": {
        if (v.deadline === undefined) throw new Usage("give --deadline D (or none)");
        const r = await client.setDeadline(one(), v.deadline === "none" ? null : v.deadline);
        out(r, () => `${r.name}: deadline ${when(r.deadline)}`);
        return 0;
      }
      case "collect": {
        const r = await client.collect(one(), !!v["before-deadline"]);
        out(r, () => collectedText(r));
        return 0;
      }
      case "grade": {
        const r = await client.grade(one());
        out(r, () => `graded ${r.graded} (${r.resumed} unchanged)\n${(r.students ?? []).map((s: any) => `  ${s.student}: ${s.score} / ${s.maxScore}`).join("\n")}`);
        return 0;
      }
      case "return": {
        const r = await client.returnFeedback(one());
        out(r, () => returnedText(r));
        return 0;
      }
      case "status": {
        const r = await client.status(one());
        out(r, () => r.students.map((s: any) => `  ${s.student}: ${s.submissions} submissions${s.score !== null ? `, ${s.score} / ${s.maxScore}` : ""}${s.returned ? ", returned" : ""}`).join("\n"));
        return 0;
      }
      default:
        throw new Usage(verb ? `unknown assignment command ${verb}` : "give an assignment command");
    }
  } catch (e) {
    if (json && !(e instanceof Usage)) {
      const status = e instanceof ExchangeError ? e.status || 502 : e instanceof CourseError ? 400 : 500;
      console.log(JSON.stringify({ error: (e as Error).message, status }));
      return 1;
    }
    throw e;
  }
}

const GRADESCOPE_USAGE =
  "gradbook gradescope SOURCE.ipynb|DIR... --out autograder.zip [--visibility visible|hidden|after_due_date|after_published] [--hidden-tests VISIBILITY] [--stdout-visibility hidden|visible] [--cell-timeout S] [--timeout S] [--memory MB] [--no-sandbox] [--exclude PATTERN]... [--max-files-mb MB]";

async function gradescopeCommand(argv: string[]): Promise<number> {
  const { values: v, positionals: pos } = args(argv, {
    out: { type: "string" },
    visibility: { type: "string" },
    "hidden-tests": { type: "string" },
    "stdout-visibility": { type: "string" },
    "cell-timeout": { type: "string" },
    timeout: { type: "string" },
    memory: { type: "string" },
    "no-sandbox": { type: "boolean" },
    exclude: { type: "string", multiple: true },
    "max-files-mb": { type: "string" },
    run: { type: "boolean" },
    check: { type: "boolean" },
    autograder: { type: "string" },
  });
  if (v.run) return runAutograder(v.autograder);
  if (v.check) return checkAutograder(v.autograder);
  if (!pos.length) throw new Usage("give the instructor's notebooks (or their folder)");
  if (!v.out) throw new Usage("--out autograder.zip is required");
  const vis = (x: string | undefined, name: string) => {
    if (x !== undefined && !VISIBILITIES.includes(x as Visibility)) throw new Usage(`${name} must be one of ${VISIBILITIES.join(", ")}, not ${x}`);
    return x as Visibility | undefined;
  };
  const so = v["stdout-visibility"];
  if (so !== undefined && so !== "hidden" && so !== "visible") throw new Usage(`--stdout-visibility must be hidden or visible, not ${so}`);
  const mb = num(v["max-files-mb"], "--max-files-mb");
  const r = buildAutograder({
    sources: pos,
    out: v.out,
    exclude: v.exclude ?? [],
    maxFilesBytes: mb === undefined ? undefined : Math.floor(mb * (1 << 20)),
    settings: {
      visibility: vis(v.visibility, "--visibility"),
      hiddenTests: vis(v["hidden-tests"], "--hidden-tests"),
      stdoutVisibility: so as "hidden" | "visible" | undefined,
      cellTimeoutS: num(v["cell-timeout"], "--cell-timeout"),
      notebookTimeoutS: num(v.timeout, "--timeout"),
      memoryMb: num(v.memory, "--memory"),
      ...(v["no-sandbox"] ? { sandbox: false as const } : {}),
    },
  });
  console.log(`wrote ${v.out} (${formatBytes(r.bytes)}, ${r.files} files): ${r.settings.notebooks.join(", ")}; results ${r.settings.visibility}, tests with hidden parts ${r.settings.hiddenTests}, console ${r.settings.stdoutVisibility}`);
  console.log("upload it as the assignment's autograder in Gradescope (Configure Autograder: Zip file upload, Ubuntu 22.04 base image)");
  return 0;
}

const MERGE_USAGE = "gradbook merge SHARD_OUT... --out DIR";

export const classCommands: Record<string, Command> = {
  merge: {
    summary: "put the --out folders of grade --shard 1/N ... N/N together: one gradebook, as one run writes it",
    usage: MERGE_USAGE,
    run: wrap(MERGE_USAGE, (argv) => {
      const { values: v, positionals: pos } = args(argv, { out: { type: "string" } });
      if (!v.out) throw new Usage("--out DIR is required");
      if (!pos.length) throw new Usage("give the shards' output folders");
      const r = mergeShards(pos, v.out);
      console.log(`merged ${r.shards} shards: ${r.students} submissions; gradebook: ${r.csv}`);
      return 0;
    }),
  },
  gradescope: {
    summary: "write a Gradescope autograder zip (setup.sh, run_autograder) that grades with gradbook",
    usage: GRADESCOPE_USAGE,
    run: wrap(GRADESCOPE_USAGE, gradescopeCommand),
  },
  hub: {
    summary: "run JupyterHub for a course (each student's JupyterLab with the gradbook kernel, limits, the Assignments panel)",
    usage: HUB_USAGE,
    run: wrap(HUB_USAGE, (argv) => {
      const { values: v, positionals: pos } = args(argv, { port: { type: "string" }, ip: { type: "string" } });
      if (pos.length !== 1) throw new Usage("give the course folder");
      const port = v.port === undefined ? undefined : Number(v.port);
      if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new Usage(`--port must be a port number, not ${v.port}`);
      return runHub(pos[0], { port, ip: v.ip });
    }),
  },
  class: {
    summary: "a course's assignments on this machine: init, release, deadline, collect, grade, return, status",
    usage: CLASS_USAGE,
    run: wrap(CLASS_USAGE, classCommand),
  },
  assignment: {
    summary: "a student's (or instructor's) assignments through the course's exchange: list, fetch, validate, submit, feedback",
    usage: ASSIGNMENT_USAGE,
    run: wrap(ASSIGNMENT_USAGE, assignmentCommand),
  },
  exchange: {
    summary: "the course's exchange service (JupyterHub starts it)",
    usage: "gradbook exchange COURSE",
    run: wrap("gradbook exchange COURSE", async (argv) => {
      const { positionals: pos } = args(argv, {});
      if (pos.length !== 1) throw new Usage("give the course folder");
      await runService(pos[0]);
      return 0;
    }),
  },
};
