// Executes the six course notebooks with the gradbook kernel through `jupyter nbconvert --execute`
// (quick settings, CPU), two at a time, and checks that no cell fails, that the cells type-check,
// and that the lecture's numbers appear in the outputs. The executed notebooks are kept in
// tests/output/notebooks/ for inspection.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JUPYTER, makeJupyterEnv, ROOT, run, stripAnsi, type JupyterEnv } from "../kernel/helpers.ts";

const NOTEBOOKS = ["01-perceptron", "02-xor", "03-backprop", "04-convolution-arithmetic", "05-lenet5", "06-alexnet"];
const PARALLEL = 2;
const OUT = join(ROOT, "tests", "output", "notebooks");

interface Executed {
  name: string;
  seconds: number;
  code: number | null;
  log: string;
  nb: any | null;
  /** All stdout text, cell by cell, joined. */
  stdout: string;
  stderr: string;
  errors: string[];
}

const src = (s: string | string[]) => (Array.isArray(s) ? s.join("") : s);

/** The notebook with papermill's injected-parameters cell (quick = true) after its parameters cell. */
function withParameters(nb: any, params: Record<string, unknown>): any {
  const copy = JSON.parse(JSON.stringify(nb));
  const at = copy.cells.findIndex((c: any) => (c.metadata.tags ?? []).includes("parameters"));
  if (at < 0) throw new Error("no parameters cell");
  const source = Object.entries(params).map(([k, v]) => `${k} = ${JSON.stringify(v)};`).join("\n");
  copy.cells.splice(at + 1, 0, { cell_type: "code", id: "injected-parameters", metadata: { tags: ["injected-parameters"] }, execution_count: null, outputs: [], source });
  return copy;
}

let env: JupyterEnv;
const results = new Map<string, Promise<Executed>>();

async function execute(name: string): Promise<Executed> {
  const nb = withParameters(JSON.parse(readFileSync(join(ROOT, "notebooks", `${name}.ipynb`), "utf8")), { quick: true });
  const dir = join(env.dir, "notebooks");
  const input = join(dir, `${name}.ipynb`);
  writeFileSync(input, JSON.stringify(nb));
  const t0 = performance.now();
  const r = await run(
    JUPYTER,
    ["nbconvert", "--to", "notebook", "--execute", "--allow-errors", "--ExecutePreprocessor.timeout=600", "--ExecutePreprocessor.kernel_name=gradbook", "--output-dir", OUT, "--output", `${name}.ipynb`, input],
    { env: env.env, cwd: dir, timeoutMs: 900_000 },
  );
  const seconds = (performance.now() - t0) / 1000;
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
  return { name, seconds, code: r.code, log: r.stdout + r.stderr, nb: out, stdout: stripAnsi(stdout.join("")), stderr: stripAnsi(stderr.join("")), errors };
}

beforeAll(() => {
  env = makeJupyterEnv();
  mkdirSync(OUT, { recursive: true });
  // a pool of PARALLEL workers over the notebooks, in order
  const queue = [...NOTEBOOKS];
  const resolvers = new Map<string, (e: Executed) => void>();
  for (const n of NOTEBOOKS) results.set(n, new Promise((res) => resolvers.set(n, res)));
  const worker = async () => {
    for (let n = queue.shift(); n; n = queue.shift()) {
      const name = n;
      resolvers.get(name)!(await execute(name).catch((e) => ({ name, seconds: 0, code: -1, log: String(e?.stack ?? e), nb: null, stdout: "", stderr: "", errors: [String(e)] })));
    }
  };
  for (let i = 0; i < PARALLEL; i++) void worker();
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
  expect(r.nb, `nbconvert did not write the notebook:\n${r.log.slice(-3000)}`).not.toBeNull();
  expect(r.errors, `cells in error in ${name}`).toEqual([]);
  expect(r.code, r.log.slice(-3000)).toBe(0);
  // type errors are reported on stderr (not fatal in the kernel): the notebooks have none
  expect(r.stderr, `stderr of ${name}`).not.toMatch(/error TS\d+/);
  return r;
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

  test("03-backprop: chain rule, manual backprop = autograd, Jacobian, theta = -1.64, gradcheck", async () => {
    const { stdout } = await ran("03-backprop");
    expect(stdout).toContain("by hand:  df/dx = -4, df/dy = -4, df/dz = 3");
    expect(stdout).toContain("autograd: df/dx = -4, df/dy = -4, df/dz = 3");
    expect(stdout).toContain("manual backprop matches autograd: true");
    expect(stdout).toContain("[[2,0,0],[0,4,0],[0,0,6]]");
    expect(stdout).toContain("L = 81, dL/dtheta = -36");
    expect(stdout).toContain("theta = -2 - 0.01 x (-36) = -1.64");
    expect(stdout).toContain("after gb.optim.SGD.step(): theta = -1.64");
    for (const loss of ["MSE", "L1", "BCE", "CE", "hinge"]) expect(stdout).toMatch(new RegExp(`^${loss}\\s*= \\d`, "m"));
    for (const opt of ["SGD", "momentum", "Adagrad", "Adadelta", "RMSprop", "Adam"]) expect(stdout).toMatch(new RegExp(`^${opt} \\(.*f after \\d+ steps`, "m"));
    expect(stdout).toContain("gradcheck(matmul → tanh → mul → logSoftmax): true");
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
});
