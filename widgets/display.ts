/**
 * `display(value)`: shows a value through the installed DisplayHost (the kernel),
 * or prints its text/plain form when there is none (a plain Node script).
 * Returns a handle whose `update(value)` replaces that output in place.
 */
import { getDisplayHost, type DisplayOptions, type MimeBundle } from "./host.js";
import { bundleOf, hexId } from "./util.js";

export class DisplayHandle {
  constructor(readonly displayId: string) {}
  /** Replaces the output shown for this handle. */
  async update(value: unknown): Promise<void> {
    await display(value, { displayId: this.displayId, update: true });
  }
}

/** Where the text/plain form goes without a host (a test may redirect it). */
export let printFallback: (text: string) => void = (text) => console.log(text);
export function setPrintFallback(f: (text: string) => void): void {
  printFallback = f;
}

/**
 * Displays a value (anything with toMimeBundle, or a bundle given as `{ raw: bundle }`).
 * Resolves once the bundle is sent.
 */
export async function display(value: unknown, options: DisplayOptions = {}): Promise<DisplayHandle> {
  const bundle: MimeBundle = isRawBundle(value) ? value.raw : await bundleOf(value);
  const displayId = options.displayId ?? hexId();
  const host = getDisplayHost();
  if (host) host.display(bundle, { ...options, displayId });
  else printFallback(String(bundle["text/plain"] ?? ""));
  return new DisplayHandle(displayId);
}

function isRawBundle(v: unknown): v is { raw: MimeBundle } {
  return !!v && typeof v === "object" && "raw" in (v as any) && Object.keys(v as any).length === 1;
}

/** A value that is a ready bundle (for `display`, `Output.display`, kernel results). */
export class RawBundle {
  constructor(readonly bundle: MimeBundle) {}
  toMimeBundle(): MimeBundle {
    return this.bundle;
  }
}

/** HTML to display (with a text/plain fallback). */
export function html(markup: string, text = "<HTML>"): RawBundle {
  return new RawBundle({ "text/html": markup, "text/plain": text });
}
