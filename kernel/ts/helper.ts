/**
 * The kernel's helper threads (worker.ts starts this file's bundle, dist/kernel-helper.js, with
 * the role in workerData): the compiler and the language service. A bundle of its own, without
 * the kernel's main-thread code, so that a helper loads only its role's modules at start-up.
 */
import { workerData } from "node:worker_threads";

if (workerData?.role === "language") {
  const { runLanguageWorker } = await import("./language-node.ts");
  runLanguageWorker(workerData.cwd);
} else if (workerData?.role === "compiler") {
  const { runCompileWorker } = await import("./compile-worker.ts");
  runCompileWorker();
}
