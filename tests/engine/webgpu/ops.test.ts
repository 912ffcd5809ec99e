// The engine's op cases (tests/engine/ops/cases.ts and its PyTorch reference.json)
// run on the WebGPU backend: forward values and the gradients of sum_k (out_k * w_k)
// w.r.t. every float input, same tolerance as the CPU run (1e-6 + 1e-5 |want|).
// Inputs and every tensor the case creates live on the GPU (default device "gpu").
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";
import { OPS, asList, decode, inputsOf, reference, type Encoded } from "../ops/cases.ts";
import { mismatch, startGpu } from "./gpu.ts";

const RTOL = 1e-5;
const ATOL = 1e-6;

/** Cases that read values synchronously by design (CPU-only API): on the GPU they must fail
 *  with this error (the message names the op and the fix), never a wrong value. */
const CPU_ONLY: Record<string, RegExp> = {
  one_hot_infer: /oneHot: pass numClasses for tensors off the CPU/,
};

const hasGpu = await startGpu();

async function compare(t: Tensor, want: Encoded[], what: string): Promise<void> {
  expect(t.device, `${what}: device`).toBe("gpu");
  const got = await t.data();
  const msg = mismatch(got, want.map(decode), ATOL, RTOL);
  if (msg) expect.fail(`${what}: ${msg}\n  got  [${Array.from(got).join(", ")}]\n  want [${want.map(decode).join(", ")}]`);
}

describe.skipIf(!hasGpu)("ops vs PyTorch on WebGPU", { timeout: 300_000 }, () => {
  beforeAll(() => gb.setDefaultDevice("gpu"));
  afterAll(() => gb.releaseGpu());

  for (const c of reference.cases) {
    const cpuOnly = CPU_ONLY[c.name];
    if (cpuOnly) {
      it(`${c.name}: CPU-only, a clear error on the GPU`, () => {
        const xs = inputsOf(c);
        expect(() => OPS[c.name](...xs)).toThrow(cpuOnly);
      });
      continue;
    }
    it(c.name, async () => {
      const xs = inputsOf(c);
      for (const x of xs) expect(x.device).toBe("gpu");
      const outs = asList(OPS[c.name](...xs));
      expect(outs.length, "number of outputs").toBe(c.outputs.length);
      let loss: Tensor | null = null;
      for (let k = 0; k < outs.length; k++) {
        const o = outs[k], r = c.outputs[k];
        expect(o.shape, `output ${k} shape`).toEqual(r.shape);
        expect(o.dtype, `output ${k} dtype`).toBe(r.dtype);
        await compare(o, r.values, `output ${k}`);
        if (r.w) {
          const w = gb.tensor(Float32Array.from(r.w.map(decode)), { shape: r.shape });
          const term = o.mul(w).sum();
          loss = loss ? loss.add(term) : term;
        }
      }
      if (!c.grads) return;
      await (loss as unknown as Tensor).backward();
      for (let i = 0; i < c.grads.length; i++) {
        const g = c.grads[i];
        if (g === null) continue;
        const x = xs[i];
        expect(x.grad, `grad of input ${i}`).not.toBeNull();
        expect(x.grad!.shape, `grad ${i} shape`).toEqual(x.shape);
        await compare(x.grad!, g, `grad of input ${i}`);
      }
    });
  }
});
