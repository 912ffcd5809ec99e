/**
 * Where the engine runs: Node, or a browser (a page or a Web Worker). Functions that read or
 * write files exist in Node only; in a browser they say so and name what to use there instead.
 */

/** True under Node (file system, `node:` modules). */
export function isNode(): boolean {
  return typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";
}

/** Throws, outside Node, an error naming the function and its browser alternative. */
export function nodeOnly(what: string, instead: string): void {
  if (!isNode()) throw new Error(`${what} reads or writes files, which only Node can: in a browser, ${instead}`);
}
