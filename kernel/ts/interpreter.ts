/**
 * The TypeScript interpreter: compiles cells (compile.ts), runs them in the kernel's global
 * scope with the engine preloaded, shows results through the widgets' display pipeline, and
 * answers completion/inspection from the TypeScript language service (language.ts). What it
 * needs from Node is behind the Platform (node.ts); the cell globals are in globals.ts, the
 * ordered output in output.ts, tracebacks in errors.ts.
 */
import type * as Widgets from "../../widgets/index.ts";
import type { CompleteResult, ExecuteOutcome, ExecuteRequest, InspectResult, Interpreter, KernelIO, MimeBundle, ErrorInfo } from "../interpreter.ts";
import { CellSyntaxError, compileCell, parseCell, syntaxErrors } from "./compile.ts";
import { BOLD_RED, CYAN, RED, RESET, KeyboardInterrupt, formatError, syntaxError, type CellRecord } from "./errors.ts";
import { installGlobals } from "./globals.ts";
import { LanguageClient } from "./language-worker.ts";
import { nodePlatform } from "./node.ts";
import { CellOutput } from "./output.ts";
import type { Platform } from "./platform.ts";

const VERSION = "0.1.0";
const CHECK_WAIT_MS = Number(process.env.GRADBOOK_TYPECHECK_WAIT_MS ?? 10_000);

type Compiled = ReturnType<typeof compileCell> & { run?: () => unknown; fileName: string };

export class TypeScriptInterpreter implements Interpreter {
  readonly info;
  private io!: KernelIO;
  private output!: CellOutput;
  private widgets: typeof Widgets | null = null;
  private cells = new Map<string, CellRecord>();
  private cellSeq = 0;
  private running: { reject: (e: Error) => void } | null = null;
  readonly lang: LanguageClient;
  /** Compiled cells by source: re-running a cell skips compiling (and V8's parse of the script). */
  private compileCache = new Map<string, Compiled>();

  constructor(
    private readonly platform: Platform = nodePlatform(process.cwd()),
    cwd = process.cwd(),
  ) {
    this.lang = new LanguageClient(cwd, (s) => this.io?.log(s));
    this.info = {
      implementation: "gradbook",
      implementation_version: VERSION,
      banner: `gradbook ${VERSION}: TypeScript ${"5.9"} on ${platform.runtime.name} ${platform.runtime.version}, with the gradbook engine preloaded as \`gb\``,
      language_info: {
        name: "typescript",
        version: "5.9",
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
    };
  }

  async init(io: KernelIO): Promise<void> {
    this.io = io;
    const formatText = (v: unknown) => this.platform.formatText(v);
    this.output = new CellOutput(io, formatText, (e) => this.describe(e));
    this.platform.captureOutput(
      (name, text) => this.output.stream(name, text),
      (what, e) => this.io.stream("stderr", `${what}: ${this.describe(e)}\n`),
    );
    setTimeout(() => this.connected(), 1500).unref();
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
    } catch (e) {
      this.io.log(`gradbook widgets are not available (${(e as Error).message.split("\n")[0]}): results show as text`);
    }
    installGlobals({ platform: this.platform, io, output: this.output, preloaded, widgets: this.widgets, languageMemory: () => this.lang.memory() });
  }

  private warm = false;
  /** Warms the compiler and the language service once a client is connected (start-up is not slowed). */
  connected(): void {
    if (this.warm) return;
    this.warm = true;
    this.lang.warmup();
    setImmediate(() => {
      try {
        compileCell("0", "warmup.ts", () => true);
      } catch {}
    });
  }

  private describe(e: unknown): string {
    if (e instanceof Error) return this.formatError(e).traceback.join("\n");
    return this.platform.formatText(e);
  }

  private formatError(e: unknown): ErrorInfo {
    return formatError(e, this.cells, (v) => this.platform.formatText(v));
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
    let code = req.code;
    let strict = false;
    const magic = /^[ \t]*%%(\w+)[^\n]*(\n|$)/.exec(code);
    if (magic) {
      if (magic[1] !== "strict") return this.errorOutcome({ ename: "UsageError", evalue: `unknown cell magic %%${magic[1]} (known: %%strict)`, traceback: [`${BOLD_RED}UsageError${RESET}: unknown cell magic %%${magic[1]} (known: %%strict)`] });
      strict = true;
      code = code.slice(0, magic.index) + " ".repeat(magic[0].length - magic[2].length) + magic[2] + code.slice(magic.index + magic[0].length);
    }
    const help = /^\s*\?\s*([\s\S]+?)\s*$/.exec(code) ?? /^\s*([^?\n][\s\S]*?)\s*\?\s*$/.exec(code);
    if (help && !/\?\?$/.test(code.trim()) && /^[\w$.\[\]"']+$/.test(help[1])) return this.page(help[1]);

    (globalThis as any).__gradbookInterrupt = false;
    let compiled = this.compileCache.get(code);
    if (!compiled) {
      const fileName = `cell-${++this.cellSeq}.ts`;
      try {
        compiled = { ...compileCell(code, fileName, this.platform.isSyncSpecifier), fileName };
      } catch (e) {
        if (e instanceof CellSyntaxError) return this.errorOutcome(syntaxError(e, code, req.executionCount));
        throw e;
      }
      if (this.compileCache.size >= 100) this.compileCache.delete(this.compileCache.keys().next().value!);
      this.compileCache.set(code, compiled);
    }
    const fileName = compiled.fileName;
    this.cells.delete(fileName); // (re-inserted: the most recent cells are kept)
    this.cells.set(fileName, { count: req.executionCount, map: compiled.map, lines: code.split("\n") });
    if (this.cells.size > 500) this.cells.delete(this.cells.keys().next().value!);

    // Type errors: checked in the language worker while the cell runs; shown, not fatal (unless %%strict).
    const checking = this.lang.check(compiled.source).catch((e) => {
      this.io.log(`type check failed: ${e.message}`);
      return [];
    });
    const format = (diags: { line: number; code: number; message: string }[]) =>
      diags.map((d) => `${CYAN}In[${req.executionCount}]${RESET} line ${d.line}: ${RED}error${RESET} TS${d.code}: ${d.message}`).join("\n");
    let shown = false;
    const show = (diags: { line: number; code: number; message: string }[]) => {
      if (shown || !diags.length) return;
      shown = true;
      this.io.stream("stderr", format(diags) + "\n");
    };
    if (strict) {
      let diags;
      try {
        diags = await this.withInterrupt(checking);
      } catch (e) {
        return this.errorOutcome(this.formatError(e));
      }
      if (diags.length)
        return this.errorOutcome({
          ename: "TypeError",
          evalue: `${diags.length} type error${diags.length > 1 ? "s" : ""} (%%strict): ${diags[0].message.split("\n")[0]}`,
          traceback: [`${BOLD_RED}TypeError${RESET}: the cell has type errors and runs under %%strict`, format(diags)],
        });
    } else checking.then(show);
    // Waits for the type check, within a bound (a cold language service on a loaded machine can take seconds).
    const finishCheck = async () => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), CHECK_WAIT_MS)));
      try {
        const diags = await this.withInterrupt(Promise.race([checking, timeout]));
        if (diags) show(diags);
        else this.io.log(`type check of In[${req.executionCount}] still running after ${CHECK_WAIT_MS} ms: not shown`);
      } catch {
      } finally {
        clearTimeout(timer);
      }
    };

    let value: unknown;
    const helper = (globalThis as any).__gradbook;
    try {
      const run = (compiled.run ??= this.platform.script(compiled.js, fileName));
      helper.result = undefined;
      this.io.userCode(true);
      value = run();
      if (!compiled.async) {
        value = helper.result;
        helper.result = undefined;
      } else value = await this.withInterrupt(value as Promise<unknown>);
      this.lang.commit(compiled.source, compiled.declaresAnything);
    } catch (e) {
      this.io.userCode(false);
      this.lang.commit(compiled.source, compiled.declaresAnything);
      await finishCheck();
      await this.output.settled();
      return this.errorOutcome(this.formatError(e));
    } finally {
      this.running = null;
      this.io.userCode(false);
    }
    await finishCheck();
    if (!compiled.hasValue) value = undefined;
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
      if (!req.silent) this.io.executeResult(req.executionCount, data, {});
    }
    await this.output.settled();
    return { status: "ok", resultText };
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
    const c = compileCell(expression, `expr-${++this.cellSeq}.ts`, this.platform.isSyncSpecifier);
    const helper = (globalThis as any).__gradbook;
    let v = this.platform.script(c.js, "user_expression")();
    if (c.async) v = await v;
    else (v = helper.result), (helper.result = undefined);
    return { data: await this.bundleOf(c.hasValue ? v : undefined), metadata: {} };
  }

  // ---------------------------------------------------------------- language

  async complete(code: string, cursor: number): Promise<CompleteResult> {
    return this.lang.complete(code, cursor);
  }

  async inspect(code: string, cursor: number, detailLevel: number): Promise<InspectResult> {
    return this.lang.inspect(code, cursor, detailLevel);
  }

  async isComplete(code: string): Promise<{ status: "complete" | "incomplete" | "invalid" | "unknown"; indent?: string }> {
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
}
