// Shared by the model tests: make_reference.py's formula weights and inputs, and the check of a
// model against one reference entry (parameter count, state-dict names and shapes, outputs).
import { readFileSync } from "node:fs";
import { expect } from "vitest";
import * as gb from "../../../engine/index.ts";
import type { nn, Tensor } from "../../../engine/index.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));

/** The weights of make_reference.py: tensor k, element i -> ((i*7919 + k*104729) % 2001 - 1000) / 1000, scaled (running variances |v| + 0.5). */
export function fillFormula(model: nn.Module): void {
  Object.entries(model.stateDict()).forEach(([name, p], k) => {
    if (p.dtype !== "float32") return; // BatchNorm's numBatchesTracked
    const n = p.numel();
    const v = new Float32Array(n);
    const scale = p.ndim >= 2 ? 1 / Math.sqrt(n / p.shape[0]) : 0.1;
    // r = (i * 7919 + k * 104729) % 2001, stepped incrementally (7919 % 2001 = 1916)
    let r = (k * 104729) % 2001;
    for (let i = 0; i < n; i++) {
      v[i] = name.endsWith("running_var") ? Math.abs((r - 1000) / 1000) + 0.5 : ((r - 1000) / 1000) * scale;
      r += 1916;
      if (r >= 2001) r -= 2001;
    }
    p.assign(gb.tensor(v, { shape: p.shape, device: p.device }));
  });
}

/** make_reference.py's input: element i -> ((i * 31) % 257) / 256 - 0.5. */
export function formulaInput(shape: number[], device: gb.Device = "cpu"): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = ((i * 31) % 257) / 256 - 0.5;
  return gb.tensor(v, { shape, device });
}

/** Parameter count, state-dict names and shapes, output shapes and (with formula weights) outputs equal the reference entry `r`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function checkAgainst(model: nn.Module, r: any, opts: { shapes?: boolean } = {}): void {
  model.eval();
  expect(model.numParameters()).toBe(r.params);
  const sd = Object.entries(model.stateDict()).map(([k, v]) => [k, v.shape]);
  expect(sd).toEqual(r.stateDict);
  gb.noGrad(() => {
    if (opts.shapes !== false) for (const s of r.outputShapes) expect(model.call(gb.zeros(s.input)).shape).toEqual(s.output);
    if (r.values) {
      fillFormula(model);
      const y = model.call(formulaInput(r.values.input)).dataSync();
      const want: number[] = r.values.output;
      const scale = Math.max(...want.map(Math.abs));
      want.forEach((w, i) => {
        if (!(Math.abs(y[i] - w) <= 1e-4 * scale + 1e-4 * Math.abs(w))) expect.fail(`output ${i} is ${y[i]}, PyTorch gives ${w}`);
      });
    }
  });
}
