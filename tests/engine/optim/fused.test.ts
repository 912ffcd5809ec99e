// The fused CPU updates (one loop over a parameter instead of an op per term: engine/optim) give
// the bits of the op-by-op updates (what the GPU runs, and what the optimizers computed before),
// for every variant of each optimizer's rule, on small parameters and on ones large enough for the
// element-wise ops' WASM paths: the TypeScript loops, and SGD's and Adam's updates on the SIMD
// module (kernels/optim.ts: from 256 floats, in chunks, the last n % 4 floats one by one).
import { afterEach, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { setFusedUpdates } from "../../../engine/optim/optimizer.ts";
import { setWasmMode } from "../../../engine/backends/cpu/kernels/index.ts";
import { rand } from "../kernels/xorshift.ts";

afterEach(() => {
  setFusedUpdates(true);
  setWasmMode("auto");
});

type Make = (params: gb.Tensor[]) => gb.optim.Optimizer;

/** Parameters and optimizer state after `steps` steps with fixed gradients, fused or op by op. */
function run(make: Make, fusedOn: boolean, steps = 4): Float32Array[] {
  setFusedUpdates(fusedOn);
  const sizes = [7, 300, 20_011];
  const params = sizes.map((n, k) => gb.tensor(rand(n, 11 + k), { requiresGrad: true }));
  const opt = make(params);
  for (let s = 0; s < steps; s++) {
    params.forEach((p, k) => (p.grad = gb.tensor(rand(p.numel(), 100 * s + k + 1).map((v) => (s === 2 && k === 0 ? 0 : 3 * v)))));
    opt.step();
  }
  const state = [...opt.state.values()].flatMap((st) => Object.values(st).filter((v): v is gb.Tensor => v instanceof gb.Tensor));
  return [...params, ...state].map((t) => t.dataSync() as Float32Array);
}

function sameBits(make: Make) {
  const want = run(make, false);
  // the fused updates with the SIMD module (large parameters) and with the TypeScript loops only
  for (const mode of ["auto", "js"] as const) {
    setWasmMode(mode);
    const got = run(make, true);
    expect(got.length).toBe(want.length);
    got.forEach((g, k) => {
      for (let i = 0; i < g.length; i++) if (!Object.is(g[i], want[k][i])) expect.fail(`${mode}: tensor ${k}, element ${i}: fused ${g[i]}, op by op ${want[k][i]}`);
    });
  }
  setWasmMode("auto");
}

describe("fused optimizer updates: the bits of the op-by-op updates", () => {
  const sgd: Record<string, Partial<gb.optim.SGDOptions>> = {
    plain: {},
    momentum: { momentum: 0.9 },
    nesterov: { momentum: 0.9, nesterov: true },
    "dampening and weight decay": { momentum: 0.5, dampening: 0.3, weightDecay: 1e-2 },
    "weight decay 1, no momentum": { weightDecay: 1 },
    "momentum 1": { momentum: 1 },
    maximize: { momentum: 0.9, maximize: true },
  };
  for (const [name, o] of Object.entries(sgd)) {
    it(`SGD, ${name}`, () => sameBits((ps) => new gb.optim.SGD(ps, { lr: 0.1, ...o })));
  }
  const adam: Record<string, Partial<gb.optim.AdamOptions>> = {
    defaults: {},
    "betas, eps": { betas: [0.5, 0.7], eps: 1e-3 },
    "weight decay": { weightDecay: 1e-2 },
    "weight decay 1": { weightDecay: 1 },
    "beta1 0": { betas: [0, 0.999] },
    maximize: { maximize: true },
    amsgrad: { amsgrad: true },
  };
  for (const [name, o] of Object.entries(adam)) {
    it(`Adam, ${name}`, () => sameBits((ps) => new gb.optim.Adam(ps, { lr: 0.01, ...o })));
    it(`AdamW, ${name}`, () => sameBits((ps) => new gb.optim.AdamW(ps, { lr: 0.01, ...o })));
  }
});
