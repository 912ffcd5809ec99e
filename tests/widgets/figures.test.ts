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

  it("a series that is not 1-D, x and y of different lengths, a grid that is not 2-D: errors naming the chart and the shape", async () => {
    await expect(plot.line(gb.randn([4, 2])).resolve()).rejects.toThrow("line: expected a 1-D series (an array of numbers or a 1-D tensor) for y, got shape [4, 2]");
    await expect(plot.line("abc" as any).resolve()).rejects.toThrow('line: expected a 1-D series (an array of numbers or a 1-D tensor) for y, got a string ("abc")');
    await expect(plot.line({ train: [1, 2, 3], val: [1, 2] }, { x: [0, 1, 2] }).resolve()).rejects.toThrow('line: x has 3 values but y has 2 (trace 1 "val")');
    await expect(plot.bar([1, 2, 3], { labels: ["a", "b"] }).resolve()).rejects.toThrow("bar: x has 2 values but y has 3");
    await expect(plot.heatmap(gb.randn([2, 3, 4])).toMimeBundle()).rejects.toThrow("heatmap: expected a 2-D matrix (an array of rows or a 2-D tensor), got shape [2, 3, 4]");
    await expect(plot.surface([1, 2, 3]).resolve()).rejects.toThrow("surface: expected a 2-D matrix (an array of rows or a 2-D tensor), got shape [3]");
    // what is right stays right: categories as x, a tensor's rows as z
    expect((await plot.bar({ a: [1, 2], b: gb.tensor([3, 4]) }, { labels: ["x", "y"] }).resolve()).data.map((t) => t.y)).toEqual([[1, 2], [3, 4]]);
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
