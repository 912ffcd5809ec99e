// tslab compatibility (issue 15): a notebook written for tslab 1.0.22 runs unchanged through nbconvert;
// and the first cell after a restart does not wait for the type checker.
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JUPYTER, makeJupyterEnv, run, runScenario, stripAnsi, type JupyterEnv } from "./helpers.ts";

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

let env: JupyterEnv;
beforeAll(() => {
  env = makeJupyterEnv();
});
afterAll(() => env?.cleanup());

const PNG = [137, 80, 78, 71, 13, 10, 26, 10];
const b64 = (bytes: number[]) => Buffer.from(bytes).toString("base64");

test("a tslab notebook runs unchanged: displays of every kind, one MIME type each; newDisplay() updated in place; versions; cell tags", async () => {
  const cells = [
    // tslab's README idioms
    'import * as tslab from "tslab";\ntslab.versions',
    [
      'tslab.display.html("<b>html</b>");',
      'tslab.display.markdown("# md");',
      'tslab.display.latex("$x^2$");',
      'tslab.display.svg("<svg xmlns=\'http://www.w3.org/2000/svg\'></svg>");',
      'tslab.display.javascript("console.log(1)");',
      'tslab.display.text("plain");',
      `tslab.display.png(new Uint8Array(${JSON.stringify(PNG)}));`,
      "tslab.display.jpeg(new Uint8Array([255, 216, 255]));",
      'tslab.display.gif(new Uint8Array([71, 73, 70]));',
      "tslab.display.pdf(new Uint8Array([37, 80, 68, 70]));",
      'tslab.display.raw("application/x-custom", "raw text");',
    ].join("\n"),
    'const progress = tslab.newDisplay();\nfor (const step of [1, 2, 3]) progress.text(`step ${step}`);\nprogress.html("<i>done</i>");',
    'const tslab2 = require("tslab");\ntslab2 === tslab',
    "/** @module mathlib */\nexport function square(n: number): number {\n  return n * n;\n}",
    'import { square } from "./mathlib";\nsquare(12)',
    "/**\n * @jsx\n */\nconst React = { createElement: (tag: string, props: unknown, ...children: unknown[]) => ({ tag, children }) };\nJSON.stringify(<p>jsx</p>)",
    "/** @node */\nprocess.version.startsWith('v')",
    "/** @browser */\ndocument.body.textContent = 'browser only';",
  ];
  const dir = join(env.dir, "notebooks");
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: "gradbook", display_name: "TypeScript (gradbook)", language: "typescript" }, language_info: { name: "typescript" } },
    cells: cells.map((source, i) => ({ id: `c${i}`, cell_type: "code", metadata: {}, execution_count: null, outputs: [], source })),
  };
  writeFileSync(join(dir, "tslab.ipynb"), JSON.stringify(nb));
  const r = await run(JUPYTER, ["nbconvert", "--to", "notebook", "--execute", "tslab.ipynb", "--output", "tslab.out.ipynb"], { env: env.env, cwd: dir });
  if (r.code !== 0) console.log(r.stdout, r.stderr);
  expect(r.code).toBe(0);
  const out = JSON.parse(readFileSync(join(dir, "tslab.out.ipynb"), "utf8"));
  const join_ = (x: unknown) => (Array.isArray(x) ? x.join("") : x);
  const outputs = out.cells.map((c: any) => c.outputs.map((o: any) => ({ ...o, text: join_(o.text), data: o.data && Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, join_(v)])) })));

  const versions = outputs[0][0].data["text/plain"];
  expect(versions).toMatch(/tslab: '1\.0\.22'/);
  expect(versions).toMatch(/typescript: '5\.\d+\.\d+'/);
  expect(versions).toContain(`node: '${process.version}'`);

  // one display_data per call, each with exactly one MIME type (bytes as base64)
  expect(outputs[1].map((o: any) => o.output_type)).toEqual(Array(11).fill("display_data"));
  expect(outputs[1].map((o: any) => o.data)).toEqual([
    { "text/html": "<b>html</b>" },
    { "text/markdown": "# md" },
    { "text/latex": "$x^2$" },
    { "image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg'></svg>" },
    { "text/javascript": "console.log(1)" },
    { "text/plain": "plain" },
    { "image/png": b64(PNG) },
    { "image/jpeg": b64([255, 216, 255]) },
    { "image/gif": b64([71, 73, 70]) },
    { "application/pdf": b64([37, 80, 68, 70]) },
    { "application/x-custom": "raw text" },
  ]);

  // newDisplay(): one output, updated in place three times (its last content kept)
  expect(outputs[2]).toHaveLength(1);
  expect(outputs[2][0]).toMatchObject({ output_type: "display_data", data: { "text/html": "<i>done</i>" } });
  expect(outputs[2][0].transient).toBeUndefined(); // (nbformat keeps no transient data)

  expect(outputs[3][0].data["text/plain"]).toBe("true");
  // @module: not run, importable as ./mathlib
  expect(outputs[4]).toEqual([]);
  expect(outputs[5][0].data["text/plain"]).toBe("144");
  expect(outputs[6][0].data["text/plain"]).toBe(`'{"tag":"p","children":["jsx"]}'`);
  expect(outputs[7][0].data["text/plain"]).toBe("true");
  // @browser: not run here, and said so
  expect(outputs[8]).toHaveLength(1);
  expect(outputs[8][0]).toMatchObject({ output_type: "stream", name: "stderr" });
  expect(outputs[8][0].text).toMatch(/tagged @browser.*not run/);
  expect(out.cells.every((c: any) => c.outputs.every((o: any) => o.output_type !== "error"))).toBe(true);
});

test("after a restart the first cell returns while the type checker is cold; its type error is still reported; completion answers from live objects meanwhile", async () => {
  const r = await runScenario(
    `
d = Driver()
res = {}
d.km.restart_kernel(now=False)
d.kc.wait_for_ready(timeout=60)
x = d.execute("const s: string = 42;\\nlet counter = 1;\\nconst t = gb.zeros([2]);\\ns")
res["first"] = {"status": x["reply"]["status"], "text": d.text(x)}
res["complete_var"] = d.reply(d.kc.complete("coun", 4))["content"]
res["complete_method"] = d.reply(d.kc.complete("t.resh", 6))["content"]
res["complete_module"] = d.reply(d.kc.complete('import { readFile } from "node:f', 32))["content"]
# a %%strict cell waits for its check, so the service is warm after it, and the first cell's check is done
x = d.execute("%%strict\\nconst n: number = 1; n")
res["strict"] = {"status": x["reply"]["status"], "text": d.text(x)}
d.close()
emit(res)
`,
    env,
  );
  expect(r.first.status).toBe("ok");
  expect(stripAnsi(r.first.text)).toBe("42"); // ran at once, no type error yet: the checker was cold
  expect(r.complete_var.matches).toEqual(["counter"]);
  expect(r.complete_method.matches).toContain("reshape");
  expect(r.complete_module.matches).toEqual(expect.arrayContaining(["node:fs", "node:fs/promises"]));
  expect(r.complete_module.cursor_start).toBe(26);
  expect(r.strict.status).toBe("ok");
  const late = stripAnsi(r.strict.text);
  expect(late).toMatch(/Type errors of In\[1\] \(its check ended after it ran\):\nIn\[1\] line 1: error TS2322: Type 'number' is not assignable to type 'string'\./);
  expect(late).toMatch(/\.\n1$/); // (then the cell's own result)
});
