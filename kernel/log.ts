/** The kernel's log: one line on stderr (the Jupyter server's log), from any thread, never throwing. */
import { writeSync } from "node:fs";

export function log(text: string): void {
  try {
    writeSync(2, `[gradbook kernel] ${text}\n`);
  } catch {}
}
