// The grader's kernel client against a real sandboxed kernel: outputs, the memory limit (the kernel's guard, then the watchdog), the sandbox.
import { afterAll, beforeAll, expect, test } from "vitest";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { KernelProcess, findKernelScript } from "../../kernel/grader/client.ts";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
let dir: string;
beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "kernel.js")) || !existsSync(join(ROOT, "dist", "gradbook.js"))) spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "gradbook-client-test-"));
  chmodSync(dir, 0o711); // the kernel's uid must reach its scratch folder inside
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("runs cells, enforces the memory limit, confines files", async () => {
  writeFileSync(join(dir, "secret.txt"), "instructor only");
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  const k = await KernelProcess.start(findKernelScript(), { dir: join(dir, "scratch"), permissions: true, user: root ? { uid: 61009, gid: 61009 } : null }, { memoryMb: 2048, maxOutputChars: 1000 });
  try {
    const a = await k.execute("console.log('hi'); 6 * 7", 60_000);
    expect(a).toMatchObject({ status: "ok", outputs: [{ output_type: "stream", name: "stdout", text: "hi\n" }, { output_type: "execute_result", data: { "text/plain": "42" } }] });
    const b = await k.execute("for (let i = 0; i < 100000; i++) console.log('spam spam spam')", 60_000);
    expect(b.status).toBe("ok");
    expect(b.outputs[0].text!.length).toBeLessThan(1100);
    expect(b.outputs[0].text).toMatch(/\[output truncated at 1000 characters\]\n$/);
    const c = await k.execute(`require('node:fs').readFileSync(${JSON.stringify(join(dir, "secret.txt"))}, 'utf8')`, 60_000);
    expect(c).toMatchObject({ status: "error", ename: "Error", evalue: "Access to this API has been restricted" });
    const d = await k.execute("require('node:fs').writeFileSync('mine.txt', 'ok'); require('node:fs').readFileSync('mine.txt', 'utf8')", 60_000);
    expect(d).toMatchObject({ status: "ok", outputs: [{ data: { "text/plain": "'ok'" } }] });
    // the helpers are preloaded; the helpers cell of an older notebook runs and changes nothing
    const old = await k.execute(readFileSync(join(ROOT, "tests", "grader", "fixtures", "gradbook_checks-cell.ts"), "utf8"), 60_000);
    expect(old.status).toBe("ok");
    expect(await k.execute("assertEqual([1, 2], [1, 3])", 60_000)).toMatchObject({ status: "error", ename: "AssertionError", evalue: "assertEqual: value[1]: got 2, expected 3" });
    // a runaway cell: the kernel's guard stops it with a MemoryError below the limit (the grader's default
    // 2048 MiB less a quarter for what the guard does not count: with 400 MiB less 256 the margin was
    // too thin on a loaded CI machine, where the guard stops a fast loop later and the watchdog came first), the kernel and its variables alive
    const m = await k.execute("const before = 5; const keep: Float64Array[] = []; while (true) keep.push(new Float64Array(1 << 20).fill(1));", 60_000);
    expect(m).toMatchObject({ status: "error", ename: "MemoryError", evalue: expect.stringMatching(/over its limit of 1\.50 GiB \(GRADBOOK_MEMORY_LIMIT=1536M\)/) });
    expect(m.status === "error" && m.outputs.find((o) => o.output_type === "error")?.traceback?.join("\n")).toMatch(/Largest variables[^\n]*\n  keep +[\d.]+ [MG]iB  Array\(\d+\) of Float64Array[\s\S]*`keep\.length = 0`[\s\S]*The limit \(GRADBOOK_MEMORY_LIMIT=1536M\) is the grader's: it comes from its --memory\./);
    expect(await k.execute("keep.length = 0; before + 1", 60_000)).toMatchObject({ status: "ok", outputs: [{ data: { "text/plain": "6" } }] });
    // one native call the guard cannot stop midway: the RSS watchdog ends the process
    const e = await k.execute("const huge = new Uint8Array(2600 * 2 ** 20).fill(1);", 60_000);
    expect(e).toMatchObject({ status: "died", reason: "it used more than the memory limit of 2048 MiB" });
    expect(k.alive).toBe(false);
    expect(await k.execute("1", 1000)).toMatchObject({ status: "died" });
  } finally {
    k.kill();
    await k.exited();
  }
}, 180_000);
