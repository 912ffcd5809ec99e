// gb.nn.functional's PyTorch reference cases (tests/engine/nn/reference.json) on the
// WebGPU backend: forward values, extra outputs (pooling indices, batch-norm running
// stats) and input/weight gradients, with the CPU test's tolerances. The cases and
// the table that runs them are shared with the CPU test (tests/engine/nn/cases.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";
import { mismatch, startGpu } from "./gpu.ts";
import { cases, OPS, tolFor, toTensor } from "../nn/cases.ts";


const hasGpu = await startGpu();

async function expectClose(t: Tensor, want: number[], what: string, atol: number, rtol = 1e-5): Promise<void> {
  expect(t.device, `${what}: device`).toBe("gpu");
  const msg = mismatch(await t.data(), want, atol, rtol);
  if (msg) expect.fail(`${what}: ${msg} (atol ${atol}, rtol ${rtol})`);
}

describe.skipIf(!hasGpu)("nn.functional vs PyTorch on WebGPU", { timeout: 300_000 }, () => {
  beforeAll(() => gb.setDefaultDevice("gpu"));
  afterAll(() => gb.releaseGpu());

  for (const c of cases) {
    it(c.name, async () => {
      const ins = c.inputs.map(toTensor);
      const res = OPS[c.op](ins, c.opts);
      const outs = Array.isArray(res) ? res : [res];
      const y = outs[0];
      const atol = tolFor(c);
      expect(y.shape).toEqual(c.out.shape);
      await expectClose(y, c.out.data, `${c.name}: output`, atol);
      for (let k = 0; k < (c.extraOuts ?? []).length; k++) {
        const e = c.extraOuts![k], t = outs[k + 1];
        expect(t.shape, `${c.name}: extra output ${k} shape`).toEqual(e.shape);
        if (t.dtype === "int32") expect(Array.from(await t.data()), `${c.name}: indices`).toEqual(e.data);
        else await expectClose(t, e.data, `${c.name}: extra output ${k}`, atol);
      }
      if (c.gout && c.grads) {
        const g = gb.tensor(Float32Array.from(c.gout), { shape: c.out.shape });
        await y.backward(g);
        for (let k = 0; k < c.grads.length; k++) {
          const want = c.grads[k], x = ins[k];
          if (!want || !x || !x.requiresGrad) continue;
          expect(x.grad, `${c.name}: grad of input ${k}`).not.toBeNull();
          await expectClose(x.grad!, want, `${c.name}: grad of input ${k}`, atol * 2, 1e-4);
        }
      }
    });
  }
});
