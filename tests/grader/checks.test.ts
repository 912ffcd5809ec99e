// The test helpers the kernel preloads (kernel/asserts.ts), installed in the global scope of a fresh
// context with the context's own built-ins, as the kernel installs them in its own.
import { expect, test } from "vitest";
import vm from "node:vm";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync, transformSync } from "esbuild";
import { TEST_HELPERS_DTS } from "../../kernel/asserts.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
/** kernel/asserts.ts as a script that installs the helpers on its realm's globalThis. */
const INSTALL = buildSync({ entryPoints: [join(HERE, "..", "..", "kernel", "asserts.ts")], bundle: true, format: "iife", globalName: "__asserts", write: false }).outputFiles[0].text + "\n__asserts.installTestHelpers(globalThis);";
/** The locked helpers cell that notebooks made before the kernel preloaded the helpers carry (grade id gradbook_checks). */
const OLD_CELL = readFileSync(join(HERE, "fixtures", "gradbook_checks-cell.ts"), "utf8");

function context() {
  const ctx = vm.createContext({});
  vm.runInContext(INSTALL, ctx, { filename: "asserts.js" });
  const run = (code: string) => vm.runInContext(code, ctx, { filename: "cell.js" });
  const error = (code: string): string => {
    try {
      run(code);
    } catch (e: any) {
      return `${e.name}: ${e.message}`;
    }
    return "no error";
  };
  return { run, error };
}

test("assert, assertEqual, assertClose, assertThrows: verdicts and messages", () => {
  const { error } = context();
  expect(error("assert(1 + 1 === 2)")).toBe("no error");
  expect(error("assert(0, 'zero')")).toBe("AssertionError: zero: assertion failed");
  expect(error("assertEqual({ a: [1, 2, { b: NaN }] }, { a: [1, 2, { b: NaN }] })")).toBe("no error");
  expect(error("assertEqual({ a: [1, 2] }, { a: [1, 3] })")).toBe("AssertionError: assertEqual: value.a[1]: got 2, expected 3");
  expect(error("assertEqual([1], [1, 2])")).toBe("AssertionError: assertEqual: value: got length 1, expected length 2");
  expect(error("assertEqual({ a: 1 }, { a: 1, b: 2 })")).toBe('AssertionError: assertEqual: value: missing key "b"');
  expect(error("assertEqual('1', 1)")).toBe('AssertionError: assertEqual: value: got "1" (string), expected 1 (number)');
  expect(error("assertEqual(new Float32Array([1, 2]), [1, 2])")).toBe("no error");
  // torch.allclose's rule: |a - e| <= atol + rtol * |e|, defaults rtol 1e-5, atol 1e-8
  expect(error("assertClose(1 + 1e-6, 1)")).toBe("no error");
  expect(error("assertClose(1 + 1e-4, 1)")).toMatch(/^AssertionError: assertClose: got 1.0001, expected 1 \(\|difference\| 0\.0000?9*\d* > atol 1e-8 \+ rtol 0\.00001 \* \|expected\|\)$/);
  expect(error("assertClose([[1, 2], [3, 4]], [[1, 2], [3, 4.5]], 0.1)")).toBe(
    "AssertionError: assertClose: got 4 at [1, 1], expected 4.5 (|difference| 0.5 > atol 0.1 + rtol 0 * |expected|) (1 of 4 elements differ)",
  );
  expect(error("assertClose([1, 2], [1, 2, 3])")).toBe("AssertionError: assertClose: got shape [2], expected shape [3]");
  expect(error("assertClose([[1], [2, 3]], [1])")).toBe("AssertionError: the actual value is a ragged array (rows of different shapes)");
  expect(error("assertClose({ shape: [2], dataSync: () => new Float32Array([0.5, 1]) }, [0.5, 1])")).toBe("no error");
  expect(error("assertClose({ shape: [1], dataSync: () => { throw new Error('gpu') } }, [1])")).toBe(
    "AssertionError: cannot read the actual tensor synchronously (gpu); pass await t.toArray() instead",
  );
  expect(error("assertClose(NaN, NaN)")).toBe("no error");
  expect(error("assertThrows(() => { throw new Error('bad shape') }, /shape/)")).toBe("no error");
  expect(error("assertThrows(() => 1)")).toBe("AssertionError: assertThrows: the function did not throw");
  expect(error("assertThrows(() => { throw new Error('x') }, 'y')")).toBe('AssertionError: assertThrows: the error "x" does not match y');
});

test("code cannot replace, redefine or delete the helpers, nor change their verdicts by patching built-ins", () => {
  const { run, error } = context();
  expect(error("assert = () => {}")).toBe("TypeError: 'assert' is a test helper of this notebook and cannot be replaced: use another name");
  expect(error("globalThis.assertEqual = () => {}")).toBe("TypeError: 'assertEqual' is a test helper of this notebook and cannot be replaced: use another name");
  expect(error("Object.defineProperty(globalThis, 'assertClose', { value: () => {} })")).toBe("TypeError: Cannot redefine property: assertClose");
  expect(error("function assert() {}")).toMatch(/^(SyntaxError|TypeError): .*assert/);
  expect(error("let assertThrows = 1")).toMatch(/^SyntaxError: .*assertThrows/);
  expect(run("delete globalThis.assert")).toBe(false);
  // frozen: the functions, the error class and its prototype
  expect(run("[assert, assertEqual, assertClose, assertThrows, __gradbookChecks, __gradbookChecks.AssertionError, __gradbookChecks.AssertionError.prototype].every(Object.isFrozen)")).toBe(true);
  run("Math.abs = () => 0; JSON.stringify = () => '[]'; Array.isArray = () => false; Reflect.apply = () => undefined; Object.keys = () => []; Error.captureStackTrace = () => {}");
  run("RegExp.prototype.test = () => true; String.prototype.includes = () => true; Array.from = () => []");
  expect(error("assertClose(2, 1)")).toMatch(/^AssertionError: assertClose: got 2, expected 1/);
  expect(error("assertEqual([1, 2], [1, 3])")).toBe("AssertionError: assertEqual: value[1]: got 2, expected 3");
  expect(error("assert(false)")).toBe("AssertionError: assertion failed");
  expect(error("assertThrows(() => { throw new Error('x') }, /y/)")).toBe('AssertionError: assertThrows: the error "x" does not match /y/');
  expect(error("assertThrows(() => { throw new Error('x') }, 'y')")).toBe('AssertionError: assertThrows: the error "x" does not match y');
});

test("the helpers cell of older notebooks does nothing where the helpers are preloaded", () => {
  const { run, error } = context();
  const before = run("assertEqual");
  expect(error(transformSync(OLD_CELL, { loader: "ts" }).code)).toBe("no error");
  expect(run("assertEqual")).toBe(before);
  expect(error("assertEqual(1, 2)")).toBe("AssertionError: assertEqual: value: got 1, expected 2");
});

test("a failed check's traceback starts at the test's line, not inside the helpers", () => {
  // in a plain Node process (the test runner rewrites stack traces)
  const script = `const vm = require("node:vm");
const ctx = vm.createContext({});
vm.runInContext(${JSON.stringify(INSTALL)}, ctx, { filename: "asserts.js" });
try { vm.runInContext("\\n\\nassertEqual(1, 2)", ctx, { filename: "cell.js", displayErrors: false }); } catch (e) { process.stdout.write(e.stack); }`;
  const stack = execFileSync(process.execPath, ["-e", script], { encoding: "utf8" });
  const frames = stack.split("\n").filter((l) => /^\s+at /.test(l));
  expect(stack.split("\n")[0]).toBe("AssertionError: assertEqual: value: got 1, expected 2");
  expect(frames[0]).toMatch(/^\s+at cell\.js:3:1$/);
  expect(stack).not.toMatch(/asserts\.js/);
});

test("the declarations the language service gets, and the old helpers cell after them, type-check (strict)", async () => {
  const ts = (await import("typescript")).default;
  const dir = mkdtempSync(join(tmpdir(), "gradbook-checks-"));
  try {
    const globals = join(dir, "globals.d.ts"), use = join(dir, "use.ts"), old = join(dir, "old.ts");
    writeFileSync(globals, TEST_HELPERS_DTS);
    writeFileSync(use, "const x: unknown = 1;\nassert(typeof x === 'number');\nconst y: number = x;\nassertEqual(y, 1);\nassertClose([1], [1], { atol: 0 });\nassertThrows(() => 1, /a/);\nexport {};\n");
    writeFileSync(old, OLD_CELL + "\nexport {};\n");
    const program = ts.createProgram([globals, use, old], {
      strict: true,
      noImplicitAny: false,
      target: ts.ScriptTarget.ES2022,
      lib: ["lib.es2023.d.ts", "lib.dom.d.ts"],
      types: [],
      skipLibCheck: true,
      noEmit: true,
    });
    const diags = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(diags).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
