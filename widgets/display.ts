/**
 * The display pipeline: a value becomes a MIME bundle (`bundleOf`, pure) and goes to the
 * installed DisplayHost (`display`). The gradbook kernel's `display` global is this `display`;
 * the kernel adds only its host, which keeps outputs in order and formats text with Node's
 * util.inspect. Without a host (a plain Node script) `display` prints the text/plain form.
 *
 *   display(fig)                                 // any value; rich when it has toMimeBundle()
 *   const h = display("epoch 1", { displayId: true }); h.update("epoch 2")   // replaced in place
 *   display.html("<b>bold</b>"); display.png(bytes, { width: 200 }); display.bundle({ ... })
 */
import { getDisplayHost, type MimeBundle } from "./host.js";
import { base64, hexId } from "./util.js";

export { OutputQueue } from "./queue.js";

/** Anything with `toMimeBundle()` (sync or async): what is displayed richly. */
export interface Displayable {
  toMimeBundle(): MimeBundle | Promise<MimeBundle>;
  /** Metadata sent with the bundle (e.g. an image's width). */
  readonly mimeMetadata?: Record<string, unknown>;
}

/** A ready MIME bundle, taken as it is (`display.html` and the like build these). */
export class Bundle implements Displayable {
  constructor(
    readonly data: MimeBundle,
    readonly mimeMetadata: Record<string, unknown> = {},
  ) {}
  toMimeBundle(): MimeBundle {
    return this.data;
  }
}

/** HTML to display (with a text/plain fallback). */
export function html(markup: string, text = "<HTML>"): Bundle {
  return new Bundle({ "text/html": markup, "text/plain": text });
}

export type TextFormatter = (value: unknown) => string;

/** The text/plain of a value when no host supplies a formatter: strings as they are, other values as JSON where they have one. */
export function defaultText(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return (typeof value === "object" && value !== null ? JSON.stringify(value, null, 1) : undefined) ?? String(value);
  } catch {
    return String(value);
  }
}

function isDisplayable(v: unknown): v is Displayable {
  // objects only: a number's text is its own (a cell cannot make Number.prototype.toMimeBundle turn a test's 0.5 into "3")
  return (typeof v === "object" || typeof v === "function") && v !== null && typeof (v as Displayable).toMimeBundle === "function";
}

function textOf(value: unknown, formatText: TextFormatter): string {
  try {
    return formatText(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Bytes become base64, undefined entries go; text/plain is added unless the value is a ready Bundle. */
function completeBundle(value: unknown, b: MimeBundle | null | undefined, formatText: TextFormatter): MimeBundle {
  const data: MimeBundle = {};
  for (const [k, v] of Object.entries(b ?? {})) if (v !== undefined) data[k] = v instanceof Uint8Array ? base64(v) : v;
  if (typeof data["text/plain"] !== "string" && !(value instanceof Bundle)) data["text/plain"] = textOf(value, formatText);
  return data;
}

/**
 * The MIME bundle of a value: its `toMimeBundle()` (a Promise when that is async: GPU tensors
 * are read then), else text/plain by `formatText`. An error thrown by `toMimeBundle` is the
 * caller's (a cell's result that cannot be shown is an error that names the problem).
 */
export function bundleOf(value: unknown, formatText: TextFormatter = defaultText): MimeBundle | Promise<MimeBundle> {
  if (!isDisplayable(value)) return { "text/plain": textOf(value, formatText) };
  const b = value.toMimeBundle();
  if (b && typeof (b as Promise<MimeBundle>).then === "function") return Promise.resolve(b).then((r) => completeBundle(value, r, formatText));
  return completeBundle(value, b as MimeBundle, formatText);
}

/** The bundle of a value as the installed host would show it (its text formatter). */
export function hostBundleOf(value: unknown): MimeBundle | Promise<MimeBundle> {
  const host = getDisplayHost();
  return bundleOf(value, host?.formatText ? (v) => host.formatText!(v) : defaultText);
}

export interface DisplayOptions {
  /** Give the output an id (`true`: a new one): `update` on the returned handle replaces it in place. */
  displayId?: string | true;
  /** Replace the output with this `displayId` instead of adding one (update_display_data). */
  update?: boolean;
  metadata?: Record<string, unknown>;
}

/** An output shown with a display id: `update(value)` replaces it in place. */
export class DisplayHandle {
  constructor(readonly displayId: string) {}
  /** Replaces the output shown for this handle. */
  update(value: unknown, options: Omit<DisplayOptions, "displayId" | "update"> = {}): this {
    display(value, { ...options, displayId: this.displayId, update: true });
    return this;
  }
  /** Shows another output with the same id (every output with the id is updated together). */
  display(value: unknown, options: Omit<DisplayOptions, "displayId" | "update"> = {}): this {
    display(value, { ...options, displayId: this.displayId });
    return this;
  }
  toString(): string {
    return `DisplayHandle(${this.displayId})`;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** Where the text/plain form goes without a host (a test may redirect it). */
export let printFallback: (text: string) => void = (text) => console.log(text);
export function setPrintFallback(f: (text: string) => void): void {
  printFallback = f;
}

function show(value: unknown, options: DisplayOptions = {}): DisplayHandle | undefined {
  const id = options.displayId === true ? `gb-${hexId().slice(0, 16)}` : options.displayId;
  const host = getDisplayHost();
  const bundle = hostBundleOf(value);
  const metadata = { ...(isDisplayable(value) ? value.mimeMetadata : undefined), ...options.metadata };
  if (host) host.display(bundle, { displayId: id, update: !!options.update, metadata });
  else if (bundle instanceof Promise) bundle.then((b) => printFallback(String(b["text/plain"] ?? "")), (e) => printFallback(`display failed: ${e?.message ?? e}`));
  else printFallback(String(bundle["text/plain"] ?? ""));
  return id === undefined ? undefined : new DisplayHandle(id);
}

type Shown = DisplayHandle | undefined;
const text = (mime: string, plain: string) => (content: string, options?: DisplayOptions): Shown => show(new Bundle({ [mime]: String(content), "text/plain": plain }), options);
const image =
  (mime: string, plain: string) =>
  (data: Uint8Array | ArrayBuffer | string, options: DisplayOptions & { width?: number; height?: number } = {}): Shown => {
    const b64 = typeof data === "string" ? data : base64(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
    const size = options.width || options.height ? { [mime]: { width: options.width, height: options.height } } : {};
    return show(new Bundle({ [mime]: b64, "text/plain": plain }, size), options);
  };

/** Shows a value: its `toMimeBundle()`, else its text. Returns a handle when `displayId` is given. */
export interface Display {
  (value: unknown, options: DisplayOptions & { displayId: string | true }): DisplayHandle;
  (value: unknown, options?: DisplayOptions): DisplayHandle | undefined;
  /** Shows an HTML fragment. */
  html(html: string, options?: DisplayOptions): Shown;
  /** Shows Markdown. */
  markdown(markdown: string, options?: DisplayOptions): Shown;
  /** Shows an SVG image. */
  svg(svg: string, options?: DisplayOptions): Shown;
  /** Shows LaTeX. */
  latex(latex: string, options?: DisplayOptions): Shown;
  /** Shows a PNG image (bytes or base64). */
  png(data: Uint8Array | ArrayBuffer | string, options?: DisplayOptions & { width?: number; height?: number }): Shown;
  /** Shows a JPEG image (bytes or base64). */
  jpeg(data: Uint8Array | ArrayBuffer | string, options?: DisplayOptions & { width?: number; height?: number }): Shown;
  /** Shows a JSON value as an interactive tree. */
  json(value: unknown, options?: DisplayOptions): Shown;
  /** Shows a MIME bundle as it is. */
  bundle(data: MimeBundle, options?: DisplayOptions): Shown;
}

export const display: Display = Object.assign(show as Display, {
  html: text("text/html", "<HTML>"),
  markdown: text("text/markdown", "<Markdown>"),
  svg: text("image/svg+xml", "<SVG>"),
  latex: text("text/latex", "<LaTeX>"),
  png: image("image/png", "<PNG image>"),
  jpeg: image("image/jpeg", "<JPEG image>"),
  json: (value: unknown, options?: DisplayOptions): Shown => {
    const host = getDisplayHost();
    const plain = host?.formatText ? host.formatText(value) : defaultText(value);
    return show(new Bundle({ "application/json": JSON.parse(JSON.stringify(value ?? null)), "text/plain": plain }), options);
  },
  bundle: (data: MimeBundle, options?: DisplayOptions): Shown => show(new Bundle(data), options),
});
