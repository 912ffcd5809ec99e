/**
 * The TypeScript interpreter: compiles cells (compile.ts, in the compiler thread), runs them in
 * the kernel's global scope with the engine preloaded, shows results through the widgets'
 * display pipeline, reports type errors (language.ts, in the language-service thread) and
 * answers completion/inspection. What it needs from Node is behind the Platform (node.ts); the
 * cell globals are in globals.ts, the ordered output in output.ts, tracebacks in errors.ts.
 *
 * Type checking never delays a cell: a cell runs as soon as it is transpiled, while the
 * language service checks it. The reply waits for the check only once the service is warm
 * (milliseconds, at most GRADBOOK_TYPECHECK_WAIT_MS); a check still running when a cell ends
 * on a cold service is reported at the top of the next cell's output. `%%strict` cells wait
 * for their check, warm or cold, and do not run with type errors.
 */
import type * as Widgets from "../../widgets/index.ts";
import type { CompleteResult, ExecuteOutcome, ExecuteRequest, InspectResult, Interpreter, KernelIO, MimeBundle, ErrorInfo } from "../interpreter.ts";
import type { CompiledCell } from "./compile.ts";
import { cellTags } from "./tags.ts";
import { BOLD_RED, CYAN, RED, RESET, KeyboardInterrupt, formatError, syntaxError, type CellRecord } from "./errors.ts";
import { installGlobals } from "./globals.ts";
import type { CellDiagnostic } from "./language.ts";
import { completeFromLiveObjects, liveAnswerIsExact, standaloneExpression } from "./live-complete.ts";
import { NotebookModules } from "./modules.ts";
import { CellOutput } from "./output.ts";
import type { Compiled, Platform } from "./platform.ts";
import { tslabModule } from "./tslab.ts";
import { kernelInfo, type KernelInfo } from "../info.ts";

/** How long a reply may wait for the type check of its cell on a warm language service. */
const CHECK_WAIT_MS = Number((globalThis as any).process?.env?.GRADBOOK_TYPECHECK_WAIT_MS ?? 3000);

type Cell = CompiledCell & { run?: () => unknown; fileName: string };

export class TypeScriptInterpreter implements Interpreter {
  readonly info: KernelInfo;
  private io!: KernelIO;
  private output!: CellOutput;
  private widgets: typeof Widgets | null = null;
  private readonly modules: NotebookModules;
  private cells = new Map<string, CellRecord>();
  private cellSeq = 0;
  private running: { reject: (e: Error) => void } | null = null;
  /** Compiled cells by source: re-running a cell skips compiling (and V8's parse of the script). */
  private compileCache = new Map<string, Cell>();
  /** Type checks that were still running when their cell's reply went out. */
  private lateChecks: { count: number; diags: CellDiagnostic[] | null }[] = [];
  constructor(private readonly platform: Platform) {
    this.modules = new NotebookModules((js, fileName) => this.platform.script(js, fileName));
    this.info = kernelInfo(this.platform.typescriptVersion, this.platform.runtime);
  }

  private get lang() {
    return this.platform.language;
  }

  async init(io: KernelIO): Promise<void> {
    this.io = io;
    // the compiler loads while the kernel starts (in its own thread): the first cell finds it ready
    this.compilerLoaded = this.platform.compiler.start();
    this.compilerLoaded.catch((e) => this.io.log(`the compiler did not load: ${e?.message ?? e}`));
    const formatText = (v: unknown) => this.platform.formatText(v);
    this.output = new CellOutput(io, formatText, (e) => this.describe(e));
    this.platform.captureOutput(
      (name, text) => this.output.stream(name, text),
      (what, e) => this.io.stream("stderr", `${what}: ${this.describe(e)}\n`),
    );
    // (a browser's timers have no unref)
    setTimeout(() => this.connected(), 1500).unref?.();
    const preloaded = new Map<string, unknown>();
    const g = globalThis as any;
    try {
      g.gb = await this.platform.loadEngine();
      preloaded.set("gradbook", g.gb);
    } catch (e) {
      this.io.log(`the gradbook engine is not available (${(e as Error).message.split("\n")[0]}); \`gb\` is undefined`);
    }
    try {
      this.widgets = g.widgets = await this.platform.loadWidgets();
      preloaded.set("gradbook/widgets", this.widgets);
      // the one place the kernel's host is installed
      this.widgets!.setDisplayHost(this.output);
      preloaded.set("tslab", tslabModule(this.widgets!, { typescript: this.platform.typescriptVersion, node: this.platform.runtime.version }));
    } catch (e) {
      this.io.log(`gradbook widgets are not available (${(e as Error).message.split("\n")[0]}): results show as text`);
    }
    installGlobals({ platform: this.platform, io, output: this.output, preloaded, modules: this.modules, widgets: this.widgets, languageMemory: () => this.lang.memory() });
  }

  private compilerLoaded: Promise<unknown> = Promise.resolve();
  private warm = false;
  /**
   * Once a client is connected (the first kernel_info_reply went out: start-up is not slowed)
   * and the compiler has loaded (the first cell needs it first), the language service loads.
   */
  connected(): void {
    if (this.warm) return;
    this.warm = true;
    const warmup = () => this.lang.warmup();
    this.compilerLoaded.then(warmup, warmup);
  }

  private describe(e: unknown): string {
    if (e instanceof Error) return this.formatError(e).traceback.join("\n");
    return this.platform.formatText(e);
  }

  private formatError(e: unknown): ErrorInfo {
    return formatError(e, this.cells, (v) => this.platform.formatText(v), this.platform.internalFrames);
  }

  /** The MIME bundle of a cell's value, through the widgets' pipeline (text only if the widgets did not load). */
  private bundleOf(value: unknown): MimeBundle | Promise<MimeBundle> {
    if (this.widgets) return this.widgets.bundleOf(value, (v) => this.platform.formatText(v));
    return { "text/plain": this.platform.formatText(value) };
  }

  interrupt(): void {
    (globalThis as any).__gradbookInterrupt = true;
    if (this.running) this.running.reject(new KeyboardInterrupt("interrupted"));
  }

  async shutdown(): Promise<void> {
    await this.lang.stop();
  }

  // ---------------------------------------------------------------- execute

  async execute(req: ExecuteRequest): Promise<ExecuteOutcome> {
    this.reportLateChecks();
    const count = req.executionCount;
    let code = req.code;
    let strict = false;
    // A cell the client compiled (the grader's instructor cells): run as given, out of reach of
    // what earlier cells did to the compiler, its thread's channel or the built-ins they use.
    const given = precompiled(req.metadata);
    const magic = given ? null : /^[ \t]*%%(\w+)[^\n]*(\n|$)/.exec(code);
    if (magic) {
      if (magic[1] !== "strict") return this.errorOutcome({ ename: "UsageError", evalue: `unknown cell magic %%${magic[1]} (known: %%strict)`, traceback: [`${BOLD_RED}UsageError${RESET}: unknown cell magic %%${magic[1]} (known: %%strict)`] });
      strict = true;
      code = code.slice(0, magic.index) + " ".repeat(magic[0].length - magic[2].length) + magic[2] + code.slice(magic.index + magic[0].length);
    }
    const help = given ? null : /^\s*\?\s*([\s\S]+?)\s*$/.exec(code) ?? /^\s*([^?\n][\s\S]*?)\s*\?\s*$/.exec(code);
    if (help && !/\?\?$/.test(code.trim()) && /^[\w$.\[\]"']+$/.test(help[1])) return this.page(help[1]);

    const tags = given ? {} : cellTags(code);
    if (tags.module) return this.defineModule(tags.module, code, !!tags.jsx, count, strict);
    if (tags.browser) {
      this.io.stream("stderr", `In[${count}] is tagged @browser: tslab would run it in the browser; gradbook runs cells in the kernel only, so it was not run (remove the tag to run it here).\n`);
      return { status: "ok" };
    }

    (globalThis as any).__gradbookInterrupt = false;
    const compiled = given ? { cell: { ...given, fileName: `cell-${++this.cellSeq}.ts` } } : await this.compile(code, !!tags.jsx, count);
    if ("error" in compiled) return compiled.error;
    const cell = compiled.cell;
    this.cells.delete(cell.fileName); // (re-inserted: the most recent cells are kept)
    this.cells.set(cell.fileName, { count, map: cell.map, lines: code.split("\n") });
    if (this.cells.size > 500) this.cells.delete(this.cells.keys().next().value!);

    // Type errors: checked in the language service while the cell runs; shown, not fatal (unless %%strict).
    const checking = this.lang.check(cell.source, !!tags.jsx).catch((e) => {
      this.io.log(`type check failed: ${e.message}`);
      return [] as CellDiagnostic[];
    });
    if (strict) {
      let diags: CellDiagnostic[];
      try {
        diags = await this.withInterrupt(checking);
      } catch (e) {
        return this.errorOutcome(this.formatError(e));
      }
      if (diags.length)
        return this.errorOutcome({
          ename: "TypeError",
          evalue: `${diags.length} type error${diags.length > 1 ? "s" : ""} (%%strict): ${diags[0].message.split("\n")[0]}`,
          traceback: [`${BOLD_RED}TypeError${RESET}: the cell has type errors and runs under %%strict`, formatDiagnostics(diags, count)],
        });
    }

    let value: unknown;
    let failed: unknown = null;
    const helper = (globalThis as any).__gradbook;
    try {
      const run = (cell.run ??= this.platform.script(cell.js, cell.fileName));
      helper.result = undefined;
      this.io.userCode("sync");
      value = run();
      if (!cell.async) {
        value = helper.result;
        helper.result = undefined;
      } else {
        this.io.userCode("async");
        value = await this.withInterrupt(value as Promise<unknown>);
      }
    } catch (e) {
      failed = e;
    } finally {
      this.running = null;
      this.io.userCode(null);
    }
    this.lang.commit(cell.source, cell.declaresAnything);
    if (!strict) await this.showTypeErrors(checking, count);
    this.reportLateChecks();
    if (failed) {
      await this.output.settled();
      return this.errorOutcome(this.formatError(failed));
    }
    if (!cell.hasValue) value = undefined;
    let resultText: string | undefined;
    if (value !== undefined && !(this.widgets && value instanceof this.widgets.DisplayHandle)) {
      let data: MimeBundle;
      try {
        data = await this.withInterrupt(this.bundleOf(value));
      } catch (e) {
        await this.output.settled();
        return this.errorOutcome(this.formatError(e));
      }
      resultText = typeof data["text/plain"] === "string" ? (data["text/plain"] as string) : undefined;
      (globalThis as any)._ = value;
      await this.output.settled();
      if (!req.silent) this.io.executeResult(count, data, {});
    }
    await this.output.settled();
    return { status: "ok", resultText };
  }

  /** The compiled cell (cached by source), or the error outcome of a syntax error. */
  private async compile(code: string, jsx: boolean, count: number): Promise<{ cell: Cell } | { error: ExecuteOutcome }> {
    const key = jsx ? `jsx\0${code}` : code;
    const hit = this.compileCache.get(key);
    if (hit) return { cell: hit };
    const fileName = `cell-${++this.cellSeq}.ts`;
    let r: Compiled<CompiledCell>;
    try {
      r = await this.withInterrupt(this.platform.compiler.compile(code, fileName, jsx));
    } catch (e) {
      return { error: this.errorOutcome(this.formatError(e)) };
    }
    if ("syntaxError" in r) return { error: this.errorOutcome(syntaxError(r.syntaxError, code, count)) };
    const cell: Cell = { ...r.ok, fileName };
    if (this.compileCache.size >= 100) this.compileCache.delete(this.compileCache.keys().next().value!);
    this.compileCache.set(key, cell);
    return { cell };
  }

  /**
   * The type errors of a cell that ran: shown with its output when the check is done, or done
   * within GRADBOOK_TYPECHECK_WAIT_MS on a warm language service; otherwise with the next cell's.
   */
  private async showTypeErrors(checking: Promise<CellDiagnostic[]>, count: number): Promise<void> {
    // a warm service: wait (bounded); a cold one: only for a check already done (a memoized one)
    const wait = this.lang.ready ? CHECK_WAIT_MS : 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let diags: CellDiagnostic[] | null = null;
    try {
      diags = await this.withInterrupt(Promise.race([checking, new Promise<null>((r) => (timer = setTimeout(() => r(null), wait)))]));
    } catch {
      // interrupted: reported later
    } finally {
      clearTimeout(timer);
    }
    if (diags) {
      if (diags.length) this.io.stream("stderr", formatDiagnostics(diags, count) + "\n");
      return;
    }
    const late: { count: number; diags: CellDiagnostic[] | null } = { count, diags: null };
    this.lateChecks.push(late);
    checking.then((d) => (late.diags = d));
  }

  /** Type errors of earlier cells whose checks ended after their replies. */
  private reportLateChecks(): void {
    const done = this.lateChecks.filter((c) => c.diags);
    if (!done.length) return;
    this.lateChecks = this.lateChecks.filter((c) => !c.diags);
    for (const c of done)
      if (c.diags!.length) this.io.stream("stderr", `Type errors of In[${c.count}] (its check ended after it ran):\n${formatDiagnostics(c.diags!, c.count)}\n`);
  }

  /** A tslab `@module name` cell: not run; later cells import it as "./name". */
  private async defineModule(name: string, code: string, jsx: boolean, count: number, strict: boolean): Promise<ExecuteOutcome> {
    let r: Compiled<string>;
    try {
      r = await this.withInterrupt(this.platform.compiler.compileModule(code, `${name}.ts`, jsx));
    } catch (e) {
      return this.errorOutcome(this.formatError(e));
    }
    if ("syntaxError" in r) return this.errorOutcome(syntaxError(r.syntaxError, code, count));
    this.modules.define(name, r.ok);
    const checking = this.lang.addModule(`${name}.${jsx ? "tsx" : "ts"}`, code).catch((e) => {
      this.io.log(`type check of module ${name} failed: ${e.message}`);
      return [] as CellDiagnostic[];
    });
    if (!strict) await this.showTypeErrors(checking, count);
    else {
      const diags = await this.withInterrupt(checking);
      if (diags.length) return this.errorOutcome({ ename: "TypeError", evalue: `module ${name}: ${diags.length} type error(s) (%%strict)`, traceback: [formatDiagnostics(diags, count)] });
    }
    return { status: "ok" };
  }

  private withInterrupt<T>(p: T | Promise<T>): Promise<T> {
    if (!(p instanceof Promise)) return Promise.resolve(p);
    return new Promise<T>((resolve, reject) => {
      this.running = { reject };
      p.then(resolve, reject);
    }).finally(() => (this.running = null));
  }

  private errorOutcome(e: ErrorInfo): ExecuteOutcome {
    return { status: "error", ...e };
  }

  private async page(expr: string): Promise<ExecuteOutcome> {
    const r = await this.inspect(expr, expr.length, 1);
    const data = r.found ? r.data : { "text/plain": `Object \`${expr}\` not found.` };
    return { status: "ok", payload: [{ source: "page", data, start: 0 }] };
  }

  async evaluate(expression: string): Promise<{ data: MimeBundle; metadata: Record<string, unknown> }> {
    const r = await this.platform.compiler.compile(expression, `expr-${++this.cellSeq}.ts`);
    if ("syntaxError" in r) throw new SyntaxError(r.syntaxError.message);
    const c = r.ok;
    const helper = (globalThis as any).__gradbook;
    let v = this.platform.script(c.js, "user_expression")();
    if (c.async) v = await v;
    else (v = helper.result), (helper.result = undefined);
    return { data: await this.bundleOf(c.hasValue ? v : undefined), metadata: {} };
  }

  // ---------------------------------------------------------------- language

  /**
   * From the live objects where their answer is the language service's too (at once, where the
   * service makes a new program for each edit), and while the service is still loading (the first
   * seconds) wherever they know an answer; from the language service otherwise.
   */
  async complete(code: string, cursor: number): Promise<CompleteResult> {
    if (!this.lang.ready || liveAnswerIsExact(code, cursor)) {
      const live = completeFromLiveObjects(code, cursor, this.platform);
      if (live?.matches.length) return live;
    }
    return this.lang.complete(code, cursor);
  }

  /** From the language service; a name or chain the cell does not bind is asked as a cell of its own (the same answer, kept across edits of the cell). */
  async inspect(code: string, cursor: number, detailLevel: number): Promise<InspectResult> {
    const alone = standaloneExpression(code, cursor);
    if (alone) {
      const answer = await this.lang.inspect(alone.code, alone.cursor, detailLevel);
      // a function called: in its call, overloads and type parameters resolve by the arguments
      const signature = String(answer.data["text/plain"] ?? "").split("\n")[0];
      if (!alone.called || !/\(\+\d+ overloads?\)|<[^(]*\(/.test(signature)) return answer;
    }
    return this.lang.inspect(code, cursor, detailLevel);
  }

  async isComplete(code: string): Promise<{ status: "complete" | "incomplete" | "invalid" | "unknown"; indent?: string }> {
    return this.platform.compiler.completeness(code);
  }
}

function formatDiagnostics(diags: CellDiagnostic[], count: number): string {
  return diags.map((d) => `${CYAN}In[${count}]${RESET} line ${d.line}: ${RED}error${RESET} TS${d.code}: ${d.message}`).join("\n");
}

/** The compiled cell a client sent in the request's metadata (`gradbook.compiled`, as compileCell makes it), or null. */
function precompiled(metadata: Record<string, unknown> | undefined): CompiledCell | null {
  const c = (metadata?.gradbook as { compiled?: Partial<Record<keyof CompiledCell, unknown>> } | undefined)?.compiled;
  if (!c || typeof c !== "object") return null;
  const { js, source, async, hasValue, declaresAnything, declared, map } = c;
  if (typeof js !== "string" || typeof source !== "string" || typeof async !== "boolean" || typeof hasValue !== "boolean" || typeof declaresAnything !== "boolean") return null;
  if (!Array.isArray(declared) || !Array.isArray(map)) return null;
  return { js, source, async, hasValue, declaresAnything, declared, map };
}
