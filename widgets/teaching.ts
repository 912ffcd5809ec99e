/**
 * Teaching plots built on Figure: decision boundaries of 2-D classifiers, activation
 * functions with their derivatives, confusion matrices.
 */
import * as gb from "../engine/index.js";
import type { Tensor } from "../engine/index.js";
import { Figure, trimFloat, type Trace } from "./plotly.js";
import { classColor, type CommonOptions } from "./charts.js";
import { plotlyColorscale } from "./png.js";
import { isTensor, readArray, type ArrayInput } from "./util.js";

// ------------------------------------------------------------------ decision boundary

/** A classifier of 2-D points: a function of an [N,2] tensor, or a module (called with `call`/`forward`). */
export type Classifier = ((x: Tensor) => Tensor | number[] | Promise<Tensor | number[]>) | { forward(x: Tensor): unknown; call?(x: Tensor): unknown };

export interface DecisionBoundaryOptions extends CommonOptions {
  /** Grid points per axis (default 120). */
  resolution?: number;
  /** Margin around the data, as a fraction of its range (default 0.15). */
  margin?: number;
  /** Explicit plot range [[xmin, xmax], [ymin, ymax]]. */
  range?: [[number, number], [number, number]];
  classNames?: string[];
  /**
   * How outputs are read: "auto" (default), "probability" (one column in [0,1], boundary 0.5),
   * "score" (one column, boundary 0: perceptron, logits), "logits" (several columns: argmax).
   */
  output?: "auto" | "probability" | "score" | "logits";
}

export interface BoundaryGrid {
  xs: number[];
  ys: number[];
  /** Predicted class per grid point, [ys.length][xs.length]. */
  classes: number[][];
  /** For one-column outputs: the value per grid point (probability or score). */
  values: number[][] | null;
  /** The threshold the class is read at (0.5 or 0), for one-column outputs. */
  threshold: number | null;
  numClasses: number;
}

function paramDevice(model: unknown): string | undefined {
  const m = model as { parameters?: () => Tensor[] };
  if (m && typeof m.parameters === "function") {
    const ps = m.parameters();
    if (ps.length) return ps[0].device;
  }
  return undefined;
}

/** Runs a classifier on points (under noGrad, eval mode for modules, restored after). */
async function evaluate(model: Classifier, pts: Float32Array, n: number, device: string | undefined): Promise<{ values: Float64Array; cols: number }> {
  const x = gb.Tensor.fromData(pts, [n, 2], "float32", (device ?? "cpu") as gb.Device);
  const mod = model as { training?: boolean; train?: (on: boolean) => unknown; modules?: () => { training: boolean }[] };
  const modes = typeof mod.modules === "function" ? mod.modules().map((m) => [m, m.training] as const) : [];
  if (typeof mod.train === "function") mod.train(false);
  let out: unknown;
  try {
    out = gb.noGrad(() => {
      if (typeof model === "function") return (model as (x: Tensor) => unknown)(x);
      const m = model as { forward(x: Tensor): unknown; call?(x: Tensor): unknown };
      return typeof m.call === "function" ? m.call(x) : m.forward(x);
    });
    out = await out;
  } finally {
    for (const [m, t] of modes) m.training = t;
  }
  if (!isTensor(out) && !Array.isArray(out) && !ArrayBuffer.isView(out)) throw new Error(`decisionBoundary: the classifier returned ${typeof out}, expected a tensor of shape [N], [N,1] or [N,C]`);
  const { values, shape } = await readArray(out as ArrayInput, "decisionBoundary");
  if (shape[0] !== n || shape.length > 2) throw new Error(`decisionBoundary: the classifier returned shape [${shape.join(", ")}] for ${n} points; expected [${n}], [${n}, 1] or [${n}, C]`);
  return { values, cols: shape.length === 2 ? shape[1] : 1 };
}

/** Evaluates a classifier on a grid over the points' range (exported for tests and custom plots). */
export async function boundaryGrid(model: Classifier, X: ArrayInput, opts: DecisionBoundaryOptions = {}): Promise<BoundaryGrid & { points: number[][] }> {
  const { values: xv, shape } = await readArray(X, "decisionBoundary X");
  if (shape.length !== 2 || shape[1] !== 2) throw new Error(`decisionBoundary: X must have shape [N, 2], got [${shape.join(", ")}]`);
  const n = shape[0];
  const points: number[][] = [];
  for (let i = 0; i < n; i++) points.push([xv[2 * i], xv[2 * i + 1]]);
  let range = opts.range;
  if (!range) {
    const m = opts.margin ?? 0.15;
    const ax = (k: number): [number, number] => {
      let lo = Infinity, hi = -Infinity;
      for (const p of points) {
        lo = Math.min(lo, p[k]);
        hi = Math.max(hi, p[k]);
      }
      if (!Number.isFinite(lo)) return [-1, 1];
      const pad = (hi - lo) * m || 1;
      return [lo - pad, hi + pad];
    };
    range = [ax(0), ax(1)];
  }
  const R = Math.max(2, Math.min(400, Math.round(opts.resolution ?? 120)));
  const xs = Array.from({ length: R }, (_, i) => range![0][0] + ((range![0][1] - range![0][0]) * i) / (R - 1));
  const ys = Array.from({ length: R }, (_, i) => range![1][0] + ((range![1][1] - range![1][0]) * i) / (R - 1));
  const pts = new Float32Array(R * R * 2);
  for (let j = 0; j < R; j++)
    for (let i = 0; i < R; i++) {
      pts[(j * R + i) * 2] = xs[i];
      pts[(j * R + i) * 2 + 1] = ys[j];
    }
  const device = paramDevice(model) ?? (isTensor(X) ? X.device : undefined);
  const { values, cols } = await evaluate(model, pts, R * R, device);
  const classes: number[][] = [];
  let grid: number[][] | null = null;
  let threshold: number | null = null;
  let numClasses = 2;
  const mode = opts.output ?? "auto";
  if (cols === 1 && mode !== "logits") {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    threshold = mode === "probability" ? 0.5 : mode === "score" ? 0 : lo >= 0 && hi <= 1 ? 0.5 : 0;
    grid = [];
    for (let j = 0; j < R; j++) {
      const row = Array.from(values.subarray(j * R, (j + 1) * R), trimFloat);
      grid.push(row);
      classes.push(row.map((v) => (v > threshold! ? 1 : 0)));
    }
  } else {
    numClasses = cols;
    for (let j = 0; j < R; j++) {
      const row: number[] = [];
      for (let i = 0; i < R; i++) {
        const o = (j * R + i) * cols;
        let best = 0;
        for (let c = 1; c < cols; c++) if (values[o + c] > values[o + best]) best = c;
        row.push(best);
      }
      classes.push(row);
    }
  }
  return { xs: xs.map(trimFloat), ys: ys.map(trimFloat), classes, values: grid, threshold, numClasses, points };
}

/** Light version of a class colour for regions. */
function tint(hex: string, a = 0.25): string {
  const r = parseInt(hex.slice(1, 3), 16), g = parseInt(hex.slice(3, 5), 16), b = parseInt(hex.slice(5, 7), 16);
  const mix = (c: number) => Math.round(255 - (255 - c) * a);
  return `rgb(${mix(r)},${mix(g)},${mix(b)})`;
}

/**
 * The decision boundary of a 2-D classifier with its data points coloured by class:
 * regions shaded by the predicted class, the boundary drawn as a contour line
 * (for one-output models: probability 0.5 or score 0).
 *
 *   widgets.decisionBoundary(perceptron, X, y)                 // X: [N,2], y: [N] labels
 *   widgets.decisionBoundary((x) => mlp.call(x).sigmoid(), X, y, { title: "XOR" })
 */
export function decisionBoundary(model: Classifier, X: ArrayInput, y?: ArrayInput, opts: DecisionBoundaryOptions = {}): Figure {
  const traces = (async (): Promise<Trace[]> => {
    const g = await boundaryGrid(model, X, opts);
    const out: Trace[] = [];
    const labels = y === undefined ? null : Array.from((await readArray(y, "decisionBoundary y")).values);
    if (labels && labels.length !== g.points.length) throw new Error(`decisionBoundary: ${g.points.length} points but ${labels.length} labels`);
    const K = Math.max(g.numClasses, labels ? Math.max(...labels.map((v) => Math.round(v))) + 1 : 0, 2);
    // regions: heatmap of class ids with a discrete scale of tinted class colours
    const scale: [number, string][] = [];
    for (let k = 0; k < K; k++) {
      scale.push([k / K, tint(classColor(k))]);
      scale.push([(k + 1) / K, tint(classColor(k))]);
    }
    out.push({ type: "heatmap", x: g.xs, y: g.ys, z: g.classes, zmin: -0.5, zmax: K - 0.5, colorscale: scale, showscale: false, hoverinfo: "skip", name: "prediction" });
    if (g.values && g.threshold !== null) {
      out.push({
        type: "contour",
        x: g.xs,
        y: g.ys,
        z: g.values,
        name: "boundary",
        showscale: false,
        contours: { coloring: "none", start: g.threshold, end: g.threshold, size: 1, showlabels: false },
        line: { color: "black", width: 2 },
        hoverinfo: "skip",
      });
    }
    const px = g.points.map((p) => trimFloat(p[0])), py = g.points.map((p) => trimFloat(p[1]));
    if (!labels) out.push({ type: "scatter", mode: "markers", x: px, y: py, name: "data", marker: { color: "#333", size: 7 } });
    else {
      const classes = [...new Set(labels.map((v) => Math.round(v)))].sort((a, b) => a - b);
      for (const k of classes) {
        const idx = labels.map((v, i) => (Math.round(v) === k ? i : -1)).filter((i) => i >= 0);
        out.push({
          type: "scatter",
          mode: "markers",
          name: opts.classNames?.[k] ?? `class ${k}`,
          x: idx.map((i) => px[i]),
          y: idx.map((i) => py[i]),
          marker: { color: classColor(k), size: 8, line: { color: "white", width: 1 } },
        });
      }
    }
    return out;
  })();
  const layout: Record<string, unknown> = {
    height: opts.height ?? 460,
    margin: { l: 55, r: 20, t: opts.title ? 50 : 20, b: 50 },
    xaxis: { title: { text: opts.xlabel ?? "x₁" }, zeroline: false },
    yaxis: { title: { text: opts.ylabel ?? "x₂" }, zeroline: false, scaleanchor: "x" },
    legend: { orientation: "h", y: -0.18 },
    ...(opts.layout ?? {}),
  };
  if (opts.width) layout.width = opts.width;
  if (opts.title) layout.title = { text: opts.title };
  traces.catch(() => undefined); // reported when displayed
  return new Figure({ data: [traces as unknown as Trace], layout }, "decision boundary");
}

// ------------------------------------------------------------------ activations

export type ActivationFn = (x: Tensor) => Tensor;

/** The activation functions the view knows by name (from gb.nn.functional). */
export function builtinActivations(): Record<string, ActivationFn> {
  const F = gb.nn.functional;
  return {
    relu: F.relu,
    sigmoid: F.sigmoid,
    tanh: F.tanh,
    softplus: F.softplus,
    leakyRelu: (x) => F.leakyRelu(x, 0.1),
    elu: (x) => F.elu(x),
    gelu: F.gelu,
    silu: F.silu,
    step: F.step,
    relu6: F.relu6,
    hardtanh: (x) => F.hardtanh(x),
    logsigmoid: F.logsigmoid,
    identity: (x) => x,
  };
}

export interface ActivationsOptions extends CommonOptions {
  /** x range (default [-5, 5]). */
  range?: [number, number];
  /** Sample points (default 201). */
  points?: number;
}

export interface ActivationCurves {
  x: number[];
  curves: { name: string; y: number[]; dy: number[] }[];
}

/** Values and derivatives (by autograd) of activation functions on a grid. */
export async function activationCurves(fns: string[] | Record<string, ActivationFn>, opts: ActivationsOptions = {}): Promise<ActivationCurves> {
  const [lo, hi] = opts.range ?? [-5, 5];
  const n = Math.max(2, opts.points ?? 201);
  const x0 = Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
  const known = builtinActivations();
  const entries: [string, ActivationFn][] = Array.isArray(fns)
    ? fns.map((name) => {
        const f = known[name];
        if (!f) throw new Error(`activations: unknown activation '${name}' (known: ${Object.keys(known).join(", ")}); pass { name: fn } for your own`);
        return [name, f];
      })
    : Object.entries(fns);
  const curves: ActivationCurves["curves"] = [];
  for (const [name, f] of entries) {
    const x = gb.tensor(x0).requiresGrad_(true);
    const y = gb.enableGrad(() => f(x));
    if (!isTensor(y) || y.numel() !== n) throw new Error(`activations: '${name}' must map a tensor of ${n} values to one of the same size`);
    let dy: number[];
    if (y.requiresGrad) {
      const [g] = gb.autograd.grad(y.sum(), [x]);
      dy = Array.from(await g.data(), trimFloat);
    } else dy = new Array(n).fill(0);
    curves.push({ name, y: Array.from(await y.data(), trimFloat), dy });
  }
  return { x: x0.map(trimFloat), curves };
}

/**
 * Activation functions (left) and their derivatives computed by autograd (right).
 *
 *   widgets.activations(["sigmoid", "tanh", "relu"])
 *   widgets.activations({ swish: (x) => x.mul(x.sigmoid()) }, { range: [-4, 4] })
 */
export function activations(fns: string[] | Record<string, ActivationFn> = ["sigmoid", "tanh", "relu"], opts: ActivationsOptions = {}): Figure {
  const traces = activationCurves(fns, opts).then((c) =>
    c.curves.flatMap((cv, k) => [
      { type: "scatter", mode: "lines", name: cv.name, x: c.x, y: cv.y, line: { color: classColor(k), width: 2 }, legendgroup: cv.name, xaxis: "x", yaxis: "y" },
      { type: "scatter", mode: "lines", name: `${cv.name}′`, x: c.x, y: cv.dy, line: { color: classColor(k), width: 2, dash: "dash" }, legendgroup: cv.name, showlegend: false, xaxis: "x2", yaxis: "y2" },
    ] as Trace[]),
  );
  traces.catch(() => undefined);
  const layout: Record<string, unknown> = {
    height: opts.height ?? 380,
    margin: { l: 50, r: 20, t: 60, b: 45 },
    title: { text: opts.title ?? "Activation functions and their derivatives" },
    xaxis: { domain: [0, 0.46], title: { text: "x" }, zeroline: true },
    yaxis: { title: { text: "f(x)" }, zeroline: true },
    xaxis2: { domain: [0.54, 1], anchor: "y2", title: { text: "x" }, zeroline: true },
    yaxis2: { anchor: "x2", title: { text: "f′(x)" }, zeroline: true },
    annotations: [
      { text: "f(x)", x: 0.23, y: 1.04, xref: "paper", yref: "paper", showarrow: false, xanchor: "center" },
      { text: "f′(x) (autograd)", x: 0.77, y: 1.04, xref: "paper", yref: "paper", showarrow: false, xanchor: "center" },
    ],
    ...(opts.layout ?? {}),
  };
  if (opts.width) layout.width = opts.width;
  return new Figure({ data: [traces as unknown as Trace], layout }, "activations");
}

// ------------------------------------------------------------------ confusion matrix

export interface ConfusionMatrixOptions extends CommonOptions {
  /** Number of classes (default: from the data). */
  numClasses?: number;
  classNames?: string[];
  /** Show rates per true class (rows sum to 1) instead of counts. */
  normalize?: boolean;
}

/** Counts [true class][predicted class]; predictions may be class ids [N] or scores [N, C] (argmax). */
export async function confusionCounts(preds: ArrayInput, targets: ArrayInput, numClasses?: number): Promise<number[][]> {
  const p = await readArray(preds, "confusionMatrix preds");
  const t = await readArray(targets, "confusionMatrix targets");
  let pc: number[];
  if (p.shape.length === 2) {
    const [n, c] = p.shape;
    pc = [];
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let k = 1; k < c; k++) if (p.values[i * c + k] > p.values[i * c + best]) best = k;
      pc.push(best);
    }
    numClasses = numClasses ?? c;
  } else pc = Array.from(p.values, Math.round);
  const tc = Array.from(t.values, Math.round);
  if (pc.length !== tc.length) throw new Error(`confusionMatrix: ${pc.length} predictions but ${tc.length} targets`);
  const K = numClasses ?? Math.max(0, ...pc, ...tc) + 1;
  const m = Array.from({ length: K }, () => new Array(K).fill(0));
  for (let i = 0; i < pc.length; i++) {
    if (tc[i] < 0 || tc[i] >= K || pc[i] < 0 || pc[i] >= K) throw new Error(`confusionMatrix: class id out of range [0, ${K}) at index ${i} (target ${tc[i]}, prediction ${pc[i]})`);
    m[tc[i]][pc[i]]++;
  }
  return m;
}

/** A confusion matrix (rows: true class, columns: predicted), with counts written in the cells. */
export class ConfusionMatrix extends Figure {
  readonly counts: Promise<number[][]>;
  constructor(preds: ArrayInput, targets: ArrayInput, readonly options: ConfusionMatrixOptions = {}) {
    const counts = confusionCounts(preds, targets, options.numClasses);
    counts.catch(() => undefined);
    const trace = counts.then((m) => {
      const K = m.length;
      const names = Array.from({ length: K }, (_, k) => options.classNames?.[k] ?? String(k));
      const z = options.normalize ? m.map((r) => r.map((v) => trimFloat(v / (r.reduce((a, b) => a + b, 0) || 1)))) : m;
      return {
        type: "heatmap",
        z,
        x: names,
        y: names,
        text: z.map((r) => r.map((v) => (options.normalize ? v.toFixed(2) : String(v)))),
        texttemplate: "%{text}",
        colorscale: plotlyColorscale("viridis"),
        hovertemplate: "true %{y}, predicted %{x}: %{text}<extra></extra>",
      } as Trace;
    });
    trace.catch(() => undefined); // reported when displayed
    const accuracy = counts.then((m) => {
      const total = m.flat().reduce((a, b) => a + b, 0);
      const diag = m.reduce((a, r, i) => a + r[i], 0);
      return { text: `${options.title ?? "Confusion matrix"} — accuracy ${total ? ((100 * diag) / total).toFixed(1) : "0"}% (${diag}/${total})` };
    });
    accuracy.catch(() => undefined);
    super(
      {
        data: [trace as unknown as Trace],
        layout: {
          title: accuracy,
          height: options.height ?? 460,
          width: options.width,
          margin: { l: 70, r: 20, t: 60, b: 60 },
          xaxis: { title: { text: options.xlabel ?? "predicted" }, type: "category", side: "bottom" },
          yaxis: { title: { text: options.ylabel ?? "true" }, type: "category", autorange: "reversed", scaleanchor: "x" },
          ...(options.layout ?? {}),
        },
      },
      "confusion matrix",
    );
    this.counts = counts;
  }
}

/** Confusion matrix of predictions (class ids or scores) against targets. */
export function confusionMatrix(preds: ArrayInput, targets: ArrayInput, opts: ConfusionMatrixOptions = {}): ConfusionMatrix {
  return new ConfusionMatrix(preds, targets, opts);
}
