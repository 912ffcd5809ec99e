/**
 * The Output widget (OutputModel of `@jupyter-widgets/output` 1.0.0): an output area whose
 * content is synced state. `out.display(value)`, `out.print(text)`, `out.clear()`, and
 * `out.capture(fn)`, which makes it the display host while `fn` runs.
 */
import { getDisplayHost, setDisplayHost, type DisplayHost, type MimeBundle, type OutputOptions } from "./host.js";
import { hostBundleOf } from "./display.js";
import { OutputQueue } from "./queue.js";
import { Figure, PlotlyEmbedding } from "./plotly.js";
import { Widget } from "./protocol.js";
import { escapeHtml } from "./util.js";

const OUTPUT = "@jupyter-widgets/output";

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
  /**
   * Widget front ends render this output's state instead of the page's static views, so its
   * figures carry plotly.js once on their own (plotly.ts decides when).
   */
  private readonly plotly = new PlotlyEmbedding();
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

  private async bundleFor(value: unknown): Promise<MimeBundle> {
    return value instanceof Figure ? value.toMimeBundle({ includePlotlyJs: this.plotly }) : hostBundleOf(value);
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
    const place = (bundle: MimeBundle, options: OutputOptions) => {
      const item: OutputItem = { output_type: "display_data", data: bundle, metadata: options.metadata ?? {} };
      const at = options.update && options.displayId ? ids.lastIndexOf(options.displayId) : -1;
      if (options.update && at < 0) return; // updates of displays shown elsewhere stay there
      opts.onWrite?.();
      if (fresh) {
        // replace mode: the first display replaces the old content in one update (no flicker)
        fresh = false;
        this.shown = [];
        this.state.outputs = [];
      }
      const outs = [...this.outputs];
      if (at >= 0) {
        outs[at] = item;
        this.shown[at] = null;
      } else {
        outs.push(item);
        ids.push(options.displayId);
        this.shown.push(null);
      }
      this.set({ outputs: outs });
    };
    // bundles still being made keep their place: later outputs wait for them
    const queue = new OutputQueue((e) => this.showError(e));
    const redirect: DisplayHost = {
      display: (bundle, options = {}) => queue.run(bundle instanceof Promise ? () => bundle.then((b) => place(b, options)) : () => place(bundle, options)),
      clearOutput: () =>
        queue.run(() => {
          ids.length = 0;
          this.clear();
        }),
      openComm: (t, d, m, b) => outer?.openComm(t, d, m, b) ?? null,
      registerCommTarget: (t, h) => outer?.registerCommTarget(t, h),
      supportsComms: outer?.supportsComms ?? false,
      formatText: outer?.formatText ? (v) => outer.formatText!(v) : undefined,
    };
    setDisplayHost(redirect);
    try {
      return await fn();
    } finally {
      if (getDisplayHost() === redirect) setDisplayHost(outer);
      await queue.settled();
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
