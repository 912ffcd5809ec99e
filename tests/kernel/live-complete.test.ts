// Completion from live objects (kernel/ts/live-complete.ts): what the kernel answers while its language service loads, and where it gives the service's answer.
import { afterAll, expect, test } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { completeFromLiveObjects, liveAnswerIsExact, standaloneExpression } from "../../kernel/ts/live-complete.ts";
import { Notebook } from "../../kernel/ts/language.ts";
import { nodeEnvironment } from "../../kernel/ts/language-node.ts";
import { nodePlatform } from "../../kernel/ts/node.ts";

const dir = mkdtempSync(join(tmpdir(), "gb-live-"));
mkdirSync(join(dir, "node_modules", "@scope", "pkg"), { recursive: true });
mkdirSync(join(dir, "node_modules", "leftpad"), { recursive: true });
writeFileSync(join(dir, "data.json"), "{}");
writeFileSync(join(dir, "helper.ts"), "");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const host = nodePlatform(dir, () => {});
const complete = (code: string, cursor = code.length) => completeFromLiveObjects(code, cursor, host);

const g = globalThis as any;
g.liveCounter = 1;
g.liveTensorLike = new (class Thing {
  secret = 1;
  reshape() {}
  resize() {}
})();
Object.defineProperty(g, "liveGetter", { get: () => { throw new Error("a getter must not run"); }, configurable: true });
g.liveProxy = new Proxy({}, { get: () => { throw new Error("a trap must not run"); } });
afterAll(() => ["liveCounter", "liveTensorLike", "liveGetter", "liveProxy"].forEach((k) => delete g[k]));

test("globals (an earlier cell's declarations), keywords, and what the cell declares before the cursor", () => {
  expect(complete("liveCou")).toMatchObject({ matches: ["liveCounter"], cursorStart: 0, cursorEnd: 7 });
  expect(complete("const someVariable = 1; someVar")!.matches).toEqual(["someVariable"]);
  expect(complete("retu")!.matches).toEqual(["return"]);
});

test("members through plain properties, the prototype chain included; private-looking names only when typed", () => {
  expect(complete("Math.ab")).toMatchObject({ matches: ["abs"], cursorStart: 5 });
  expect(complete("liveTensorLike.res")!.matches).toEqual(["reshape", "resize"]);
  expect(complete("liveTensorLike.se")!.matches).toEqual(["secret"]);
  expect(complete("[].fil")).toBeNull(); // (an expression, not a chain of names)
});

test("no answer where reading would run code: getters, proxies, calls", () => {
  expect(complete("liveGetter.x")).toBeNull();
  expect(complete("liveProxy.x")).toBeNull();
  expect(complete("liveCounter.toFixed().len")).toBeNull();
});

test("module names in import paths: packages of the notebook's folder, builtins, the preloaded packages, files beside the notebook", () => {
  expect(complete('import { readFile } from "node:f')).toMatchObject({ matches: ["node:fs", "node:fs/promises"], cursorStart: 26 });
  expect(complete('import x from "@scope/')!.matches).toEqual(["@scope/pkg"]);
  expect(complete('const m = require("left')!.matches).toEqual(["leftpad"]);
  expect(complete('import * as w from "gradbook/')!.matches).toEqual(["gradbook/widgets"]);
  expect(complete('import h from "./')!.matches).toEqual(["./data.json", "./helper.ts"]);
});

test("where the live objects answer once the language service is warm: a top-level name or chain the cell does not bind, an import path", () => {
  for (const code of ["Math.ab", "coun", "x.resh", "display(x.resh", "gb.nn.Lin", "new gb.nn.Lin", 'import { readFileSync } from "node:f', "x.add(1);\nx.resh", "function f(a) { return a; }\ncoun", "// a comment, 2\nMath.ab", "/* x */ x.resh", 'const url = "http://a"; Math.ab'])
    expect(liveAnswerIsExact(code, code.length), code).toBe(true);
  for (const code of [
    "function f(x) { x.re", // a parameter, in a block
    "xs.map((x) => x.re", // an arrow's parameter
    "const x = 'text';\nx.len", // the cell declares it again
    "x = 'text';\nx.len", // or assigns it
    "for (const x of xs) x.re",
    "const t: gb.Ten", // a type position: types that are no values
    "let n = 1 as Num",
    "type T = gb.Ten",
    '"Math.ab', // a string
    "`${Math.ab", // a template's expression
    "// Math.ab", // a comment
    "/* Math.ab",
    "f(co", // a bare name in parentheses (parameters may be in scope)
    'import { readFileSync } from "node:fs";\nreadF', // the cell's own imports
    "const { a, b } = obj;\nb",
    "{ co",
  ])
    expect(liveAnswerIsExact(code, code.length), code).toBe(false);
});

test("the expression inspected at the cursor, as a cell of its own where it means the same", () => {
  const alone = (code: string, marker: string) => standaloneExpression(code, code.indexOf(marker) + 1);
  const at = (code: string, marker: string) => {
    const a = alone(code, marker);
    return a && { code: a.code, cursor: a.cursor };
  };
  expect(at("// edit 3\nconst y = Math.abs(-2);", "ab")).toEqual({ code: "Math.abs", cursor: 6 });
  expect(at("display(x.reshape([3, 2]))", "resh")).toEqual({ code: "x.reshape", cursor: 3 });
  // called: the interpreter asks the cell itself where the call may resolve an overload or type arguments
  for (const [code, marker] of [["display(x.reshape([3, 2]))", "resh"], ["parse(1)", "arse"], ["f?.(1)", "f"], ["tag`x`", "ag"]]) expect(alone(code, marker)?.called, code).toBe(true);
  for (const [code, marker] of [["display(x.reshape, 1)", "resh"], ["a < b", "a"], ["counter + 1", "ount"]]) expect(alone(code, marker)?.called, code).toBe(false);
  // where its place changes the answer: constructed (its constructor), a member of what is not a name
  for (const [code, marker] of [["new Counter()", "ount"], ["new gb.nn.Linear(2, 1)", "Lin"], ["new Counter().step(1)", "tep"], ["f().a.bcd", "cd"], ["xs[0].count", "ount"]]) expect(at(code, marker), code).toBeNull();
  expect(at("f(...rest)", "est")).toEqual({ code: "rest", cursor: 2 });
  expect(at("[...rest.items]", "tems")).toEqual({ code: "rest.items", cursor: 7 });
  expect(at("counter + 1", "ounter")).toEqual({ code: "counter", cursor: 2 });
  expect(at("const x = 1;\nx + 1", "\nx")).toBeNull(); // the cell binds x
  expect(at("function f(x) { return x.reshape; }", "resh")).toBeNull(); // in a block
  expect(at('import { readFileSync } from "node:fs";\nreadFileSync("a")', "fs")).toEqual({ code: 'import { readFileSync } from "node:fs";', cursor: 36 });
  expect(at('function f() {\nimport { readFileSync } from "node:fs";', "fs")).toBeNull();
  expect(at("let t: gb.Tensor", "Tens")).toBeNull(); // a type position
  // where the cell declares the name: a declaration's name or a parameter (alone, the name would be an earlier cell's, or nothing)
  for (const [code, marker] of [["let total: number", "otal"], ["let a, b: number", "b:"], ["let a = f(1), bb = 2", "bb"], ["function ff(x: number) {}", "ff"], ["function f(xx: number) {}", "xx"], ["function* gen() {}", "gen"], ["class K {}", "K"], ["const g = yy => yy", "yy"], ["try { 1 } catch (ee) { }", "ee"]])
    expect(at(code, marker), code).toBeNull();
  // uses of a name declared earlier, next to those
  expect(at("f(a, total)", "otal")).toEqual({ code: "total", cursor: 2 });
  expect(at("let q = 1, w = counter", "ounter")).toEqual({ code: "counter", cursor: 2 });
});

test("where it answers, the live objects give the language service's names (the language service as the reference)", async () => {
  const ROOT = join(import.meta.dirname, "..", "..");
  const engine = await import(pathToFileURL(join(ROOT, "dist", "gradbook.js")).href); // the kernel's own gb
  // (vitest's module namespace reads its exports through getters; the kernel's, a real one, has data properties)
  const nb = new Notebook(dir, nodeEnvironment(dir, ROOT));
  // an earlier cell, as the kernel leaves it: its declarations are globals, and the service's prelude
  Object.assign(g, { gb: { ...engine }, counter: 10, x: engine.zeros([2, 3]) });
  nb.commit("let counter = 10;\nconst x = gb.zeros([2, 3]);");
  try {
    for (const code of ["Math.ab", "Math.", "JSON.", "coun", "x.resh", "x.s", "x.grad", "gb.", "gb.nn.Lin", "gb.optim.", 'import { readFileSync } from "node:f', "console.lo"]) {
      expect(liveAnswerIsExact(code, code.length), code).toBe(true);
      const live = complete(code);
      expect(live, code).not.toBeNull();
      const typed = nb.complete(code, code.length);
      expect(typed.matches.length, code).toBeGreaterThan(0);
      expect(live!.matches, code).toEqual(typed.matches);
      expect(live!.cursorStart, code).toBe(typed.cursorStart);
    }
    // an expression inspected as a cell of its own: the same answer as in its cell
    for (const [code, marker] of [["// edit 1\nconst y = Math.abs(-2);", "ab"], ["display(x.reshape([3, 2]))", "resh"], ["counter + 1", "ount"], ["const z = gb.zeros([2]);", "zer"], ['// a\nimport { readFileSync } from "node:fs";\nreadFileSync', "fs"], ['import { readFileSync } from "node:fs";\nconst t = 1;', "readF"]]) {
      const cursor = code.indexOf(marker) + 1;
      const alone = standaloneExpression(code, cursor)!;
      expect(alone, code).not.toBeNull();
      const inCell = nb.inspect(code, cursor, 0);
      expect(inCell.found, code).toBe(true);
      expect(nb.inspect(alone.code, alone.cursor, 0), code).toEqual(inCell);
    }
  } finally {
    for (const k of ["gb", "counter", "x"]) delete g[k];
  }
}, 120_000);
