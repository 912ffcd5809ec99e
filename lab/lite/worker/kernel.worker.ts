/**
 * The browser kernel's module Web Worker: the Node kernel's core (kernel/core.ts: execution
 * count, history, comms, stdin, output routing) and TypeScript interpreter
 * (kernel/ts/interpreter.ts: cell semantics, display, type checks, completion) on the browser's
 * Platform (platform.ts). The page's GradbookKernel (../kernel.ts) plays the part of Node's
 * protocol server: it sends requests in and turns what the core posts into Jupyter messages,
 * with the same message shapes (kernel/protocol/bridge.ts).
 *
 * Interrupts: every loop body of a compiled cell calls `__gradbookTick()`, which throws a
 * KeyboardInterrupt once the page has set the shared interrupt word (a SharedArrayBuffer when
 * the page is cross-origin isolated); without shared memory the page's "interrupt" message sets
 * the flag when the cell next awaits. Either way the core's interrupt() also ends an awaited
 * cell or input(). What no check can reach (a loop in code the kernel did not compile) is the
 * page's to end: it stops this worker and starts another (see ../kernel.ts).
 */
import { KernelCore } from "../../../kernel/core.ts";
import { History } from "../../../kernel/history.ts";
import { log } from "../../../kernel/log.ts";
import type { ToMain, ToServer } from "../../../kernel/protocol/bridge.ts";
import type { KernelInfo } from "../../../kernel/info.ts";
import { KeyboardInterrupt } from "../../../kernel/ts/errors.ts";
import { defineGlobal } from "../../../kernel/ts/globals.ts";
import { TypeScriptInterpreter } from "../../../kernel/ts/interpreter.ts";
import { setDataUrl } from "../../../engine/data/datasets.ts";
import { setPlotlySource } from "../../../widgets/plotly.ts";
import { browserPlatform, LOOP_GUARD } from "./platform.ts";

/** What the page sends first. */
export interface KernelWorkerInit {
  kind: "init";
  /** The site's data folder (datasets over HTTP). */
  dataUrl: string;
  /** The language service's files (declarations, lib files). */
  languageEnvUrl: string;
  /** plotly.js, embedded once in a figure's HTML fallback as in the Node kernel (other front ends, nbconvert). */
  plotlyUrl: string;
  /** Int32Array[1] over it: the interrupt word (null: the page is not cross-origin isolated). */
  interrupt: SharedArrayBuffer | null;
}

/** Messages the page sends besides the core's (ToMain). */
export type ToKernelWorker = KernelWorkerInit | ToMain | { kind: "interrupt" };
/** Messages this worker posts: the core's (ToServer), and the kernel's info once. */
export type FromKernelWorker = ToServer | { kind: "info"; info: KernelInfo };

const post = (m: FromKernelWorker) => self.postMessage(m);

let core: KernelCore | null = null;
let interruptWord: Int32Array | null = null;
let interruptAsked = false;

/** The loop guard: throws once (the flag is cleared) when an interrupt was asked for. */
function tick(): void {
  if (interruptWord ? Atomics.load(interruptWord, 0) !== 0 : interruptAsked) {
    if (interruptWord) Atomics.store(interruptWord, 0, 0);
    interruptAsked = false;
    throw new KeyboardInterrupt("interrupted");
  }
}

self.onmessage = (e: MessageEvent<ToKernelWorker>) => {
  const m = e.data;
  if (m.kind === "init") {
    interruptWord = m.interrupt ? new Int32Array(m.interrupt) : null;
    setDataUrl(m.dataUrl);
    const plotlyUrl = m.plotlyUrl;
    // (offline before any figure, the fallback goes without it: JupyterLab draws figures with its own renderer)
    setPlotlySource(() =>
      fetch(plotlyUrl)
        .then((res) => (res.ok ? res.text() : Promise.reject(new Error(`HTTP ${res.status}`))))
        .catch((e) => `/* plotly.js could not be loaded from ${plotlyUrl}: ${e.message} */`),
    );
    defineGlobal(LOOP_GUARD, tick);
    const interp = new TypeScriptInterpreter(browserPlatform(log, m.languageEnvUrl));
    post({ kind: "info", info: interp.info });
    // history in memory (a page's kernel has no history file); a plain word for the user-code flag (no protocol thread reads it)
    core = new KernelCore(interp, post, new History(null), new Int32Array(2));
    return;
  }
  if (m.kind === "interrupt") {
    // reached when the cell awaits (or has ended): a loop without shared memory sees the flag now
    if (!interruptWord) interruptAsked = true;
    core?.interrupt();
    return;
  }
  if (m.kind === "request") {
    // an interrupt applies to what runs when it is asked for: a new request starts clear (the
    // page clears the shared word before it posts a request; an "interrupt" message for this
    // request comes after it)
    interruptAsked = false;
  }
  core?.onMessage(m);
};
