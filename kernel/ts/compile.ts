/**
 * Turns a notebook cell (TypeScript) into a script that runs in the kernel's
 * global scope, the way a notebook user expects:
 * - top-level let/const/class/function/enum/import declarations become
 *   globals that persist across cells and may be declared again;
 * - top-level await works (the cell runs in an async wrapper, its
 *   declarations hoisted out of it, as Node's REPL does);
 * - the value of a final expression statement is the cell's result.
 * Edits keep the cell's line numbers; TypeScript strips the types and its
 * source map maps stack traces back to the cell.
 */
import type * as TS from "typescript";
import { ts } from "./tsapi.ts";
import { decodeMappings, type DecodedMap } from "./sourcemap.ts";
import type { Compiled } from "./platform.ts";

export interface CompiledCell {
  js: string;
  map: DecodedMap;
  /** Runs in an async wrapper; the script's value is a promise of the result. */
  async: boolean;
  /** The cell ends with an expression statement whose value is the result. */
  hasValue: boolean;
  /** Names declared at top level. */
  declared: string[];
  /** The cell declares something at top level (values or types). */
  declaresAnything: boolean;
  /** The source as compiled (`{ a: 1 }` alone becomes `({ a: 1 })`). */
  source: string;
}

export class CellSyntaxError extends Error {
  override name = "SyntaxError";
  constructor(message: string, readonly line: number, readonly column: number) {
    super(message);
  }
}

/** `f()`'s result, or its syntax error as data (it crosses threads). */
export function catchingSyntaxErrors<T>(f: () => T): Compiled<T> {
  try {
    return { ok: f() };
  } catch (e) {
    if (e instanceof CellSyntaxError) return { syntaxError: { message: e.message, line: e.line, column: e.column } };
    throw e;
  }
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

function newlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) n++;
  return n;
}

/** Parses a cell (as TSX with `jsx`: a tslab `@jsx` cell). */
export function parseCell(code: string, jsx = false): TS.SourceFile {
  const t = ts();
  // Parsed as a module, so that top-level `await (x)` is an await, not a call of a function named await.
  return t.createSourceFile(
    jsx ? "cell.tsx" : "cell.ts",
    code,
    { languageVersion: t.ScriptTarget.ES2022, setExternalModuleIndicator: (f) => ((f as any).externalModuleIndicator = true) },
    true,
    jsx ? t.ScriptKind.TSX : t.ScriptKind.TS,
  );
}

export function syntaxErrors(sf: TS.SourceFile): TS.DiagnosticWithLocation[] {
  return ((sf as any).parseDiagnostics ?? []) as TS.DiagnosticWithLocation[];
}

function hasModifier(node: TS.Node, kind: TS.SyntaxKind): boolean {
  return !!(ts().canHaveModifiers(node) && ts().getModifiers(node)?.some((m) => m.kind === kind));
}

/** Removes `export`/`default`/`abstract` modifiers (not valid on what the declaration becomes). */
function stripModifiers(node: TS.Node, edits: Edit[], kinds: TS.SyntaxKind[]) {
  const t = ts();
  if (!t.canHaveModifiers(node)) return;
  for (const m of t.getModifiers(node) ?? []) if (kinds.includes(m.kind)) edits.push({ start: m.getStart(), end: m.getEnd(), text: "" });
}

function containsTopLevelAwait(node: TS.Node): boolean {
  const t = ts();
  let found = false;
  const visit = (n: TS.Node) => {
    if (found) return;
    if (t.isAwaitExpression(n) || (t.isForOfStatement(n) && n.awaitModifier)) {
      found = true;
      return;
    }
    if (t.isFunctionLike(n) || t.isClassLike(n)) {
      // class field initializers / computed names cannot await at top level either
      return;
    }
    t.forEachChild(n, visit);
  };
  visit(node);
  return found;
}

function bindingNames(name: TS.BindingName, out: string[]) {
  const t = ts();
  if (t.isIdentifier(name)) out.push(name.text);
  else for (const el of name.elements) if (!t.isOmittedExpression(el)) bindingNames(el.name, out);
}

/**
 * Calls the global function `guard` first thing in every loop body: the browser kernel's
 * interrupt check (a Web Worker has no SIGINT; the guard throws once an interrupt was asked for).
 */
function loopGuards(guard: string): TS.TransformerFactory<TS.SourceFile> {
  const t = ts();
  return (context) => {
    const f = context.factory;
    const guarded = (body: TS.Statement): TS.Block => {
      const call = f.createExpressionStatement(f.createCallExpression(f.createIdentifier(guard), undefined, []));
      return t.isBlock(body) ? f.updateBlock(body, [call, ...body.statements]) : f.createBlock([call, body], true);
    };
    const visit = (node: TS.Node): TS.Node => {
      const n = t.visitEachChild(node, visit, context);
      if (t.isForStatement(n)) return f.updateForStatement(n, n.initializer, n.condition, n.incrementor, guarded(n.statement));
      if (t.isForOfStatement(n)) return f.updateForOfStatement(n, n.awaitModifier, n.initializer, n.expression, guarded(n.statement));
      if (t.isForInStatement(n)) return f.updateForInStatement(n, n.initializer, n.expression, guarded(n.statement));
      if (t.isWhileStatement(n)) return f.updateWhileStatement(n, n.expression, guarded(n.statement));
      if (t.isDoStatement(n)) return f.updateDoStatement(n, guarded(n.statement), n.expression);
      return n;
    };
    return (sf) => t.visitEachChild(sf, visit, context);
  };
}

/**
 * `isSyncSpecifier`: imports served synchronously (preloaded packages, builtins); others are
 * awaited. `jsx`: the cell is TSX (JSX becomes React.createElement, as in tslab). `loopGuard`:
 * a global function every loop body calls first (the browser kernel's interrupts; Node's kernel
 * has breakOnSigint instead).
 */
export function compileCell(source: string, fileName: string, isSyncSpecifier: (spec: string) => boolean, jsx = false, loopGuard?: string): CompiledCell {
  const t = ts();
  let code = source;
  let sf = parseCell(code, jsx);
  // `{ a: 1 }` alone: an object literal, not a block (Node REPL does the same).
  if (/^\s*\{[\s\S]*\}\s*$/.test(code) && !/;\s*$/.test(code)) {
    const wrapped = parseCell(`(${code})`, jsx);
    if (!syntaxErrors(wrapped).length) {
      code = `(${code})`;
      sf = wrapped;
    }
  }
  const errs = syntaxErrors(sf);
  if (errs.length) {
    const d = errs[0];
    const { line, character } = sf.getLineAndCharacterOfPosition(d.start ?? 0);
    throw new CellSyntaxError(t.flattenDiagnosticMessageText(d.messageText, "\n"), line + 1, character + 1);
  }

  const edits: Edit[] = [];
  const declared: string[] = [];
  const globalsAfter: string[] = []; // function/enum/namespace names assigned to globalThis in async mode
  const wrapperStart: string[] = [];
  let isAsync = sf.statements.some((s) => containsTopLevelAwait(s));
  let modCount = 0;
  const replace = (node: TS.Node, text: string) => {
    const start = node.getStart(), end = node.getEnd();
    if (/^[([`]/.test(text)) text = ";" + text; // no ASI hazard with a previous line lacking its semicolon
    const orig = code.slice(start, end);
    edits.push({ start, end, text: text + "\n".repeat(Math.max(0, newlines(orig) - newlines(text))) });
  };

  for (const st of sf.statements) {
    if (t.isImportDeclaration(st)) {
      const spec = (st.moduleSpecifier as TS.StringLiteral).text;
      const clause = st.importClause;
      if (clause?.isTypeOnly) {
        replace(st, "");
        continue;
      }
      const sync = isSyncSpecifier(spec);
      if (!sync) isAsync = true;
      const load = sync ? `__gradbook.importSync(${JSON.stringify(spec)})` : `(await __gradbook.import(${JSON.stringify(spec)}))`;
      if (!clause) {
        replace(st, `${load};`);
        continue;
      }
      const m = `__gbm${modCount++}`;
      const parts = [`var ${m} = ${load};`];
      if (clause.name) {
        declared.push(clause.name.text);
        parts.push(`${clause.name.text} = __gradbook.defaultOf(${m});`);
      }
      const nb = clause.namedBindings;
      if (nb && t.isNamespaceImport(nb)) {
        declared.push(nb.name.text);
        parts.push(`${nb.name.text} = ${m};`);
      } else if (nb) {
        for (const el of nb.elements) {
          if (el.isTypeOnly) continue;
          const imported = (el.propertyName ?? el.name).text;
          declared.push(el.name.text);
          parts.push(imported === "default" ? `${el.name.text} = __gradbook.defaultOf(${m});` : `${el.name.text} = __gradbook.named(${m}, ${JSON.stringify(imported)});`);
        }
      }
      replace(st, parts.join(" "));
    } else if (t.isImportEqualsDeclaration(st)) {
      if (st.isTypeOnly) {
        replace(st, "");
        continue;
      }
      declared.push(st.name.text);
      const ref = st.moduleReference;
      if (t.isExternalModuleReference(ref)) replace(st, `${st.name.text} = __gradbook.require(${ref.expression.getText()});`);
      else replace(st, `${st.name.text} = ${ref.getText()};`);
    } else if (t.isExportDeclaration(st)) {
      replace(st, "");
    } else if (t.isExportAssignment(st)) {
      replace(st, `${st.expression.getText()};`);
    } else if (t.isVariableStatement(st)) {
      if (hasModifier(st, t.SyntaxKind.DeclareKeyword)) {
        replace(st, "");
        continue;
      }
      const isVar = !(st.declarationList.flags & (t.NodeFlags.Let | t.NodeFlags.Const | t.NodeFlags.Using | t.NodeFlags.AwaitUsing));
      const parts: string[] = [];
      for (const d of st.declarationList.declarations) {
        bindingNames(d.name, declared);
        const name = d.name.getText();
        if (d.initializer) {
          const init = d.initializer.getText();
          parts.push(t.isIdentifier(d.name) ? `${name} = ${init};` : `(${name} = ${init});`);
        } else if (!isVar && t.isIdentifier(d.name)) parts.push(`${name} = undefined;`);
      }
      // keep the text between declarations' lines: rebuild with the original line breaks
      replace(st, parts.join(" "));
    } else if (t.isFunctionDeclaration(st)) {
      if (!st.name || !st.body) continue;
      stripModifiers(st, edits, [t.SyntaxKind.ExportKeyword, t.SyntaxKind.DefaultKeyword]);
      declared.push(st.name.text);
      wrapperStart.push(st.name.text);
    } else if (t.isClassDeclaration(st)) {
      if (hasModifier(st, t.SyntaxKind.DeclareKeyword)) continue;
      if (!st.name) continue;
      declared.push(st.name.text);
      stripModifiers(st, edits, [t.SyntaxKind.ExportKeyword, t.SyntaxKind.DefaultKeyword, t.SyntaxKind.AbstractKeyword]);
      // `class A {}` -> `A = class A {};` (decorators stay in front of `class`)
      const classKw = st.getChildren().find((c) => c.kind === t.SyntaxKind.ClassKeyword)!;
      edits.push({ start: classKw.getStart(), end: classKw.getStart(), text: `${st.name.text} = ` });
      edits.push({ start: st.getEnd(), end: st.getEnd(), text: ";" });
      // decorators before `class` would now precede an assignment: move them is not worth it; they are rare in notebooks
    } else if (t.isEnumDeclaration(st) || t.isModuleDeclaration(st)) {
      if (hasModifier(st, t.SyntaxKind.DeclareKeyword) || !t.isIdentifier(st.name)) continue;
      if (t.isModuleDeclaration(st) && !(st.body && t.isModuleBlock(st.body)) && !st.body) continue;
      stripModifiers(st, edits, [t.SyntaxKind.ExportKeyword]);
      declared.push(st.name.text);
      globalsAfter.push(st.name.text);
      edits.push({ start: st.getEnd(), end: st.getEnd(), text: `;globalThis[${JSON.stringify(st.name.text)}] = ${st.name.text};` });
    }
  }

  // the final expression statement: its value is the cell's result
  let hasValue = false;
  const last = [...sf.statements].reverse().find((s) => !t.isEmptyStatement(s) && !t.isInterfaceDeclaration(s) && !t.isTypeAliasDeclaration(s));
  if (last && t.isExpressionStatement(last)) {
    hasValue = true;
    // capture the value explicitly (a transpiler may drop side-effect-free expression statements)
    const e = last.expression;
    edits.push({ start: e.getStart(), end: e.getStart(), text: isAsync ? "return (" : "__gradbook.result = (" });
    edits.push({ start: e.getEnd(), end: e.getEnd(), text: ")" });
  }

  edits.sort((a, b) => a.start - b.start || a.end - b.end);
  let body = "";
  let pos = 0;
  for (const e of edits) {
    if (e.start < pos) continue; // overlapping (should not happen)
    body += code.slice(pos, e.start) + e.text;
    pos = e.end;
  }
  body += code.slice(pos);

  const uniq = [...new Set(declared)];
  const hoisted = uniq.filter((n) => !globalsAfter.includes(n)); // enums/namespaces declare their own var
  const hoist = hoisted.length ? `var ${hoisted.join(", ")}; ` : "";
  let edited: string;
  if (isAsync) {
    const fnGlobals = wrapperStart.map((n) => `globalThis[${JSON.stringify(n)}] = ${n};`).join(" ");
    edited = `${hoist}(async () => { ${fnGlobals} ${body}\n})()`;
  } else {
    edited = `${hoist}${body}`;
  }
  // Types are stripped in-process by TypeScript (esbuild would run a child process, which a
  // signal-mode interrupt -- SIGINT to the whole process group -- would kill).
  const out = t.transpileModule(edited, {
    fileName: jsx ? fileName.replace(/\.ts$/, ".tsx") : fileName,
    reportDiagnostics: true,
    compilerOptions: {
      target: t.ScriptTarget.ES2022,
      module: t.ModuleKind.ESNext,
      sourceMap: true,
      inlineSources: false,
      useDefineForClassFields: true,
      alwaysStrict: false,
      strict: false,
      removeComments: false,
      experimentalDecorators: false,
      verbatimModuleSyntax: false,
      isolatedModules: true,
      moduleDetection: t.ModuleDetectionKind.Legacy,
      jsx: t.JsxEmit.React,
    },
    transformers: loopGuard ? { before: [loopGuards(loopGuard)] } : undefined,
  });
  const bad = out.diagnostics?.find((d) => d.category === t.DiagnosticCategory.Error);
  if (bad) {
    const pos = bad.file && bad.start != null ? bad.file.getLineAndCharacterOfPosition(bad.start) : { line: 0, character: 0 };
    throw new CellSyntaxError(t.flattenDiagnosticMessageText(bad.messageText, "\n"), pos.line + 1, pos.character + 1);
  }
  const js = out.outputText.replace(/\/\/# sourceMappingURL=.*\s*$/, "");
  let map: DecodedMap = [];
  try {
    map = decodeMappings(JSON.parse(out.sourceMapText!).mappings);
  } catch {}
  const declaresAnything =
    uniq.length > 0 ||
    sf.statements.some((st) => t.isInterfaceDeclaration(st) || t.isTypeAliasDeclaration(st) || t.isImportDeclaration(st) || t.isModuleDeclaration(st) || t.isVariableStatement(st) || t.isFunctionDeclaration(st) || t.isClassDeclaration(st) || t.isEnumDeclaration(st));
  return { js, map, async: isAsync, hasValue, declared: uniq, source: code, declaresAnything };
}

/** A tslab `@module` cell: a module of its own, as CommonJS (its imports go through the cells' `require`). */
export function compileModule(source: string, fileName: string, jsx = false, loopGuard?: string): string {
  const t = ts();
  const out = t.transpileModule(source, {
    fileName: jsx ? fileName.replace(/\.ts$/, ".tsx") : fileName,
    reportDiagnostics: true,
    compilerOptions: { target: t.ScriptTarget.ES2022, module: t.ModuleKind.CommonJS, esModuleInterop: true, jsx: t.JsxEmit.React, isolatedModules: true },
    transformers: loopGuard ? { before: [loopGuards(loopGuard)] } : undefined,
  });
  const bad = out.diagnostics?.find((d) => d.category === t.DiagnosticCategory.Error);
  if (bad) {
    const pos = bad.file && bad.start != null ? bad.file.getLineAndCharacterOfPosition(bad.start) : { line: 0, character: 0 };
    throw new CellSyntaxError(t.flattenDiagnosticMessageText(bad.messageText, "\n"), pos.line + 1, pos.character + 1);
  }
  return out.outputText;
}

/** is_complete_request: whether a cell can run as typed, or needs more lines (and their indent). */
export function completeness(code: string): { status: "complete" | "incomplete" | "invalid"; indent?: string } {
  const body = code.replace(/^[ \t]*%%\w+[^\n]*\n?/, "");
  if (!body.trim()) return { status: "complete" };
  const errs = syntaxErrors(parseCell(body));
  if (!errs.length) return { status: "complete" };
  const end = body.trimEnd().length;
  const unterminated = errs.some((d) => d.code === 1160 /* template */ || d.code === 1010 /* comment */);
  if (unterminated || errs.every((d) => (d.start ?? 0) >= end)) {
    const lastLine = body.split("\n").pop() ?? "";
    const base = /^\s*/.exec(lastLine)![0];
    const opens = /[{([]\s*$/.test(body.trimEnd()) ? "  " : "";
    return { status: "incomplete", indent: base + opens };
  }
  return { status: "invalid" };
}

