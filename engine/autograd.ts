/**
 * Reverse-mode automatic differentiation, micrograd-style: every op that takes a
 * tensor requiring grad records a GradFn holding its inputs and a backward
 * closure written beside the op's forward (see ops/). `backward()` walks the
 * graph in reverse topological order and accumulates into leaves' `.grad`.
 */
import type { TensorData } from "./op-table.js";
import { shapeStr, shapesEqual } from "./shape.js";
import { Tensor } from "./tensor.js";

/** Given the gradient of the op's output, the gradients of its inputs (null: none). */
export type BackwardFn = (grad: Tensor, out: Tensor) => (Tensor | null | undefined)[];

/**
 * A backward rule through two ops at once: given the gradient of the op's output, the gradient
 * with respect to the input of `input` (the op's only tensor input) through the op that made
 * `input` too, or null where it cannot (the walk then runs the two rules). backward() uses it
 * only where nothing else needs the gradient of `input` (see walk).
 */
export type FusedBackwardFn = (grad: Tensor, out: Tensor, input: Tensor) => Tensor | null;

/** A node of the autograd graph: the op that made a tensor, its inputs and its local backward rule. */
export class GradFn {
  constructor(
    readonly op: string,
    readonly inputs: readonly Tensor[],
    readonly backward: BackwardFn,
    readonly attrs?: Record<string, unknown>,
    /** the rule through this op and the op before it at once (e.g. a pooling and its activation) */
    readonly fused?: FusedBackwardFn,
  ) {}
  /** PyTorch-like name, e.g. "MulBackward". */
  get name(): string {
    return this.op.charAt(0).toUpperCase() + this.op.slice(1) + "Backward";
  }
}

const state = { gradEnabled: true, anomaly: false };

export function isGradEnabled(): boolean {
  return state.gradEnabled;
}

/** Runs `fn` with `state[key]` set to `value`, restoring it when fn returns, throws, or its promise settles. */
function withState<T>(key: keyof typeof state, value: boolean, fn: () => T): T {
  const prev = state[key];
  state[key] = value;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    state[key] = prev;
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => void (state[key] = prev)) as T;
  state[key] = prev;
  return result;
}

/** Runs `fn` without recording the autograd graph (torch.no_grad). `fn` may be async. */
export function noGrad<T>(fn: () => T): T {
  return withState("gradEnabled", false, fn);
}

/** Runs `fn` with graph recording on, inside a noGrad region (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  return withState("gradEnabled", true, fn);
}

/** Turns the anomaly check on or off: with it on, an op whose output holds NaN or Inf throws an error naming the op. */
export function setDetectAnomaly(on: boolean): void {
  state.anomaly = on;
}
export function isAnomalyEnabled(): boolean {
  return state.anomaly;
}

/** Runs `fn` with the anomaly check on (torch.autograd.detect_anomaly). `fn` may be async. */
export function detectAnomaly<T>(fn: () => T): T {
  return withState("anomaly", true, fn);
}

function checkFinite(where: string, t: Tensor, inputs: readonly Tensor[]): void {
  const values = t.backend.readSync(t._d);
  if (!values || t.dtype !== "float32") return;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== v || v === Infinity || v === -Infinity) {
      const what = v !== v ? "NaN" : "Inf";
      const ins = inputs.map((x) => shapeStr(x.shape)).join(", ");
      throw new Error(`anomaly: ${where} produced ${what} (first at flat index ${i} of an output of shape ${shapeStr(t.shape)}; inputs ${ins})`);
    }
  }
}

/**
 * Wraps a kernel result as a tensor and, when any input requires grad, records
 * the op in the graph with its backward rule.
 */
export function apply(
  op: string, inputs: readonly Tensor[], data: TensorData, backward: BackwardFn | null, attrs?: Record<string, unknown>, fused?: FusedBackwardFn,
): Tensor {
  const out = new Tensor(data, inputs[0]?.device ?? "cpu");
  if (backward && state.gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.gradFn = new GradFn(op, inputs, backward, attrs, fused);
  }
  if (state.anomaly) checkFinite(`op '${op}'`, out, inputs);
  return out;
}

/** Sums a broadcast gradient back down to `shape`. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  let r = axes.length ? g.sum(axes, true) : g;
  if (lead > 0 || !shapesEqual(r.shape, shape)) r = r.reshape([...shape]);
  return r;
}

/** Tensors of the graph behind `root`, inputs before the tensors made from them. */
export function topoSort(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, done] = stack.pop()!;
    if (done) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    if (t.gradFn) for (const x of t.gradFn.inputs) if (!seen.has(x) && x.requiresGrad) stack.push([x, false]);
  }
  return order;
}

/**
 * Computes d(outputs)/d(inputs) contracted with `gradOutputs` (torch.autograd.grad).
 * Does not touch `.grad` unless `accumulate` is set (that is what `backward()` does).
 */
export function runBackward(
  outputs: Tensor[],
  gradOutputs: Tensor[],
  opts: { inputs?: Tensor[]; accumulate: boolean },
): Map<Tensor, Tensor> {
  const grads = new Map<Tensor, Tensor>();
  outputs.forEach((o, i) => {
    if (!o.requiresGrad) throw new Error(`backward: the tensor (shape ${shapeStr(o.shape)}) does not require grad and has no grad_fn`);
    const g = gradOutputs[i];
    if (!shapesEqual(g.shape, o.shape)) throw new Error(`backward: gradient of shape ${shapeStr(g.shape)} does not match the output's shape ${shapeStr(o.shape)}`);
    grads.set(o, grads.has(o) ? grads.get(o)!.add(g) : g);
  });
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  for (const o of outputs) for (const t of topoSort(o)) if (!seen.has(t)) (seen.add(t), order.push(t));
  const wanted = opts.inputs ? new Set(opts.inputs) : null;
  // how many of the graph's ops take each tensor (a fused rule may skip a tensor that one op takes)
  const consumers = new Map<Tensor, number>();
  for (const t of order) if (t.gradFn) for (const x of t.gradFn.inputs) consumers.set(x, (consumers.get(x) ?? 0) + 1);
  // backward() (not grad(), which returns the gradients) hands the storage of each gradient it has
  // consumed back to its backend for reuse, once no entry of `grads` uses that storage and no
  // leaf's .grad, retained gradient or given gradient shares it; the backends take back only
  // storage made during this walk (so never a forward tensor's)
  const recycling = opts.accumulate && !wanted;
  const w: Walk = { accumulate: opts.accumulate, wanted, consumers, recycling, kept: new Set(), uses: new Map() };
  for (const x of gradOutputs) w.kept.add(x._d.storage);
  for (const g of grads.values()) {
    w.kept.add(g._d.storage);
    hold(w, g);
  }
  const scopes = recycling ? [...new Set(outputs.map((o) => o.backend))].filter((b) => b.backwardScope) : [];
  for (const b of scopes) b.backwardScope!(true);
  try {
    noGrad(() => walk(order, grads, w));
  } finally {
    for (const b of scopes) b.backwardScope!(false);
  }
  return grads;
}

/**
 * runBackward's state for its walk. (Module-level functions over it, not closures made at each
 * backward(): V8 keeps a closure's optimized code only while a closure of it lives, so closures made
 * anew at each call were compiled again after every full garbage collection.)
 */
interface Walk {
  accumulate: boolean;
  wanted: Set<Tensor> | null;
  consumers: Map<Tensor, number>;
  recycling: boolean;
  /** storages that must not be reused (leaves' .grad, retained and given gradients) */
  kept: Set<unknown>;
  /** storage -> entries of `grads` on it */
  uses: Map<unknown, number>;
}

/** An entry of `grads` starts using a tensor's storage. */
function hold(w: Walk, x: Tensor): void {
  if (w.recycling) w.uses.set(x._d.storage, (w.uses.get(x._d.storage) ?? 0) + 1);
}

/** An entry of `grads` stops using a tensor's storage: the backend takes it back after its last. */
function release(w: Walk, x: Tensor): void {
  if (!w.recycling) return;
  const s = x._d.storage, n = (w.uses.get(s) ?? 1) - 1;
  if (n > 0) w.uses.set(s, n);
  else if (w.uses.delete(s) && !w.kept.has(s)) x.backend.recycle?.(x._d);
}

/** Adds gradient gi of input x (summed to its shape, cast to its dtype) into grads. */
function addGrad(w: Walk, grads: Map<Tensor, Tensor>, x: Tensor, gi: Tensor): void {
  let gx = sumTo(gi, x.shape);
  if (gx.dtype !== x.dtype && x.dtype === "float32") gx = gx.float();
  hold(w, gx);
  const prev = grads.get(x);
  if (prev) {
    const sum = prev.add(gx);
    hold(w, sum);
    grads.set(x, sum);
    release(w, prev);
    release(w, gx);
  } else grads.set(x, gx);
}

/** runBackward's walk over the graph, outputs first: each tensor's gradient through its op's backward rule to its inputs. */
function walk(order: Tensor[], grads: Map<Tensor, Tensor>, w: Walk): void {
  const { accumulate, wanted, consumers, recycling, kept } = w;
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    const g = grads.get(t);
    if (!g) continue;
    if (t.gradFn === null || t._retainGrad) {
      if (accumulate && (t.gradFn === null || t._retainGrad)) {
        t.grad = t.grad ? t.grad.add(g) : g.detach();
        kept.add(t.grad._d.storage);
      }
      if (t.gradFn === null) {
        if (recycling) {
          grads.delete(t);
          release(w, g);
        }
        continue;
      }
    }
    const fn = t.gradFn;
    // a fused rule through this op and the one that made its input x, where x's gradient is
    // needed by nothing else: only this op takes x, and x is not retained, asked for, an output
    // (its gradient given) or a leaf; not in anomaly mode (which names the op a NaN comes from)
    const x = fn.inputs[0], xFn = x?.gradFn;
    if (fn.fused && xFn && xFn.inputs.length === 1 && xFn.inputs[0].requiresGrad && !state.anomaly && !x._retainGrad &&
        consumers.get(x) === 1 && !grads.has(x) && !wanted?.has(x)) {
      const gz = fn.fused(g, t, x);
      if (gz) {
        addGrad(w, grads, xFn.inputs[0], gz);
        if (!wanted && !t._retainGrad) {
          grads.delete(t);
          release(w, g);
        }
        continue;
      }
    }
    // with anomaly mode on, a non-finite gradient is reported as coming from this op's backward
    // (not from the div/mul/... ops its backward rule is written with)
    const anomaly = state.anomaly;
    state.anomaly = false;
    let inGrads: (Tensor | null | undefined)[];
    try {
      inGrads = fn.backward(g, t);
    } finally {
      state.anomaly = anomaly;
    }
    for (let i = 0; i < fn.inputs.length; i++) {
      const xi = fn.inputs[i], gi = inGrads[i];
      if (!gi || !xi.requiresGrad) continue;
      if (state.anomaly) checkFinite(`the backward of op '${fn.op}' (input ${i})`, gi, [g]);
      addGrad(w, grads, xi, gi);
    }
    if (!wanted && !t._retainGrad) {
      grads.delete(t);
      release(w, g);
    }
  }
}
