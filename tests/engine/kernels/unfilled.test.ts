// Op results allocated without zero-filling (engine/backends/cpu/alloc.ts: under Node, large
// outputs come from Buffer.allocUnsafeSlow, whose memory may hold old values): every op that takes
// such an array writes all of it. With the poison mode on, those arrays come filled with NaN (int32
// 0x7fffffff, bool 0xa5), so an element an op leaves unwritten shows: every case of the ops'
// PyTorch reference, forward and gradients, still matches; the large WASM paths (element-wise,
// GEMM, implicit convolution, pooling, movement ops) give the same bits as with zeroed arrays.
import { afterAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { setUnfilledPoison } from "../../../engine/backends/cpu/alloc.ts";
import { setWasmMode } from "../../../engine/backends/cpu/kernels/index.ts";
import { checkAgainstReference, reference as opsRef } from "../ops/cases.ts";
import { rand } from "./xorshift.ts";

afterAll(() => {
  setUnfilledPoison(false);
  setWasmMode("auto");
});

describe("ops vs PyTorch with every unfilled result poisoned", () => {
  it("every case of tests/engine/ops/reference.json, forward and gradients", async () => {
    setUnfilledPoison(true);
    try {
      for (const c of opsRef.cases) await checkAgainstReference(c);
    } finally {
      setUnfilledPoison(false);
    }
  });
});

describe("large ops (the WASM paths, and the TypeScript ones) with poisoned results", () => {
  const t = (shape: number[], seed: number, requiresGrad = false) =>
    gb.tensor(rand(shape.reduce((a, b) => a * b, 1), seed).map((v) => 2 * v), { shape, requiresGrad });

  /** Outputs and input gradients of `fn`, as arrays. */
  const run = async (fn: () => { outs: gb.Tensor[]; grads?: gb.Tensor[] }) => {
    const { outs, grads = [] } = fn();
    const loss = outs.filter((o) => o.requiresGrad).reduce<gb.Tensor | null>((s, o, k) => {
      const term = o.mul(t(o.shape, 100 + k)).sum();
      return s ? s.add(term) : term;
    }, null);
    if (loss) await loss.backward();
    return [...outs.map((o) => o.dataSync()), ...grads.map((g) => g.grad!.dataSync())];
  };

  const cases: Record<string, () => { outs: gb.Tensor[]; grads?: gb.Tensor[] }> = {
    "unary (tanh, exp, sigmoid, neg, abs) and their gradients": () => {
      const x = t([70_001], 1, true);
      return { outs: [x.tanh(), x.exp(), x.sigmoid(), x.neg(), x.abs()], grads: [x] };
    },
    "binary, same shape, scalar and broadcast (a linear layer's bias)": () => {
      const a = t([300, 120], 2, true), b = t([300, 120], 3, true), bias = t([120], 4, true);
      return { outs: [a.mul(b), a.add(2.5), a.sub(bias), a.div(b.abs().add(1)), a.gt(b)], grads: [a, b, bias] };
    },
    "where, clamp, addcmul, cast": () => {
      const a = t([40_000], 5), b = t([40_000], 6);
      return { outs: [gb.where(a.gt(0), a, b), a.clamp(-1, 1), a.addcmul(b, gb.tensor(0.5)), a.int(), a.gt(0).float()] };
    },
    "matmul (and with K = 0)": () => {
      const a = t([150, 170], 7, true), b = t([170, 130], 8, true);
      return { outs: [a.matmul(b), gb.zeros([200, 0]).matmul(gb.zeros([0, 90]))], grads: [a, b] };
    },
    "movement: permute, expand, slice, concat": () => {
      const a = t([40, 30, 20], 9, true);
      return { outs: [a.permute([2, 0, 1]), a.slice(1, 3, 27, 2), gb.cat([a, a], 1), t([1, 30, 20], 10).expand([40, 30, 20])], grads: [a] };
    },
    "conv2d 5x5 with padding (the implicit GEMM), forward and both gradients": () => {
      const x = t([8, 6, 14, 14], 11, true), w = t([16, 6, 5, 5], 12, true), bias = t([16], 13, true);
      return { outs: [gb.nn.functional.conv2d(x, w, bias, { padding: 2 }), gb.nn.functional.conv2d(x, w, null)], grads: [x, w, bias] };
    },
    "2x2 max pooling's gradient, even and odd sizes, and with indices of other windows (the scatter)": () => {
      const even = t([16, 6, 28, 28], 16, true), odd = t([16, 6, 27, 29], 17, true), k3 = t([4, 6, 16, 16], 18, true);
      const f = gb.nn.functional;
      return { outs: [f.maxPool2d(even, 2), f.maxPool2d(odd, 2), f.maxPool2d(k3, 3, { stride: 2, padding: 1 })], grads: [even, odd, k3] };
    },
    "2x2 average pooling after tanh / sigmoid / relu (the fused gradient), 4 and 7 columns out": () => {
      const x = t([16, 6, 8, 14], 19, true), f = gb.nn.functional;
      return { outs: [f.avgPool2d(x.tanh(), 2), f.avgPool2d(x.sigmoid(), 2), f.avgPool2d(x.relu(), 2), f.avgPool2d(x.slice(3, 0, 8).tanh(), 2)], grads: [x] };
    },
    "2x2 max pooling after relu (the fused gradient), even and odd sizes": () => {
      const even = t([16, 6, 28, 28], 20, true), odd = t([16, 6, 27, 29], 21, true), f = gb.nn.functional;
      return { outs: [f.maxPool2d(even.relu(), 2), f.maxPool2d(odd.relu(), 2)], grads: [even, odd] };
    },
    "2x2 average pooling, even and odd sizes, forward and gradient": () => {
      const even = t([16, 6, 28, 28], 14, true), odd = t([16, 6, 27, 29], 15, true);
      return { outs: [gb.nn.functional.avgPool2d(even, 2), gb.nn.functional.avgPool2d(odd, 2)], grads: [even, odd] };
    },
  };

  for (const [name, fn] of Object.entries(cases)) for (const mode of ["auto", "js"] as const) {
    it(`${name} (${mode === "js" ? "TypeScript loops" : "WASM"})`, async () => {
      setWasmMode(mode);
      const zeroed = await run(fn);
      setUnfilledPoison(true);
      let poisoned: ArrayLike<number>[];
      try {
        poisoned = await run(fn);
      } finally {
        setUnfilledPoison(false);
      }
      poisoned.forEach((p, k) => {
        expect(p.length, `${name}: result ${k}`).toBe(zeroed[k].length);
        for (let i = 0; i < p.length; i++) {
          if (!Object.is(p[i], zeroed[k][i])) expect.fail(`${name}: result ${k}, element ${i} is ${p[i]} with poisoned memory, ${zeroed[k][i]} with zeroed`);
        }
      });
    });
  }
});
