/**
 * `gradbook gradescope SOURCE... --out autograder.zip`: a Gradescope
 * autograder for an assignment, graded by gradbook's grader.
 *
 * Gradescope unzips the archive into /autograder/source on its Ubuntu image,
 * runs setup.sh once (as root, with network) and, for each submission, runs
 * run_autograder, which must leave /autograder/results/results.json.
 *
 *   setup.sh          installs Node.js 20 (NodeSource's apt repository) when missing, and bubblewrap
 *   run_autograder    node gradbook/dist/cli.js gradescope --run
 *   gradescope.json   the instructor's choices: visibility, time and memory limits
 *   assignment/       the instructor's notebooks (solutions, hidden tests) and data files
 *   gradbook/         gradbook built (dist/) with the packages its kernel needs at run time (linux-x64)
 *
 * `--run` grades /autograder/submission (the student's upload, copied to a
 * scratch folder) as one submission and writes Gradescope's results.json
 * with the chosen visibility.
 */
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { collectFiles, DEFAULT_MAX_FILES_BYTES, mergeFileSets } from "../grader/files.ts";
import { grade, loadSources } from "../grader/grade.ts";
import { gradescopeResults } from "../grader/reports.ts";
import { CourseError } from "./course.ts";
import { PACKAGE_ROOT } from "./hub.ts";
import { makeZip, type ZipEntry } from "./zip.ts";

export const VISIBILITIES = ["visible", "hidden", "after_due_date", "after_published"] as const;
export type Visibility = (typeof VISIBILITIES)[number];

export interface GradescopeSettings {
  /** The whole result (score and tests without their own setting). */
  visibility: Visibility;
  /** The tests that have hidden parts. */
  hiddenTests: Visibility;
  /** The autograder's console output. */
  stdoutVisibility: "hidden" | "visible";
  cellTimeoutS?: number;
  notebookTimeoutS?: number;
  memoryMb?: number;
  /** false: grade without the grader's sandbox (`--no-sandbox`, for an image where it cannot start); every result says so. */
  sandbox?: false;
  notebooks: string[];
}

export interface BuildOptions {
  sources: string[];
  out: string;
  settings?: Partial<Omit<GradescopeSettings, "notebooks">>;
  exclude?: string[];
  maxFilesBytes?: number;
}

const SETUP_SH = `#!/usr/bin/env bash
# gradbook's autograder: run once by Gradescope when it builds the image (Ubuntu, as root, with network).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
here="$(cd "$(dirname "$0")" && pwd)"
major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v node >/dev/null || [ "$(major)" -lt 20 ]; then
  # Node.js 20 from NodeSource's apt repository (their documented set-up)
  apt-get update -qq
  apt-get install -y -qq ca-certificates curl gnupg
  mkdir -p /etc/apt/keyrings
  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
  echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main" > /etc/apt/sources.list.d/nodesource.list
  apt-get update -qq
  apt-get install -y -qq nodejs
fi
if ! command -v bwrap >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq bubblewrap
fi
chmod 755 "$here/run_autograder"
# gradbook is in the archive, built, with its run-time packages: check that it starts
node "$here/gradbook/dist/cli.js" gradescope --check --autograder "$(dirname "$here")"
`;

const RUN_AUTOGRADER = `#!/usr/bin/env bash
# gradbook's autograder: grades /autograder/submission into /autograder/results/results.json.
exec node /autograder/source/gradbook/dist/cli.js gradescope --run --autograder /autograder
`;

/** The npm packages gradbook's kernel and grader load at run time: the dependencies, TypeScript and Node's types, with theirs. */
export function runtimePackages(root = PACKAGE_ROOT): string[] {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const todo: { name: string; from: string }[] = [...Object.keys(pkg.dependencies ?? {}), "typescript", "@types/node"].map((name) => ({ name, from: root }));
  const found = new Set<string>();
  while (todo.length) {
    const { name, from } = todo.pop()!;
    // node's resolution: the nearest node_modules up from the requiring package
    let dir = from, at: string | null = null;
    while (true) {
      const p = join(dir, "node_modules", name);
      if (existsSync(join(p, "package.json"))) {
        at = p;
        break;
      }
      if (dir === root || dirname(dir) === dir) break;
      dir = dirname(dir);
    }
    if (!at) throw new CourseError(`the package ${name} (needed at run time) is not installed in ${root}/node_modules: run npm ci`);
    const rel = relative(root, at);
    if (found.has(rel)) continue;
    found.add(rel);
    const p = JSON.parse(readFileSync(join(at, "package.json"), "utf8"));
    for (const d of Object.keys({ ...(p.dependencies ?? {}), ...(p.optionalDependencies ?? {}) })) todo.push({ name: d, from: at });
  }
  return [...found].sort();
}

/** Files of other platforms' native builds, left out (Gradescope runs linux-x64). */
function otherPlatform(rel: string): boolean {
  return /^node_modules\/webgpu\/dist\/(?!linux-x64\/)/.test(rel) || /^node_modules\/zeromq\/build\/(?!linux\/x64\/|manifest\.json$)/.test(rel) || /\.map$/.test(rel);
}

function walk(dir: string, prefix: string, out: { rel: string; abs: string; mode: number }[]) {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const abs = join(dir, e.name), rel = prefix ? `${prefix}/${e.name}` : e.name;
    const st = lstatSync(abs);
    if (st.isDirectory()) walk(abs, rel, out);
    else if (st.isFile()) out.push({ rel, abs, mode: st.mode & 0o111 ? 0o755 : 0o644 });
  }
}

/** The archive's files: scripts, settings, the assignment and gradbook. */
export function autograderEntries(o: BuildOptions): { entries: ZipEntry[]; settings: GradescopeSettings } {
  if (!o.sources.length) throw new CourseError("give the instructor's notebooks (or their folder)");
  const s = o.settings ?? {};
  for (const [k, v] of [["visibility", s.visibility], ["hidden tests", s.hiddenTests]] as const)
    if (v !== undefined && !VISIBILITIES.includes(v)) throw new CourseError(`the ${k} visibility must be one of ${VISIBILITIES.join(", ")}, not ${JSON.stringify(v)}`);
  if (s.stdoutVisibility !== undefined && s.stdoutVisibility !== "hidden" && s.stdoutVisibility !== "visible") throw new CourseError(`the stdout visibility must be hidden or visible, not ${JSON.stringify(s.stdoutVisibility)}`);
  const dist = join(PACKAGE_ROOT, "dist");
  for (const f of ["cli.js", "kernel.js", "gradbook.js", "widgets.js"]) if (!existsSync(join(dist, f))) throw new CourseError(`${join(dist, f)} is missing: run npm run build`);

  const entries: ZipEntry[] = [];
  const sources = o.sources.flatMap((p) => loadSources(p));
  const seen = new Set<string>();
  for (const x of sources) {
    if (seen.has(x.name)) throw new CourseError(`two notebooks are named ${x.name}`);
    seen.add(x.name);
    entries.push({ name: `assignment/${x.name}`, data: readFileSync(join(x.dir, x.name)) });
  }
  const maxBytes = o.maxFilesBytes ?? DEFAULT_MAX_FILES_BYTES;
  const dirs = [...new Set(sources.map((x) => x.dir))];
  const files = mergeFileSets(dirs.map((d) => collectFiles(d, { maxBytes, ignore: o.exclude ?? [], exclude: [resolve(o.out)], limitHint: "leave large files out (--exclude) or raise --max-files-mb" })), maxBytes);
  for (const f of files.files) entries.push({ name: `assignment/${f.rel}`, data: readFileSync(f.abs), mode: f.executable ? 0o755 : 0o644 });

  const settings: GradescopeSettings = {
    visibility: s.visibility ?? "visible",
    hiddenTests: s.hiddenTests ?? "after_published",
    stdoutVisibility: s.stdoutVisibility ?? "hidden",
    ...(s.cellTimeoutS ? { cellTimeoutS: s.cellTimeoutS } : {}),
    ...(s.notebookTimeoutS ? { notebookTimeoutS: s.notebookTimeoutS } : {}),
    ...(s.memoryMb ? { memoryMb: s.memoryMb } : {}),
    ...(s.sandbox === false ? { sandbox: false as const } : {}),
    notebooks: sources.map((x) => x.name),
  };
  entries.push({ name: "setup.sh", data: Buffer.from(SETUP_SH), mode: 0o755 });
  entries.push({ name: "run_autograder", data: Buffer.from(RUN_AUTOGRADER), mode: 0o755 });
  entries.push({ name: "gradescope.json", data: Buffer.from(JSON.stringify(settings, null, 1) + "\n") });

  const pkg: { rel: string; abs: string; mode: number }[] = [];
  for (const f of ["package.json", "LICENSE", "bin/gradbook.js"]) if (existsSync(join(PACKAGE_ROOT, f))) pkg.push({ rel: f, abs: join(PACKAGE_ROOT, f), mode: f.startsWith("bin/") ? 0o755 : 0o644 });
  const d: typeof pkg = [];
  walk(dist, "dist", d);
  pkg.push(...d.filter((f) => !/^dist\/bench\.js/.test(f.rel)));
  for (const p of runtimePackages()) walk(join(PACKAGE_ROOT, p), p, pkg);
  for (const f of pkg) if (!otherPlatform(f.rel)) entries.push({ name: `gradbook/${f.rel}`, data: readFileSync(f.abs), mode: f.mode });
  return { entries, settings };
}

export function buildAutograder(o: BuildOptions): { bytes: number; files: number; settings: GradescopeSettings } {
  const { entries, settings } = autograderEntries(o);
  const zip = makeZip(entries);
  mkdirSync(dirname(resolve(o.out)), { recursive: true });
  writeFileSync(o.out, zip);
  return { bytes: zip.length, files: entries.length, settings };
}

/** Gradescope's results.json for the one submission, with the instructor's visibility. */
export function applyVisibility(results: Record<string, any>, s: GradescopeSettings): Record<string, any> {
  return {
    ...results,
    visibility: s.visibility,
    stdout_visibility: s.stdoutVisibility,
    tests: (results.tests as any[]).map((t) => ({ ...t, visibility: t.visibility === "after_published" ? s.hiddenTests : s.visibility })),
  };
}

/** `gradescope --run`: grades ROOT/submission into ROOT/results/results.json. */
export async function runAutograder(root = "/autograder"): Promise<number> {
  const src = join(root, "source");
  const settings = JSON.parse(readFileSync(join(src, "gradescope.json"), "utf8")) as GradescopeSettings;
  const submission = join(root, "submission");
  if (!existsSync(submission)) throw new CourseError(`${submission} does not exist: this runs inside Gradescope's autograder (or its emulation)`);
  const work = mkdtempSync(join(tmpdir(), "gradbook-gradescope-"));
  try {
    // the upload, as one student's folder (links are copied as links, and the grader refuses them)
    const subs = join(work, "submissions");
    mkdirSync(subs);
    cpSync(submission, join(subs, "submission"), { recursive: true, dereference: false, verbatimSymlinks: true });
    const s = await grade({
      source: join(src, "assignment"),
      submissions: subs,
      out: join(work, "out"),
      jobs: 1,
      cellTimeoutS: settings.cellTimeoutS,
      notebookTimeoutS: settings.notebookTimeoutS,
      memoryMb: settings.memoryMb,
      sandbox: settings.sandbox !== false,
      progress: null,
    });
    const r = s.results[0];
    if (!r) throw new CourseError("the grader found no submission to grade");
    const results = applyVisibility(gradescopeResults(r), settings);
    mkdirSync(join(root, "results"), { recursive: true });
    writeFileSync(join(root, "results", "results.json"), JSON.stringify(results, null, 1) + "\n");
    console.log(`gradbook: ${basename(settings.notebooks.join(", "))}: ${r.score} / ${r.maxScore} (${r.status}) in ${(r.durationMs / 1000).toFixed(1)} s`);
    for (const m of r.messages) console.log(`  ${m}`);
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `gradescope --check` (setup.sh): the kernel starts and grades the instructor's own notebook. */
export async function checkAutograder(root = "/autograder"): Promise<number> {
  const src = join(root, "source");
  const settings = JSON.parse(readFileSync(join(src, "gradescope.json"), "utf8")) as GradescopeSettings;
  const work = mkdtempSync(join(tmpdir(), "gradbook-gradescope-check-"));
  try {
    const mine = join(work, "submissions", "instructor");
    mkdirSync(mine, { recursive: true });
    for (const nb of readdirSync(join(src, "assignment")).filter((f) => f.endsWith(".ipynb"))) cpSync(join(src, "assignment", nb), join(mine, nb));
    const s = await grade({ source: join(src, "assignment"), submissions: join(work, "submissions"), out: join(work, "out"), jobs: 1, sandbox: settings.sandbox !== false, progress: null }).catch((e: Error) => {
      // the fix on Gradescope is a zip built without it, not a flag of grade's
      if (!/^the sandbox cannot start/.test(e.message)) throw e;
      throw new CourseError(
        `${e.message}. On Gradescope that means: build the autograder again with gradbook gradescope ... --no-sandbox ` +
          "(the submission's code then runs as an unprivileged user under Node's permission model, without the sandbox's namespaces, and every result says so)",
      );
    });
    const r = s.results[0];
    if (!r || r.status !== "graded") throw new CourseError(`the instructor's notebook did not grade: ${r?.messages.join("; ") ?? "no result"}`);
    console.log(`gradbook: the autograder works: the instructor's notebook scores ${r.score} / ${r.maxScore}`);
    return r.score === r.maxScore ? 0 : 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
