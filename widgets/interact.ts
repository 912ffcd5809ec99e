/**
 * `interact`: controls for each parameter of a function above an Output that shows its result,
 * re-run whenever a control moves (as ipywidgets' interact).
 *
 *   interact(({ stride, lr }) => plot.line(...), { stride: [1, 3], lr: [0.001, 1] })
 */
import { Checkbox, Dropdown, FloatSlider, IntSlider, VBox, type SliderOptions } from "./controls.js";
import { Output } from "./output.js";
import { Widget } from "./protocol.js";

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
