/**
 * The controls of `@jupyter-widgets/controls` 2.0.0 (as ipywidgets 8, JupyterLab 4, Notebook 7,
 * VS Code): sliders, a drop-down, a checkbox, a button, progress bars, labels, HTML and boxes.
 * Each is a Widget (protocol.ts) whose fields are accessors over its synced state.
 *
 *   const stride = new IntSlider({ value: 1, min: 1, max: 3, description: "stride" });
 *   stride.observe(({ new: s }) => redraw(s), "value");
 *   stride            // displayed: a live slider (or a static view with a note without a widget front end)
 */
import { Widget, reportError, sameValue, type Change } from "./protocol.js";
import { escapeHtml, fmt } from "./util.js";

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
    const pairs = options.length > 0 && (options as unknown[]).every((o) => Array.isArray(o) && o.length === 2 && typeof o[0] === "string");
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
