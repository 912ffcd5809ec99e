/**
 * Kernel-side Jupyter widgets: models that speak the Jupyter widgets message protocol
 * 2.1.0 (comm target `jupyter.widget`, `@jupyter-widgets/controls` 2.0.0 models) — the
 * protocol of ipywidgets 8, JupyterLab 4, Notebook 7 and VS Code.
 *
 *   const stride = new IntSlider({ value: 1, min: 1, max: 3, description: "stride" });
 *   stride.observe(({ new: s }) => redraw(s), "value");
 *   stride            // displayed: a live slider (or a static view with a note without a widget front end)
 *
 *   interact(({ stride, lr }) => plot.line(...), { stride: [1, 3], lr: [0.001, 1] })
 *
 * State syncs both ways: `slider.value = 2` updates the front end; moving the slider
 * updates `slider.value` and calls observers. Displays go through the DisplayHost, comms
 * through its `openComm` / `registerCommTarget`; with no host (plain Node) widgets still
 * work as observable objects.
 */
import { getDisplayHost, setDisplayHost, type Comm, type DisplayHost, type DisplayOptions, type MimeBundle } from "./host.js";
import { escapeHtml, fmt, hexId } from "./util.js";
import { Figure } from "./plotly.js";
import { bundleOf } from "./util.js";

export const WIDGET_PROTOCOL_VERSION = "2.1.0";
export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";
const CONTROLS = "@jupyter-widgets/controls";
const BASE = "@jupyter-widgets/base";
const OUTPUT = "@jupyter-widgets/output";
const STATIC_NOTE =
  "Interactive control: it needs a front end with Jupyter widgets (JupyterLab 4, Notebook 7, VS Code, or ipywidgets 8). Showing a static view.";

export interface Change<T = unknown> {
  name: string;
  old: T;
  new: T;
  owner: Widget;
}
type Observer = (change: Change<any>) => void;

/** All live widgets by model id (for the control channel and reconnecting front ends). */
const registry = new Map<string, Widget>();
const hostsWithTargets = new WeakSet<object>();

function ensureTargets(host: DisplayHost): void {
  if (hostsWithTargets.has(host)) return;
  hostsWithTargets.add(host);
  // ipywidgets 8 front ends fetch all widget states at once through the control comm.
  host.registerCommTarget("jupyter.widget.control", (comm) => {
    comm.onMsg((data) => {
      if (data?.method !== "request_states") return;
      const states: Record<string, unknown> = {};
      const bufferPaths: (string | number)[][] = [];
      const buffers: ArrayBufferView[] = [];
      for (const [id, w] of registry) {
        if (!w.comm) continue;
        const s = w.serializedState();
        states[id] = s.state;
        s.bufferPaths.forEach((p, i) => {
          bufferPaths.push([id, ...p]);
          buffers.push(s.buffers[i]);
        });
      }
      comm.send({ method: "update_states", states, buffer_paths: bufferPaths }, undefined, buffers);
    });
  });
  // A front end that re-creates a model opens a comm with the model id: attach it.
  host.registerCommTarget("jupyter.widget", (comm) => {
    const w = registry.get(comm.commId);
    if (w) w._attach(comm);
  });
}

function serializeValue(v: unknown): unknown {
  if (v instanceof Widget) return `IPY_MODEL_${v.modelId}`;
  if (Array.isArray(v)) return v.map(serializeValue);
  return v;
}

function deserializeValue(v: unknown): unknown {
  if (typeof v === "string" && v.startsWith("IPY_MODEL_")) return registry.get(v.slice(10)) ?? v;
  if (Array.isArray(v)) return v.map(deserializeValue);
  return v;
}

/** Splits binary values out of a state (buffer_paths, as the protocol wants). */
function extractBuffers(state: Record<string, unknown>): { state: Record<string, unknown>; bufferPaths: (string | number)[][]; buffers: ArrayBufferView[] } {
  const bufferPaths: (string | number)[][] = [];
  const buffers: ArrayBufferView[] = [];
  const walk = (v: unknown, path: (string | number)[]): unknown => {
    if (ArrayBuffer.isView(v)) {
      bufferPaths.push(path);
      buffers.push(v);
      return null;
    }
    if (v instanceof ArrayBuffer) {
      bufferPaths.push(path);
      buffers.push(new Uint8Array(v));
      return null;
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = walk(x, [...path, k]);
      return o;
    }
    return v;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(state)) out[k] = walk(v, [k]);
  return { state: out, bufferPaths, buffers };
}

function putBuffers(state: Record<string, any>, paths: (string | number)[][] | undefined, buffers: DataView[]): void {
  (paths ?? []).forEach((path, i) => {
    let o: any = state;
    for (let j = 0; j < path.length - 1; j++) o = o[path[j]];
    o[path[path.length - 1]] = buffers[i];
  });
}

export interface WidgetSpec {
  modelName: string;
  viewName: string | null;
  modelModule?: string;
  modelModuleVersion?: string;
  viewModule?: string | null;
  viewModuleVersion?: string;
}

/** Base class of all widget models. */
export class Widget {
  readonly modelId: string;
  comm: Comm | null = null;
  protected state: Record<string, unknown>;
  private observers: { names: Set<string> | null; fn: Observer }[] = [];
  private customHandlers: ((content: any, buffers: DataView[]) => void)[] = [];
  private closed = false;

  constructor(spec: WidgetSpec, state: Record<string, unknown>) {
    this.state = {
      _model_name: spec.modelName,
      _model_module: spec.modelModule ?? CONTROLS,
      _model_module_version: spec.modelModuleVersion ?? "2.0.0",
      _view_name: spec.viewName,
      _view_module: spec.viewModule === undefined ? CONTROLS : spec.viewModule,
      _view_module_version: spec.viewModuleVersion ?? "2.0.0",
      _view_count: null,
      ...state,
    };
    const host = getDisplayHost();
    let comm: Comm | null = null;
    if (host && host.supportsComms) {
      ensureTargets(host);
      const s = this.serializedState();
      comm = host.openComm("jupyter.widget", { state: s.state, buffer_paths: s.bufferPaths }, { version: WIDGET_PROTOCOL_VERSION }, s.buffers);
    }
    this.modelId = comm?.commId ?? hexId();
    registry.set(this.modelId, this);
    if (comm) this._attach(comm);
  }

  /** @internal binds a comm (ours, or one a front end opened for this model id). */
  _attach(comm: Comm): void {
    this.comm = comm;
    comm.onMsg((data, buffers) => this.handleMsg(data, buffers));
    comm.onClose(() => {
      if (this.comm === comm) this.comm = null;
    });
  }

  /** The full state as sent on the wire. */
  serializedState(): { state: Record<string, unknown>; bufferPaths: (string | number)[][]; buffers: ArrayBufferView[] } {
    const s: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.state)) s[k] = serializeValue(v);
    return extractBuffers(s);
  }

  get(name: string): unknown {
    return this.state[name];
  }

  /** Sets state (kernel side): syncs the changed keys to the front end and notifies observers. */
  set(values: Record<string, unknown>): this {
    const changes: Change[] = [];
    for (const [k, v] of Object.entries(values)) {
      const old = this.state[k];
      const nv = this.validate(k, v);
      if (sameValue(old, nv)) continue;
      this.state[k] = nv;
      changes.push({ name: k, old, new: nv, owner: this });
    }
    if (changes.length === 0) return this;
    const partial: Record<string, unknown> = {};
    for (const c of changes) partial[c.name] = serializeValue(this.state[c.name]);
    this.sendUpdate(partial);
    for (const c of changes) this.notify(c);
    return this;
  }

  /** Checks/coerces a value set from the kernel or the front end. */
  protected validate(_name: string, value: unknown): unknown {
    return value;
  }

  protected sendUpdate(partial: Record<string, unknown>): void {
    if (!this.comm || this.closed) return;
    const e = extractBuffers(partial);
    this.comm.send({ method: "update", state: e.state, buffer_paths: e.bufferPaths }, undefined, e.buffers);
  }

  /**
   * Calls `fn({ name, old, new, owner })` when the named state (default: "value"; null: any) changes,
   * from either side. Returns a function that removes the observer.
   */
  observe<T = any>(fn: (change: Change<T>) => void, names: string | string[] | null = "value"): () => void {
    const entry = { names: names === null ? null : new Set(Array.isArray(names) ? names : [names]), fn: fn as Observer };
    this.observers.push(entry);
    return () => {
      this.observers = this.observers.filter((o) => o !== entry);
    };
  }

  protected notify(change: Change): void {
    for (const o of [...this.observers]) {
      if (o.names && !o.names.has(change.name)) continue;
      try {
        const r = o.fn(change) as unknown;
        if (r && typeof (r as Promise<unknown>).catch === "function") (r as Promise<unknown>).catch((e) => reportError(e));
      } catch (e) {
        reportError(e);
      }
    }
  }

  /** Handles a comm message from the front end. */
  handleMsg(data: any, buffers: DataView[] = []): void {
    switch (data?.method) {
      case "update": {
        const st: Record<string, unknown> = { ...(data.state ?? {}) };
        putBuffers(st, data.buffer_paths, buffers);
        const changes: Change[] = [];
        const corrected: Record<string, unknown> = {};
        for (const [k, raw] of Object.entries(st)) {
          const old = this.state[k];
          const given = this.fromFrontEnd(k, deserializeValue(raw));
          let v: unknown;
          try {
            v = this.validate(k, given);
          } catch (e) {
            reportError(e);
            corrected[k] = serializeValue(old); // refuse: put the front end back
            continue;
          }
          if (!sameValue(v, given)) corrected[k] = serializeValue(v); // coerced (clamped, rounded): tell the front end
          if (sameValue(old, v)) continue;
          this.state[k] = v;
          changes.push({ name: k, old, new: v, owner: this });
        }
        if (Object.keys(corrected).length) this.sendUpdate(corrected);
        this.afterFrontEndUpdate(changes);
        for (const c of changes) this.notify(c);
        break;
      }
      case "request_state": {
        const s = this.serializedState();
        this.comm?.send({ method: "update", state: s.state, buffer_paths: s.bufferPaths }, undefined, s.buffers);
        break;
      }
      case "custom":
        for (const h of this.customHandlers) h(data.content, buffers);
        break;
    }
  }

  /** Hook: converts a value that came from the front end. */
  protected fromFrontEnd(_name: string, value: unknown): unknown {
    return value;
  }
  /** Hook: after the front end changed state (before observers run). */
  protected afterFrontEndUpdate(_changes: Change[]): void {}

  /** Handles custom messages (`{ method: "custom", content }`) from the front end. */
  onCustom(handler: (content: any, buffers: DataView[]) => void): void {
    this.customHandlers.push(handler);
  }

  /** Sends a custom message to the front-end view. */
  sendCustom(content: unknown, buffers?: ArrayBufferView[]): void {
    this.comm?.send({ method: "custom", content }, undefined, buffers);
  }

  /** Closes the comm: the front-end views go away. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.comm?.close();
    this.comm = null;
    registry.delete(this.modelId);
  }

  /** The static stand-in: HTML without interactivity. */
  staticHtml(): string | Promise<string> {
    return `<span>${escapeHtml(this.describe())}</span>`;
  }

  /** One line of text/plain. */
  describe(): string {
    const name = String(this.state._model_name).replace(/Model$/, "");
    const d = this.state.description ? ` description=${JSON.stringify(this.state.description)}` : "";
    const v = "value" in this.state ? ` value=${JSON.stringify(this.state.value)}` : "";
    return `${name}(${(d + v).trim()})`;
  }

  /** widget-view+json (the live control) with text/plain and a static text/html fallback carrying a note. */
  async toMimeBundle(): Promise<MimeBundle> {
    const inner = await this.staticHtml();
    const note = `<div class="gb-widget-note" style="font:11px sans-serif;color:#777;margin-top:4px">${escapeHtml(STATIC_NOTE)}</div>`;
    const bundle: MimeBundle = {
      "text/plain": this.describe(),
      "text/html": `<div class="gb-widget-static" data-model-id="${this.modelId}">${inner}${note}</div>`,
    };
    if (this.comm) bundle[WIDGET_VIEW_MIME] = { model_id: this.modelId, version_major: 2, version_minor: 1 };
    return bundle;
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  return false;
}

let errorReporter: (e: unknown) => void = (e) => console.error(e);
/** Where errors thrown by observers and callbacks go (the kernel may route them to the cell's stderr). */
export function setWidgetErrorReporter(f: (e: unknown) => void): void {
  errorReporter = f;
}
function reportError(e: unknown): void {
  errorReporter(e);
}

// ------------------------------------------------------------------ DOM widgets

interface Described {
  description?: string;
  disabled?: boolean;
  tooltip?: string | null;
}

function descriptionState(o: Described): Record<string, unknown> {
  return { description: o.description ?? "", description_allow_html: false, disabled: o.disabled ?? false, tooltip: o.tooltip ?? null, tabbable: null, layout: null, style: null };
}

function accessor<T>(proto: object, name: string, key = name): void {
  Object.defineProperty(proto, name, {
    get(this: Widget) {
      return this.get(key) as T;
    },
    set(this: Widget, v: T) {
      this.set({ [key]: v });
    },
    configurable: true,
  });
}

export interface SliderOptions extends Described {
  value?: number;
  min?: number;
  max?: number;
  step?: number;
  /** Update while dragging (default true); false: only on release. */
  continuousUpdate?: boolean;
  orientation?: "horizontal" | "vertical";
  readout?: boolean;
  readoutFormat?: string;
}

abstract class NumberSlider extends Widget {
  declare value: number;
  declare min: number;
  declare max: number;
  declare step: number;
  declare description: string;
  declare disabled: boolean;
  protected abstract readonly integer: boolean;

  protected override validate(name: string, v: unknown): unknown {
    if (name === "value" || name === "min" || name === "max" || name === "step") {
      let x = Number(v);
      if (!Number.isFinite(x)) throw new Error(`${this.describe()}: ${name} must be a finite number, got ${String(v)}`);
      if (this.integer) x = Math.round(x);
      if (name === "value") x = Math.min(Number(this.state.max), Math.max(Number(this.state.min), x));
      return x;
    }
    return v;
  }

  override staticHtml(): string {
    const d = escapeHtml(String(this.state.description ?? ""));
    const v = Number(this.state.value);
    return `<label style="font:13px sans-serif;display:inline-flex;align-items:center;gap:8px">${d ? `<span>${d}</span>` : ""}<input type="range" disabled min="${this.state.min}" max="${this.state.max}" step="${this.state.step}" value="${v}"><span>${escapeHtml(fmt(v))}</span></label>`;
  }
}

function sliderState(o: SliderOptions, integer: boolean): Record<string, unknown> {
  const min = o.min ?? 0;
  const max = o.max ?? (integer ? 100 : 10);
  if (max < min) throw new Error(`${integer ? "IntSlider" : "FloatSlider"}: max (${max}) is below min (${min})`);
  const step = o.step ?? (integer ? 1 : 0.1);
  let value = o.value ?? min;
  value = Math.min(max, Math.max(min, integer ? Math.round(value) : value));
  return {
    ...descriptionState(o),
    value,
    min,
    max,
    step,
    orientation: o.orientation ?? "horizontal",
    readout: o.readout ?? true,
    readout_format: o.readoutFormat ?? (integer ? "d" : ".2f"),
    continuous_update: o.continuousUpdate ?? true,
    behavior: "drag-tap",
  };
}

/** A slider over integers (IntSliderModel). */
export class IntSlider extends NumberSlider {
  protected readonly integer = true;
  constructor(o: SliderOptions = {}) {
    super({ modelName: "IntSliderModel", viewName: "IntSliderView" }, sliderState(o, true));
  }
}

/** A slider over floats (FloatSliderModel). */
export class FloatSlider extends NumberSlider {
  protected readonly integer = false;
  constructor(o: SliderOptions = {}) {
    super({ modelName: "FloatSliderModel", viewName: "FloatSliderView" }, sliderState(o, false));
  }
}

/** A slider over a log scale (FloatLogSliderModel): value = base ** exponent, min/max are exponents. */
export class FloatLogSlider extends Widget {
  declare value: number;
  declare description: string;
  constructor(o: SliderOptions & { base?: number } = {}) {
    const min = o.min ?? -4, max = o.max ?? 0;
    super({ modelName: "FloatLogSliderModel", viewName: "FloatLogSliderView" }, {
      ...descriptionState(o),
      value: o.value ?? Math.pow(o.base ?? 10, (min + max) / 2),
      min,
      max,
      step: o.step ?? 0.1,
      base: o.base ?? 10,
      orientation: o.orientation ?? "horizontal",
      readout: o.readout ?? true,
      readout_format: o.readoutFormat ?? ".3g",
      continuous_update: o.continuousUpdate ?? true,
      behavior: "drag-tap",
    });
  }
  override staticHtml(): string {
    return `<span style="font:13px sans-serif">${escapeHtml(String(this.state.description ?? ""))} ${escapeHtml(fmt(Number(this.state.value)))}</span>`;
  }
}

for (const C of [NumberSlider.prototype, FloatLogSlider.prototype]) for (const k of ["value", "min", "max", "step", "description", "disabled"]) accessor(C, k);

export interface DropdownOptions<T> extends Described {
  /** Options: values (labelled by String(value)) or [label, value] pairs, or { label: value }. */
  options: T[] | [string, T][] | Record<string, T>;
  value?: T;
}

/** A drop-down list (DropdownModel). `value` is the selected option's value (kernel side), `index` its position. */
export class Dropdown<T = unknown> extends Widget {
  readonly labels: string[];
  readonly values: T[];
  declare index: number;
  declare description: string;
  declare disabled: boolean;

  constructor(o: DropdownOptions<T>) {
    const { labels, values } = normalizeOptions(o.options);
    if (labels.length === 0) throw new Error("Dropdown: options must not be empty");
    let index = 0;
    if (o.value !== undefined) {
      index = values.findIndex((v) => sameValue(v, o.value));
      if (index < 0) throw new Error(`Dropdown: value ${JSON.stringify(o.value)} is not among the options ${JSON.stringify(labels)}`);
    }
    super({ modelName: "DropdownModel", viewName: "DropdownView" }, { ...descriptionState(o), _options_labels: labels, index });
    this.labels = labels;
    this.values = values;
  }

  get value(): T {
    return this.values[this.get("index") as number];
  }
  set value(v: T) {
    const i = this.values.findIndex((x) => sameValue(x, v));
    if (i < 0) throw new Error(`Dropdown: value ${JSON.stringify(v)} is not among the options ${JSON.stringify(this.labels)}`);
    this.set({ index: i });
  }
  get label(): string {
    return this.labels[this.get("index") as number];
  }

  protected override validate(name: string, v: unknown): unknown {
    if (name === "index") {
      const i = Number(v);
      if (!Number.isInteger(i) || i < 0 || i >= (this.labels?.length ?? Infinity)) throw new Error(`Dropdown: index ${String(v)} out of range`);
      return i;
    }
    return v;
  }

  // Observers of "value" hear index changes as value changes.
  protected override notify(change: Change): void {
    super.notify(change);
    if (change.name === "index")
      super.notify({ name: "value", old: this.values[change.old as number], new: this.values[change.new as number], owner: this });
  }

  override describe(): string {
    return `Dropdown(${this.state.description ? `description=${JSON.stringify(this.state.description)} ` : ""}value=${JSON.stringify(this.label)}, options=${JSON.stringify(this.labels)})`;
  }

  override staticHtml(): string {
    const opts = this.labels.map((l, i) => `<option${i === this.state.index ? " selected" : ""}>${escapeHtml(l)}</option>`).join("");
    return `<label style="font:13px sans-serif">${escapeHtml(String(this.state.description ?? ""))} <select disabled>${opts}</select></label>`;
  }
}
for (const k of ["index", "description", "disabled"]) accessor(Dropdown.prototype, k);

function normalizeOptions<T>(options: T[] | [string, T][] | Record<string, T>): { labels: string[]; values: T[] } {
  if (Array.isArray(options)) {
    const pairs = options.length > 0 && options.every((o) => Array.isArray(o) && o.length === 2 && typeof o[0] === "string");
    if (pairs) return { labels: (options as [string, T][]).map((p) => p[0]), values: (options as [string, T][]).map((p) => p[1]) };
    return { labels: (options as T[]).map((v) => String(v)), values: options as T[] };
  }
  return { labels: Object.keys(options), values: Object.values(options) };
}

export interface CheckboxOptions extends Described {
  value?: boolean;
  indent?: boolean;
}

/** A checkbox (CheckboxModel). */
export class Checkbox extends Widget {
  declare value: boolean;
  declare description: string;
  constructor(o: CheckboxOptions = {}) {
    super({ modelName: "CheckboxModel", viewName: "CheckboxView" }, { ...descriptionState(o), value: !!o.value, indent: o.indent ?? true });
  }
  override staticHtml(): string {
    return `<label style="font:13px sans-serif"><input type="checkbox" disabled${this.state.value ? " checked" : ""}> ${escapeHtml(String(this.state.description ?? ""))}</label>`;
  }
}
for (const k of ["value", "description", "disabled"]) accessor(Checkbox.prototype, k);

export interface ButtonOptions extends Described {
  buttonStyle?: "" | "primary" | "success" | "info" | "warning" | "danger";
  icon?: string;
}

/** A button (ButtonModel); `onClick(fn)` runs when it is clicked in the front end. */
export class Button extends Widget {
  declare description: string;
  declare disabled: boolean;
  private clickHandlers: ((b: Button) => void | Promise<void>)[] = [];
  constructor(o: ButtonOptions = {}) {
    super({ modelName: "ButtonModel", viewName: "ButtonView" }, { ...descriptionState(o), button_style: o.buttonStyle ?? "", icon: o.icon ?? "" });
    this.onCustom((content) => {
      if (content?.event === "click") this.click();
    });
  }
  /** Registers a click handler (as ipywidgets' on_click). */
  onClick(fn: (b: Button) => void | Promise<void>): () => void {
    this.clickHandlers.push(fn);
    return () => {
      this.clickHandlers = this.clickHandlers.filter((f) => f !== fn);
    };
  }
  /** Runs the click handlers (what a click in the front end does). */
  click(): void {
    for (const h of [...this.clickHandlers]) {
      try {
        const r = h(this);
        if (r && typeof (r as Promise<void>).catch === "function") (r as Promise<void>).catch(reportError);
      } catch (e) {
        reportError(e);
      }
    }
  }
  override staticHtml(): string {
    return `<button disabled>${escapeHtml(String(this.state.description ?? ""))}</button>`;
  }
}
for (const k of ["description", "disabled"]) accessor(Button.prototype, k);

export interface ProgressOptions extends Described {
  value?: number;
  min?: number;
  max?: number;
  barStyle?: "" | "success" | "info" | "warning" | "danger";
  orientation?: "horizontal" | "vertical";
}

abstract class Progress extends Widget {
  declare value: number;
  declare max: number;
  declare min: number;
  declare description: string;
  declare barStyle: string;
  override staticHtml(): string {
    const min = Number(this.state.min), max = Number(this.state.max), v = Number(this.state.value);
    return `<label style="font:13px sans-serif">${escapeHtml(String(this.state.description ?? ""))} <progress value="${v - min}" max="${max - min}"></progress> ${escapeHtml(fmt(v))}/${escapeHtml(fmt(max))}</label>`;
  }
}
for (const k of ["value", "min", "max", "description"]) accessor(Progress.prototype, k);
accessor(Progress.prototype, "barStyle", "bar_style");

function progressState(o: ProgressOptions): Record<string, unknown> {
  return { ...descriptionState(o), value: o.value ?? 0, min: o.min ?? 0, max: o.max ?? 100, bar_style: o.barStyle ?? "", orientation: o.orientation ?? "horizontal" };
}

/** An integer progress bar (IntProgressModel / ProgressView). */
export class IntProgress extends Progress {
  constructor(o: ProgressOptions = {}) {
    super({ modelName: "IntProgressModel", viewName: "ProgressView" }, progressState(o));
  }
}

/** A float progress bar (FloatProgressModel / ProgressView). */
export class FloatProgress extends Progress {
  constructor(o: ProgressOptions = {}) {
    super({ modelName: "FloatProgressModel", viewName: "ProgressView" }, progressState(o));
  }
}

/** Plain text (LabelModel). */
export class Label extends Widget {
  declare value: string;
  constructor(value = "", o: Described = {}) {
    super({ modelName: "LabelModel", viewName: "LabelView" }, { ...descriptionState(o), value, placeholder: "" });
  }
  override staticHtml(): string {
    return `<span style="font:13px sans-serif">${escapeHtml(String(this.state.value))}</span>`;
  }
}
accessor(Label.prototype, "value");

/** HTML markup (HTMLModel). */
export class HTML extends Widget {
  declare value: string;
  constructor(value = "", o: Described = {}) {
    super({ modelName: "HTMLModel", viewName: "HTMLView" }, { ...descriptionState(o), value, placeholder: "" });
  }
  override staticHtml(): string {
    return String(this.state.value);
  }
}
accessor(HTML.prototype, "value");

/** Lays children out in a row (HBox) or a column (VBox). */
abstract class Box extends Widget {
  get children(): Widget[] {
    return (this.get("children") as Widget[]) ?? [];
  }
  set children(c: Widget[]) {
    this.set({ children: c });
  }
  protected abstract readonly direction: "row" | "column";
  override async staticHtml(): Promise<string> {
    const parts = await Promise.all(this.children.map((c) => c.staticHtml()));
    return `<div style="display:flex;flex-direction:${this.direction};gap:6px;align-items:${this.direction === "row" ? "center" : "flex-start"}">${parts.map((p) => `<div>${p}</div>`).join("")}</div>`;
  }
  override describe(): string {
    return `${String(this.state._model_name).replace(/Model$/, "")}(${this.children.map((c) => c.describe()).join(", ")})`;
  }
}

export class HBox extends Box {
  protected readonly direction = "row" as const;
  constructor(children: Widget[] = []) {
    super({ modelName: "HBoxModel", viewName: "HBoxView" }, { children, box_style: "", layout: null, tabbable: null, tooltip: null });
  }
}

export class VBox extends Box {
  protected readonly direction = "column" as const;
  constructor(children: Widget[] = []) {
    super({ modelName: "VBoxModel", viewName: "VBoxView" }, { children, box_style: "", layout: null, tabbable: null, tooltip: null });
  }
}

/** One output of an Output widget, in nbformat's shape. */
export interface OutputItem {
  output_type: "display_data" | "stream" | "error";
  data?: MimeBundle;
  metadata?: Record<string, unknown>;
  name?: string;
  text?: string;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

/**
 * An output area (OutputModel from @jupyter-widgets/output): `await out.display(value)` appends
 * the value's rich display, `out.clear()` empties it, `out.print(text)` adds a stream.
 */
export class Output extends Widget {
  private plotlyIncluded = false;
  /** The values shown (for the static view), parallel to `outputs`. */
  private shown: unknown[] = [];
  constructor() {
    super(
      { modelName: "OutputModel", viewName: "OutputView", modelModule: OUTPUT, modelModuleVersion: "1.0.0", viewModule: OUTPUT, viewModuleVersion: "1.0.0" },
      { msg_id: "", outputs: [], layout: null },
    );
  }
  get outputs(): OutputItem[] {
    return this.get("outputs") as OutputItem[];
  }

  /** The bundle of a value, with plotly.js included the first time this output shows a figure. */
  async bundleFor(value: unknown): Promise<MimeBundle> {
    if (value instanceof Figure) {
      const b = await value.toMimeBundle({ includePlotlyJs: !this.plotlyIncluded });
      this.plotlyIncluded = true;
      return b;
    }
    return bundleOf(value);
  }

  /** Appends a value's display. */
  async display(value: unknown): Promise<void> {
    const data = await this.bundleFor(value);
    this.shown.push(value);
    this.set({ outputs: [...this.outputs, { output_type: "display_data", data, metadata: {} }] });
  }

  /** Replaces the content with one value's display (one update: no flicker). */
  async replace(value: unknown): Promise<void> {
    const data = await this.bundleFor(value);
    this.shown = [value];
    this.set({ outputs: [{ output_type: "display_data", data, metadata: {} }] });
  }

  /** Appends text (a stdout stream). */
  print(text: string): void {
    this.shown.push(null);
    this.set({ outputs: [...this.outputs, { output_type: "stream", name: "stdout", text: text.endsWith("\n") ? text : text + "\n" }] });
  }

  /** Shows an error. */
  showError(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    this.shown.push(null);
    this.set({ outputs: [...this.outputs, { output_type: "error", ename: err.name, evalue: err.message, traceback: [err.stack ?? err.message] }] });
  }

  clear(): void {
    this.shown = [];
    this.set({ outputs: [] });
  }

  /**
   * Runs `fn` with displays redirected into this output: `widgets.display(...)`, training views
   * (updated in place by display id) and anything else that goes through the DisplayHost. While
   * `fn` runs (also across its awaits) every display through the host lands here.
   */
  async capture<T>(fn: () => T | Promise<T>, opts: { replace?: boolean; onWrite?: () => void } = {}): Promise<T> {
    const outer = getDisplayHost();
    let fresh = !!opts.replace;
    const ids: (string | undefined)[] = fresh ? [] : this.outputs.map(() => undefined);
    const self = this;
    const redirect: DisplayHost = {
      display(bundle: MimeBundle, options: DisplayOptions = {}) {
        const item: OutputItem = { output_type: "display_data", data: bundle, metadata: options.metadata ?? {} };
        const at = options.update && options.displayId ? ids.lastIndexOf(options.displayId) : -1;
        if (options.update && at < 0) return; // updates of displays shown elsewhere stay there
        opts.onWrite?.();
        if (fresh) {
          // replace mode: the first display replaces the old content in one update (no flicker)
          fresh = false;
          self.shown = [];
          self.state.outputs = [];
        }
        const outs = [...self.outputs];
        if (at >= 0) {
          outs[at] = item;
          self.shown[at] = null;
        } else {
          outs.push(item);
          ids.push(options.displayId);
          self.shown.push(null);
        }
        self.set({ outputs: outs });
      },
      clearOutput() {
        ids.length = 0;
        self.clear();
      },
      openComm: (t, d, m, b) => outer?.openComm(t, d, m, b) ?? null,
      registerCommTarget: (t, h) => outer?.registerCommTarget(t, h),
      supportsComms: outer?.supportsComms ?? false,
    };
    setDisplayHost(redirect);
    try {
      return await fn();
    } finally {
      if (getDisplayHost() === redirect) setDisplayHost(outer);
    }
  }

  override async staticHtml(): Promise<string> {
    const parts: string[] = [];
    const outs = this.outputs;
    for (let i = 0; i < outs.length; i++) {
      const o = outs[i];
      const value = this.shown[i];
      if (value instanceof Figure) {
        // the static page needs plotly.js embedded the usual way (once per page)
        parts.push(await value.toHTML({ includePlotlyJs: "once" }));
      } else if (o.output_type === "display_data" && o.data) {
        const d = o.data;
        if (typeof d["text/html"] === "string") parts.push(d["text/html"] as string);
        else if (typeof d["image/png"] === "string") parts.push(`<img src="data:image/png;base64,${d["image/png"]}">`);
        else parts.push(`<pre>${escapeHtml(String(d["text/plain"] ?? ""))}</pre>`);
      } else if (o.output_type === "stream") parts.push(`<pre>${escapeHtml(o.text ?? "")}</pre>`);
      else if (o.output_type === "error") parts.push(`<pre style="color:#b00">${escapeHtml(`${o.ename}: ${o.evalue}`)}</pre>`);
    }
    return parts.join("\n");
  }
  override describe(): string {
    return `Output(${this.outputs.length} output${this.outputs.length === 1 ? "" : "s"})`;
  }
}

// ------------------------------------------------------------------ interact

/** How a parameter of `interact` is controlled. */
export type InteractSpec =
  | Widget
  | [number, number]
  | [number, number, number]
  | readonly (string | number | boolean)[]
  | Record<string, unknown>
  | number
  | boolean
  | string;

/** The widget `interact` returns: controls above an output, re-run on every change. */
export class Interactive extends VBox {
  readonly controls: Record<string, Widget>;
  readonly out: Output;
  private running: Promise<void> | null = null;
  private pending = false;
  /** Resolves when the latest update has been rendered. */
  settled: Promise<void> = Promise.resolve();

  constructor(
    private readonly fn: (values: Record<string, any>) => unknown,
    controls: Record<string, Widget>,
  ) {
    const out = new Output();
    super([...Object.values(controls), out]);
    this.controls = controls;
    this.out = out;
    for (const w of Object.values(controls)) w.observe(() => this.update(), "value");
    this.update();
  }

  /** Current values of all controls. */
  get values(): Record<string, any> {
    const v: Record<string, any> = {};
    for (const [k, w] of Object.entries(this.controls)) v[k] = (w as any).value;
    return v;
  }

  /** Re-runs the function with the current values (coalescing bursts of changes). */
  update(): Promise<void> {
    if (this.running) {
      this.pending = true;
      return this.settled;
    }
    const run = async () => {
      do {
        this.pending = false;
        try {
          let wrote = false;
          const r = await this.out.capture(
            () => this.fn(this.values),
            { replace: true, onWrite: () => (wrote = true) },
          );
          if (r !== undefined) {
            if (wrote) await this.out.display(r);
            else await this.out.replace(r);
          } else if (!wrote) this.out.clear();
        } catch (e) {
          this.out.clear();
          this.out.showError(e);
        }
      } while (this.pending);
      this.running = null;
    };
    this.running = run();
    this.settled = this.running;
    return this.settled;
  }

  override describe(): string {
    return `interact(${Object.entries(this.controls)
      .map(([k, w]) => `${k}=${JSON.stringify((w as any).value)}`)
      .join(", ")})`;
  }
}

function controlFor(name: string, spec: InteractSpec): Widget {
  if (spec instanceof Widget) {
    if (!spec.get("description")) spec.set({ description: name });
    return spec;
  }
  if (typeof spec === "boolean") return new Checkbox({ value: spec, description: name });
  if (typeof spec === "number") {
    const int = Number.isInteger(spec);
    const lo = spec > 0 ? -spec : 3 * spec, hi = spec > 0 ? 3 * spec : -spec;
    return int ? new IntSlider({ value: spec, min: lo, max: hi || 1, description: name }) : new FloatSlider({ value: spec, min: lo, max: hi || 1, step: (hi - lo) / 100 || 0.01, description: name });
  }
  if (typeof spec === "string") return new Dropdown({ options: [spec], description: name });
  if (Array.isArray(spec)) {
    const nums = spec.length >= 2 && spec.length <= 3 && spec.every((x) => typeof x === "number");
    if (nums) {
      const [min, max, step] = spec as number[];
      const int = Number.isInteger(min) && Number.isInteger(max) && (step === undefined || Number.isInteger(step));
      if (int) return new IntSlider({ min, max, step: step ?? 1, value: min + Math.floor((max - min) / 2 / (step ?? 1)) * (step ?? 1), description: name });
      return new FloatSlider({ min, max, step: step ?? (max - min) / 100, value: (min + max) / 2, description: name });
    }
    return new Dropdown({ options: spec as unknown[], description: name });
  }
  if (spec && typeof spec === "object") {
    const o = spec as Record<string, unknown>;
    if ("options" in o) return new Dropdown({ ...(o as any), description: (o.description as string) ?? name });
    if ("min" in o || "max" in o) {
      const int = [o.min, o.max, o.step, o.value].every((x) => x === undefined || Number.isInteger(x));
      return int ? new IntSlider({ ...(o as SliderOptions), description: (o.description as string) ?? name }) : new FloatSlider({ ...(o as SliderOptions), description: (o.description as string) ?? name });
    }
    return new Dropdown({ options: o as Record<string, unknown>, description: name });
  }
  throw new Error(`interact: cannot make a control for '${name}' from ${JSON.stringify(spec)}`);
}

/**
 * Controls for each parameter and an output that shows `fn(values)` — re-run whenever a
 * control moves. Specs: `[min, max]` / `[min, max, step]` (integer or float slider), a list
 * (dropdown), `{ label: value }` (dropdown), a boolean (checkbox), a number (slider around it),
 * `{ min, max, step, value }`, or any widget.
 *
 *   interact(({ stride, padding }) => widgets.convArithmetic({ input: 5, kernel: 3, stride, padding }),
 *            { stride: [1, 3], padding: [0, 2] })
 */
export function interact(fn: (values: Record<string, any>) => unknown, specs: Record<string, InteractSpec>): Interactive {
  const controls: Record<string, Widget> = {};
  for (const [k, s] of Object.entries(specs)) controls[k] = controlFor(k, s);
  return new Interactive(fn, controls);
}

/** Live widgets by model id (tests, the kernel). */
export function widgetRegistry(): ReadonlyMap<string, Widget> {
  return registry;
}
