/**
 * Runs a course notebook's code cells, in order, through the gradbook kernel's own interpreter
 * (kernel/ts: the same compiler, cell semantics and display pipeline as in Jupyter), without
 * Jupyter or ZeroMQ: for the GPU machine, which has neither. Bundled by bundle.mjs into
 * .device/bundle/notebook.mjs; run from the repository root:
 *   node .device/bundle/notebook.mjs notebooks/06-alexnet.ipynb [name=json ...]
 * Each name=json is injected after the notebook's "parameters" cell, as papermill does
 * (e.g. quick=true). Prints the cells' text output and each cell's time; exits 1 at the first
 * cell that fails (its traceback printed), 0 when all ran.
 * The bundle is also the kernel's helper threads (the compiler, the language service): the
 * interpreter starts them as Workers of this same file, as it does of dist/kernel.js.
 */
import { isMainThread, workerData } from "node:worker_threads";
import { readFileSync, writeSync } from "node:fs";
import type { Comm, KernelIO, MimeBundle } from "../../kernel/interpreter.ts";

const print = (text: string) => void writeSync(1, text);

/** Text of a bundle: its text/plain, or the MIME types it holds (images, plots) by name. */
function textOf(data: MimeBundle): string {
  const plain = data["text/plain"];
  if (typeof plain === "string") return plain.endsWith("\n") ? plain : plain + "\n";
  return `[${Object.keys(data).join(", ")}]\n`;
}

async function main(args: string[]): Promise<number> {
  const [file, ...params] = args;
  if (!file) {
    print("usage: node notebook.mjs NOTEBOOK.ipynb [name=json ...]\n");
    return 2;
  }
  const nb = JSON.parse(readFileSync(file, "utf8"));
  const cells: string[] = [];
  for (const c of nb.cells) {
    if (c.cell_type !== "code") continue;
    cells.push(Array.isArray(c.source) ? c.source.join("") : c.source);
    if ((c.metadata?.tags ?? []).includes("parameters") && params.length) {
      cells.push(params.map((p) => `${p.slice(0, p.indexOf("="))} = ${p.slice(p.indexOf("=") + 1)};`).join("\n"));
    }
  }
  const { TypeScriptInterpreter } = await import("../../kernel/ts/interpreter.ts");
  const { nodePlatform } = await import("../../kernel/ts/node.ts");
  const log = (text: string) => print(`[kernel] ${text}\n`);
  const interp = new TypeScriptInterpreter(nodePlatform(process.cwd(), log));
  let comms = 0;
  const io: KernelIO = {
    stream: (_name, text) => print(text),
    display: (data) => print(textOf(data)),
    executeResult: (_n, data) => print(textOf(data)),
    clearOutput: () => {},
    input: () => Promise.reject(new Error("no input: the notebook runs without a front end")),
    openComm: (targetName): Comm => ({ commId: `comm-${++comms}`, targetName, send() {}, close() {}, onMsg() {}, onClose() {} }),
    registerCommTarget: () => {},
    log,
    userCode: () => {},
  };
  await interp.init(io);
  const t0 = performance.now();
  for (const [i, code] of cells.entries()) {
    const c0 = performance.now();
    const r = await interp.execute({ code, executionCount: i + 1, silent: false, allowStdin: false });
    const s = ((performance.now() - c0) / 1e3).toFixed(1);
    if (r.status === "error") {
      print(`${r.traceback.join("\n")}\n== cell ${i + 1} of ${cells.length} FAILED after ${s} s: ${r.ename}: ${r.evalue}\n`);
      return 1;
    }
    print(`== cell ${i + 1} of ${cells.length}: ${s} s\n`);
  }
  print(`== ${file}: all ${cells.length} cells ran in ${((performance.now() - t0) / 1e3).toFixed(1)} s\n`);
  await interp.shutdown();
  return 0;
}

if (isMainThread) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      print(`notebook runner: ${e?.stack ?? e}\n`);
      process.exit(1);
    },
  );
} else if (workerData?.role === "language") {
  const { runLanguageWorker } = await import("../../kernel/ts/language-node.ts");
  runLanguageWorker(workerData.cwd);
} else if (workerData?.role === "compiler") {
  const { runCompileWorker } = await import("../../kernel/ts/compile-worker.ts");
  runCompileWorker();
}
