// nn.Sequential writes a Tanh / Sigmoid / ReLU over the output of the Linear / Conv2d before it (nothing
// else can read that output): the backend's unaryOver (CPU, storage in the WASM memory). Same
// values, gradients and graph as the op by op forward (setActivationsOver(false)), at 1 and 2
// threads; left alone where something else may read the layer's output (hooks, subclasses, other
// activations, the last module) or where the backend cannot (small arrays: ordinary storage).
import { afterEach, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { cpuBackend } from "../../../engine/backends/cpu/index.ts";
import { setActivationsOver } from "../../../engine/ops/elementwise.ts";
import { rand } from "../kernels/xorshift.ts";

const nn = gb.nn;
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const dataOf = async (t: gb.Tensor) => new Float32Array(await t.data());

/** Counts the backend's unaryOver calls that wrote over their operand. */
function countOver(): { calls: () => number; restore: () => void } {
  const b = cpuBackend as unknown as Record<string, (...args: unknown[]) => unknown>;
  const orig = b.unaryOver;
  let n = 0;
  b.unaryOver = (...args) => {
    const r = orig.apply(cpuBackend, args);
    if (r) n++;
    return r;
  };
  return { calls: () => n, restore: () => void (b.unaryOver = orig) };
}

/** Values with the special ones: NaN, infinities, -0, large. */
function values(n: number, seed: number): Float32Array {
  const v = rand(n, seed).map((x) => 8 * x - 4);
  const special = [NaN, Infinity, -Infinity, -0, 0, 40, -40, 1e-30, 9.5, -9.5];
  for (let i = 0; i < special.length && i * 7 < n; i++) v[i * 7] = special[i];
  return v;
}

/** Output, input gradient and parameter gradients of `make()`'s model on x, the loss a weighted sum of the output. */
async function run(make: () => gb.nn.Module, x: Float32Array, xShape: number[], over: boolean, threads: number): Promise<{ out: number[]; grads: number[][]; calls: number }> {
  gb.setNumThreads(threads);
  setActivationsOver(over);
  gb.manualSeed(3);
  const m = make();
  const xt = gb.tensor(x, { dtype: "float32" }).reshape(xShape).requiresGrad_();
  const count = countOver();
  let out: gb.Tensor, calls: number;
  try {
    out = m.call(xt) as gb.Tensor;
    calls = count.calls();
  } finally {
    count.restore();
  }
  const w = gb.tensor(rand(out.numel(), 11), { dtype: "float32" }).reshape(out.shape);
  await out.mul(w).sum().backward();
  const grads = [bits(await dataOf(xt.grad!))];
  for (const p of m.parameters()) grads.push(bits(await dataOf(p.grad!)));
  return { out: bits(await dataOf(out)), grads, calls };
}

afterEach(() => {
  setActivationsOver(true);
  gb.setNumThreads(1);
});

describe("nn.Sequential: activations written over their layer's output", () => {
  // conv outputs of 32 x 6 x 28 x 28 (on the threads at 2) and 32 x 16 x 10 x 10; linear outputs
  // of 520 x 37 (n % 24 = 16) and 520 x 33 (n % 24 = 0), all in the WASM memory (>= 64 KiB)
  const convNet = () =>
    new nn.Sequential(
      new nn.Conv2d(1, 6, 5, { padding: 2 }), new nn.Tanh(), new nn.AvgPool2d(2),
      new nn.Conv2d(6, 16, 5), new nn.Sigmoid(), new nn.AvgPool2d(2),
    );
  const mlp = () => new nn.Sequential(new nn.Linear(30, 37), new nn.Tanh(), new nn.Linear(37, 33), new nn.Sigmoid(), new nn.Linear(33, 5), new nn.Tanh());

  for (const threads of [1, 2]) {
    it(`convolutions + tanh / sigmoid + pooling: the op-by-op bits (${threads} thread${threads > 1 ? "s" : ""})`, async () => {
      const x = values(32 * 28 * 28, 5);
      const ref = await run(convNet, x, [32, 1, 28, 28], false, 1);
      const got = await run(convNet, x, [32, 1, 28, 28], true, threads);
      expect(ref.calls).toBe(0);
      expect(got.calls).toBe(2);
      expect(got.out).toEqual(ref.out);
      expect(got.grads).toEqual(ref.grads);
    });
    it(`linear layers + tanh / sigmoid: the op-by-op bits, the last activation's small output op by op (${threads} thread${threads > 1 ? "s" : ""})`, async () => {
      const x = values(520 * 30, 7);
      const ref = await run(mlp, x, [520, 30], false, 1);
      const got = await run(mlp, x, [520, 30], true, threads);
      expect(got.calls).toBe(2); // 520 x 5 stays ordinary storage: the ordinary op
      expect(got.out).toEqual(ref.out);
      expect(got.grads).toEqual(ref.grads);
    });
  }

  const reluNet = () =>
    new nn.Sequential(
      new nn.Conv2d(1, 6, 5, { padding: 2 }), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(6, 16, 5), new nn.ReLU(), new nn.AvgPool2d(2), new nn.Flatten(),
      new nn.Linear(400, 40), new nn.ReLU(), new nn.Linear(40, 10),
    );
  for (const threads of [1, 2]) {
    it(`relu after convolutions and a linear layer, max and average pooling: the op-by-op bits (${threads} thread${threads > 1 ? "s" : ""})`, async () => {
      const x = values(32 * 28 * 28, 8);
      const ref = await run(reluNet, x, [32, 1, 28, 28], false, 1);
      const got = await run(reluNet, x, [32, 1, 28, 28], true, threads);
      expect(got.calls).toBe(2); // the linear layer's 32 x 40 stays ordinary storage
      expect(got.out).toEqual(ref.out);
      expect(got.grads).toEqual(ref.grads);
    });
  }

  for (const opts of [{}, { activation: "relu", pooling: "max" }] as gb.models.LeNet5Options[]) it(`LeNet-5 (${opts.activation ?? "tanh"}, ${opts.pooling ?? "avg"} pooling): three SGD steps with the op-by-op losses and parameters, 1 and 2 threads`, async () => {
    const steps = async (over: boolean, threads: number) => {
      gb.setNumThreads(threads);
      setActivationsOver(over);
      gb.manualSeed(0);
      const model = new gb.models.LeNet5(opts);
      const opt = new gb.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
      const x = gb.tensor(rand(64 * 28 * 28, 9), { dtype: "float32" }).reshape([64, 1, 28, 28]);
      const y = gb.randint(0, 10, [64]);
      const losses: number[] = [];
      for (let i = 0; i < 3; i++) {
        opt.zeroGrad();
        const loss = gb.nn.functional.crossEntropy(model.call(x), y);
        await loss.backward();
        opt.step();
        losses.push(await loss.item());
      }
      const ps: number[][] = [];
      for (const p of model.parameters()) ps.push(bits(await dataOf(p)));
      return { losses, ps };
    };
    const ref = await steps(false, 1);
    expect(ref.losses.every(Number.isFinite)).toBe(true);
    for (const t of [1, 2]) expect(await steps(true, t)).toEqual(ref);
  });

  it("the graph stays whole: a second backward() doubles the gradients as op by op", async () => {
    const twice = async (over: boolean) => {
      setActivationsOver(over);
      gb.manualSeed(4);
      const m = mlp();
      const x = gb.tensor(values(520 * 30, 13), { dtype: "float32" }).reshape([520, 30]);
      const loss = (m.call(x) as gb.Tensor).sum();
      await loss.backward();
      await loss.backward();
      const out: number[][] = [];
      for (const p of m.parameters()) out.push(bits(await dataOf(p.grad!)));
      return out;
    };
    expect(await twice(true)).toEqual(await twice(false));
  });

  it("not where the layer's output may be read elsewhere: hooks, subclasses, other activations, the last module", async () => {
    gb.manualSeed(6);
    const x = gb.tensor(values(520 * 30, 17), { dtype: "float32" }).reshape([520, 30]);
    // a forward hook on the layer sees its output, which keeps the layer's values
    const lin = new nn.Linear(30, 40);
    let seen: gb.Tensor | null = null;
    lin.registerForwardHook((_m, _in, out) => void (seen = out as gb.Tensor));
    const count = countOver();
    try {
      const out = new nn.Sequential(lin, new nn.Tanh()).call(x) as gb.Tensor;
      const z = gb.nn.functional.linear(x, lin.weight, lin.bias);
      expect(bits(await dataOf(seen!))).toEqual(bits(await dataOf(z)));
      expect(bits(await dataOf(out))).toEqual(bits(await dataOf(z.tanh())));
      // a pre-hook on the activation
      const t = new nn.Tanh();
      t.registerForwardPreHook(() => undefined);
      new nn.Sequential(new nn.Linear(30, 40), t).call(x);
      // a subclass of Tanh (its forward may differ), of Linear, and ReLU / GELU after a layer
      class MyTanh extends nn.Tanh {}
      class MyLinear extends nn.Linear {}
      new nn.Sequential(new nn.Linear(30, 40), new MyTanh()).call(x);
      new nn.Sequential(new MyLinear(30, 40), new nn.Tanh()).call(x);
      new nn.Sequential(new nn.Linear(30, 40), new nn.GELU(), new nn.Linear(40, 40), new nn.Softplus()).call(x);
      class MyReLU extends nn.ReLU {}
      new nn.Sequential(new nn.Linear(30, 40), new MyReLU()).call(x);
      // an activation first, or a layer last
      new nn.Sequential(new nn.Tanh(), new nn.Linear(30, 40)).call(x);
      expect(count.calls()).toBe(0);
    } finally {
      count.restore();
    }
  });

  it("unaryOver: tanh / sigmoid / relu over a resident array, the bits of unary() at lengths of every kind mod 96 (the SIMD functions' unit), 1 and 2 threads; null for ordinary storage", async () => {
    for (const threads of [1, 2]) {
      gb.setNumThreads(threads);
      for (const op of ["tanh", "sigmoid", "relu"] as const) {
        for (const n of [16_384, 16_385, 16_387, 16_391, 16_407, 16_416, 16_434, 16_479, 131_072 + 96 * 7 + 37, 300_001]) {
          const v = values(n, n);
          const z = gb.tensor(v, { dtype: "float32" }).mul(1); // an op's result: in the WASM memory
          const ref = bits(await dataOf(op === "tanh" ? z.tanh() : op === "sigmoid" ? z.sigmoid() : z.relu()));
          const d = cpuBackend.unaryOver!(z._d, { op });
          expect(d, `${op} ${n}`).not.toBeNull();
          expect(d!.storage).toBe(z._d.storage);
          expect(bits(await dataOf(z)), `${op} ${n} (${threads} threads)`).toEqual(ref);
        }
      }
    }
    const small = gb.tensor(values(1000, 1), { dtype: "float32" }).mul(1);
    const before = bits(await dataOf(small));
    expect(cpuBackend.unaryOver!(small._d, { op: "tanh" })).toBeNull();
    expect(bits(await dataOf(small))).toEqual(before);
    expect(cpuBackend.unaryOver!(small._d, { op: "exp" })).toBeNull();
  });
});
