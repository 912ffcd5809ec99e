/**
 * tslab's cell tags: JSDoc tags in the comments before a cell's code (`/** @jsx *\/`,
 * `@module name`, `@browser`, `@node`). Node-free.
 */
export interface CellTags {
  /** `@browser` (tslab runs such a cell in the browser); `@node` is the default. */
  browser?: boolean;
  /** `@jsx`: the cell is TSX. */
  jsx?: boolean;
  /** `@module name`: the cell is the module `./name`, imported by later cells, not run. */
  module?: string;
}

export function cellTags(code: string): CellTags {
  const tags: CellTags = {};
  const comment = /\s*(\/\/[^\n]*|\/\*[\s\S]*?\*\/)/y;
  for (let m = comment.exec(code); m; m = comment.exec(code)) {
    if (!m[1].startsWith("/**")) continue;
    for (const [, tag, arg] of m[1].matchAll(/@(\w+)(?:[ \t]+([^\s*]+))?/g)) {
      if (tag === "node") tags.browser = false;
      else if (tag === "browser") tags.browser = true;
      else if (tag === "jsx") tags.jsx = true;
      else if (tag === "module" && arg && /^\w+$/.test(arg)) tags.module = arg;
    }
  }
  return tags;
}
