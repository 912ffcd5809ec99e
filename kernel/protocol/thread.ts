/**
 * The protocol server's thread: main.ts starts this file's bundle (dist/kernel-server.cjs, CommonJS) as a
 * Worker. A bundle of its own, with only the server's modules: the thread that binds the sockets
 * and answers kernel_info_request loads and runs no more than it needs (the kernel's whole
 * bundle, with the interpreter and the language service's code, cost it start-up time). It binds
 * first (bind.ts: zeromq only) and loads the server's modules after (a dynamic import: the bundle
 * runs them only then).
 */
import { parentPort, workerData } from "node:worker_threads";
import { log } from "../log.ts";
import type { ServerConfig, ServerStart } from "./bridge.ts";
import { bindSockets } from "./bind.ts";

// the settings beyond the sockets' come as the first message: the main thread makes them while this thread boots
const config = new Promise<ServerConfig>((resolve) => parentPort!.once("message", resolve));
const start = workerData as ServerStart;
bindSockets(start.connection)
  .then(async (sockets) => (await import("./server.ts")).runServer(start, sockets, config))
  .catch((e) => {
    log(`protocol server failed: ${e?.stack ?? e}`);
    process.exit(1);
  });
