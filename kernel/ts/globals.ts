/**
 * The globals a cell sees besides the engine (`gb`) and the widgets (`widgets`): `display`
 * (the widgets' display pipeline), `clearOutput`, `input`, `require`, the test helpers
 * (`assert`, ... from ../asserts.ts), and `__gradbook`, the helper compiled cells call (imports,
 * the last expression's value). Node-free: modules come through the Platform.
 */
import type * as Widgets from "../../widgets/index.ts";
import type { KernelIO } from "../interpreter.ts";
import type { CellOutput } from "./output.ts";
import type { NotebookModules } from "./modules.ts";
import type { Platform } from "./platform.ts";
import { installTestHelpers } from "../asserts.ts";
import { lockKernelGlobals } from "../lock.ts";

/** The packages the kernel preloads: `import` of them is synchronous and gives the kernel's instance. */
export const PRELOADED_PACKAGES = ["gradbook", "gradbook/widgets", "tslab"];

export interface CellGlobalsContext {
  platform: Platform;
  io: KernelIO;
  output: CellOutput;
  /** The preloaded packages by specifier; absent when they failed to load. */
  preloaded: Map<string, unknown>;
  /** The notebook's `@module` cells. */
  modules: NotebookModules;
  widgets: typeof Widgets | null;
  /** Heap of the language service (bytes). */
  languageMemory(): Promise<number>;
}

/** Defines a global as the kernel's (not enumerable, replaceable by the user). */
export function defineGlobal(name: string, value: unknown): void {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

export function installGlobals(cx: CellGlobalsContext): void {
  const { platform, io, output, preloaded, modules, widgets } = cx;
  const notLoaded = (spec: string) => new Error(`${spec} is not available in this kernel (its bundle did not load: see the kernel log)`);
  const importSync = (spec: string): unknown => {
    if (preloaded.has(spec)) return preloaded.get(spec);
    if (PRELOADED_PACKAGES.includes(spec)) throw notLoaded(spec);
    const own = modules.resolve(spec);
    return own ? modules.load(own, require) : platform.requireModule(spec);
  };
  // (keeps require.resolve and the like of the platform's require)
  const require = Object.assign((spec: string): unknown => importSync(spec), platform.requireModule);
  defineGlobal(
    "display",
    widgets?.display ??
      (() => {
        throw notLoaded("gradbook/widgets (and with it display())");
      }),
  );
  // through the current host: inside widgets.Output.capture it clears that output
  defineGlobal("clearOutput", (opts: { wait?: boolean } | boolean = {}) => (widgets?.getDisplayHost() ?? output).clearOutput(typeof opts === "boolean" ? opts : !!opts?.wait));
  defineGlobal("input", (prompt = "", opts: { password?: boolean } = {}) => io.input(String(prompt), !!opts?.password));
  defineGlobal("require", require);
  defineGlobal("__gradbookInterrupt", false);
  installTestHelpers(globalThis);
  defineGlobal("__gradbook", {
    /** Heap in use (bytes) of the thread running cells and of the language service, after a GC when --expose-gc is on. */
    memory: async () => {
      const m = platform.memory();
      return { main: m.heap, language: await cx.languageMemory(), rss: m.rss };
    },
    import: async (spec: string) => (platform.isSyncSpecifier(spec) || modules.resolve(spec) ? importSync(spec) : platform.importModule(spec)),
    importSync,
    require,
    named: (ns: any, name: string) => {
      if (ns == null) return undefined;
      if (name in ns) return ns[name];
      // CommonJS modules whose exports Node's lexer could not see
      const d = ns.default;
      return d != null && (typeof d === "object" || typeof d === "function") ? d[name] : undefined;
    },
    defaultOf: (ns: any) => {
      if (ns == null) return ns;
      if ("default" in ns && ns.default !== undefined) {
        const d = ns.default;
        return d && d.__esModule && "default" in d ? d.default : d;
      }
      return ns;
    },
  });
  // what cells use from the kernel, fixed before the first cell (the engine and widgets were set before this)
  lockKernelGlobals(globalThis, ["gb", "widgets", "require", "__gradbook"], { object: (globalThis as any).__gradbook, writable: ["result"] });
}
