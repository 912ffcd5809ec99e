/**
 * Kernel entry point: `node dist/kernel.cjs -f <connection file>` (the kernelspec's; `node
 * dist/kernel.js` imports the same bundle). CommonJS: Node runs a CommonJS entry about 9 ms
 * sooner than an ES module one (no ES module loader to start first), and everything before the
 * protocol worker's bind delays the client's connection (kernel/README.md, "Start-up").
 * The main thread runs cells; a worker thread (dist/kernel-server.cjs, protocol/thread.ts) runs the
 * protocol server, so heartbeat and interrupts work while a cell is busy.
 *
 * Start-up (kernel/README.md, "Start-up"): this bundle is small. It locks the intrinsics, reads
 * the connection file and starts the protocol worker with only what binding needs; the worker binds
 * the sockets and answers kernel_info_request by itself. Then it posts the worker the rest of its
 * settings (the guard's, the static kernel_info content of info.ts), starts the compiler thread,
 * and once the sockets are bound loads the rest of the main thread (dist/kernel-main.js,
 * main-thread.ts: the interpreter, the core).
 */
import { kernelChannel, lockIntrinsics, processExit } from "./intrinsics.ts";
import { Worker } from "node:worker_threads";
import { readFileSync } from "node:fs";
import { log } from "./log.ts";
import { kernelInfo } from "./info.ts";
import { typescriptVersion } from "./ts/tsapi.ts";
import type { ServerConfig, ServerStart, ToServer } from "./protocol/bridge.ts";
import { readLimits } from "./guard/limits.ts";
import { StopState } from "./guard/memory.ts";
import { deathFiles, recordDeath, reportFatalErrors, takePreviousDeath } from "./guard/death.ts";
import type { KernelCore } from "./core.ts";
import { HelperThread } from "./ts/worker.ts";

function parseArgs(argv: string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-f" || a === "--connection-file") return argv[i + 1] ?? null;
    if (a.startsWith("--connection-file=")) return a.slice("--connection-file=".length);
    if (a.startsWith("-f=")) return a.slice(3);
  }
  return null;
}

// before anything else: what the kernel's machinery uses cannot be patched by a cell (intrinsics.ts)
lockIntrinsics();
const connectionFile = parseArgs(process.argv.slice(2));
if (!connectionFile) {
  process.stderr.write("usage: node kernel.js -f <connection file>\n");
  processExit(2);
}
let connection: ServerStart["connection"];
try {
  connection = JSON.parse(readFileSync(connectionFile!, "utf8"));
} catch (e) {
  log(`cannot read the connection file ${connectionFile}: ${(e as Error).message}`);
  processExit(2);
}
// Messages to and from the protocol server go through a channel no cell can reach (intrinsics.ts).
const channel = kernelChannel();
// stdout/stderr not piped to ours (the server logs with writeSync(2)): spares initializing process.stdout at start-up
const start: ServerStart = { connection: connection!, channel: channel.theirs };
const worker = new Worker(new URL("./kernel-server.cjs", import.meta.url), { workerData: start, transferList: [channel.theirs.port], stdout: true, stderr: true });
// the rest of the server's settings, made while it boots: the guard (kernel/guard/: memory limits,
// output limits, the death report) and the kernel_info content
const limits = readLimits();
const files = limits.deathReport ? deathFiles(connectionFile!) : null;
const previousDeath = files && takePreviousDeath(files);
if (previousDeath) log(previousDeath);
if (files) reportFatalErrors(files);
const stop = new StopState();
const config: ServerConfig = {
  kernelInfo: kernelInfo(typescriptVersion(), { name: "Node.js", version: process.version }),
  shellTypes: ["execute_request", "complete_request", "inspect_request", "is_complete_request", "history_request", "comm_info_request", "comm_open", "comm_msg", "comm_close"],
  controlTypes: [],
  userCodeFlag: new SharedArrayBuffer(8),
  guard: { memory: limits.memory, memoryHard: limits.memoryHard, stop: stop.buffer, files },
};
worker.postMessage(config);
// the compiler's thread next: loading TypeScript is the longest task before the first cell can run
const compiler = new HelperThread("compiler", {}, log);
compiler.start();

// The main thread's kernel core, once loaded (requests wait in the channel until it listens).
let core: KernelCore | null = null;
let serverGone = false;
// process.exit() from a cell (or anything else on this thread): the protocol server closes its
// sockets first (exiting with a zeromq socket open in the worker aborts the process: SIGABRT)
const wait = Atomics.wait;
const exitKernel = ((code?: number | string | null) => {
  if (!serverGone) {
    serverGone = true;
    core?.flushStream();
    const done = new SharedArrayBuffer(4);
    channel.post({ kind: "close_now", done });
    wait(new Int32Array(done), 0, 0, 2000);
  }
  return processExit(code as number);
}) as typeof process.exit;
process.exit = exitKernel;
worker.on("error", (e) => {
  log(`protocol server error: ${e?.stack ?? e}`);
  if (files) recordDeath(files, `its protocol server failed (${String(e?.message ?? e).split("\n")[0]})`);
  serverGone = true;
  exitKernel(1);
});
worker.on("exit", (code) => {
  serverGone = true;
  exitKernel(code);
});
// Interrupts (interrupt_request becomes a SIGINT to ourselves; "signal" mode sends one directly):
// handled from the start, so that one arriving before the interpreter has loaded does not end the process.
process.on("SIGINT", () => core?.interrupt());
process.on("SIGTERM", () => (core ? core.onMessage({ kind: "shutdown", restart: false }) : channel.post({ kind: "exit" } satisfies ToServer)));

// Until the sockets are bound, the two threads starting have the two cores to themselves (a client
// that finds the port closed tries again only 100-200 ms later); then the rest of this thread loads.
channel.waitForFirstMessage(2000);
// (no top-level await: this bundle is CommonJS, see the file's comment)
void import(new URL("./kernel-main.js", import.meta.url).href).then(({ startMainThread }: typeof import("./main-thread.ts")) => {
  core = startMainThread({
    channel,
    compiler,
    userCodeFlag: config.userCodeFlag,
    limits,
    stop,
    notices: [previousDeath, ...limits.problems].filter((n): n is string => !!n),
  });
});
