/**
 * The optimizer base class (torch.optim.Optimizer): parameter groups with their
 * own hyper-parameters, per-parameter state, `step()` / `zeroGrad()` and
 * `stateDict()` / `loadStateDict()`.
 *
 *   const opt = new gb.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 *   for (...) { opt.zeroGrad(); const loss = ...; await loss.backward(); opt.step(); }
 *
 * Updates are written with tensor ops inside `noGrad` and stored into the
 * parameters with `assign` (in place), so they run on whatever device the
 * parameters live on. State buffers (moments, momentum) are created once,
 * `keep()`-ed so they outlive `gb.tidy()` scopes, and also updated in place.
 */
import { noGrad } from "../autograd.js";
import { keep } from "../backends/webgpu/api.js";
import { Tensor } from "../tensor.js";
import { scalar } from "../ops/util.js";
import { shapeStr } from "../shape.js";

/** Something that holds parameters: a module (`.parameters()`), or a list of tensors. */
export type ParamSource = Iterable<Tensor> | { parameters(): Iterable<Tensor> };

/** A parameter group as given to an optimizer: its tensors and any option overrides (`{ params, lr: 0.01 }`). */
export type ParamGroupSpec<H> = { params: ParamSource } & Partial<H>;

/** Everything an optimizer constructor accepts: tensors, a module, or a list of parameter groups. */
export type Params<H> = ParamSource | ParamGroupSpec<H>[];

/** A parameter group inside an optimizer: its tensors and all its hyper-parameters (which schedulers may change). */
export type ParamGroup<H> = H & { params: Tensor[]; initialLr?: number };

/** The options every optimizer has. */
export interface BaseOptions {
  lr: number;
  /** Maximize the objective instead of minimizing it (step along +grad). */
  maximize: boolean;
}

/** Per-parameter state: tensors (moment estimates, ...) and numbers (the step count). */
export type ParamState = Record<string, Tensor | number>;

/** A serialisable snapshot of an optimizer, torch-shaped: parameters are referred to by their position over all groups. */
export interface OptimizerStateDict {
  state: Record<number, ParamState>;
  paramGroups: (Record<string, unknown> & { params: number[] })[];
}

function isParamSource(x: unknown): x is { parameters(): Iterable<Tensor> } {
  return typeof x === "object" && x !== null && typeof (x as { parameters?: unknown }).parameters === "function";
}

function toTensorList(what: string, src: ParamSource): Tensor[] {
  const list = isParamSource(src) ? [...src.parameters()] : [...(src as Iterable<Tensor>)];
  list.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new Error(`${what}: parameter ${i} is not a Tensor (got ${typeof t})`);
  });
  return list;
}

function cloneState(s: ParamState, kept = false): ParamState {
  const out: ParamState = {};
  for (const [k, v] of Object.entries(s)) {
    if (v instanceof Tensor) {
      const c = noGrad(() => v.detach().clone());
      out[k] = kept ? keep(c) : c;
    } else {
      out[k] = v;
    }
  }
  return out;
}

/**
 * Stores `value` as the state tensor `name`: the first time, `value` itself becomes
 * the (kept) buffer; afterwards the existing buffer is overwritten in place.
 * Returns the buffer. `value` must be a fresh tensor (the result of an op).
 */
export function setState(state: ParamState, name: string, value: Tensor): Tensor {
  const cur = state[name];
  if (cur instanceof Tensor) {
    cur.assign(value);
    return cur;
  }
  const t = keep(value);
  state[name] = t;
  return t;
}

/** Base class of every optimizer: subclasses implement `updateParam`. */
export abstract class Optimizer<H extends BaseOptions = BaseOptions> {
  /** The default hyper-parameters (those a group does not override). */
  readonly defaults: H;
  /** The parameter groups; schedulers change `group.lr` here. */
  readonly paramGroups: ParamGroup<H>[] = [];
  /** Per-parameter state (moment buffers, step counts), created lazily on the first step. */
  readonly state = new Map<Tensor, ParamState>();
  /** How many times `step()` ran. */
  stepCount = 0;

  protected constructor(readonly name: string, params: Params<H>, defaults: H) {
    this.checkOptions(defaults);
    this.defaults = defaults;
    let groups: ParamGroupSpec<H>[];
    if (Array.isArray(params) && params.length > 0 && !(params[0] instanceof Tensor) && typeof params[0] === "object" && "params" in (params[0] as object)) {
      groups = params as ParamGroupSpec<H>[];
    } else {
      groups = [{ params: params as ParamSource } as ParamGroupSpec<H>];
    }
    for (const g of groups) this.addParamGroup(g);
    if (this.paramGroups.every((g) => g.params.length === 0)) throw new Error(`${name}: got an empty parameter list`);
  }

  /** Adds a group of parameters with its own options (as torch's add_param_group). */
  addParamGroup(spec: ParamGroupSpec<H>): void {
    if (!spec || typeof spec !== "object" || !("params" in spec)) throw new Error(`${this.name}: a parameter group must be an object with a 'params' list`);
    const params = toTensorList(this.name, spec.params);
    const seen = new Set<Tensor>();
    for (const g of this.paramGroups) for (const p of g.params) seen.add(p);
    params.forEach((p, i) => {
      if (!p.isLeaf) throw new Error(`${this.name}: can't optimize a non-leaf Tensor (parameter ${i}, shape ${shapeStr(p.shape)}); use a leaf with requiresGrad, e.g. x.detach().requiresGrad_()`);
      if (p.dtype !== "float32") throw new Error(`${this.name}: parameters must be float32, parameter ${i} (shape ${shapeStr(p.shape)}) is ${p.dtype}`);
      if (seen.has(p)) throw new Error(`${this.name}: some parameters appear in more than one parameter group (parameter ${i}, shape ${shapeStr(p.shape)})`);
      seen.add(p);
    });
    const { params: _ignored, ...overrides } = spec as ParamGroupSpec<H> & Record<string, unknown>;
    void _ignored;
    const group = { ...this.defaults, ...overrides, params } as ParamGroup<H>;
    this.checkOptions(group);
    this.paramGroups.push(group);
  }

  /** Validates hyper-parameters (throws a clear error naming the optimizer). */
  protected checkOptions(o: H): void {
    if (!(typeof o.lr === "number" && o.lr >= 0)) throw new Error(`${this.name}: invalid learning rate ${o.lr} (must be a number >= 0)`);
  }

  /** Clears the gradients of all parameters (sets `.grad` to null, as torch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.grad = null;
  }

  /** One optimization step: updates every parameter that has a `.grad`, in place. */
  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          if (p.grad === null) continue;
          if (p.grad.numel() !== p.numel()) throw new Error(`${this.name}.step: the gradient of shape ${shapeStr(p.grad.shape)} does not match its parameter of shape ${shapeStr(p.shape)}`);
          let g = p.grad.dtype === "float32" ? p.grad : p.grad.float();
          if (group.maximize) g = g.neg();
          let st = this.state.get(p);
          if (!st) {
            st = {};
            this.state.set(p, st);
          }
          const next = this.updateParam(p, g, group, st);
          if (next !== p) p.assign(next);
        }
      }
    });
    this.stepCount++;
  }

  /**
   * Returns the new value of `p` given its gradient `g` (already negated when maximizing), updating
   * `state`; or `p` itself, updated in place (a fused update).
   */
  protected abstract updateParam(p: Tensor, g: Tensor, group: ParamGroup<H>, state: ParamState): Tensor;

  /** All parameters, in group order. */
  params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** A snapshot (copies) of the state and of the groups' hyper-parameters, as torch's state_dict(). */
  stateDict(): OptimizerStateDict {
    const state: Record<number, ParamState> = {};
    const paramGroups: OptimizerStateDict["paramGroups"] = [];
    let idx = 0;
    for (const g of this.paramGroups) {
      const ids: number[] = [];
      for (const p of g.params) {
        const s = this.state.get(p);
        if (s) state[idx] = cloneState(s);
        ids.push(idx++);
      }
      const { params: _p, ...hyper } = g;
      void _p;
      paramGroups.push({ ...(hyper as Record<string, unknown>), params: ids });
    }
    return { state, paramGroups };
  }

  /** Restores a snapshot from `stateDict()` (the groups must have the same sizes). */
  loadStateDict(sd: OptimizerStateDict): void {
    if (!sd || !Array.isArray(sd.paramGroups) || typeof sd.state !== "object") throw new Error(`${this.name}.loadStateDict: expected an object with 'state' and 'paramGroups'`);
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new Error(`${this.name}.loadStateDict: the state dict has ${sd.paramGroups.length} parameter groups, the optimizer has ${this.paramGroups.length}`);
    }
    const byIndex: Tensor[] = [];
    sd.paramGroups.forEach((sg, i) => {
      const g = this.paramGroups[i];
      if (sg.params.length !== g.params.length) {
        throw new Error(`${this.name}.loadStateDict: parameter group ${i} has ${sg.params.length} parameters in the state dict but ${g.params.length} in the optimizer`);
      }
      sg.params.forEach((id, j) => (byIndex[id] = g.params[j]));
    });
    for (const st of this.state.values()) for (const v of Object.values(st)) if (v instanceof Tensor) v.dispose(); // GPU memory back; no-op on the CPU
    this.state.clear();
    for (const [k, s] of Object.entries(sd.state)) {
      const p = byIndex[Number(k)];
      if (!p) throw new Error(`${this.name}.loadStateDict: state for unknown parameter index ${k}`);
      const copy = cloneState(s, true);
      for (const [name, v] of Object.entries(copy)) {
        if (v instanceof Tensor && v.numel() !== p.numel()) throw new Error(`${this.name}.loadStateDict: state '${name}' of parameter ${k} has shape ${shapeStr(v.shape)}, the parameter ${shapeStr(p.shape)}`);
        if (v instanceof Tensor && v.device !== p.device) copy[name] = keep(v.to(p.device));
      }
      this.state.set(p, copy);
    }
    sd.paramGroups.forEach((sg, i) => {
      const { params: _p, ...hyper } = sg;
      void _p;
      Object.assign(this.paramGroups[i], hyper);
    });
  }
}

let fused = true;

/** Tests: turns the fused CPU updates off (every optimizer then updates through ops, as on the GPU). */
export function setFusedUpdates(on: boolean): void {
  fused = on;
}

/**
 * The arrays of CPU float32 tensors of one size, for an update in one loop over them (fused: no
 * op per term, no intermediate tensors), or null (another device or dtype: update through ops).
 * The loop must compute what the ops would, rounding to float32 where each op does.
 */
export function fusedArrays(...ts: Tensor[]): Float32Array[] | null {
  if (!fused) return null;
  const out: Float32Array[] = [];
  for (const t of ts) {
    const a = t.device === "cpu" ? t.backend.readSync(t._d) : null;
    if (!(a instanceof Float32Array) || a.length !== ts[0].numel()) return null;
    out.push(a);
  }
  return out;
}

/** `a + alpha * b` (alpha applied only when it is not 1). */
export function addScaled(a: Tensor, b: Tensor, alpha: number): Tensor {
  if (alpha === 1) return a.add(b);
  // one kernel (addcmul with alpha as a 0-d tensor: one GPU pipeline for every alpha, as a learning rate changes)
  if (a.dtype === "float32" && b.dtype === "float32") return a.addcmul(b, scalar(alpha, b.device, "float32"));
  return a.add(b.mul(alpha));
}

/**
 * addScaled on one float32 element, as the fused CPU updates compute it: an add when alpha is 1,
 * else addcmul's (the product rounded to float32, then the sum). `fAlpha` is Math.fround(alpha).
 */
export function addScaledF32(a: number, b: number, alpha: number, fAlpha: number): number {
  return alpha === 1 ? Math.fround(a + b) : Math.fround(a + Math.fround(b * fAlpha));
}

/** Checks that `name` is a number in [lo, hi) (or [lo, hi] when `closed`). */
export function checkRange(opt: string, name: string, v: unknown, lo: number, hi = Infinity, closed = false): void {
  const ok = typeof v === "number" && v >= lo && (closed ? v <= hi : v < hi);
  if (!ok) throw new Error(`${opt}: invalid ${name} value: ${String(v)} (must be in [${lo}, ${hi === Infinity ? "inf" : hi}${closed ? "]" : ")"})`);
}

/** The options every Adam-family optimizer shares (as torch checks them): eps >= 0, betas in [0, 1), weightDecay >= 0. */
export function checkAdamOptions(opt: string, o: { eps: unknown; betas: unknown; weightDecay: unknown }): void {
  checkRange(opt, "epsilon", o.eps, 0);
  const betas = o.betas;
  if (!Array.isArray(betas) || betas.length !== 2) throw new Error(`${opt}: betas must be a pair [beta1, beta2], got ${JSON.stringify(betas)}`);
  checkRange(opt, "beta parameter at index 0", betas[0], 0, 1);
  checkRange(opt, "beta parameter at index 1", betas[1], 0, 1);
  checkRange(opt, "weightDecay", o.weightDecay, 0);
}
