// The course's graded exercises on the lecture topics that the notebooks gained last (the decks'
// matrix calculus, softmax, activations, pooling, filters, convolution vs fully connected, top-k
// error, normalisation, initialisation, the design challenge), graded by the real grader
// (kernel/grader: release, then grade in fresh sandboxed kernels), each one for a correct, a wrong
// and an empty (as released) answer. The exercises are taken from the committed instructor
// notebooks and put into one assignment (their cells need nothing else from their notebooks),
// answered by three students in rotation, so that each exercise meets each kind of answer once
// and the whole check costs three kernels.
import { afterAll, beforeAll, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { grade, loadSources } from "../../kernel/grader/grade.ts";
import { cloneNotebook, gradeId, parseNotebook, serializeNotebook, type Cell, type Notebook } from "../../kernel/grader/notebook.ts";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

interface Exercise {
  notebook: string;
  /** The answer cell's grade id; its test cell is `test_<id>`. */
  id: string;
  /** A wrong answer a student could hand in (the whole cell). */
  wrong: string;
  /** Part of the grader's message for the wrong answer. */
  fails: string;
}

// Most wrong answers are the classic mistake and pass the visible tests: the hidden ones catch them.
const EXERCISES: Exercise[] = [
  {
    notebook: "01-perceptron",
    id: "activation_derivative",
    // tanh' written as 1 − g instead of 1 − g²: right at 0, where the visible test looks
    wrong: `function activationDerivative(name: "sigmoid" | "tanh" | "relu" | "leakyRelu" | "elu", z: number): number {
  const g = name === "sigmoid" ? 1 / (1 + Math.exp(-z)) : Math.tanh(z);
  if (name === "sigmoid") return g * (1 - g);
  if (name === "tanh") return 1 - g;
  if (name === "relu") return z > 0 ? 1 : 0;
  if (name === "leakyRelu") return z > 0 ? 1 : 0.1;
  return z > 0 ? 1 : Math.exp(z);
}`,
    fails: "tanh'",
  },
  {
    notebook: "02-xor",
    id: "design_band",
    // the XOR design of section 2.7 (OR, NAND, AND): a band, but the wrong one
    wrong: `const band = {
  h1: { w: [1, 1], b: -0.5 },
  h2: { w: [-1, -1], b: 1.5 },
  y: { w: [1, 1], b: -1.5 },
};`,
    fails: "inside the band",
  },
  {
    notebook: "03-backprop",
    id: "gd_step",
    // the sum of the squared errors' gradient instead of the mean's: right for one sample
    wrong: `function gdStep(theta: number[], xs: number[][], ys: number[], lr: number): number[] {
  const grad = theta.map(() => 0);
  xs.forEach((x, i) => {
    const residual = ys[i] - x.reduce((s, xk, k) => s + xk * theta[k], 0);
    x.forEach((xk, k) => (grad[k] += -2 * residual * xk));
  });
  return theta.map((t, k) => t - lr * grad[k]);
}`,
    fails: "assertClose",
  },
  {
    notebook: "03-backprop",
    id: "jacobian_shapes",
    // a vector by a matrix taken for a matrix
    wrong: `function jacobianShapes(N: number, M: number) {
  return { dydx: [N, M], dydW: [N, M], dLdW: [N, M], dLdx: [M] };
}`,
    fails: "dy/dW for N=2, M=3",
  },
  {
    notebook: "03-backprop",
    id: "branch_backprop",
    // only the path through z2
    wrong: `function branchBackprop(w: number, x: number): { dJdz1: number; dJdw: number } {
  const z1 = w * x, z2 = Math.tanh(z1), z3 = z1 ** 3;
  const dJdz1 = z3 * (1 - z2 * z2);
  return { dJdz1, dJdw: dJdz1 * x };
}`,
    fails: "w = 0.5, x = 2",
  },
  {
    notebook: "03-backprop",
    id: "softmax_ce",
    // -log of the probability: fine until p_y underflows to 0
    wrong: `function softmax(s: number[]): number[] {
  const m = Math.max(...s);
  const e = s.map((v) => Math.exp(v - m));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}
function crossEntropy(scores: number[][], labels: number[]): number {
  return scores.reduce((sum, s, i) => sum - Math.log(softmax(s)[labels[i]]), 0) / scores.length;
}`,
    fails: "got Infinity",
  },
  {
    notebook: "04-convolution-arithmetic",
    id: "max_pool",
    // keeps the windows that run over the edge (ceil mode), which gb.nn.F.maxPool2d drops
    wrong: `function maxPool2dByHand(X: number[][], k: number, stride = k): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < X.length - k + stride; i += stride) {
    const row: number[] = [];
    for (let j = 0; j < X[0].length - k + stride; j += stride) {
      let m = -Infinity;
      for (let a = 0; a < k && i + a < X.length; a++) for (let b = 0; b < k && j + b < X[0].length; b++) m = Math.max(m, X[i + a][j + b]);
      row.push(m);
    }
    out.push(row);
  }
  return out;
}`,
    fails: "the last row and column are dropped",
  },
  {
    notebook: "04-convolution-arithmetic",
    id: "kernel_match",
    // Sobel x and Sobel y swapped
    wrong: `const kernelMatch: Record<"A" | "B" | "C" | "D", string> = { A: "sobelX", B: "blur", C: "laplacian", D: "sobelY" };`,
    fails: "image A is not made by sobelX",
  },
  {
    notebook: "05-lenet5",
    id: "fc_vs_conv",
    // the fully connected layer's biases forgotten
    wrong: `function fcParamsFor(inShape: number[], outShape: number[]): number {
  return inShape.reduce((a, b) => a * b, 1) * outShape.reduce((a, b) => a * b, 1);
}
function sharingFactor(inShape: number[], outShape: number[], k: number): number {
  return fcParamsFor(inShape, outShape) / (outShape[0] * (inShape[0] * k * k + 1));
}`,
    fails: "expected 3692640",
  },
  {
    notebook: "06-alexnet",
    id: "top_k_error",
    // the top-k accuracy instead of the error
    wrong: `function topKErrorByHand(scores: number[][], labels: number[], k: number): number {
  return scores.filter((row, i) => row.filter((v) => v > row[labels[i]]).length < k).length / scores.length;
}`,
    fails: "assertClose",
  },
  {
    notebook: "07-training-diagnosis",
    id: "standardize",
    // each set standardised with its own statistics
    wrong: `function standardize(train: number[][], test: number[][]) {
  const stats = (rows: number[][]) => {
    const mean = rows[0].map((_, j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
    const std = rows[0].map((_, j) => Math.sqrt(rows.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / rows.length));
    return { mean, std };
  };
  const apply = (rows: number[][]) => {
    const { mean, std } = stats(rows);
    return rows.map((r) => r.map((v, j) => (v - mean[j]) / (std[j] || 1)));
  };
  return { train: apply(train), test: apply(test), ...stats(train) };
}`,
    fails: "the test set uses the training statistics",
  },
  {
    notebook: "07-training-diagnosis",
    id: "init_std",
    // Xavier's scale for ReLU layers too
    wrong: `function initStd(nIn: number, activation: "tanh" | "relu"): number {
  return 1 / Math.sqrt(nIn);
}`,
    fails: "assertClose",
  },
];

type Verdict = "correct" | "wrong" | "empty";
const VERDICTS: Verdict[] = ["correct", "wrong", "empty"];
const STUDENTS = ["student_a", "student_b", "student_c"];
/** Student k's kind of answer to exercise i. */
const verdictOf = (k: number, i: number): Verdict => VERDICTS[(i + k) % 3];

let dir: string;
let assignment: Notebook;
let points: Map<string, number>;

const byId = (nb: Notebook, id: string): Cell => {
  const c = nb.cells.find((x) => gradeId(x) === id);
  if (!c) throw new Error(`no cell with grade id ${id}`);
  return c;
};

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "kernel.js")) || !existsSync(join(ROOT, "dist", "gradbook.js"))) spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "gradbook-course-exercises-"));
  const course = new Map<string, Notebook>();
  const load = (name: string) => course.get(name) ?? course.set(name, parseNotebook(readFileSync(join(ROOT, "notebooks", `${name}.ipynb`), "utf8"), name)).get(name)!;
  const cells: Cell[] = [{ cell_type: "markdown", source: "# The course's exercises on the lectures' added topics", metadata: {} }];
  for (const e of EXERCISES) cells.push(structuredClone(byId(load(e.notebook), e.id)), structuredClone(byId(load(e.notebook), `test_${e.id}`)));
  assignment = { ...load(EXERCISES[0].notebook), cells };
  points = new Map(EXERCISES.map((e) => [`test_${e.id}`, byId(assignment, `test_${e.id}`).metadata.nbgrader!.points!]));
  mkdirSync(join(dir, "source"));
  mkdirSync(join(dir, "subs"));
  writeFileSync(join(dir, "source", "exercises.ipynb"), serializeNotebook(assignment));

  const [{ release }] = loadSources(join(dir, "source", "exercises.ipynb"));
  STUDENTS.forEach((student, k) => {
    const nb = cloneNotebook(release);
    EXERCISES.forEach((e, i) => {
      const answer = byId(nb, e.id);
      const verdict = verdictOf(k, i);
      // the released cell holds the stub (`throw new Error("not implemented")`): the empty answer
      if (verdict === "correct") answer.source = byId(assignment, e.id).source.split("\n").filter((l) => !/^\s*\/\/ (BEGIN|END) SOLUTION\s*$/.test(l)).join("\n");
      if (verdict === "wrong") answer.source = e.wrong;
    });
    writeFileSync(join(dir, "subs", `${student}.ipynb`), serializeNotebook(nb));
  });
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the released exercises keep no solution and no hidden test, and stop at the stub", () => {
  const [{ release }] = loadSources(join(dir, "source", "exercises.ipynb"));
  for (const e of EXERCISES) {
    expect(byId(release, e.id).source, e.id).toMatch(/throw new Error\("not implemented"\);/);
    expect(byId(release, e.id).source).not.toContain("BEGIN SOLUTION");
    expect(byId(release, `test_${e.id}`).source).not.toContain("HIDDEN TESTS");
    expect(byId(assignment, `test_${e.id}`).source, `${e.id} has hidden tests`).toContain("BEGIN HIDDEN TESTS");
  }
});

test("each exercise is graded right for a correct, a wrong and an empty answer", async () => {
  const summary = await grade({ files: false, source: join(dir, "source", "exercises.ipynb"), submissions: join(dir, "subs"), out: join(dir, "out"), jobs: 2, cellTimeoutS: 60, notebookTimeoutS: 600, memoryMb: 2048, progress: null });
  expect(summary.results.map((r) => r.student).sort()).toEqual(STUDENTS);
  const total = [...points.values()].reduce((a, b) => a + b, 0);
  for (const r of summary.results) {
    const k = STUDENTS.indexOf(r.student);
    expect([r.student, r.status, r.maxScore, r.messages]).toEqual([r.student, "graded", total, []]);
    EXERCISES.forEach((e, i) => {
      const t = r.tests.find((x) => x.gradeId === `test_${e.id}`)!;
      const verdict = verdictOf(k, i);
      const what = `${e.notebook} ${e.id}, ${verdict} answer (${r.student}): ${t.output}`;
      if (verdict === "correct") expect([what, t.score, t.output]).toEqual([what, points.get(t.gradeId), "Passed."]);
      else expect([what, t.score]).toEqual([what, 0]);
      if (verdict === "wrong") {
        expect(t.output, what).toContain(e.fails);
        expect(t.output, what).not.toContain("not implemented");
      }
      if (verdict === "empty") expect(t.output, what).toMatch(/not implemented|assert/i);
    });
  }
}, 900_000);
