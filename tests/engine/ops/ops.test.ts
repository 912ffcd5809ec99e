// Every tensor op against PyTorch: forward values (shape, dtype, values) and the
// gradients of sum_k (out_k * w_k).sum() w.r.t. every float input. Reference data:
// reference.json, made by make_reference.py with Debian's python3-torch.
//
// Tolerance: |got - want| <= 1e-6 + 1e-5 * |want| elementwise, for forward values
// and gradients alike. Both sides compute in float32; the only differences are
// rounding order (sums, matmul) and libm, well inside that bound for these small inputs.
// Non-finite values must match exactly (NaN where torch has NaN, same-signed Inf).
import { describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";
import { OPS, asList, decode, inputsOf, reference, type Encoded } from "./cases.ts";

const RTOL = 1e-5;
const ATOL = 1e-6;

function compare(got: ArrayLike<number>, want: Encoded[], what: string): void {
  expect(got.length, `${what}: number of elements`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const w = decode(want[i]);
    const g = got[i];
    const ok = Number.isNaN(w) ? Number.isNaN(g) : !Number.isFinite(w) ? g === w : Math.abs(g - w) <= ATOL + RTOL * Math.abs(w);
    if (!ok) expect.fail(`${what}: element ${i} is ${g}, PyTorch has ${w}\n  got  [${Array.from(got).join(", ")}]\n  want [${want.map(decode).join(", ")}]`);
  }
}

describe("ops vs PyTorch", () => {
  it("every reference case has a gradbook entry and vice versa", () => {
    const names = reference.cases.map((c) => c.name);
    expect(names.filter((n) => !(n in OPS))).toEqual([]);
    expect(Object.keys(OPS).filter((n) => !names.includes(n))).toEqual([]);
  });

  for (const c of reference.cases) {
    it(c.name, async () => {
      const xs = inputsOf(c);
      const outs = asList(OPS[c.name](...xs));
      expect(outs.length, "number of outputs").toBe(c.outputs.length);
      let loss: Tensor | null = null;
      outs.forEach((o, k) => {
        const r = c.outputs[k];
        expect(o.shape, `output ${k} shape`).toEqual(r.shape);
        expect(o.dtype, `output ${k} dtype`).toBe(r.dtype);
        compare(o.dataSync(), r.values, `output ${k}`);
        if (r.w) {
          expect(o.requiresGrad, `output ${k} requires grad`).toBe(true);
          const w = gb.tensor(Float32Array.from(r.w.map(decode)), { shape: r.shape });
          const term = o.mul(w).sum();
          loss = loss ? loss.add(term) : term;
        }
      });
      if (!c.grads) {
        // forward-only: nothing should have been recorded
        for (const o of outs) expect(o.gradFn, "no graph for a non-differentiable case").toBeNull();
        return;
      }
      expect(loss, "a differentiable output").not.toBeNull();
      await (loss as unknown as Tensor).backward();
      c.grads.forEach((g, i) => {
        if (g === null) return;
        const x = xs[i];
        expect(x.grad, `grad of input ${i}`).not.toBeNull();
        expect(x.grad!.shape, `grad ${i} shape`).toEqual(x.shape);
        compare(x.grad!.dataSync(), g, `grad of input ${i}`);
      });
    });
  }
});
