/**
 * An assignment's other files: the data sets, weights and modules beside
 * the notebooks. `release` copies the instructor's into the release folder;
 * `grade` copies them into each graded kernel's working folder (over the
 * student's own files from beside their notebook, so the instructor's win,
 * as nbgrader's autograde does); afterwards it reports the assignment files
 * a notebook changed in its copy.
 *
 * What is taken, recursively: every regular file except notebooks
 * (`*.ipynb`: the instructor's hold solutions and hidden tests), hidden files
 * and folders (`.git`, `.ipynb_checkpoints`), `node_modules`, `__pycache__`,
 * editor backups (`*~`) and the folders the caller excludes (the output
 * folder, the submissions). The instructor's folder is trusted: a link to a
 * file is copied as the file, a link to a folder is skipped (and said).
 * A student's folder is not: links and hard links are refused, never
 * followed, and files are read without following links.
 */
import { createHash } from "node:crypto";
import { chmodSync, chownSync, closeSync, constants, copyFileSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, realpathSync, rmSync, statSync, writeSync, type Stats } from "node:fs";
import { join, resolve } from "node:path";

/** The default cap on the files copied (the instructor's; each student's separately). */
export const DEFAULT_MAX_FILES_BYTES = 200 << 20;
export const MAX_FILES_COUNT = 10_000;
const MAX_DEPTH = 20;
const SKIPPED_FOLDERS = new Set(["node_modules", "__pycache__"]);

export interface AssignmentFile {
  /** Relative to the folder, "/"-separated. */
  rel: string;
  abs: string;
  size: number;
  executable: boolean;
  /** Content hash (when collected with `hash`). */
  sha256?: string;
}

export interface FileSet {
  root: string;
  files: AssignmentFile[];
  bytes: number;
  /** Entries left out, each "path (why)". */
  skipped: string[];
  /** A student's files: read without following links. */
  untrusted: boolean;
}

export class FilesError extends Error {
  override name = "FilesError";
}

export interface CollectOptions {
  /** Most bytes in all (default 200 MB). */
  maxBytes?: number;
  maxFiles?: number;
  /** Folders left out wherever they are (the output folder, the submissions). */
  exclude?: string[];
  /**
   * Patterns of paths to leave out (`--exclude`), relative to the folder, `/`-separated:
   * `*` and `?` within a name, `**` across folders; a pattern without `/` matches a name at any
   * depth (as in .gitignore). A folder that matches is left out whole.
   */
  ignore?: string[];
  /** A student's folder: links and hard links refused. */
  untrusted?: boolean;
  /** Hash every file's content (sha256). */
  hash?: boolean;
  /** How the limit can be raised, for the too-large message. */
  limitHint?: string;
  /** Names the folder in messages instead of its path, which then name files by their relative path (a student's folder). */
  label?: string;
}

export const formatBytes = (n: number): string =>
  n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} kB` : n < 1 << 30 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${(n / (1 << 30)).toFixed(2)} GB`;

const errno = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException)?.code;
  const why: Record<string, string> = { EACCES: "permission denied", EPERM: "operation not permitted", ENOENT: "it does not exist", ELOOP: "it is a symbolic link", ENOTDIR: "it is not a folder", EISDIR: "it is a folder" };
  return code ? `${why[code] ?? (e as Error).message} (${code})` : String((e as Error)?.message ?? e);
};

const realOrResolved = (p: string): string[] => {
  const out = [resolve(p)];
  try {
    out.push(realpathSync(p));
  } catch {}
  return out;
};

/** The files of a folder as the module comment says; throws FilesError (naming the file) for a missing folder, an unreadable file, too many or too large. */
/** A pattern of `--exclude` as a regular expression over relative paths (see CollectOptions.ignore). */
export function globToRegExp(pattern: string): RegExp {
  let p = pattern.replace(/\\/g, "/").replace(/^\.\//, "").replace(/\/+$/, "");
  // a "/" anywhere (a leading one too, as in .gitignore) anchors the pattern at the folder
  const anchored = p.includes("/");
  p = p.replace(/^\/+/, "");
  if (!p) throw new FilesError(`--exclude: the pattern ${JSON.stringify(pattern)} names no file`);
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "*" && p[i + 1] === "*") {
      if (p[i + 2] === "/") {
        re += "(?:.*/)?"; // "**/": any folders, none included
        i += 2;
      } else {
        re += ".*"; // a trailing "**": anything below
        i += 1;
      }
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(anchored ? `^${re}$` : `(?:^|/)${re}$`);
}

export function collectFiles(root: string, o: CollectOptions = {}): FileSet {
  const maxBytes = o.maxBytes ?? DEFAULT_MAX_FILES_BYTES, maxFiles = o.maxFiles ?? MAX_FILES_COUNT;
  const untrusted = !!o.untrusted;
  const exclude = new Set((o.exclude ?? []).flatMap(realOrResolved));
  const ignore = (o.ignore ?? []).map(globToRegExp);
  const where = o.label ?? root;
  const show = (abs: string, rel: string) => (o.label ? rel || "." : abs);
  let st: Stats;
  try {
    st = untrusted ? lstatSync(root) : statSync(root);
  } catch (e) {
    throw new FilesError(`the folder ${where} cannot be read: ${errno(e)}`);
  }
  if (!st.isDirectory()) throw new FilesError(`${where} is not a folder`);
  const set: FileSet = { root: resolve(root), files: [], bytes: 0, skipped: [], untrusted };
  const walk = (dir: string, prefix: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      throw new FilesError(`the folder ${show(dir, prefix)} cannot be read: ${errno(e)}`);
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.name.startsWith(".") || e.name.endsWith("~")) continue;
      const abs = join(dir, e.name), rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (exclude.has(abs) || exclude.has(resolve(abs))) continue;
      if (ignore.some((re) => re.test(rel))) continue;
      let s: Stats;
      try {
        s = lstatSync(abs);
        if (s.isSymbolicLink()) {
          if (untrusted) {
            set.skipped.push(`${rel} (a symbolic link; links are refused)`);
            continue;
          }
          s = statSync(abs);
          if (s.isDirectory()) {
            set.skipped.push(`${rel} (a link to a folder; not followed)`);
            continue;
          }
        }
      } catch (err) {
        set.skipped.push(`${rel} (${(err as NodeJS.ErrnoException).code === "ENOENT" ? "a broken link" : errno(err)})`);
        continue;
      }
      if (s.isDirectory()) {
        if (SKIPPED_FOLDERS.has(e.name)) continue;
        if (exclude.size && realOrResolved(abs).some((p) => exclude.has(p))) continue;
        if (depth >= MAX_DEPTH) throw new FilesError(`${show(abs, rel)}: folders nested more than ${MAX_DEPTH} deep in ${where}`);
        walk(abs, rel, depth + 1);
        continue;
      }
      if (!s.isFile()) {
        set.skipped.push(`${rel} (not a regular file)`);
        continue;
      }
      if (e.name.endsWith(".ipynb")) continue;
      if (untrusted && s.nlink > 1) {
        set.skipped.push(`${rel} (a hard link to another file; links are refused)`);
        continue;
      }
      if (set.files.length >= maxFiles) throw new FilesError(`${where} has more than ${maxFiles} files beside the notebooks (at ${rel}); move what the notebooks do not need elsewhere`);
      set.bytes += s.size;
      if (set.bytes > maxBytes)
        throw new FilesError(
          `the files beside the notebooks in ${where} pass the limit of ${formatBytes(maxBytes)} at ${rel} (${formatBytes(s.size)}${s.size > maxBytes ? ", itself over the limit" : `; ${formatBytes(set.bytes)} so far`})` +
            (o.limitHint ? `; ${o.limitHint}` : ""),
        );
      const f: AssignmentFile = { rel, abs, size: s.size, executable: (s.mode & 0o111) !== 0 };
      // Read it now: an unreadable file is an error here, not in the middle of grading.
      try {
        if (o.hash) f.sha256 = hashFile(abs, untrusted, s.size);
        else closeSync(openSync(abs, constants.O_RDONLY | constants.O_NONBLOCK | (untrusted ? constants.O_NOFOLLOW : 0)));
      } catch (err) {
        if (err instanceof FilesError && !untrusted) throw err;
        if (untrusted) {
          set.bytes -= s.size;
          set.skipped.push(`${rel} (${err instanceof FilesError ? err.message.replace(`${abs} `, "") : `cannot be read: ${errno(err)}`})`);
          continue;
        }
        throw new FilesError(`the file ${abs} cannot be read: ${errno(err)}`);
      }
      set.files.push(f);
    }
  };
  walk(set.root, "", 0);
  return set;
}

/** sha256 of a regular file (never following a final link when `noFollow`). */
export function hashFile(path: string, noFollow: boolean, expectSize?: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (noFollow ? constants.O_NOFOLLOW : 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FilesError(`${path} is not a regular file`);
    if (expectSize !== undefined && st.size !== expectSize) throw new FilesError(`${path} changed while it was read`);
    const h = createHash("sha256"), buf = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
    return h.digest("hex");
  } finally {
    closeSync(fd);
  }
}

/** One hash of a set's names and contents (for grade's resume record). */
export function fileSetHash(set: FileSet | null): string {
  if (!set) return "none";
  const h = createHash("sha256");
  for (const f of set.files) h.update(`${f.rel}\u0000${f.executable}\u0000${f.sha256 ?? hashFile(f.abs, set.untrusted, f.size)}\u0000`);
  for (const s of set.skipped) h.update(`skipped\u0000${s}\u0000`);
  return h.digest("hex");
}

/** Merges sets from several folders (release of notebooks from more than one); the same path with different contents is an error. */
export function mergeFileSets(sets: FileSet[], maxBytes = DEFAULT_MAX_FILES_BYTES): FileSet {
  if (sets.length === 1) return sets[0];
  const byRel = new Map<string, { f: AssignmentFile; root: string }>();
  const out: FileSet = { root: sets.map((s) => s.root).join(", "), files: [], bytes: 0, skipped: [], untrusted: sets.some((s) => s.untrusted) };
  for (const s of sets) {
    out.skipped.push(...s.skipped.map((x) => `${join(s.root, x)}`));
    for (const f of s.files) {
      const prev = byRel.get(f.rel);
      if (prev) {
        if (prev.f.size !== f.size || hashFile(prev.f.abs, false) !== hashFile(f.abs, false))
          throw new FilesError(`${f.rel} is in both ${prev.root} and ${s.root} with different contents: the release folder can hold only one`);
        continue;
      }
      byRel.set(f.rel, { f, root: s.root });
      out.files.push(f);
      out.bytes += f.size;
      if (out.bytes > maxBytes) throw new FilesError(`the files beside the notebooks pass the limit of ${formatBytes(maxBytes)} at ${f.abs} (${formatBytes(f.size)})`);
    }
  }
  out.files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return out;
}

/** Copies a file without following links at either end (a student's file). */
function copyNoFollow(src: string, dst: string, size: number, mode: number) {
  const fd = openSync(src, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.nlink > 1) throw new FilesError(`${src} is no longer a plain file`);
    if (st.size !== size) throw new FilesError(`${src} changed while the submissions were being graded`);
    const out = openSync(dst, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
    try {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(1, size)));
      let left = size;
      while (left > 0) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, left), null);
        if (n <= 0) break;
        for (let off = 0; off < n; ) off += writeSync(out, buf, off, n - off);
        left -= n;
      }
    } finally {
      closeSync(out);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Copies sets into `dest` in order: a later set's file replaces an earlier
 * one's file or folder at the same path. Files get mode 0644 (0755 when
 * executable), folders 0755; with `owner` (the kernel's uid when the grader
 * is root) everything copied is given to it, so the kernel can read its
 * copies and change them, as in Jupyter (the copies are its own). Returns
 * the files copied.
 */
export function copyFileSets(sets: FileSet[], dest: string, owner: { uid: number; gid: number } | null = null): number {
  let n = 0;
  mkdirSync(dest, { recursive: true });
  for (const set of sets) {
    for (const f of set.files) {
      const parts = f.rel.split("/");
      let cur = dest;
      for (const p of parts.slice(0, -1)) {
        cur = join(cur, p);
        let st: Stats | null = null;
        try {
          st = lstatSync(cur);
        } catch {}
        if (st?.isDirectory()) continue;
        if (st) rmSync(cur, { force: true }); // an earlier set's file where this one has a folder
        mkdirSync(cur, 0o755);
        chmodSync(cur, 0o755);
        if (owner) chownSync(cur, owner.uid, owner.gid);
      }
      const to = join(cur, parts[parts.length - 1]);
      rmSync(to, { recursive: true, force: true }); // an earlier set's file or folder at the same path
      const mode = f.executable ? 0o755 : 0o644;
      try {
        if (set.untrusted) copyNoFollow(f.abs, to, f.size, mode);
        else copyFileSync(f.abs, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      } catch (e) {
        if (e instanceof FilesError) throw e;
        throw new FilesError(`copying ${f.abs} failed: ${errno(e)}`);
      }
      chmodSync(to, mode);
      if (owner) chownSync(to, owner.uid, owner.gid);
      n++;
    }
  }
  return n;
}

/**
 * The files of `set` (hashed) whose copy in `dest` is not the same any more:
 * changed, deleted, replaced by a link or a folder. Reads without following
 * links (the folder was the kernel's).
 */
export function changedFiles(set: FileSet, dest: string): string[] {
  const changed: string[] = [];
  for (const f of set.files) {
    if (!f.sha256) continue;
    const parts = f.rel.split("/");
    let ok = true, cur = dest;
    for (const p of parts.slice(0, -1)) {
      cur = join(cur, p);
      try {
        ok = lstatSync(cur).isDirectory();
      } catch {
        ok = false;
      }
      if (!ok) break;
    }
    if (ok) {
      try {
        ok = hashFile(join(dest, ...parts), true, f.size) === f.sha256;
      } catch {
        ok = false;
      }
    }
    if (!ok) changed.push(f.rel);
  }
  return changed;
}

/** "a, b and 3 more" */
export function listNames(names: string[], max = 20): string {
  return names.length <= max ? names.join(", ") : `${names.slice(0, max).join(", ")} and ${names.length - max} more`;
}
