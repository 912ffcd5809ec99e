/**
 * A small stand-in for vitest's runner, for the GPU machine (which has no node_modules): the
 * WebGPU test files are bundled with `vitest` aliased to this module (bench/device/bundle.mjs).
 * `expect` is vitest's own (@vitest/expect on chai); describe / it / hooks run in order, a file's
 * tests one after another, and a summary line and the failures are printed at the end.
 */
import { chai, getState, GLOBAL_EXPECT, JestAsymmetricMatchers, JestChaiExpect, JestExtend, setState } from "@vitest/expect";

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

type Fn = () => unknown;
interface Suite {
  name: string;
  skip: boolean;
  items: (Suite | Test)[];
  beforeAll: Fn[];
  afterAll: Fn[];
  beforeEach: Fn[];
  afterEach: Fn[];
}
interface Test {
  name: string;
  fn: Fn;
  skip: boolean;
}

const expectFn = ((value: unknown, message?: string) => {
  const { assertionCalls } = getState(expectFn as never);
  setState({ assertionCalls: assertionCalls + 1 }, expectFn as never);
  return chai.expect(value, message);
}) as unknown as Record<string, unknown> & ((value: unknown, message?: string) => Chai.Assertion);
Object.assign(expectFn, chai.expect);
expectFn.getState = () => getState(expectFn as never);
expectFn.setState = (s: object) => setState(s as never, expectFn as never);
setState({ assertionCalls: 0, isExpectingAssertions: false, isExpectingAssertionsError: null, expectedAssertionsNumber: null, expectedAssertionsNumberErrorGen: null }, expectFn as never);
(globalThis as Record<string | symbol, unknown>)[GLOBAL_EXPECT] = expectFn;
export const expect = expectFn as unknown as typeof import("vitest").expect;

const root: Suite = { name: "", skip: false, items: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] };
let current = root;

function addSuite(name: string, fn: Fn, skip: boolean): void {
  const s: Suite = { name, skip: skip || current.skip, items: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] };
  current.items.push(s);
  const parent = current;
  current = s;
  try {
    fn();
  } finally {
    current = parent;
  }
}
function addTest(name: string, fn: Fn, skip: boolean): void {
  current.items.push({ name, fn, skip: skip || current.skip });
}

/** vitest's (name, fn, options?) and (name, options, fn) forms: the function, wherever it is (options are ignored). */
const fnOf = (a: unknown, b: unknown): Fn => (typeof a === "function" ? (a as Fn) : (b as Fn));
export const describe = Object.assign((name: string, a: unknown, b?: unknown) => addSuite(name, fnOf(a, b), false), {
  skipIf: (cond: unknown) => (name: string, a: unknown, b?: unknown) => addSuite(name, fnOf(a, b), !!cond),
  skip: (name: string, a: unknown, b?: unknown) => addSuite(name, fnOf(a, b), true),
});
export const it = Object.assign((name: string, a: unknown, b?: unknown) => addTest(name, fnOf(a, b), false), {
  skipIf: (cond: unknown) => (name: string, a: unknown, b?: unknown) => addTest(name, fnOf(a, b), !!cond),
  skip: (name: string, a: unknown, b?: unknown) => addTest(name, fnOf(a, b), true),
});
export const test = it;
export const beforeAll = (fn: Fn) => void current.beforeAll.push(fn);
export const afterAll = (fn: Fn) => void current.afterAll.push(fn);
export const beforeEach = (fn: Fn) => void current.beforeEach.push(fn);
export const afterEach = (fn: Fn) => void current.afterEach.push(fn);

/** Starts a new file: its describe / it calls go into a fresh top-level suite named `file`. */
export function beginFile(file: string): void {
  const s: Suite = { name: file, skip: false, items: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] };
  root.items.push(s);
  current = s;
}

let passed = 0, skipped = 0;
const failures: string[] = [];
const started = performance.now();

async function run(s: Suite, path: string[], each: Fn[][], filter?: RegExp): Promise<void> {
  const here = s.name ? [...path, s.name] : path;
  const hooks = [...each, s.beforeEach];
  if (!s.skip) for (const h of s.beforeAll) await h();
  for (const item of s.items) {
    if ("items" in item) {
      await run(item, here, hooks, filter);
      continue;
    }
    const name = [...here, item.name].join(" > ");
    if (item.skip || (filter && !filter.test(name))) {
      skipped++;
      continue;
    }
    const ts = performance.now();
    try {
      for (const list of hooks) for (const h of list) await h();
      await item.fn();
      for (const h of s.afterEach) await h();
      passed++;
      const ms = performance.now() - ts;
      if (ms > 2000) console.log(`  slow ${ms.toFixed(0)} ms: ${name}`);
    } catch (e) {
      failures.push(`FAIL ${name}\n  ${String((e as Error)?.stack ?? e).split("\n").slice(0, 8).join("\n  ")}`);
      console.log(`FAIL ${name}: ${String((e as Error)?.message ?? e).split("\n")[0]}`);
    }
  }
  if (!s.skip) for (const h of s.afterAll) await h();
}

/** Runs the file begun last (vitest runs each file on its own: its afterAll may release the GPU). */
export async function runFile(filter?: RegExp): Promise<void> {
  const file = root.items[root.items.length - 1] as Suite;
  const before = passed + failures.length;
  const ts = performance.now();
  await run(file, [], [], filter);
  console.log(`${file.name}: ${passed + failures.length - before} run in ${((performance.now() - ts) / 1000).toFixed(1)} s`);
}

/** Prints the failures and a summary line; returns the number of failures. */
export function summary(): number {
  for (const f of failures) console.log(f);
  console.log(`tests: ${passed} passed, ${failures.length} failed, ${skipped} skipped in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return failures.length;
}
