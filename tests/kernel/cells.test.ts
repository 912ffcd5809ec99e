// Notebook semantics of TypeScript cells, through Debian's jupyter_client.
import { afterAll, beforeAll, expect, test, vi } from "vitest";

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { makeJupyterEnv, runScenario, stripAnsi, type JupyterEnv } from "./helpers.ts";

let env: JupyterEnv;
let r: Record<string, any>;

// Declarations with doc comments, each run as a cell, then inspected from later cells: the kernel's
// answer must be TypeScript's for the same declarations and code in one file.
const docCells = [
  "/** Adds two numbers.\n * @param a first\n * @param b second\n */\nfunction add(a: number, b: number) { return a + b }",
  "/** A counter that steps. */\nclass Counter {\n  /** The count so far. */\n  count = 0;\n  /**\n   * Steps the count.\n   * @param by how much\n   * @returns the new count\n   */\n  step(by: number): number { return (this.count += by) }\n}",
  "/** Scales a number by a factor. @param k the factor */\nconst scale = (x: number, k: number) => x * k",
  "/** A shape with an area. */\ninterface Shape {\n  /** The area in square units. */\n  area(): number\n}",
  "/** The first of two. */\nconst first = 1, /** The second of two. */ second = 2",
  "/**\n * Parses a number.\n * @param s decimal digits\n */\nfunction parse(s: string): number;\n/** Parses a number, or passes it through. */\nfunction parse(s: number): number;\nfunction parse(s: string | number) { return Number(s) }",
];
// [cell inspected, the text the cursor is in (the cursor after its first character)]
const docInspections: [string, string][] = [
  ["add(1, 2)", "add"],
  ["const c = new Counter();", "Counter"],
  ["new Counter().step(1)", "step"],
  ["new Counter().count", "count"],
  ["scale(2, 3)", "scale"],
  ["let s: Shape", "Shape"],
  ["const sh: Shape = { area: () => 1 };\nsh.area()", "area()"],
  ["first + second", "first"],
  ["first + second", "second"],
  ['parse("1")', "parse"],
  ["parse(1)", "parse"],
];

/** TypeScript's quick info for `code` after the declarations, in one file: the inspection's parts. */
const reference = { text: "", version: 0, ls: null as ts.LanguageService | null };
function referenceInspection(code: string, cursor: number) {
  const file = "/notebook.ts";
  const prefix = docCells.join("\n") + "\n";
  reference.text = prefix + code + "\n;export {};\n";
  reference.version++;
  reference.ls ??= ts.createLanguageService({
    getScriptFileNames: () => [file],
    getScriptVersion: (f) => (f === file ? String(reference.version) : "1"),
    getScriptSnapshot: (f) => (f === file ? ts.ScriptSnapshot.fromString(reference.text) : ts.sys.fileExists(f) ? ts.ScriptSnapshot.fromString(ts.sys.readFile(f)!) : undefined),
    getCurrentDirectory: () => "/",
    getCompilationSettings: () => ({ strict: true, target: ts.ScriptTarget.ES2022, types: [] }),
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: (f) => f === file || ts.sys.fileExists(f),
    readFile: (f) => (f === file ? reference.text : ts.sys.readFile(f)),
  });
  const info = reference.ls.getQuickInfoAtPosition(file, prefix.length + cursor)!;
  return {
    sig: ts.displayPartsToString(info.displayParts),
    doc: ts.displayPartsToString(info.documentation),
    tags: (info.tags ?? []).map((tag) => `@${tag.name}${tag.text ? " " + ts.displayPartsToString(tag.text) : ""}`),
  };
}

beforeAll(async () => {
  env = makeJupyterEnv();
  // npm packages in the notebook's folder: one ESM-only, one CommonJS
  const nm = join(env.dir, "notebooks", "node_modules");
  mkdirSync(join(nm, "esm-only"), { recursive: true });
  writeFileSync(join(nm, "esm-only", "package.json"), JSON.stringify({ name: "esm-only", type: "module", exports: { ".": { import: "./index.js" } } }));
  writeFileSync(join(nm, "esm-only", "index.js"), "export const hello = (n) => `hello ${n}`; export default 42;\n");
  mkdirSync(join(nm, "cjs-pkg"), { recursive: true });
  writeFileSync(join(nm, "cjs-pkg", "package.json"), JSON.stringify({ name: "cjs-pkg", main: "main.js" }));
  writeFileSync(join(nm, "cjs-pkg", "main.js"), "module.exports = { triple: (x) => 3 * x, name: 'cjs' };\n");
  writeFileSync(join(env.dir, "notebooks", "local.mjs"), "export const local = 'from local.mjs';\n");

  const cells = {
    // a %%strict cell waits for its type check: the checker is warm for the cells after it
    // (a cell run while it is still cold has its type errors reported with a later cell)
    warm: "%%strict\n0",
    constAgain1: "const a: number = 1; a",
    constAgain2: "const a = 2; a + 1",
    letPersist: "let counter = 10",
    letUse: "counter += 5; counter",
    fnDecl: "function double(x: number): number { return 2 * x }",
    ...Object.fromEntries(docCells.map((code, i) => [`docCell${i}`, code])),
    // a cell tag is no doc comment of the declaration after it
    taggedDecl: "/** @node */\nfunction tagged(): number { return 1 }",
    fnUse: "double(counter)",
    docFn: "/**\n * Halves a number.\n * @param x the number\n * @returns x / 2\n */\nfunction half(x: number) { return x / 2 }",
    classDecl: "class Point { constructor(public x: number, public y: number) {} norm() { return Math.hypot(this.x, this.y) } }",
    classUse: "new Point(3, 4).norm()",
    classAgain: "class Point { z = 1 }\nnew Point().z",
    enumDecl: "enum Color { Red, Green }\nColor.Green",
    destructure: "const { p, q: [r1, r2] } = { p: 'P', q: [1, 2] }; `${p}${r1}${r2}`",
    asi: "let before = 1\nconst [d1, d2] = [3, 4]\nbefore + d1 + d2",
    awaitTop: "const v = await Promise.resolve(7); v * 6",
    awaitPersist: "v",
    awaitParen: "await (Promise.resolve(5))",
    asyncFn: "async function later() { return 'later' }\nawait later()",
    esm: 'import answer, { hello } from "esm-only";\nhello(answer)',
    cjs: 'import cjs from "cjs-pkg";\nimport { triple } from "cjs-pkg";\n`${cjs.name} ${triple(3)}`',
    requireCjs: 'require("cjs-pkg").triple(5)',
    localImport: 'import { local } from "./local.mjs";\nlocal',
    builtin: 'import { basename } from "node:path";\nimport * as os from "os";\nbasename("/a/b.txt") + typeof os.cpus',
    objectLiteral: "{ a: 1, b: 'two' }",
    noValue: "const nothing = 1;",
    undef: "undefined",
    string: "'quoted'",
    errorLine: "const ok = 1;\n\nfunction boom() {\n  throw new RangeError('too big')\n}\nboom()",
    errorLater: "boom()",
    typeError: "const s: string = 42;\nconsole.log('still ran', s)",
    strict: "%%strict\nconst s2: string = 42;\nconsole.log('must not run')",
    strictOk: "%%strict\nconst s3: string = 'fine'; s3",
    strictGbTypes: "%%strict\nconst z: gb.Tensor = gb.zeros([2]);\nconst lin: gb.nn.Module = new gb.nn.Linear(2, 1);\nz.shape.length + lin.parameters().length",
    syntax: "const = 5",
    unhandled: "Promise.reject(new Error('nobody catches me')); await new Promise(r => setTimeout(r, 50)); 'after'",
    alive: "1 + 1",
    gbSame: 'import * as gb2 from "gradbook";\ngb2 === gb',
    async: "await new Promise(r => setTimeout(r, 20)); console.log('x'); 3",
    lastValue: "_",
    unknownMagic: "%%nope\n1",
  };
  r = await runScenario(
    `
d = Driver()
cells = ${JSON.stringify(cells)}
res = {}
for name, code in cells.items():
    x = d.execute(code)
    res[name] = {"reply": x["reply"], "text": d.text(x), "types": [o["type"] for o in x["outputs"]], "outputs": x["outputs"]}
def ask(msg_id):
    return d.reply(msg_id)["content"]
res["complete_gb"] = ask(d.kc.complete("gb.tens", 7))
res["complete_cell"] = ask(d.kc.complete("coun", 4))
res["complete_class"] = ask(d.kc.complete("new Point().z", 13))
res["inspect_gb"] = ask(d.kc.inspect("gb.tensor", 9))
res["inspect_fn"] = ask(d.kc.inspect("double", 6))
res["inspect_let"] = ask(d.kc.inspect("let total: number", 6))
res["inspect_tags"] = ask(d.kc.inspect(cells["docFn"], cells["docFn"].index("half") + 2))
res["inspect_earlier_docs"] = [ask(d.kc.inspect(code, code.index(marker) + 1)) for code, marker in ${JSON.stringify(docInspections)}]
res["inspect_tagged"] = ask(d.kc.inspect("tagged()", 1))
d.close()
emit(res)
`,
    env,
  );
}, 120_000);
afterAll(() => env?.cleanup());

const ok = (name: string) => {
  expect(r[name].reply.status, `${name}: ${r[name].text}`).toBe("ok");
  return stripAnsi(r[name].text).trim();
};

test("const can be declared again by re-running or changing a cell", () => {
  expect(ok("constAgain1")).toBe("1");
  expect(ok("constAgain2")).toBe("3");
});

test("let, function, class, enum and destructuring persist across cells", () => {
  expect(ok("letPersist")).toBe("");
  expect(ok("letUse")).toBe("15");
  expect(ok("fnDecl")).toBe("");
  expect(ok("fnUse")).toBe("30");
  expect(ok("classUse")).toBe("5");
  expect(ok("classAgain")).toBe("1");
  expect(ok("enumDecl")).toBe("1");
  expect(ok("destructure")).toBe("'P12'");
  expect(ok("asi")).toBe("8");
});

test("top-level await, and declarations made after an await persist", () => {
  expect(ok("awaitTop")).toBe("42");
  expect(ok("awaitPersist")).toBe("7");
  expect(ok("awaitParen")).toBe("5");
  expect(ok("asyncFn")).toBe("'later'");
  expect(ok("async")).toBe("x\n3");
});

test("ESM and CommonJS packages import from the notebook's folder; builtins; gradbook is the preloaded instance", () => {
  expect(ok("esm")).toBe("'hello 42'");
  expect(ok("cjs")).toBe("'cjs 9'");
  expect(ok("requireCjs")).toBe("15");
  expect(ok("localImport")).toBe("'from local.mjs'");
  expect(ok("builtin")).toBe("'b.txtfunction'");
  expect(ok("gbSame")).toBe("true");
});

test("results display like a JS REPL", () => {
  expect(ok("objectLiteral")).toBe("{ a: 1, b: 'two' }");
  expect(r.noValue.types).toEqual([]);
  expect(r.undef.types).toEqual([]);
  expect(ok("string")).toBe("'quoted'");
  expect(ok("lastValue")).toBe("3");
});

test("errors name the exception and point at the line of the cell", () => {
  const e = r.errorLine.reply;
  expect(e.status).toBe("error");
  expect(e.ename).toBe("RangeError");
  expect(e.evalue).toBe("too big");
  const tb = stripAnsi(e.traceback.join("\n"));
  expect(tb).toMatch(/line 4/);
  expect(tb).toMatch(/throw new RangeError/);
  expect(tb).toMatch(/at boom \(In\[\d+\]:4:\d+\)/);
  expect(tb).not.toMatch(/kernel\.js|node:internal/);
  // a function from an earlier cell, called later: the trace points at the cell that defined it
  const later = stripAnsi(r.errorLater.reply.traceback.join("\n"));
  expect(later).toMatch(new RegExp(`In\\[${r.errorLine.reply.execution_count}\\]:4`));
  expect(r.syntax.reply.ename).toBe("SyntaxError");
  expect(stripAnsi(r.syntax.reply.traceback.join("\n"))).toMatch(/line 1/);
  expect(r.unknownMagic.reply.status).toBe("error");
});

test("type errors are shown with their line and do not stop the cell; %%strict makes them fatal", () => {
  const t = stripAnsi(ok("typeError"));
  expect(t).toMatch(/line 1: error TS2322/);
  expect(t).toMatch(/still ran 42/);
  expect(r.strict.reply.status).toBe("error");
  expect(stripAnsi(r.strict.reply.traceback.join("\n"))).toMatch(/line 2: error TS2322/);
  expect(r.strict.text).not.toMatch(/must not run/);
  expect(ok("strictOk")).toBe("'fine'");
  // gb is a namespace for types too: gb.Tensor, gb.nn.Module
  expect(ok("strictGbTypes")).toBe("3");
});

test("an unhandled promise rejection is reported, not fatal", () => {
  const t = ok("unhandled");
  expect(t).toMatch(/nobody catches me/);
  expect(t).toMatch(/'after'/);
  expect(ok("alive")).toBe("2");
});

test("completion and inspection know the earlier cells and the engine's types and doc comments", () => {
  expect(r.complete_gb.matches).toContain("tensor");
  expect(r.complete_gb.cursor_start).toBe(3);
  expect(r.complete_cell.matches).toEqual(["counter"]);
  expect(r.complete_class.matches).toEqual(["z"]); // the class as re-declared by the latest cell
  expect(r.inspect_gb.found).toBe(true);
  expect(r.inspect_gb.data["text/plain"]).toMatch(/function tensor\(/);
  expect(r.inspect_gb.data["text/plain"]).toMatch(/A tensor from nested arrays/);
  expect(r.inspect_gb.data["text/markdown"]).toMatch(/```typescript/);
  expect(r.inspect_fn.data["text/plain"]).toMatch(/function double\(x: number\): number/);
});

test("the inspection's markdown: the signature, the doc comment, each tag in a paragraph; no empty list item (JupyterLab's tooltip drew a bullet)", () => {
  expect(r.inspect_let.data["text/markdown"]).toBe("```typescript\nlet total: number\n```");
  expect(r.inspect_tags.data["text/markdown"]).toBe("```typescript\nfunction half(x: number): number\n```\n\nHalves a number.\n\n*@param* x the number\n\n*@returns* x / 2");
  expect(r.inspect_tags.data["text/plain"]).toBe("function half(x: number): number\n\nHalves a number.\n\n@param x the number\n@returns x / 2");
  for (const reply of [r.inspect_let, r.inspect_tags, r.inspect_gb, r.inspect_fn]) expect(reply.data["text/markdown"]).not.toMatch(/^\s*[*+-]\s*$/m);
});

test("inspecting a name declared in an earlier cell shows its doc comment and tags, as TypeScript does for the same code in one file", () => {
  docInspections.forEach(([code, marker], i) => {
    const ref = referenceInspection(code, code.indexOf(marker) + 1);
    const reply = r.inspect_earlier_docs[i];
    expect(ref.doc, code).not.toBe(""); // (the reference documents every case)
    expect(reply.found, code).toBe(true);
    expect.soft(reply.data["text/plain"], code).toBe([ref.sig, ref.doc, ref.tags.join("\n")].filter(Boolean).join("\n\n"));
    expect.soft(reply.data["text/markdown"], code).toBe(["```typescript\n" + ref.sig + "\n```", ref.doc, ...ref.tags.map((tag) => tag.replace(/^@(\w+)/, "*@$1*"))].join("\n\n"));
  });
  expect(r.inspect_earlier_docs[0].data["text/plain"]).toBe("function add(a: number, b: number): number\n\nAdds two numbers.\n\n@param a first\n@param b second");
  expect(r.inspect_tagged.data["text/plain"]).toBe("function tagged(): number");
});
