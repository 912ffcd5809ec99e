// Autograd: backward with explicit gradients, accumulation, noGrad, detach,
// retainGrad, gb.autograd.{grad, vjp, jacobian, gradcheck, graph}, anomaly mode,
// and the error messages. PyTorch values come from reference.json (made by
// make_reference.py); the gradcheck sweep runs over every differentiable case of
// tests/engine/ops/reference.json.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";
import { apply } from "../../../engine/autograd.ts";
import { OPS, asList, inputsOf, reference as opsReference } from "../ops/cases.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));

const T = (s: { shape: number[]; values: number[] }, requiresGrad = false) => gb.tensor(Float32Array.from(s.values), { shape: s.shape, requiresGrad });

/** |got - want| <= 1e-6 + 1e-5 |want| elementwise (float32 on both sides). */
function close(got: Tensor | null, want: { shape: number[]; values: number[] }, what: string): void {
  expect(got, what).not.toBeNull();
  expect(got!.shape, `${what}: shape`).toEqual(want.shape);
  const g = got!.dataSync();
  for (let i = 0; i < want.values.length; i++) {
    if (!(Math.abs(g[i] - want.values[i]) <= 1e-6 + 1e-5 * Math.abs(want.values[i]))) {
      expect.fail(`${what}: element ${i} is ${g[i]}, PyTorch has ${want.values[i]}`);
    }
  }
}

describe("backward", () => {
  it("takes an explicit upstream gradient for a non-scalar output (tensor or nested array)", async () => {
    const r = ref.explicit_gradient;
    const x = T(r.x, true);
    const y = x.tanh().mul(x);
    close(y, r.y, "y");
    await y.backward(T(r.gradient));
    close(x.grad, r.x_grad, "x.grad");
    const x2 = T(r.x, true);
    const nested = (await T(r.gradient).toArray()) as number[][];
    await x2.tanh().mul(x2).backward(nested);
    close(x2.grad, r.x_grad, "x.grad (nested-array gradient)");
  });

  it("accumulates into .grad across two backward calls", async () => {
    const r = ref.accumulate;
    const x = T(r.x, true), w = T(r.w, true);
    await x.exp().mul(w).sum().backward();
    close(x.grad, r.x_grad_1, "x.grad after the first backward");
    close(w.grad, r.w_grad_1, "w.grad after the first backward");
    await x.sin().mul(w).mul(w).sum().backward();
    close(x.grad, r.x_grad_2, "x.grad after the second backward");
    close(w.grad, r.w_grad_2, "w.grad after the second backward");
    x.zeroGrad();
    expect(x.grad).toBeNull();
  });

  it("backpropagating the same graph twice doubles the gradient (torch needs retain_graph)", async () => {
    const r = ref.backward_twice;
    const x = T(r.x, true);
    const loss = x.mul(x).mul(x).sum();
    await loss.backward();
    await loss.backward();
    close(x.grad, r.x_grad, "x.grad");
  });

  it("retainGrad keeps an intermediate's gradient; others stay null", async () => {
    const r = ref.retain_grad;
    const x = T(r.x, true), W = T(r.W, true);
    const h = x.matmul(W).retainGrad();
    const t = h.tanh();
    await t.pow(2).sum().backward();
    close(h.grad, r.h_grad, "h.grad");
    close(x.grad, r.x_grad, "x.grad");
    close(W.grad, r.W_grad, "W.grad");
    expect(t.grad).toBeNull();
    expect(h.isLeaf).toBe(false);
    expect(x.isLeaf).toBe(true);
  });

  it("a tensor used twice gets the sum of both paths", async () => {
    const x = gb.tensor([1.5, -2], { requiresGrad: true });
    await x.mul(x).add(x).sum().backward(); // d/dx (x^2 + x) = 2x + 1
    expect(Array.from(x.grad!.dataSync())).toEqual([4, -3]);
  });
});

describe("noGrad and detach", () => {
  it("noGrad (sync) records nothing and restores grad mode, also after a throw", () => {
    const x = gb.tensor([1, 2], { requiresGrad: true });
    const y = gb.noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(gb.isGradEnabled()).toBe(true);
    expect(() => gb.noGrad(() => { throw new Error("boom"); })).toThrow("boom");
    expect(gb.isGradEnabled()).toBe(true);
    expect(x.mul(2).requiresGrad).toBe(true);
  });

  it("noGrad (async) stays off across awaits and restores afterwards", async () => {
    const x = gb.tensor([1, 2], { requiresGrad: true });
    const p = gb.noGrad(async () => {
      await new Promise((r) => setTimeout(r, 1));
      expect(gb.isGradEnabled()).toBe(false);
      const v = await x.mul(3).data();
      return { y: x.mul(2), v };
    });
    const { y, v } = await p;
    expect(Array.from(v)).toEqual([3, 6]);
    expect(y.requiresGrad).toBe(false);
    expect(gb.isGradEnabled()).toBe(true);
    await expect(gb.noGrad(async () => { throw new Error("async boom"); })).rejects.toThrow("async boom");
    expect(gb.isGradEnabled()).toBe(true);
  });

  it("enableGrad turns recording back on inside noGrad", () => {
    const x = gb.tensor([1, 2], { requiresGrad: true });
    const y = gb.noGrad(() => gb.enableGrad(() => x.mul(2)));
    expect(y.requiresGrad).toBe(true);
  });

  it("detach shares values but cuts the graph", async () => {
    const x = gb.tensor([1.5, -2], { requiresGrad: true });
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.gradFn).toBeNull();
    expect(Array.from(d.dataSync())).toEqual([1.5, -2]);
    await d.mul(x).sum().backward(); // only the x path: d/dx = d
    expect(Array.from(x.grad!.dataSync())).toEqual([1.5, -2]);
  });
});

describe("gb.autograd", () => {
  it("grad returns gradients without touching .grad", () => {
    const r = ref.grad;
    const x = T(r.x, true), W = T(r.W, true);
    const [gx, gW] = gb.autograd.grad(x.matmul(W).sigmoid().sum(), [x, W]);
    close(gx, r.gx, "dx");
    close(gW, r.gW, "dW");
    expect(x.grad).toBeNull();
    expect(W.grad).toBeNull();
  });

  it("grad with gradOutputs for a non-scalar output", () => {
    const r = ref.grad_outputs;
    const x = T(r.x, true);
    const [gx] = gb.autograd.grad(x.exp().mul(x), x, T(r.v));
    close(gx, r.gx, "dx");
    expect(() => gb.autograd.grad(x.exp(), x)).toThrow(/grad: grad can be implicitly created only for scalar outputs \(got shape 3\)/);
  });

  it("vjp", () => {
    const r = ref.vjp;
    const [fx, [vj]] = gb.autograd.vjp((t) => t.matmul(t).tanh(), T(r.x), T(r.v));
    close(fx, r.fx, "f(x)");
    close(vj, r.vjp, "vjp");
  });

  it("jacobian of the element-wise square is diag(2x)", () => {
    const r = ref.jacobian_square;
    const x = T(r.x);
    const J = gb.autograd.jacobian((t) => t.mul(t), x);
    close(J, r.J, "J");
    const diag = gb.eye(4).mul(x.mul(2).unsqueeze(0));
    expect(Array.from(J.dataSync())).toEqual(Array.from(diag.dataSync()));
  });

  it("jacobian of nonlinear functions matches torch.autograd.functional.jacobian", () => {
    const r = ref.jacobian_nonlinear;
    close(gb.autograd.jacobian((t) => t.tanh().mul(t.sum()).add(t.exp().div(t.mul(t).add(1))), T(r.x)), r.J, "J");
    const s = ref.jacobian_softmax;
    close(gb.autograd.jacobian((t) => t.softmax(1), T(s.x)), s.J, "softmax J");
  });

  it("graph: the micrograd example tanh(a*b + c)", async () => {
    const r = ref.micrograd;
    const a = gb.tensor(2, { requiresGrad: true }), b = gb.tensor(-3, { requiresGrad: true }), c = gb.tensor(6.8813735870195432, { requiresGrad: true });
    a.name = "a";
    b.name = "b";
    c.name = "c";
    const e = a.mul(b).retainGrad();
    const n = e.add(c).retainGrad();
    const o = n.tanh().retainGrad();
    await o.backward();
    const nodes = await gb.autograd.graph(o);
    expect(nodes.map((x) => x.op).sort()).toEqual(["add", "leaf", "leaf", "leaf", "mul", "tanh"]);
    const byOp = (op: string, name?: string) => nodes.find((x) => x.op === op && (name === undefined || x.name === name))!;
    const want: Record<string, [ReturnType<typeof byOp>, string]> = {
      a: [byOp("leaf", "a"), "a"], b: [byOp("leaf", "b"), "b"], c: [byOp("leaf", "c"), "c"],
      e: [byOp("mul"), "e"], n: [byOp("add"), "n"], o: [byOp("tanh"), "o"],
    };
    for (const [k, [node]] of Object.entries(want)) {
      expect(node.shape, k).toEqual([]);
      expect(node.value![0], `${k} value`).toBeCloseTo(r[k].value, 5);
      expect(node.grad![0], `${k} grad`).toBeCloseTo(r[k].grad, 5);
    }
    // inputs point at the right nodes, and every node comes after its inputs
    expect(want.e[0].inputs.map((i) => nodes[i].name).sort()).toEqual(["a", "b"]);
    expect(want.o[0].inputs).toEqual([want.n[0].id]);
    for (const node of nodes) for (const i of node.inputs) expect(i).toBeLessThan(node.id);
  });
});

describe("gradcheck", () => {
  // every differentiable op of the ops table, on its reference inputs; the cases marked
  // "kink" (ties, boundaries, zeros of abs/relu/clamp...) are not differentiable there
  const cases = opsReference.cases.filter((c) => c.grads && !c.kink);
  // float32 central differences with the default eps 1e-3 need x ± eps to be representable:
  // the "large" cases have inputs near ±1000 where float32's spacing is 6e-5 (and f itself is
  // ~1000), so they use eps = 1/64 (exact there) and atol 1e-2. Every other case: the defaults.
  const opts: Record<string, gb.autograd.GradcheckOptions> = {
    logsumexp_large: { eps: 1 / 64, atol: 1e-2 },
    log_softmax_large: { eps: 1 / 64, atol: 1e-2 },
  };
  it("covers the differentiable ops", () => {
    expect(cases.length).toBeGreaterThan(100);
  });
  for (const c of cases) {
    it(c.name, () => {
      const xs = inputsOf(c);
      const diff = xs.map((x, i) => (x.requiresGrad ? i : -1)).filter((i) => i >= 0);
      const f = (...ys: Tensor[]) => {
        const all = xs.map((x) => x.detach());
        diff.forEach((k, j) => (all[k] = ys[j]));
        const outs = asList(OPS[c.name](...all)).filter((o) => o.dtype === "float32");
        return outs.length === 1 ? outs[0] : gb.cat(outs.map((o) => o.reshape([-1])));
      };
      expect(gb.autograd.gradcheck(f, diff.map((k) => xs[k]), opts[c.name])).toBe(true);
    });
  }

  it("detects a wrong backward (a custom op via apply)", () => {
    // square with a backward missing the factor 2
    const badSquare = (x: Tensor) => apply("badSquare", [x], x.backend.ops.unary(x._d, { op: "square" }), (g) => [g.mul(x)]);
    const x = gb.tensor([0.5, -1.25, 2]);
    expect(() => gb.autograd.gradcheck(badSquare, x)).toThrow(/gradcheck: Jacobian mismatch for input 0/);
    expect(gb.autograd.gradcheck(badSquare, x, { raiseException: false })).toBe(false);
    const goodSquare = (t: Tensor) => apply("goodSquare", [t], t.backend.ops.unary(t._d, { op: "square" }), (g) => [g.mul(t).mul(2)]);
    expect(gb.autograd.gradcheck(goodSquare, x)).toBe(true);
  });

  it("detects a NaN gradient", () => {
    const nanGrad = (x: Tensor) => apply("nanGrad", [x], x.backend.ops.unary(x._d, { op: "square" }), (g) => [g.mul(NaN)]);
    expect(() => gb.autograd.gradcheck(nanGrad, gb.tensor([0.5, 1]))).toThrow(/Jacobian mismatch/);
  });
});

describe("anomaly mode", () => {
  it("log(0) in a loss throws naming op 'log' (setDetectAnomaly)", () => {
    const x = gb.tensor([0, 1], { requiresGrad: true });
    expect(() => x.log().sum()).not.toThrow(); // off by default
    gb.setDetectAnomaly(true);
    try {
      expect(() => x.log().sum()).toThrow(/anomaly: op 'log' produced Inf/);
    } finally {
      gb.setDetectAnomaly(false);
    }
  });

  it("detectAnomaly(fn) scopes the check, sync and async", async () => {
    const x = gb.tensor([-1, 1]);
    expect(() => gb.detectAnomaly(() => x.sqrt())).toThrow(/anomaly: op 'sqrt' produced NaN/);
    expect(() => x.sqrt()).not.toThrow();
    await expect(gb.detectAnomaly(async () => x.log())).rejects.toThrow(/op 'log' produced NaN/);
    expect(() => x.log()).not.toThrow();
  });

  it("a NaN made in backward names the backward op", async () => {
    const x = gb.tensor([0, 4], { requiresGrad: true });
    const loss = x.sqrt().mul(0).sum(); // finite forward; sqrt's backward computes 0 / (2 * 0)
    await expect(gb.detectAnomaly(() => loss.backward())).rejects.toThrow(/anomaly: the backward of op 'sqrt' \(input 0\) produced NaN/);
  });
});

describe("error messages name the op and the shapes", () => {
  const x23 = gb.zeros([2, 3]);
  it("matmul", () => {
    expect(() => x23.matmul(gb.zeros([4, 5]))).toThrow("matmul: cannot multiply 2x3 by 4x5");
    expect(() => gb.mm(x23, gb.zeros([4]))).toThrow("mm: expected 2-D tensors, got 2x3 and 4");
    expect(() => gb.bmm(gb.zeros([2, 2, 3]), gb.zeros([3, 3, 2]))).toThrow("bmm: expected 3-D tensors with the same batch size, got 2x2x3 and 3x3x2");
    expect(() => gb.dot(gb.zeros([3]), gb.zeros([4]))).toThrow("dot: expected two 1-D tensors of the same length, got 3 and 4");
    expect(() => gb.matmul(gb.zeros([2, 2, 3]), gb.zeros([3, 3, 2]))).toThrow(/matmul: shapes 2 and 3 cannot be broadcast together/);
  });
  it("broadcasting", () => {
    expect(() => x23.add(gb.zeros([4]))).toThrow("add: shapes 2x3 and 4 cannot be broadcast together (dimension 1: 3 vs 4)");
    expect(() => x23.mul(gb.zeros([3, 3]))).toThrow(/mul: shapes 2x3 and 3x3 cannot be broadcast together/);
    expect(() => gb.where(gb.ones([2, 1]).bool(), x23, gb.zeros([2]))).toThrow(/where: shapes 2x3 and 2 cannot be broadcast together/);
    expect(() => gb.zeros([3, 1]).expand(2, 3)).toThrow(/expand: the expanded size 2 must match the existing size 3 at dimension 0/);
    expect(() => gb.addcmul(x23, x23, gb.zeros([2]))).toThrow(/addcmul: shapes 2x3 and 2 cannot be broadcast together/);
    expect(() => gb.addcmul(x23, x23, gb.zeros([3], { dtype: "int32" }))).toThrow("addcmul: tensor2 must be float32, got int32 (convert with .float())");
  });
  it("reshape, cat, stack, split", () => {
    expect(() => x23.reshape([4, 4])).toThrow("reshape: shape [4, 4] is invalid for input of size 6 (shape 2x3)");
    expect(() => x23.reshape([-1, 4])).toThrow("reshape: shape [-1, 4] is invalid for input of size 6 (shape 2x3)");
    expect(() => gb.cat([x23, gb.zeros([3, 2])])).toThrow("cat: sizes of tensors must match except in dimension 0: got 2x3 and 3x2");
    expect(() => gb.stack([x23, gb.zeros([3, 2])])).toThrow("stack: expects each tensor to be equal size, but got 2x3 and 3x2");
    expect(() => x23.split([1, 1], 1)).toThrow("split: sizes [1, 1] do not add up to 3 (dimension 1 of shape 2x3)");
    expect(() => x23.split(0)).toThrow("split: split size must be a positive integer, got 0");
    expect(() => x23.chunk(0)).toThrow("chunk: the number of chunks must be a positive integer, got 0");
    expect(() => gb.outer(x23, gb.zeros([3]))).toThrow("outer: expected two 1-D tensors, got 2x3 and 3");
    expect(() => x23.narrow(1, 2, 2)).toThrow("narrow: start 2 and length 2 are out of range for dimension 1 of size 3 (shape 2x3)");
    expect(() => gb.pad(x23, [-2, -2])).toThrow(/pad: padding .* would give a negative size for shape 2x3/);
  });
  it("dimensions and indices out of range", () => {
    expect(() => x23.sum(2)).toThrow("sum: dimension 2 is out of range for a tensor with 2 dimensions");
    expect(() => x23.softmax(-3)).toThrow("softmax: dimension -3 is out of range for a tensor with 2 dimensions");
    expect(() => x23.index(2)).toThrow("index: index 2 is out of bounds for dimension 0 with size 2 (shape 2x3)");
    expect(() => x23.index(0, 0, 0)).toThrow("index: too many indices (3) for a tensor of shape 2x3");
    expect(() => x23.index(":", [0, 0, 2, 2] as never)).toThrow('index: [0,0,2,2] is not a slice — a slice is [start, end, step] (at most 3 integers); to pick elements, index with an int32 tensor');
    expect(() => x23.index(gb.tensor([0, 5], { dtype: "int32" }))).toThrow("indexSelect: index 5 is out of bounds for dimension 0 with size 2");
    expect(() => x23.gather(1, gb.tensor([[0], [3]], { dtype: "int32" }))).toThrow("gather: index 3 is out of bounds for dimension 1 with size 3");
    expect(() => x23.index(gb.tensor([0, 1], { dtype: "int32" }), gb.tensor([0, 7], { dtype: "int32" }))).toThrow("index: index 7 is out of bounds for dimension 1 with size 3 (shape 2x3)");
    expect(() => x23.permute(0, 0)).toThrow("permute: dims [0, 0] repeat a dimension");
    expect(() => x23.gather(1, gb.zeros([3, 1], { dtype: "int32" }))).toThrow("gather: index of shape 3x1 is larger than the input 2x3 at dimension 0 (only dimension 1 may differ)");
    expect(() => x23.gather(1, gb.zeros([2], { dtype: "int32" }))).toThrow("gather: index 2 must have as many dimensions as the input 2x3");
    expect(() => x23.gather(1, gb.zeros([2, 1]))).toThrow("gather: index must be an int32 tensor, got float32");
    expect(() => x23.indexSelect(0, gb.zeros([2, 1], { dtype: "int32" }))).toThrow("indexSelect: index must be 1-D, got shape 2x1");
  });
  it("gradients: int tensors, non-scalar backward, wrong gradient shape", async () => {
    expect(() => gb.tensor([1, 2], { dtype: "int32", requiresGrad: true })).toThrow("requiresGrad: only float32 tensors can require gradients (this one is int32)");
    const x = gb.tensor([1, 2], { requiresGrad: true });
    await expect(x.mul(2).backward()).rejects.toThrow("backward: grad can be implicitly created only for scalar outputs; this tensor has shape 2 — pass a gradient of that shape");
    await expect(x.mul(2).backward(gb.ones([3]))).rejects.toThrow("backward: gradient of shape 3 does not match the output's shape 2");
    await expect(gb.zeros([2]).sum().backward()).rejects.toThrow("backward: the tensor (shape scalar) does not require grad and has no grad_fn");
    expect(() => gb.tensor([1, 2], { dtype: "int32" }).mean()).toThrow("mean: expected a float32 tensor, got int32 (convert with .float())");
  });
  // Mixing devices ("add: expected all tensors on the same device, but found cpu and gpu") is
  // tested with the WebGPU backend in tests/engine/webgpu/device.test.ts.
});
