// The official conformance suite (Debian's python3-jupyter-kernel-test), every optional feature configured.
import { afterAll, beforeAll, expect, test, vi } from "vitest";

vi.setConfig({ testTimeout: 300_000, hookTimeout: 300_000 });
import { join } from "node:path";
import { PYTHON, ROOT, makeJupyterEnv, run, type JupyterEnv } from "./helpers.ts";

let env: JupyterEnv;
beforeAll(() => {
  env = makeJupyterEnv();
});
afterAll(() => env?.cleanup());

test("jupyter_kernel_test passes with nothing skipped", async () => {
  const r = await run(PYTHON, ["-m", "unittest", "-v", "test_gradbook_kernel"], { env: env.env, cwd: join(ROOT, "tests", "kernel"), timeoutMs: 180_000 });
  const out = r.stdout + r.stderr;
  if (r.code !== 0) console.log(out);
  expect(r.code).toBe(0);
  expect(out).toMatch(/\nOK\s*$/);
  expect(out).not.toMatch(/skipped/i);
  const ran = /Ran (\d+) tests?/.exec(out);
  expect(Number(ran?.[1])).toBeGreaterThanOrEqual(12);
}, 200_000);
