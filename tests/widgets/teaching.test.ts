import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import * as gb from "../../engine/index.js";
import {
  PLOTLY_MIME,
  activationCurves,
  activations,
  boundaryGrid,
  confusionMatrix,
  convArithmetic,
  convArithmeticGallery,
  convGeometry,
  CONV_GUIDE_CASES,
  decisionBoundary,
  drawGraph,
  mlpDiagram,
  modelSummary,
  ParameterTable,
} from "../../widgets/index.js";

const ref = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));

function count(re: RegExp, s: string): number {
  return (s.match(re) ?? []).length;
}

describe("convolution arithmetic view", () => {
  it("output size equals PyTorch's conv2d output for every case (guide cases and a grid of stride/padding/dilation)", () => {
    for (const c of ref.conv) {
      const g = convGeometry(c);
      expect(g.output, JSON.stringify(c)).toEqual(c.output);
      expect(g.frames.length).toBe(c.output[0] * c.output[1]);
    }
  });

  it("the bundle draws every output cell and one frame per output position; taps stay inside the padded input", () => {
    for (const c of ref.conv.slice(0, 40)) {
      const v = convArithmetic(c);
      const b = v.toMimeBundle();
      expect(Object.keys(b).sort()).toEqual(["text/html", "text/plain"]);
      const html = b["text/html"] as string;
      const [oh, ow] = c.output;
      expect(count(/class="gb-out-cell"/g, html)).toBe(oh * ow);
      expect(count(/class="gbf"/g, html)).toBe(oh * ow);
      expect(html).toContain(`data-output-h="${oh}" data-output-w="${ow}"`);
      const g = v.geometry;
      expect(count(/class="gb-in-cell"/g, html)).toBe(g.input[0] * g.input[1]);
      expect(count(/class="gb-pad-cell"/g, html)).toBe(g.padded[0] * g.padded[1] - g.input[0] * g.input[1]);
      for (const f of g.frames) for (const [y, x] of f.taps) {
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThan(g.padded[0]);
        expect(x).toBeLessThan(g.padded[1]);
      }
      // the formula, filled in, ends with the output size
      expect(b["text/plain"]).toContain(`= ${oh}`);
    }
  });

  it("the gallery shows the guide's cases, each with the formula's output", () => {
    const gal = convArithmeticGallery();
    const html = gal.toMimeBundle()["text/html"] as string;
    expect(count(/class="gb-conv-view"/g, html)).toBe(CONV_GUIDE_CASES.length);
    gal.views.forEach((v, i) => {
      const want = ref.conv[i].output;
      expect(v.geometry.output).toEqual(want);
      expect(html).toContain(`data-output-h="${want[0]}" data-output-w="${want[1]}"`);
    });
  });

  it("a single frame; bad geometry gets a clear error", () => {
    const html = convArithmetic({ input: 5, kernel: 3, stride: 2, frame: 3 }).toMimeBundle()["text/html"] as string;
    expect(count(/class="gbf-static" data-frame="3"/g, html)).toBe(1);
    expect(() => convArithmetic({ input: 3, kernel: 3, dilation: 2 })).toThrow(/convArithmetic: the kernel \(extent 5×5 with dilation\) does not fit the padded input 3×3/);
    expect(() => convArithmetic({ input: 5, kernel: 3, stride: 0 })).toThrow(/convArithmetic: stride must be an integer >= 1/);
    // PyTorch's names in the wrong place (as a cell without the type checker's help might pass them)
    expect(() => convArithmetic({ inputSize: 5, kernel_size: 3 } as any)).toThrow("convArithmetic: the option `input` is missing (the input size, e.g. { input: 5, kernel: 3 }); got options: inputSize, kernel_size");
  });
});

describe("activation functions", () => {
  it("values and autograd derivatives match PyTorch", async () => {
    const names = Object.keys(ref.activations.curves);
    const c = await activationCurves(names, { range: [-5, 5], points: 20 });
    c.x.forEach((x, i) => expect(x).toBeCloseTo(ref.activations.x[i], 5));
    for (const cv of c.curves) {
      const r = ref.activations.curves[cv.name];
      cv.y.forEach((v, i) => expect(v, `${cv.name}(${c.x[i]})`).toBeCloseTo(r.y[i], 4));
      cv.dy.forEach((v, i) => expect(v, `${cv.name}'(${c.x[i]})`).toBeCloseTo(r.dy[i], 4));
    }
  });

  it("figure: f on the left, f' on the right; custom functions; unknown names rejected", async () => {
    const fig = activations({ swish: (x) => x.mul(x.sigmoid()) }, { points: 11 });
    const b = await fig.toMimeBundle();
    const data = (b[PLOTLY_MIME] as any).data;
    expect(data.map((t: any) => [t.name, t.xaxis])).toEqual([["swish", "x"], ["swish′", "x2"]]);
    expect(data[0].y).toHaveLength(11);
    await expect(activationCurves(["nope"])).rejects.toThrow(/activations: unknown activation 'nope'/);
  });
});

describe("confusion matrix", () => {
  it("counts from logits (argmax) match PyTorch's bincount", async () => {
    const cm = confusionMatrix(gb.tensor(ref.confusion.logits), gb.tensor(ref.confusion.targets, { dtype: "int32" }));
    expect(await cm.counts).toEqual(ref.confusion.counts);
    const b = await cm.toMimeBundle();
    const t = (b[PLOTLY_MIME] as any).data[0];
    expect(t.type).toBe("heatmap");
    expect(t.z).toEqual(ref.confusion.counts);
    const total = ref.confusion.counts.flat().reduce((a: number, v: number) => a + v, 0);
    const diag = ref.confusion.counts.reduce((a: number, r: number[], i: number) => a + r[i], 0);
    expect((b[PLOTLY_MIME] as any).layout.title.text).toContain(`(${diag}/${total})`);
  });
  it("normalized rows sum to 1; mismatched lengths rejected", async () => {
    const { data } = await confusionMatrix([0, 1, 1, 0], [0, 1, 0, 0], { normalize: true }).resolve();
    for (const row of data[0].z as number[][]) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    await expect(confusionMatrix([0, 1], [0]).counts).rejects.toThrow(/confusionMatrix: 2 predictions but 1 targets/);
  });
});

describe("decision boundary", () => {
  it("a perceptron's regions match PyTorch's classes on the same grid", async () => {
    const r = ref.perceptron;
    const w = gb.tensor(r.w).reshape([2, 1]);
    const perceptron = (x: gb.Tensor) => x.matmul(w).add(r.b).reshape([-1]);
    const X = gb.tensor([[0, 0], [1, 1]]);
    const g = await boundaryGrid(perceptron, X, { range: r.range, resolution: r.resolution });
    expect(g.threshold).toBe(0);
    expect(g.classes).toEqual(r.classes);
  });

  it("an XOR MLP (nn.Sequential): probabilities and classes match PyTorch; bundle has regions, boundary and points", async () => {
    const r = ref.xor_mlp;
    const mlp = new gb.nn.Sequential(new gb.nn.Linear(2, 4), new gb.nn.Tanh(), new gb.nn.Linear(4, 1), new gb.nn.Sigmoid());
    const st = r.state;
    (mlp as any)["0"].weight.assign(gb.tensor(st["0.weight"]));
    (mlp as any)["0"].bias.assign(gb.tensor(st["0.bias"]));
    (mlp as any)["2"].weight.assign(gb.tensor(st["2.weight"]));
    (mlp as any)["2"].bias.assign(gb.tensor(st["2.bias"]));
    const X = gb.tensor(r.X), y = gb.tensor(r.y, { dtype: "int32" });
    const g = await boundaryGrid(mlp, X, { range: r.range, resolution: r.resolution });
    expect(g.threshold).toBe(0.5);
    for (let j = 0; j < r.resolution; j++)
      for (let i = 0; i < r.resolution; i++) {
        expect(g.values![j][i]).toBeCloseTo(r.prob[j][i], 4);
        if (Math.abs(r.prob[j][i] - 0.5) > 1e-3) expect(g.classes[j][i]).toBe(r.classes[j][i]);
      }
    expect(mlp.training).toBe(true); // restored after evaluation in eval mode
    const fig = decisionBoundary(mlp, X, y, { title: "XOR", resolution: 30 });
    const b = await fig.toMimeBundle();
    const data = (b[PLOTLY_MIME] as any).data;
    expect(data.map((t: any) => t.type)).toEqual(["heatmap", "contour", "scatter", "scatter"]);
    expect(data[0].z).toHaveLength(30);
    expect(data[1].contours.start).toBe(0.5);
    expect(data[2]).toMatchObject({ name: "class 0", x: [0, 1], y: [0, 1] });
    expect(data[3]).toMatchObject({ name: "class 1", x: [0, 1], y: [1, 0] });
    expect(b["text/plain"]).toContain("decision boundary");
    expect(b["text/html"]).toContain("Plotly.newPlot");
  });

  it("multi-class logits: argmax regions; wrong output shapes rejected", async () => {
    const f = (x: gb.Tensor) => gb.stack([x.index(":", 0), x.index(":", 1), x.index(":", 0).neg()], 1);
    const g = await boundaryGrid(f, [[-1, -1], [1, 1]], { resolution: 5 });
    expect(g.numClasses).toBe(3);
    expect(g.values).toBeNull();
    await expect(boundaryGrid((x) => x.sum(), [[0, 0]], { resolution: 3 })).rejects.toThrow(/decisionBoundary: the classifier returned shape \[\] for 9 points/);
  });
});

describe("MLP diagram, model summary", () => {
  it("weight counts of [2, 4, 1] and of an nn model equal PyTorch's parameter counts", () => {
    const d = mlpDiagram([2, 4, 1]);
    expect(d.totalParams).toBe(ref.params.mlp_2_4_1);
    const model = new gb.nn.Sequential(new gb.nn.Linear(784, 128), new gb.nn.ReLU(), new gb.nn.Linear(128, 64), new gb.nn.ReLU(), new gb.nn.Linear(64, 10));
    const dm = mlpDiagram(model);
    expect(dm.sizes).toEqual([784, 128, 64, 10]);
    expect(dm.activations).toEqual(["ReLU", "ReLU", undefined]);
    expect(dm.totalParams).toBe(ref.params.mlp_784_128_64_10);
    const b = dm.toMimeBundle();
    expect(b["text/html"]).toContain(`data-total-params="${ref.params.mlp_784_128_64_10}"`);
    expect(b["text/html"]).toContain("W 128×784 = 100352");
    // at most maxUnits circles per layer (+ elision)
    expect(count(/class="gb-mlp-unit"/g, b["text/html"] as string)).toBe(8 + 8 + 8 + 8);
    expect(() => mlpDiagram([3])).toThrow(/mlpDiagram: layer sizes must be at least two positive integers/);
  });

  it("modelSummary: parameter table without a shape, gb.nn.summary with one", () => {
    const model = new gb.nn.Sequential(new gb.nn.Linear(2, 4), new gb.nn.Tanh(), new gb.nn.Linear(4, 1));
    const t = modelSummary(model) as ParameterTable;
    expect(t.total).toBe(ref.params.mlp_2_4_1);
    const b = t.toMimeBundle();
    expect(b["text/html"]).toContain("<table");
    expect(b["text/plain"]).toContain("Total params: 17");
    const s = modelSummary(model, [2]) as gb.nn.Summary;
    expect(s.totalParams).toBe(ref.params.mlp_2_4_1);
  });
});

describe("autograd graph drawing", () => {
  it("micrograd's example: values and gradients as PyTorch computes them", async () => {
    const r = ref.graph;
    const leaf = (v: number, name: string) => {
      const t = gb.tensor(v, { requiresGrad: true });
      t.name = name;
      return t;
    };
    const a = leaf(r.a, "a"), b = leaf(r.b, "b"), c = leaf(r.c, "c"), f = leaf(r.f, "f");
    const e = a.mul(b);
    e.name = "e";
    const d = e.add(c);
    d.name = "d";
    const L = d.mul(f);
    L.name = "L";
    await L.backward();
    const drawing = drawGraph(L);
    const nodes = await drawing.nodes();
    const byName = Object.fromEntries(nodes.map((n) => [n.name, n]));
    expect(byName.L.value).toEqual([r.L]);
    for (const k of ["a", "b", "c", "f"]) expect(byName[k].grad).toEqual([r.grads[k]]);
    // intermediate gradients (as micrograd shows them), computed without touching .grad
    for (const k of ["e", "d", "L"]) expect(byName[k].grad, k).toEqual([r.grads[k]]);
    expect(e.grad).toBeNull();
    expect(await drawGraph(L, { grads: "stored" }).nodes().then((ns) => ns.find((n) => n.name === "e")!.grad)).toBeUndefined();
    const bundle = await drawing.toMimeBundle();
    expect(Object.keys(bundle).sort()).toEqual(["image/svg+xml", "text/html", "text/plain"]);
    const svg = bundle["image/svg+xml"] as string;
    expect(count(/class="gb-graph-value"/g, svg)).toBe(nodes.length);
    expect(count(/class="gb-graph-op"/g, svg)).toBe(nodes.filter((n) => n.op !== "leaf").length);
    expect(svg).toContain(`grad ${r.grads.a}`);
    expect(bundle["text/plain"]).toContain("L = ");
    const dot = await drawing.toDot();
    expect(dot).toContain("rankdir=LR");
    expect(count(/shape=record/g, dot)).toBe(nodes.length);
  });
});
