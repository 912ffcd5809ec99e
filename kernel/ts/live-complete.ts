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
  const before = scan(code.slice(0, cursor)).text;
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
  if (IMPORT_PATH.test(code.slice(0, cursor))) return true;
  const c = topLevelChain(code, cursor);
  if (!c) return false;
  if (c.bare) {
    // a bare name: the live objects miss only the cell's own bindings, which completeFromLiveObjects
    // finds where they are plain declarations (not imports, destructuring, parameters or loop variables)
    return c.parens === 0 && !/[.)\]"'`]$/.test(c.head) && !/=>|\bimport\b|\b(?:const|let|var)\s*[{[]|\b(?:for|catch)\s*\(/.test(c.before);
  }
  return onlyMemberAccesses(code, c.root, c.start);
}

/**
 * The expression to inspect at the cursor, as a cell of its own, where it means the same there:
 * a name or chain of names at the cell's top level whose first name the cell never binds (its type
 * comes from the earlier cells only) and that is not constructed or a member of another
 * expression (`called`: it is called), or an import on one line (the last of the cell's imports:
 * a later one could bind the same name). The language service then gets the same request for every
 * edit of the cell around it (and keeps its answer) instead of making a new program each time.
 * Else null.
 */
export function standaloneExpression(code: string, cursor: number): { code: string; cursor: number; called?: boolean } | null {
  // an import on one line at the top level: the line alone
  const lineStart = code.lastIndexOf("\n", cursor - 1) + 1;
  const lineEnd = code.indexOf("\n", cursor) < 0 ? code.length : code.indexOf("\n", cursor);
  const line = code.slice(lineStart, lineEnd);
  if (/^import\b[^;]*(;\s*)?$/.test(line) && !/\bimport\b/.test(code.slice(lineEnd))) {
    const s = scan(code.slice(0, lineStart));
    return s.open || s.braces > 0 ? null : { code: line, cursor: cursor - lineStart };
  }
  const end = cursor + /^[\w$]*/.exec(code.slice(cursor))![0].length;
  if (IMPORT_PATH.test(code.slice(0, end))) return null;
  const c = topLevelChain(code, end);
  if (!c || !c.root || !onlyMemberAccesses(code, c.root, c.start)) return null;
  const after = scan(code).text.slice(end);
  if (c.bare && declaredHere(c, after)) return null;
  // where its place changes the answer: a member of what is not a name (`f().name`), a class
  // after `new` (its constructor)
  if (/(?<!\.\.)\.$|\bnew$/.test(c.head)) return null;
  // (called: the overload and type arguments the call resolves to are not the name's alone, see Interpreter.inspect)
  return { code: code.slice(c.start, end), cursor: cursor - c.start, called: /^\s*(?:\?\.\s*)?[(`]/.test(after) };
}

/**
 * Whether a bare name is where the cell declares it (`before`: the cell's text before it, `after`:
 * after it, comments blanked): the name of a declaration (`let total: number`, a later name of a
 * `let`/`const`/`var` list, a function, a class...) or a parameter (of a function, an arrow, a
 * catch). Alone, such a name would mean an earlier cell's, or nothing. (Where unsure, yes: the cell
 * is then asked as it is, which is always right.)
 */
function declaredHere(c: { head: string; before: string; parens: number }, after: string): boolean {
  if (/(?:\b(?:let|const|var|using|function|class|enum|namespace|module|interface|type)|\bfunction\s*\*)$/.test(c.head) || /^\s*=>/.test(after)) return true;
  const statement = c.before.slice(c.before.search(/[^;\n]*$/));
  if (c.parens === 0 && /^\s*(?:export\s+)?(?:declare\s+)?(?:let|const|var)\s/.test(statement) && /,$/.test(c.head)) return true;
  if (c.parens > 0) {
    let depth = 0;
    let open = c.before.length;
    while (open-- > 0 && !(c.before[open] === "(" && depth-- === 0)) if (c.before[open] === ")") depth++;
    if (/\b(?:function\b[\s\w$*]*|catch)$/.test(c.before.slice(0, open).trimEnd()) || /^[^()]*\)\s*(?::[^=;]*)?=>/.test(after)) return true;
  }
  return false;
}

const IMPORT_PATH = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["'][^"'\n]*$/;

/**
 * The name or chain of names ending at `end`, where it stands at the cell's top level and outside
 * any string, comment or type position: where it starts, its first name, whether it is a bare
 * name, the parentheses open around it, the text before it (comments blanked); else null.
 */
function topLevelChain(code: string, end: number): { start: number; root: string; bare: boolean; parens: number; head: string; before: string } | null {
  const s = scan(code.slice(0, end));
  if (s.open || s.braces > 0) return null;
  const before = s.text;
  const m = /(?:([A-Za-z_$][\w$]*)(?:\s*\??\.\s*[A-Za-z_$][\w$]*)*\s*\??\.\s*)?([A-Za-z_$][\w$]*)?$/.exec(before)!;
  const head = before.slice(0, m.index).trimEnd();
  // a type position: types that are not values (interfaces, aliases) are not among the live objects
  if (/(?:[:<|&]|\b(?:as|satisfies|extends|implements|keyof|infer|is|type\s+[\w$]+(?:<[^>]*>)?\s*=|interface|declare)\s*)$/.test(head)) return null;
  return { start: m.index, root: m[1] ?? m[2] ?? "", bare: !m[1], parens: s.parens, head, before };
}

/** Whether every use of `root` in the cell other than the one at `at` is a member access (no declaration, parameter or assignment of it). */
function onlyMemberAccesses(code: string, root: string, at: number): boolean {
  const uses = new RegExp(`(?<![\\w$.])${root.replace(/\$/g, "\\$")}(?![\\w$])`, "g");
  code = scan(code).text; // (not in comments)
  for (const u of code.matchAll(uses)) {
    if (u.index === at) continue;
    if (!/^\s*\??\.(?!\.)/.test(code.slice(u.index! + root.length))) return false;
  }
  return true;
}

/**
 * `text` with its comments blanked (spaces, the same length), its brace and parenthesis depth at
 * the end, and whether it ends inside a string, a template or a comment.
 */
function scan(text: string): { text: string; braces: number; parens: number; open: boolean } {
  let braces = 0;
  let parens = 0;
  let out = "";
  let from = 0;
  const blank = (i: number, end: number) => {
    out += text.slice(from, i) + text.slice(i, end).replace(/[^\n]/g, " ");
    from = end;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "/" && (text[i + 1] === "/" || text[i + 1] === "*")) {
      const line = text[i + 1] === "/";
      const close = line ? text.indexOf("\n", i) : text.indexOf("*/", i + 2);
      const end = close < 0 ? text.length : line ? close : close + 2;
      blank(i, end);
      if (close < 0) return { text: out, braces, parens, open: true };
      i = end - 1;
    } else if (c === '"' || c === "'" || c === "`") {
      // (a template's ${...} counts as inside the string: no answer there)
      let j = i + 1;
      while (j < text.length && text[j] !== c && (c === "`" || text[j] !== "\n")) j += text[j] === "\\" ? 2 : 1;
      if (j >= text.length) return { text: out + text.slice(from), braces, parens, open: true };
      i = j;
    } else if (c === "{") braces++;
    else if (c === "}") braces--;
    else if (c === "(" || c === "[") parens++;
    else if (c === ")" || c === "]") parens--;
  }
  return { text: out + text.slice(from), braces, parens, open: false };
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
