// The backward walk's fused rules through 2x2 pooling and the activation before it (LeNet-5's
// tanh + average pooling; relu + max pooling, notebook 05's): the gradient of the activation's input in one pass, with the bits of the two
// backward rules run one after the other; taken only where nothing else needs the activation's
// gradient (retained, asked for by grad(), used by another op, anomaly mode: the two rules run).
import { afterEach, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { cpuBackend } from "../../../engine/backends/cpu/index.ts";
import { setWasmMode } from "../../../engine/backends/cpu/kernels/index.ts";
import { rand } from "../kernels/xorshift.ts";

const F = gb.nn.functional;
type Act = "tanh" | "sigmoid" | "relu";
const act = (z: gb.Tensor, a: Act) => (a === "tanh" ? z.tanh() : a === "sigmoid" ? z.sigmoid() : z.relu());

/** Counts the backend's fused calls (the rule itself runs as it is). */
function countFused(which: "avgPool2dActBackward" | "maxPool2dReluBackward" = "avgPool2dActBackward"): { calls: () => number; restore: () => void } {
  const b = cpuBackend as unknown as Record<string, (...args: unknown[]) => unknown>;
  const orig = b[which];
  let n = 0;
  b[which] = (...args) => {
    n++;
    return orig.apply(cpuBackend, args);
  };
  return { calls: () => n, restore: () => void (b[which] = orig) };
}

/** Values with the special ones a gradient must carry through: NaN, infinities, -0, large. */
function values(n: number, seed: number): Float32Array {
  const v = rand(n, seed).map((x) => 6 * x);
  const special = [NaN, Infinity, -Infinity, -0, 0, 40, -40, 1e-30];
  for (let i = 0; i < special.length && i * 7 < n; i++) v[i * 7] = special[i];
  return v;
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/**
 * run(false) with the backend's fused rule counted: called once, and the gradient has the bits of
 * run(true), where the activation's retained gradient makes the walk run the two rules.
 */
async function expectFusedAsTwoRules(
  which: "avgPool2dActBackward" | "maxPool2dReluBackward", run: (retain: boolean) => Promise<Float32Array>, label: string,
): Promise<void> {
  const count = countFused(which);
  let fused: Float32Array, calls: number;
  try {
    fused = await run(false);
    calls = count.calls();
  } finally {
    count.restore();
  }
  expect(calls, `${label}: fused`).toBe(1);
  expect(bits(fused), label).toEqual(bits(await run(true)));
}

/**
 * A LeNet-5's parameter gradients (8 images) with the backend's fused rule (called for both
 * pooling layers, finite, not all zero) equal those of the op-by-op walk (the rule removed).
 */
async function lenetFusedAndNot(opts: gb.models.LeNet5Options, which: "avgPool2dActBackward" | "maxPool2dReluBackward", seed: number): Promise<void> {
  gb.manualSeed(seed);
  const model = new gb.models.LeNet5(opts);
  const x = gb.tensor(rand(8 * 28 * 28, seed + 2).map((v) => Math.abs(v)), { shape: [8, 1, 28, 28] });
  const t = gb.tensor(Int32Array.from({ length: 8 }, (_, i) => (seed * i) % 10), { shape: [8], dtype: "int32" });
  const grads = async () => {
    model.zeroGrad();
    await F.crossEntropy(model.forward(x), t).backward();
    return model.parameters().map((p) => bits(p.grad!.dataSync() as Float32Array));
  };
  const count = countFused(which);
  let fused: number[][];
  try {
    fused = await grads();
    expect(count.calls()).toBe(2);
  } finally {
    count.restore();
  }
  expect(fused.every((p) => p.every((u) => (u & 0x7f800000) !== 0x7f800000))).toBe(true);
  expect(fused.some((p) => p.some((u) => u !== 0))).toBe(true);
  const b = cpuBackend as unknown as Record<string, unknown>;
  const orig = b[which];
  b[which] = undefined;
  try {
    expect(await grads()).toEqual(fused);
  } finally {
    b[which] = orig;
  }
}

afterEach(() => setWasmMode("auto"));

describe("avgPool2d after tanh / sigmoid / relu: the fused backward", () => {
  // OW 6: 4 columns on the SIMD module, 2 in the loop; OW 3: the loop only; LeNet-5's conv2 layer
  const shapes = [[3, 4, 8, 12], [2, 3, 6, 6], [4, 16, 10, 10]];
  for (const mode of ["auto", "js"] as const) for (const a of ["tanh", "sigmoid", "relu"] as Act[]) {
    it(`${a}: the bits of the two backward rules (${mode === "js" ? "TypeScript loops" : "WASM"})`, async () => {
      setWasmMode(mode);
      for (const [k, shape] of shapes.entries()) {
        const n = shape.reduce((u, v) => u * v, 1);
        const zv = values(n, 10 + k), wv = values(n / 4, 20 + k);
        const run = async (retain: boolean) => {
          const z = gb.tensor(zv, { shape, requiresGrad: true });
          const y = act(z, a);
          if (retain) y.retainGrad();
          const p = F.avgPool2d(y, 2);
          await p.mul(gb.tensor(wv, { shape: p.shape })).sum().backward();
          return z.grad!.dataSync() as Float32Array;
        };
        await expectFusedAsTwoRules("avgPool2dActBackward", run, `${a} ${shape}`);
      }
    });
  }

  it("LeNet-5's step (tanh, average pooling): the same gradients fused and op by op", async () => {
    await lenetFusedAndNot({}, "avgPool2dActBackward", 3);
  });

  it("not where the activation's gradient is needed elsewhere, or the pooling has no fused form", async () => {
    const shape = [2, 3, 8, 8];
    const zv = values(2 * 3 * 64, 7);
    const cases: Record<string, () => Promise<gb.Tensor[]>> = {
      "the activation used twice": async () => {
        const z = gb.tensor(zv, { shape, requiresGrad: true });
        const y = z.tanh();
        await F.avgPool2d(y, 2).sum().add(y.sum()).backward();
        return [z.grad!];
      },
      "grad() asked for the activation's gradient": async () => {
        const z = gb.tensor(zv, { shape, requiresGrad: true });
        const y = z.tanh();
        return gb.autograd.grad(F.avgPool2d(y, 2).sum(), [y, z]);
      },
      "anomaly mode": async () => {
        const z = gb.tensor(zv.map((v) => (Number.isFinite(v) ? v : 1)), { shape, requiresGrad: true });
        await gb.detectAnomaly(() => F.avgPool2d(z.sigmoid(), 2).sum().backward());
        return [z.grad!];
      },
      "3x3 windows": async () => {
        const z = gb.tensor(zv, { shape, requiresGrad: true });
        await F.avgPool2d(z.tanh(), 3, { stride: 2, padding: 1 }).sum().backward();
        return [z.grad!];
      },
    };
    for (const [name, run] of Object.entries(cases)) {
      const count = countFused();
      let got: gb.Tensor[];
      try {
        got = await run();
      } finally {
        count.restore();
      }
      // "3x3 windows" asks the backend, which has no fused form for it (null): the two rules run
      expect(count.calls(), name).toBe(name === "3x3 windows" ? 1 : 0);
      expect(got.every((g) => g.shape.join() === shape.join()), name).toBe(true);
    }
    // and the gradient the two rules give there: 1 - tanh^2 times the pooling's 1/4 (or 1/9-ish)
    const z = gb.tensor(zv, { shape, requiresGrad: true });
    const y = z.tanh();
    const [gy, gz] = gb.autograd.grad(F.avgPool2d(y, 2).sum(), [y, z]);
    const Y = y.dataSync() as Float32Array, GY = gy.dataSync() as Float32Array, GZ = gz.dataSync() as Float32Array;
    for (let i = 0; i < GY.length; i++) {
      expect(GY[i]).toBe(0.25);
      expect(Object.is(GZ[i], Math.fround(0.25 * (1 - Y[i] * Y[i])))).toBe(true);
    }
  });
});

describe("maxPool2d after relu: the fused backward", () => {
  it("the bits of the two backward rules: 4+ output columns, odd sizes (edges without gradient)", async () => {
    for (const [k, shape] of [[3, 4, 8, 12], [2, 3, 9, 11], [4, 16, 10, 10]].entries()) {
      const n = shape.reduce((u, v) => u * v, 1);
      const zv = values(n, 30 + k);
      const run = async (retain: boolean) => {
        const z = gb.tensor(zv, { shape, requiresGrad: true });
        const y = z.relu();
        if (retain) y.retainGrad();
        const p = F.maxPool2d(y, 2);
        await p.mul(gb.tensor(values(p.shape.reduce((u, v) => u * v, 1), 40 + k), { shape: p.shape })).sum().backward();
        return z.grad!.dataSync() as Float32Array;
      };
      await expectFusedAsTwoRules("maxPool2dReluBackward", run, `${shape}`);
    }
  });

  it("LeNet-5 with relu and max pooling (notebook 05's): the same gradients fused and op by op", async () => {
    await lenetFusedAndNot({ activation: "relu", pooling: "max" }, "maxPool2dReluBackward", 4);
  });

  it("overlapping windows and narrow outputs: the backend declines (null), the two rules run", async () => {
    for (const [shape, k, opts] of [[[2, 3, 8, 8], 3, { stride: 2, padding: 1 }], [[2, 3, 6, 6], 2, {}]] as const) {
      const zv = values(shape.reduce((u, v) => u * v, 1), 50);
      const run = async (retain: boolean) => {
        const z = gb.tensor(zv, { shape: [...shape], requiresGrad: true });
        const y = z.relu();
        if (retain) y.retainGrad();
        await F.maxPool2d(y, k, opts).sum().backward();
        return z.grad!.dataSync() as Float32Array;
      };
      await expectFusedAsTwoRules("maxPool2dReluBackward", run, `${shape}`);
    }
  });
});
