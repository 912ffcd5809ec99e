/**
 * The kernel's `kernel_info_reply` content (without `status`), built in one place for the Node
 * kernel (its protocol worker answers with it, before the interpreter has loaded) and the browser
 * kernel (lab/lite). Static: it depends only on the versions given.
 */
export const KERNEL_VERSION = "0.1.0";

export interface KernelInfo {
  protocol_version: string;
  implementation: string;
  implementation_version: string;
  banner: string;
  language_info: Record<string, unknown>;
  help_links: { text: string; url: string }[];
  debugger: boolean;
}

/** `typescript`: the version of the compiler cells go through; `runtime`: what runs them (Node.js and process.version, or the browser). */
export function kernelInfo(typescript: string, runtime: { name: string; version: string }): KernelInfo {
  return {
    protocol_version: "5.3",
    implementation: "gradbook",
    implementation_version: KERNEL_VERSION,
    banner: `gradbook ${KERNEL_VERSION}: TypeScript ${typescript} on ${runtime.name} ${runtime.version}, with the gradbook engine preloaded as \`gb\``,
    language_info: {
      name: "typescript",
      version: typescript,
      mimetype: "text/typescript",
      file_extension: ".ts",
      pygments_lexer: "typescript",
      codemirror_mode: { name: "javascript", typescript: true },
      nbconvert_exporter: "script",
    },
    help_links: [
      { text: "TypeScript handbook", url: "https://www.typescriptlang.org/docs/handbook/intro.html" },
      { text: "Node.js API", url: "https://nodejs.org/api/" },
    ],
    debugger: false,
  };
}
