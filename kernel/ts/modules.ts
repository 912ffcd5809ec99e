/**
 * The notebook's own modules: a cell tagged `/** @module name *\/` (tslab's convention) is not
 * run; it becomes the module `./name`, which later cells import (`import { f } from "./name"`)
 * or require. Evaluated on first use, as CommonJS; defining it again replaces it for later
 * imports. Node-free: the platform compiles the wrapper script.
 */
export class NotebookModules {
  private modules = new Map<string, { js: string; module?: { exports: any } }>();

  constructor(private readonly script: (js: string, fileName: string) => () => unknown) {}

  define(name: string, js: string): void {
    this.modules.set(name, { js });
  }

  /** The module a specifier names (`./name`, `./name.ts`, `./name.tsx`, `./name.js`), if the notebook defined it. */
  resolve(spec: string): string | null {
    const m = /^\.\/(\w+)(\.(tsx?|js))?$/.exec(spec);
    return m && this.modules.has(m[1]) ? m[1] : null;
  }

  /** The module's exports (evaluated once; `require` serves its imports). */
  load(name: string, require: (spec: string) => unknown): unknown {
    const entry = this.modules.get(name)!;
    if (!entry.module) {
      entry.module = { exports: {} }; // (set first: modules that import each other see the partial exports, as in CommonJS)
      const run = this.script(`(function (exports, require, module) {${entry.js}\n})`, `${name}.ts`);
      try {
        (run() as Function)(entry.module.exports, require, entry.module);
      } catch (e) {
        entry.module = undefined;
        throw e;
      }
    }
    return entry.module.exports;
  }
}
