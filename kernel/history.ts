/**
 * Execution history, kept across kernel restarts in a JSON-lines file
 * (one entry per stored execution). Each kernel start is a new session.
 * Without a file (`new History(null)`: the browser kernel) it is kept in memory only, and
 * Node's modules are never touched.
 */
import type * as Fs from "node:fs";

/** node:fs, node:os and node:path, taken when a history file is used (Node only). */
function node(): { fs: typeof Fs; homedir: () => string; dirname: (p: string) => string; join: (...p: string[]) => string } {
  const get = (globalThis as unknown as { process: { getBuiltinModule(m: string): any } }).process.getBuiltinModule;
  const path = get("node:path");
  return { fs: get("node:fs"), homedir: get("node:os").homedir, dirname: path.dirname, join: path.join };
}

export interface HistoryEntry {
  session: number;
  line: number;
  source: string;
  output: string | null;
}

const MAX_ENTRIES = 10_000;

export function defaultHistoryFile(): string {
  if (process.env.GRADBOOK_HISTORY_FILE) return process.env.GRADBOOK_HISTORY_FILE;
  const { homedir, join } = node();
  const data = process.env.JUPYTER_DATA_DIR || join(process.env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "jupyter");
  return join(data, "gradbook", "history.jsonl");
}

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (const ch of glob) re += ch === "*" ? "[\\s\\S]*" : ch === "?" ? "[\\s\\S]" : ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${re}$`);
}

export class History {
  private entries: HistoryEntry[] | null = null;
  session = 0;
  private writable = true;

  constructor(private file: string | null = defaultHistoryFile()) {
    if (file === null) this.writable = false;
  }

  private load(): HistoryEntry[] {
    if (this.entries) return this.entries;
    const entries: HistoryEntry[] = [];
    try {
      const { fs } = this.file === null ? { fs: null } : node();
      if (fs && fs.existsSync(this.file!)) {
        for (const line of fs.readFileSync(this.file!, "utf8").split("\n")) {
          if (!line) continue;
          try {
            const e = JSON.parse(line);
            if (typeof e.session === "number" && typeof e.line === "number" && typeof e.source === "string") entries.push(e);
          } catch {}
        }
      }
    } catch (e) {
      this.writable = false;
    }
    this.entries = entries;
    this.session = entries.reduce((m, e) => Math.max(m, e.session), 0) + 1;
    if (entries.length > MAX_ENTRIES * 1.2) {
      this.entries = entries.slice(-MAX_ENTRIES);
      try {
        if (this.writable) node().fs.writeFileSync(this.file!, this.entries.map((e) => JSON.stringify(e) + "\n").join(""));
      } catch {}
    }
    return this.entries;
  }

  /** Starts the session now (reads the file). */
  open(): void {
    this.load();
  }

  private unsaved: HistoryEntry[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;

  add(line: number, source: string, output: string | null): void {
    const entries = this.load();
    const e = { session: this.session, line, source, output };
    entries.push(e);
    if (entries.length > MAX_ENTRIES * 1.2) entries.splice(0, entries.length - MAX_ENTRIES);
    if (!this.writable) return;
    // Written in batches, off the execute path (and with the output, known by then).
    this.unsaved.push(e);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), 250);
      this.timer.unref();
      if (this.unsaved.length === 1 && !this.exitHooked) {
        this.exitHooked = true;
        process.on("exit", () => this.flush());
      }
    }
  }
  private exitHooked = false;

  /** Writes the entries not yet on disk. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer), (this.timer = null);
    const list = this.unsaved;
    this.unsaved = [];
    if (!list.length || !this.writable) return;
    try {
      const { fs, dirname } = node();
      fs.mkdirSync(dirname(this.file!), { recursive: true });
      fs.appendFileSync(this.file!, list.map((e) => JSON.stringify(e) + "\n").join(""));
    } catch {
      this.writable = false;
    }
  }

  /** Sets the output of the latest entry of this session with `line`. */
  setOutput(line: number, output: string): void {
    const e = this.load().findLast((x) => x.session === this.session && x.line === line);
    if (e) e.output = output;
  }

  private format(list: HistoryEntry[], output: boolean): unknown[] {
    return list.map((e) => (output ? [e.session, e.line, [e.source, e.output]] : [e.session, e.line, e.source]));
  }

  tail(n: number, output: boolean): unknown[] {
    const entries = this.load();
    return this.format(n > 0 ? entries.slice(-n) : [], output);
  }

  range(session: number, start: number, stop: number | null, output: boolean): unknown[] {
    const entries = this.load();
    const s = session <= 0 ? this.session + session : session;
    return this.format(entries.filter((e) => e.session === s && e.line >= start && (stop == null || e.line < stop)), output);
  }

  search(pattern: string, n: number | null, unique: boolean, output: boolean): unknown[] {
    const re = globToRegExp(pattern || "*");
    let list = this.load().filter((e) => re.test(e.source));
    if (unique) {
      const seen = new Set<string>();
      const rev: HistoryEntry[] = [];
      for (let i = list.length - 1; i >= 0; i--) if (!seen.has(list[i].source)) seen.add(list[i].source), rev.push(list[i]);
      list = rev.reverse();
    }
    if (n != null && n > 0) list = list.slice(-n);
    return this.format(list, output);
  }
}
