/**
 * The main thread's kernel: the TypeScript interpreter and the kernel core, wired to the protocol
 * worker's channel. Bundled alone (dist/kernel-main.js): main.ts loads it once the protocol worker
 * has bound the sockets, while the compiler thread loads TypeScript.
 */
import { KernelCore } from "./core.ts";
import { log } from "./log.ts";
import type { KernelChannel } from "./intrinsics.ts";
import type { ToMain } from "./protocol/bridge.ts";
import type { KernelLimits } from "./guard/limits.ts";
import { installSampler, type StopState } from "./guard/memory.ts";
import { TypeScriptInterpreter } from "./ts/interpreter.ts";
import { nodePlatform } from "./ts/node.ts";
import type { HelperThread } from "./ts/worker.ts";

export interface MainThreadConfig {
  channel: KernelChannel;
  /** The compiler's thread, started (ts/compile-worker.ts). */
  compiler: HelperThread;
  /** ServerConfig.userCodeFlag, shared with the protocol worker. */
  userCodeFlag: SharedArrayBuffer;
  limits: KernelLimits;
  stop: StopState;
  /** Said once, in the first cell's output. */
  notices: string[];
}

/** Starts the interpreter and the core; the core takes the requests that wait in the channel. */
export function startMainThread({ channel, compiler, userCodeFlag, limits, stop, notices }: MainThreadConfig): KernelCore {
  installSampler(limits.gpu.bytes);
  const interp = new TypeScriptInterpreter(nodePlatform(process.cwd(), log, compiler));
  const core = new KernelCore(interp, channel.post, undefined, new Int32Array(userCodeFlag), { limits, stop, notices });
  channel.listen((m: ToMain) => core.onMessage(m));
  return core;
}
