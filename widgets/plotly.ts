/**
 * Plotly figures. A `Figure` displays as
 *   - `application/vnd.plotly.v1+json` (JupyterLab / VS Code plotly renderers),
 *   - `text/html`: a self-contained fallback that draws with plotly.js offline — the
 *     library itself is embedded once per page (the first figure shown in a kernel
 *     session carries it and defines `window.Plotly`; later figures reuse it), and
 *   - `text/plain`: a one-line summary.
 *
 * Trace fields may hold engine tensors (or promises): they are read when the figure is
 * displayed (`await fig.resolve()`), so building a figure is synchronous.
 *
 *   const fig = plot.line({ train: trainLosses, val: valLosses }, { title: "Loss", xlabel: "epoch" });
 *   fig  // last expression of a cell: displayed
 */
import type { MimeBundle } from "./host.js";
import { escapeHtml, isNode, isTensor, readArray, uid } from "./util.js";

export type Trace = Record<string, unknown> & { type?: string; name?: string };
export type Layout = Record<string, unknown>;

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

// ---------------------------------------------------------------- plotly.js source

let plotlySource: string | null = null;
let plotlySupplier: (() => string | Promise<string>) | null = null;

/**
 * Where plotly.js has been embedded. A figure's HTML carries the library when its page does not
 * have it yet: the page of a kernel session's outputs (one for the session), or the state of an
 * Output widget, which widget front ends render instead of the page's static views.
 */
export class PlotlyEmbedding {
  embedded = false;
}
const sessionPage = new PlotlyEmbedding();

/**
 * Supplies plotly.js's source text (a browser build of the widgets has no `fs`): a string,
 * or a function returning it (called once, when the first figure is shown).
 */
export function setPlotlySource(src: string | (() => string | Promise<string>) | null): void {
  if (typeof src === "string") {
    plotlySource = src;
    plotlySupplier = null;
  } else {
    plotlySource = null;
    plotlySupplier = src;
  }
}

/** Forgets that plotly.js was embedded: the next figure carries the library again (e.g. after clearing all outputs). */
export function resetPlotlyEmbedding(): void {
  sessionPage.embedded = false;
}

/** Whether plotly.js has been embedded in an output of this session. */
export function plotlyEmbedded(): boolean {
  return sessionPage.embedded;
}

/** plotly.js's minified source: supplied, or read from the installed `plotly.js-dist-min` (Node only). Null if unavailable. */
export async function loadPlotlySource(): Promise<string | null> {
  if (plotlySource !== null) return plotlySource;
  if (plotlySupplier) {
    plotlySource = await plotlySupplier();
    return plotlySource;
  }
  if (!isNode()) return null;
  try {
    const fs: any = await import("node:fs");
    const mod: any = await import("node:module");
    const bases = [import.meta.url, "file://" + (globalThis as any).process.cwd() + "/"];
    for (const base of bases) {
      try {
        const req = mod.createRequire(base);
        const file = req.resolve("plotly.js-dist-min/plotly.min.js");
        plotlySource = fs.readFileSync(file, "utf8") as string;
        return plotlySource;
      } catch {
        /* try next */
      }
    }
  } catch {
    /* no fs */
  }
  return null;
}

/** A <script> that defines window.Plotly if absent (AMD/CommonJS shadowed so the classic notebook's require.js is bypassed). */
export function plotlyLibraryScript(src: string): string {
  const safe = src.replace(/<\/script/gi, "\\x3C/script").replace(/<!--/g, "\\x3C!--");
  return `<script type="text/javascript">/* plotly.js, embedded once per page by gradbook */\nif (!window.Plotly) { (function (define, module, exports) {\n${safe}\n}).call(window); }\n</script>`;
}

// ---------------------------------------------------------------- Figure

export interface FigureSpec {
  data?: Trace[];
  layout?: Layout;
  config?: Record<string, unknown>;
}

export interface FigureHtmlOptions {
  /**
   * Embed plotly.js: true, false, "once" (the default: unless an earlier figure of this session
   * did), or once for the page a PlotlyEmbedding stands for.
   */
  includePlotlyJs?: boolean | "once" | PlotlyEmbedding;
}

export class Figure {
  data: Trace[];
  layout: Layout;
  config: Record<string, unknown>;
  /** What kind of chart (for the text summary). */
  kind: string;

  constructor(spec: FigureSpec = {}, kind = "figure") {
    this.data = spec.data ?? [];
    this.layout = spec.layout ?? {};
    this.config = { responsive: true, displaylogo: false, ...(spec.config ?? {}) };
    this.kind = kind;
  }

  addTrace(trace: Trace): this {
    this.data.push(trace);
    return this;
  }

  /** Merges into the layout (shallow; nested objects given here replace). */
  updateLayout(layout: Layout): this {
    Object.assign(this.layout, layout);
    return this;
  }

  /** The figure as plain JSON (tensors and promises in traces read). */
  async resolve(): Promise<{ data: Trace[]; layout: Layout; config: Record<string, unknown> }> {
    // An entry may be a promise of several traces (built from data read at display time).
    const data = ((await resolveValue(this.data)) as unknown[]).flatMap((t) => (Array.isArray(t) ? (t as Trace[]) : [t as Trace]));
    const layout = (await resolveValue(this.layout)) as Layout;
    checkTraces(this.kind, data);
    return { data, layout, config: { ...this.config } };
  }

  /** Self-contained HTML for an output: a div and a script that draws it with window.Plotly. */
  async toHTML(opts: FigureHtmlOptions = {}): Promise<string> {
    const fig = await this.resolve();
    return figureHtml(fig, this.summary(fig.data), opts);
  }

  /** A standalone HTML page (plotly.js embedded): for saving a figure to a file. */
  async toHTMLPage(title = "gradbook figure"): Promise<string> {
    const body = await this.toHTML({ includePlotlyJs: true });
    return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>\n${body}\n</body></html>\n`;
  }

  async toMimeBundle(opts: FigureHtmlOptions = {}): Promise<MimeBundle> {
    const fig = await this.resolve();
    const summary = this.summary(fig.data);
    return {
      [PLOTLY_MIME]: { data: fig.data, layout: fig.layout, config: fig.config },
      "text/html": await figureHtml(fig, summary, opts),
      "text/plain": summary,
    };
  }

  /** A one-line description: kind, title, traces and their sizes. */
  summary(data: Trace[] = this.data): string {
    const title = titleText(this.layout.title);
    const traces = data.map((t) => {
      const n = pointsOf(t);
      const label = t.name ? `${t.name}: ` : "";
      return `${label}${t.type ?? "scatter"}${n ? ` (${n})` : ""}`;
    });
    return `<Figure ${this.kind}${title ? ` "${title}"` : ""}: ${data.length} trace${data.length === 1 ? "" : "s"}${traces.length ? ` — ${traces.join(", ")}` : ""}>`;
  }

  toString(): string {
    return this.summary();
  }
}

function titleText(t: unknown): string {
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as any).text === "string") return (t as any).text;
  return "";
}

function pointsOf(t: Trace): string {
  const dims = (v: unknown): string => {
    if (isTensor(v)) return v.shape.join("×");
    if (Array.isArray(v)) return Array.isArray(v[0]) ? `${v.length}×${(v[0] as unknown[]).length}` : `${v.length}`;
    return "";
  };
  if (t.z !== undefined) return dims(t.z);
  if (t.y !== undefined) return `${dims(t.y)} points`;
  if (t.x !== undefined) return `${dims(t.x)} values`;
  if (t.source) return "image";
  return "";
}

/** Reads tensors (to nested arrays, float32 noise trimmed) and awaits promises, recursively. */
export async function resolveValue(v: unknown): Promise<unknown> {
  if (v && typeof (v as any).then === "function") return resolveValue(await v);
  if (isTensor(v)) {
    const { values, shape } = await readArray(v);
    const bool = v.dtype === "bool";
    const f32 = v.dtype === "float32";
    const conv = (x: number) => (bool ? !!x : f32 ? trimFloat(x) : x);
    if (shape.length === 0) return conv(values[0]);
    let pos = 0;
    const build = (d: number): unknown[] => {
      const out: unknown[] = [];
      for (let i = 0; i < shape[d]; i++) out.push(d === shape.length - 1 ? conv(values[pos++]) : build(d + 1));
      return out;
    };
    return build(0);
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
  if (Array.isArray(v)) {
    // fast path: flat arrays of plain values
    if (v.every((x) => x === null || typeof x !== "object")) return v;
    return Promise.all(v.map(resolveValue));
  }
  if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = await resolveValue(x);
    return out;
  }
  return v;
}

/** "a string", "shape [2, 3, 4]", "an object": what a value is, for errors. */
function describeValue(v: unknown): string {
  if (typeof v === "string") return `a string (${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v)})`;
  if (!Array.isArray(v)) return v === null ? "null" : v === undefined ? "nothing" : `${typeof v === "object" ? "an object" : `a ${typeof v}`}`;
  const shape: number[] = [];
  for (let a: unknown = v; Array.isArray(a); a = a[0]) shape.push(a.length);
  return `shape [${shape.join(", ")}]`;
}
const isFlat = (v: unknown): v is unknown[] => Array.isArray(v) && v.every((x) => x === null || typeof x !== "object");
const isMatrix = (v: unknown): boolean => Array.isArray(v) && v.length > 0 && v.every(isFlat);

/**
 * The chart builders' traces, checked once tensors are read: a series is 1-D with as many x
 * values as y values, a grid is a 2-D matrix. (Plotly itself draws an empty or wrong chart.)
 */
function checkTraces(kind: string, data: Trace[]): void {
  data.forEach((t, i) => {
    const which = data.length > 1 ? ` (trace ${i}${t.name ? ` "${t.name}"` : ""})` : "";
    if (kind === "heatmap" || kind === "contour" || kind === "surface") {
      if (!isMatrix(t.z)) throw new Error(`${kind}: expected a 2-D matrix (an array of rows or a 2-D tensor), got ${describeValue(t.z)}${which}`);
      return;
    }
    if (kind !== "line" && kind !== "bar" && kind !== "histogram") return;
    for (const axis of ["x", "y"] as const) {
      const v = t[axis];
      if (v !== undefined && !isFlat(v)) throw new Error(`${kind}: expected a 1-D series (an array of numbers or a 1-D tensor) for ${axis}, got ${describeValue(v)}${which}`);
    }
    if (kind !== "histogram" && Array.isArray(t.x) && Array.isArray(t.y) && t.x.length !== t.y.length)
      throw new Error(`${kind}: x has ${t.x.length} values but y has ${t.y.length}${which}`);
  });
}

/** Shortest decimal that reads back as the same float32. */
export function trimFloat(x: number): number {
  if (!Number.isFinite(x) || Number.isInteger(x)) return x;
  for (let p = 6; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === Math.fround(x)) return y;
  }
  return x;
}

async function figureHtml(fig: { data: Trace[]; layout: Layout; config: Record<string, unknown> }, summary: string, opts: FigureHtmlOptions): Promise<string> {
  const mode = opts.includePlotlyJs ?? "once";
  const page = mode === "once" ? sessionPage : mode instanceof PlotlyEmbedding ? mode : null;
  let lib = "";
  if (mode === true || (page && !page.embedded)) {
    if (page) page.embedded = true; // (before the await: of two figures made at once, one carries it)
    const src = await loadPlotlySource();
    if (src) lib = plotlyLibraryScript(src);
    else if (page) page.embedded = false;
  }
  const id = uid("gb-plotly");
  const height = typeof fig.layout.height === "number" ? fig.layout.height : 420;
  const json = JSON.stringify({ data: fig.data, layout: fig.layout, config: fig.config }).replace(/<\//g, "<\\/").replace(/<!--/g, "<\\!--");
  const note = escapeHtml(`${summary} — plotly.js is not loaded on this page yet; it comes with the first figure shown in this session (run this cell again to embed it here).`);
  return `<div class="gb-figure" style="width:100%;min-height:${height}px"><div id="${id}" class="gb-plotly-target" style="width:100%;height:${height}px"></div></div>
${lib}<script type="text/javascript">
(function () {
  var fig = ${json};
  var id = ${JSON.stringify(id)};
  var script = document.currentScript;
  function target() {
    var root = script && script.parentNode;
    return (root && root.querySelector && root.querySelector("#" + id)) || document.getElementById(id);
  }
  function draw() {
    var el = target();
    if (!el) return false;
    el.textContent = "";
    el.style.height = ${JSON.stringify(`${height}px`)};
    window.Plotly.newPlot(el, fig.data, fig.layout, fig.config);
    return true;
  }
  // plotly.js comes with the first figure of the page: wait for it (it may render later, e.g. a
  // notebook front end that renders cells lazily); after 2 s say so, keep waiting up to 10 minutes.
  var tries = 0;
  (function attempt() {
    if (window.Plotly && draw()) return;
    tries++;
    if (tries === 20) {
      var el = target();
      if (el) { el.style.height = "auto"; el.textContent = ${JSON.stringify(note)}; }
    }
    if (tries < 1300) setTimeout(attempt, tries < 100 ? 100 : 500);
  })();
})();
</script>`;
}
