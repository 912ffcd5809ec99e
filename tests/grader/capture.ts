// Runs a grader command entry and collects what it prints (console.log and console.error) with its exit code.
import { vi } from "vitest";

export async function capture(f: () => Promise<number> | number): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
  const err = vi.spyOn(console, "error").mockImplementation((...a) => void out.push(a.join(" ")));
  try {
    return { code: await f(), out: out.join("\n") };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}
