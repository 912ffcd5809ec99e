/**
 * The grader: `gradbook release`, `gradbook validate`, `gradbook grade`
 * (command table entries for kernel/cli.ts) and the library functions behind
 * them.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, join, resolve } from "node:path";
import { collectFiles, copyFileSets, DEFAULT_MAX_FILES_BYTES, formatBytes, listNames, mergeFileSets } from "./files.ts";
import { grade, GradeInterrupted, loadSources, NO_SANDBOX_NOTE, type SourceNotebook } from "./grade.ts";
import { serializeNotebook } from "./notebook.ts";
import { formatValidation, validateNotebook } from "./validate.ts";
import { parseShard } from "./shard.ts";

export { grade, loadSources, discoverSubmissions, GRADER_VERSION, type GradeOptions, type GradeSummary } from "./grade.ts";
export { releaseNotebook, prepareSource, stubSolution, removeHiddenTests } from "./release.ts";
export { restoreSubmission } from "./restore.ts";
export { executeNotebook } from "./execute.ts";
export { validateNotebook, formatValidation } from "./validate.ts";
export { parseNotebook, serializeNotebook, computeChecksum } from "./notebook.ts";
export { CHECKS_GRADE_ID } from "./checks.ts";
export { collectFiles, copyFileSets, changedFiles, FilesError, DEFAULT_MAX_FILES_BYTES, type FileSet } from "./files.ts";

interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number> | number;
}

/** A command-line mistake: printed with the command's usage (exit 2). */
export class Usage extends Error {}

/** Parses `--name value`, `--name=value` and flags; the rest are positional. */
/** Options: `valued` take a value (`values` keeps the last one given, `lists` all of them, for repeatable ones such as `--exclude`), `flags` none. */
function parseArgs(args: string[], valued: string[], flags: string[]) {
  const values: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  const set = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) {
      positional.push(a);
      continue;
    }
    const [name, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    if (valued.includes(name)) {
      const v = inline ?? args[++i];
      if (v === undefined || v === "") throw new Usage(`${name} needs a value`);
      values[name] = v;
      (lists[name] ??= []).push(v);
    } else if (flags.includes(name) && inline === undefined) set.add(name);
    else throw new Usage(`unknown option ${name}`);
  }
  return { values, lists, flags: set, positional };
}

function num(values: Record<string, string>, name: string): number | undefined {
  if (values[name] === undefined) return undefined;
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n <= 0) throw new Usage(`${name} must be a positive number, not ${JSON.stringify(values[name])}`);
  return n;
}

export function wrap(usage: string, f: (args: string[]) => Promise<number> | number) {
  return async (args: string[]) => {
    try {
      return await f(args);
    } catch (e) {
      if (e instanceof Usage) {
        console.error(`${e.message}\nusage: ${usage}`);
        return 2;
      }
      throw e;
    }
  };
}

const RELEASE_USAGE = "gradbook release SOURCE.ipynb|DIR... --out DIR [--no-files] [--exclude PATTERN]... [--max-files-mb MB]";
const VALIDATE_USAGE = "gradbook validate NOTEBOOK.ipynb [--cell-timeout S] [--timeout S]";
const GRADE_USAGE =
  "gradbook grade --source DIR|FILE --submissions DIR --out DIR [--jobs N] [--cell-timeout S] [--timeout S] [--memory MB] [--reveal-hidden-tests] [--force] [--no-sandbox] [--no-files] [--no-student-files] [--exclude PATTERN]... [--max-files-mb MB] [--shard I/N] [--quiet]";

const filesLimit = (values: Record<string, string>) => {
  const mb = num(values, "--max-files-mb");
  return mb === undefined ? DEFAULT_MAX_FILES_BYTES : Math.floor(mb * (1 << 20));
};

export const graderCommands: Record<string, Command> = {
  release: {
    summary: "make the student version of instructor notebooks (solutions stubbed, hidden tests removed, cells locked)",
    usage: RELEASE_USAGE,
    run: wrap(RELEASE_USAGE, (args) => {
      const { values, lists, flags, positional } = parseArgs(args, ["--out", "--max-files-mb", "--exclude"], ["--no-files"]);
      const ignore = lists["--exclude"] ?? [];
      if (!positional.length) throw new Usage("no notebooks given");
      if (!values["--out"]) throw new Usage("--out DIR is required");
      const out = values["--out"];
      const maxBytes = filesLimit(values);
      // Everything is read and checked before anything is written.
      const sources: SourceNotebook[] = [];
      const names = new Set<string>();
      for (const file of positional)
        for (const s of loadSources(file)) {
          if (names.has(s.name)) throw new Error(`two notebooks are named ${s.name}`);
          if (resolve(out, basename(s.name)) === join(s.dir, s.name)) throw new Error(`--out ${out} is the folder of ${s.name}: the release would overwrite the instructor's notebook`);
          names.add(s.name);
          sources.push(s);
        }
      const dirs = [...new Set(sources.map((s) => s.dir))].filter((d) => d !== resolve(out));
      const files = flags.has("--no-files") || !dirs.length
        ? null
        : mergeFileSets(dirs.map((d) => collectFiles(d, { maxBytes, exclude: [out], ignore, limitHint: "leave large files out of the folder (or out of the release with --exclude), raise the limit with --max-files-mb, or release the notebooks alone with --no-files" })), maxBytes);
      mkdirSync(out, { recursive: true });
      for (const s of sources) {
        writeFileSync(join(out, basename(s.name)), serializeNotebook(s.release));
        const tests = s.release.cells.filter((c) => c.metadata.nbgrader?.grade && !c.metadata.nbgrader?.solution).length;
        console.log(`${s.name}: released to ${join(out, s.name)} (${tests} test cells)`);
      }
      if (files) {
        copyFileSets([files], out);
        const from = dirs.join(", ");
        console.log(
          files.files.length
            ? `files: copied ${files.files.length} file${files.files.length > 1 ? "s" : ""} (${formatBytes(files.bytes)}) from ${from}: ${listNames(files.files.map((f) => f.rel))}`
            : `files: no other files beside the notebooks in ${from}`,
        );
        if (files.skipped.length) console.log(`files: not copied: ${listNames(files.skipped)}`);
      }
      return 0;
    }),
  },
  validate: {
    summary: "run a notebook and show which of its visible tests pass",
    usage: VALIDATE_USAGE,
    run: wrap(VALIDATE_USAGE, async (args) => {
      const { values, positional } = parseArgs(args, ["--cell-timeout", "--timeout", "--memory"], []);
      if (positional.length !== 1) throw new Usage("give one notebook");
      const v = await validateNotebook(positional[0], { cellTimeoutS: num(values, "--cell-timeout"), notebookTimeoutS: num(values, "--timeout"), memoryMb: num(values, "--memory") });
      console.log(formatValidation(v, basename(positional[0])));
      return v.passed ? 0 : 1;
    }),
  },
  grade: {
    summary: "grade a class's submissions: feedback, gradebook.csv and Gradescope results.json",
    usage: GRADE_USAGE,
    run: wrap(GRADE_USAGE, async (args) => {
      const { values, lists, flags, positional } = parseArgs(
        args,
        ["--source", "--submissions", "--out", "--jobs", "--cell-timeout", "--timeout", "--memory", "--max-files-mb", "--exclude", "--shard"],
        ["--reveal-hidden-tests", "--force", "--no-sandbox", "--no-files", "--no-student-files", "--quiet"],
      );
      if (positional.length) throw new Usage(`unexpected argument ${positional[0]}`);
      for (const k of ["--source", "--submissions", "--out"]) if (!values[k]) throw new Usage(`${k} is required`);
      const shard = values["--shard"] === undefined ? undefined : parseShard(values["--shard"]);
      const ac = new AbortController();
      const onSig = () => {
        if (ac.signal.aborted) process.exit(130);
        console.error("\ninterrupted: stopping the kernels (finished results are kept; run the same command again to resume)");
        ac.abort();
      };
      process.on("SIGINT", onSig);
      process.on("SIGTERM", onSig);
      if (flags.has("--no-sandbox")) console.error(`warning: ${NO_SANDBOX_NOTE}`);
      try {
        const s = await grade({
          source: values["--source"],
          submissions: values["--submissions"],
          out: values["--out"],
          jobs: num(values, "--jobs") ?? availableParallelism(),
          cellTimeoutS: num(values, "--cell-timeout"),
          notebookTimeoutS: num(values, "--timeout"),
          memoryMb: num(values, "--memory"),
          revealHidden: flags.has("--reveal-hidden-tests"),
          force: flags.has("--force"),
          sandbox: !flags.has("--no-sandbox"),
          files: !flags.has("--no-files"),
          studentFiles: !flags.has("--no-student-files"),
          maxFilesBytes: filesLimit(values),
          ignoreFiles: lists["--exclude"] ?? [],
          progress: flags.has("--quiet") ? null : process.stderr,
          signal: ac.signal,
          shard,
        });
        const perMin = s.graded && s.elapsedMs ? (s.graded / (s.elapsedMs / 60000)).toFixed(1) : "-";
        const bad = s.results.filter((r) => r.status !== "graded").length;
        console.log(`graded ${s.graded} submission${s.graded === 1 ? "" : "s"} (${s.resumed} from an earlier run${bad ? `, ${bad} not gradable` : ""}) with ${s.jobs} job${s.jobs === 1 ? "" : "s"} in ${(s.elapsedMs / 1000).toFixed(1)} s: ${perMin} submissions/min`);
        console.log(
          s.files
            ? `files: ${s.files.count ? `${s.files.count} file${s.files.count > 1 ? "s" : ""} (${formatBytes(s.files.bytes)}) from ${s.files.root}` : `none beside the notebooks in ${s.files.root}`} in each notebook's working folder` +
                (flags.has("--no-student-files") ? "" : ", over the student's own files from beside their notebook") +
                (s.files.skipped.length ? `; not copied: ${listNames(s.files.skipped)}` : "")
            : "files: none (--no-files): each notebook ran in an empty working folder",
        );
        console.log(`gradebook: ${s.csv}`);
        if (shard) console.log(`shard ${shard.index}/${shard.count}: put the ${shard.count} shards' --out folders together with gradbook merge`);
        return 0;
      } catch (e) {
        if (e instanceof GradeInterrupted) {
          console.error(e.message);
          return 130;
        }
        throw e;
      } finally {
        process.off("SIGINT", onSig);
        process.off("SIGTERM", onSig);
      }
    }),
  },
};
