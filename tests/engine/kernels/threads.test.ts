// Worker threads for the CPU kernels (wasm/threads.ts, gb.setNumThreads): results with 2 and 4
// threads are bit-identical to one thread (GEMM with odd sizes, transposes and batches; conv2d
// forward and both gradients with strides, padding, dilation and groups; max pooling; large
// element-wise ops and activation gradients, on every branch and special value), and still match
// PyTorch (the kernels' reference.json and every case of the ops' reference.json, run with every
// job that can be split sent to the threads). Also: the workers really compute (the calling thread
// can be told to leave them every task), GB_NUM_THREADS, process exit, and an interrupted threaded op.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as gb from "../../../engine/index.ts";
import {
  conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dOutputSize, wasmInfo, gemm, gemmReference, gemmWasm,
  getNumThreads, maxPool2dBackward, maxPool2dForward, setWasmMode, setNumThreads, type Conv2dParams, type Pool2dParams,
} from "../../../engine/backends/cpu/kernels/index.ts";
import { poolInfo, reusedTasks, runTasks, setCallerTakesTasks, setMinWorkScale, setThreadNap, TaskList, threadStats, threadsSupported } from "../../../engine/backends/cpu/wasm/threads.ts";
import { ensureMemory, serialWasmInstance, setWasmFma, wasmInstance } from "../../../engine/backends/cpu/wasm/runtime.ts";
import { HEAP_BASE, residentStorage, setResidentStorage } from "../../../engine/backends/cpu/wasm/heap.ts";
import { checkAgainstReference, reference as opsRef } from "../ops/cases.ts";
import { rand } from "./xorshift.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ref: any = JSON.parse(readFileSync(new URL("./reference.json", import.meta.url), "utf8"));
const f32 = (a: number[]) => Float32Array.from(a);
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));


/** Same bits (NaN payloads aside), element by element. */
function expectSame(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) expect.fail(`${what}: element ${i} is ${got[i]} with threads, ${want[i]} with one thread`);
  }
}

/** |got - want| <= atol * sqrt(sumLen) + 1e-5 |want| (as kernels.test.ts). */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, sumLen = 1): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const atol = 3e-5 * Math.max(1, Math.sqrt(sumLen));
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= atol + 1e-5 * Math.abs(want[i]))) expect.fail(`${what}: element ${i} is ${got[i]}, PyTorch has ${want[i]}`);
  }
}

/** fn's outputs with one thread, then with each of `counts` threads: all bit-identical. */
function sameForThreadCounts(what: string, fn: () => ArrayLike<number>[], counts = [2, 4]): ArrayLike<number>[] {
  setNumThreads(1);
  const one = fn();
  for (const n of counts) {
    setNumThreads(n);
    const many = fn();
    expect(many.length).toBe(one.length);
    many.forEach((m, k) => expectSame(m, one[k], `${what} (output ${k}, ${n} threads)`));
  }
  return one;
}

const convParams = (c: { stride: number[]; padding: number[]; dilation: number[]; groups: number }): Conv2dParams => ({
  stride: c.stride as [number, number], padding: c.padding as [number, number], dilation: c.dilation as [number, number], groups: c.groups,
});

const initial = getNumThreads();
beforeAll(() => {
  expect(threadsSupported(), "worker threads and SharedArrayBuffer in Node").toBe(true);
});
afterEach(() => {
  setNumThreads(initial);
  setMinWorkScale(1);
  setCallerTakesTasks(true);
  setWasmMode("auto");
});
afterAll(() => setNumThreads(initial));

describe("gb.setNumThreads / gb.getNumThreads", () => {
  it("default to the machine's parallelism capped at 8, and validate", () => {
    expect(gb.getNumThreads).toBe(getNumThreads);
    expect(gb.setNumThreads).toBe(setNumThreads);
    expect(initial).toBeGreaterThanOrEqual(1);
    expect(initial).toBeLessThanOrEqual(8);
    gb.setNumThreads(3);
    expect(gb.getNumThreads()).toBe(3);
    expect(wasmInfo().threads).toBe(3);
    for (const bad of [0, -1, 1.5, NaN]) expect(() => gb.setNumThreads(bad)).toThrow(/setNumThreads.*positive integer/);
  });

  it("GB_NUM_THREADS sets the default; workers let the process exit", () => {
    const script = `
      import * as gb from ${JSON.stringify(`${ROOT}dist/gradbook.js`)};
      const before = gb.getNumThreads();
      gb.setNumThreads(2);
      const a = gb.randn([300, 300]), b = gb.randn([300, 300]);
      a.matmul(b).dataSync();
      console.log(JSON.stringify({ before, after: gb.getNumThreads() }));`;
    for (const env of ["1", "5"]) {
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        encoding: "utf8", timeout: 60_000, env: { ...process.env, GB_NUM_THREADS: env },
      });
      expect(r.status, r.stderr).toBe(0); // exits by itself (workers are unref'd), not killed by the timeout
      expect(JSON.parse(r.stdout.trim())).toEqual({ before: Number(env), after: 2 });
    }
  });
});

describe("GEMM", () => {
  it("bit-identical for 1, 2 and 4 threads: odd sizes, transposes, strides, alpha/beta", () => {
    const shapes: [number, number, number][] = [
      [1024, 1024, 1024], [513, 129, 300], [77, 1030, 999], [256, 120, 400], [130, 520, 260], [7, 9, 5000], [1, 2000, 300], [300, 1, 900],
    ];
    shapes.forEach(([M, N, K], t) => {
      const tA = (t & 1) === 1, tB = (t & 2) === 2;
      const lda = (tA ? M : K) + (t % 3), ldb = (tB ? K : N) + (t % 2), ldc = N + (t % 4);
      const A = rand(lda * (tA ? K : M) + 3, t + 1), B = rand(ldb * (tB ? N : K) + 2, t + 50);
      const C0 = rand(ldc * M + 1, t + 99);
      const alpha = t % 3 === 0 ? 1 : 0.5, beta = [0, 1, -0.25][t % 3];
      const run = () => {
        const C = C0.slice();
        gemm(tA, tB, M, N, K, alpha, A, 3, lda, B, 2, ldb, beta, C, 1, ldc);
        return [C];
      };
      sameForThreadCounts(`gemm ${M}x${N}x${K} tA=${tA} tB=${tB}`, run);
      setMinWorkScale(0); // the small ones on the threads too
      sameForThreadCounts(`gemm ${M}x${N}x${K} tA=${tA} tB=${tB}, all threaded`, run, [3]);
      setMinWorkScale(1);
    });
  });

  it("operands read in place and C in its own layout (narrow, transposed): the same bits for 1 and 3 threads, close to the reference", () => {
    // LeNet-5's linear layers (x W^T, dY W, dY^T X at batch 256) and other widths that are not a
    // multiple of 8 (on one thread the panel past each row's end is computed first), one k block or
    // several; with C's rows contiguous, alpha 1 and beta 0 (else the block layout)
    const cases: [boolean, boolean, number, number, number][] = [];
    for (const [i, o] of [[400, 120], [120, 84], [84, 10]]) cases.push([false, true, 256, o, i], [false, false, 256, i, o], [true, false, o, i, 256]);
    cases.push([true, false, 37, 3, 700], [false, false, 100, 5, 90], [true, true, 13, 1027, 40], [false, false, 61, 1, 600], [true, false, 6, 8, 300]);
    cases.forEach(([tA, tB, M, N, K], t) => {
      const lda = tA ? M : K, ldb = tB ? K : N;
      const A = rand(lda * (tA ? K : M), t + 1), B = rand(ldb * (tB ? N : K), t + 30);
      const C0 = rand(M * N + 5, t + 60);
      const run = (beta: number) => () => {
        const C = C0.slice();
        gemm(tA, tB, M, N, K, 1, A, 0, lda, B, 0, ldb, beta, C, 0, N);
        return [C];
      };
      setMinWorkScale(0); // on the threads too
      const [C] = sameForThreadCounts(`gemm ${M}x${N}x${K} tA=${tA} tB=${tB}`, run(0), [3]);
      sameForThreadCounts(`gemm ${M}x${N}x${K} tA=${tA} tB=${tB}, beta 1`, run(1), [3]);
      setMinWorkScale(1);
      const want = C0.slice();
      gemmReference(tA, tB, M, N, K, 1, A, 0, lda, B, 0, ldb, 0, want, 0, N);
      expectClose(C, want, `gemm ${M}x${N}x${K} tA=${tA} tB=${tB} vs the reference`, K);
      for (let i = M * N; i < C.length; i++) expect(C[i]).toBe(C0[i]); // nothing written past C
    });
  });

  it("several column blocks and k blocks (the k blocks outside the row blocks, B packed by each task): the bits of column blocks computed one call each", () => {
    // N > 512 columns, M > 120 rows, K > 256 and a 512-column block of B over 512 KiB: the k blocks
    // go outside the row blocks (B packed late, a k block at a time, where N is a multiple of 8);
    // the same product by calls of at most 512 columns takes the row blocks' order: the same bits,
    // with the fused multiply-add and in the exact-bits mode
    const cases: [boolean, boolean, number, number, number, boolean][] = [
      [false, false, 300, 1040, 600, true], [false, true, 250, 1032, 520, true], [true, false, 130, 1030, 700, true], [true, true, 200, 1100, 300, true],
      [false, false, 300, 1040, 600, false], [false, true, 250, 1032, 520, false],
    ];
    try {
      cases.forEach(([tA, tB, M, N, K, fma], t) => {
        setWasmFma(fma);
        const lda = (tA ? M : K) + (t % 2), ldb = (tB ? K : N) + (t === 0 ? 0 : 3), ldc = N + (t % 3);
        const A = rand(lda * (tA ? K : M) + 5, t + 11), B = rand(ldb * (tB ? N : K) + 4, t + 40);
        const C0 = rand(ldc * M + 2, t + 70);
        const alpha = t === 0 ? 1 : 0.75, beta = t === 0 ? 0 : 0.5;
        const whole = () => {
          const C = C0.slice();
          gemm(tA, tB, M, N, K, alpha, A, 5, lda, B, 4, ldb, beta, C, 2, ldc);
          return [C];
        };
        const byBlocks = () => {
          const C = C0.slice();
          for (let j0 = 0; j0 < N; j0 += 512) {
            const nc = Math.min(512, N - j0);
            gemm(tA, tB, M, nc, K, alpha, A, 5, lda, B, 4 + (tB ? j0 * ldb : j0), ldb, beta, C, 2 + j0, ldc);
          }
          return [C];
        };
        const [C] = sameForThreadCounts(`gemm ${M}x${N}x${K} tA=${tA} tB=${tB} fma=${fma}`, whole, fma ? [2, 3] : [2]);
        expect(wasmInfo().fma, "the multiply-add mode in use").toBe(fma);
        const [D] = sameForThreadCounts(`gemm ${M}x${N}x${K} tA=${tA} tB=${tB} fma=${fma} by column blocks`, byBlocks, [2]);
        expectSame(C, D, `gemm ${M}x${N}x${K} tA=${tA} tB=${tB} fma=${fma}: one call against calls of 512 columns`);
        const want = C0.slice();
        gemmReference(tA, tB, M, N, K, alpha, A, 5, lda, B, 4, ldb, beta, want, 2, ldc);
        expectClose(C, want, `gemm ${M}x${N}x${K} tA=${tA} tB=${tB} fma=${fma} vs the reference`, K);
      });
    } finally {
      setWasmFma(true);
    }
  });

  it("matches PyTorch on the reference cases with every job on the threads", () => {
    setMinWorkScale(0);
    for (const n of [1, 4]) {
      setNumThreads(n);
      for (const c of ref.gemm) {
        const C = f32(c.C);
        gemmWasm(c.transA, c.transB, c.M, c.N, c.K, c.alpha, f32(c.A), c.aOff, c.lda, f32(c.B), c.bOff, c.ldb, c.beta, C, c.cOff, c.ldc);
        expectClose(C, c.out, `gemm ${n} threads tA=${c.transA} tB=${c.transB} ${c.M}x${c.N}x${c.K}`, c.K);
      }
    }
  });

  it("batched and broadcast matmul through the engine: bit-identical", () => {
    gb.manualSeed(3);
    const pairs: [number[], number[]][] = [[[4, 97, 131], [4, 131, 65]], [[3, 1, 200, 70], [5, 70, 150]], [[600, 333], [333, 257]]];
    for (const [as, bs] of pairs) {
      const a = gb.randn(as), b = gb.randn(bs);
      sameForThreadCounts(`matmul ${as} x ${bs}`, () => [a.matmul(b).dataSync(), a.matmul(b.transpose(-1, -2).contiguous().transpose(-1, -2)).dataSync()]);
    }
  });

  it("the workers' results are the ones checked (the calling thread takes no task)", () => {
    const M = 300, N = 280, K = 260;
    const A = rand(M * K, 1), B = rand(K * N, 2);
    const run = () => {
      const C = new Float32Array(M * N);
      gemm(false, true, M, N, K, 1, A, 0, K, B, 0, K, 0, C, 0, N);
      return [C];
    };
    setNumThreads(1);
    const one = run();
    setNumThreads(2);
    run(); // starts the worker
    setCallerTakesTasks(false);
    const before = poolInfo().workerTasks, s0 = threadStats();
    const two = run();
    expect(poolInfo().workerTasks).toBeGreaterThan(before);
    // threadStats: the job counted, the caller ran no task, the workers' time inside it counted
    const s1 = threadStats();
    expect(s1.jobs).toBeGreaterThan(s0.jobs);
    expect(s1.tasks - s0.tasks).toBeGreaterThanOrEqual(s1.jobs - s0.jobs);
    expect(s1.callerTaskMs - s0.callerTaskMs).toBeLessThan(0.5);
    expect((s1.workerTaskUs - s0.workerTaskUs) >>> 0).toBeGreaterThan(0);
    expectSame(two[0], one[0], "gemm computed by the worker");
  });
});

describe("a failure in a worker", () => {
  it("is thrown by the calling thread with the call and the worker's message, and the pool keeps working", () => {
    const w = wasmInstance()!;
    setNumThreads(2);
    setCallerTakesTasks(false);
    const bytes = w.memory.buffer.byteLength;
    // copy2d(src, srcPitch, srcBatch, dst, dstPitch, dstBatch, batches, rows, cols) reading far past the memory's end
    const list = new TaskList();
    list.task().call("copy2d", 0x7ff00000, 16, 16, 0, 16, 16, 1, 1, 4);
    list.task().call("copy2d", 0x7ff00000, 16, 16, 0, 16, 16, 1, 1, 4);
    const free = Math.min(bytes, HEAP_BASE) - 4096; // (scratch ends where resident tensor storage starts)
    expect(() => runTasks(w, list, free, (n) => ensureMemory(w, n))).toThrow(/a WASM call failed in a worker thread \(2 threads, memory \d+ bytes\): copy2d\(2146435072, 16, 16, 0, 16, 16, 1, 1, 4, 0\): RuntimeError: memory access out of bounds/);
    // the next job runs (on the worker) as usual
    setCallerTakesTasks(true);
    const A = rand(64 * 64, 7), B = rand(64 * 64, 8);
    setNumThreads(1);
    const one = new Float32Array(64 * 64);
    gemm(false, false, 64, 64, 64, 1, A, 0, 64, B, 0, 64, 0, one, 0, 64);
    setNumThreads(2);
    setMinWorkScale(0);
    const two = new Float32Array(64 * 64);
    gemm(false, false, 64, 64, 64, 1, A, 0, 64, B, 0, 64, 0, two, 0, 64);
    expectSame(two, one, "gemm after the failed job");
  });
});

describe("conv2d", () => {
  const configs: [string, number[], number[], Conv2dParams][] = [
    ["LeNet conv1", [64, 1, 28, 28], [6, 1, 5, 5], { stride: [1, 1], padding: [2, 2], dilation: [1, 1], groups: 1 }],
    ["LeNet conv2", [64, 6, 14, 14], [16, 6, 5, 5], { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }],
    ["transposed weight-gradient tiles over padded rows, groups", [11, 6, 13, 11], [14, 3, 3, 3], { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 2 }],
    ["one image, groups, dilation", [1, 8, 40, 37], [12, 4, 3, 3], { stride: [1, 1], padding: [1, 2], dilation: [2, 1], groups: 2 }],
    ["odd sizes, 3x3 pad 1", [3, 16, 33, 31], [32, 16, 3, 3], { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 }],
    ["stride 2, 7x7", [8, 3, 64, 64], [16, 3, 7, 7], { stride: [2, 2], padding: [3, 3], dilation: [1, 1], groups: 1 }],
    ["stride (3, 2), groups 3", [5, 6, 45, 38], [9, 2, 3, 4], { stride: [3, 2], padding: [1, 2], dilation: [1, 2], groups: 3 }],
    ["weights too big for the implicit path", [2, 64, 17, 15], [96, 64, 5, 5], { stride: [1, 1], padding: [2, 2], dilation: [1, 1], groups: 1 }],
    ["image too big for the implicit path", [1, 3, 260, 250], [4, 3, 3, 3], { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 }],
    ["pointwise", [4, 32, 20, 20], [48, 32, 1, 1], { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }],
  ];
  for (const [name, xs, ws, p] of configs) {
    it(`forward, input and weight gradients bit-identical: ${name}`, () => {
      const ys = conv2dOutputSize(xs, ws, p);
      const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const x = rand(size(xs), 1), w = rand(size(ws), 2), bias = rand(ws[0], 3), dy = rand(size(ys), 4);
      sameForThreadCounts(name, () => [
        conv2dForward(x, xs, w, ws, bias, p),
        conv2dBackwardInput(dy, ys, w, ws, xs, p),
        conv2dBackwardWeight(x, xs, dy, ys, ws, p),
      ]);
      // the same with every job on the threads, and with the workers doing all of it
      setMinWorkScale(0);
      sameForThreadCounts(`${name}, all jobs threaded`, () => [
        conv2dForward(x, xs, w, ws, bias, p),
        conv2dBackwardInput(dy, ys, w, ws, xs, p),
        conv2dBackwardWeight(x, xs, dy, ys, ws, p),
      ], [3]);
      setNumThreads(2);
      setCallerTakesTasks(false);
      const before = poolInfo().workerTasks;
      setNumThreads(1);
      const one = [conv2dForward(x, xs, w, ws, bias, p), conv2dBackwardInput(dy, ys, w, ws, xs, p), conv2dBackwardWeight(x, xs, dy, ys, ws, p)];
      setNumThreads(2);
      const two = [conv2dForward(x, xs, w, ws, bias, p), conv2dBackwardInput(dy, ys, w, ws, xs, p), conv2dBackwardWeight(x, xs, dy, ys, ws, p)];
      two.forEach((t, k) => expectSame(t, one[k], `${name}, computed by the worker (output ${k})`));
      expect(poolInfo().workerTasks).toBeGreaterThan(before);
    });
  }

  it("matches PyTorch on the reference cases with every job on the threads", () => {
    setMinWorkScale(0);
    setNumThreads(4);
    for (const c of ref.conv) {
      const p = convParams(c);
      const [N, , OH, OW] = conv2dOutputSize(c.xShape, c.wShape, p);
      const x = f32(c.x), w = f32(c.w), dy = f32(c.dy);
      const kLen = c.wShape[1] * c.wShape[2] * c.wShape[3];
      expectClose(conv2dForward(x, c.xShape, w, c.wShape, c.b ? f32(c.b) : null, p), c.y, `${c.name} forward`, kLen);
      expectClose(conv2dBackwardInput(dy, c.yShape, w, c.wShape, c.xShape, p), c.dx, `${c.name} dx`, (c.wShape[0] / c.groups) * c.wShape[2] * c.wShape[3]);
      expectClose(conv2dBackwardWeight(x, c.xShape, dy, c.yShape, c.wShape, p), c.dw, `${c.name} dw`, N * OH * OW);
    }
  });

  it("jobs back to back with other scratch areas, every task on the workers: bit-identical (a worker never runs a task with the last job's settings)", () => {
    // the forward, input gradient and weight gradient alternate their jobs' scratch areas; with the
    // caller taking no tasks, a worker that finishes a job's last task claims again at once
    const xs = [16, 3, 20, 20], ws = [8, 3, 5, 5];
    const p: Conv2dParams = { stride: [1, 1], padding: [2, 2], dilation: [1, 1], groups: 1 };
    const ys = conv2dOutputSize(xs, ws, p);
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    const x = rand(size(xs), 31), w = rand(size(ws), 32), dy = rand(size(ys), 33);
    const run = () => [conv2dForward(x, xs, w, ws, null, p), conv2dBackwardInput(dy, ys, w, ws, xs, p), conv2dBackwardWeight(x, xs, dy, ys, ws, p)];
    setNumThreads(1);
    const one = run();
    setNumThreads(3);
    setMinWorkScale(0);
    setCallerTakesTasks(false);
    for (let r = 0; r < 30; r++) run().forEach((t, k) => expectSame(t, one[k], `round ${r}, output ${k}`));
  });
});

describe("sleeping workers", () => {
  /** A 200^3 GEMM (every job on the threads from now on, 2 threads) and its one-thread result. */
  const gemmJob = (seed: number) => {
    const M = 200, N = 200, K = 200;
    const A = rand(M * K, seed), B = rand(K * N, seed + 1);
    const run = () => {
      const C = new Float32Array(M * N);
      gemm(false, false, M, N, K, 1, A, 0, K, B, 0, N, 0, C, 0, N);
      return C;
    };
    setNumThreads(1);
    const one = run();
    setNumThreads(2);
    setMinWorkScale(0);
    return { run, one };
  };

  it("a job after the workers fell asleep wakes them (a notify a sleep, no more), with the calling thread taking no task", async () => {
    const { run, one } = gemmJob(3);
    run(); // starts the worker
    setCallerTakesTasks(false);
    const start = threadStats();
    for (let r = 0; r < 4; r++) {
      // idle far longer than the workers poll (at most 100 us): they sleep
      await new Promise((res) => setTimeout(res, 20));
      const s1 = threadStats();
      expectSame(run(), one, `round ${r}`); // would hang if the worker were not woken
      const s2 = threadStats();
      // a notify only for a sleep: asking again before the woken worker runs costs no system call
      expect(s2.notifies - s1.notifies, "notifies").toBeLessThanOrEqual(s2.workerSleeps - s1.workerSleeps + 1);
    }
    expect(threadStats().workerSleeps).toBeGreaterThanOrEqual(start.workerSleeps + 4);
  });

  it("with naps on (setThreadNap), idle workers take timed waits and pick up the next job without a notify", async () => {
    const { run, one } = gemmJob(5);
    setThreadNap(50, 10_000_000); // (a limit no pause here reaches)
    try {
      run();
      run(); // the worker has started and napped since
      setCallerTakesTasks(false);
      const s0 = threadStats();
      for (let r = 0; r < 4; r++) {
        await new Promise((res) => setTimeout(res, 5)); // far past the workers' polling
        expectSame(run(), one, `round ${r}`); // would hang if the napping worker missed the job
      }
      const s1 = threadStats();
      expect(s1.workerNaps - s0.workerNaps, "naps").toBeGreaterThan(0);
      expect(s1.notifies - s0.notifies, "notifies").toBe(0);
      expect(s1.workerSleeps - s0.workerSleeps, "sleeps until notified").toBe(0);
    } finally {
      setThreadNap(0);
    }
  });
});

describe("a job limited to the threads its kernel laid out for", () => {
  it("maxThreads 1 on the shared instance at 2 threads: every task on the calling thread, no worker woken or let in", () => {
    const w = wasmInstance()!;
    setNumThreads(2);
    setMinWorkScale(0);
    const A = rand(64 * 64, 9), B = rand(64 * 64, 10);
    gemm(false, false, 64, 64, 64, 1, A, 0, 64, B, 0, 64, 0, new Float32Array(64 * 64), 0, 64); // starts the worker
    expect(w.shared).toBe(true);
    setCallerTakesTasks(false); // (a job the workers may enter would go to them entirely)
    // 16 tasks, each copying its own 64 floats from [0, 1024) to [2048, 3072)
    const mem = ensureMemory(w, 1 << 16);
    const src = rand(1024, 11);
    mem.set(src, 0);
    mem.fill(0, 2048, 3072);
    const list = new TaskList();
    for (let t = 0; t < 16; t++) list.task().call("copy2d", t * 256, 0, 0, (2048 + t * 64) * 4, 0, 0, 1, 1, 64);
    const before = poolInfo().workerTasks, s0 = threadStats();
    runTasks(w, list, 16384, (n) => ensureMemory(w, n), undefined, 1);
    expectSame(w.f32.subarray(2048, 3072), src, "the copies");
    expect(poolInfo().workerTasks - before, "tasks the worker ran").toBe(0);
    expect(threadStats().jobs - s0.jobs, "threaded jobs").toBe(0);
    expect(threadStats().notifies - s0.notifies, "notifies").toBe(0);
  });
});

describe("reusedTasks", () => {
  it("a kept list moved to other bases has the records a fresh build makes; a list whose words move otherwise is built each time", () => {
    // records: fn, then arguments; a: byte address 4 * bases[0] + ..., b: 4 * bases[1] + ..., c: neither
    const build = (calls: { n: number }, bases: number[], list: TaskList) => {
      calls.n++;
      for (let t = 0; t < 3; t++) list.task().call("copy2d", (bases[0] + 16 * t) * 4, 64, 7, (bases[1] + 8 * t) * 4, 0, 0, 1, t + 1, 32);
    };
    const fresh = (bases: number[]) => {
      const l = new TaskList();
      build({ n: 0 }, bases, l);
      return l;
    };
    const calls = { n: 0 };
    const key = `test ${Math.random()}`;
    for (const bases of [[1000, 5000], [1000, 5000], [123456, 80], [3, 9_000_000]]) {
      const into = new TaskList();
      reusedTasks(key, bases, into, build.bind(null, calls));
      const want = fresh(bases);
      expect(into.size).toBe(want.size);
      expect(Array.from(into.starts)).toEqual(Array.from(want.starts));
      expect(Array.from(into.rec.subarray(0, into.size))).toEqual(Array.from(want.rec.subarray(0, want.size)));
      // (a list that took a kept one's records gets an array of its own when cleared and refilled)
      into.clear();
      into.task().call("copy2d", 1, 2, 3, 4, 5, 6, 7, 8, 9);
    }
    expect(calls.n, "builds: two for the first call (to find the moving words), none after").toBe(2);
    // an argument that is not an address of a base (here: twice bases[0]) is not moved: built each time
    const odd = { n: 0 };
    const buildOdd = (bases: number[], list: TaskList) => {
      odd.n++;
      list.task().call("copy2d", bases[0] * 8, 0, 0, bases[1] * 4, 0, 0, 1, 1, 4);
    };
    for (const bases of [[10, 20], [30, 40]]) {
      const into = new TaskList();
      reusedTasks(`odd ${Math.random()}`, bases, into, buildOdd);
      expect(Array.from(into.rec.subarray(1, 5))).toEqual([bases[0] * 8, 0, 0, bases[1] * 4]);
    }
    expect(odd.n).toBe(4);
  });
});

describe("the calling thread's kernels on a private memory", () => {
  // With threads on, the SIMD module's memory is shared, and V8 copies typed arrays into and out of
  // shared memory word by word (2.5x slower than into an ordinary one): the kernels that run on the
  // calling thread only (element-wise ops, pooling, row sums) take a second instance on a private
  // memory. Same functions, same bits.
  it("element-wise ops, pooling and sums at 2 threads: the private instance, bits of one thread and of the TypeScript loops", async () => {
    // (with resident storage, results of this size live in the shared memory and the kernels use
    // the shared instance: resident.test.ts; here they are ordinary arrays)
    const resident = residentStorage();
    setResidentStorage(false);
    const shape = [16, 6, 28, 28];
    const x = gb.tensor(rand(16 * 6 * 28 * 28, 41)).reshape(shape), g = gb.tensor(rand(16 * 6 * 28 * 28, 42)).reshape(shape);
    const run = async () => {
      const y = x.tanh();
      const outs = [y, gb.nn.functional.avgPool2d(x, 2), gb.nn.functional.maxPool2d(x, 2), g.sum([0, 2, 3]), x.mul(g), x.sigmoid()];
      const grads = await gb.autograd.grad([gb.nn.functional.avgPool2d(x.requiresGrad_(true).tanh(), 2).sum()], [x]);
      x.requiresGrad_(false);
      return Promise.all([...outs, ...grads].map((t) => t.data()));
    };
    setNumThreads(2);
    const shared = wasmInstance()!;
    expect(shared.shared).toBe(true);
    const priv = serialWasmInstance()!;
    expect(priv === shared).toBe(false); // (booleans: an instance in a failure message would print its 4 MiB memory)
    expect(priv.shared).toBe(false);
    expect(priv.memory.buffer instanceof SharedArrayBuffer).toBe(false);
    expect(priv.cfg === shared.cfg).toBe(true);
    const two = await run();
    expect(serialWasmInstance() === priv).toBe(true); // made once
    // memoryStats counts both memories (of the shared one, the scratch below resident storage)
    const pool = () => gb.memoryStats().pools.find((p) => p.name === "WASM memory of the CPU kernels")!.bytes;
    expect(pool()).toBeGreaterThanOrEqual(Math.min(shared.memory.buffer.byteLength, 4 << 20) + priv.memory.buffer.byteLength);
    expect(pool()).toBeLessThanOrEqual(Math.min(shared.memory.buffer.byteLength, HEAP_BASE) + priv.memory.buffer.byteLength);
    setNumThreads(1);
    const one = await run();
    setWasmMode("js");
    const loops = await run();
    two.forEach((t, k) => {
      expectSame(t, one[k], `output ${k}, 2 threads against 1`);
      expectSame(t, loops[k], `output ${k}, 2 threads against the TypeScript loops`);
    });
    setWasmMode("auto");
    gb.emptyCache();
    expect(serialWasmInstance() === priv).toBe(false); // dropped by emptyCache (a fresh one at first use)
    setResidentStorage(resident);
  });
});

describe("max_pool2d", () => {
  // Pooling stays on the calling thread (copying in and out of WASM memory costs more than the
  // pooling: a threaded version measured 0.88-0.98x), on a private memory when threads are on (see above).
  const pool: Pool2dParams = { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], ceilMode: false };
  it("values, indices and gradient bit-identical with threads on (2x2 SIMD path, odd widths, NaN)", () => {
    for (const xs of [[64, 6, 28, 28], [32, 16, 10, 10], [7, 5, 33, 19]]) {
      const x = rand(xs.reduce((a, b) => a * b, 1), 5);
      x[17] = NaN;
      x[1000] = -Infinity;
      sameForThreadCounts(`maxpool ${xs}`, () => {
        const r = maxPool2dForward(x, xs, pool);
        return [r.out, r.indices, maxPool2dBackward(r.out, r.indices, r.shape, xs)];
      });
    }
  });

  it("matches PyTorch on the reference cases with threads on", () => {
    setMinWorkScale(0);
    setNumThreads(4);
    for (const c of ref.maxPool) {
      const p: Pool2dParams = { kernel: c.kernel, stride: c.stride, padding: c.padding, dilation: c.dilation, ceilMode: c.ceilMode };
      const r = maxPool2dForward(f32(c.x), c.xShape, p);
      expectClose(r.out, c.y, `${c.name} forward`);
      expect(Array.from(r.indices), `${c.name} indices`).toEqual(c.indices);
      expectClose(maxPool2dBackward(f32(c.dy), r.indices, r.shape, c.xShape), c.dx, `${c.name} dx`, 4);
    }
  });
});

describe("element-wise ops", () => {
  // values that take every branch of expf / tanhf / sigmoidf, and any bit pattern (NaN, Inf, subnormals)
  function values(n: number, seed: number): Float32Array {
    const x = rand(n, seed), bits = new Uint32Array(x.buffer), r = rand(n, seed + 1);
    for (let i = 0; i < n; i++) {
      const k = i % 8;
      if (k === 0) bits[i] = Math.floor((r[i] + 1) * 2147483648) >>> 0;
      else x[i] *= [1, 0.6, 12, 120, 100, 3, 9.5, 1][k];
    }
    const special = [-0, 0, Infinity, -Infinity, NaN, 88.72283935546875, 88.7228, -103.97207708, -103.972, 0.5, -0.5, 9.1, -9.1, 1e-45, -1e-40, 3.4e38];
    special.forEach((v, i) => (x[i * 7 + 3] = v));
    return x;
  }
  it("exp, tanh, sigmoid and the binary ops on the threads equal the single-threaded loops bit for bit", () => {
    const n = 300_001; // not a multiple of 4
    const x = gb.tensor(values(n, 1)), y = gb.tensor(values(n, 2)), s = gb.tensor(values(1, 3)[0]);
    const run = () => [
      x.exp().dataSync(), x.tanh().dataSync(), x.sigmoid().dataSync(),
      x.add(y).dataSync(), x.sub(y).dataSync(), x.mul(y).dataSync(), x.div(y).dataSync(),
      x.mul(0.37).dataSync(), s.sub(x).dataSync(), x.div(s).dataSync(),
    ];
    const one = sameForThreadCounts("element-wise", run);
    // the TypeScript loops (no WASM at all): exp / tanh / sigmoid use WASM on one thread too
    setWasmMode("js");
    run().forEach((t, k) => expectSame(one[k], t, `element-wise op ${k}: one thread vs the TypeScript loop`));
  });

  it("the activations' gradients (tanh, sigmoid, relu) are bit-identical", async () => {
    const grads = async (f: (t: gb.Tensor) => gb.Tensor) => {
      const x = gb.tensor(values(200_003, 4), { requiresGrad: true });
      const w = gb.tensor(values(200_003, 5));
      await f(x).mul(w).sum().backward();
      return x.grad!.dataSync();
    };
    setNumThreads(1);
    const one = [await grads((t) => t.tanh()), await grads((t) => t.sigmoid()), await grads((t) => t.relu())];
    for (const n of [2, 4]) {
      setNumThreads(n);
      const many = [await grads((t) => t.tanh()), await grads((t) => t.sigmoid()), await grads((t) => t.relu())];
      many.forEach((m, k) => expectSame(m, one[k], `gradient ${["tanh", "sigmoid", "relu"][k]}, ${n} threads`));
    }
  });
});

describe("engine ops vs PyTorch on threads", () => {
  // every case of tests/engine/ops/reference.json, forward and gradients, with every job that can be
  // split sent to the threads (GEMM on the WASM kernels, element-wise ops, convolutions)
  for (const c of opsRef.cases) {
    it(c.name, async () => {
      setWasmMode("wasm");
      setMinWorkScale(0);
      setNumThreads(4);
      await checkAgainstReference(c);
    });
  }
});

describe("interrupts", () => {
  it("a threaded op stopped by SIGINT (vm breakOnSigint) leaves the next ops correct", () => {
    // A child process runs big threaded matmuls inside vm.runInThisContext({ breakOnSigint: true }),
    // as the Jupyter kernel runs cells, and gets a SIGINT from a shell in the middle of them.
    const script = `
      import vm from "node:vm";
      import { spawn } from "node:child_process";
      import * as gb from ${JSON.stringify(`${ROOT}dist/gradbook.js`)};
      gb.manualSeed(1);
      const a = gb.randn([1400, 1400]), b = gb.randn([1400, 1400]);
      // one thread's GEMM layout for this shape puts its packed B where the threaded 1400^3 one has C
      const a2 = gb.randn([200, 9000]), b2 = gb.randn([9000, 512]);
      gb.setNumThreads(1);
      const want = a.matmul(b).dataSync(), want2 = a2.matmul(b2).dataSync();
      gb.setNumThreads(2);
      a.matmul(b);
      globalThis.work = () => { for (;;) a.matmul(b); };
      process.on("SIGINT", () => {}); // outside the "cell", a late signal is ignored
      let interrupted = 0, same = true;
      const check = (got, w) => { for (let i = 0; i < w.length; i++) if (!Object.is(got[i], w[i])) same = false; };
      for (let round = 0; round < 3; round++) {
        spawn("sh", ["-c", "sleep 0.6; kill -INT " + process.pid], { stdio: "ignore" }).unref();
        try { vm.runInThisContext("work()", { breakOnSigint: true }); } catch (e) { if (e.code === "ERR_SCRIPT_EXECUTION_INTERRUPTED") interrupted++; }
        // at once, while the worker may still be in the interrupted job: one thread (WASM memory in
        // use without a job), then threads again
        gb.setNumThreads(1);
        check(a2.matmul(b2).dataSync(), want2);
        gb.setNumThreads(2);
        check(a.matmul(b).dataSync(), want);
      }
      console.log(JSON.stringify({ interrupted, same }));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(out.interrupted).toBe(3);
    expect(out.same).toBe(true);
  });
});
