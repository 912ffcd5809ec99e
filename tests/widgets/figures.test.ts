import { afterEach, describe, expect, it } from "vitest";
import * as gb from "../../engine/index.js";
import { plot, Figure, PLOTLY_MIME, resetPlotlyEmbedding, plotlyEmbedded, setPlotlySource, loadPlotlySource } from "../../widgets/index.js";

afterEach(() => {
  resetPlotlyEmbedding();
});

const FIG_TYPES = ["text/plain", "text/html", PLOTLY_MIME];

describe("Figure bundles", () => {
  it("line: plotly JSON with the tensor's values, text summary, HTML that draws it", async () => {
    const y = gb.tensor([3, 1, 4, 1, 5]);
    const fig = plot.line({ train: y, val: [2, 2, 2, 2, 2] }, { title: "Loss", xlabel: "epoch" });
    const b = await fig.toMimeBundle();
    expect(Object.keys(b).sort()).toEqual([...FIG_TYPES].sort());
    const pj = b[PLOTLY_MIME] as any;
    expect(pj.data).toHaveLength(2);
    expect(pj.data[0]).toMatchObject({ type: "scatter", name: "train", y: [3, 1, 4, 1, 5] });
    expect(pj.data[1].y).toEqual([2, 2, 2, 2, 2]);
    expect(pj.layout.title.text).toBe("Loss");
    expect(pj.layout.xaxis.title.text).toBe("epoch");
    expect(b["text/plain"]).toContain("Loss");
    expect(b["text/plain"]).toContain("2 traces");
    const html = b["text/html"] as string;
    expect(html).toContain("Plotly.newPlot");
    expect(html).toContain('"y":[3,1,4,1,5]');
  });

  it("embeds plotly.js once per session: the first figure carries the library, later ones reuse window.Plotly", async () => {
    const src = await loadPlotlySource();
    expect(src && src.length).toBeGreaterThan(1_000_000);
    expect(plotlyEmbedded()).toBe(false);
    const h1 = (await plot.bar([1, 2, 3]).toMimeBundle())["text/html"] as string;
    const h2 = (await plot.bar([1, 2, 3]).toMimeBundle())["text/html"] as string;
    expect(h1.length).toBeGreaterThan(1_000_000);
    expect(h1).toContain("if (!window.Plotly)");
    expect(h2.length).toBeLessThan(10_000);
    expect(h2).not.toContain("plotly.js v");
    // no early end of the script element inside the embedded library
    expect(h1.match(/<\/script>/g)!.length).toBe(2);
    resetPlotlyEmbedding();
    const h3 = (await plot.bar([1]).toMimeBundle())["text/html"] as string;
    expect(h3.length).toBeGreaterThan(1_000_000);
    // explicit choices
    expect(((await plot.bar([1]).toHTML({ includePlotlyJs: false })) as string).length).toBeLessThan(10_000);
    expect((await plot.bar([1]).toHTML({ includePlotlyJs: true })).length).toBeGreaterThan(1_000_000);
  });

  it("a supplied plotly source (browser builds) is used", async () => {
    setPlotlySource("window.Plotly = { newPlot() {} };");
    try {
      const h = (await plot.bar([1]).toMimeBundle())["text/html"] as string;
      expect(h).toContain("window.Plotly = { newPlot() {} };");
    } finally {
      setPlotlySource(null);
    }
  });

  it("scatter splits points by class label", async () => {
    const X = gb.tensor([[0, 0], [1, 1], [2, 0], [3, 1]]);
    const fig = plot.scatter(X, undefined, { labels: gb.tensor([0, 1, 0, 1], { dtype: "int32" }), classNames: ["neg", "pos"] });
    const { data } = await fig.resolve();
    expect(data.map((t) => t.name)).toEqual(["neg", "pos"]);
    expect(data[0]).toMatchObject({ x: [0, 2], y: [0, 0] });
    expect(data[1]).toMatchObject({ x: [1, 3], y: [1, 1] });
    await expect(plot.scatter(gb.tensor([1, 2, 3])).resolve()).rejects.toThrow(/scatter: points must have shape \[N, 2\], got \[3\]/);
  });

  it("heatmap, contour, surface keep 2-D z; histogram and bar take tensors", async () => {
    const z = gb.tensor([[1, 2, 3], [4, 5, 6]]);
    for (const [f, type] of [[plot.heatmap, "heatmap"], [plot.contour, "contour"], [plot.surface, "surface"]] as const) {
      const b = await f(z).toMimeBundle();
      const t = (b[PLOTLY_MIME] as any).data[0];
      expect(t.type).toBe(type);
      expect(t.z).toEqual([[1, 2, 3], [4, 5, 6]]);
      expect(b["text/plain"]).toContain("2×3");
    }
    const h = (await plot.histogram(gb.tensor([0.5, 1.5, 1.5]), { bins: 2 }).resolve()).data[0];
    expect(h).toMatchObject({ type: "histogram", x: [0.5, 1.5, 1.5], nbinsx: 2 });
    const bar = (await plot.bar(gb.tensor([1, 2]), { labels: ["a", "b"] }).resolve()).data[0];
    expect(bar).toMatchObject({ type: "bar", x: ["a", "b"], y: [1, 2] });
  });

  it("image: a PNG source in an image trace", async () => {
    const img = gb.tensor([[0, 0.5], [1, 0.25]]);
    const { data } = await plot.image(img).resolve();
    expect(data[0].type).toBe("image");
    expect(String(data[0].source)).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
    await expect(plot.image(gb.zeros([2, 2, 2, 2])).resolve()).rejects.toThrow(/image: expected one image/);
  });

  it("float32 values are written without float noise", async () => {
    const { data } = await plot.line(gb.tensor([0.1, 0.2, 0.3])).resolve();
    expect(data[0].y).toEqual([0.1, 0.2, 0.3]);
  });

  it("toHTMLPage is a standalone document", async () => {
    const page = await new Figure({ data: [{ type: "bar", y: [1] }] }).toHTMLPage();
    expect(page.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(page.length).toBeGreaterThan(1_000_000);
  });
});
