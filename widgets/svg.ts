/**
 * Small self-contained SVG charts (no library, no script): used where a display is
 * re-sent often (the live training view) or must render anywhere.
 */
import { escapeHtml, fmt } from "./util.js";

export interface SvgSeries {
  name: string;
  x: number[];
  y: number[];
  color: string;
  dashed?: boolean;
}

export interface SvgChartOptions {
  width?: number;
  height?: number;
  title?: string;
  xlabel?: string;
  /** Fixed x range (e.g. [0, epochs]). */
  xrange?: [number, number];
  /** Fixed y range (e.g. [0, 1] for accuracy). */
  yrange?: [number, number];
  logy?: boolean;
}

/** "Nice" tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Keeps at most `max` points (evenly spaced, last kept). */
export function downsample(x: number[], y: number[], max = 400): { x: number[]; y: number[] } {
  if (x.length <= max) return { x, y };
  const xs: number[] = [], ys: number[] = [];
  const stride = x.length / max;
  for (let i = 0; i < max; i++) {
    const j = Math.floor(i * stride);
    xs.push(x[j]);
    ys.push(y[j]);
  }
  xs.push(x[x.length - 1]);
  ys.push(y[y.length - 1]);
  return { x: xs, y: ys };
}

/** A line chart as an <svg> string. */
export function svgLineChart(series: SvgSeries[], o: SvgChartOptions = {}): string {
  const W = o.width ?? 360, H = o.height ?? 220;
  const m = { l: 52, r: 12, t: o.title ? 24 : 10, b: 34 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const tf = (v: number) => (o.logy ? Math.log10(Math.max(v, 1e-12)) : v);
  const allX = series.flatMap((s) => s.x);
  const allY = series.flatMap((s) => s.y.filter(Number.isFinite).map(tf));
  let [x0, x1] = o.xrange ?? [Math.min(0, ...allX), Math.max(1, ...allX)];
  let [y0, y1] = o.yrange ? [tf(o.yrange[0]), tf(o.yrange[1])] : allY.length ? [Math.min(...allY), Math.max(...allY)] : [0, 1];
  if (!o.yrange) {
    const pad = (y1 - y0) * 0.08 || Math.abs(y0) * 0.1 || 0.5;
    y0 -= pad;
    y1 += pad;
    if (!o.logy && y0 < 0 && allY.every((v) => v >= 0)) y0 = 0;
  }
  if (x1 <= x0) x1 = x0 + 1;
  const X = (v: number) => m.l + ((v - x0) / (x1 - x0)) * pw;
  const Y = (v: number) => m.t + ph - ((tf(v) - y0) / (y1 - y0)) * ph;
  const Yt = (t: number) => m.t + ph - ((t - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" style="font:11px sans-serif;background:#fff">`);
  if (o.title) parts.push(`<text x="${m.l}" y="15" font-weight="bold">${escapeHtml(o.title)}</text>`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#ccc"/>`);
  for (const t of niceTicks(x0, x1, 6)) {
    const px = X(t).toFixed(1);
    parts.push(`<line x1="${px}" x2="${px}" y1="${m.t}" y2="${m.t + ph}" stroke="#eee"/><text x="${px}" y="${m.t + ph + 13}" text-anchor="middle" fill="#555">${fmt(t, 3)}</text>`);
  }
  for (const t of niceTicks(y0, y1, 5)) {
    const py = Yt(t).toFixed(1);
    const label = o.logy ? fmt(Math.pow(10, t), 2) : fmt(t, 3);
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${py}" y2="${py}" stroke="#eee"/><text x="${m.l - 4}" y="${py}" dy="3" text-anchor="end" fill="#555">${label}</text>`);
  }
  if (o.xlabel) parts.push(`<text x="${m.l + pw / 2}" y="${H - 4}" text-anchor="middle" fill="#333">${escapeHtml(o.xlabel)}</text>`);
  series.forEach((s, k) => {
    const d = downsample(s.x, s.y);
    const pts = d.x.map((x, i) => (Number.isFinite(d.y[i]) ? `${X(x).toFixed(1)},${Y(d.y[i]).toFixed(1)}` : null)).filter((p): p is string => p !== null);
    if (pts.length === 1) parts.push(`<circle cx="${pts[0].split(",")[0]}" cy="${pts[0].split(",")[1]}" r="3" fill="${s.color}"/>`);
    else if (pts.length > 1) parts.push(`<polyline class="gb-series" data-name="${escapeHtml(s.name)}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5,3"' : ""} points="${pts.join(" ")}"/>`);
    const last = s.y.length ? s.y[s.y.length - 1] : NaN;
    const lx = m.l + 8 + k * 110;
    parts.push(`<line x1="${lx}" x2="${lx + 16}" y1="${m.t + 10}" y2="${m.t + 10}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,3"' : ""}/><text x="${lx + 20}" y="${m.t + 13}" fill="#333">${escapeHtml(s.name)} ${Number.isFinite(last) ? fmt(last, 4) : ""}</text>`);
  });
  parts.push(`</svg>`);
  return parts.join("");
}
