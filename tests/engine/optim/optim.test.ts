// Optimizers and schedulers against PyTorch 1.13 trajectories (reference.json, made by make_reference.py).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { optim } from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));
const P = ref.problem;

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, rtol = 1e-5, atol = 1e-6): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]))) {
      expect.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

function problem() {
  const W = gb.tensor(P.W0, { requiresGrad: true });
  const b = gb.tensor(P.b0, { requiresGrad: true });
  const X = gb.tensor(P.X);
  const Y = gb.tensor(P.Y);
  const loss = () => X.matmul(W.t()).add(b).sub(Y).square().mean().add(W.pow(4).sum().mul(0.05));
  return { W, b, loss };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function make(name: string, params: any, opts: any): optim.Optimizer<any> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const C = (optim as any)[name];
  return new C(params, opts);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function replay(opt: optim.Optimizer<any>, W: Tensor, b: Tensor, loss: () => Tensor, traj: any[], what: string, after?: () => void) {
  for (let s = 0; s < traj.length; s++) {
    opt.zeroGrad();
    const l = loss();
    expectClose([await l.item()], [traj[s].loss], `${what} loss at step ${s + 1}`);
    await l.backward();
    opt.step();
    after?.();
    expectClose(W.dataSync(), traj[s].W, `${what} W after step ${s + 1}`);
    expectClose(b.dataSync(), traj[s].b, `${what} b after step ${s + 1}`);
  }
}

describe("optimizers match PyTorch", () => {
  for (const c of ref.optimizers) {
    it(`${c.name} ${JSON.stringify(c.opts)}`, async () => {
      const { W, b, loss } = problem();
      await replay(make(c.name, [W, b], c.opts), W, b, loss, c.traj, c.name);
    });
  }
  for (const c of ref.groups) {
    it(`${c.name} with parameter groups ${JSON.stringify(c.group)}`, async () => {
      const { W, b, loss } = problem();
      const opt = make(c.name, [{ params: [W] }, { params: [b], ...c.group }], c.opts);
      await replay(opt, W, b, loss, c.traj, c.name);
    });
  }
  it("SGD driven by StepLR", async () => {
    const { W, b, loss } = problem();
    const opt = new optim.SGD([W, b], ref.schedulerTraj.opts);
    const sched = new optim.lrScheduler.StepLR(opt, ref.schedulerTraj.stepLR[0], ref.schedulerTraj.stepLR[1]);
    await replay(opt, W, b, loss, ref.schedulerTraj.traj, "SGD+StepLR", () => sched.step());
  });
});

describe("gradient clipping matches torch.nn.utils", () => {
  for (const c of ref.clip) {
    it(`${c.kind} ${c.arg}${c.kind === "norm" ? ` (norm type ${c.normType})` : ""}`, async () => {
      const { W, b, loss } = problem();
      await loss().backward();
      if (c.kind === "norm") {
        const total = optim.clipGradNorm_([W, b], c.arg, c.normType === "inf" ? Infinity : c.normType);
        expectClose([await total.item()], [c.total], "total norm");
      } else {
        optim.clipGradValue_([W, b], c.arg);
      }
      expectClose(W.grad!.dataSync(), c.gW, "W.grad");
      expectClose(b.grad!.dataSync(), c.gb, "b.grad");
    });
  }
});

describe("optimizer mechanics", () => {
  it("zeroGrad sets grads to null and step skips parameters without grad", async () => {
    const { W, b, loss } = problem();
    const opt = new optim.SGD([W, b], { lr: 0.1 });
    await loss().backward();
    expect(W.grad).not.toBeNull();
    opt.zeroGrad();
    expect(W.grad).toBeNull();
    expect(b.grad).toBeNull();
    const before = W.dataSync();
    opt.step();
    expect([...W.dataSync()]).toEqual([...before]);
  });

  it("accepts a module-like object with parameters()", () => {
    const { W, b } = problem();
    const opt = new optim.Adam({ parameters: () => [W, b] });
    expect(opt.params()).toEqual([W, b]);
  });

  it("stateDict / loadStateDict resumes the same trajectory", async () => {
    const c = ref.optimizers.find((o: { name: string; opts: Record<string, unknown> }) => o.name === "Adam" && o.opts.amsgrad);
    const a = problem();
    const opt = make("Adam", [a.W, a.b], c.opts);
    await replay(opt, a.W, a.b, a.loss, c.traj.slice(0, 3), "Adam first half");
    const sd = opt.stateDict();
    expect(Object.keys(sd.state)).toEqual(["0", "1"]);
    expect(sd.paramGroups[0].params).toEqual([0, 1]);
    expect(sd.paramGroups[0].lr).toBe(c.opts.lr);
    // a fresh problem set to the half-way weights, and a fresh optimizer loaded from the state dict
    const r = problem();
    r.W.assign(a.W);
    r.b.assign(a.b);
    const opt2 = make("Adam", [r.W, r.b], { lr: 123 });
    opt2.loadStateDict(sd);
    expect(opt2.paramGroups[0].lr).toBe(c.opts.lr);
    // mutating the original optimizer afterwards must not affect the snapshot
    await replay(opt, a.W, a.b, a.loss, c.traj.slice(3), "Adam second half (original)");
    await replay(opt2, r.W, r.b, r.loss, c.traj.slice(3), "Adam second half (restored)");
  });

  it("gives clear errors", () => {
    const { W } = problem();
    expect(() => new optim.SGD([W], {} as never)).toThrow(/SGD: the learning rate is required/);
    expect(() => new optim.SGD([W], { lr: -1 })).toThrow(/SGD: invalid learning rate -1/);
    expect(() => new optim.SGD([W], { lr: 0.1, nesterov: true })).toThrow(/Nesterov momentum requires a momentum > 0/);
    expect(() => new optim.Adam([W], { betas: [1.5, 0.9] })).toThrow(/Adam: invalid beta parameter at index 0/);
    expect(() => new optim.Adam([])).toThrow(/Adam: got an empty parameter list/);
    expect(() => new optim.Adam([W.mul(2)])).toThrow(/can't optimize a non-leaf Tensor/);
    expect(() => new optim.SGD([{ params: [W] }, { params: [W] }], { lr: 1 })).toThrow(/more than one parameter group/);
  });
});

describe("learning-rate schedulers match PyTorch", () => {
  const opt0 = () => new optim.SGD([gb.zeros([1], { requiresGrad: true })], { lr: 0.1 });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const build = (name: string, args: any[], opt: optim.SGD) => {
    const S = optim.lrScheduler;
    switch (name) {
      case "StepLR": return new S.StepLR(opt, args[0], args[1]);
      case "MultiStepLR": return new S.MultiStepLR(opt, args[0], args[1]);
      case "ExponentialLR": return new S.ExponentialLR(opt, args[0]);
      case "LambdaLR": return new S.LambdaLR(opt, (e) => 1 / (1 + e));
      case "LinearLR": return new S.LinearLR(opt, args[0]);
      case "CosineAnnealingLR": return new S.CosineAnnealingLR(opt, args[0], args[1]);
      case "CosineAnnealingWarmRestarts": return new S.CosineAnnealingWarmRestarts(opt, args[0], args[1], args[2]);
      default: throw new Error(name);
    }
  };
  for (const c of ref.schedulers) {
    it(`${c.name} ${JSON.stringify(c.args)}`, () => {
      const opt = opt0();
      const s = build(c.name, c.args, opt);
      const got = [opt.paramGroups[0].lr];
      expect(s.getLastLr()).toEqual([opt.paramGroups[0].lr]);
      for (let i = 1; i < c.lrs.length; i++) {
        opt.step();
        s.step();
        got.push(s.getLastLr()[0]);
      }
      expectClose(got, c.lrs, c.name, 1e-12, 1e-15);
    });
  }
  it("CosineAnnealingWarmRestarts stepped with fractional epochs", () => {
    const opt = opt0();
    const [t0, mult, eta] = ref.sgdrFractional.args;
    const s = new optim.lrScheduler.CosineAnnealingWarmRestarts(opt, t0, mult, eta);
    const got = ref.sgdrFractional.epochs.map((e: number) => (opt.step(), s.step(e), opt.paramGroups[0].lr));
    expectClose(got, ref.sgdrFractional.lrs, "SGDR fractional", 1e-12, 1e-15);
  });
  for (const c of ref.oneCycle) {
    it(`OneCycleLR with ${c.optimizer} ${JSON.stringify(c.opts)}`, () => {
      const p = gb.zeros([1], { requiresGrad: true });
      const opt = c.optimizer === "SGD" ? new optim.SGD([p], c.optOpts) : new optim.Adam([p], c.optOpts);
      const s = new optim.lrScheduler.OneCycleLR(opt, c.opts);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const g = opt.paramGroups[0] as any;
      const mom = () => (c.optimizer === "Adam" ? g.betas[0] : g.momentum);
      const lrs = [g.lr], ms = [mom()];
      for (let i = 1; i < c.lrs.length; i++) {
        opt.step();
        s.step();
        lrs.push(g.lr);
        ms.push(mom());
      }
      expectClose(lrs, c.lrs, "OneCycleLR lr", 1e-12, 1e-15);
      expectClose(ms, c.momentum, "OneCycleLR momentum", 1e-12, 1e-15);
      s.step(); // torch allows one step past the cycle (step number == totalSteps), then raises
      expect(() => s.step()).toThrow(/OneCycleLR: tried to step \d+ times; the total number of steps is/);
    });
  }
  it("ReduceLROnPlateau", () => {
    const opt = opt0();
    const s = new optim.lrScheduler.ReduceLROnPlateau(opt, ref.plateau.opts);
    const got = ref.plateau.metrics.map((m: number) => (s.step(m), opt.paramGroups[0].lr));
    expectClose(got, ref.plateau.lrs, "ReduceLROnPlateau", 1e-12, 1e-15);
  });
});

describe("EarlyStopping", () => {
  it("stops after `patience` epochs without improvement (min mode)", () => {
    const es = new optim.EarlyStopping({ patience: 2, minDelta: 0.01 });
    const losses = [1.0, 0.8, 0.795, 0.7, 0.71, 0.695, 0.75];
    const stops = losses.map((l) => es.step(l));
    // 0.795 is not better than 0.8 by more than 0.01; 0.695 is not better than 0.7 by more than 0.01
    expect(stops).toEqual([false, false, false, false, false, true, true]);
    expect(es.bestScore).toBe(0.7);
    expect(es.bestEpoch).toBe(3);
  });

  it("max mode, and restoring the best weights", () => {
    const w = gb.tensor([1, 2, 3]);
    const model = {
      w,
      stateDict: () => ({ w }),
      loadStateDict: (sd: Record<string, Tensor>) => void w.assign(sd.w),
    };
    const es = new optim.EarlyStopping({ patience: 1, mode: "max", restoreBest: true });
    expect(es.step(0.5, model)).toBe(false);
    w.assign(gb.tensor([4, 5, 6]));
    expect(es.step(0.9, model)).toBe(false); // best: [4, 5, 6]
    w.assign(gb.tensor([7, 8, 9]));
    expect(es.step(0.8, model)).toBe(true);
    es.restore(model);
    expect([...w.dataSync()]).toEqual([4, 5, 6]);
    expect(es.bestEpoch).toBe(1);
    expect(() => es.step(NaN, model)).toThrow(/metric must be a number/);
    expect(() => new optim.EarlyStopping({ restoreBest: true }).step(1)).toThrow(/pass the model/);
  });
});
