/**
 * gb.autograd: gradients as functions (grad, vjp, jacobian), finite-difference
 * gradcheck, and an inspectable view of the graph behind a tensor.
 */
import { detectAnomaly, enableGrad, noGrad, runBackward, setDetectAnomaly } from "./autograd.js";
import { shapeStr, sizeOf } from "./shape.js";
import { Tensor } from "./tensor.js";

/** d(outputs)/d(inputs) contracted with gradOutputs (ones for scalars), as torch.autograd.grad. Leaves' .grad untouched. */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], gradOutputs?: Tensor | Tensor[]): Tensor[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const ins = Array.isArray(inputs) ? inputs : [inputs];
  const gos = gradOutputs === undefined ? outs.map((o) => {
    if (o.numel() !== 1) throw new Error(`grad: grad can be implicitly created only for scalar outputs (got shape ${shapeStr(o.shape)}); pass gradOutputs`);
    return Tensor.fromData(Float32Array.of(1), [...o.shape], "float32", o.device);
  }) : Array.isArray(gradOutputs) ? gradOutputs : [gradOutputs];
  for (const x of ins) if (!x.requiresGrad) throw new Error(`grad: an input (shape ${shapeStr(x.shape)}) does not require grad`);
  const g = runBackward(outs, gos, { inputs: ins, accumulate: false });
  return ins.map((x) => g.get(x) ?? Tensor.fromData(new Float32Array(x.numel()), [...x.shape], "float32", x.device));
}

function asInput(x: Tensor): Tensor {
  return x.detach().requiresGrad_(true);
}

/** Vector-Jacobian product: returns [f(x), v^T J]. */
export function vjp(f: (...xs: Tensor[]) => Tensor, inputs: Tensor | Tensor[], v: Tensor): [Tensor, Tensor[]] {
  const xs = (Array.isArray(inputs) ? inputs : [inputs]).map(asInput);
  const y = enableGrad(() => f(...xs));
  if (!y.requiresGrad) return [y.detach(), xs.map((x) => Tensor.fromData(new Float32Array(x.numel()), [...x.shape], "float32", x.device))];
  return [y.detach(), grad(y, xs, v)];
}

/**
 * The Jacobian of f at x: shape [...f(x).shape, ...x.shape]. For element-wise square
 * it is diag(2x) — the example from the lecture.
 */
export function jacobian(f: (x: Tensor) => Tensor, x: Tensor): Tensor {
  const xi = asInput(x);
  const y = enableGrad(() => f(xi));
  const m = y.numel(), n = xi.numel();
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    const e = new Float32Array(m);
    e[i] = 1;
    if (!y.requiresGrad) break;
    const [g] = grad(y, [xi], Tensor.fromData(e, [...y.shape], "float32", y.device));
    out.set(g.dataSync(), i * n);
  }
  return Tensor.fromData(out, [...y.shape, ...x.shape], "float32", "cpu");
}

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Throw on failure (default) or return false. */
  raiseException?: boolean;
}

/**
 * Compares autograd's gradients of sum(f(inputs) * r) (r random) with central
 * finite differences. Float32 arithmetic, so the default tolerances are those of float32.
 */
export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor | Tensor[], opts: GradcheckOptions = {}): boolean {
  const eps = opts.eps ?? 1e-3, atol = opts.atol ?? 1e-3, rtol = opts.rtol ?? 1e-2;
  const xs = (Array.isArray(inputs) ? inputs : [inputs]).map((x) => (x.dtype === "float32" ? asInput(x) : x.detach()));
  const y0 = enableGrad(() => f(...xs));
  const r = new Float32Array(y0.numel());
  for (let i = 0; i < r.length; i++) r[i] = 0.5 + ((i * 7919) % 13) / 13; // fixed, non-uniform weights
  const R = Tensor.fromData(r, [...y0.shape], "float32", y0.device);
  const scalarOf = (y: Tensor) => {
    const v = y.dataSync();
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * r[i];
    return s;
  };
  const diff = xs.filter((x) => x.requiresGrad);
  const analytic = y0.requiresGrad ? grad(y0, diff, R) : diff.map((x) => Tensor.fromData(new Float32Array(x.numel()), [...x.shape], "float32"));
  for (let k = 0; k < diff.length; k++) {
    const x = diff[k];
    const vals = x.backend.readSync(x._d) as Float32Array;
    const a = analytic[k].dataSync();
    for (let i = 0; i < vals.length; i++) {
      const orig = vals[i];
      vals[i] = orig + eps;
      const fp = noGrad(() => scalarOf(f(...xs)));
      vals[i] = orig - eps;
      const fm = noGrad(() => scalarOf(f(...xs)));
      vals[i] = orig;
      const numeric = (fp - fm) / (2 * eps);
      if (!(Math.abs(numeric - a[i]) <= atol + rtol * Math.abs(numeric))) { // NaN on either side fails
        const msg = `gradcheck: Jacobian mismatch for input ${xs.indexOf(x)} (shape ${shapeStr(x.shape)}) at flat index ${i}: numerical ${numeric.toPrecision(6)}, analytical ${a[i].toPrecision(6)}`;
        if (opts.raiseException === false) return false;
        throw new Error(msg);
      }
    }
  }
  return true;
}

/** One node of an inspected graph. */
export interface GraphNode {
  id: number;
  /** The op that made the tensor, or "leaf". */
  op: string;
  name?: string;
  shape: number[];
  requiresGrad: boolean;
  /** Values (only for tensors of at most `maxValues` elements). */
  value?: number[];
  /** The gradient of the root with respect to this tensor, where known. */
  grad?: number[];
  /** Ids of the input nodes. */
  inputs: number[];
}

export interface GraphOptions {
  /** Values and grads are included for tensors of at most this many elements (default 16). */
  maxValues?: number;
  /**
   * Gradients shown: "stored" (each tensor's `.grad`: leaves after backward), "all" (also
   * d(root)/d(node) for intermediate nodes of a scalar root, computed without touching `.grad`,
   * as micrograd shows them), or "auto" (default: "all" once backward has filled some leaf's `.grad`).
   */
  grads?: "auto" | "stored" | "all";
}

/** Every tensor the graph behind `root` reaches (constants included), inputs before the tensors made from them. */
function graphOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    const ins = t.gradFn?.inputs ?? [];
    for (let i = ins.length - 1; i >= 0; i--) if (!seen.has(ins[i])) stack.push([ins[i], false]);
  }
  return order;
}

/**
 * The graph behind `root` as plain data (op names, shapes, values, grads), inputs first —
 * what a widget needs to draw it as micrograd's draw_dot does.
 */
export async function graph(root: Tensor, opts: GraphOptions = {}): Promise<GraphNode[]> {
  const maxValues = opts.maxValues ?? 16;
  const mode = opts.grads ?? "auto";
  const order = graphOrder(root);
  const ids = new Map(order.map((t, i) => [t, i] as const));
  const computed = new Map<Tensor, Tensor>();
  const backwardRan = order.some((t) => t.gradFn === null && t.grad);
  if ((mode === "all" || (mode === "auto" && backwardRan)) && root.requiresGrad && root.numel() === 1) {
    const need = order.filter((t) => t.gradFn !== null && t.requiresGrad && !t.grad);
    if (need.length) grad(root, need).forEach((g, i) => computed.set(need[i], g));
  }
  const nodes: GraphNode[] = [];
  for (const t of order) {
    const node: GraphNode = {
      id: ids.get(t)!,
      op: t.gradFn ? t.gradFn.op : "leaf",
      shape: [...t.shape],
      requiresGrad: t.requiresGrad,
      inputs: t.gradFn ? t.gradFn.inputs.filter((x) => ids.has(x)).map((x) => ids.get(x)!) : [],
    };
    if (t.name) node.name = t.name;
    if (sizeOf(t.shape) <= maxValues) {
      node.value = Array.from(await t.data());
      const g = t.grad ?? computed.get(t);
      if (g) node.grad = Array.from(await g.data());
    }
    nodes.push(node);
  }
  return nodes;
}

export { noGrad, enableGrad, detectAnomaly, setDetectAnomaly };
