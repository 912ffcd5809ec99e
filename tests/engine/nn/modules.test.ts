// gb.nn.Module and the layers against PyTorch (reference.json, made by make_reference.py):
// parameter names and counts, state dicts, summary shapes (torch forward hooks), batch norm
// running statistics, train/eval behaviour, loadStateDict errors, init, and safetensors
// round trips with PyTorch in both directions.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";
import { ARCHS, BnCnn, mlp } from "./models.ts";

const nn = gb.nn;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));
const here = fileURLToPath(new URL(".", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "gb-nn-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, atol = 1e-5, rtol = 1e-5): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]))) expect.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
  }
}
const t32 = (data: number[], shape: number[]) => gb.tensor(Float32Array.from(data), { shape });

function torchAvailable(): boolean {
  try {
    execFileSync("/usr/bin/python3", ["-c", "import torch"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// AlexNet has 61M parameters: build each architecture once for the tests that only read it
const built = new Map<string, InstanceType<typeof nn.Module>>();
const model = (name: string) => {
  if (!built.has(name)) built.set(name, ARCHS[name]());
  return built.get(name)!;
};

describe("parameters and state dicts match PyTorch", () => {
  for (const name of Object.keys(ref.modules)) {
    const want = ref.modules[name];
    it(`${name}: namedParameters and numParameters`, () => {
      const m = model(name);
      expect(m.namedParameters().map(([n, p]) => [n, p.shape])).toEqual(want.namedParameters);
      expect(m.numParameters()).toBe(want.numParameters);
      expect(m.parameters().reduce((s, p) => s + p.numel(), 0)).toBe(want.numParameters);
    });
    it(`${name}: stateDict keys and shapes (buffers included)`, () => {
      const sd = model(name).stateDict();
      expect(Object.entries(sd).map(([n, t]) => [n, t.shape])).toEqual(want.stateDict);
    });
  }
  it("the lecture's MLP 3-4-4-1 has PyTorch's parameter count", () => {
    expect(mlp().numParameters()).toBe(ref.modules.mlp.numParameters);
  });
});

describe("summary", () => {
  for (const name of Object.keys(ref.modules)) {
    it(`${name}: leaf layers' output shapes and parameter counts equal torch forward hooks`, () => {
      const want = ref.modules[name];
      const m = model(name);
      m.train();
      const s = nn.summary(m, want.inputShape);
      expect(s.layers.map((l) => ({ name: l.name, type: l.type, outputShape: l.outputShape, params: l.params }))).toEqual(want.summary);
      expect(s.totalParams).toBe(want.numParameters);
      expect(s.trainableParams).toBe(want.numParameters);
      expect(m.training).toBe(true); // modes restored
      const text = s.toString();
      expect(text).toContain("Output Shape");
      expect(text).toContain(`Total params: ${want.numParameters.toLocaleString("en-US")}`);
      const bundle = s.toMimeBundle();
      expect(bundle["text/plain"]).toBe(text);
      expect(bundle["text/html"]).toContain("<table");
    }, 30_000);
  }
  it("counts frozen parameters as non-trainable", () => {
    const m = mlp();
    (m.at(0) as InstanceType<typeof nn.Linear>).requiresGrad_(false);
    const s = nn.summary(m, [3]);
    expect(s.trainableParams).toBe(ref.modules.mlp.numParameters - 16);
    expect(s.nonTrainableParams).toBe(16);
  });
});

describe("BatchNorm modules", () => {
  for (const [name, r] of Object.entries<any>(ref.batchNormModules)) { // eslint-disable-line @typescript-eslint/no-explicit-any
    it(`${name}: outputs, running statistics and numBatchesTracked after two training steps, then eval`, async () => {
      const m = name === "BatchNorm2d" ? new nn.BatchNorm2d(3) : name === "BatchNorm1d" ? new nn.BatchNorm1d(3, { momentum: null }) : new nn.BatchNorm1d(3, { momentum: 0.2, eps: 1e-3 });
      m.weight!.assign(t32(r.weight, [3]));
      m.bias!.assign(t32(r.bias, [3]));
      m.train();
      const y1 = m.call(t32(r.x1, r.shape));
      m.call(t32(r.x2, r.shape));
      m.eval();
      const y3 = m.call(t32(r.x3, r.shape));
      expectClose(await y1.data(), r.y1, `${name} y1`, 3e-5);
      expectClose(await y3.data(), r.y3, `${name} y3`, 3e-5);
      expectClose(await m.runningMean!.data(), r.runningMean, `${name} runningMean`);
      expectClose(await m.runningVar!.data(), r.runningVar, `${name} runningVar`);
      expect(await m.numBatchesTracked!.item()).toBe(r.numBatchesTracked);
    });
  }
  it("rejects inputs of the wrong rank or channel count", () => {
    expect(() => new nn.BatchNorm2d(3).call(gb.zeros([2, 3]))).toThrow(/BatchNorm2d: expected a 4-D \[N, C, H, W\] input, got input of shape 2x3/);
    expect(() => new nn.BatchNorm1d(4).call(gb.zeros([2, 3]))).toThrow(/BatchNorm1d: expected input with 4 channels \(numFeatures\), got input 2x3/);
  });
});

describe("train / eval", () => {
  it("switches dropout on and off in every submodule", async () => {
    const m = new nn.Sequential(new nn.Linear(4, 4), new nn.Dropout(0.5));
    const x = gb.ones([8, 4]);
    m.eval();
    expect(m.modules().every((c) => !c.training)).toBe(true);
    const a = await m.call(x).data(), b = await m.call(x).data();
    expect(Array.from(a)).toEqual(Array.from(b));
    m.train();
    expect(m.at(1).training).toBe(true);
    gb.manualSeed(5);
    const c = await m.call(x).data();
    expect(Array.from(c).some((v) => v === 0)).toBe(true);
  });
  it("batch norm uses batch statistics in training and running statistics in eval", async () => {
    const bn = new nn.BatchNorm1d(2);
    const x = t32([1, 2, 3, 4, 5, 7], [3, 2]);
    const yTrain = await bn.call(x).data();
    // per-channel normalised batch: mean 0 in training
    expect(Math.abs(yTrain[0] + yTrain[2] + yTrain[4])).toBeLessThan(1e-5);
    bn.eval();
    const before = Array.from(await bn.runningMean!.data());
    const yEval = await bn.call(x).data();
    expect(Array.from(await bn.runningMean!.data())).toEqual(before); // eval does not update
    expect(Array.from(yEval)).not.toEqual(Array.from(yTrain));
  });
});

describe("loadStateDict", () => {
  it("copies values in place (same Parameter objects) and returns no missing keys", async () => {
    const a = mlp(), b = mlp();
    const p0 = b.parameters()[0];
    const r = b.loadStateDict(a.stateDict());
    expect(r).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(b.parameters()[0]).toBe(p0);
    expect(Array.from(await p0.data())).toEqual(Array.from(await a.parameters()[0].data()));
  });
  it("names missing and unexpected keys (strict), and reports them with strict: false", () => {
    const sd = mlp().stateDict();
    delete sd["4.bias"];
    sd["5.weight"] = gb.zeros([1]);
    expect(() => mlp().loadStateDict(sd)).toThrow(/Unexpected key\(s\) in state dict: "5.weight"\.[\s\S]*Missing key\(s\) in state dict: "4.bias"\./);
    expect(mlp().loadStateDict(sd, { strict: false })).toEqual({ missingKeys: ["4.bias"], unexpectedKeys: ["5.weight"] });
  });
  it("reports shape mismatches even when not strict", () => {
    const sd = mlp().stateDict();
    sd["0.weight"] = gb.zeros([4, 5]);
    expect(() => mlp().loadStateDict(sd, { strict: false })).toThrow("size mismatch for 0.weight: copying a param with shape 4x5 from checkpoint, the shape in current model is 4x3.");
  });
  it("loads buffers (running statistics) under PyTorch's keys or the property names", async () => {
    const a = new BnCnn(), b = new BnCnn();
    a.bn.runningMean!.assign(gb.full([4], 3));
    const sd = a.stateDict();
    expect(Object.keys(sd)).toContain("bn.running_mean");
    b.loadStateDict(sd);
    expect(Array.from(await b.bn.runningMean!.data())).toEqual([3, 3, 3, 3]);
    const camel = Object.fromEntries(Object.entries(sd).map(([k, v]) => [k.replace("running_mean", "runningMean"), v]));
    a.bn.runningMean!.assign(gb.full([4], 5));
    camel["bn.runningMean"] = a.bn.runningMean!;
    expect(b.loadStateDict(camel)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(Array.from(await b.bn.runningMean!.data())).toEqual([5, 5, 5, 5]);
  });
});

describe("Module API", () => {
  class Net extends nn.Module {
    fc1 = new nn.Linear(3, 4);
    scale = new nn.Parameter(gb.ones([1]));
    act = new nn.ReLU();
    fc2 = new nn.Linear(4, 2);
    notAParam = gb.zeros([2]);
    constructor() {
      super();
      this.registerBuffer("stat", gb.zeros([2]));
      this.registerBuffer("scratch", gb.zeros([1]), { persistent: false });
    }
    forward(x: Tensor): Tensor {
      return this.fc2.call(this.act.call(this.fc1.call(x))).mul(this.scale);
    }
  }
  it("registers parameters, buffers and children by property, in definition order", () => {
    const n = new Net();
    expect(n.namedParameters().map(([k]) => k)).toEqual(["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
    expect(n.namedChildren().map(([k]) => k)).toEqual(["fc1", "act", "fc2"]);
    expect(n.namedModules().map(([k]) => k)).toEqual(["", "fc1", "act", "fc2"]);
    expect(n.namedBuffers().map(([k]) => k)).toEqual(["stat", "scratch"]);
    expect(Object.keys(n.stateDict())).toEqual(["scale", "stat", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
  });
  it("forward, call, hooks, zeroGrad, apply, to", async () => {
    const n = new Net();
    const x = gb.randn([5, 3]);
    const seen: number[][] = [];
    const h = n.fc1.registerForwardHook((_m, _i, out) => void seen.push((out as Tensor).shape));
    const y = n.call(x);
    expect(y.shape).toEqual([5, 2]);
    expect(seen).toEqual([[5, 4]]);
    h.remove();
    n.call(x);
    expect(seen.length).toBe(1);
    n.registerForwardHook((_m, _i, out) => (out as Tensor).mul(0));
    expect(Array.from(await n.call(x).data()).every((v) => v === 0)).toBe(true);
    expect(Array.from(await n.forward(x).data()).every((v) => v === 0)).toBe(false);
    await n.forward(x).sum().backward();
    expect(n.parameters().every((p) => p.grad !== null)).toBe(true);
    n.zeroGrad();
    expect(n.parameters().every((p) => p.grad === null)).toBe(true);
    const visited: string[] = [];
    n.apply((m) => visited.push(m.typeName));
    expect(visited).toEqual(["Linear", "ReLU", "Linear", "Net"]);
    const p = n.parameters()[1];
    expect(n.to("cpu")).toBe(n);
    expect(n.parameters()[1]).toBe(p);
  });
  it("Sequential: at, length, add, slice, iteration, named construction", () => {
    const s = mlp();
    expect(s.length).toBe(5);
    expect(s.at(-1)).toBe(s.at(4));
    expect(s.at(1).typeName).toBe("Tanh");
    s.add(new nn.Sigmoid());
    expect(s.namedChildren().map(([k]) => k)).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect([...s].length).toBe(6);
    expect(s.slice(0, 2).length).toBe(2);
    const named = new nn.Sequential({ fc: new nn.Linear(2, 2), out: new nn.Sigmoid() });
    expect(named.namedParameters().map(([k]) => k)).toEqual(["fc.weight", "fc.bias"]);
    expect(() => s.at(10)).toThrow(/Sequential: index 10 is out of range for 6 modules/);
  });
  it("ModuleList registers its modules", () => {
    class Stack extends nn.Module {
      layers = new nn.ModuleList([new nn.Linear(2, 3), new nn.Linear(3, 1)]);
      forward(x: Tensor): Tensor {
        for (const l of this.layers) x = (l as InstanceType<typeof nn.Linear>).call(x);
        return x;
      }
    }
    const st = new Stack();
    expect(st.namedParameters().map(([k]) => k)).toEqual(["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]);
    expect(st.call(gb.zeros([4, 2])).shape).toEqual([4, 1]);
  });
  it("prints like PyTorch's module repr", () => {
    const s = new nn.Sequential(new nn.Conv2d(1, 6, 5, { padding: 2 }), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(3, 4, { bias: false }));
    expect(s.toString()).toBe(
      [
        "Sequential(",
        "  (0): Conv2d(1, 6, kernelSize=(5, 5), stride=(1, 1), padding=(2, 2))",
        "  (1): ReLU()",
        "  (2): MaxPool2d(kernelSize=2, stride=2, padding=0, dilation=1, ceilMode=false)",
        "  (3): Flatten(startDim=1, endDim=-1)",
        "  (4): Linear(inFeatures=3, outFeatures=4, bias=false)",
        ")",
      ].join("\n"),
    );
    expect(s.toMimeBundle()["text/plain"]).toBe(s.toString());
    expect(new BnCnn().toString()).toContain("  (head): Sequential(\n    (0): Flatten(startDim=1, endDim=-1)");
  });
  it("freezes layers with requiresGrad_(false)", async () => {
    const m = mlp();
    m.at(0).requiresGrad_(false);
    await m.call(gb.randn([2, 3])).sum().backward();
    expect((m.at(0) as InstanceType<typeof nn.Linear>).weight.grad).toBeNull();
    expect((m.at(2) as InstanceType<typeof nn.Linear>).weight.grad).not.toBeNull();
  });
});

describe("layers", () => {
  it("Linear: error names the layer and the shapes", () => {
    expect(() => new nn.Linear(3, 4).call(gb.zeros([2, 5]))).toThrow("Linear: expected input with last dimension 3 (inFeatures), got input 2x5");
  });
  it("Conv2d: error names the op and the shapes", () => {
    expect(() => new nn.Conv2d(3, 64, 11, { stride: 4 }).call(gb.zeros([8, 1, 224, 224]))).toThrow("conv2d: expected input with 3 channels (weight 64x3x11x11), got input 8x1x224x224");
  });
  it("MaxPool2d with returnIndices, Unflatten, Identity, Heaviside/Step, Softmax", async () => {
    const [y, idx] = new nn.MaxPool2d(2, { returnIndices: true }).call(gb.arange(16, undefined, 1, { dtype: "float32" }).reshape([1, 1, 4, 4])) as unknown as [Tensor, Tensor];
    expect(Array.from(await y.data())).toEqual([5, 7, 13, 15]);
    expect(Array.from(await idx.data())).toEqual([5, 7, 13, 15]);
    expect(new nn.Unflatten(1, [2, -1]).call(gb.zeros([3, 8])).shape).toEqual([3, 2, 4]);
    const x = gb.tensor([-1, 0, 2]);
    expect(new nn.Identity().call(x)).toBe(x);
    expect(Array.from(await new nn.Step().call(x).data())).toEqual([0, 0, 1]);
    expect(Array.from(await new nn.Heaviside(0.5).call(x).data())).toEqual([0, 0.5, 1]);
    const sm = await new nn.Softmax(1).call(gb.zeros([2, 4])).data();
    expect(Array.from(sm)).toEqual(new Array(8).fill(0.25));
  });
  it("loss modules equal the functional losses", async () => {
    gb.manualSeed(2);
    const x = gb.randn([4, 3]), t = gb.tensor(Int32Array.from([0, 2, 1, 2]), { dtype: "int32" });
    const w = gb.tensor([1, 2, 3]);
    expect(await new nn.CrossEntropyLoss({ weight: w, labelSmoothing: 0.1 }).call(x, t).item()).toBeCloseTo(await nn.F.crossEntropy(x, t, { weight: w, labelSmoothing: 0.1 }).item(), 6);
    expect(await new nn.MSELoss({ reduction: "sum" }).call(x, x.mul(2)).item()).toBeCloseTo(await nn.F.mseLoss(x, x.mul(2), { reduction: "sum" }).item(), 6);
    expect(await new nn.HingeLoss().call(x, t).item()).toBeCloseTo(await nn.F.multiMarginLoss(x, t).item(), 6);
    expect(Object.keys(new nn.CrossEntropyLoss({ weight: w }).stateDict())).toEqual(["weight"]);
  });
});

describe("init", () => {
  it("calculateGain equals torch.nn.init.calculate_gain", () => {
    for (const [nl, a, g] of ref.init.gains) expect(nn.init.calculateGain(nl, a ?? undefined), `${nl} ${a}`).toBeCloseTo(g, 12);
  });
  it("fan in / fan out equal torch's", () => {
    for (const [shape, fans] of ref.init.fans) expect(nn.init.calculateFanInAndFanOut(gb.zeros(shape))).toEqual(fans);
  });
  it("kaiming, xavier, uniform, normal and constant fill in place with the right spread", async () => {
    gb.manualSeed(11);
    const w = gb.zeros([256, 128]);
    const stats = async (t: Tensor) => {
      const v = await t.data();
      let s = 0, s2 = 0, mx = 0;
      for (const x of v) {
        s += x;
        s2 += x * x;
        mx = Math.max(mx, Math.abs(x));
      }
      return { mean: s / v.length, std: Math.sqrt(s2 / v.length - (s / v.length) ** 2), max: mx };
    };
    let r = await stats(nn.init.kaimingUniform_(w, { nonlinearity: "relu" }));
    const b = Math.sqrt(2) * Math.sqrt(3 / 128);
    expect(r.max).toBeLessThanOrEqual(b);
    expect(r.std).toBeCloseTo(b / Math.sqrt(3), 2);
    r = await stats(nn.init.kaimingNormal_(w, { mode: "fanOut" }));
    expect(r.std).toBeCloseTo(Math.sqrt(2) / Math.sqrt(256), 2);
    r = await stats(nn.init.xavierUniform_(w, 2));
    expect(r.max).toBeLessThanOrEqual(2 * Math.sqrt(6 / 384));
    r = await stats(nn.init.xavierNormal_(w));
    expect(r.std).toBeCloseTo(Math.sqrt(2 / 384), 2);
    r = await stats(nn.init.normal_(w, 3, 0.5));
    expect(r.mean).toBeCloseTo(3, 1);
    expect(r.std).toBeCloseTo(0.5, 1);
    r = await stats(nn.init.uniform_(w, -0.1, 0.1));
    expect(r.max).toBeLessThanOrEqual(0.1);
    expect(Array.from(await nn.init.constant_(gb.zeros([3]), 0.25).data())).toEqual([0.25, 0.25, 0.25]);
  });
  it("default layer init is PyTorch's: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weight and bias", async () => {
    const conv = new nn.Conv2d(4, 8, 3);
    const bound = 1 / Math.sqrt(4 * 9);
    for (const p of conv.parameters()) {
      const v = await p.data();
      expect(Math.max(...Array.from(v).map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...Array.from(v).map(Math.abs))).toBeGreaterThan(bound * 0.5);
    }
  });
});

describe("safetensors", () => {
  const st = ref.safetensors;
  it("serialize / deserialize round trip (float32, int32, bool, metadata)", async () => {
    const sd = { a: gb.randn([2, 3]), "b.c": gb.tensor(Int32Array.from([1, -2, 3]), { dtype: "int32" }), flag: gb.tensor([true, false]), s: gb.tensor(2.5) };
    const bytes = await nn.safetensors.serialize(sd, { note: "hi" });
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
    const back = nn.safetensors.deserialize(bytes);
    expect(Object.keys(back)).toEqual(Object.keys(sd));
    for (const [k, t] of Object.entries(sd)) {
      expect(back[k].shape).toEqual(t.shape);
      expect(back[k].dtype).toBe(t.dtype);
      expect(Array.from(await back[k].data())).toEqual(Array.from(await t.data()));
    }
    expect(nn.safetensors.metadata(bytes)).toEqual({ note: "hi" });
  });
  it("reads a file PyTorch wrote (F64, F16, BF16, I64, I32, BOOL, U8) and runs the loaded model like PyTorch", async () => {
    const path = join(here, "torch_written.safetensors");
    const sd = await gb.load(path);
    for (const [k, e] of Object.entries<any>(st.extras)) { // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(sd[k].shape, k).toEqual(e.shape);
      const got = Array.from(await sd[k].data());
      if (k === "extra.f64") expectClose(got, e.data, k, 0, 1e-7);
      else expect(got, k).toEqual(e.data);
    }
    expect(nn.safetensors.metadata(new Uint8Array(readFileSync(path)))).toEqual(st.metadata);
    const model = new BnCnn();
    const r = await model.load(path, { strict: false });
    expect(r.missingKeys).toEqual([]);
    expect(r.unexpectedKeys.every((k) => k.startsWith("extra."))).toBe(true);
    expect(Object.keys(model.stateDict())).toEqual(st.stateKeys);
    model.eval();
    const y = model.call(t32(st.input.data, st.input.shape));
    expect(y.shape).toEqual(st.outputShape);
    expectClose(await y.data(), st.output, "BnCnn output", 1e-4);
  });
  it.skipIf(!torchAvailable())("PyTorch reads a file gradbook wrote and computes the same outputs", async () => {
    gb.manualSeed(9);
    const model = new BnCnn();
    model.train();
    model.call(gb.randn([4, 2, 8, 8])); // move running statistics
    model.eval();
    const path = join(tmp, "gb.safetensors");
    await model.save(path, { writer: "gradbook" });
    const x = gb.randn([2, 2, 8, 8]);
    const inPath = join(tmp, "input.json");
    writeFileSync(inPath, JSON.stringify({ shape: x.shape, data: Array.from(await x.data()) }));
    const out = JSON.parse(execFileSync("/usr/bin/python3", [join(here, "check_safetensors.py"), path, inPath], { encoding: "utf8" }));
    expect(out.metadata).toEqual({ writer: "gradbook" });
    expect(out.dtypes["bn.num_batches_tracked"]).toBe("I32");
    expect(out.dtypes["conv.weight"]).toBe("F32");
    expect(out.shapes["up.weight"]).toEqual([4, 3, 2, 2]);
    const y = model.call(x);
    expect(out.outputShape).toEqual(y.shape);
    expectClose(await y.data(), out.output, "torch output on the gradbook weights", 1e-4);
  });
  it("errors on truncated or foreign bytes", () => {
    expect(() => nn.safetensors.deserialize(new Uint8Array([1, 2, 3]))).toThrow(/safetensors.deserialize: 3 bytes is too short/);
    const bad = new Uint8Array(16);
    new DataView(bad.buffer).setBigUint64(0, 1000n, true);
    expect(() => nn.safetensors.deserialize(bad)).toThrow(/header length 1000 exceeds the file size 16/);
  });
});

describe("training end to end", () => {
  it("an MLP learns XOR with plain gradient descent on its parameters", async () => {
    gb.manualSeed(4);
    const model = new nn.Sequential(new nn.Linear(2, 8), new nn.Tanh(), new nn.Linear(8, 1));
    const x = gb.tensor([[0, 0], [0, 1], [1, 0], [1, 1]]);
    const y = gb.tensor([[0], [1], [1], [0]]);
    let first = 0, last = 0;
    for (let step = 0; step < 300; step++) {
      const loss = nn.F.binaryCrossEntropyWithLogits(model.call(x), y);
      if (step === 0) first = await loss.item();
      last = await loss.item();
      model.zeroGrad();
      await loss.backward();
      gb.noGrad(() => {
        for (const p of model.parameters()) p.assign(p.sub(p.grad!.mul(0.5)));
      });
    }
    expect(last).toBeLessThan(first / 5);
    const pred = await model.call(x).sigmoid().data();
    expect(Array.from(pred).map((v) => (v > 0.5 ? 1 : 0))).toEqual([0, 1, 1, 0]);
  });
});
