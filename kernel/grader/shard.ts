/**
 * Grading past one machine: `grade --shard I/N` grades the I-th of N shares
 * of the submissions (1-based, as jest's and playwright's --shard), and
 * `gradbook merge` puts the N outputs together into the gradebook one run
 * would have written. Run them as a Kubernetes Indexed Job
 * (--shard $((JOB_COMPLETION_INDEX + 1))/N) or a Slurm array.
 *
 * Every shard discovers the whole submissions folder (so student ids, made
 * unique over the whole class, are the same in each), sorts it, and takes
 * every N-th submission from the I-th on: shares differ by at most one.
 * Each shard's --out gets shard.json: which students it graded, of how many,
 * the gradebook's columns and a key of what decides scores (the grader's
 * version, the instructor's notebooks and files, the options); merge refuses
 * shards that disagree, overlap or miss a student.
 */
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { SubmissionResult } from "./reports.ts";
import { gradebookCsv } from "./reports.ts";
import { OutputDir, readNoFollow } from "./safefs.ts";

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

export interface ShardRecord {
  version: 1;
  shard: string;
  index: number;
  count: number;
  /** Every submission in the class (all shards). */
  total: number;
  /** The students this shard graded. */
  students: string[];
  columns: { name: string; maxScore: number }[];
  /** sha256 over what decides scores: grader version, options, instructor notebooks and files. */
  key: string;
}

export class ShardError extends Error {
  override name = "ShardError";
}

/** "I/N" with 1 <= I <= N. */
export function parseShard(s: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count || count > 100_000)
    throw new ShardError(`--shard must be I/N with 1 <= I <= N (the I-th of N shares, e.g. 1/3), not ${JSON.stringify(s)}; a Kubernetes Indexed Job passes $((JOB_COMPLETION_INDEX + 1))/N`);
  return { index, count };
}

/** This shard's share of the (sorted) submissions. */
export function selectShard<T>(all: T[], shard: Shard | undefined): T[] {
  return shard ? all.filter((_, i) => i % shard.count === shard.index - 1) : all;
}

export const shardKey = (parts: string[]) => createHash("sha256").update(parts.join("\u0000")).digest("hex");

/**
 * Merges shard outputs into `out`: results/, gradescope/ and feedback/ of
 * each shard's students, and gradebook.csv over the whole class, as one run
 * writes it.
 */
export function mergeShards(dirs: string[], out: string): { students: number; shards: number; csv: string } {
  if (!dirs.length) throw new ShardError("give the shards' output folders");
  const records = dirs.map((d) => {
    let r: ShardRecord;
    try {
      r = JSON.parse(readNoFollow(join(d, "shard.json"), 64 << 20).toString("utf8"));
    } catch (e) {
      throw new ShardError(`${join(d, "shard.json")} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): is ${d} the --out of a grade --shard run?`);
    }
    if (r.version !== 1 || !Array.isArray(r.students)) throw new ShardError(`${join(d, "shard.json")} is not a shard record of this grader`);
    return { dir: d, r };
  });
  const first = records[0].r;
  const seen = new Map<number, string>();
  for (const { dir, r } of records) {
    if (r.count !== first.count) throw new ShardError(`${dir} is shard ${r.shard} but ${records[0].dir} is ${first.shard}: all shards must split the class into the same number of shares`);
    if (r.key !== first.key) throw new ShardError(`${dir} was graded with other notebooks, files, options or grader version than ${records[0].dir}: grade every shard with the same command`);
    if (r.total !== first.total) throw new ShardError(`${dir} saw ${r.total} submissions but ${records[0].dir} saw ${first.total}: the submissions folder changed between shards`);
    if (seen.has(r.index)) throw new ShardError(`shard ${r.shard} is given twice (${seen.get(r.index)} and ${dir})`);
    seen.set(r.index, dir);
  }
  const missing = Array.from({ length: first.count }, (_, i) => i + 1).filter((i) => !seen.has(i));
  if (missing.length) throw new ShardError(`shard${missing.length > 1 ? "s" : ""} ${missing.map((i) => `${i}/${first.count}`).join(", ")} missing: give all ${first.count} shards' output folders`);
  const dest = new OutputDir(out);
  const results: SubmissionResult[] = [];
  const students = new Set<string>();
  for (const { dir, r } of records) {
    const src = new OutputDir(dir);
    for (const s of r.students) {
      if (students.has(s)) throw new ShardError(`${s} was graded by two shards`);
      students.add(s);
      const text = src.read(["results", `${s}.json`]);
      if (text === null) throw new ShardError(`${dir} has no result for ${s}: shard ${r.shard} did not finish (run it again to resume)`);
      const result = JSON.parse(text) as SubmissionResult;
      results.push(result);
      dest.write(["results", `${s}.json`], text);
      for (const sub of ["gradescope", "feedback"]) {
        let names: string[] = [];
        try {
          names = readdirSync(src.path(sub, s));
        } catch {}
        for (const n of names) if (!n.startsWith(".")) dest.write([sub, s, n], readNoFollow(src.path(sub, s, n), 256 << 20));
      }
    }
  }
  if (results.length !== first.total) throw new ShardError(`the shards graded ${results.length} submissions of ${first.total}`);
  const csv = dest.write(["gradebook.csv"], gradebookCsv(results, first.columns));
  return { students: results.length, shards: records.length, csv };
}
