/**
 * The globals the kernel gives cells, made read-only once installed (see
 * intrinsics.ts for the rest of what keeps a kernel's reports true). No
 * Node: also for kernels that run elsewhere.
 */
const { defineProperty, getOwnPropertyDescriptor, getOwnPropertyNames, preventExtensions } = Object;

/**
 * Makes globals the kernel defined (`gb`, `widgets`, `require`,
 * `__gradbook`) read-only and not configurable: a cell cannot put another
 * engine, module loader or cell helper in their place for the cells after
 * it. `__gradbook` itself is sealed, its functions read-only; `result` (the
 * value of the cell that just ran) stays writable.
 */
export function lockKernelGlobals(g: any, names: string[], helper?: { object: object; writable: string[] }): void {
  for (const name of names) {
    const d = getOwnPropertyDescriptor(g, name);
    if (d && d.configurable) defineProperty(g, name, { value: g[name], writable: false, enumerable: d.enumerable, configurable: false });
  }
  if (helper) {
    const { object, writable } = helper;
    for (const k of writable) if (!getOwnPropertyDescriptor(object, k)) defineProperty(object, k, { value: undefined, writable: true, enumerable: true, configurable: true });
    for (const k of getOwnPropertyNames(object)) {
      const d = getOwnPropertyDescriptor(object, k)!;
      if (d.configurable) defineProperty(object, k, { ...d, ...("value" in d ? { writable: writable.includes(k) } : {}), configurable: false });
    }
    preventExtensions(object);
  }
}
