/**
 * The chart builders of `widgets.plot`: line, scatter, heatmap, contour, surface, bar,
 * histogram and image, each a Plotly `Figure` (plotly.ts). Data may be engine tensors: they
 * are read when the figure is displayed.
 *
 *   plot.line({ train: trainLosses, val: valLosses }, { title: "Loss", xlabel: "epoch", logy: true })
 *   plot.scatter(X /* [N,2] *\/, undefined, { labels: y, classNames: ["no", "yes"] })
 */
import { plotlyColorscale, type ColormapName } from "./png.js";
import { isTensor, readArray, type ArrayInput } from "./util.js";
import { imagePng } from "./images.js";
import { Figure, trimFloat, type Layout, type Trace } from "./plotly.js";

export interface CommonOptions {
  title?: string;
  xlabel?: string;
  ylabel?: string;
  width?: number;
  height?: number;
  /** Extra layout fields (merged last). */
  layout?: Layout;
}

function baseLayout(o: CommonOptions, extra: Layout = {}): Layout {
  const layout: Layout = {
    margin: { l: 60, r: 20, t: o.title ? 50 : 20, b: 50 },
    height: o.height ?? 420,
    ...extra,
  };
  if (o.width) layout.width = o.width;
  if (o.title) layout.title = { text: o.title };
  if (o.xlabel) layout.xaxis = { ...((layout.xaxis as object) ?? {}), title: { text: o.xlabel } };
  if (o.ylabel) layout.yaxis = { ...((layout.yaxis as object) ?? {}), title: { text: o.ylabel } };
  return { ...layout, ...(o.layout ?? {}) };
}

type Series = ArrayInput;
function isSeriesRecord(y: unknown): y is Record<string, Series> {
  return !!y && typeof y === "object" && !Array.isArray(y) && !isTensor(y) && !ArrayBuffer.isView(y);
}

export interface LineOptions extends CommonOptions {
  /** x values shared by all series (default 0, 1, 2, ...). */
  x?: Series;
  /** Trace name for a single series. */
  name?: string;
  /** Draw markers too. */
  markers?: boolean;
  /** Logarithmic y axis (losses). */
  logy?: boolean;
}

/** Line chart of one series or several (`{ name: values }`). */
export function line(y: Series | Record<string, Series>, opts: LineOptions = {}): Figure {
  const series: [string | undefined, Series][] = isSeriesRecord(y) ? Object.entries(y) : [[opts.name, y as Series]];
  const data: Trace[] = series.map(([name, ys]) => {
    const t: Trace = { type: "scatter", mode: opts.markers ? "lines+markers" : "lines", y: ys };
    if (opts.x !== undefined) t.x = opts.x;
    if (name) t.name = name;
    return t;
  });
  const layout = baseLayout(opts);
  if (opts.logy) layout.yaxis = { ...((layout.yaxis as object) ?? {}), type: "log" };
  return new Figure({ data, layout }, "line");
}

export interface ScatterOptions extends CommonOptions {
  /** Class labels (one trace per class, coloured) or numeric values (a colour scale). */
  labels?: Series;
  /** Names of the classes (index = label). */
  classNames?: string[];
  name?: string;
  size?: number;
  colormap?: ColormapName;
}

const CLASS_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
export function classColor(k: number): string {
  return CLASS_COLORS[((k % CLASS_COLORS.length) + CLASS_COLORS.length) % CLASS_COLORS.length];
}

/** Scatter plot: `scatter(x, y)` or `scatter(points /* [N,2] *\/)`, optionally coloured by class labels. */
export function scatter(x: Series, y?: Series | ScatterOptions, opts: ScatterOptions = {}): Figure {
  if (y !== undefined && isSeriesRecord(y) && !Array.isArray(y) && !isTensor(y)) {
    opts = y as ScatterOptions;
    y = undefined;
  }
  // The traces depend on label values: built (one per class) when the figure is resolved.
  const traces = scatterTraces(x, y as Series | undefined, opts);
  return new Figure({ data: [traces as unknown as Trace], layout: baseLayout(opts) }, "scatter");
}

async function scatterTraces(x: Series, y: Series | undefined, o: ScatterOptions): Promise<Trace[]> {
  let xs: number[], ys: number[];
  if (y === undefined) {
    const { values, shape } = await readArray(x, "scatter");
    if (shape.length !== 2 || shape[1] !== 2) throw new Error(`scatter: points must have shape [N, 2], got [${shape.join(", ")}]`);
    xs = [];
    ys = [];
    for (let i = 0; i < shape[0]; i++) {
      xs.push(trimFloat(values[2 * i]));
      ys.push(trimFloat(values[2 * i + 1]));
    }
  } else {
    xs = Array.from((await readArray(x, "scatter x")).values, trimFloat);
    ys = Array.from((await readArray(y, "scatter y")).values, trimFloat);
    if (xs.length !== ys.length) throw new Error(`scatter: x has ${xs.length} values but y has ${ys.length}`);
  }
  const marker = { size: o.size ?? 7, line: { width: 0.5, color: "white" } };
  if (o.labels === undefined) return [{ type: "scatter", mode: "markers", x: xs, y: ys, name: o.name, marker }];
  const labels = Array.from((await readArray(o.labels, "scatter labels")).values);
  if (labels.length !== xs.length) throw new Error(`scatter: ${xs.length} points but ${labels.length} labels`);
  const integral = labels.every((v) => Number.isInteger(v) && v >= 0 && v < 1000);
  if (!integral) {
    return [{ type: "scatter", mode: "markers", x: xs, y: ys, name: o.name, marker: { ...marker, color: labels.map(trimFloat), colorscale: plotlyColorscale(o.colormap ?? "viridis"), showscale: true } }];
  }
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  return classes.map((k) => {
    const idx = labels.map((v, i) => (v === k ? i : -1)).filter((i) => i >= 0);
    return {
      type: "scatter",
      mode: "markers",
      name: o.classNames?.[k] ?? `class ${k}`,
      x: idx.map((i) => xs[i]),
      y: idx.map((i) => ys[i]),
      marker: { ...marker, color: classColor(k) },
    };
  });
}

export interface GridOptions extends CommonOptions {
  x?: Series;
  y?: Series;
  colormap?: ColormapName;
  zmin?: number;
  zmax?: number;
  /** Show each cell's value as text (small matrices). */
  showValues?: boolean;
  /** Put row 0 at the top (images, matrices). Default: true for heatmaps without x/y. */
  reverseY?: boolean;
}

function gridTrace(type: string, z: Series, o: GridOptions): Trace {
  const t: Trace = { type, z, colorscale: plotlyColorscale(o.colormap ?? "viridis") };
  if (o.x !== undefined) t.x = o.x;
  if (o.y !== undefined) t.y = o.y;
  if (o.zmin !== undefined) t.zmin = o.zmin;
  if (o.zmax !== undefined) t.zmax = o.zmax;
  return t;
}

/** Heatmap of a matrix (row 0 at the top unless x/y are given). */
export function heatmap(z: Series, opts: GridOptions = {}): Figure {
  const t = gridTrace("heatmap", z, opts);
  if (opts.showValues) {
    t.texttemplate = "%{z:.3g}";
    t.text = z;
  }
  const layout = baseLayout(opts);
  const reverse = opts.reverseY ?? (opts.x === undefined && opts.y === undefined);
  if (reverse) layout.yaxis = { ...((layout.yaxis as object) ?? {}), autorange: "reversed" };
  return new Figure({ data: [t], layout }, "heatmap");
}

/** Filled contour plot of z over a grid. */
export function contour(z: Series, opts: GridOptions = {}): Figure {
  return new Figure({ data: [gridTrace("contour", z, opts)], layout: baseLayout(opts) }, "contour");
}

/** 3-D surface (loss landscapes). Needs WebGL in the browser. */
export function surface(z: Series, opts: GridOptions & { zlabel?: string } = {}): Figure {
  const layout = baseLayout({ ...opts, xlabel: undefined, ylabel: undefined }, {});
  layout.scene = { xaxis: { title: { text: opts.xlabel ?? "x" } }, yaxis: { title: { text: opts.ylabel ?? "y" } }, zaxis: { title: { text: opts.zlabel ?? "z" } } };
  return new Figure({ data: [gridTrace("surface", z, opts)], layout }, "surface");
}

export interface BarOptions extends CommonOptions {
  /** Category labels (default 0..n-1). */
  labels?: (string | number)[] | Series;
  horizontal?: boolean;
  name?: string;
}

/** Bar chart of one series or several grouped (`{ name: values }`). */
export function bar(values: Series | Record<string, Series>, opts: BarOptions = {}): Figure {
  const series: [string | undefined, Series][] = isSeriesRecord(values) ? Object.entries(values) : [[opts.name, values as Series]];
  const data = series.map(([name, v]) => {
    const t: Trace = { type: "bar" };
    if (opts.horizontal) {
      t.x = v;
      t.orientation = "h";
      if (opts.labels !== undefined) t.y = opts.labels;
    } else {
      t.y = v;
      if (opts.labels !== undefined) t.x = opts.labels;
    }
    if (name) t.name = name;
    return t;
  });
  return new Figure({ data, layout: baseLayout(opts, { barmode: "group" }) }, "bar");
}

export interface HistogramOptions extends CommonOptions {
  bins?: number;
  name?: string;
  /** Normalise to a probability density. */
  density?: boolean;
}

/** Histogram of values (weights, activations, gradients). */
export function histogram(values: Series | Record<string, Series>, opts: HistogramOptions = {}): Figure {
  const series: [string | undefined, Series][] = isSeriesRecord(values) ? Object.entries(values) : [[opts.name, values as Series]];
  const data = series.map(([name, v]) => {
    const t: Trace = { type: "histogram", x: flatten1d(v), opacity: series.length > 1 ? 0.6 : 1 };
    if (opts.bins) t.nbinsx = opts.bins;
    if (opts.density) t.histnorm = "probability density";
    if (name) t.name = name;
    return t;
  });
  return new Figure({ data, layout: baseLayout(opts, { barmode: "overlay" }) }, "histogram");
}

async function flatten1d(v: Series): Promise<number[]> {
  return Array.from((await readArray(v)).values, trimFloat);
}

export interface ImageOptions extends CommonOptions {
  colormap?: ColormapName;
  vmin?: number;
  vmax?: number;
}

/** An image from a tensor: [H,W] (colormap), [1|3,H,W] or [H,W,1|3] — shown as a PNG inside the figure. */
export function image(img: Series, opts: ImageOptions = {}): Figure {
  const png = imagePng(img, { colormap: opts.colormap, vmin: opts.vmin, vmax: opts.vmax });
  const trace = png.then((p) => ({ type: "image", source: p.dataUri, hoverinfo: "x+y" }));
  const layout = baseLayout(opts);
  layout.xaxis = { ...((layout.xaxis as object) ?? {}), showgrid: false, zeroline: false };
  layout.yaxis = { ...((layout.yaxis as object) ?? {}), showgrid: false, zeroline: false, scaleanchor: "x" };
  return new Figure({ data: [trace as unknown as Trace], layout }, "image");
}
