/**
 * The TypeScript interpreter: compiles cells (compile.ts), runs them in the
 * kernel's global scope with the engine preloaded, formats results and
 * errors, and answers completion/inspection from the TypeScript language
 * service (language.ts).
 */
import vm from "node:vm";
import { createRequire } from "node:module";
import { join } from "node:path";
import { inspect } from "node:util";
import type { CompleteResult, ExecuteOutcome, ExecuteRequest, InspectResult, Interpreter, KernelIO, MimeBundle, ErrorInfo } from "../interpreter.ts";
import { CellSyntaxError, compileCell, isSyncSpecifier, parseCell, syntaxErrors } from "./compile.ts";
import { originalPosition, type DecodedMap } from "./sourcemap.ts";
import { Bundle, bundleOf, plain } from "./display.ts";
import { resolveFromNotebook } from "./resolve.ts";
import { LanguageClient } from "./language-worker.ts";
import { ts } from "./tsapi.ts";
import { installTestHelpers } from "../asserts.ts";

const VERSION = "0.1.0";
const RED = "\x1b[0;31m", BOLD_RED = "\x1b[1;31m", GREEN = "\x1b[0;32m", CYAN = "\x1b[0;36m", RESET = "\x1b[0m";
const NO_RESULT = Symbol.for("gradbook.noResult");
/** Where widgets/host.ts keeps the current DisplayHost (a widget may swap in its own while it captures). */
const HOST_KEY = Symbol.for("gradbook.displayHost");
const CHECK_WAIT_MS = Number(process.env.GRADBOOK_TYPECHECK_WAIT_MS ?? 10_000);

class KeyboardInterrupt extends Error {
  override name = "KeyboardInterrupt";
}

interface CellRecord {
  count: number;
  map: DecodedMap;
  lines: string[];
}

export interface DisplayOptions {
  displayId?: string | true;
  update?: boolean;
  metadata?: Record<string, unknown>;
  /** `obj` is already a MIME bundle. */
  raw?: boolean;
}

export class TypeScriptInterpreter implements Interpreter {
  readonly info = {
    implementation: "gradbook",
    implementation_version: VERSION,
    banner: `gradbook ${VERSION}: TypeScript ${"5.9"} on Node.js ${process.version}, with the gradbook engine preloaded as \`gb\``,
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

  private io!: KernelIO;
  private cells = new Map<string, CellRecord>();
  private cellSeq = 0;
  private running: { reject: (e: Error) => void } | null = null;
  private displayChain: Promise<void> | null = null;
  private displaySeq = 0;
  private engine: any = null;
  private widgets: any = null;
  private cwd = process.cwd();
  readonly lang = new LanguageClient(process.cwd(), (s) => this.io?.log(s));
  /** Compiled cells by source: re-running a cell skips compiling (and V8's parse of the script). */
  private compileCache = new Map<string, ReturnType<typeof compileCell> & { script?: vm.Script; fileName: string }>();
  private currentCount = 0;

  async init(io: KernelIO): Promise<void> {
    this.io = io;
    this.installOutput();
    this.installGlobals();
    process.on("unhandledRejection", (reason) => {
      this.io.stream("stderr", `Unhandled promise rejection: ${this.describe(reason)}\n`);
    });
    process.on("uncaughtException", (err) => {
      this.io.stream("stderr", `Uncaught exception: ${this.describe(err)}\n`);
    });
    setTimeout(() => this.connected(), 1500).unref();
    await this.preload();
  }

  private warm = false;
  /** Warms the compiler and the language service once a client is connected (start-up is not slowed). */
  connected(): void {
    if (this.warm) return;
    this.warm = true;
    this.lang.warmup();
    setImmediate(() => {
      try {
        compileCell("0", "warmup.ts");
      } catch {}
    });
  }

  private describe(e: unknown): string {
    if (e instanceof Error) return this.formatError(e).traceback.join("\n");
    return plain(e);
  }

  private installOutput() {
    const io = this.io;
    const self = this;
    const hook = (name: "stdout" | "stderr") =>
      function write(chunk: any, encoding?: any, cb?: any) {
        if (typeof encoding === "function") (cb = encoding), (encoding = undefined);
        const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString(encoding || "utf8");
        self.inOrder(() => io.stream(name, text));
        if (typeof cb === "function") process.nextTick(cb);
        return true;
      };
    (process.stdout as any).write = hook("stdout");
    (process.stderr as any).write = hook("stderr");
  }

  private async preload() {
    const g = globalThis as any;
    try {
      this.engine = await import("gradbook" as string);
      g.gb = this.engine;
    } catch (e) {
      this.io.log(`the gradbook engine is not available (${(e as Error).message.split("\n")[0]}); \`gb\` is undefined`);
    }
    try {
      this.widgets = await import("gradbook/widgets" as string);
      g.widgets = this.widgets;
      if (typeof this.widgets.setDisplayHost === "function") this.widgets.setDisplayHost(this.ownHost);
    } catch (e) {
      this.io.log(`gradbook widgets are not available (${(e as Error).message.split("\n")[0]})`);
    }
  }

  /** The kernel's DisplayHost (one object, so a widget's redirection can be told from it). */
  private get ownHost() {
    return (this.hostObject ??= this.displayHost());
  }
  private hostObject?: ReturnType<TypeScriptInterpreter["displayHost"]>;

  private displayHost() {
    const io = this.io;
    return {
      display: (bundle: MimeBundle, o: { displayId?: string; update?: boolean; metadata?: Record<string, unknown> } = {}) =>
        this.publishDisplay(bundle, o.metadata ?? {}, o.displayId, !!o.update),
      clearOutput: (wait?: boolean) => io.clearOutput(!!wait),
      openComm: (target: string, data?: unknown, metadata?: Record<string, unknown>, buffers?: ArrayBufferView[]) => io.openComm(target, data, metadata, buffers),
      registerCommTarget: (name: string, handler: any) => io.registerCommTarget(name, handler),
      supportsComms: true,
    };
  }

  /** Runs `f` now, or after the pending asynchronous displays (outputs keep their order). */
  private inOrder(f: () => void | Promise<void>) {
    if (!this.displayChain) {
      const r = f();
      if (!(r instanceof Promise)) return;
      this.displayChain = r;
    } else this.displayChain = this.displayChain.then(f);
    const next: Promise<void> = this.displayChain.catch((e) => this.io.stream("stderr", `display failed: ${this.describe(e)}\n`));
    this.displayChain = next;
    next.then(() => {
      if (this.displayChain === next) this.displayChain = null;
    });
  }

  private publishDisplay(data: MimeBundle | Promise<MimeBundle>, metadata: Record<string, unknown>, displayId?: string, update = false) {
    const send = (d: MimeBundle) => this.io.display(d, metadata, displayId, update);
    if (data instanceof Promise) this.inOrder(async () => send(await data));
    else this.inOrder(() => send(data));
  }

  private installGlobals() {
    const g = globalThis as any;
    const self = this;
    const cwd = this.cwd;
    const notebookRequire = createRequire(join(cwd, "__notebook__.js"));
    const display = function display(obj: unknown, options: DisplayOptions = {}) {
      const id = options.displayId === true ? `gb-${process.pid}-${++self.displaySeq}` : options.displayId;
      const data = options.raw ? (obj as MimeBundle) : obj instanceof Bundle ? obj.data : bundleOf(obj);
      const metadata = { ...(obj instanceof Bundle ? obj.metadata : {}), ...(options.metadata ?? {}) };
      const current = g[HOST_KEY] as { display(b: MimeBundle, o: object): void } | undefined;
      if (current && current !== self.ownHost) {
        // a widget redirected displays (widgets.Output.capture, interact): this one goes there too
        const opts = { displayId: id, update: !!options.update, metadata };
        if (data instanceof Promise) self.inOrder(async () => current.display(await data, opts));
        else current.display(data, opts);
      } else self.publishDisplay(data, metadata, id, !!options.update);
      if (!id) return undefined;
      const handle = {
        displayId: id,
        update: (o: unknown, opts: DisplayOptions = {}) => display(o, { ...opts, displayId: id, update: true }),
        display: (o: unknown, opts: DisplayOptions = {}) => display(o, { ...opts, displayId: id }),
        [NO_RESULT]: true,
        [inspect.custom]: () => `DisplayHandle(${id})`,
      };
      return handle;
    };
    const text = (mime: string, plainText: string) => (s: unknown, options: DisplayOptions = {}) => display(new Bundle({ [mime]: String(s), "text/plain": plainText }), options);
    Object.assign(display, {
      html: text("text/html", "<HTML>"),
      markdown: text("text/markdown", "<Markdown>"),
      svg: text("image/svg+xml", "<SVG>"),
      latex: text("text/latex", "<LaTeX>"),
      png: (data: Uint8Array | ArrayBuffer | string, options: DisplayOptions & { width?: number; height?: number } = {}) => {
        const b64 = typeof data === "string" ? data : Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data).toString("base64");
        const md: Record<string, unknown> = {};
        if (options.width || options.height) md["image/png"] = { width: options.width, height: options.height };
        return display(new Bundle({ "image/png": b64, "text/plain": "<PNG image>" }, md), options);
      },
      json: (obj: unknown, options: DisplayOptions = {}) => display(new Bundle({ "application/json": JSON.parse(JSON.stringify(obj ?? null)), "text/plain": plain(obj) }), options),
      bundle: (data: MimeBundle, options: DisplayOptions = {}) => display(data, { ...options, raw: true }),
    });
    const defineGlobal = (name: string, value: unknown) =>
      Object.defineProperty(g, name, { value, writable: true, configurable: true, enumerable: false });
    defineGlobal("display", display);
    defineGlobal("clearOutput", (opts: { wait?: boolean } | boolean = {}) => self.io.clearOutput(typeof opts === "boolean" ? opts : !!opts?.wait));
    defineGlobal("input", (prompt = "", opts: { password?: boolean } = {}) => self.io.input(String(prompt), !!opts?.password));
    defineGlobal("require", notebookRequire);
    defineGlobal("__gradbookDisplayHost", this.ownHost);
    // widgets/host.ts keeps the host under this global key, so every bundled copy of it finds ours
    g[HOST_KEY] = this.ownHost;
    defineGlobal("__gradbookInterrupt", false);
    installTestHelpers(g);
    defineGlobal("__gradbook", {
      /** Heap in use (bytes) of the thread running cells and of the language service, after a GC when --expose-gc is on. */
      memory: async () => {
        (globalThis as any).gc?.();
        return { main: process.memoryUsage().heapUsed, language: await self.lang.memory(), rss: process.memoryUsage().rss };
      },
      import: async (spec: string) => {
        if (isSyncSpecifier(spec)) return g.__gradbook.importSync(spec);
        return import(resolveFromNotebook(spec, cwd));
      },
      importSync: (spec: string) => {
        if (spec === "gradbook") {
          if (!self.engine) throw new Error("the gradbook engine is not available in this kernel (dist/gradbook.js missing?)");
          return self.engine;
        }
        if (spec === "gradbook/widgets") {
          if (!self.widgets) throw new Error("gradbook widgets are not available in this kernel (dist/widgets.js missing?)");
          return self.widgets;
        }
        return notebookRequire(spec);
      },
      require: notebookRequire,
      named: (ns: any, name: string) => {
        if (ns == null) return undefined;
        if (name in ns) return ns[name];
        // CommonJS modules whose exports Node's lexer could not see
        const d = ns.default;
        return d != null && (typeof d === "object" || typeof d === "function") ? d[name] : undefined;
      },
      defaultOf: (ns: any) => {
        if (ns == null) return ns;
        if ("default" in ns && ns.default !== undefined) {
          const d = ns.default;
          return d && d.__esModule && "default" in d ? d.default : d;
        }
        return ns;
      },
    });
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

    this.currentCount = req.executionCount;
    (globalThis as any).__gradbookInterrupt = false;
    let compiled = this.compileCache.get(code);
    if (!compiled) {
      const fileName = `cell-${++this.cellSeq}.ts`;
      try {
        compiled = { ...compileCell(code, fileName), fileName };
      } catch (e) {
        if (e instanceof CellSyntaxError) return this.errorOutcome(this.syntaxError(e, code, req.executionCount));
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
    try {
      const script = (compiled.script ??= new vm.Script(compiled.js, { filename: fileName }));
      const helper = (globalThis as any).__gradbook;
      helper.result = undefined;
      this.io.userCode(true);
      value = script.runInThisContext({ breakOnSigint: true, displayErrors: false });
      if (!compiled.async) {
        value = helper.result;
        helper.result = undefined;
      } else {
        value = await new Promise((resolve, reject) => {
          this.running = { reject };
          (value as Promise<unknown>).then(resolve, reject);
        });
      }
      this.lang.commit(compiled.source, compiled.declaresAnything);
    } catch (e) {
      this.io.userCode(false);
      this.lang.commit(compiled.source, compiled.declaresAnything);
      await finishCheck();
      return this.errorOutcome(this.formatError(e));
    } finally {
      this.running = null;
      this.io.userCode(false);
    }
    await finishCheck();
    if (!compiled.hasValue) value = undefined;
    let resultText: string | undefined;
    if (value !== undefined && !(value && typeof value === "object" && (value as any)[NO_RESULT])) {
      let data: MimeBundle;
      try {
        data = await this.withInterrupt(bundleOf(value));
      } catch (e) {
        return this.errorOutcome(this.formatError(e));
      }
      resultText = typeof data["text/plain"] === "string" ? (data["text/plain"] as string) : undefined;
      (globalThis as any)._ = value;
      if (!req.silent) this.io.executeResult(req.executionCount, data, {});
    }
    if (this.displayChain) await this.displayChain;
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
    const c = compileCell(expression, `expr-${++this.cellSeq}.ts`);
    const helper = (globalThis as any).__gradbook;
    let v = new vm.Script(c.js, { filename: "user_expression" }).runInThisContext({ breakOnSigint: true });
    if (c.async) v = await v;
    else (v = helper.result), (helper.result = undefined);
    return { data: await bundleOf(c.hasValue ? v : undefined), metadata: {} };
  }

  // ---------------------------------------------------------------- errors

  private syntaxError(e: CellSyntaxError, code: string, count: number): ErrorInfo {
    const lines = code.split("\n");
    const src = lines[e.line - 1] ?? "";
    return {
      ename: "SyntaxError",
      evalue: `${e.message} (line ${e.line})`,
      traceback: [
        `${CYAN}Cell In[${count}], line ${e.line}${RESET}`,
        `${GREEN}${String(e.line).padStart(4)}${RESET} | ${src}`,
        `     | ${" ".repeat(Math.max(0, e.column - 1))}${RED}^${RESET}`,
        `${BOLD_RED}SyntaxError${RESET}: ${e.message}`,
      ],
    };
  }

  formatError(err: unknown): ErrorInfo {
    const isErr = err instanceof Error || (err && typeof err === "object" && "stack" in (err as any));
    if (!isErr) {
      const evalue = plain(err);
      return { ename: "Error", evalue, traceback: [`${BOLD_RED}Uncaught${RESET} ${evalue}`] };
    }
    const e = err as Error & { code?: string };
    if (e.code === "ERR_SCRIPT_EXECUTION_INTERRUPTED" || e instanceof KeyboardInterrupt) {
      return { ename: "KeyboardInterrupt", evalue: "execution was interrupted", traceback: [`${BOLD_RED}KeyboardInterrupt${RESET}: execution was interrupted`] };
    }
    let ename = "Error", evalue = "", stack = "";
    try {
      ename = String(e.name ?? e.constructor?.name ?? "Error");
      evalue = String(e.message ?? "");
      stack = String(e.stack ?? "");
    } catch {}
    const frames: string[] = [];
    let excerpt: string[] = [];
    for (const line of stack.split("\n")) {
      if (!/^\s+at /.test(line)) continue;
      if (/node:internal|node:vm|dist\/kernel\.js|\/kernel\/[\w/]+\.ts/.test(line)) continue;
      const mapped = line.replace(/(cell-\d+\.ts):(\d+):(\d+)/g, (m, file, l, c) => {
        const rec = this.cells.get(file);
        if (!rec) return m;
        const pos = originalPosition(rec.map, +l, +c);
        if (!pos) return `In[${rec.count}]`;
        if (!excerpt.length) excerpt = this.excerpt(rec, pos.line, pos.column);
        return `In[${rec.count}]:${pos.line}:${pos.column}`;
      });
      frames.push(mapped.replace(/^\s+/, "    "));
    }
    const header = `${BOLD_RED}${ename}${RESET}: ${evalue}`;
    return { ename, evalue, traceback: [...excerpt, header, ...frames] };
  }

  private excerpt(rec: CellRecord, line: number, column: number): string[] {
    const out = [`${CYAN}Cell In[${rec.count}], line ${line}${RESET}`];
    for (let l = Math.max(1, line - 2); l <= Math.min(rec.lines.length, line + 1); l++) {
      const marker = l === line ? `${GREEN}--> ${String(l).padStart(3)}${RESET}` : `    ${String(l).padStart(3)}`;
      out.push(`${marker} ${rec.lines[l - 1]}`);
      if (l === line) out.push(`        ${" ".repeat(Math.max(0, column - 1))}${RED}^${RESET}`);
    }
    return out;
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
    const sf = parseCell(body);
    const errs = syntaxErrors(sf);
    if (!errs.length) return { status: "complete" };
    const end = body.trimEnd().length;
    const t = ts();
    const unterminated = errs.some((d) => d.code === 1160 /* template */ || d.code === 1010 /* comment */);
    if (unterminated || errs.every((d) => (d.start ?? 0) >= end)) {
      const lastLine = body.split("\n").pop() ?? "";
      const base = /^\s*/.exec(lastLine)![0];
      const opens = /[{([]\s*$/.test(body.trimEnd()) ? "  " : "";
      void t;
      return { status: "incomplete", indent: base + opens };
    }
    return { status: "invalid" };
  }
}
