/** How values become MIME bundles (display, execute_result). */
import { inspect } from "node:util";
import type { MimeBundle } from "../interpreter.ts";

export function plain(value: unknown): string {
  return inspect(value, { depth: 4, colors: false, maxArrayLength: 100, maxStringLength: 10_000, breakLength: 100 });
}

/** A value that is already a bundle (what display.html & co. build). */
export class Bundle {
  constructor(readonly data: MimeBundle, readonly metadata: Record<string, unknown> = {}) {}
  toMimeBundle() {
    return this.data;
  }
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return !!x && typeof (x as any).then === "function";
}

function normalize(value: unknown, b: unknown): MimeBundle {
  const data: MimeBundle = b && typeof b === "object" ? { ...(b as MimeBundle) } : {};
  for (const [k, v] of Object.entries(data)) {
    if (v instanceof Uint8Array) data[k] = Buffer.from(v).toString("base64");
    else if (v === undefined) delete data[k];
  }
  if (typeof data["text/plain"] !== "string") {
    let text: string;
    try {
      text = value instanceof Bundle ? "<display>" : plain(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
    data["text/plain"] = text;
  }
  return data;
}

/** The bundle of a value; a Promise when `toMimeBundle()` returns one (GPU tensors read asynchronously). */
export function bundleOf(value: unknown): MimeBundle | Promise<MimeBundle> {
  if (value != null && typeof (value as any).toMimeBundle === "function") {
    let b: unknown;
    try {
      b = (value as any).toMimeBundle();
    } catch (e) {
      return { "text/plain": `${plain(value)}\n<toMimeBundle() failed: ${(e as Error)?.message ?? e}>` };
    }
    if (isThenable(b))
      return Promise.resolve(b).then(
        (r) => normalize(value, r),
        (e) => ({ "text/plain": `<toMimeBundle() failed: ${(e as Error)?.message ?? e}>` }),
      );
    return normalize(value, b);
  }
  return { "text/plain": plain(value) };
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
export { escapeHtml };
