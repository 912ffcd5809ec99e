/**
 * Diagrams: an MLP's layers and weight counts, the autograd graph of a tensor (as
 * micrograd's draw_dot: value boxes with data and grad, op nodes between them), and a
 * model summary table. All SVG/HTML, no script.
 */
import * as gb from "../engine/index.js";
import type { Tensor } from "../engine/index.js";
import type { GraphNode } from "../engine/functional-autograd.js";
import type { MimeBundle } from "./host.js";
import { escapeHtml, fmt, isTensor } from "./util.js";

// ------------------------------------------------------------------ MLP diagram

export interface MlpLayer {
  units: number;
  /** Activation after this layer (shown under it). */
  activation?: string;
}

export interface MlpDiagramOptions {
  /** Activation names per hidden/output layer (sizes input). */
  activations?: (string | undefined)[];
  /** At most this many units drawn per layer (the rest elided with "⋮"; default 8). */
  maxUnits?: number;
  /** Whether layers have biases (default true; from a model: read). */
  bias?: boolean;
  title?: string;
}

type ModuleLike = {
  namedModules?: () => [string, unknown][];
  namedParameters?: () => [string, Tensor][];
  constructor: { name: string };
};

/** Layer sizes (and activations, biases) of a Sequential-like model of Linear layers. */
export function mlpLayersOf(model: ModuleLike): { sizes: number[]; activations: (string | undefined)[]; biases: boolean[] } {
  if (typeof model.namedModules !== "function") throw new Error("mlpDiagram: expected layer sizes (e.g. [2, 4, 1]) or an nn.Module");
  const mods = model.namedModules().map(([, m]) => m as { constructor: { name: string }; weight?: Tensor; bias?: Tensor | null; inFeatures?: number; outFeatures?: number });
  const sizes: number[] = [];
  const activations: (string | undefined)[] = [];
  const biases: boolean[] = [];
  for (const m of mods) {
    const name = m.constructor.name;
    if (name === "Linear" && m.weight && isTensor(m.weight)) {
      const [out, inp] = m.weight.shape;
      if (sizes.length === 0) sizes.push(inp);
      else if (sizes[sizes.length - 1] !== inp) throw new Error(`mlpDiagram: a Linear layer with ${inp} inputs follows one with ${sizes[sizes.length - 1]} outputs`);
      sizes.push(out);
      activations.push(undefined);
      biases.push(!!m.bias);
    } else if (sizes.length > 1 && /^(ReLU|ReLU6|Sigmoid|Tanh|GELU|SiLU|Softplus|Step|Heaviside|LeakyReLU|ELU|Softmax|LogSoftmax|Identity)$/.test(name)) {
      activations[activations.length - 1] = name;
    }
  }
  if (sizes.length < 2) throw new Error("mlpDiagram: the model has no Linear layers");
  return { sizes, activations, biases };
}

/** The diagram of an MLP: units per layer, connections, and each layer's weight and bias counts. */
export class MlpDiagram {
  readonly sizes: number[];
  readonly activations: (string | undefined)[];
  readonly biases: boolean[];
  readonly title?: string;
  private readonly maxUnits: number;

  constructor(spec: number[] | ModuleLike, opts: MlpDiagramOptions = {}) {
    if (Array.isArray(spec)) {
      if (spec.length < 2 || !spec.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`mlpDiagram: layer sizes must be at least two positive integers, got [${spec.join(", ")}]`);
      this.sizes = [...spec];
      this.activations = opts.activations ?? [];
      this.biases = spec.slice(1).map(() => opts.bias ?? true);
    } else {
      const l = mlpLayersOf(spec);
      this.sizes = l.sizes;
      this.activations = opts.activations ?? l.activations;
      this.biases = l.biases;
    }
    this.maxUnits = opts.maxUnits ?? 8;
    this.title = opts.title;
  }

  /** Per weight layer: weights (in·out), biases (out), total. */
  get layers(): { inputs: number; outputs: number; weights: number; biases: number; params: number; activation?: string }[] {
    return this.sizes.slice(1).map((out, i) => {
      const inp = this.sizes[i];
      const b = this.biases[i] ? out : 0;
      return { inputs: inp, outputs: out, weights: inp * out, biases: b, params: inp * out + b, activation: this.activations[i] };
    });
  }
  get totalParams(): number {
    return this.layers.reduce((s, l) => s + l.params, 0);
  }

  summary(): string {
    const ls = this.layers.map((l) => `${l.inputs}→${l.outputs}: ${l.inputs}·${l.outputs}${l.biases ? ` + ${l.biases}` : ""} = ${l.params}`);
    return `<MLP [${this.sizes.join(", ")}]: ${ls.join("; ")}; total ${this.totalParams} parameters>`;
  }

  svg(): string {
    const L = this.sizes.length;
    const colW = 150, unitGap = 34, r = 11, top = 40;
    const shown = this.sizes.map((n) => (n <= this.maxUnits ? n : this.maxUnits));
    const maxShown = Math.max(...shown) + 1;
    const H = top + maxShown * unitGap + 60;
    const W = L * colW;
    const pos = (layer: number, j: number) => {
      const n = shown[layer] + (this.sizes[layer] > this.maxUnits ? 1 : 0);
      const y0 = top + ((maxShown - n) * unitGap) / 2 + unitGap / 2;
      return { x: colW / 2 + layer * colW, y: y0 + j * unitGap };
    };
    // index of displayed unit j within the layer's drawn slots (an ellipsis slot in the middle)
    const slots = (layer: number): number[] => {
      const n = this.sizes[layer];
      if (n <= this.maxUnits) return Array.from({ length: n }, (_, j) => j);
      const half = Math.floor(this.maxUnits / 2);
      return [...Array.from({ length: half }, (_, j) => j), ...Array.from({ length: this.maxUnits - half }, (_, j) => half + 1 + j)];
    };
    const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" class="gb-mlp-svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" style="font:11px sans-serif">`];
    for (let l = 0; l + 1 < L; l++) {
      const a = slots(l), b = slots(l + 1);
      for (const i of a) for (const j of b) {
        const p = pos(l, i), q = pos(l + 1, j);
        parts.push(`<line x1="${p.x + r}" y1="${p.y}" x2="${q.x - r}" y2="${q.y}" stroke="#9aa" stroke-width="0.6"/>`);
      }
      const info = this.layers[l];
      parts.push(`<text class="gb-mlp-weights" x="${colW * (l + 1)}" y="${H - 30}" text-anchor="middle" fill="#333">W ${info.outputs}×${info.inputs} = ${info.weights}</text>`);
      parts.push(`<text x="${colW * (l + 1)}" y="${H - 16}" text-anchor="middle" fill="#333">${info.biases ? `b ${info.biases} → ${info.params} params` : `no bias → ${info.params} params`}</text>`);
    }
    for (let l = 0; l < L; l++) {
      const kind = l === 0 ? "input" : l === L - 1 ? "output" : `hidden ${l}`;
      const fill = l === 0 ? "#9ecae1" : l === L - 1 ? "#fdae6b" : "#c7e9c0";
      const cx = colW / 2 + l * colW;
      parts.push(`<text x="${cx}" y="16" text-anchor="middle" font-weight="bold">${kind}</text><text x="${cx}" y="30" text-anchor="middle" fill="#555">${this.sizes[l]} unit${this.sizes[l] === 1 ? "" : "s"}${l > 0 && this.activations[l - 1] ? ` · ${escapeHtml(this.activations[l - 1]!)}` : ""}</text>`);
      for (const j of slots(l)) {
        const p = pos(l, j);
        parts.push(`<circle class="gb-mlp-unit" cx="${p.x}" cy="${p.y}" r="${r}" fill="${fill}" stroke="#555"/>`);
      }
      if (this.sizes[l] > this.maxUnits) {
        const p = pos(l, Math.floor(this.maxUnits / 2));
        parts.push(`<text x="${p.x}" y="${p.y + 4}" text-anchor="middle" font-size="16">⋮</text>`);
      }
    }
    parts.push(`</svg>`);
    return parts.join("");
  }

  toMimeBundle(): MimeBundle {
    const title = this.title ? `<div style="font-weight:bold">${escapeHtml(this.title)}</div>` : "";
    const html = `<div class="gb-mlp" data-total-params="${this.totalParams}" style="font:13px sans-serif">${title}${this.svg()}<div>Total parameters: <b>${this.totalParams.toLocaleString("en-US")}</b> (${this.layers.map((l) => `${l.inputs}·${l.outputs}${l.biases ? ` + ${l.biases}` : ""}`).join(" + ")})</div></div>`;
    return { "text/html": html, "text/plain": this.summary() };
  }
}

/** Diagram of an MLP from layer sizes (`[2, 4, 1]`) or a model of Linear layers. */
export function mlpDiagram(spec: number[] | ModuleLike, opts: MlpDiagramOptions = {}): MlpDiagram {
  return new MlpDiagram(spec, opts);
}

// ------------------------------------------------------------------ autograd graph

export interface DrawGraphOptions {
  /** Values shown per box (default 4; values are read for tensors of up to 16 elements). */
  maxValues?: number;
  title?: string;
  /**
   * Gradients shown: "stored" (each tensor's `.grad`: leaves after backward), "all" (also
   * d(root)/d(node) for intermediate nodes, computed without touching `.grad`, as micrograd shows
   * them), or "auto" (default: "all" once backward has filled some leaf's `.grad`, else "stored").
   */
  grads?: "auto" | "stored" | "all";
}

/** The graph behind `root` (gb.autograd.graph: every input, values and grads of small tensors). */
function graphNodes(root: Tensor, opts: DrawGraphOptions): Promise<GraphNode[]> {
  return gb.autograd.graph(root, { grads: opts.grads });
}

function valuesText(v: number[] | undefined, shape: number[], max: number): string {
  if (!v) return `[${shape.join("×")}]`;
  if (v.length === 1) return fmt(v[0], 4);
  const s = v.slice(0, max).map((x) => fmt(x, 3)).join(", ");
  return `[${s}${v.length > max ? ", …" : ""}]`;
}

/** The autograd graph behind a tensor, drawn as micrograd's draw_dot. */
export class GraphDrawing {
  private nodesP: Promise<GraphNode[]>;
  constructor(root: Tensor | GraphNode[], readonly options: DrawGraphOptions = {}) {
    this.nodesP = Array.isArray(root) ? Promise.resolve(root) : graphNodes(root, options);
    this.nodesP.catch(() => undefined);
  }
  nodes(): Promise<GraphNode[]> {
    return this.nodesP;
  }

  /** Graphviz DOT text (rankdir LR, records as micrograd). */
  async toDot(): Promise<string> {
    const nodes = await this.nodesP;
    const max = this.options.maxValues ?? 4;
    const lines = ["digraph G {", "  rankdir=LR;"];
    for (const n of nodes) {
      const label = `{ ${n.name ?? ""} | data ${valuesText(n.value, n.shape, max)} | grad ${n.grad ? valuesText(n.grad, n.shape, max) : "—"} }`.replace(/"/g, '\\"');
      lines.push(`  t${n.id} [label="${label}", shape=record];`);
      if (n.op !== "leaf") {
        lines.push(`  op${n.id} [label="${n.op}"];`);
        lines.push(`  op${n.id} -> t${n.id};`);
        for (const i of n.inputs) lines.push(`  t${i} -> op${n.id};`);
      }
    }
    lines.push("}");
    return lines.join("\n");
  }

  /** Layout: value boxes in columns by depth, op ellipses between them. */
  async layout() {
    const nodes = await this.nodesP;
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const depth = new Map<number, number>();
    for (const n of nodes) depth.set(n.id, n.inputs.length ? Math.max(...n.inputs.map((i) => (depth.get(i) ?? 0) + 1)) : 0);
    // a leaf sits just before its first consumer (c in (a*b)+c next to a*b, not with a and b)
    for (const n of nodes) {
      if (n.inputs.length) continue;
      const consumers = nodes.filter((m) => m.inputs.includes(n.id)).map((m) => depth.get(m.id)!);
      if (consumers.length) depth.set(n.id, Math.max(0, Math.min(...consumers) - 1));
    }
    const cols = new Map<number, GraphNode[]>();
    for (const n of nodes) {
      const d = depth.get(n.id)!;
      if (!cols.has(d)) cols.set(d, []);
      cols.get(d)!.push(n);
    }
    const boxW = 190, boxH = 50, opW = 56, colW = boxW + opW + 50, rowH = 74;
    const maxRows = Math.max(...[...cols.values()].map((c) => c.length));
    const pos = new Map<number, { x: number; y: number }>();
    for (const [d, c] of cols) {
      const off = ((maxRows - c.length) * rowH) / 2;
      c.forEach((n, i) => pos.set(n.id, { x: 20 + d * colW + (d > 0 ? opW + 30 : 0), y: 40 + off + i * rowH }));
    }
    const width = 40 + Math.max(...[...pos.values()].map((p) => p.x)) + boxW;
    const height = 60 + maxRows * rowH;
    return { nodes, byId, pos, boxW, boxH, opW, width, height };
  }

  async svg(): Promise<string> {
    const { nodes, pos, boxW, boxH, opW, width, height } = await this.layout();
    const max = this.options.maxValues ?? 4;
    const parts: string[] = [
      `<svg xmlns="http://www.w3.org/2000/svg" class="gb-graph-svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" style="font:11px monospace">`,
      `<defs><marker id="gbarrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>`,
    ];
    for (const n of nodes) {
      const p = pos.get(n.id)!;
      if (n.op !== "leaf") {
        const ox = p.x - opW / 2 - 26, oy = p.y + boxH / 2;
        for (const i of n.inputs) {
          const q = pos.get(i)!;
          parts.push(`<path d="M${q.x + boxW},${q.y + boxH / 2} C${q.x + boxW + 30},${q.y + boxH / 2} ${ox - opW / 2 - 30},${oy} ${ox - opW / 2},${oy}" fill="none" stroke="#555" marker-end="url(#gbarrow)"/>`);
        }
        parts.push(`<line x1="${ox + opW / 2}" y1="${oy}" x2="${p.x}" y2="${oy}" stroke="#555" marker-end="url(#gbarrow)"/>`);
        parts.push(`<ellipse class="gb-graph-op" cx="${ox}" cy="${oy}" rx="${opW / 2}" ry="15" fill="#fee6ce" stroke="#e6550d"/><text x="${ox}" y="${oy + 4}" text-anchor="middle">${escapeHtml(n.op)}</text>`);
      }
    }
    for (const n of nodes) {
      const p = pos.get(n.id)!;
      const fill = n.op === "leaf" ? (n.requiresGrad ? "#deebf7" : "#f0f0f0") : "#fff";
      const name = n.name ?? (n.op === "leaf" ? "" : "");
      parts.push(`<g class="gb-graph-value" data-id="${n.id}"><rect x="${p.x}" y="${p.y}" width="${boxW}" height="${boxH}" rx="3" fill="${fill}" stroke="#3182bd"/>`);
      parts.push(`<text x="${p.x + 6}" y="${p.y + 14}" font-weight="bold">${escapeHtml(name || `[${n.shape.join("×")}]`)}</text>`);
      parts.push(`<text x="${p.x + 6}" y="${p.y + 29}">data ${escapeHtml(valuesText(n.value, n.shape, max))}</text>`);
      parts.push(`<text x="${p.x + 6}" y="${p.y + 43}" fill="#a50f15">grad ${escapeHtml(n.grad ? valuesText(n.grad, n.shape, max) : "—")}</text></g>`);
    }
    parts.push("</svg>");
    return parts.join("");
  }

  async toMimeBundle(): Promise<MimeBundle> {
    const nodes = await this.nodesP;
    const svg = await this.svg();
    const title = this.options.title ? `<div style="font:bold 13px sans-serif">${escapeHtml(this.options.title)}</div>` : "";
    const text = nodes
      .map((n) => `${n.id}: ${n.name ? n.name + " = " : ""}${n.op}(${n.inputs.join(", ")}) data ${valuesText(n.value, n.shape, 4)} grad ${n.grad ? valuesText(n.grad, n.shape, 4) : "—"}`)
      .join("\n");
    return { "text/html": `<div class="gb-graph" data-nodes="${nodes.length}">${title}${svg}</div>`, "image/svg+xml": svg, "text/plain": text };
  }
}

/**
 * Draws the autograd graph of a tensor (values and, after backward, gradients), as micrograd's draw_dot.
 *
 *   const a = gb.tensor(2.0, { requiresGrad: true }); a.name = "a";
 *   const L = a.mul(b).add(c); L.name = "L"; await L.backward();
 *   widgets.drawGraph(L)
 */
export function drawGraph(root: Tensor | GraphNode[], opts: DrawGraphOptions = {}): GraphDrawing {
  return new GraphDrawing(root, opts);
}

// ------------------------------------------------------------------ model summary

/**
 * A model summary table. With an input shape: gb.nn.summary (output shapes via one forward
 * pass); without: parameters per module (name, type, shapes, counts).
 */
export function modelSummary(model: gb.nn.Module, inputShape?: number[]): gb.nn.Summary | ParameterTable {
  if (inputShape) return gb.nn.summary(model, inputShape);
  return new ParameterTable(model);
}

/** Parameters of a model per module, without running it. */
export class ParameterTable {
  readonly rows: { module: string; type: string; params: { name: string; shape: number[]; numel: number; trainable: boolean }[] }[] = [];
  readonly total: number;
  readonly trainable: number;
  constructor(model: gb.nn.Module) {
    let total = 0, trainable = 0;
    for (const [name, m] of model.namedModules()) {
      const ps = m.namedParameters({ recurse: false });
      if (!ps.length) continue;
      this.rows.push({
        module: name || "(model)",
        type: m.constructor.name,
        params: ps.map(([pn, p]) => {
          const numel = p.numel();
          total += numel;
          if (p.requiresGrad) trainable += numel;
          return { name: pn, shape: [...p.shape], numel, trainable: p.requiresGrad };
        }),
      });
    }
    this.total = total;
    this.trainable = trainable;
  }
  toString(): string {
    const lines = this.rows.flatMap((r) => r.params.map((p) => `${`${r.module}.${p.name}`.padEnd(28)} ${r.type.padEnd(14)} [${p.shape.join(", ")}]`.padEnd(64) + String(p.numel).padStart(10)));
    return [...lines, `Total params: ${this.total.toLocaleString("en-US")}`, `Trainable params: ${this.trainable.toLocaleString("en-US")}`].join("\n");
  }
  toMimeBundle(): MimeBundle {
    const body = this.rows
      .flatMap((r) =>
        r.params.map(
          (p, i) =>
            `<tr>${i === 0 ? `<td rowspan="${r.params.length}">${escapeHtml(r.module)}</td><td rowspan="${r.params.length}">${escapeHtml(r.type)}</td>` : ""}<td>${escapeHtml(p.name)}</td><td>[${p.shape.join(", ")}]</td><td style="text-align:right">${p.numel.toLocaleString("en-US")}</td><td>${p.trainable ? "yes" : "no"}</td></tr>`,
        ),
      )
      .join("");
    const html = `<table class="gb-param-table" style="border-collapse:collapse;font:12px monospace"><thead><tr><th>Module</th><th>Type</th><th>Parameter</th><th>Shape</th><th>Count</th><th>Trainable</th></tr></thead><tbody>${body}</tbody><tfoot><tr><td colspan="4"><b>Total</b></td><td style="text-align:right"><b>${this.total.toLocaleString("en-US")}</b></td><td>${this.trainable.toLocaleString("en-US")} trainable</td></tr></tfoot></table>`;
    return { "text/html": html, "text/plain": this.toString() };
  }
}
