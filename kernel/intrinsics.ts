/**
 * What the kernel's own machinery uses, taken before any cell runs, so that
 * a cell cannot change how the kernel runs a cell or reports what happened.
 * A cell runs in the same realm as the kernel: it can reassign globals and
 * patch built-in prototypes, and every later call the kernel makes through
 * them would be the cell's. Here:
 *
 * - running a cell: `vm.Script` and its `runInThisContext` are taken when
 *   this module loads, and lockIntrinsics() (the kernel's first act)
 *   freezes the prototypes they live on (`runInThisContext` reaches its
 *   parent's `runInContext` through `super` when it runs), so a cell that
 *   wraps them to swallow exceptions changes nothing;
 * - promises: `Promise.prototype.then` is taken; lockIntrinsics() makes
 *   `then`, `catch`, `finally` and `constructor` of Promise.prototype,
 *   Promise's statics and its species read-only (an `await` in the kernel
 *   looks up `constructor`, and then `then`, on the promise it waits for);
 * - errors, JSON, `process.exit`: taken when this module loads;
 * - the kernel's globals (`gb`, `widgets`, `require`, `__gradbook`): made
 *   read-only once installed (lock.ts, also for kernels outside Node);
 * - the channel to the protocol thread: a MessageChannel made now, whose
 *   main-thread end is never handed to any code a cell can patch. Messages
 *   out go through MessagePort.prototype.postMessage as it is now (native);
 *   messages in are taken with receiveMessageOnPort when the protocol thread
 *   says so through a shared counter (Atomics), never through an event a
 *   patched dispatcher (EventEmitter, EventTarget) could watch or forge.
 *
 * This keeps the kernel's own reports true. It does not make the test code
 * of a notebook immune: a test that computes its expected value with
 * Array.prototype.map or the engine's classes uses them as the cell left
 * them (as in Python, where a submission can patch numpy). The test helpers
 * (asserts.ts) take what they use.
 *
 * The main thread loads two bundles that include this module, each with its
 * own copy: dist/kernel.cjs (main.ts: lockIntrinsics, the channel,
 * process.exit) and dist/kernel-main.js (main-thread.ts: the references
 * that run cells and write replies). Both load before any cell runs.
 */
import vm from "node:vm";
import { BroadcastChannel, MessageChannel, MessagePort, receiveMessageOnPort } from "node:worker_threads";

const { apply, defineProperty: reflectDefine } = Reflect;
const { freeze, defineProperty, getOwnPropertyDescriptor, getOwnPropertyNames, getOwnPropertySymbols, getPrototypeOf } = Object;

// ---------------------------------------------------------------- running a cell

const Script = vm.Script;
const runInThisContext = Script.prototype.runInThisContext;

/** `new vm.Script(code, options)` with the class as it was before any cell. */
export function newScript(code: string, options: { filename: string }): vm.Script {
  return new Script(code, { __proto__: null, filename: options.filename } as vm.ScriptOptions);
}

/** `script.runInThisContext(options)` as it was before any cell (options read from a copy without a prototype). */
export function runScript(script: vm.Script, options: { breakOnSigint?: boolean; displayErrors?: boolean }): unknown {
  return apply(runInThisContext, script, [{ __proto__: null, breakOnSigint: !!options.breakOnSigint, displayErrors: options.displayErrors !== false }]);
}

// ---------------------------------------------------------------- promises

const promiseThen = Promise.prototype.then;

/** `p.then(onFulfilled, onRejected)` with the `then` of before any cell. (Not exported as `then`: a module with a `then` export is a thenable.) */
function then<T>(p: Promise<T>, onFulfilled: (v: T) => unknown, onRejected: (e: unknown) => unknown): void {
  apply(promiseThen, p, [onFulfilled, onRejected]);
}

/** Makes the existing own properties of `o` read-only and not configurable (new ones may still be added). */
function lockProperties(o: object, keys: (string | symbol)[] = [...getOwnPropertyNames(o), ...getOwnPropertySymbols(o)]) {
  for (const k of keys) {
    const d = getOwnPropertyDescriptor(o, k);
    if (!d || !d.configurable) continue;
    reflectDefine(o, k, "value" in d ? { value: d.value, writable: false, enumerable: d.enumerable, configurable: false } : { get: d.get, set: d.set, enumerable: d.enumerable, configurable: false });
  }
}

/**
 * Freezes what cannot simply be taken: the prototypes `vm.Script` runs a
 * cell through, and Promise's (see above). The kernel's main thread calls
 * this before anything else; importing the module only takes references.
 */
export function lockIntrinsics(): void {
  freeze(Script.prototype);
  freeze(getPrototypeOf(Script.prototype)); // ContextifyScript.prototype: runInContext
  freeze(Script);
  lockProperties(Promise.prototype, ["then", "catch", "finally", "constructor"]);
  lockProperties(Promise);
}

// ---------------------------------------------------------------- errors, JSON, exit

export const ErrorClass = Error;
export const captureStackTrace = Error.captureStackTrace;
export const jsonStringify: typeof JSON.stringify = JSON.stringify;
export const jsonParse: typeof JSON.parse = JSON.parse;
/** process.exit as it is when this module loads (main.ts then replaces it with its own, which it keeps). */
export const processExit: typeof process.exit = process.exit.bind(process);

// ---------------------------------------------------------------- the channel to the protocol thread

const postMessage = MessagePort.prototype.postMessage;
const receive = receiveMessageOnPort;
const { load: atomicsLoad, add: atomicsAdd, notify: atomicsNotify, wait: atomicsWait } = Atomics;
const waitAsync = (Atomics as any).waitAsync as (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<string> | string };
/**
 * receiveMessageOnPort reads `port[kHandle]` before it takes a message; a
 * cell that finds that symbol (on a BroadcastChannel) and defines it on
 * Object.prototype would be handed the port. An own property of the port
 * under every symbol so named ends the lookup there.
 */
function shieldPort(port: MessagePort) {
  const probe = new BroadcastChannel(`gradbook-probe-${process.pid}`);
  try {
    for (const s of getOwnPropertySymbols(probe)) if (s.description === "kHandle") defineProperty(port, s, { value: undefined, writable: false, configurable: false });
  } finally {
    probe.close();
  }
}

export interface KernelChannel {
  /** Posts a message to the protocol thread. */
  post(message: unknown): void;
  /** Calls `onMessage` with every message from the protocol thread, in order, for as long as the process runs. */
  listen(onMessage: (message: any) => void): void;
  /** Blocks this thread until the protocol thread has posted a message (the first: its sockets are bound), at most `ms`; false if none came. */
  waitForFirstMessage(ms: number): boolean;
  /** What the protocol thread gets (in workerData, with `port` in the transfer list): its end, and the counter to bump after each post. */
  readonly theirs: { port: MessagePort; signal: SharedArrayBuffer };
}

/**
 * The main thread's channel to the protocol thread. The protocol thread
 * posts on its end, then adds 1 to `signal[0]` and notifies (see
 * signalPosted); this end drains the port then.
 */
export function kernelChannel(): KernelChannel {
  const { port1: ours, port2: port } = new MessageChannel();
  shieldPort(ours);
  const signal = new SharedArrayBuffer(4);
  const flag = new Int32Array(signal);
  return {
    theirs: { port, signal },
    post(message) {
      apply(postMessage, ours, [message]);
    },
    waitForFirstMessage(ms) {
      return atomicsWait(flag, 0, 0, ms) !== "timed-out";
    },
    listen(onMessage) {
      const loop = (): void => {
        for (;;) {
          const seen = atomicsLoad(flag, 0);
          for (let m = receive(ours); m; m = receive(ours)) {
            try {
              onMessage(m.message);
            } catch {}
          }
          const w = waitAsync(flag, 0, seen);
          if (w.async) return then(w.value as Promise<string>, loop, loop);
        }
      };
      loop();
    },
  };
}

/** On the protocol thread, after each post to the main thread: wakes its listener. */
export function signalPosted(signal: SharedArrayBuffer): void {
  const flag = new Int32Array(signal);
  atomicsAdd(flag, 0, 1);
  atomicsNotify(flag, 0);
}
