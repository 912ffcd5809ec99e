// The kernel's limits (kernel/guard/limits.ts): sizes as people write them, the defaults as shares of
// the memory available to the kernel (its control group's limit, else the machine's), settings that
// cannot be read (the default used, the problem said), and `gradbook install`'s options written
// into the kernelspec's env.
import { expect, test } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { totalmem, tmpdir } from "node:os";
import { join } from "node:path";
import { availableMemory, parseSize, readLimits } from "../../kernel/guard/limits.ts";

const MiB = 2 ** 20, GiB = 2 ** 30;

test("sizes: binary units, shares of what is available, off; anything else is refused with examples", () => {
  expect(parseSize("512M", GiB)).toBe(512 * MiB);
  expect(parseSize("1.5GiB", GiB)).toBe(1.5 * GiB);
  expect(parseSize("2g", GiB)).toBe(2 * GiB);
  expect(parseSize("300 kb", GiB)).toBe(300 * 1024);
  expect(parseSize("1048576", GiB)).toBe(MiB);
  expect(parseSize("75%", 8 * GiB)).toBe(6 * GiB);
  for (const off of ["off", "none", "0", ""]) expect(parseSize(off, GiB)).toBeNull();
  expect(() => parseSize("lots", GiB)).toThrow('"lots" is not a size (examples: 512M, 2G, 1.5GiB, 75%, off)');
  expect(() => parseSize("150%", GiB)).toThrow("150%: a share must be between 0 and 100%");
  expect(() => parseSize("12 parsecs", GiB)).toThrow(/is not a size/);
});

test("the memory available: the control group's limit when below the machine's memory (read here by Python, independently)", () => {
  const reference = execFileSync(
    "/usr/bin/python3",
    [
      "-c",
      `
import os
best = None
for line in open("/proc/self/cgroup"):
    _, ctl, path = line.rstrip("\\n").split(":", 2)
    root, name = ("/sys/fs/cgroup", "memory.max") if ctl == "" else ("/sys/fs/cgroup/memory", "memory.limit_in_bytes") if "memory" in ctl.split(",") else (None, None)
    if not root: continue
    parts = [p for p in path.split("/") if p]
    for d in [root] + [root + "/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]:
        try: v = open(d + "/" + name).read().strip()
        except OSError: continue
        if v != "max" and 0 < int(v) < 2 ** 60: best = int(v) if best is None else min(best, int(v))
print(best if best is not None and best < os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") else "none")
`,
    ],
    { encoding: "utf8" },
  ).trim();
  const a = availableMemory();
  if (reference === "none") expect(a).toEqual({ bytes: totalmem(), what: "physical memory" });
  else expect(a).toEqual({ bytes: Number(reference), what: "the control group's memory limit" });
});

test("defaults are shares of the memory available, said in messages; a value that cannot be read: its default, and the problem", () => {
  const available = { bytes: 16 * GiB, what: "physical memory" };
  const d = readLimits({}, available);
  expect(d.memory).toEqual({ bytes: 12 * GiB, source: "default: 75% of 16.00 GiB (physical memory)" });
  expect(d.memoryHard.bytes).toBe(Math.floor(0.9 * 16 * GiB));
  expect(d.stream).toEqual({ bytes: 5 * MiB, source: "default: 5M" });
  expect(d.display.bytes).toBe(20 * MiB);
  expect(d.gpu.bytes).toBeNull();
  expect(d.deathReport).toBe(true);
  expect(d.problems).toEqual([]);
  const set = readLimits({ GRADBOOK_MEMORY_LIMIT: "2G", GRADBOOK_OUTPUT_LIMIT: "off", GRADBOOK_GPU_MEMORY_LIMIT: "40M", GRADBOOK_DEATH_REPORT: "off" }, available);
  expect(set.memory).toEqual({ bytes: 2 * GiB, source: "GRADBOOK_MEMORY_LIMIT=2G" });
  expect(set.stream.bytes).toBeNull();
  expect(set.gpu.bytes).toBe(40 * MiB);
  expect(set.deathReport).toBe(false);
  const bad = readLimits({ GRADBOOK_MEMORY_LIMIT: "plenty", GRADBOOK_DEATH_REPORT: "maybe" }, available);
  expect(bad.memory.bytes).toBe(12 * GiB);
  expect(bad.problems).toEqual([
    'GRADBOOK_DEATH_REPORT: "maybe" is neither on nor off; on is used',
    'GRADBOOK_MEMORY_LIMIT: "plenty" is not a size (examples: 512M, 2G, 1.5GiB, 75%, off); the default (75%) is used',
  ]);
});

test("gradbook install --memory-limit/--output-limit write the kernelspec's env; a bad size is refused", () => {
  const prefix = mkdtempSync(join(tmpdir(), "gradbook-limits-"));
  try {
    execFileSync(process.execPath, ["bin/gradbook.js", "install", "--prefix", prefix, "--memory-limit", "4G", "--output-limit=20M", "--gpu-memory-limit", "off"], { encoding: "utf8" });
    const spec = JSON.parse(readFileSync(join(prefix, "share", "jupyter", "kernels", "gradbook", "kernel.json"), "utf8"));
    expect(spec.env).toMatchObject({ GRADBOOK_MEMORY_LIMIT: "4G", GRADBOOK_OUTPUT_LIMIT: "20M", GRADBOOK_GPU_MEMORY_LIMIT: "off" });
    let err = "";
    try {
      execFileSync(process.execPath, ["bin/gradbook.js", "install", "--prefix", prefix, "--memory-limit", "lots"], { encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      err = String((e as { stderr?: string }).stderr);
    }
    expect(err).toContain('--memory-limit: "lots" is not a size');
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});
