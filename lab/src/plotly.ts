/**
 * A MIME renderer for Plotly figures (`application/vnd.plotly.v1+json`: `{ data, layout, config }`),
 * drawn with the bundled plotly.js (no CDN). plotly.js (about 4.8 MB) is its own chunk, loaded the
 * first time a figure is shown. Figures follow their output's width when the panel is resized.
 */
import type { IRenderMime } from "@jupyterlab/rendermime-interfaces";
import { Widget } from "@lumino/widgets";

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

type PlotlyModule = {
  react(node: HTMLElement, data: unknown[], layout: Record<string, unknown>, config: Record<string, unknown>): Promise<unknown>;
  purge(node: HTMLElement): void;
  Plots: { resize(node: HTMLElement): Promise<unknown> | void };
};

let plotly: Promise<PlotlyModule> | null = null;

/** plotly.js, loaded once (a separate chunk of the bundle). */
export function loadPlotly(): Promise<PlotlyModule> {
  plotly ??= import(/* webpackChunkName: "plotly" */ "plotly.js-dist-min").then((m: any) => (m.default ?? m) as PlotlyModule);
  return plotly;
}

interface PlotlySpec {
  data?: unknown[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

export class PlotlyRenderer extends Widget implements IRenderMime.IRenderer {
  private readonly mimeType: string;
  private drawn = false;

  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this.mimeType = options.mimeType;
    this.addClass("gb-PlotlyRenderer");
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    // plotly.js writes into the objects it is given: draw from a copy of the output's JSON
    const spec = JSON.parse(JSON.stringify(model.data[this.mimeType] ?? {})) as PlotlySpec;
    if (!Array.isArray(spec.data)) {
      this.node.textContent = `A Plotly figure without a data list (${this.mimeType}).`;
      return;
    }
    const Plotly = await loadPlotly();
    await Plotly.react(this.node, spec.data, spec.layout ?? {}, { displaylogo: false, responsive: true, ...(spec.config ?? {}) });
    this.drawn = true;
  }

  protected override onAfterShow(): void {
    this.resize();
  }

  protected override onResize(): void {
    this.resize();
  }

  private resize(): void {
    if (this.drawn && this.isVisible) void loadPlotly().then((P) => P.Plots.resize(this.node));
  }

  override dispose(): void {
    if (this.isDisposed) return;
    if (this.drawn) void loadPlotly().then((P) => P.purge(this.node));
    super.dispose();
  }
}

/** The MIME extension: ahead of the figure's text/html fallback (which would embed plotly.js again). */
const extension: IRenderMime.IExtension = {
  id: "@gradbook/plotly:renderer",
  description: "Renders Plotly figures with the bundled plotly.js.",
  rendererFactory: { safe: true, mimeTypes: [PLOTLY_MIME], defaultRank: 0, createRenderer: (options) => new PlotlyRenderer(options) },
  rank: 0,
  dataType: "json",
};

export default extension;
