/**
 * gb.nn.summary(model, inputShape): a torchsummary-like table of every leaf layer's
 * output shape and parameter count, found by running one forward pass on zeros
 * (under noGrad, in eval mode so batch norm statistics are left alone) with forward hooks.
 */
import { noGrad } from "../autograd.js";
import { zeros } from "../ops/creation.js";
import { Tensor } from "../tensor.js";
import type { Module } from "./module.js";

export interface SummaryLayer {
  /** Dotted name in the model ("features.0"). */
  name: string;
  /** Class name ("Conv2d"). */
  type: string;
  /** Output shape (including the batch dim); for layers returning several tensors, the first. */
  outputShape: number[];
  /** Parameter elements of this layer (trainable or not). */
  params: number;
  trainable: boolean;
}

const fmtInt = (n: number) => n.toLocaleString("en-US");
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export class Summary {
  constructor(
    readonly layers: SummaryLayer[],
    readonly totalParams: number,
    readonly trainableParams: number,
    readonly inputShape: number[],
  ) {}
  get nonTrainableParams(): number {
    return this.totalParams - this.trainableParams;
  }
  toString(): string {
    const rows = this.layers.map((l) => [`${l.name} (${l.type})`, `[${l.outputShape.join(", ")}]`, fmtInt(l.params)]);
    const head = ["Layer (type)", "Output Shape", "Param #"];
    const w = [0, 1, 2].map((i) => Math.max(head[i].length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => `${r[0].padEnd(w[0])}   ${r[1].padEnd(w[1])}   ${r[2].padStart(w[2])}`;
    const width = w[0] + w[1] + w[2] + 6;
    const dash = "-".repeat(width), eq = "=".repeat(width);
    return [
      dash,
      line(head),
      eq,
      ...rows.map(line),
      eq,
      `Input shape: [${this.inputShape.join(", ")}]`,
      `Total params: ${fmtInt(this.totalParams)}`,
      `Trainable params: ${fmtInt(this.trainableParams)}`,
      `Non-trainable params: ${fmtInt(this.nonTrainableParams)}`,
      dash,
    ].join("\n");
  }
  toHtml(): string {
    const body = this.layers
      .map((l) => `<tr><td>${esc(l.name)}</td><td>${esc(l.type)}</td><td>[${l.outputShape.join(", ")}]</td><td style="text-align:right">${fmtInt(l.params)}</td></tr>`)
      .join("");
    const foot =
      `<tr><th colspan="3" style="text-align:left">Total params</th><th style="text-align:right">${fmtInt(this.totalParams)}</th></tr>` +
      `<tr><th colspan="3" style="text-align:left">Trainable params</th><th style="text-align:right">${fmtInt(this.trainableParams)}</th></tr>` +
      `<tr><th colspan="3" style="text-align:left">Non-trainable params</th><th style="text-align:right">${fmtInt(this.nonTrainableParams)}</th></tr>`;
    return (
      `<table class="gradbook-summary" style="font-family:monospace"><caption style="caption-side:top;text-align:left">input shape [${this.inputShape.join(", ")}]</caption>` +
      `<thead><tr><th>Layer</th><th>Type</th><th>Output Shape</th><th>Param #</th></tr></thead><tbody>${body}</tbody><tfoot>${foot}</tfoot></table>`
    );
  }
  toMimeBundle(): Record<string, string> {
    return { "text/plain": this.toString(), "text/html": this.toHtml() };
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

function firstTensor(v: unknown): Tensor | null {
  if (v instanceof Tensor) return v;
  if (Array.isArray(v)) for (const x of v) { const t = firstTensor(x); if (t) return t; }
  return null;
}

/**
 * Runs `model` once on zeros of shape [1, ...inputShape] (or `inputShape` itself when
 * opts.batch is false / it is passed as { shape }) and tabulates each leaf layer.
 * The model's train/eval modes are restored afterwards.
 */
export function summary(model: Module, inputShape: number[], opts: { batchSize?: number; fullShape?: boolean; device?: string } = {}): Summary {
  const shape = opts.fullShape ? [...inputShape] : [opts.batchSize ?? 1, ...inputShape];
  const modes = model.modules().map((m) => [m, m.training] as const);
  const layers: SummaryLayer[] = [];
  const handles = model
    .namedModules()
    .filter(([, m]) => m.children().length === 0)
    .map(([name, m]) =>
      m.registerForwardHook((mod, _inputs, output) => {
        const t = firstTensor(output);
        const ps = mod.parameters();
        layers.push({
          name: name || mod.typeName,
          type: mod.typeName,
          outputShape: t ? [...t.shape] : [],
          params: ps.reduce((s, p) => s + p.numel(), 0),
          trainable: ps.some((p) => p.requiresGrad),
        });
      }),
    );
  try {
    model.eval();
    const dev = opts.device ?? model.parameters()[0]?.device ?? "cpu";
    noGrad(() => model.call(zeros(shape, { device: dev })));
  } finally {
    for (const h of handles) h.remove();
    for (const [m, t] of modes) m.training = t;
  }
  const params = model.parameters();
  return new Summary(
    layers,
    params.reduce((s, p) => s + p.numel(), 0),
    params.filter((p) => p.requiresGrad).reduce((s, p) => s + p.numel(), 0),
    shape,
  );
}
