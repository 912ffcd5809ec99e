// The PyTorch reference suites run on the WebGPU backend, shared by ops.test.ts and
// nn.test.ts (the device's own limits) and split.test.ts (tensors split across bindings).
//
// - opReferenceTests: the engine's op cases (tests/engine/ops/cases.ts and its PyTorch
//   reference.json): forward values and the gradients of sum_k (out_k * w_k) w.r.t. every float
//   input, same tolerance as the CPU run (1e-6 + 1e-5 |want|).
// - nnReferenceTests: gb.nn.functional's cases (tests/engine/nn/reference.json): forward values,
//   extra outputs (pooling indices, batch-norm running stats) and input/weight gradients, with
//   the CPU test's tolerances (the cases and the table that runs them: tests/engine/nn/cases.ts).
// Inputs and every tensor a case creates live on the GPU (default device "gpu").
import { expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";
import { OPS, asList, decode, inputsOf, reference, type Encoded } from "../ops/cases.ts";
import { cases as nnCases, OPS as NN_OPS, tolFor, toTensor } from "../nn/cases.ts";
import { mismatch } from "./gpu.ts";

const RTOL = 1e-5;
const ATOL = 1e-6;

/** Cases that read values synchronously by design (CPU-only API): on the GPU they must fail
 *  with this error (the message names the op and the fix), never a wrong value. */
const CPU_ONLY: Record<string, RegExp> = {
  one_hot_infer: /oneHot: pass numClasses for tensors off the CPU/,
};

async function expectClose(t: Tensor, want: number[], what: string, atol: number, rtol: number): Promise<void> {
  expect(t.device, `${what}: device`).toBe("gpu");
  const got = await t.data();
  const msg = mismatch(got, want, atol, rtol);
  if (msg) expect.fail(`${what}: ${msg} (atol ${atol}, rtol ${rtol})\n  got  [${Array.from(got).join(", ")}]\n  want [${want.join(", ")}]`);
}

export function opReferenceTests(): void {
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
        await expectClose(o, r.values.map(decode), `output ${k}`, ATOL, RTOL);
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
        await expectClose(x.grad!, g.map((v: Encoded) => decode(v)), `grad of input ${i}`, ATOL, RTOL);
      }
    });
  }
}

export function nnReferenceTests(): void {
  for (const c of nnCases) {
    it(c.name, async () => {
      const ins = c.inputs.map(toTensor);
      const res = NN_OPS[c.op](ins, c.opts);
      const outs = Array.isArray(res) ? res : [res];
      const y = outs[0];
      const atol = tolFor(c);
      expect(y.shape).toEqual(c.out.shape);
      await expectClose(y, c.out.data, `${c.name}: output`, atol, 1e-5);
      for (let k = 0; k < (c.extraOuts ?? []).length; k++) {
        const e = c.extraOuts![k], t = outs[k + 1];
        expect(t.shape, `${c.name}: extra output ${k} shape`).toEqual(e.shape);
        if (t.dtype === "int32") expect(Array.from(await t.data()), `${c.name}: indices`).toEqual(e.data);
        else await expectClose(t, e.data, `${c.name}: extra output ${k}`, atol, 1e-5);
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
}
