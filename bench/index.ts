/**
 * `npm run bench` — engine CPU (matmul, LeNet-5 step), CPU kernels, kernel start-up/round trip;
 * `npm run bench -- --gpu` — the WebGPU backend against PyTorch CUDA;
 * `npm run bench -- --gpu-sweep` — the GEMM tile variants on WebGPU (to choose the default).
 * `npm run bench -- --grader` — grading 100 submissions (minutes; not part of the default run).
 * `npm run bench -- --lab` — `npm start` to an idle kernel in JupyterLab, cached and cold; the front end's size.
 * `npm run bench -- --lite` — the JupyterLite site: size, cold and warm load to the first cell, a LeNet-5 step in the browser (1 and 2 threads) next to Node's.
 * `npm run bench -- --hub` — 20 students' servers on gradbook hub under load (minutes; as root; not in the default run).
 * `npm run bench -- --guard` — the kernel's memory guard: its cost, and how fast it stops a runaway cell (minutes; not in the default run).
 * `npm run bench -- --native-ab` — every `--kernels` row on the native kernels (Node) against the WASM exports they replace, interleaved in one process (not in the default run).
 * Each section prints gradbook and the reference measured in the same run, and their ratio.
 */
const args = process.argv.slice(2);
const only = (name: string) => args.length === 0 || args.includes(`--${name}`);

async function section(name: string, load: () => Promise<() => Promise<void>>): Promise<void> {
  try {
    const fn = await load();
    await fn();
  } catch (e) {
    console.log(`[${name}] failed: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  }
  console.log();
}

if (args[0] === "--engine-serve") {
  // the engine section's measuring process (bench/engine.ts: started as the kernel's process starts)
  await (await import("./engine.js")).engineServeChild(Number(args[1]));
} else if (args[0] === "--kernels-child") {
  // the CPU kernels section, in a process started as the kernel's (below)
  await section("cpu-kernels", async () => (await import("./cpu-kernels.js")).benchCpuKernels);
} else if (args.includes("--native-ab")) {
  // the native kernels against the WASM exports they replace (bench/cpu-kernels.ts benchNativeAB)
  await section("native-ab", async () => (await import("./cpu-kernels.js")).benchNativeAB);
} else if (args.includes("--grader")) {
  await section("grader", async () => {
    const { benchGrader } = await import("./grader.js");
    return async () => {
      if ((await benchGrader()).wrong.length) process.exitCode = 1;
    };
  });
} else if (args.includes("--lab")) {
  await section("lab", async () => (await import("./lab.js")).benchLab);
} else if (args.includes("--lite")) {
  await section("lite", async () => (await import("./lite.js")).benchLite);
} else if (args.includes("--hub")) {
  await section("hub", async () => {
    const { benchHub } = await import("./hub.js");
    return async () => {
      const r = await benchHub();
      if (r.unanswered || r.failed) process.exitCode = 1;
    };
  });
} else if (args.includes("--guard")) {
  await section("guard", async () => (await import("./guard.js")).benchGuard);
} else if (args.includes("--gpu-sweep")) {
  await section("gpu-sweep", async () => (await import("./gpu.js")).benchGemmSweep);
} else if (args.includes("--gpu")) {
  await section("gpu", async () => (await import("./gpu.js")).benchGpu);
} else {
  if (only("engine")) await section("engine", async () => (await import("./engine.js")).benchEngine);
  if (only("kernels")) await section("cpu-kernels", async () => (await import("./cpu-kernels.js")).benchCpuKernelsAsKernel);
  if (only("kernel")) await section("kernel", async () => (await import("./kernel.js")).benchKernel);
}
