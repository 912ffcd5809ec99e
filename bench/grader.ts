/**
 * Grader throughput: grades N submissions (default 100) of the quick fixture
 * notebook (tests/grader/fixtures/perceptron.ipynb) with one sandboxed kernel
 * per submission, as many at once as the machine has cores, checks every
 * score, and prints submissions per minute.
 *
 *   npm run bench -- --grader               (node dist/bench.js --grader)
 *   GRADBOOK_BENCH_SUBMISSIONS=20 ...       (fewer submissions)
 * (Not runnable on its own: bundled into dist/bench.js, a self-run check would fire there.)
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { grade, loadSources } from "../kernel/grader/grade.ts";
import { makeSubmissions } from "../tests/grader/submissions.ts";

export interface GraderBench {
  submissions: number;
  jobs: number;
  seconds: number;
  perMinute: number;
  wrong: string[];
}

export async function benchGrader(n = Number(process.env.GRADBOOK_BENCH_SUBMISSIONS ?? 100), jobs = availableParallelism()): Promise<GraderBench> {
  const source = fileURLToPath(new URL("../tests/grader/fixtures/perceptron.ipynb", import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "gradbook-bench-grader-"));
  try {
    const [s] = loadSources(source);
    const made = makeSubmissions(s.release);
    // the quick kinds only (the infinite loop and process.exit ones are slow by design)
    const kinds = ["correct", "partly_wrong", "empty", "deleted_tests", "tampered", "correct", "not_json", "correct"].map((k) => made[k]);
    mkdirSync(join(dir, "subs"));
    const expected = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const m = kinds[i % kinds.length];
      const id = `s${String(i).padStart(3, "0")}`;
      writeFileSync(join(dir, "subs", `${id}.ipynb`), m.content);
      expected.set(id, m.score);
    }
    const t0 = Date.now();
    const summary = await grade({ source, submissions: join(dir, "subs"), out: join(dir, "out"), jobs, progress: process.stderr.isTTY ? process.stderr : null });
    const seconds = (Date.now() - t0) / 1000;
    const wrong = summary.results.filter((r) => r.score !== expected.get(r.student)).map((r) => `${r.student}: ${r.score} != ${expected.get(r.student)}`);
    if (summary.results.length !== n) wrong.push(`${summary.results.length} results for ${n} submissions`);
    const perMinute = (n / seconds) * 60;
    console.log(`[grader] ${n} submissions of perceptron.ipynb, ${jobs} at once on ${cpus().length} cores (${cpus()[0]?.model ?? "?"}): ${seconds.toFixed(1)} s, ${perMinute.toFixed(1)} submissions/min; scores ${wrong.length ? `WRONG: ${wrong.slice(0, 5).join("; ")}` : "all right"}`);
    return { submissions: n, jobs, seconds, perMinute, wrong };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
