// Executes the seven course notebooks with the gradbook kernel through nbclient, the Jupyter
// client of `jupyter nbconvert --execute` (run_notebooks.py: one Python process, two notebooks at a
// time; quick settings, CPU), and checks that no cell fails, that the cells type-check, and that
// the lecture's numbers appear in the outputs, each checked against a value worked out here,
// independently of the notebook. The executed notebooks are kept in tests/output/notebooks/ for
// inspection.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { makeJupyterEnv, ROOT, stripAnsi, type JupyterEnv } from "../kernel/helpers.ts";
import { withParameters } from "./parameters.ts";

const NOTEBOOKS = ["01-perceptron", "02-xor", "03-backprop", "04-convolution-arithmetic", "05-lenet5", "06-alexnet", "07-training-diagnosis"];
const PARALLEL = 2;
const OUT = join(ROOT, "tests", "output", "notebooks");

interface Executed {
  name: string;
  seconds: number;
  /** Why the run itself failed (a kernel that died, a timeout), or null. */
  failure: string | null;
  nb: any | null;
  /** All stdout text, cell by cell, joined. */
  stdout: string;
  stderr: string;
  errors: string[];
}

const src = (s: string | string[]) => (Array.isArray(s) ? s.join("") : s);

let env: JupyterEnv;
const results = new Map<string, Promise<Executed>>();

/** Reads an executed notebook's outputs. */
function collect(name: string, seconds: number, failure: string | null): Executed {
  let out: any = null;
  try {
    out = JSON.parse(readFileSync(join(OUT, `${name}.ipynb`), "utf8"));
  } catch {}
  const stdout: string[] = [], stderr: string[] = [], errors: string[] = [];
  for (const c of out?.cells ?? []) {
    for (const o of c.outputs ?? []) {
      if (o.output_type === "stream") (o.name === "stdout" ? stdout : stderr).push(src(o.text));
      if (o.output_type === "error") errors.push(`cell ${c.id}: ${o.ename}: ${stripAnsi(o.evalue)}\n${stripAnsi((o.traceback ?? []).join("\n")).slice(0, 2000)}`);
      if (o.output_type === "execute_result" || o.output_type === "display_data") {
        const t = o.data?.["text/plain"];
        if (t) stdout.push(src(t) + "\n");
      }
    }
  }
  return { name, seconds, failure, nb: out, stdout: stripAnsi(stdout.join("")), stderr: stripAnsi(stderr.join("")), errors };
}

beforeAll(() => {
  env = makeJupyterEnv();
  mkdirSync(OUT, { recursive: true });
  const dir = join(env.dir, "notebooks");
  const inputs = NOTEBOOKS.map((name) => {
    const input = join(dir, `${name}.ipynb`);
    const nb = withParameters(JSON.parse(readFileSync(join(ROOT, "notebooks", `${name}.ipynb`), "utf8")), { quick: true });
    // a last %%strict cell waits for its own type check, and so for every earlier cell's: on a
    // loaded machine the checker can still be cold when the notebook's last cell ends, and
    // without it the "no type errors" check below would have seen none of the checks
    nb.cells.push({ cell_type: "code", id: "all-checked", metadata: {}, execution_count: null, outputs: [], source: "%%strict\n0" });
    writeFileSync(input, JSON.stringify(nb));
    return input;
  });
  const resolvers = new Map<string, (e: Executed) => void>();
  for (const n of NOTEBOOKS) results.set(n, new Promise((res) => resolvers.set(n, res)));
  const runner = spawn("/usr/bin/python3", [join(ROOT, "tests", "notebooks", "run_notebooks.py"), OUT, String(PARALLEL), "600", ...inputs], { env: env.env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  runner.stderr.on("data", (d) => (log = (log + d).slice(-20_000)));
  createInterface({ input: runner.stdout }).on("line", (line) => {
    let r: { name: string; seconds: number; error: string | null };
    try {
      r = JSON.parse(line);
    } catch {
      log += line + "\n";
      return;
    }
    const name = r.name.replace(/\.ipynb$/, "");
    resolvers.get(name)?.(collect(name, r.seconds, r.error));
    resolvers.delete(name);
  });
  const timer = setTimeout(() => runner.kill("SIGKILL"), 1_800_000);
  runner.on("close", (code) => {
    clearTimeout(timer);
    // whatever did not report: the runner failed before it
    for (const [name, resolve] of resolvers) resolve({ ...collect(name, 0, `run_notebooks.py exited with ${code} before this notebook finished:\n${log.slice(-3000)}`) });
  });
});

afterAll(async () => {
  const done = await Promise.all([...results.values()]);
  console.log(done.map((r) => `${r.name}: ${r.seconds.toFixed(1)} s`).join("\n"));
  env?.cleanup();
});

const TIMEOUT = 1_200_000;

/** Runs the notebook (shared), checks it ran clean, returns its text outputs. */
async function ran(name: string): Promise<Executed> {
  const r = await results.get(name)!;
  expect(r.failure, `the run of ${name}`).toBeNull();
  expect(r.nb, `no executed notebook ${name}`).not.toBeNull();
  expect(r.errors, `cells in error in ${name}`).toEqual([]);
  // type errors are reported on stderr (not fatal in the kernel): the notebooks have none
  expect(r.stderr, `stderr of ${name}`).not.toMatch(/error TS\d+/);
  return r;
}

// Independent values: worked out here in float64, not read from the notebooks.
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const fixed = (v: number, d: number) => +v.toFixed(d);
/** The number after `label` in `text` (e.g. "max |error| = "). */
function numberAfter(text: string, label: string): number {
  const at = text.indexOf(label);
  expect(at, `"${label}" in the output`).toBeGreaterThanOrEqual(0);
  return Number(/^-?[\d.]+(e[+-]?\d+)?/.exec(text.slice(at + label.length))?.[0]);
}
/** The output line that starts with `prefix`. */
function lineStarting(text: string, prefix: string): string {
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  expect(line, `a line starting with "${prefix}"`).toBeTruthy();
  return line!;
}

describe("course notebooks (quick settings, nbconvert --execute)", () => {
  test("01-perceptron: g(-6), Rosenblatt converges on blobs, never on XOR", async () => {
    const { stdout } = await ran("01-perceptron");
    expect(stdout).toContain("z = -6");
    expect(stdout).toContain("g(-6) = 0.0025");
    expect(stdout).toMatch(/converged: true after \d+ epochs/);
    expect(stdout).toContain("training accuracy: 100.0%");
    expect(stdout).toContain("XOR: converged: false");
    expect(stdout).toMatch(/best of \d+ random lines: 3 of 4 XOR points correct/);
  }, TIMEOUT);

  test("01-perceptron: the activation family's derivatives by hand and by autograd, maxout, dying ReLU", async () => {
    const { stdout } = await ran("01-perceptron");
    const zd = [-2, -0.5, 0.5, 2];
    const derivatives: Record<string, (z: number) => number> = {
      sigmoid: (z) => sigmoid(z) * (1 - sigmoid(z)),
      tanh: (z) => 1 / Math.cosh(z) ** 2,
      relu: (z) => (z > 0 ? 1 : 0),
      leakyRelu: (z) => (z > 0 ? 1 : 0.1),
      elu: (z) => (z > 0 ? 1 : Math.exp(z)),
    };
    for (const [name, d] of Object.entries(derivatives)) {
      const want = JSON.stringify(zd.map((z) => fixed(d(z), 4)));
      expect(stdout).toContain(`${name.padEnd(9)} g'(z) by hand ${want}, autograd ${want}`);
    }
    expect(stdout).toMatch(/derivatives by hand match autograd: true/);
    expect(stdout).toContain(`0.25^10 = ${(0.25 ** 10).toExponential(2)}`);
    expect(stdout).toContain("maxout(z, 0) = ReLU: true; maxout(z, 0.1z) = leaky ReLU: true");
    const dying = (label: string) => {
      const m = new RegExp(`^${label}\\s*: units never on: (\\d+) at the start, (\\d+) after the 10 large steps, (\\d+) at the end; largest gradient on their weights: (\\S+)$`, "m").exec(stdout);
      expect(m, `${label}'s dead units`).not.toBeNull();
      return { start: Number(m![1]), afterLarge: Number(m![2]), end: Number(m![3]), grad: Number(m![4]) };
    };
    const relu = dying("ReLU"), leaky = dying("leaky ReLU");
    expect(relu.afterLarge).toBeGreaterThan(relu.start);     // the large steps killed units
    expect(relu.end).toBeGreaterThanOrEqual(relu.afterLarge); // and none came back
    expect(relu.grad).toBe(0);                                // because their gradient is exactly 0
    expect(leaky.grad).toBeGreaterThan(0);                    // leaky ReLU's are not
  }, TIMEOUT);

  test("02-xor: linear layers collapse, the hand-set ReLU net solves XOR, 41 parameters", async () => {
    const { stdout } = await ran("02-xor");
    const diff = Number(/max \|difference\| over 1000 inputs = ([\d.e+-]+)/.exec(stdout)?.[1]);
    expect(diff).toBeLessThan(1e-5);
    expect(stdout).toContain("network output          : [0,1,1,0]");
    expect(stdout).toContain("hidden h for the 4 inputs: [[0,0],[1,0],[1,0],[2,1]]");
    const acc = Number(/test accuracy: ([\d.]+)%/.exec(stdout)?.[1]);
    expect(acc).toBeGreaterThanOrEqual(95);
    expect(stdout).toContain("3-4-4-1 network: 32 weights + 9 biases = 41 parameters");
  }, TIMEOUT);

  test("02-xor: universal approximation by sigmoid bumps, a trained fit, three perceptrons for XOR", async () => {
    const { stdout } = await ran("02-xor");
    // the bump construction in float64: N pieces, steepness 50N, the end pieces reaching past [0, 1]
    const target = (v: number) => Math.sin(2 * Math.PI * v) + 0.5 * v;
    const xs = Array.from({ length: 401 }, (_, i) => i / 400);
    for (const N of [5, 10, 20, 50]) {
      const k = 50 * N;
      const approx = (x: number) => {
        let y = 0;
        for (let i = 0; i < N; i++) {
          const a = i === 0 ? -1 : i / N, c = i === N - 1 ? 2 : (i + 1) / N;
          y += target((i + 0.5) / N) * (sigmoid(k * (x - a)) - sigmoid(k * (x - c)));
        }
        return y;
      };
      const err = Math.max(...xs.map((x) => Math.abs(approx(x) - target(x))));
      const line = lineStarting(stdout, `N = ${String(N).padStart(2)} bumps`);
      expect(Math.abs(numberAfter(line, "max |error| = ") - err), line).toBeLessThan(2e-3);
      expect(numberAfter(line, "max |error| = ")).toBeLessThan((2 * Math.PI + 0.5) / (2 * N) + 0.01); // half a piece times the steepest slope
      expect(numberAfter(line, "engine vs plain sum: ")).toBeLessThan(1e-4);
    }
    expect(numberAfter(stdout, "1-16-1 tanh network after 300 Adam steps: max |error| = ")).toBeLessThan(0.25);
    expect(stdout).toContain("three perceptrons, by hand: [0,1,1,0]; engine: [0,1,1,0]; XOR: [0,1,1,0]");
  }, TIMEOUT);

  test("03-backprop: chain rule, manual backprop = autograd, Jacobian, theta = -1.64, gradcheck", async () => {
    const { stdout } = await ran("03-backprop");
    expect(stdout).toContain("by hand:  df/dx = -4, df/dy = -4, df/dz = 3");
    expect(stdout).toContain("autograd: df/dx = -4, df/dy = -4, df/dz = 3");
    expect(stdout).toContain("manual backprop matches autograd: true");
    expect(stdout).toContain("[[14,0,0],[0,6,0],[0,0,10]]"); // diag(2x) at x = [7, 3, 5]
    expect(stdout).toContain("vᵀJ with v = 1: [14,6,10]");
    expect(stdout).toContain("L = 81, dL/dtheta = -36");
    expect(stdout).toContain("theta = -2 - 0.01 x (-36) = -1.64");
    expect(stdout).toContain("after gb.optim.SGD.step(): theta = -1.64");
    for (const loss of ["MSE", "L1", "BCE", "CE", "hinge"]) expect(stdout).toMatch(new RegExp(`^${loss}\\s*= \\d`, "m"));
    for (const opt of ["SGD", "momentum", "Adagrad", "Adadelta", "RMSprop", "Adam"]) expect(stdout).toMatch(new RegExp(`^${opt} \\(.*f after \\d+ steps`, "m"));
    expect(stdout).toContain("gradcheck(matmul → tanh → mul → logSoftmax): true");
  }, TIMEOUT);

  test("03-backprop: Jacobian shapes, a branch, softmax and cross-entropy by hand", async () => {
    const { stdout } = await ran("03-backprop");
    // y = Wx with W = [[1, 2, 3], [4, 5, 6]], x = [7, 3, 5]: dy/dx = W, dy/dW [2, 2, 3] with x in row i of dy_i/dW
    expect(stdout).toContain("∂y/∂x: [2,3], equal to W: true");
    expect(stdout).toContain("∂L/∂x: [3], ∂L/∂W: [2,3]");
    expect(stdout).toContain("∂y/∂W: [2,2,3], ∂y_0/∂W = [[7,3,5],[0,0,0]]");
    // J = σ(z1) z1², z1 = w x at w = 0.5, x = 2
    const z1 = 1, z2 = sigmoid(z1), z3 = z1 ** 2;
    const viaZ2 = z3 * z2 * (1 - z2), viaZ3 = z2 * 2 * z1;
    expect(stdout).toContain(`by hand:  J = ${(z2 * z3).toFixed(4)}, dJ/dz1 = ${viaZ2.toFixed(4)} (via z2) + ${viaZ3.toFixed(4)} (via z3) = ${(viaZ2 + viaZ3).toFixed(4)}, dJ/dw = ${((viaZ2 + viaZ3) * 2).toFixed(4)}`);
    expect(stdout).toContain(`autograd: J = ${(z2 * z3).toFixed(4)}, dJ/dz1 = ${(viaZ2 + viaZ3).toFixed(4)}, dJ/dw = ${((viaZ2 + viaZ3) * 2).toFixed(4)}`);
    expect((viaZ2 + viaZ3).toFixed(4)).toBe("1.6587");
    // softmax of [2, 1, 0.1], class 0
    const e = [2, 1, 0.1].map(Math.exp), total = e[0] + e[1] + e[2], p = e.map((v) => v / total);
    const pStr = JSON.stringify(p.map((q) => fixed(q, 3))), gStr = JSON.stringify(p.map((q, k) => fixed(q - (k === 0 ? 1 : 0), 3)));
    expect(stdout).toContain(`by hand:  p = ${pStr}, L = -log ${p[0].toFixed(3)} = ${(-Math.log(p[0])).toFixed(3)}, dL/ds = ${gStr}`);
    expect(stdout).toContain(`engine:   p = ${pStr}, L = ${(-Math.log(p[0])).toFixed(3)}, dL/ds = ${gStr}`);
    expect(pStr).toBe("[0.659,0.242,0.099]");
    expect(stdout).toContain("naive [NaN, NaN, NaN] (e^1000 overflows)");
    expect(numberAfter(stdout, "sigmoid(z) vs softmax([z, 0])[0]: max difference ")).toBeLessThan(1e-6);
    // binary cross-entropy with logits, by hand, for z = [-3, -0.5, 0, 1.2, 4] and y = [0, 1, 1, 0, 1]
    const zb = [-3, -0.5, 0, 1.2, 4], yb = [0, 1, 1, 0, 1];
    const bce = zb.reduce((s, z, i) => s - (yb[i] * Math.log(sigmoid(z)) + (1 - yb[i]) * Math.log(1 - sigmoid(z))), 0) / zb.length;
    expect(stdout).toContain(`BCE with logits ${bce.toFixed(4)}, two-class CE ${bce.toFixed(4)}`);
  }, TIMEOUT);

  test("04-convolution-arithmetic: the slide's example, output sizes vs the engine, pooling, 2400 weights", async () => {
    const { stdout } = await ran("04-convolution-arithmetic");
    expect(stdout).toContain("no padding: [[19,25],[37,43]]");
    expect(stdout).toContain("padding 1, gb.nn.F.conv2d: [[0,3,8,4],[9,19,25,10],[21,37,43,16],[6,7,8,0]]");
    expect(stdout).toContain("same: true");
    expect(stdout).toContain("i=5 k=3 s=2 p=1 d=1: formula 3, engine 3");
    expect(stdout).toContain("i=7 k=3 s=1 p=0 d=2: formula 3, engine 3");
    const m = /checked against gb.nn.F.conv2d: (\d+) of (\d+) cases agree/.exec(stdout);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThan(50);
    expect(m![1]).toBe(m![2]);
    expect(stdout).toContain("max pool 2x2, stride 2: [[6, 8], [3, 4]]");
    for (const line of stdout.split("\n").filter((l) => / formula +\d+, measured +\d+/.test(l))) {
      const [, f, mm] = / formula +(\d+), measured +(\d+)/.exec(line)!;
      expect(f, line).toBe(mm);
    }
    expect(stdout).toContain("convTranspose2d  : [[0,0,1],[0,4,6],[4,12,9]]");
    expect(stdout).toContain("C3 weight shape [16,6,5,5] → 2400 weights, 16 biases");
  }, TIMEOUT);

  test("04-convolution-arithmetic: why convolution: 1.6 billion weights, a shared-weight matrix, equivariance", async () => {
    const { stdout } = await ran("04-convolution-arithmetic");
    const fc = 128 * 128 * 100_000;
    expect(fc).toBe(1_638_400_000);
    expect(stdout).toContain(`fully connected, 16384 pixels → 100000 units: ${fc.toLocaleString("en-US")} weights (${((fc * 4) / 1e9).toFixed(1)} GB as float32)`);
    const side = 128 - 5 + 1;
    expect(stdout).toContain(`convolution, 100 filters 5x5: ${100 * 25} weights + 100 biases = ${100 * 26} parameters, output [1,100,${side},${side}] = ${(100 * side * side).toLocaleString("en-US")} values`);
    // 16 output pixels x 36 input pixels, 9 weights per row
    expect(stdout).toContain(`weight matrix [16, 36]: ${16 * 9} non-zero entries of ${16 * 36}, 9 distinct values`);
    expect(numberAfter(stdout, "matrix × image = conv2d: max difference ")).toBeLessThan(1e-4);
    expect(stdout).toContain("conv(shift(x)) = shift(conv(x)): true");
  }, TIMEOUT);

  test("05-lenet5: 61,706 parameters, trains on MNIST and Fashion-MNIST (one quick epoch)", async () => {
    const { stdout } = await ran("05-lenet5");
    expect(stdout).toContain("parameters: 61706");
    expect(stdout).toContain("Total params: 61,706");
    const mnist = Number(/MNIST test accuracy: ([\d.]+)% on 2000 held-out digits/.exec(stdout)?.[1]);
    expect(mnist).toBeGreaterThan(25); // one epoch on 1,000 digits (chance: 10%); the full settings reach >= 97
    const fashion = Number(/Fashion-MNIST test accuracy: ([\d.]+)%/.exec(stdout)?.[1]);
    expect(fashion).toBeGreaterThan(25);
    expect(stdout).toMatch(/MNIST: train \d+, validation \d+, test 2000/);
  }, TIMEOUT);

  test("05-lenet5: HoG features by the engine = by plain loops; hand-made features vs learned filters", async () => {
    const { stdout } = await ran("05-lenet5");
    const m = /HoG features: train \[(\d+),(\d+)\], test \[2000,(\d+)\]; the engine.s batch version vs the loops on 16 test digits: max difference (\S+)/.exec(stdout);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBe(8 * 4 * 4); // 8 orientation bins in 4x4 cells of 7x7 pixels
    expect(Number(m![3])).toBe(128);
    expect(Number(m![4])).toBeLessThan(1e-5);
    const acc = (label: string) => numberAfter(lineStarting(stdout, label), ": ");
    // quick: a few hundred training digits and 5 epochs (chance is 10%); with the full settings HoG beats raw pixels
    expect(acc("raw pixels + linear")).toBeGreaterThan(60);
    expect(acc("HoG + linear (before 2012)")).toBeGreaterThan(60);
    const lenet = Number(/MNIST test accuracy: ([\d.]+)% on 2000 held-out digits/.exec(stdout)?.[1]);
    expect(acc("LeNet-5 (learned filters)")).toBe(lenet);
  }, TIMEOUT);

  test("06-alexnet: 61,100,840 parameters, shapes at 224x224, a timed forward pass, small training", async () => {
    const { stdout } = await ran("06-alexnet");
    expect(stdout).toContain("parameters: 61100840");
    expect(stdout).toContain("conv1 55 → pool 27 → conv2 27 → pool 13 → conv3-5 13 → pool 6: 6x6x256 = 9216");
    expect(stdout).toMatch(/CPU: AlexNet forward, batch \d+ at 224x224: \d+ ms/);
    const lrn = /LRN\(a\)  : (.*)\n/.exec(stdout)?.[1], hand = /by hand : (.*)\n/.exec(stdout)?.[1];
    expect(lrn).toBeTruthy();
    expect(lrn).toBe(hand);
    expect(stdout).toContain("evaluation: mean = 1, unchanged: true");
    expect(stdout).toMatch(/test accuracy [\d.]+% on \d+ images/);
  }, TIMEOUT);

  test("06-alexnet: ImageNet and the ILSVRC, top-1 and top-5 error by hand and by the engine", async () => {
    const { stdout } = await ran("06-alexnet");
    expect(stdout).toContain(`ILSVRC 2012: AlexNet 15.3% top-5 error, runner-up 26.2%: ${(26.2 - 15.3).toFixed(1)} points better, ${(100 * (1 - 15.3 / 26.2)).toFixed(0)}% fewer errors`);
    expect(stdout).toContain(`ImageNet: 14,197,122 images in 21,841 categories, ${Math.round(14197122 / 21841)} per category on average; ILSVRC: 1,000 classes, ${Math.round(1281167 / 1000)} training images per class`);
    // the toy scores: top-k by sorting each row
    const scores = [[0.1, 2.0, 0.3, 1.5, -1.0, 0.2], [3.1, 0.2, 0.4, 0.1, 0.0, 2.2], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], [1.0, 0.0, 2.0, 3.0, 4.0, 5.0]];
    const labels = [3, 0, 0, 1];
    const rank = scores.map((row, i) => row.map((v, c) => [v, c]).sort((a, b) => b[0] - a[0]).findIndex(([, c]) => c === labels[i]));
    const topK = (k: number) => rank.filter((r) => r >= k).length / rank.length;
    expect(stdout).toContain(`ranks of the true class: ${JSON.stringify(rank)}`);
    expect(stdout).toContain(`by hand: top-1 error ${topK(1)}, top-5 error ${topK(5)}; engine: top-1 ${topK(1)}, top-5 ${topK(5)}`);
    // the trained network: top-1 error = 100% - its test accuracy, top-5 no larger
    const testAcc = Number(/: test accuracy ([\d.]+)% on \d+ images/.exec(stdout)?.[1]);
    const m = /top-1 error ([\d.]+)%, top-5 error ([\d.]+)%/.exec(stdout);
    expect(m).not.toBeNull();
    expect(Math.abs(Number(m![1]) - (100 - testAcc))).toBeLessThan(0.011);
    expect(Number(m![2])).toBeLessThanOrEqual(Number(m![1]));
  }, TIMEOUT);

  test("07-training-diagnosis: minima, restarts, initial scales, the curves' diagnoses, standardisation", async () => {
    const { stdout } = await ran("07-training-diagnosis");
    // f(w) = w⁴ − 3w² + w: the roots of f'(w) = 4w³ − 6w + 1 by bisection
    const f = (w: number) => w ** 4 - 3 * w ** 2 + w, df = (w: number) => 4 * w ** 3 - 6 * w + 1;
    const bisect = (lo: number, hi: number) => {
      for (let i = 0; i < 200; i++) {
        const mid = (lo + hi) / 2;
        if (Math.sign(df(mid)) === Math.sign(df(lo))) lo = mid;
        else hi = mid;
      }
      return lo;
    };
    const [wMin, wMax, wLocal] = [bisect(-2, -1), bisect(0, 0.5), bisect(1, 2)];
    expect(stdout).toContain(`f'(w) = 0 at w = ${wMin.toFixed(4)}: f = ${f(wMin).toFixed(4)}, a minimum`);
    expect(stdout).toContain(`f'(w) = 0 at w = ${wMax.toFixed(4)}: f = ${f(wMax).toFixed(4)}, a maximum`);
    expect(stdout).toContain(`f'(w) = 0 at w = ${wLocal.toFixed(4)}: f = ${f(wLocal).toFixed(4)}, a minimum`);
    for (const w0 of [-2, -0.5, 0.5, 2]) {
      let w = w0;
      for (let t = 0; t < 100; t++) w -= 0.02 * df(w);
      expect(stdout).toContain(`start ${String(w0).padStart(4)}: ends at w = ${w.toFixed(4)} (by hand ${w.toFixed(4)}), f = ${f(w).toFixed(4)}: the ${w < 0 ? "global" : "local"} minimum`);
    }
    const restarts = /(\d+) random starts, \d+ steps: (\d+) solve XOR \(loss < 0.05\), (\d+) end in a worse place/.exec(stdout);
    expect(restarts).not.toBeNull();
    expect(Number(restarts![2]) + Number(restarts![3])).toBe(Number(restarts![1]));
    expect(Number(restarts![2])).toBeGreaterThan(0);
    expect(Number(restarts![3])).toBeGreaterThan(0);
    const sym = /hidden unit 1's weights \[(\S+)\], unit 2's \[(\S+)\] — identical/.exec(stdout);
    expect(sym).not.toBeNull();
    expect(sym![1]).toBe(sym![2]);
    // a sum of n = 256 products with N(0, σ²) weights and unit-variance inputs has std √n σ
    for (const [label, sigma] of [["tanh, σ = 0.01", 0.01], ["tanh, σ = 1 ", 1], ["ReLU, σ = √(2/n) (Kaiming)", Math.sqrt(2 / 256)]] as const) {
      const line = lineStarting(stdout, label);
      expect(Math.abs(numberAfter(line, "first layer's sums: std ") / (16 * sigma) - 1), line).toBeLessThan(0.05);
      expect(Math.abs(numberAfter(line, "by hand √(n σ² v) = ") / (16 * sigma) - 1), line).toBeLessThan(0.05);
    }
    const layer10 = (label: string) => numberAfter(stdout.slice(stdout.indexOf(`${label.padEnd(27)} std of layer 10`)), "output: ");
    expect(layer10("tanh, σ = 0.01")).toBeLessThan(1e-5);         // (0.16)^10 times
    expect(layer10("tanh, σ = 1")).toBeGreaterThan(0.9);           // saturated at ±1
    expect(layer10("ReLU, σ = 1/√n")).toBeLessThan(0.1);           // halves the variance per layer: 2^-5
    expect(layer10("ReLU, σ = √(2/n) (Kaiming)")).toBeGreaterThan(0.3);
    expect(layer10("ReLU, σ = √(2/n) (Kaiming)")).toBeLessThan(3);
    const run = (label: string) => {
      const m = new RegExp(`^${label.replace(/[()]/g, "\\$&")}\\s+train ([\\d.]+), validation ([\\d.]+) \\(lowest ([\\d.]+) at step \\d+\\): (.*)$`, "m").exec(stdout);
      expect(m, label).not.toBeNull();
      return { train: Number(m![1]), val: Number(m![2]), best: Number(m![3]), diagnosis: m![4] };
    };
    const linear = run("linear, 12 points"), big = run("1-64-64-1, 12 points"), more = run("1-64-64-1, 100 points");
    expect(linear.diagnosis).toBe("underfitting");
    expect(linear.train).toBeGreaterThan(0.08); // a line through a sine: far above the noise variance 0.04
    expect(big.diagnosis).toBe("overfitting");
    expect(big.train).toBeLessThan(0.02);       // below the noise: it fits the noise
    expect(big.val).toBeGreaterThan(1.1 * big.best);            // the validation loss rose from its minimum
    expect(big.val).toBeGreaterThan(2 * big.train + 0.04);
    expect(more.diagnosis).toBe("good fit");
    expect(Math.abs(more.val - 0.04)).toBeLessThan(0.02);
    // standardisation: U(0, 1) and U(0, 1000) features, 200 samples
    const meanLine = lineStarting(stdout, "mean by hand"), stdLine = lineStarting(stdout, "std  by hand");
    const [handMean, engMean] = [...meanLine.matchAll(/\[([^\]]+)\]/g)].map((x) => x[1]);
    expect(handMean).toBe(engMean);
    expect(Math.abs(Number(handMean.split(",")[1]) - 500)).toBeLessThan(4 * (1000 / Math.sqrt(12) / Math.sqrt(200)));
    const [handStd, engStd] = [...stdLine.matchAll(/\[([^\]]+)\]/g)].map((x) => x[1]);
    expect(handStd).toBe(engStd);
    expect(Math.abs(Number(handStd.split(",")[1]) / (1000 / Math.sqrt(12)) - 1)).toBeLessThan(0.15);
    expect(numberAfter(lineStarting(stdout, "standardised, lr 0.1"), "steps: ")).toBeLessThan(0.02);    // the noise variance 0.01
    expect(numberAfter(lineStarting(stdout, "raw features, lr"), "steps: ")).toBeGreaterThan(0.1);
    const smaller = /1-8-1, 12 points: train ([\d.]+), validation ([\d.]+) \(the 1-64-64-1 network: ([\d.]+)\)/.exec(stdout);
    expect(Number(smaller![2])).toBeLessThan(Number(smaller![3]));
  }, TIMEOUT);
});
