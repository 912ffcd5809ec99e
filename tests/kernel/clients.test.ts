// The kernel through real clients: nbconvert --execute (nbclient), jupyter console, jupyter kernelspec.
import { afterAll, beforeAll, expect, test, vi } from "vitest";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { JUPYTER, ROOT, makeJupyterEnv, run, stripAnsi, type JupyterEnv } from "./helpers.ts";
import { KERNEL_ENV, KERNEL_NODE_FLAGS } from "../../kernel/process-settings.ts";

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });

let env: JupyterEnv;
beforeAll(() => {
  env = makeJupyterEnv();
});
afterAll(() => env?.cleanup());

function notebook(cells: string[]) {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: "gradbook", display_name: "TypeScript (gradbook)", language: "typescript" },
      language_info: { name: "typescript" },
    },
    cells: cells.map((source, i) => ({ id: `c${i}`, cell_type: "code", metadata: {}, execution_count: null, outputs: [], source })),
  };
}

test("jupyter nbconvert --execute runs a notebook: results, streams, rich display, display updates, tensors", async () => {
  const dir = join(env.dir, "notebooks");
  writeFileSync(
    join(dir, "demo.ipynb"),
    JSON.stringify(
      notebook([
        "const xs: number[] = [1, 2, 3];\nxs.length",
        'console.log("hello from a cell");\ndisplay.html("<b>bold</b>")',
        'import * as path from "node:path";\npath.basename("/a/b.ts")',
        'const h = display("step 1", { displayId: "progress" });\nfor (let i = 2; i <= 3; i++) h!.update(`step ${i}`);',
        "await new Promise((r) => setTimeout(r, 10));\nxs.map((x) => x * 2)",
        "gb.tensor([[1, 2], [3, 4]])",
      ]),
    ),
  );
  const r = await run(JUPYTER, ["nbconvert", "--to", "notebook", "--execute", "demo.ipynb", "--output", "demo.out.ipynb"], { env: env.env, cwd: dir });
  if (r.code !== 0) console.log(r.stdout, r.stderr);
  expect(r.code).toBe(0);
  const out = JSON.parse(readFileSync(join(dir, "demo.out.ipynb"), "utf8"));
  // nbformat may store text as a list of lines
  const join_ = (x: unknown) => (Array.isArray(x) ? x.join("") : x);
  const outputs = out.cells.map((c: any) =>
    c.outputs.map((o: any) => ({ ...o, text: join_(o.text), data: o.data && Object.fromEntries(Object.entries(o.data).map(([k, v]) => [k, join_(v)])) })),
  );
  expect(outputs[0][0].output_type).toBe("execute_result");
  expect(outputs[0][0].data["text/plain"]).toBe("3");
  expect(outputs[1][0]).toMatchObject({ output_type: "stream", name: "stdout", text: "hello from a cell\n" });
  expect(outputs[1][1].output_type).toBe("display_data");
  expect(outputs[1][1].data["text/html"]).toBe("<b>bold</b>");
  expect(outputs[2][0].data["text/plain"]).toBe("'b.ts'");
  // update_display_data replaced the output in place
  expect(outputs[3]).toHaveLength(1);
  expect(outputs[3][0].data["text/plain"]).toBe("'step 3'");
  expect(outputs[4][0].data["text/plain"]).toBe("[ 2, 4, 6 ]");
  expect(outputs[5][0].data["text/plain"]).toMatch(/tensor/);
  expect(out.cells.map((c: any) => c.execution_count)).toEqual([1, 2, 3, 4, 5, 6]);
});

test("jupyter nbconvert --execute reports a failing cell with its error", async () => {
  const dir = join(env.dir, "notebooks");
  writeFileSync(join(dir, "fails.ipynb"), JSON.stringify(notebook(["const a = 1", "\nnull!.boom()", "a"])));
  const r = await run(JUPYTER, ["nbconvert", "--to", "notebook", "--execute", "fails.ipynb", "--output", "fails.out.ipynb"], { env: env.env, cwd: dir });
  expect(r.code).not.toBe(0);
  const err = stripAnsi(r.stderr);
  expect(err).toMatch(/TypeError/);
  expect(err).toMatch(/line 2/);
});

test("jupyter console drives the kernel (simple prompt, piped stdin)", async () => {
  const input = ["const greeting = 'hi'", "greeting + ' there'", "console.log('printed', 6 * 7)", "throw new Error('console error')", ""].join("\n");
  const r = await run(JUPYTER, ["console", "--kernel", "gradbook", "--simple-prompt", "--ZMQTerminalInteractiveShell.confirm_exit=False"], {
    env: env.env,
    cwd: join(env.dir, "notebooks"),
    input,
    timeoutMs: 120_000,
  });
  const out = stripAnsi(r.stdout + r.stderr);
  if (!/Out\[2\]: 'hi there'/.test(out)) console.log(out);
  expect(out).toMatch(/Out\[2\]: 'hi there'/);
  expect(out).toMatch(/printed 42/);
  expect(out).toMatch(/Error: console error/);
});

test("gradbook install writes the kernelspec with logos; jupyter kernelspec list shows it", async () => {
  const spec = join(env.env.JUPYTER_PATH!, "kernels", "gradbook");
  const kj = JSON.parse(readFileSync(join(spec, "kernel.json"), "utf8"));
  expect(kj.argv).toEqual([process.execPath, ...KERNEL_NODE_FLAGS, join(ROOT, "dist", "kernel.cjs"), "-f", "{connection_file}"]);
  expect(kj.env).toMatchObject(KERNEL_ENV);
  expect(kj.language).toBe("typescript");
  for (const logo of ["logo-32x32.png", "logo-64x64.png"]) {
    const png = readFileSync(join(spec, logo));
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    const size = Number(logo.match(/(\d+)x/)![1]);
    expect(png.readUInt32BE(16)).toBe(size);
    expect(png.readUInt32BE(20)).toBe(size);
  }
  const r = await run(JUPYTER, ["kernelspec", "list", "--json"], { env: env.env });
  expect(r.code).toBe(0);
  const specs = JSON.parse(r.stdout).kernelspecs;
  expect(specs.gradbook.spec.language).toBe("typescript");
  expect(specs.gradbook.resource_dir).toBe(spec);

  // --user honours JUPYTER_DATA_DIR; bad options are usage errors
  const user = await run(process.execPath, [join(ROOT, "bin", "gradbook.js"), "install", "--user"], { env: env.env });
  expect(user.code).toBe(0);
  expect(existsSync(join(env.env.JUPYTER_DATA_DIR!, "kernels", "gradbook", "kernel.json"))).toBe(true);
  const bad = await run(process.execPath, [join(ROOT, "bin", "gradbook.js"), "install", "--frobnicate"], { env: env.env });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/unknown option --frobnicate/);
  const unknown = await run(process.execPath, [join(ROOT, "bin", "gradbook.js"), "nope"], { env: env.env });
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/install/);
});
