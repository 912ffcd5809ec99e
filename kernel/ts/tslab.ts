/**
 * `import * as tslab from "tslab"` (and `require("tslab")`): tslab 1.0.22's notebook API, so
 * notebooks written for tslab run unchanged. Built on the widgets' display pipeline. Each call
 * sends one MIME type, as tslab does; `newDisplay()` shows its first output and then replaces
 * it in place (update_display_data). Node-free.
 */
import type * as Widgets from "../../widgets/index.ts";

/** The tslab version whose API this is. */
export const TSLAB_API_VERSION = "1.0.22";

/** Declarations of the module for the language service (what `tslabModule` makes). */
export const TSLAB_DTS = `
declare module "tslab" {
  /** The versions of the parts: tslab (the tslab API this kernel implements), TypeScript, Node.js. */
  export const versions: { tslab: string; typescript: string; node: string };
  /** Rich output, one MIME type per call. */
  export interface Display {
    javascript(s: string): void;
    html(s: string): void;
    markdown(s: string): void;
    latex(s: string): void;
    svg(s: string): void;
    png(b: Uint8Array): void;
    jpeg(b: Uint8Array): void;
    gif(b: Uint8Array): void;
    pdf(b: Uint8Array): void;
    text(s: string): void;
    raw(contentType: string, b: string | Uint8Array): any;
  }
  /** Shows rich content below the cell. */
  export const display: Display;
  /** A display whose later calls replace its first output in place. */
  export function newDisplay(): Display;
}
`;

export function tslabModule(widgets: typeof Widgets, versions: { typescript: string; node: string }) {
  const makeDisplay = (id?: string) => {
    let shown = false;
    const raw = (contentType: string, b: string | Uint8Array) => {
      if (!widgets.getDisplayHost()) throw new Error("Not ready");
      // (bytes go out as base64)
      widgets.display.bundle({ [contentType]: b }, id ? { displayId: id, update: shown } : {});
      if (id) shown = true;
    };
    const as = (type: string) => (content: any) => raw(type, content);
    return {
      javascript: as("text/javascript"),
      html: as("text/html"),
      markdown: as("text/markdown"),
      latex: as("text/latex"),
      svg: as("image/svg+xml"),
      png: as("image/png"),
      jpeg: as("image/jpeg"),
      gif: as("image/gif"),
      pdf: as("application/pdf"),
      text: as("text/plain"),
      raw,
    };
  };
  const newDisplayId = () => Array.from(globalThis.crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
  return Object.freeze({
    versions: Object.freeze({ tslab: TSLAB_API_VERSION, typescript: versions.typescript, node: versions.node }),
    display: makeDisplay(),
    newDisplay: () => makeDisplay(newDisplayId()),
  });
}
