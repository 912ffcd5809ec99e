// Grading past one machine: 30 submissions graded in 3 shards (grade --shard I/3, three processes at once, as a
// Kubernetes Indexed Job or a Slurm array runs them) and put together with gradbook merge give exactly the
// gradebook, results and Gradescope files of one run over the whole class.
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSources, NO_SANDBOX_NOTE } from "../../kernel/grader/grade.ts";
import { serializeNotebook } from "../../kernel/grader/notebook.ts";
import { parseShard, selectShard } from "../../kernel/grader/shard.ts";
import { answer, NOTEBOOK, SCORES, writeSource } from "./fixtures.ts";
import { ensureBuilt, ROOT } from "../kernel/helpers.ts";

// 40 notebooks graded in all (CI's 2 cores: about 2 minutes; a machine shared with other work: much longer)
vi.setConfig({ testTimeout: 1_500_000, hookTimeout: 120_000 });

let dir: string;
const expected = new Map<string, number>();
const cli = (args: string[]) => spawnSync(process.execPath, [join(ROOT, "dist", "cli.js"), ...args], { encoding: "utf8" });
const cliAsync = (args: string[]) =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, "dist", "cli.js"), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("close", (code) => resolve({ code, out }));
  });

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "gradbook-shard-"));
  writeSource(join(dir, "source"));
  const release = loadSources(join(dir, "source"))[0].release;
  // 30 students: right, wrong, untouched, and some whose file is not a notebook; in folders (nbgrader's layout)
  const kinds = ["correct", "wrong_mean", "broken", "untouched", "correct", "broken"] as const;
  for (let i = 0; i < 30; i++) {
    const kind = kinds[i % kinds.length];
    const student = `student${String(i + 1).padStart(2, "0")}`;
    mkdirSync(join(dir, "subs", student), { recursive: true });
    writeFileSync(join(dir, "subs", student, NOTEBOOK), kind === "broken" ? "not a notebook" : serializeNotebook(answer(release, kind)));
    expected.set(student, kind === "broken" ? 0 : SCORES[kind]);
  }
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("--shard I/N: every N-th submission from the I-th; the shares cover the class once", () => {
  expect(parseShard("2/3")).toEqual({ index: 2, count: 3 });
  for (const bad of ["0/3", "4/3", "3", "1/0", "a/b"]) expect(() => parseShard(bad), bad).toThrow(/--shard must be I\/N with 1 <= I <= N/);
  const all = Array.from({ length: 31 }, (_, i) => i);
  const shares = [1, 2, 3].map((i) => selectShard(all, { index: i, count: 3 }));
  expect(shares.map((s) => s.length)).toEqual([11, 10, 10]);
  expect(shares.flat().sort((a, b) => a - b)).toEqual(all);
});

test("3 shards merged give exactly the single run's gradebook", async () => {
  const common = ["--source", join(dir, "source"), "--submissions", join(dir, "subs"), "--quiet"];
  const one = cli(["grade", ...common, "--out", join(dir, "single"), "--jobs", "2"]);
  expect(one.status, one.stdout + one.stderr).toBe(0);
  const shards = await Promise.all([1, 2, 3].map((i) => cliAsync(["grade", ...common, "--out", join(dir, `shard${i}`), "--jobs", "1", "--shard", `${i}/3`])));
  for (const s of shards) expect(s.code, s.out).toBe(0);
  expect(shards[0].out).toContain("shard 1/3: put the 3 shards' --out folders together with gradbook merge");

  // incomplete or doubled shards are refused before anything is written
  const missing = cli(["merge", join(dir, "shard1"), join(dir, "shard3"), "--out", join(dir, "bad")]);
  expect(missing.status).toBe(1);
  expect(missing.stderr).toContain("shard 2/3 missing: give all 3 shards' output folders");
  const twice = cli(["merge", join(dir, "shard1"), join(dir, "shard1"), join(dir, "shard2"), "--out", join(dir, "bad")]);
  expect(twice.stderr).toContain("shard 1/3 is given twice");

  const merged = cli(["merge", join(dir, "shard3"), join(dir, "shard1"), join(dir, "shard2"), "--out", join(dir, "merged")]);
  expect(merged.status, merged.stderr).toBe(0);
  expect(merged.stdout).toContain("merged 3 shards: 30 submissions");

  const single = readFileSync(join(dir, "single", "gradebook.csv"), "utf8");
  expect(readFileSync(join(dir, "merged", "gradebook.csv"), "utf8")).toBe(single);
  // and the scores are the ones the answers deserve
  const rows = single.trim().split("\r\n").slice(1).map((l) => l.split(","));
  expect(rows).toHaveLength(30);
  for (const r of rows) expect(Number(r[1]), r[0]).toBe(expected.get(r[0]));
  // every student's result and Gradescope file, with the same scores
  expect(readdirSync(join(dir, "merged", "results")).sort()).toEqual(readdirSync(join(dir, "single", "results")).sort());
  for (const s of expected.keys()) {
    const a = JSON.parse(readFileSync(join(dir, "single", "results", `${s}.json`), "utf8"));
    const b = JSON.parse(readFileSync(join(dir, "merged", "results", `${s}.json`), "utf8"));
    expect(b.tests.map((t: any) => t.score), s).toEqual(a.tests.map((t: any) => t.score));
    expect(b.inputHash, s).toBe(a.inputHash);
    expect(b.messages, s).not.toContain(NO_SANDBOX_NOTE); // each shard graded in the grader's sandbox
    const ga = JSON.parse(readFileSync(join(dir, "single", "gradescope", s, "results.json"), "utf8"));
    const gb = JSON.parse(readFileSync(join(dir, "merged", "gradescope", s, "results.json"), "utf8"));
    expect({ ...gb, execution_time: 0 }, s).toEqual({ ...ga, execution_time: 0 });
  }
});
