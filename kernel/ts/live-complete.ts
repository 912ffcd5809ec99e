/**
 * Completion from the kernel's live objects, without types: the globals (an earlier cell's
 * declarations are globals), the properties of what a chain of plain properties leads to
 * (`Math.ab`, `x.resh`, `gb.nn.Lin`), and module names in import paths. It answers at once;
 * the interpreter uses it where its answer is the language service's (`liveAnswerIsExact`), and
 * anywhere while the service is still loading, in the first seconds of a session. Getters are
 * never run and proxies never touched: where reading would run user code it gives no answer
 * (null) and the language service answers. Node-free.
 */
import type { CompleteResult } from "../interpreter.ts";

export interface LiveCompletionHost {
  /** Module names (packages, builtins, relative files) that start with `prefix`. */
  moduleNames(prefix: string): string[];
  /** True for a Proxy (its traps would run code); where the platform cannot tell, false. */
  isProxy(value: unknown): boolean;
}

const KEYWORDS = (
  "abstract any as async await boolean break case catch class const continue debugger declare default delete do else enum export extends " +
  "false finally for function if implements import in instanceof interface keyof let namespace never new null number object private " +
  "protected public readonly return satisfies static string super switch symbol this throw true try type typeof undefined unknown var void while yield"
).split(" ");

class NoAnswer extends Error {}

export function completeFromLiveObjects(code: string, cursor: number, host: LiveCompletionHost): CompleteResult | null {
  const before = code.slice(0, cursor);
  const path = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"'\n]*)$/.exec(before);
  if (path) {
    const prefix = path[1];
    const names = [...new Set(host.moduleNames(prefix))].filter((n) => n.startsWith(prefix)).sort();
    return answer(names.map((n) => [n, "module"]), cursor - prefix.length, cursor);
  }
  const word = /[A-Za-z_$][\w$]*$/.exec(before)?.[0] ?? "";
  const start = cursor - word.length;
  const head = before.slice(0, start);
  try {
    let found: [string, string][];
    const member = /((?:[A-Za-z_$][\w$]*\s*\??\.\s*)*[A-Za-z_$][\w$]*)\s*\??\.\s*$/.exec(head);
    if (member) {
      // the chain must start the expression (`f().x.` or `a[0].x.` are beyond a plain lookup)
      if (/[\w$)\]."'`]\s*$/.test(head.slice(0, member.index))) return null;
      const [first, ...rest] = member[1].split(/\s*\??\.\s*/);
      let value = lookup(globalThis, first, host);
      for (const name of rest) value = lookup(value, name, host);
      found = members(value, host);
    } else {
      if (/[.)\]"'`]\s*$/.test(head)) return null;
      // the globals, the keywords, and what this cell declares before the cursor (it has not run yet)
      const declared = [...head.matchAll(/\b(?:const|let|var|function\*?|class|enum|interface|type)\s+([A-Za-z_$][\w$]*)/g)].map((m): [string, string] => [m[1], "variable"]);
      found = [...declared, ...members(globalThis, host, true), ...KEYWORDS.map((k): [string, string] => [k, "keyword"])];
    }
    const hidden = (n: string) => n.startsWith("__gradbook") || n.startsWith("__gbm") || (n.startsWith("_") && !word.startsWith("_"));
    const seen = new Set<string>();
    const matches = found.filter(([n]) => n.startsWith(word) && !hidden(n) && !seen.has(n) && (seen.add(n), true)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return answer(matches, start, cursor);
  } catch (e) {
    if (e instanceof NoAnswer) return null;
    throw e;
  }
}

/**
 * Whether the live objects' answer at the cursor is the language service's answer too, so that it
 * may answer once the service is warm as well: at once, where the service makes a new program for
 * every edit of the cell (tens of milliseconds). So: an import path; or a name, or a chain of names
 * after its first, at the cell's top level (no block, string, comment or type around the cursor),
 * whose first name the cell itself never binds (every use of it is a member access: the live value
 * is then the one the earlier cells declared, of the type they gave it). Elsewhere the service.
 */
export function liveAnswerIsExact(code: string, cursor: number): boolean {
  const before = code.slice(0, cursor);
  if (/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["'][^"'\n]*$/.test(before)) return true;
  const scan = scanTopLevel(before);
  if (!scan || scan.braces > 0) return false;
  const m = /(?:([A-Za-z_$][\w$]*)((?:\s*\??\.\s*[A-Za-z_$][\w$]*)*)\s*\??\.\s*)?[A-Za-z_$]?[\w$]*$/.exec(before)!;
  const head = before.slice(0, m.index).trimEnd();
  // a type position: types that are not values (interfaces, aliases) are not among the live objects
  if (/(?:[:<|&]|\b(?:as|satisfies|extends|implements|keyof|infer|is|type\s+[\w$]+(?:<[^>]*>)?\s*=|interface|declare)\s*)$/.test(head)) return false;
  const root = m[1];
  if (!root) {
    // a bare name: the live objects miss only the cell's own bindings, which completeFromLiveObjects
    // finds where they are plain declarations (not imports, destructuring, parameters or loop variables)
    return scan.parens === 0 && !/[.)\]"'`]$/.test(head) && !/=>|\bimport\b|\b(?:const|let|var)\s*[{[]|\b(?:for|catch)\s*\(/.test(before);
  }
  // every other use of the first name in the cell is a member access (no declaration, parameter or assignment of it)
  const uses = new RegExp(`(?<![\\w$.])${root.replace(/\$/g, "\\$")}(?![\\w$])`, "g");
  for (const u of code.matchAll(uses)) {
    if (u.index === m.index) continue;
    if (!/^\s*\??\.(?!\.)/.test(code.slice(u.index! + root.length))) return false;
  }
  return true;
}

/** Brace and parenthesis depth at the end of `text`, or null where it ends in a string, template or comment. */
function scanTopLevel(text: string): { braces: number; parens: number } | null {
  let braces = 0;
  let parens = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      if (end < 0) return null;
      i = end;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) return null;
      i = end + 1;
    } else if (c === '"' || c === "'" || c === "`") {
      // (a template's ${...} counts as inside the string: no answer there)
      let j = i + 1;
      while (j < text.length && text[j] !== c && (c === "`" || text[j] !== "\n")) j += text[j] === "\\" ? 2 : 1;
      if (j >= text.length) return null;
      i = j;
    } else if (c === "{") braces++;
    else if (c === "}") braces--;
    else if (c === "(" || c === "[") parens++;
    else if (c === ")" || c === "]") parens--;
  }
  return { braces, parens };
}

/** A property's value found through data properties only (no getter runs). */
function lookup(obj: unknown, name: string, host: LiveCompletionHost): unknown {
  for (let o: any = obj == null ? null : Object(obj); o != null; o = Object.getPrototypeOf(o)) {
    if (host.isProxy(o)) throw new NoAnswer();
    const d = Object.getOwnPropertyDescriptor(o, name);
    if (d) {
      if (!("value" in d)) throw new NoAnswer();
      return d.value;
    }
  }
  throw new NoAnswer();
}

/** A value's property names with their kind, its prototype chain included (Object.prototype's only for globalThis). */
function members(value: unknown, host: LiveCompletionHost, isGlobal = false): [string, string][] {
  if (value == null) throw new NoAnswer();
  const out: [string, string][] = [];
  for (let o: any = Object(value); o != null && (isGlobal || o !== Object.prototype || o === value); o = Object.getPrototypeOf(o)) {
    if (host.isProxy(o)) throw new NoAnswer();
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === "constructor" || !/^[A-Za-z_$][\w$]*$/.test(name)) continue;
      const d = Object.getOwnPropertyDescriptor(o, name)!;
      out.push([name, kindOf(d)]);
    }
  }
  return out;
}

function kindOf(d: PropertyDescriptor): string {
  if (!("value" in d)) return "property";
  const v = d.value;
  if (typeof v !== "function") return "variable";
  return /^class[\s{]/.test(Function.prototype.toString.call(v)) ? "class" : "function";
}

function answer(matches: [string, string][], start: number, end: number): CompleteResult {
  return {
    matches: matches.map(([n]) => n),
    cursorStart: start,
    cursorEnd: end,
    metadata: { _jupyter_types_experimental: matches.map(([text, type]) => ({ start, end, text, type })) },
  };
}
