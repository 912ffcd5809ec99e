/**
 * The notebook as the TypeScript language service sees it: one virtual
 * module holding the latest declaration of every name the earlier cells
 * declared (the "prelude"), followed by the cell being checked, completed or
 * inspected. Built lazily: loading the compiler and the lib files costs
 * several hundred milliseconds, never paid at start-up. Node-free: what it
 * reads besides the notebook comes from a NotebookEnvironment (Node's is in
 * language-worker.ts; the browser kernel's holds files bundled with the site).
 */
import type * as TS from "typescript";
import type { CompleteResult, InspectResult } from "../interpreter.ts";
import { ts } from "./tsapi.ts";
import { parseCell } from "./compile.ts";
import { cellTags } from "./tags.ts";
import { TSLAB_DTS } from "./tslab.ts";
import { TEST_HELPERS_DTS } from "../asserts.ts";

export interface CellDiagnostic {
  line: number;
  column: number;
  code: number;
  message: string;
}

interface Entry {
  key: string;
  names: string[];
  text: string;
}

/** What the language service reads besides the notebook's cells and modules. */
export interface NotebookEnvironment {
  /** The declaration file of each preloaded package found ("gradbook", "gradbook/widgets"). */
  packages: Record<string, string>;
  /** More global declarations (the types-only namespace `gb` the build writes), or "". */
  globals: string;
  /** Compiler options: the lib files, the @types packages and where they are. */
  lib: string[];
  types: string[];
  typeRoots: string[];
  /** The files the service reads (lib files, declarations, @types). */
  fs: Pick<TS.System, "fileExists" | "readFile" | "readDirectory" | "directoryExists" | "getDirectories" | "realpath">;
  defaultLibFileName(options: TS.CompilerOptions): string;
}

/** A tslab cell tag in a comment (`tags.ts`). */
const CELL_TAG = /@(node|browser|jsx|module)\b/;
/** A JSX pragma (`@jsx h`, `@jsxImportSource`...): TypeScript obeys it at a file's start, where the prelude's first declaration is. */
const JSX_PRAGMA = /@jsx\w*\b/;

/** `dir/name` (the notebook's virtual files sit in its folder). */
function inFolder(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

const GLOBALS_DTS = `
/** Clears the cell's output; with \`wait\`, only when the next output arrives (no flicker in loops). */
declare function clearOutput(options?: { wait?: boolean } | boolean): void;
/** Asks the user for a line of text (the front end shows a prompt). */
declare function input(prompt?: string, options?: { password?: boolean }): Promise<string>;
/** The value of the last cell's result. */
declare var _: any;
`;

export class Notebook {
  private service: TS.LanguageService | null = null;
  private registry: TS.DocumentRegistry | null = null;
  private files = new Map<string, { text: string; version: number }>();
  private entries = new Map<string, Entry>();
  private owner = new Map<string, string>(); // name -> entry key
  private seq = 0;
  private readonly nbFile: string;
  /** The same, for tslab `@jsx` cells (TSX), once one was seen. */
  private readonly nbTsxFile: string;
  private readonly globalsFile: string;
  private diskCache = new Map<string, TS.IScriptSnapshot | undefined>();
  /** The notebook's modules (tslab `@module` cells). */
  private moduleFiles = new Set<string>();
  /** Checks the whole notebook file, earlier cells' declarations included, as before region checks (bench --kernel's reference). */
  wholeFileChecks = false;

  constructor(
    private cwd: string,
    private readonly env: NotebookEnvironment,
  ) {
    this.nbFile = inFolder(cwd, "__gradbook_notebook__.ts");
    this.nbTsxFile = inFolder(cwd, "__gradbook_notebook__.tsx");
    this.globalsFile = inFolder(cwd, "__gradbook_globals__.d.ts");
  }

  private ls(): TS.LanguageService {
    if (this.service) return this.service;
    const t = ts();
    const env = this.env;
    const paths: Record<string, string[]> = {};
    for (const [name, file] of Object.entries(env.packages)) paths[name] = [file];
    let globals = GLOBALS_DTS + TEST_HELPERS_DTS + TSLAB_DTS;
    globals += paths["gradbook"] ? `\n/** The gradbook engine (tensors, autograd), preloaded. */\ndeclare const gb: typeof import("gradbook");\n` : `\ndeclare const gb: any;\n`;
    // type aliases under the same name (gb.Tensor, gb.nn.Module as types), made by the build from the engine's exports
    if (paths["gradbook"]) globals += env.globals;
    globals += paths["gradbook/widgets"]
      ? `/** gradbook widgets, preloaded. */\ndeclare const widgets: typeof import("gradbook/widgets");\n` +
        `/** Shows a rich output: a value's toMimeBundle() (tensors, plots, widgets), else its text. Returns a handle when displayId is given. */\ndeclare const display: typeof import("gradbook/widgets").display;\n`
      : `declare const widgets: any;\ndeclare const display: any;\n`;
    this.files.set(this.globalsFile, { text: globals, version: 1 });
    if (!this.files.has(this.nbFile)) this.files.set(this.nbFile, { text: "export {};\n", version: 1 });
    const options: TS.CompilerOptions = {
      target: t.ScriptTarget.ES2022,
      module: t.ModuleKind.ESNext,
      moduleResolution: t.ModuleResolutionKind.Bundler,
      lib: env.lib,
      strict: true,
      noImplicitAny: false,
      esModuleInterop: true,
      allowSyntheticDefaultImports: true,
      skipLibCheck: true,
      resolveJsonModule: true,
      allowJs: true,
      allowImportingTsExtensions: true,
      noEmit: true,
      useDefineForClassFields: true,
      jsx: t.JsxEmit.React,
      types: env.types,
      typeRoots: env.typeRoots,
      paths,
    };
    const host: TS.LanguageServiceHost = {
      getScriptFileNames: () => [this.globalsFile, this.nbFile, ...(this.files.has(this.nbTsxFile) ? [this.nbTsxFile] : []), ...this.moduleFiles],
      getScriptVersion: (f) => String(this.files.get(f)?.version ?? 0),
      getScriptSnapshot: (f) => {
        const v = this.files.get(f);
        if (v) return new TextSnapshot(v.text);
        if (this.diskCache.has(f)) return this.diskCache.get(f);
        const text = env.fs.readFile(f);
        const snap = text === undefined ? undefined : t.ScriptSnapshot.fromString(text);
        this.diskCache.set(f, snap);
        return snap;
      },
      getCurrentDirectory: () => this.cwd,
      getCompilationSettings: () => options,
      getDefaultLibFileName: (o) => env.defaultLibFileName(o),
      fileExists: (f) => this.files.has(f) || env.fs.fileExists(f),
      readFile: (f) => this.files.get(f)?.text ?? env.fs.readFile(f),
      readDirectory: env.fs.readDirectory,
      directoryExists: env.fs.directoryExists,
      getDirectories: env.fs.getDirectories,
      realpath: env.fs.realpath,
    };
    // (one registry for the session: a service made again reuses the parsed declaration files)
    this.service = t.createLanguageService(host, (this.registry ??= t.createDocumentRegistry()));
    return this.service;
  }

  /** Top-level declarations of a cell, one entry per name where possible. */
  private declarationsOf(code: string): Entry[] {
    const t = ts();
    const sf = parseCell(code, !!cellTags(code).jsx);
    const out: Entry[] = [];
    const fnTexts = new Map<string, string[]>();
    const strip = (s: string) => s.replace(/^export\s+(default\s+)?/, "");
    const names = (b: TS.BindingName, acc: string[]) => {
      if (t.isIdentifier(b)) acc.push(b.text);
      else for (const el of b.elements) if (!t.isOmittedExpression(el)) names(el.name, acc);
    };
    // A declaration's doc comment (JSDoc), as TypeScript attaches it, on a line of its own before
    // its text in the prelude: a node's text (getText) leaves out the comments before it, and without
    // them the declaration inspected in a later cell has no documentation. (A tslab cell tag at the
    // cell's start is no doc comment; a JSX pragma is left out.)
    const cellStart = sf.statements[0]?.getStart() ?? 0;
    const docOf = (node: TS.Node) =>
      t
        .getJSDocCommentsAndTags(node)
        .filter((d) => t.isJSDoc(d) && !JSX_PRAGMA.test(d.getText()) && !(d.end <= cellStart && CELL_TAG.test(d.getText())))
        .map((d) => d.getText() + "\n")
        .join("");
    for (const st of sf.statements) {
      if (t.isVariableStatement(st)) {
        const list = st.declarationList;
        const kw = list.flags & t.NodeFlags.Const || list.flags & t.NodeFlags.Using ? "const" : list.flags & t.NodeFlags.Let ? "let" : "var";
        const declare = /^\s*(export\s+)?declare\b/.test(st.getText()) ? "declare " : "";
        for (const d of list.declarations) {
          const ns: string[] = [];
          names(d.name, ns);
          out.push({ key: "", names: ns, text: `${docOf(d)}${declare}${kw} ${d.getText()};` });
        }
      } else if (t.isFunctionDeclaration(st) && st.name) {
        const list = fnTexts.get(st.name.text) ?? [];
        list.push(docOf(st) + strip(st.getText()));
        fnTexts.set(st.name.text, list);
      } else if ((t.isClassDeclaration(st) || t.isInterfaceDeclaration(st) || t.isTypeAliasDeclaration(st) || t.isEnumDeclaration(st)) && st.name) {
        out.push({ key: "", names: [st.name.text], text: docOf(st) + strip(st.getText()) });
      } else if (t.isModuleDeclaration(st) && t.isIdentifier(st.name)) {
        out.push({ key: "", names: [st.name.text], text: docOf(st) + strip(st.getText()) });
      } else if (t.isImportEqualsDeclaration(st)) {
        out.push({ key: "", names: [st.name.text], text: st.getText() });
      } else if (t.isImportDeclaration(st)) {
        const spec = st.moduleSpecifier.getText();
        const c = st.importClause;
        const typeOnly = c?.isTypeOnly ? "type " : "";
        if (!c) {
          out.push({ key: `import ${spec}`, names: [], text: `import ${spec};` });
          continue;
        }
        if (c.name) out.push({ key: "", names: [c.name.text], text: `import ${typeOnly}${c.name.text} from ${spec};` });
        const nb = c.namedBindings;
        if (nb && t.isNamespaceImport(nb)) out.push({ key: "", names: [nb.name.text], text: `import ${typeOnly}* as ${nb.name.text} from ${spec};` });
        else if (nb) for (const el of nb.elements) out.push({ key: "", names: [el.name.text], text: `import ${typeOnly}{ ${el.getText()} } from ${spec};` });
      }
    }
    for (const [name, texts] of fnTexts) out.push({ key: "", names: [name], text: texts.join("\n") });
    return out;
  }

  /** Records what a cell declared, replacing earlier declarations of the same names. */
  commit(code: string): boolean {
    let decls: Entry[];
    try {
      decls = this.declarationsOf(blankMagics(code));
    } catch {
      return false;
    }
    for (const d of decls) {
      for (const n of d.names) {
        const k = this.owner.get(n);
        if (k) this.removeEntry(k);
      }
      if (d.key && this.entries.has(d.key)) continue;
      const key = d.key || `e${++this.seq}`;
      this.entries.set(key, { ...d, key });
      for (const n of d.names) this.owner.set(n, key);
    }
    return decls.length > 0;
  }

  private removeEntry(key: string) {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    for (const n of e.names) if (this.owner.get(n) === key) this.owner.delete(n);
  }

  /**
   * A module of the notebook (a tslab `@module` cell) at `fileName` (relative to the notebook);
   * returns its type errors. Cells import it as `./name`.
   */
  addModule(fileName: string, code: string): CellDiagnostic[] {
    const t = ts();
    const file = inFolder(this.cwd, fileName);
    this.files.set(file, { text: code + "\n;export {};\n", version: (this.files.get(file)?.version ?? 0) + 1 });
    this.moduleFiles.add(file);
    // a new service: imports that could not be resolved before are resolved again
    this.service = null;
    const ls = this.ls();
    const sf = ls.getProgram()!.getSourceFile(file)!;
    return ls
      .getSemanticDiagnostics(file)
      .filter((d) => d.category === t.DiagnosticCategory.Error && d.start != null)
      .map((d) => {
        const { line, character } = sf.getLineAndCharacterOfPosition(d.start!);
        return { line: line + 1, column: character + 1, code: d.code, message: t.flattenDiagnosticMessageText(d.messageText, "\n") };
      });
  }

  /** Puts `code` after the prelude in the notebook file (the TSX one for `jsx`); returns the file and the cell's offset in it. */
  private load(code: string, jsx = false): { file: string; offset: number } {
    const own = new Set<string>();
    try {
      for (const d of this.declarationsOf(code)) for (const n of d.names) own.add(n);
    } catch {}
    let prelude = "";
    for (const e of this.entries.values()) if (!e.names.some((n) => own.has(n))) prelude += e.text + "\n";
    prelude += "\n";
    const text = prelude + code + "\n;export {};\n";
    const file = jsx ? this.nbTsxFile : this.nbFile;
    const prev = this.files.get(file);
    this.ls();
    if (prev?.text !== text) this.files.set(file, { text, version: (prev?.version ?? 1) + 1 });
    return { file, offset: prelude.length };
  }

  check(code: string, jsx = false): CellDiagnostic[] {
    const t = ts();
    code = blankMagics(code);
    const { file, offset } = this.load(code, jsx);
    const ls = this.ls();
    const diags = this.wholeFileChecks ? ls.getSemanticDiagnostics(file) : cellDiagnostics(ls, file, offset, code.length);
    const sf = ls.getProgram()!.getSourceFile(file)!;
    const base = sf.getLineAndCharacterOfPosition(offset).line;
    const out: CellDiagnostic[] = [];
    for (const d of diags) {
      if (d.category !== t.DiagnosticCategory.Error || d.start == null) continue;
      if (d.start < offset || d.start > offset + code.length) continue;
      const { line, character } = sf.getLineAndCharacterOfPosition(d.start);
      out.push({ line: line - base + 1, column: character + 1, code: d.code, message: t.flattenDiagnosticMessageText(d.messageText, "\n") });
    }
    return out;
  }

  complete(code: string, cursor: number): CompleteResult {
    return this.completeNow(blankMagics(code), cursor);
  }

  private completeNow(code: string, cursor: number): CompleteResult {
    const { file, offset } = this.load(code, !!cellTags(code).jsx);
    const res = this.ls().getCompletionsAtPosition(file, offset + cursor, { includeCompletionsWithInsertText: true, includeCompletionsForModuleExports: false });
    // names only: entries with an insertText of their own (`[Symbol.iterator]` after a dot, which
    // replaces the dot) are not names to complete the word with
    const named = (res?.entries ?? []).filter((e) => e.insertText === undefined);
    // what the completion replaces: the entries' span (a module path in quotes), else the word before the cursor
    const span = named.find((e) => e.replacementSpan)?.replacementSpan ?? res?.optionalReplacementSpan;
    let start = cursor;
    if (span && span.start - offset <= cursor && span.start + span.length - offset >= cursor) start = span.start - offset;
    else while (start > 0 && /[\w$]/.test(code[start - 1])) start--;
    const prefix = code.slice(start, cursor);
    const seen = new Set<string>();
    const entries = named
      .filter((e) => e.name.startsWith(prefix) && !e.name.startsWith("__gradbook") && !e.name.startsWith("__gbm") && !e.name.startsWith("__Gradbook"))
      .sort((a, b) => (a.sortText < b.sortText ? -1 : a.sortText > b.sortText ? 1 : a.name < b.name ? -1 : 1))
      .filter((e) => (seen.has(e.name) ? false : (seen.add(e.name), true)));
    return {
      matches: entries.map((e) => e.name),
      cursorStart: start,
      cursorEnd: cursor,
      metadata: { _jupyter_types_experimental: entries.map((e) => ({ start, end: cursor, text: e.name, type: jupyterKind(e.kind) })) },
    };
  }

  inspect(code: string, cursor: number, _detail: number): InspectResult {
    return this.inspectNow(blankMagics(code), cursor);
  }

  private inspectNow(code: string, cursor: number): InspectResult {
    const t = ts();
    const { file, offset } = this.load(code, !!cellTags(code).jsx);
    const ls = this.ls();
    let info: TS.QuickInfo | undefined;
    for (const p of [cursor, cursor - 1]) {
      if (p < 0 || p > code.length) continue;
      info = ls.getQuickInfoAtPosition(file, offset + p);
      if (info) break;
    }
    if (!info) return { found: false, data: {} };
    const sig = t.displayPartsToString(info.displayParts);
    const doc = t.displayPartsToString(info.documentation);
    const tags = (info.tags ?? []).map((tag) => ({ name: tag.name, text: tag.text ? t.displayPartsToString(tag.text) : "" }));
    const text = [sig, doc, tags.map((tag) => `@${tag.name}${tag.text && " " + tag.text}`).join("\n")].filter(Boolean).join("\n\n");
    // each tag a paragraph of its own, its name in italics (none: nothing, not an empty list item)
    const md = ["```typescript\n" + sig + "\n```", doc, ...tags.map((tag) => `*@${tag.name}*${tag.text && " " + tag.text}`)].filter(Boolean).join("\n\n");
    return { found: true, data: { "text/plain": text, "text/markdown": md } };
  }
}

/**
 * A notebook file's text that tells TypeScript what changed since an earlier text of it (the
 * span between their common start and common end), so that the service parses the notebook file
 * incrementally: an edit of the cell reuses the earlier cells' declarations already parsed.
 */
class TextSnapshot implements TS.IScriptSnapshot {
  constructor(readonly text: string) {}
  getText(start: number, end: number): string {
    return this.text.substring(start, end);
  }
  getLength(): number {
    return this.text.length;
  }
  getChangeRange(old: TS.IScriptSnapshot): TS.TextChangeRange | undefined {
    if (!(old instanceof TextSnapshot)) return undefined;
    const a = old.text;
    const b = this.text;
    const common = Math.min(a.length, b.length);
    let start = 0;
    while (start < common && a.charCodeAt(start) === b.charCodeAt(start)) start++;
    let end = 0;
    while (end < common - start && a.charCodeAt(a.length - 1 - end) === b.charCodeAt(b.length - 1 - end)) end++;
    return ts().createTextChangeRange(ts().createTextSpan(start, a.length - end - start), b.length - end - start);
  }
}

/**
 * The semantic diagnostics of the cell's statements only: the earlier cells' declarations before
 * it are resolved where the cell uses them, never checked as a whole, so a check costs the same
 * at the end of a long notebook as at its start. TypeScript's region check (what tsserver uses for
 * an editor's visible lines; in the LanguageService since 5.6, not in its public declarations);
 * the whole file's diagnostics where it is missing or declines (a file it would check whole anyway).
 */
function cellDiagnostics(ls: TS.LanguageService, file: string, offset: number, length: number): readonly TS.Diagnostic[] {
  const region = (ls as RegionLanguageService).getRegionSemanticDiagnostics?.(file, [{ pos: offset, end: offset + length }]);
  return region?.diagnostics ?? ls.getSemanticDiagnostics(file);
}

interface RegionLanguageService extends TS.LanguageService {
  getRegionSemanticDiagnostics?(file: string, ranges: TS.TextRange[]): { diagnostics: TS.Diagnostic[] } | undefined;
}

function blankMagics(code: string): string {
  return code.replace(/^([ \t]*%%\w+[^\n]*)/, (m) => " ".repeat(m.length));
}

function jupyterKind(kind: string): string {
  switch (kind) {
    case "method":
    case "function":
    case "local function":
      return "function";
    case "class":
      return "class";
    case "interface":
    case "type":
      return "type";
    case "module":
    case "external module name":
      return "module";
    case "keyword":
      return "keyword";
    case "property":
    case "getter":
    case "setter":
      return "property";
    default:
      return "variable";
  }
}
