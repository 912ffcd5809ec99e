/**
 * The test helpers every notebook has, preloaded like `gb` and `widgets`:
 * `assert`, `assertEqual`, `assertClose` and `assertThrows`. Graded test
 * cells (nbgrader's) use them; so may anyone.
 *
 * They cannot be replaced: each is a non-configurable accessor of
 * `globalThis` whose setter throws, so a later `function assert`, `let
 * assert`, assignment, `delete` or `Object.defineProperty` fails with a clear
 * error in the cell that tried. The functions, their error class and its
 * prototype are frozen. The built-ins they use (Math.abs, Array.isArray,
 * JSON.stringify, Reflect.apply, ...) are taken when this module is
 * evaluated, before any cell runs, so a cell that patches them does not
 * change a verdict.
 *
 * Notebooks made before the helpers were preloaded carry them as a locked
 * cell (grade id `gradbook_checks`); that cell finds `__gradbookChecks`
 * defined and does nothing.
 */

/** The names the helpers take. */
export const TEST_HELPER_NAMES = ["assert", "assertEqual", "assertClose", "assertThrows"] as const;

/** Their declarations, for the kernel's language service. */
export const TEST_HELPERS_DTS = `
/** Fails the test unless \`condition\` is truthy. */
declare function assert(condition: unknown, message?: string): asserts condition;
/** Fails unless \`actual\` deep-equals \`expected\` (numbers, strings, arrays, typed arrays, plain objects). */
declare function assertEqual(actual: unknown, expected: unknown, message?: string): void;
/** Fails unless numbers, (nested) arrays, typed arrays or CPU tensors are elementwise close: |a - e| <= atol + rtol * |e| (defaults rtol 1e-5, atol 1e-8, as torch.allclose); a number \`tol\` is an absolute tolerance. */
declare function assertClose(actual: unknown, expected: unknown, tol?: number | { rtol?: number; atol?: number }, message?: string): void;
/** Fails unless \`fn()\` throws (an error whose message matches \`pattern\`, when given). */
declare function assertThrows(fn: () => unknown, pattern?: RegExp | string, message?: string): void;
`;

// Taken now, before any cell can patch them.
const abs = Math.abs, isNaN = Number.isNaN, isArray = Array.isArray, isView = ArrayBuffer.isView;
const keys = Object.keys, getProto = Object.getPrototypeOf, define = Object.defineProperty, freeze = Object.freeze, getOwn = Object.getOwnPropertyDescriptor;
const apply = Reflect.apply, stringify = JSON.stringify, Err = Error, Str = String, ObjProto = Object.prototype;
const push = Array.prototype.push, join = Array.prototype.join, slice = String.prototype.slice, test = RegExp.prototype.test;
const includes = String.prototype.includes, from = Array.from;
const capture = (Error as any).captureStackTrace as ((e: object, f: Function) => void) | undefined;

class AssertionError extends Err {
  constructor(message: string) {
    super(message);
    define(this, "name", { value: "AssertionError", enumerable: false });
  }
}
freeze(AssertionError.prototype);
freeze(AssertionError);

let current: Function | undefined; // the helper running: its frames are left out of the traceback, which starts at the test's line
const fail = (what: string, message: string | undefined): never => {
  const e = new AssertionError(message ? message + ": " + what : what);
  if (capture && current) capture(e, current);
  throw e;
};

const show = (v: unknown): string => {
  let s: string;
  try {
    if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean" || v == null) s = Str(v);
    else if (isView(v)) s = "[" + apply(join, from(v as any), [", "]) + "]";
    else if (typeof v === "function") s = "[function]";
    else s = stringify(v) ?? Str(v);
  } catch {
    s = "[unprintable]";
  }
  return s.length > 200 ? apply(slice, s, [0, 200]) + "..." : s;
};

const isTensorLike = (v: any) => v != null && typeof v === "object" && isArray(v.shape) && typeof v.dataSync === "function";

/** Flattens a number, nested array, typed array or CPU tensor into { shape, values }. */
const flatten = (v: any, what: string): { shape: number[]; values: number[] } => {
  if (isTensorLike(v)) {
    let data: any;
    try {
      data = v.dataSync();
    } catch (e) {
      fail("cannot read the " + what + " tensor synchronously (" + Str((e as any)?.message ?? e) + "); pass await t.toArray() instead", undefined);
    }
    return { shape: from(v.shape as number[]), values: from(data as ArrayLike<number>, (x: any) => (typeof x === "boolean" ? +x : x)) };
  }
  if (typeof v === "number" || typeof v === "boolean") return { shape: [], values: [+v] };
  if (isView(v)) return { shape: [(v as any).length], values: from(v as any) };
  if (isArray(v)) {
    const values: number[] = [];
    let inner: number[] | null = null;
    for (let i = 0; i < v.length; i++) {
      const f = flatten(v[i], what);
      if (inner === null) inner = f.shape;
      else if (stringify(f.shape) !== stringify(inner)) fail("the " + what + " value is a ragged array (rows of different shapes)", undefined);
      apply(push, values, f.values);
    }
    return { shape: [v.length, ...(inner ?? [])], values };
  }
  return fail("assertClose compares numbers, arrays, typed arrays and tensors; the " + what + " value is " + show(v), undefined);
};

const indexOf = (flat: number, shape: number[]): string => {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat = (flat - idx[d]) / shape[d];
  }
  return "[" + apply(join, idx, [", "]) + "]";
};

const deepEqual = (a: any, b: any, path: string): string | null => {
  if (a === b || (typeof a === "number" && typeof b === "number" && isNaN(a) && isNaN(b))) return null;
  if (typeof a !== typeof b) return path + ": got " + show(a) + " (" + typeof a + "), expected " + show(b) + " (" + typeof b + ")";
  if (a === null || b === null || typeof a !== "object") return path + ": got " + show(a) + ", expected " + show(b);
  const aList: boolean = isArray(a) || isView(a), bList: boolean = isArray(b) || isView(b);
  if (aList !== bList) return path + ": got " + show(a) + ", expected " + show(b);
  if (aList) {
    if (a.length !== b.length) return path + ": got length " + a.length + ", expected length " + b.length;
    for (let i = 0; i < a.length; i++) {
      const d = deepEqual(a[i], b[i], path + "[" + i + "]");
      if (d) return d;
    }
    return null;
  }
  const pa = getProto(a), pb = getProto(b);
  if (pa !== pb && !((pa === ObjProto || pa === null) && (pb === ObjProto || pb === null))) return path + ": got " + show(a) + ", expected " + show(b) + " (different kinds of object)";
  const ka = keys(a), kb = keys(b);
  for (const k of kb) if (!(k in a)) return path + ": missing key " + show(k);
  for (const k of ka) if (!(k in b)) return path + ": unexpected key " + show(k);
  for (const k of kb) {
    const d = deepEqual(a[k], b[k], path + "." + k);
    if (d) return d;
  }
  return null;
};

const impls: Record<(typeof TEST_HELPER_NAMES)[number], Function> = {
  assert(condition: unknown, message?: string) {
    if (!condition) fail("assertion failed", message === undefined ? undefined : Str(message));
  },
  assertEqual(actual: unknown, expected: unknown, message?: string) {
    const d = deepEqual(actual, expected, "value");
    if (d) fail("assertEqual: " + d, message);
  },
  assertClose(actual: unknown, expected: unknown, tol?: number | { rtol?: number; atol?: number }, message?: string) {
    let rtol = 1e-5, atol = 1e-8;
    if (typeof tol === "number") (atol = tol), (rtol = 0);
    else if (tol && typeof tol === "object") (rtol = tol.rtol ?? rtol), (atol = tol.atol ?? atol);
    const a = flatten(actual, "actual"), e = flatten(expected, "expected");
    if (stringify(a.shape) !== stringify(e.shape) && !(a.values.length === 1 && e.values.length === 1))
      fail("assertClose: got shape [" + apply(join, a.shape, [", "]) + "], expected shape [" + apply(join, e.shape, [", "]) + "]", message);
    let bad = -1, nbad = 0;
    for (let i = 0; i < e.values.length; i++) {
      const x = a.values[i], y = e.values[i];
      const ok = typeof x === "number" && (x === y || (isNaN(x) && isNaN(y)) || abs(x - y) <= atol + rtol * abs(y));
      if (!ok) {
        if (bad < 0) bad = i;
        nbad++;
      }
    }
    if (bad >= 0) {
      const x = a.values[bad], y = e.values[bad];
      const where = e.shape.length ? " at " + indexOf(bad, e.shape) : "";
      const count = e.values.length > 1 ? " (" + nbad + " of " + e.values.length + " elements differ)" : "";
      fail("assertClose: got " + show(x) + where + ", expected " + show(y) + " (|difference| " + show(abs(x - y)) + " > atol " + atol + " + rtol " + rtol + " * |expected|)" + count, message);
    }
  },
  assertThrows(fn: () => unknown, pattern?: RegExp | string, message?: string) {
    let threw = false, err: any;
    try {
      fn();
    } catch (e) {
      threw = true;
      err = e;
    }
    if (!threw) fail("assertThrows: the function did not throw", message);
    if (pattern !== undefined) {
      const text = Str(err?.message ?? err);
      const ok = typeof pattern === "string" ? apply(includes, text, [pattern]) : apply(test, pattern, [text]);
      if (!ok) fail("assertThrows: the error " + show(text) + " does not match " + Str(pattern), message);
    }
  },
};

/** The helpers as frozen functions (each leaves its own frames out of a failure's traceback). */
export const testHelpers: Readonly<Record<(typeof TEST_HELPER_NAMES)[number], Function>> = freeze(
  Object.fromEntries(
    TEST_HELPER_NAMES.map((name) => {
      const impl = impls[name];
      const fn: Function = freeze(
        {
          [name](this: unknown, ...args: unknown[]) {
            const outer = current;
            current = fn;
            try {
              return apply(impl, this, args);
            } finally {
              current = outer;
            }
          },
        }[name],
      );
      return [name, fn];
    }),
  ) as Record<(typeof TEST_HELPER_NAMES)[number], Function>,
);

/**
 * Defines the helpers on `g` (default globalThis) as non-configurable
 * accessors whose setters throw, and `__gradbookChecks` (what the old helpers
 * cell looks for). Installing twice does nothing.
 */
export function installTestHelpers(g: any = globalThis): void {
  if (getOwn(g, "__gradbookChecks")) return;
  for (const name of TEST_HELPER_NAMES) {
    const fn = testHelpers[name];
    define(g, name, {
      configurable: false,
      enumerable: false,
      get: () => fn,
      set: () => {
        throw new TypeError("'" + name + "' is a test helper of this notebook and cannot be replaced: use another name");
      },
    });
  }
  define(g, "__gradbookChecks", { value: freeze({ AssertionError, ...testHelpers }), configurable: false, writable: false, enumerable: false });
}
