/**
 * The live training view: loss and accuracy curves (train and validation) and a progress
 * bar with epoch, batch, throughput and time left, updated in place while a model trains.
 *
 *   const view = widgets.trainingView({ epochs: 10, batchesPerEpoch: trainLoader.length });
 *   for (let epoch = 0; epoch < 10; epoch++) {
 *     for (const [b, [xb, yb]] of enumerate(trainLoader)) {
 *       ...
 *       view.update({ epoch, batch: b, trainLoss: await loss.item(), trainAcc, samples: xb.shape[0] });
 *     }
 *     view.update({ epoch, valLoss, valAcc });   // end of epoch: validation metrics
 *   }
 *   await view.close();                           // final render
 *
 * `epoch` and `batch` count from 0 (the batch just finished). The view shows itself when created
 * (through the kernel's display, with a display id) and re-renders at most every `throttleMs`
 * (200 ms) with update_display_data. With no display host (plain Node) it prints a one-line
 * progress to stdout instead (at most every 2 s, and at the end).
 */
import { getDisplayHost, type MimeBundle } from "./host.js";
import { printFallback } from "./display.js";
import { svgLineChart, type SvgSeries } from "./svg.js";
import { escapeHtml, fmt, hexId } from "./util.js";

export interface TrainingViewOptions {
  epochs: number;
  /** Batches in one epoch (for progress within an epoch and time left). */
  batchesPerEpoch?: number;
  /** Which charts: "loss", "accuracy" (default both), or any other metric name given to update. */
  metrics?: string[];
  title?: string;
  /** Minimum time between renders (default 200 ms). */
  throttleMs?: number;
  /** Logarithmic loss axis. */
  logLoss?: boolean;
  /** Do not display at creation (call `show()` or make it a cell's value). */
  hidden?: boolean;
}

export interface TrainingUpdate {
  epoch: number;
  batch?: number;
  trainLoss?: number;
  valLoss?: number;
  trainAcc?: number;
  valAcc?: number;
  /** Samples in this batch (throughput in samples/s; else batches/s). */
  samples?: number;
  /** Other metrics: `trainX` / `valX` pairs are charted together under "X". */
  [metric: string]: number | undefined;
}

interface Point {
  x: number;
  v: number;
}

const COLORS = { train: "#1f77b4", val: "#d62728" };

function clock(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "--:--";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(sec).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function now(): number {
  const p = (globalThis as any).performance;
  return p && typeof p.now === "function" ? p.now() : Date.now();
}

export class TrainingView {
  readonly displayId = hexId();
  readonly opts: Required<Pick<TrainingViewOptions, "epochs" | "throttleMs">> & TrainingViewOptions;
  /** Every update received, in order. */
  readonly history: TrainingUpdate[] = [];
  private series = new Map<string, { train: Point[]; val: Point[] }>();
  private started = now();
  private lastRender = -Infinity;
  private lastPrint = -Infinity;
  private steps = 0;
  private samples = 0;
  private shown = false;
  private closed = false;
  /** Renders sent to the host (tests; the browser check looks for progress). */
  renders = 0;

  constructor(opts: TrainingViewOptions) {
    if (!(opts.epochs > 0)) throw new Error(`trainingView: epochs must be a positive number, got ${opts.epochs}`);
    this.opts = { throttleMs: 200, ...opts };
    for (const m of opts.metrics ?? ["loss", "accuracy"]) this.series.set(canonical(m), { train: [], val: [] });
    if (!opts.hidden) this.show();
  }

  /** Shows the view (a new output with this view's display id). */
  show(): void {
    const host = getDisplayHost();
    if (!host) return;
    host.display(this.bundle(), { displayId: this.displayId });
    this.shown = true;
    this.renders++;
    this.lastRender = now();
  }

  /** Records a step's metrics; re-renders if the last render is older than throttleMs. */
  update(u: TrainingUpdate): void {
    if (this.closed) throw new Error("trainingView.update: the view is closed");
    if (!Number.isFinite(u.epoch)) throw new Error(`trainingView.update: epoch must be a number, got ${u.epoch}`);
    this.history.push({ ...u });
    if (u.batch !== undefined) {
      this.steps++;
      this.samples += u.samples ?? 0;
    }
    const x = this.xOf(u);
    for (const [key, value] of Object.entries(u)) {
      if (value === undefined || key === "epoch" || key === "batch" || key === "samples") continue;
      const m = /^(train|val)(.+)$/.exec(key);
      if (!m) continue;
      const name = canonical(m[2]);
      let s = this.series.get(name);
      if (!s) {
        s = { train: [], val: [] };
        this.series.set(name, s);
      }
      s[m[1] as "train" | "val"].push({ x, v: Number(value) });
    }
    const t = now();
    if (t - this.lastRender >= this.opts.throttleMs) this.render();
    if (!getDisplayHost() && t - this.lastPrint >= 2000) {
      this.lastPrint = t;
      printFallback(this.line());
    }
  }

  /** Final render (and a last progress line without a host). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.render();
    if (!getDisplayHost()) printFallback(this.line());
  }

  /** Position on the epoch axis: epoch + fraction of batches done (an end-of-epoch update sits at epoch + 1). */
  private xOf(u: TrainingUpdate): number {
    const bpe = this.opts.batchesPerEpoch;
    if (u.batch === undefined) return u.epoch + 1;
    if (bpe) return u.epoch + (u.batch + 1) / bpe;
    return u.epoch + 1;
  }

  /** Fraction done, 0..1. */
  progress(): number {
    const last = this.history[this.history.length - 1];
    if (!last) return 0;
    const p = this.xOf(last) / this.opts.epochs;
    return Math.max(0, Math.min(1, p));
  }

  private rate(): { perSec: number; unit: string; elapsed: number } {
    const elapsed = (now() - this.started) / 1000;
    if (this.samples > 0) return { perSec: this.samples / Math.max(elapsed, 1e-9), unit: "samples/s", elapsed };
    return { perSec: this.steps / Math.max(elapsed, 1e-9), unit: "batches/s", elapsed };
  }

  /** "epoch 3/10 · batch 120/469 · 1.2k samples/s · 00:42 left" */
  status(): { epoch: string; batch: string; throughput: string; elapsed: string; left: string; percent: number } {
    const last = this.history[this.history.length - 1];
    const p = this.progress();
    const r = this.rate();
    const bpe = this.opts.batchesPerEpoch;
    const epoch = last ? `epoch ${Math.min(last.epoch + 1, this.opts.epochs)}/${this.opts.epochs}` : `epoch 0/${this.opts.epochs}`;
    const lastBatch = [...this.history].reverse().find((u) => u.batch !== undefined && u.epoch === last?.epoch);
    const batch = lastBatch?.batch !== undefined ? `batch ${lastBatch.batch + 1}${bpe ? `/${bpe}` : ""}` : "";
    const left = p > 0 && p < 1 ? clock((r.elapsed * (1 - p)) / p) : p >= 1 ? "done" : "--:--";
    const tp = this.steps > 0 ? `${fmt(r.perSec, 3)} ${r.unit}` : "";
    return { epoch, batch, throughput: tp, elapsed: clock(r.elapsed), left, percent: Math.round(p * 1000) / 10 };
  }

  /** The one-line text progress. */
  line(): string {
    const s = this.status();
    const width = 24;
    const filled = Math.round((s.percent / 100) * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const metrics = this.latestMetrics()
      .map(([k, v]) => `${k} ${fmt(v, 4)}`)
      .join(" · ");
    return [`${bar} ${s.percent.toFixed(0)}%`, s.epoch, s.batch, s.throughput, `${s.elapsed} elapsed`, s.left === "done" ? "done" : `${s.left} left`, metrics].filter(Boolean).join(" · ");
  }

  private latestMetrics(): [string, number][] {
    const out: [string, number][] = [];
    for (const [name, s] of this.series) {
      if (s.train.length) out.push([`train ${name}`, s.train[s.train.length - 1].v]);
      if (s.val.length) out.push([`val ${name}`, s.val[s.val.length - 1].v]);
    }
    return out;
  }

  private render(): void {
    this.lastRender = now();
    const host = getDisplayHost();
    if (!host) return;
    if (!this.shown) {
      this.show();
      return;
    }
    host.display(this.bundle(), { displayId: this.displayId, update: true });
    this.renders++;
  }

  /** The current display: HTML (progress bar, status, SVG charts) and text/plain (the progress line). */
  bundle(): MimeBundle {
    const s = this.status();
    const charts: string[] = [];
    for (const [name, ser] of this.series) {
      const series: SvgSeries[] = [];
      if (ser.train.length) series.push({ name: "train", x: ser.train.map((p) => p.x), y: ser.train.map((p) => p.v), color: COLORS.train });
      if (ser.val.length) series.push({ name: "val", x: ser.val.map((p) => p.x), y: ser.val.map((p) => p.v), color: COLORS.val, dashed: true });
      const acc = name === "accuracy";
      const maxV = Math.max(0, ...ser.train.map((p) => p.v), ...ser.val.map((p) => p.v));
      charts.push(
        `<div class="gb-train-chart" data-metric="${escapeHtml(name)}">${svgLineChart(series, {
          title: name,
          xlabel: "epoch",
          xrange: [0, this.opts.epochs],
          yrange: acc && maxV <= 1 ? [0, 1] : undefined,
          logy: name === "loss" && this.opts.logLoss,
        })}</div>`,
      );
    }
    const done = this.closed;
    const color = done ? "#2ca02c" : "#1f77b4";
    const info = [s.epoch, s.batch, s.throughput, `${s.elapsed} elapsed`, done ? "done" : `${s.left} left`].filter(Boolean).map(escapeHtml).join(" · ");
    const metrics = this.latestMetrics()
      .map(([k, v]) => `<span style="margin-right:12px"><b>${escapeHtml(k)}</b> ${escapeHtml(fmt(v, 4))}</span>`)
      .join("");
    const title = this.opts.title ? `<div style="font-weight:bold;margin-bottom:4px">${escapeHtml(this.opts.title)}</div>` : "";
    const html = `<div class="gb-training-view" data-progress="${s.percent}" data-renders="${this.renders + 1}" style="font:13px sans-serif">
${title}<div style="display:flex;align-items:center;gap:8px">
<progress class="gb-progress" value="${s.percent}" max="100" style="width:260px;height:14px;accent-color:${color}"></progress>
<span class="gb-progress-pct" style="min-width:3.5em">${s.percent.toFixed(1)}%</span><span class="gb-progress-info" style="color:#444">${info}</span></div>
<div style="margin:4px 0">${metrics}</div>
<div style="display:flex;flex-wrap:wrap;gap:8px">${charts.join("")}</div></div>`;
    return { "text/html": html, "text/plain": this.line() };
  }

  toMimeBundle(): MimeBundle {
    return this.bundle();
  }
}

function canonical(name: string): string {
  const n = name.toLowerCase();
  if (n === "acc" || n === "accuracy") return "accuracy";
  if (n === "loss") return "loss";
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** Creates (and shows) a live training view. */
export function trainingView(opts: TrainingViewOptions): TrainingView {
  return new TrainingView(opts);
}
