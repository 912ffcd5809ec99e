import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as gb from "../../engine/index.js";
import {
  Button,
  Dropdown,
  FloatSlider,
  HBox,
  IntProgress,
  IntSlider,
  Label,
  Output,
  PLOTLY_MIME,
  VBox,
  WIDGET_VIEW_MIME,
  interact,
  plot,
  resetPlotlyEmbedding,
  setDisplayHost,
  setWidgetErrorReporter,
} from "../../widgets/index.js";
import { CaptureHost } from "./capture-host.js";

let host: CaptureHost;
beforeEach(() => {
  host = new CaptureHost();
  setDisplayHost(host);
});
afterEach(() => {
  setDisplayHost(null);
  resetPlotlyEmbedding();
});

describe("widget models over comms (protocol 2.1.0)", () => {
  it("IntSlider opens a jupyter.widget comm with the controls 2.0.0 model state", async () => {
    const s = new IntSlider({ value: 2, min: 1, max: 3, description: "stride" });
    const comm = host.commFor(s.modelId);
    expect(comm.targetName).toBe("jupyter.widget");
    expect(comm.openMetadata).toEqual({ version: "2.1.0" });
    expect(comm.openData.buffer_paths).toEqual([]);
    expect(comm.openData.state).toMatchObject({
      _model_name: "IntSliderModel",
      _model_module: "@jupyter-widgets/controls",
      _model_module_version: "2.0.0",
      _view_name: "IntSliderView",
      _view_module: "@jupyter-widgets/controls",
      _view_module_version: "2.0.0",
      value: 2,
      min: 1,
      max: 3,
      step: 1,
      description: "stride",
    });
    const b = await s.toMimeBundle();
    expect(b[WIDGET_VIEW_MIME]).toEqual({ model_id: s.modelId, version_major: 2, version_minor: 1 });
    expect(b["text/plain"]).toBe('IntSlider(description="stride" value=2)');
    expect(b["text/html"]).toContain('type="range"');
    expect(b["text/html"]).toContain("needs a front end with Jupyter widgets");
  });

  it("state syncs both ways and observers hear both", () => {
    const s = new FloatSlider({ value: 0.1, min: 0, max: 1, step: 0.01, description: "lr" });
    const comm = host.commFor(s.modelId);
    const seen: [number, number][] = [];
    s.observe(({ old, new: v }) => seen.push([old, v]));
    s.value = 0.5; // kernel side
    expect(comm.sent.at(-1)!.data).toEqual({ method: "update", state: { value: 0.5 }, buffer_paths: [] });
    comm.receive({ method: "update", state: { value: 0.25 }, buffer_paths: [] }); // front end
    expect(s.value).toBe(0.25);
    expect(seen).toEqual([[0.1, 0.5], [0.5, 0.25]]);
    const n = comm.sent.length;
    s.value = 0.25; // no change: nothing sent
    expect(comm.sent.length).toBe(n);
    s.value = 7; // clamped to max
    expect(s.value).toBe(1);
  });

  it("request_state answers with the full state", () => {
    const s = new IntSlider({ value: 4 });
    const comm = host.commFor(s.modelId);
    comm.receive({ method: "request_state" });
    const m = comm.sent.at(-1)!.data;
    expect(m.method).toBe("update");
    expect(m.state).toMatchObject({ _model_name: "IntSliderModel", value: 4 });
  });

  it("the control comm returns all states (update_states), with children as IPY_MODEL references", () => {
    const a = new IntSlider({ value: 1 }), l = new Label("hi");
    const box = new HBox([a, l]);
    const ctl = host.frontEndOpens("jupyter.widget.control", "ctl1");
    ctl.receive({ method: "request_states" });
    const m = ctl.sent.at(-1)!.data;
    expect(m.method).toBe("update_states");
    expect(m.states[box.modelId].children).toEqual([`IPY_MODEL_${a.modelId}`, `IPY_MODEL_${l.modelId}`]);
    expect(m.states[a.modelId]._model_name).toBe("IntSliderModel");
    expect(host.commFor(box.modelId).openData.state._model_name).toBe("HBoxModel");
  });

  it("Dropdown: index on the wire, value on the kernel side", () => {
    const d = new Dropdown({ options: { SGD: "sgd", Adam: "adam" }, value: "adam", description: "optimizer" });
    const comm = host.commFor(d.modelId);
    expect(comm.openData.state).toMatchObject({ _model_name: "DropdownModel", _options_labels: ["SGD", "Adam"], index: 1 });
    const values: string[] = [];
    d.observe(({ new: v }) => values.push(v));
    comm.receive({ method: "update", state: { index: 0 } });
    expect(d.value).toBe("sgd");
    expect(values).toEqual(["sgd"]);
    expect(() => (d.value = "rmsprop")).toThrow(/Dropdown: value "rmsprop" is not among the options \["SGD","Adam"\]/);
  });

  it("Button clicks arrive as custom messages", () => {
    const b = new Button({ description: "train" });
    let clicks = 0;
    b.onClick(() => void clicks++);
    host.commFor(b.modelId).receive({ method: "custom", content: { event: "click" } });
    expect(clicks).toBe(1);
  });

  it("progress bars and boxes", async () => {
    const p = new IntProgress({ max: 10, description: "epochs" });
    const comm = host.commFor(p.modelId);
    expect(comm.openData.state).toMatchObject({ _model_name: "IntProgressModel", _view_name: "ProgressView", max: 10, value: 0 });
    p.value = 3;
    expect(comm.sent.at(-1)!.data.state).toEqual({ value: 3 });
    const v = new VBox([p]);
    expect((await v.toMimeBundle())["text/html"]).toContain('<progress value="3" max="10">');
  });

  it("Output holds displays in nbformat shape; plotly.js rides along only the first time", async () => {
    const out = new Output();
    expect(host.commFor(out.modelId).openData.state).toMatchObject({ _model_module: "@jupyter-widgets/output", _model_module_version: "1.0.0", _model_name: "OutputModel", outputs: [] });
    await out.display(plot.line([1, 2, 3]));
    const first = out.outputs[0];
    expect(first.output_type).toBe("display_data");
    expect(Object.keys(first.data!)).toContain(PLOTLY_MIME);
    expect((first.data!["text/html"] as string).length).toBeGreaterThan(1_000_000);
    await out.replace(plot.line([3, 2, 1]));
    expect(out.outputs).toHaveLength(1);
    expect((out.outputs[0].data!["text/html"] as string).length).toBeLessThan(10_000);
    out.print("hello");
    expect(out.outputs[1]).toEqual({ output_type: "stream", name: "stdout", text: "hello\n" });
    out.clear();
    expect(out.outputs).toEqual([]);
  });

  it("interact: sliders from ranges; moving one re-runs the function into the output", async () => {
    const calls: any[] = [];
    const w = interact(
      (v) => {
        calls.push(v);
        return plot.line(gb.arange(0, 5).mul(v.stride));
      },
      { stride: [1, 3], lr: [0.001, 1], act: ["relu", "tanh"] },
    );
    await w.settled;
    expect(w.controls.stride).toBeInstanceOf(IntSlider);
    expect(w.controls.lr).toBeInstanceOf(FloatSlider);
    expect(w.controls.act).toBeInstanceOf(Dropdown);
    expect(calls).toEqual([{ stride: 2, lr: 0.5005, act: "relu" }]);
    const outComm = host.commFor(w.out.modelId);
    host.commFor(w.controls.stride.modelId).receive({ method: "update", state: { value: 3 } });
    await w.settled;
    expect(calls.at(-1)).toMatchObject({ stride: 3 });
    const last = outComm.sent.at(-1)!.data;
    expect(last.method).toBe("update");
    expect(last.state.outputs[0].data[PLOTLY_MIME].data[0].y).toEqual([0, 3, 6, 9, 12]);
    const bundle = await w.toMimeBundle();
    expect(bundle[WIDGET_VIEW_MIME]).toEqual({ model_id: w.modelId, version_major: 2, version_minor: 1 });
    expect(bundle["text/plain"]).toBe('interact(stride=3, lr=0.5005, act="relu")');
    // the static fallback shows the current plot (with plotly.js embedded once for the page)
    expect(bundle["text/html"]).toContain("Plotly.newPlot");
    expect(bundle["text/html"]).toContain("needs a front end with Jupyter widgets");
  });

  it("errors in the function show in the output", async () => {
    const w = interact(({ n }) => {
      if (n > 0) throw new Error("too big");
      return "ok";
    }, { n: [0, 2] });
    await w.settled;
    expect(w.out.outputs[0]).toMatchObject({ output_type: "error", evalue: "too big" });
  });

  it("observer errors go to the error reporter", () => {
    const errors: unknown[] = [];
    setWidgetErrorReporter((e) => errors.push(e));
    const s = new IntSlider();
    s.observe(() => {
      throw new Error("boom");
    });
    s.value = 5;
    expect(String(errors[0])).toContain("boom");
    setWidgetErrorReporter((e) => console.error(e));
  });
});

describe("without a widget front end", () => {
  it("no comm support: the bundle degrades to the static view with the note (no widget-view MIME)", async () => {
    setDisplayHost(new CaptureHost(false));
    const s = new IntSlider({ value: 3, description: "k" });
    s.value = 4; // still an observable object
    const b = await s.toMimeBundle();
    expect(b[WIDGET_VIEW_MIME]).toBeUndefined();
    expect(b["text/html"]).toContain('value="4"');
    expect(b["text/html"]).toContain("Showing a static view");
  });
  it("no host at all (plain Node): widgets still work", () => {
    setDisplayHost(null);
    const s = new IntSlider({ value: 1 });
    let seen = 0;
    s.observe(({ new: v }) => (seen = v));
    s.value = 9;
    expect(seen).toBe(9);
    expect(s.comm).toBeNull();
  });
});

describe("Output.capture and interactive views", () => {
  it("capture routes displays (and in-place updates by display id) into the output", async () => {
    const { display, trainingView } = await import("../../widgets/index.js");
    const out = new Output();
    await out.capture(async () => {
      await display(plot.bar([1, 2]));
      const v = trainingView({ epochs: 1, batchesPerEpoch: 2, throttleMs: 0 });
      v.update({ epoch: 0, batch: 0, trainLoss: 1 });
      v.update({ epoch: 0, batch: 1, trainLoss: 0.5 });
      await v.close();
    });
    expect(out.outputs).toHaveLength(2); // the figure, and the training view updated in place
    expect(String(out.outputs[1].data!["text/plain"])).toContain("100%");
    expect(host.displays).toHaveLength(0); // nothing leaked to the cell
  });

  it("convExplorer: five sliders; moving stride redraws the view with the formula's output size", async () => {
    const { convExplorer, convOutputSize } = await import("../../widgets/index.js");
    const w = convExplorer({ input: 7, kernel: 3 });
    await w.settled;
    expect(Object.keys(w.controls)).toEqual(["input", "kernel", "stride", "padding", "dilation"]);
    const html = () => String(w.out.outputs[0].data!["text/html"]);
    expect(html()).toContain(`data-output-h="${convOutputSize(7, 3, 1, 0, 1)}"`);
    host.commFor(w.controls.stride.modelId).receive({ method: "update", state: { value: 2 } });
    await w.settled;
    expect(w.out.outputs).toHaveLength(1);
    expect(html()).toContain(`data-output-h="${convOutputSize(7, 3, 2, 0, 1)}"`);
    // a kernel that does not fit: the error shows in the output
    host.commFor(w.controls.dilation.modelId).receive({ method: "update", state: { value: 3 } });
    host.commFor(w.controls.input.modelId).receive({ method: "update", state: { value: 2 } });
    await w.settled;
    await w.settled;
    expect(w.out.outputs.at(-1)).toMatchObject({ output_type: "error" });
    expect(w.out.outputs.at(-1)!.evalue).toContain("does not fit the padded input");
  });
});

describe("front-end values are validated", () => {
  it("an out-of-range value from the front end is clamped and the correction sent back", () => {
    const s = new IntSlider({ value: 1, min: 0, max: 5 });
    const comm = host.commFor(s.modelId);
    comm.receive({ method: "update", state: { value: 9 } });
    expect(s.value).toBe(5);
    expect(comm.sent.at(-1)!.data).toEqual({ method: "update", state: { value: 5 }, buffer_paths: [] });
  });
});
