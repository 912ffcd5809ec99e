/**
 * gb.nn.Module: the base class of layers and models, as torch.nn.Module.
 *
 * A module finds its parameters, buffers and submodules by its own properties,
 * in the order they were first assigned (class fields in declaration order):
 *
 *   class MLP extends gb.nn.Module {
 *     fc1 = new gb.nn.Linear(3, 4);
 *     fc2 = new gb.nn.Linear(4, 1);
 *     forward(x: gb.Tensor) { return this.fc2.call(this.fc1.call(x).tanh()); }
 *   }
 *   const model = new MLP();
 *   model.call(x);              // runs forward (and the forward hooks); model.forward(x) skips hooks
 *   model.namedParameters();    // [["fc1.weight", ...], ["fc1.bias", ...], ["fc2.weight", ...], ...]
 *
 * JavaScript cannot make class instances callable, so `model(x)` is written
 * `model.call(x)` (or `model.forward(x)`).
 */
import type { Device } from "../device.js";
import { parseDevice } from "../device.js";
import { noGrad } from "../autograd.js";
import { shapeStr, shapesEqual } from "../shape.js";
import { Tensor } from "../tensor.js";
import { loadFile, saveFile, type StateDict } from "./safetensors.js";

/**
 * A tensor that is a module's learnable parameter: requiresGrad is on, and a Module
 * registers it when it is assigned to one of its properties (torch.nn.Parameter).
 * It shares storage with the tensor it wraps.
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    super(data._d, data.device);
    if (requiresGrad && data.dtype !== "float32") throw new Error(`Parameter: only float32 tensors can require gradients (got ${data.dtype})`);
    this.requiresGrad = requiresGrad;
  }
}

export type ForwardHook = (module: Module, inputs: unknown[], output: unknown) => unknown;
export type ForwardPreHook = (module: Module, inputs: unknown[]) => unknown[] | void;

/** Returned by registerForwardHook: `handle.remove()` unregisters the hook. */
export interface HookHandle {
  remove(): void;
}

/** What loadStateDict reports (as PyTorch's NamedTuple). */
export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

const INTERNAL = new Set(["training", "_buffers", "_nonPersistent", "_stateNames", "_hooks", "_preHooks"]);

export abstract class Module {
  /** Training mode (dropout active, batch norm on batch statistics); switch with train() / eval(). */
  training = true;
  /** Names of registered buffers (values live on the properties). */
  private _buffers: string[] = [];
  private _nonPersistent = new Set<string>();
  /** Buffer property -> its key in the state dict, where they differ (BatchNorm's runningMean is "running_mean", as in PyTorch files). */
  private _stateNames = new Map<string, string>();
  private _hooks: ForwardHook[] = [];
  private _preHooks: ForwardPreHook[] = [];

  constructor() {
    for (const k of INTERNAL) if (k !== "training") Object.defineProperty(this, k, { enumerable: false, writable: true, value: (this as Record<string, unknown>)[k] });
  }

  /** The computation; subclasses define it with their own signature. */
  abstract forward(...args: any[]): any; // eslint-disable-line @typescript-eslint/no-explicit-any

  /** Runs forward through the pre-hooks and hooks: what `model(x)` is in PyTorch. */
  call<T extends Module>(this: T, ...args: Parameters<T["forward"]>): ReturnType<T["forward"]> {
    let inputs: unknown[] = args;
    for (const h of [...this._preHooks]) {
      const r = h(this, inputs);
      if (r !== undefined) inputs = r;
    }
    let out: unknown = this.forward(...inputs);
    for (const h of [...this._hooks]) {
      const r = h(this, inputs, out);
      if (r !== undefined) out = r;
    }
    return out as ReturnType<T["forward"]>;
  }

  /** Whether call() runs hooks (forward or pre-hooks) around forward. Internal: nn.Sequential's in-place activations. */
  _hasHooks(): boolean {
    return this._hooks.length > 0 || this._preHooks.length > 0;
  }

  /** Calls `fn(module, inputs, output)` after every forward (via call); a returned value replaces the output. */
  registerForwardHook(fn: ForwardHook): HookHandle {
    this._hooks.push(fn);
    return { remove: () => void (this._hooks = this._hooks.filter((h) => h !== fn)) };
  }
  /** Calls `fn(module, inputs)` before every forward (via call); a returned array replaces the inputs. */
  registerForwardPreHook(fn: ForwardPreHook): HookHandle {
    this._preHooks.push(fn);
    return { remove: () => void (this._preHooks = this._preHooks.filter((h) => h !== fn)) };
  }

  /**
   * Registers a tensor that is state but not a parameter (BatchNorm's running statistics); saved in
   * stateDict unless persistent is false, under `stateName` when given (to match PyTorch's key, e.g.
   * "running_mean" for the property runningMean; loadStateDict accepts either name).
   */
  registerBuffer(name: string, tensor: Tensor | null, opts: { persistent?: boolean; stateName?: string } = {}): void {
    if (name.includes(".") || name === "") throw new Error(`registerBuffer: buffer name "${name}" must be non-empty and contain no "."`);
    if (!this._buffers.includes(name)) this._buffers.push(name);
    if (opts.persistent === false) this._nonPersistent.add(name);
    else this._nonPersistent.delete(name);
    if (opts.stateName && opts.stateName !== name) this._stateNames.set(name, opts.stateName);
    (this as Record<string, unknown>)[name] = tensor;
  }
  /** Registers a parameter under `name` (same as assigning a Parameter to the property). */
  registerParameter(name: string, param: Parameter | null): void {
    (this as Record<string, unknown>)[name] = param;
  }
  /** Registers a submodule under `name` (same as assigning it to the property). */
  addModule(name: string, module: Module | null): void {
    (this as Record<string, unknown>)[name] = module;
  }

  // ---- discovery ----

  // (loops, not filter / map with arrow functions: Sequential's forward asks for its children at
  // every call, and V8 compiled those arrows again after every full garbage collection)
  private ownEntries(): [string, unknown][] {
    const out: [string, unknown][] = [];
    for (const k of Object.keys(this)) if (!INTERNAL.has(k)) out.push([k, (this as Record<string, unknown>)[k]]);
    return out;
  }
  /** This module's own parameters (not its children's), in definition order. */
  private ownParameters(): [string, Parameter][] {
    return this.ownEntries().filter((e): e is [string, Parameter] => e[1] instanceof Parameter && !this._buffers.includes(e[0]));
  }
  private ownBuffers(): [string, Tensor][] {
    return this._buffers.map((n) => [n, (this as Record<string, unknown>)[n]] as [string, unknown]).filter((e): e is [string, Tensor] => e[1] instanceof Tensor);
  }

  /** Direct submodules with their names. */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of this.ownEntries()) if (v instanceof Module) out.push([k, v]);
    return out;
  }
  children(): Module[] {
    const out: Module[] = [];
    for (const [, v] of this.ownEntries()) if (v instanceof Module) out.push(v);
    return out;
  }
  /** This module ("") and all submodules, depth first, with dotted names (each module once). */
  namedModules(prefix = "", seen = new Set<Module>()): [string, Module][] {
    if (seen.has(this)) return [];
    seen.add(this);
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this.namedChildren()) out.push(...m.namedModules(prefix ? `${prefix}.${n}` : n, seen));
    return out;
  }
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }
  /** Parameters with PyTorch's dotted names: a module's own first, then each child's, recursively (shared ones once). */
  namedParameters(opts: { recurse?: boolean } = {}): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Tensor>();
    const mods: [string, Module][] = opts.recurse === false ? [["", this]] : this.namedModules();
    for (const [mn, m] of mods) {
      for (const [n, p] of m.ownParameters()) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push([mn ? `${mn}.${n}` : n, p]);
      }
    }
    return out;
  }
  parameters(opts: { recurse?: boolean } = {}): Parameter[] {
    return this.namedParameters(opts).map(([, p]) => p);
  }
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [mn, m] of this.namedModules()) for (const [n, b] of m.ownBuffers()) out.push([mn ? `${mn}.${n}` : n, b]);
    return out;
  }
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, b]) => b);
  }
  /** Number of parameter elements (only the trainable ones with `trainableOnly`). */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    return this.parameters().filter((p) => !opts.trainableOnly || p.requiresGrad).reduce((s, p) => s + p.numel(), 0);
  }

  // ---- modes and housekeeping ----

  /** Sets training mode on this module and all submodules (chainable). */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }
  /** Evaluation mode: train(false). */
  eval(): this {
    return this.train(false);
  }
  /** Sets every parameter's .grad to null (PyTorch's default set_to_none). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }
  /** Turns gradient tracking of all parameters on or off (freezing layers for transfer learning). */
  requiresGrad_(on = true): this {
    for (const p of this.parameters()) p.requiresGrad = on;
    return this;
  }
  /** Calls fn on every submodule, then on this module (as torch's apply), e.g. for custom initialisation. */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }
  /** Moves parameters and buffers to a device, in place: the same Parameter objects (optimizers keep working). */
  to(device: Device | string): this {
    const dev = parseDevice(device);
    const tensors = [...this.parameters(), ...this.buffers()];
    if (tensors.some((t) => t.device !== dev && t.device !== "cpu")) {
      throw new Error(`Module.to: moving a model off the ${tensors.find((t) => t.device !== "cpu")!.device} reads GPU memory, which is asynchronous; use await model.toAsync("${dev}")`);
    }
    for (const t of tensors) if (t.device !== dev) adopt(t, t.detach().to(dev));
    return this;
  }

  /** Moves every parameter and buffer to `device` (from the GPU too), in place. */
  async toAsync(device: Device | string): Promise<this> {
    const dev = parseDevice(device);
    for (const t of [...this.parameters(), ...this.buffers()]) {
      if (t.device !== dev) adopt(t, await t.detach().toAsync(dev), t.grad ? await t.grad.toAsync(dev) : null);
    }
    return this;
  }

  // ---- state ----

  /** Parameters and persistent buffers by dotted name, in PyTorch's order (tensors share storage with the module). */
  stateDict(): StateDict {
    const sd: StateDict = {};
    const seen = new Set<Module>();
    const walk = (m: Module, prefix: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      for (const [n, p] of m.ownParameters()) sd[prefix + n] = p.detach();
      for (const [n, b] of m.ownBuffers()) if (!m._nonPersistent.has(n)) sd[prefix + (m._stateNames.get(n) ?? n)] = b.detach();
      for (const [n, c] of m.namedChildren()) walk(c, `${prefix}${n}.`);
    };
    walk(this, "");
    return sd;
  }

  /**
   * Copies values from a state dict into the parameters and buffers (in place). With strict
   * (the default), missing or unexpected keys are an error; a shape mismatch always is.
   */
  loadStateDict(stateDict: StateDict | Map<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const src = stateDict instanceof Map ? Object.fromEntries(stateDict) : stateDict;
    const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
    // every destination: its state-dict key, an accepted alias (the property name) and the tensor
    const targets: { key: string; alias: string; t: Tensor }[] = [];
    const seen = new Set<Tensor>();
    for (const [mn, m] of this.namedModules()) {
      const pre = mn ? `${mn}.` : "";
      for (const [n, p] of m.ownParameters()) if (!seen.has(p)) (seen.add(p), targets.push({ key: pre + n, alias: pre + n, t: p }));
      for (const [n, b] of m.ownBuffers()) if (!m._nonPersistent.has(n)) targets.push({ key: pre + (m._stateNames.get(n) ?? n), alias: pre + n, t: b });
    }
    const used = new Set<string>();
    const found = new Map<string, Tensor>();
    const missingKeys: string[] = [];
    for (const { key, alias } of targets) {
      const k = has(src, key) ? key : has(src, alias) ? alias : null;
      if (k === null) missingKeys.push(key);
      else {
        used.add(k);
        found.set(key, src[k]);
      }
    }
    const unexpectedKeys = Object.keys(src).filter((k) => !used.has(k));
    const errors: string[] = [];
    if (strict && unexpectedKeys.length) errors.push(`Unexpected key(s) in state dict: ${unexpectedKeys.map((k) => `"${k}"`).join(", ")}.`);
    if (strict && missingKeys.length) errors.push(`Missing key(s) in state dict: ${missingKeys.map((k) => `"${k}"`).join(", ")}.`);
    for (const { key, t } of targets) {
      const v = found.get(key);
      if (v === undefined) continue;
      if (!(v instanceof Tensor)) {
        errors.push(`"${key}" is not a tensor.`);
        continue;
      }
      const sameNumel = v.numel() === t.numel() && (t.ndim === 0 || v.ndim === 0);
      if (!shapesEqual(v.shape, t.shape) && !sameNumel) {
        errors.push(`size mismatch for ${key}: copying a param with shape ${shapeStr(v.shape)} from checkpoint, the shape in current model is ${shapeStr(t.shape)}.`);
      }
    }
    if (errors.length) throw new Error(`loadStateDict: error(s) in loading state dict for ${this.constructor.name}:\n\t${errors.join("\n\t")}`);
    noGrad(() => {
      for (const { key, t } of targets) {
        const v = found.get(key);
        if (v === undefined) continue;
        let s = v.detach();
        if (s.device !== t.device) s = s.to(t.device);
        t.assign(s);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Writes the state dict to a .safetensors file (Node only). */
  async save(path: string, metadata?: Record<string, string>): Promise<void> {
    await saveFile(this.stateDict(), path, metadata);
  }
  /** Loads a .safetensors file (as written by save, or by PyTorch's safetensors) into this module (Node only). */
  async load(path: string, opts: { strict?: boolean } = {}): Promise<LoadResult> {
    return this.loadStateDict(await loadFile(path), opts);
  }

  // ---- display ----

  /** The part inside the parentheses of this module's line (torch's extra_repr). */
  extraRepr(): string {
    return "";
  }
  /** The module's name in the repr (the class name). */
  get typeName(): string {
    return this.constructor.name;
  }
  /** A PyTorch-like nested description: Sequential(\n  (0): Linear(inFeatures=3, outFeatures=4, bias=true)\n ...). */
  toString(): string {
    const extra = this.extraRepr();
    const kids = this.namedChildren();
    if (kids.length === 0) return `${this.typeName}(${extra})`;
    const lines: string[] = [];
    if (extra) lines.push(...extra.split("\n"));
    for (const [n, c] of kids) {
      const sub = c.toString().split("\n");
      lines.push(`(${n}): ${sub[0]}`, ...sub.slice(1));
    }
    return `${this.typeName}(\n${lines.map((l) => "  " + l).join("\n")}\n)`;
  }
  /** Rich display for the notebook kernel. */
  toMimeBundle(): Record<string, string> {
    return { "text/plain": this.toString() };
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** Makes `t` (a parameter or buffer, which modules and optimizers hold by identity) take over the storage and device of `moved`. */
function adopt(t: Tensor, moved: Tensor, grad: Tensor | null = t.grad ? t.grad.to(moved.device) : null): void {
  t._d = moved._d;
  (t as unknown as { device: Device }).device = moved.device;
  t.grad = grad;
}
