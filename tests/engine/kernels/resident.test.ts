// Resident CPU tensor storage (engine/backends/cpu/wasm/heap.ts): large results in the SIMD
// module's shared WebAssembly memory, which the kernels read and write in place. The same bits as
// ordinary arrays and as the TypeScript loops, on 1 and 2 threads; gb.tidy() gives the blocks
// back at its end, so a training loop's memory stays flat; dispose() frees a block after its last
// tensor; a freed tensor's use is a clear error; memoryStats() and emptyCache() see the memory.
import { afterEach, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import { allocResident, collectResidentGarbage, freeResident, isResident, residentStats, residentStorage, setResidentHarvest, setResidentHeadroom, setResidentLimit, setResidentStorage } from "../../../engine/backends/cpu/wasm/heap.ts";
import { gemm } from "../../../engine/backends/cpu/kernels/gemm.ts";
import { setMinWorkScale, threadStats } from "../../../engine/backends/cpu/wasm/threads.ts";
import { maxPool2dBackward, maxPool2dForward, maxPool2dReluBackward } from "../../../engine/backends/cpu/kernels/pool.ts";
import { setWasmFma, setWasmMode } from "../../../engine/backends/cpu/wasm/runtime.ts";
import { setUnfilledPoison } from "../../../engine/backends/cpu/alloc.ts";
import { rand } from "./xorshift.ts";

const initialMode = residentStorage();
afterEach(() => {
  setResidentStorage(initialMode);
  setResidentLimit(null);
  setResidentHeadroom(null);
  setResidentHarvest(null);
  setMinWorkScale(1);
  setWasmMode("auto");
  setWasmFma(true);
  setUnfilledPoison(false);
  gb.setNumThreads(2);
});

const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
const same = (got: ArrayLike<number>, want: ArrayLike<number>, what: string) => {
  expect(got.length, what).toBe(want.length);
  const g = bits(got), w = bits(want);
  for (let i = 0; i < w.length; i++) if (g[i] !== w[i]) expect.fail(`${what}: element ${i} is ${got[i]}, was ${want[i]}`);
};
const storage = (t: gb.Tensor) => t._d.storage as Float32Array;

/** The kernels of a LeNet-5 layer pair, forward and backward, on [16, 6, 28, 28]: every result's values. */
async function kernels(): Promise<Float32Array[]> {
  const shape = [16, 6, 28, 28];
  const x = gb.tensor(rand(16 * 6 * 28 * 28, 51)).reshape(shape), g = gb.tensor(rand(16 * 6 * 28 * 28, 52)).reshape(shape);
  const w = gb.tensor(rand(16 * 6 * 25, 53)).reshape([16, 6, 5, 5]).requiresGrad_(true);
  const a = gb.tensor(rand(256 * 400, 54)).reshape([256, 400]), b = gb.tensor(rand(400 * 120, 55)).reshape([400, 120]);
  const xr = x.detach().requiresGrad_(true);
  const y = gb.nn.functional.maxPool2d(gb.nn.functional.conv2d(xr.tanh(), w).sigmoid(), 2);
  // (a convolution of x itself: its input an ordinary array, staged, its output resident)
  const cx = gb.nn.functional.conv2d(x, w);
  const outs = [x.tanh(), x.mul(g), x.add(2), g.sub(x), x.exp(), gb.nn.functional.avgPool2d(x, 2), gb.nn.functional.maxPool2d(x, 2), g.sum([0, 2, 3]), a.matmul(b), y, cx];
  // (average pooling's gradient: fused with tanh's, and alone)
  const v = gb.nn.functional.avgPool2d(xr.tanh(), 2), u = gb.nn.functional.avgPool2d(xr.mul(1), 2);
  const grads = gb.autograd.grad([y.mul(y).sum().add(v.mul(v).sum()).add(u.mul(u).sum()).add(cx.mul(cx).sum())], [xr, w]);
  // the max pooling's gradient fused with the relu's, on planes with a row and a column past the
  // windows (dx zeroed there); and alone
  const x2 = gb.tensor(rand(16 * 6 * 29 * 27, 56)).reshape([16, 6, 29, 27]).requiresGrad_(true);
  const y2 = gb.nn.functional.maxPool2d(x2.mul(2).relu(), 2), y3 = gb.nn.functional.maxPool2d(x2.mul(3), 2);
  grads.push(...gb.autograd.grad([y2.mul(y2).sum().add(y3.mul(y3).sum())], [x2]));
  return Promise.all([...outs, ...grads].map(async (t) => (await t.data()) as Float32Array));
}

describe("resident storage", () => {
  it("the kernels in place give the bits of ordinary arrays and of the TypeScript loops, on 1 and 2 threads", async () => {
    setWasmFma(false); // the exact-bits mode: the TypeScript loops' bits
    setResidentStorage("off");
    gb.setNumThreads(1);
    const ordinary = await kernels();
    setWasmMode("js");
    const loops = await kernels();
    setWasmMode("auto");
    setResidentStorage("always");
    setUnfilledPoison(true); // blocks come filled with NaN: an element a kernel leaves unwritten shows
    const x = gb.tensor(rand(1 << 15, 1)).tanh();
    expect(isResident(storage(x))).toBe(true);
    for (const threads of [1, 2]) {
      gb.setNumThreads(threads);
      for (const scale of [1, 0]) {
        setMinWorkScale(scale); // 0: threads wherever a kernel can use them (in-place element-wise ops too)
        const got = await kernels();
        got.forEach((t, k) => {
          same(t, ordinary[k], `output ${k}, ${threads} threads, scale ${scale}, against ordinary arrays`);
          // (the GEMM and the convolutions sum in another order than their TypeScript references)
          if (k < 8) same(t, loops[k], `output ${k}, ${threads} threads, scale ${scale}, against the TypeScript loops`);
        });
      }
    }
  });

  it("kernels that choose one thread with 2 threads on keep to it with resident operands (LeNet-5's conv1 weight gradient)", async () => {
    // conv1's weight gradient (1 channel in) runs on one thread; with resident operands it once
    // took the shared instance, whose task runner woke the worker for a layout of one thread
    const run = async () => {
      const x = gb.tensor(rand(256 * 28 * 28, 61)).reshape([256, 1, 28, 28]).mul(1);
      const w = gb.tensor(rand(6 * 25, 62)).reshape([6, 1, 5, 5]).requiresGrad_(true);
      const y = gb.nn.functional.conv2d(x, w, null, { padding: 2 }).tanh();
      const [gw] = gb.autograd.grad([y.mul(y).sum()], [w]);
      return [await y.data(), await gw.data()];
    };
    gb.setNumThreads(2);
    setResidentStorage("off");
    const want = await run();
    setResidentStorage("always");
    const got = await run();
    got.forEach((t, k) => same(t, want[k], `output ${k}`));
  });

  it("threaded convolutions in place and bias sums on the threads, called again with operands at other addresses (task lists kept and moved): the bits of one thread", async () => {
    // LeNet-5's conv2 (forward, input gradient, grouped weight gradient, bias sum) at batch 64
    const run = async (seed: number) => {
      const x = gb.tensor(rand(64 * 6 * 14 * 14, seed)).reshape([64, 6, 14, 14]).mul(1).requiresGrad_(true);
      const w = gb.tensor(rand(16 * 6 * 25, seed + 1)).reshape([16, 6, 5, 5]).requiresGrad_(true);
      const b = gb.tensor(rand(16, seed + 2)).requiresGrad_(true);
      const y = gb.nn.functional.conv2d(x, w, b);
      const g = gb.tensor(rand(64 * 16 * 10 * 10, seed + 3)).reshape([64, 16, 10, 10]).mul(1);
      const grads = gb.autograd.grad([y.mul(g).sum()], [x, w, b]);
      // (the bias sum of a [64, 6, 28, 28] gradient: 1.2M floats a thread's rows)
      const big = gb.tensor(rand(64 * 6 * 28 * 28, seed + 4)).reshape([64, 6, 28, 28]).mul(1);
      return Promise.all([y, ...grads, big.sum([0, 2, 3])].map(async (t) => (await t.data()) as Float32Array));
    };
    setResidentStorage("always");
    gb.setNumThreads(1);
    const want = [await run(81), await run(91), await run(101)];
    gb.setNumThreads(2);
    setUnfilledPoison(true);
    const keep: unknown[] = [];
    for (let rep = 0; rep < 2; rep++) {
      for (const [k, seed] of [81, 91, 101].entries()) {
        keep.push(gb.zeros([1 << 16]).add(1)); // (later operands elsewhere in the memory)
        const got = await run(seed);
        got.forEach((t, i) => same(t, want[k][i], `seed ${seed}, output ${i}, pass ${rep}`));
      }
    }
  });

  it("bias rows, column sums and the optimizers' updates read and write resident arrays in place, with the bits of ordinary arrays", async () => {
    // (rowBroadcastF32Wasm, reduce.ts sumColsWasm, kernels/optim.ts: once staged through the private instance only)
    const run = async () => {
      const x = gb.tensor(rand(256 * 120, 71)).reshape([256, 120]).mul(1), b = gb.tensor(rand(120, 72)).mul(1);
      const z = gb.tensor(rand(2 * 8 * 16384, 75)).reshape([2, 8, 16384]).mul(1);
      // (the first five and the parameters resident; the sums of x small: ordinary arrays)
      const outs = [x.add(b), b.sub(x), x.mul(b), x.div(b.add(2)), z.sum(1), x.sum(0), x.reshape([8, 32, 120]).sum(1)];
      const params = [0, 1].map((k) => gb.tensor(rand(256 * 120, 73 + k)).reshape([256, 120]).mul(1).requiresGrad_(true));
      const sgd = new gb.optim.SGD([params[0]], { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 });
      const adam = new gb.optim.Adam([params[1]], { lr: 0.01, weightDecay: 1e-3 });
      for (let step = 0; step < 3; step++) {
        for (const p of params) p.grad = null;
        await params[0].mul(x).sum().add(params[1].tanh().sum()).backward();
        sgd.step();
        adam.step();
      }
      return { resident: [x, z, ...outs.slice(0, 5), ...params].map((t) => isResident(storage(t))), values: await Promise.all([...outs, ...params].map(async (t) => (await t.data()) as Float32Array)) };
    };
    setWasmFma(false);
    gb.setNumThreads(1);
    setResidentStorage("off");
    const want = await run();
    expect(want.resident.every((r) => !r)).toBe(true);
    setUnfilledPoison(true);
    for (const threads of [1, 2]) {
      gb.setNumThreads(threads);
      setResidentStorage("always");
      const got = await run();
      expect(got.resident, `every array resident, ${threads} threads`).toEqual(got.resident.map(() => true));
      got.values.forEach((v, k) => same(v, want.values[k], `output ${k}, ${threads} threads`));
    }
  });

  it("GEMM reads resident operands and writes a resident C where they lie: the bits of ordinary arrays (transposes, offsets, C beside or over A)", () => {
    setResidentStorage("always");
    setUnfilledPoison(true);
    // [transA, transB, M, N, K]: C in place (N a multiple of 8, or 4 past one: the last panel by
    // half-width tiles, B read in place), one with a last panel past N (C copied out; B read in
    // place not past its end), several k blocks, several column blocks, one GEMM on the threads
    const shapes: [boolean, boolean, number, number, number][] = [
      [false, false, 96, 64, 120], [true, false, 84, 120, 256], [false, true, 256, 80, 400], [true, true, 40, 88, 300],
      [false, false, 256, 84, 120], [false, false, 256, 84, 10], [true, false, 120, 10, 256], [false, false, 160, 256, 160], [false, false, 40, 528, 24],
      [false, false, 64, 1028, 20],
    ];
    const resident = (a: Float32Array) => {
      const r = allocResident(a.length)!;
      r.set(a);
      return r;
    };
    for (const threads of [1, 2]) {
      gb.setNumThreads(threads);
      for (const [ta, tb, M, N, K] of shapes) {
        const what = `${ta ? "A^T" : "A"} ${tb ? "B^T" : "B"} ${M}x${N}x${K}, ${threads} threads`;
        // A and B at an offset into their arrays; C alone, or after A in one block
        const a = rand(M * K + 5, M), b = rand(K * N + 3, N);
        const want = new Float32Array(M * N);
        gemm(ta, tb, M, N, K, 1, a, 5, ta ? M : K, b, 3, tb ? K : N, 0, want, 0, N);
        const ra = resident(a), rb = resident(b), rc = allocResident(M * N)!;
        expect(isResident(ra) && isResident(rc)).toBe(true);
        gemm(ta, tb, M, N, K, 1, ra, 5, ta ? M : K, rb, 3, tb ? K : N, 0, rc, 0, N);
        same(rc, want, `${what}, resident A, B and C`);
        const ab = resident(Float32Array.from([...a, ...new Float32Array(M * N)]));
        gemm(ta, tb, M, N, K, 1, ab, 5, ta ? M : K, rb, 3, tb ? K : N, 0, ab, a.length, N);
        same(ab.subarray(a.length), want, `${what}, C in A's block`);
        same(ab.subarray(0, a.length), a, `${what}, A beside C`);
        // C over A's own elements: A is read (copied) before C is written, as with ordinary arrays
        const over = resident(Float32Array.from([...a, ...new Float32Array(M * N)]));
        gemm(ta, tb, M, N, K, 1, over, 5, ta ? M : K, rb, 3, tb ? K : N, 0, over, 5, N);
        same(over.subarray(5, 5 + M * N), want, `${what}, C over A`);
        for (const r of [ra, rb, rc, ab, over]) freeResident(r);
      }
    }
  });

  it("max pooling in place: resident values and indices; the gradient on the threads with the bits of one thread and of the TypeScript scatter, also with an index outside its block (a task's flag)", () => {
    setResidentStorage("always");
    setUnfilledPoison(true);
    const p = { kernel: [2, 2] as [number, number], stride: [2, 2] as [number, number], padding: [0, 0] as [number, number], dilation: [1, 1] as [number, number], ceilMode: false };
    const resident = (a: Float32Array) => {
      const r = allocResident(a.length)!;
      r.set(a);
      return r;
    };
    for (const shape of [[64, 6, 28, 28], [16, 6, 29, 27]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = rand(n, 81);
      gb.setNumThreads(1);
      const r = maxPool2dForward(resident(x), shape, p), plain = maxPool2dForward(x, shape, p);
      expect(isResident(r.out) && isResident(r.indices), `${shape}: resident results`).toBe(true);
      same(r.out, plain.out, `${shape}: values in place`);
      expect(Array.from(r.indices), `${shape}: indices in place`).toEqual(Array.from(plain.indices));
      const dy = resident(rand(r.out.length, 82)), z = resident(rand(n, 83));
      const bad = allocResident(r.indices.length, true) as Int32Array;
      bad.set(r.indices);
      bad[Math.floor(bad.length / 2) + 1] = 0; // another window's index (not its block: a plane's second output), in a middle task
      for (const [idx, what] of [[r.indices, "indices"], [bad, "an index outside its block"]] as const) {
        gb.setNumThreads(1);
        const one = [maxPool2dBackward(dy, idx, r.shape, shape), maxPool2dReluBackward(dy, idx, r.shape, z, shape)];
        setWasmMode("js");
        const scatter = maxPool2dBackward(dy, idx, r.shape, shape);
        setWasmMode("auto");
        gb.setNumThreads(2);
        setMinWorkScale(0);
        const tasks = threadStats().tasks;
        const two = [maxPool2dBackward(dy, idx, r.shape, shape), maxPool2dReluBackward(dy, idx, r.shape, z, shape)];
        expect(threadStats().tasks, `${shape}, ${what}: on the threads`).toBeGreaterThan(tasks);
        setMinWorkScale(1);
        same(two[0]!, one[0]!, `${shape}, ${what}: 2 threads against 1`);
        same(two[0]!, scatter, `${shape}, ${what}: against the TypeScript scatter`);
        if (one[1] === null) expect(two[1], `${shape}, ${what}: relu fused`).toBeNull();
        else same(two[1]!, one[1], `${shape}, ${what}: with the relu, 2 threads against 1`);
      }
      expect(maxPool2dReluBackward(dy, bad, r.shape, z, shape), `${shape}: relu fused, an index outside its block`).toBeNull();
    }
  });

  it("unfilled results from the WASM memory come poisoned (tests catch an element an op leaves unwritten)", () => {
    setResidentStorage("always");
    setUnfilledPoison(true);
    const x = gb.tensor(rand(1 << 15, 2));
    const y = x.mul(2);
    expect(isResident(storage(y))).toBe(true);
    same(y.dataSync(), Array.from(x.dataSync(), (v) => Math.fround(v * 2)), "x * 2");
  });

  it("gb.tidy(): training steps give the same bits, the memory stays flat, kept and returned tensors survive", async () => {
    const train = async (tidy: boolean) => {
      gb.manualSeed(3);
      const model = new gb.nn.Sequential(
        new gb.nn.Conv2d(1, 6, 5, { padding: 2 }), new gb.nn.Tanh(), new gb.nn.AvgPool2d(2),
        new gb.nn.Flatten(), new gb.nn.Linear(6 * 14 * 14, 10),
      );
      const opt = new gb.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
      const x = gb.rand([32, 1, 28, 28]), y = gb.randint(0, 10, [32]);
      const losses: number[] = [], tops: number[] = [];
      const step = async () => {
        opt.zeroGrad();
        const out = model.forward(x);
        const loss = gb.nn.functional.crossEntropy(out, y);
        await loss.backward();
        opt.step();
        return { loss: loss.dataSync()[0], out };
      };
      let last: gb.Tensor | null = null;
      for (let i = 0; i < 8; i++) {
        const r = tidy ? await gb.tidy(step) : await step();
        losses.push(r.loss);
        last = r.out;
        tops.push(residentStats().top);
      }
      return { losses, params: model.parameters().map((p) => p.dataSync()), tops, last: last!.dataSync() };
    };
    setResidentStorage("off");
    const plain = await train(false);
    setResidentStorage("tidy");
    const before = residentStats().liveBytes;
    const tidied = await train(true);
    same(tidied.losses, plain.losses, "losses");
    tidied.params.forEach((p, k) => same(p, plain.params[k], `parameter ${k}`));
    same(tidied.last, plain.last, "the output the scope returned");
    // every step's blocks come back: the memory's top is the same after the second step as after the last
    expect(tidied.tops[7]).toBe(tidied.tops[1]);
    expect(tidied.tops[1]).toBeGreaterThan(0);
    // what stays: the momentum buffers (keep()) and the returned outputs of the last step, nothing per step
    expect(residentStats().liveBytes - before).toBeLessThan(2 * (6 * 14 * 14 * 10 * 4 + 32 * 10 * 4) + (1 << 16));
  });

  it("the default on Node: every large result resident, and a training loop without tidy() stays bounded: the blocks of arrays gone are reclaimed, the same bits, tensors kept from early steps intact", async () => {
    // a loop as a PyTorch user writes it: nothing disposed, nothing in a scope; the user keeps an
    // output from an early step and a tensor made outside the loop
    const train = async (steps: number) => {
      gb.manualSeed(5);
      const conv = new gb.nn.Conv2d(1, 6, 5, { padding: 2 });
      const head = new gb.nn.Sequential(new gb.nn.ReLU(), new gb.nn.MaxPool2d(2), new gb.nn.Flatten(), new gb.nn.Linear(6 * 14 * 14, 10));
      const model = new gb.nn.Sequential(conv, head);
      const opt = new gb.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
      const x = gb.rand([32, 1, 28, 28]).mul(1), y = gb.randint(0, 10, [32]);
      const losses: number[] = [], tops: number[] = [];
      let early: gb.Tensor | null = null, earlyValues: number[] = [];
      for (let i = 0; i < steps; i++) {
        opt.zeroGrad();
        const h = conv.forward(x);
        const loss = gb.nn.functional.crossEntropy(head.forward(h), y);
        await loss.backward();
        opt.step();
        losses.push(await loss.item());
        if (i === 2) {
          early = h;
          earlyValues = Array.from(h.dataSync());
        }
        tops.push(residentStats().top);
      }
      return { losses, tops, x, early: early!, earlyValues, params: model.parameters().map((p) => Array.from(p.dataSync())) };
    };
    setResidentStorage("off");
    const plain = await train(40);
    setResidentStorage("auto");
    expect(residentStorage()).toBe("always");
    setUnfilledPoison(true); // (a block reused while something still reads it would show as NaN)
    setResidentHeadroom(1 << 20); // (a reclaim every step or two: the adaptive headroom starts at 64 MiB)
    const s0 = residentStats();
    const got = await train(40);
    const s1 = residentStats();
    expect(isResident(storage(got.x)) && isResident(storage(got.early))).toBe(true);
    same(got.losses, plain.losses, "losses");
    got.params.forEach((p, k) => same(p, plain.params[k], `parameter ${k}`));
    // reclaimed many times, by forced collections, and the area stopped growing after the first steps
    expect(s1.gcs - s0.gcs).toBeGreaterThan(10);
    expect(got.tops[39]).toBeLessThanOrEqual(Math.max(...got.tops.slice(0, 10)));
    // what the user kept reads its values: the early output and the input made before the loop
    same(got.early.dataSync(), got.earlyValues, "the activation kept from step 3");
    same(got.x.dataSync(), plain.x.dataSync(), "the input");
  });

  it("harvests: after a full collection of V8's own, the next safe points free the blocks of the arrays it found dead, without a forced collection; with harvests off they stay until a reclaim", () => {
    setResidentStorage("always");
    setResidentHeadroom(1 << 30); // (no reclaim in this test)
    const x = gb.tensor(rand(1 << 16, 90));
    const churn = (steps: number) => {
      for (let i = 0; i < steps; i++) x.mul(i).tanh(); // (two 256 KiB results a step, dropped)
    };
    for (const harvest of [0, 1 << 20]) {
      setResidentHarvest(harvest);
      churn(8);
      const s0 = residentStats();
      expect(collectResidentGarbage()).toBe(true);
      churn(8); // (4 MiB of blocks made: safe points past the harvest mark)
      const s1 = residentStats();
      expect(s1.gcs).toBe(s0.gcs);
      if (harvest === 0) {
        expect(s1.harvests).toBe(s0.harvests);
        expect(s1.liveBytes - s0.liveBytes).toBe(16 * 4 * (1 << 16));
      } else {
        expect(s1.harvests).toBeGreaterThan(s0.harvests);
        // the 8 steps' blocks from before the collection came back (and those since, up to the last harvest)
        expect(s1.liveBytes).toBeLessThan(s0.liveBytes - 8 * 4 * (1 << 16));
      }
    }
  });

  it("a tensor freed by gb.tidy() or dispose() is a clear error; dispose() frees a block after its last tensor", async () => {
    setResidentStorage("tidy");
    let leaked: gb.Tensor | null = null;
    const kept = gb.tidy(() => {
      const x = gb.tensor(rand(1 << 15, 3));
      leaked = x.tanh();
      return x.exp();
    });
    expect(() => leaked!.dataSync()).toThrow(/was used after it was freed \(by dispose\(\) or at the end of the gb\.tidy\(\) scope/);
    expect(kept.dataSync().length).toBe(1 << 15);
    setResidentStorage("always");
    const a = gb.tensor(rand(1 << 15, 4)).mul(3);
    const v = a.reshape([1 << 10, 1 << 5]); // shares a's storage
    const blocks = residentStats().blocks;
    a.dispose();
    expect(residentStats().blocks).toBe(blocks); // v still reads it
    same(v.dataSync(), Array.from(gb.tensor(rand(1 << 15, 4)).dataSync(), (e) => Math.fround(e * 3)), "the view after the first tensor's dispose");
    v.dispose();
    expect(residentStats().blocks).toBe(blocks - 1);
    expect(() => v.add(1)).toThrow(/was used after it was freed/);
  });

  it("the tensor area's top comes back down as the blocks at its end are freed, in any order (what memoryStats() and the kernel's guard count)", () => {
    setResidentStorage("always");
    const s0 = residentStats();
    // (larger than any free block below: from the top)
    const n = Math.max((1 << 15) + 7, s0.largestFree / 4 + 16);
    const ts = [0, 1, 2, 3, 4, 5].map((k) => gb.tensor(rand(n, 80 + k)).mul(1));
    expect(ts.every((t) => isResident(storage(t)))).toBe(true);
    expect(residentStats().top - s0.top).toBeGreaterThanOrEqual(6 * n * 4);
    for (const k of [2, 0, 4, 1, 5]) ts[k].dispose();
    expect(residentStats().top - s0.top).toBeGreaterThanOrEqual(4 * n * 4); // (the fourth still lies above the others)
    ts[3].dispose();
    // the blocks merged back into what was free before, and the top came down
    const s1 = residentStats();
    expect([s1.top, s1.freeBytes, s1.freeBlocks]).toEqual([s0.top, s0.freeBytes, s0.freeBlocks]);
  });

  it("the allocator: best fit, split, and free blocks merged with their free neighbours; blocks of other sizes reuse the memory freed (evaluation after training), the area does not grow", () => {
    setResidentStorage("always");
    const s0 = residentStats();
    const unit = Math.max(1 << 16, Math.ceil((s0.largestFree + 64) / 256) * 256); // (bytes; more than any free block: blocks from the top)
    const alloc = (bytes: number) => allocResident(bytes / 4)!;
    const offs = (as: Float32Array[]) => as.map((a) => a.byteOffset);
    // five blocks side by side, and one above them (so that they do not end at the top)
    const [a, b, c, d, e, above] = [1, 2, 1, 3, 1, 1].map((k) => alloc(k * unit));
    expect(offs([b, c, d, e, above])).toEqual([1, 3, 4, 7, 8].map((k) => a.byteOffset + k * unit));
    const top = residentStats().top;
    // best fit: with blocks of 2 and 3 units free, 1.5 units go into the 2 (split: its last half stays free)
    freeResident(b);
    freeResident(d);
    const f = alloc(1.5 * unit);
    expect(f.byteOffset).toBe(b.byteOffset);
    expect(residentStats().freeBytes - s0.freeBytes).toBe(3.5 * unit);
    // merged: a, c and e freed around the rest of b and d make one block of a..e less f, reused whole
    freeResident(f);
    for (const x of [a, e, c]) freeResident(x);
    const s1 = residentStats();
    expect(s1.freeBlocks - s0.freeBlocks).toBe(1);
    expect(s1.freeBytes - s0.freeBytes).toBe(8 * unit);
    expect(s1.largestFree).toBe(8 * unit);
    const g = alloc(8 * unit);
    expect(g.byteOffset).toBe(a.byteOffset);
    expect(residentStats().top).toBe(top);
    freeResident(g);
    // a training loop's sizes, then an evaluation's of other sizes: these take the memory those freed
    const train = Array.from({ length: 12 }, (_, k) => alloc((k % 3 + 1) * (unit / 4)));
    for (const x of train) freeResident(x);
    const evalBlocks = Array.from({ length: 5 }, () => alloc(1.25 * unit));
    expect(residentStats().top).toBe(top);
    expect(evalBlocks.every((x) => x.byteOffset >= a.byteOffset && x.byteOffset + x.byteLength <= above.byteOffset)).toBe(true);
    for (const x of [...evalBlocks, above]) freeResident(x);
    // all back: what was free before, the top where it was
    const s2 = residentStats();
    expect([s2.top, s2.freeBytes, s2.freeBlocks]).toEqual([s0.top, s0.freeBytes, s0.freeBlocks]);
  });

  it("memoryStats() counts the storage (in use, tensors); past the limit and over 32 MiB results are ordinary arrays; emptyCache() drops an unused memory", () => {
    setResidentStorage("always");
    const pool = () => gb.memoryStats().pools.find((p) => p.name === "CPU tensor storage in the WASM memory")!;
    const x = gb.tensor(rand(1 << 15, 5)).tanh();
    expect(pool().inUse).toBeGreaterThanOrEqual(x.numel() * 4);
    expect(pool().tensors).toBeGreaterThanOrEqual(1);
    expect(gb.memoryStats().cpuPoolBytes).toBeGreaterThanOrEqual(pool().bytes);
    setResidentLimit(residentStats().liveBytes);
    const y = x.exp();
    expect(isResident(storage(y))).toBe(false);
    same(y.dataSync(), gb.tensor(x.dataSync()).exp().dataSync(), "exp past the limit");
    setResidentLimit(null);
    // results over 32 MiB stay ordinary arrays (the system gets them back when they are freed)
    const big = gb.zeros([(8 << 20) + 16]).add(1);
    expect(isResident(storage(big))).toBe(false);
    expect(isResident(storage(gb.zeros([8 << 20]).add(1)))).toBe(true);
    x.dispose();
    setResidentStorage("off");
    gb.emptyCache(); // (dropped only if no block is live: others of this file may still be)
    if (residentStats().blocks === 0) expect(pool().bytes).toBe(0);
  });
});
