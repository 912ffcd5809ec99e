/**
 * Kernel entry point: `node dist/kernel.js -f <connection file>`.
 * The main thread runs cells; a worker thread (dist/kernel-server.js, protocol/thread.ts) runs the
 * protocol server, so heartbeat and interrupts work while a cell is busy.
 */
import { kernelChannel, lockIntrinsics, processExit } from "./intrinsics.ts";
import { Worker, isMainThread } from "node:worker_threads";
import { readFileSync } from "node:fs";
import { KernelCore } from "./core.ts";
import { log } from "./log.ts";
import { TypeScriptInterpreter } from "./ts/interpreter.ts";
import { nodePlatform } from "./ts/node.ts";
import type { ServerConfig, ToMain } from "./protocol/bridge.ts";
import type { Interpreter } from "./interpreter.ts";
import { readLimits } from "./guard/limits.ts";
import { installSampler, StopState } from "./guard/memory.ts";
import { deathFiles, recordDeath, reportFatalErrors, takePreviousDeath } from "./guard/death.ts";

function parseArgs(argv: string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-f" || a === "--connection-file") return argv[i + 1] ?? null;
    if (a.startsWith("--connection-file=")) return a.slice("--connection-file=".length);
    if (a.startsWith("-f=")) return a.slice(3);
  }
  return null;
}

/** Starts a kernel for any Interpreter: the protocol server knows nothing of the language. */
export function startKernel(connectionFile: string, interp: Interpreter): void {
  // before any cell: what the kernel's machinery uses cannot be patched by one (intrinsics.ts)
  lockIntrinsics();
  let connection: any;
  try {
    connection = JSON.parse(readFileSync(connectionFile, "utf8"));
  } catch (e) {
    log(`cannot read the connection file ${connectionFile}: ${(e as Error).message}`);
    process.exit(2);
  }
  const config: ServerConfig = {
    connection,
    kernelInfo: {
      protocol_version: "5.3",
      implementation: interp.info.implementation,
      implementation_version: interp.info.implementation_version,
      language_info: interp.info.language_info,
      banner: interp.info.banner,
      help_links: interp.info.help_links ?? [],
      debugger: false,
    },
    shellTypes: ["execute_request", "complete_request", "inspect_request", "is_complete_request", "history_request", "comm_info_request", "comm_open", "comm_msg", "comm_close"],
    controlTypes: [],
    userCodeFlag: new SharedArrayBuffer(8),
  };
  // the guard (kernel/guard/): memory limits, output limits, the death report
  const limits = readLimits();
  const files = limits.deathReport ? deathFiles(connectionFile) : null;
  const previousDeath = files && takePreviousDeath(files);
  if (previousDeath) log(previousDeath);
  if (files) reportFatalErrors(files);
  installSampler(limits.gpu.bytes);
  const stop = new StopState();
  config.guard = { memory: limits.memory, memoryHard: limits.memoryHard, stop: stop.buffer, files };
  // Messages to and from the protocol server go through a channel no cell can reach (intrinsics.ts).
  const channel = kernelChannel();
  // stdout/stderr not piped to ours (the server logs with writeSync(2)): spares initializing process.stdout at start-up
  // the server's own bundle (protocol/thread.ts, built next to this one): it loads only what the server needs
  const worker = new Worker(new URL("./kernel-server.js", import.meta.url), { workerData: { config, channel: channel.theirs }, transferList: [channel.theirs.port], stdout: true, stderr: true });
  const notices = [previousDeath, ...limits.problems].filter((n): n is string => !!n);
  const core = new KernelCore(interp, channel.post, undefined, new Int32Array(config.userCodeFlag), { limits, stop, notices });
  channel.listen((m: ToMain) => core.onMessage(m));
  let serverGone = false;
  // process.exit() from a cell (or anything else on this thread): the protocol server closes its
  // sockets first (exiting with a zeromq socket open in the worker aborts the process: SIGABRT)
  const wait = Atomics.wait;
  const exitKernel = ((code?: number | string | null) => {
    if (!serverGone) {
      serverGone = true;
      core.flushStream();
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
  // Interrupts (interrupt_request becomes a SIGINT to ourselves; "signal" mode sends one directly).
  process.on("SIGINT", () => core.interrupt());
  process.on("SIGTERM", () => core.onMessage({ kind: "shutdown", restart: false }));
}

if (isMainThread) {
  const file = parseArgs(process.argv.slice(2));
  if (!file) {
    process.stderr.write("usage: node kernel.js -f <connection file>\n");
    process.exit(2);
  }
  startKernel(file, new TypeScriptInterpreter(nodePlatform(process.cwd(), log)));
}
