/**
 * The kernel's log: one line on stderr (the Jupyter server's log), from any thread, never throwing.
 * In a browser (the lite kernel's Web Worker) the line goes to the console.
 */
const writeSync = (globalThis as { process?: { getBuiltinModule?: (m: string) => any } }).process?.getBuiltinModule?.("node:fs")?.writeSync as ((fd: number, s: string) => void) | undefined;

export function log(text: string): void {
  try {
    if (writeSync) writeSync(2, `[gradbook kernel] ${text}\n`);
    else console.warn(`[gradbook kernel] ${text}`);
  } catch {}
}
