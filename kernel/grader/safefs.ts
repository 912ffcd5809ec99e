/**
 * File handling for untrusted input: names that cannot escape the output
 * folder, writes that are atomic and never follow a link, reads that never
 * follow a link and stop at a size limit. The output folder is the
 * instructor's alone: its folders are 0700, its files 0600.
 */
import { chmodSync, closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readSync, realpathSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { isAbsolute, join, relative, resolve, sep } from "node:path";

/** A file or folder name safe as one path component: letters, digits, . _ - @ + only; never "", ".", ".." or hidden. */
export function safeName(raw: string, fallback = "student"): string {
  let s = raw.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").replace(/[^A-Za-z0-9._@+-]+/g, "_");
  s = s.replace(/^[.\-_]+/, "").replace(/[.]+$/, "");
  if (s.length > 100) s = s.slice(0, 100);
  return s && s !== "." && s !== ".." ? s : fallback;
}

/** Makes names unique by suffixing -2, -3, ... */
export function uniqueNames(names: string[]): string[] {
  const used = new Set<string>();
  return names.map((n) => {
    let s = n, i = 2;
    while (used.has(s.toLowerCase())) s = `${n}-${i++}`;
    used.add(s.toLowerCase());
    return s;
  });
}

export class OutputDir {
  readonly root: string;
  constructor(dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (st.isSymbolicLink() || !st.isDirectory()) throw new Error(`--out ${dir} must be a folder, not a link`);
    this.root = realpathSync(dir);
    chmodSync(this.root, 0o700);
  }

  /** The absolute path of `parts` (each a single safe component) inside the root; throws when it would leave it. */
  path(...parts: string[]): string {
    for (const p of parts) if (!p || p === "." || p === ".." || p.includes("/") || p.includes("\\") || p.includes("\0") || isAbsolute(p)) throw new Error(`unsafe output path component ${JSON.stringify(p)}`);
    const full = resolve(this.root, ...parts);
    const rel = relative(this.root, full);
    if (!rel || rel.startsWith("..") || isAbsolute(rel)) throw new Error(`output path ${full} is outside ${this.root}`);
    return full;
  }

  /** Creates the folders of `parts` (none may be a link). */
  private ensureDirs(parts: string[]) {
    let cur = this.root;
    for (const p of parts) {
      cur = join(cur, p);
      let st;
      try {
        st = lstatSync(cur);
      } catch {
        mkdirSync(cur, { mode: 0o700 });
        continue;
      }
      if (st.isSymbolicLink() || !st.isDirectory()) throw new Error(`${cur} is not a folder (a link or a file is in the way)`);
      if ((st.mode & 0o777) !== 0o700) chmodSync(cur, 0o700);
    }
  }

  /** Writes atomically (a temporary file in the same folder, then a rename); never through a link. */
  write(parts: string[], data: string | Uint8Array): string {
    const full = this.path(...parts);
    this.ensureDirs(parts.slice(0, -1));
    const tmp = join(full, "..", `.${parts[parts.length - 1]}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
    try {
      const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {}
      throw e;
    }
    closeSync(fd);
    try {
      const st = lstatSync(full);
      if (st.isDirectory()) throw new Error(`${full} is a folder`);
    } catch (e: any) {
      if (e?.code !== "ENOENT") {
        unlinkSync(tmp);
        throw e;
      }
    }
    renameSync(tmp, full); // rename replaces a link itself, never its target
    return full;
  }

  /** Reads a file in the output folder, or null. */
  read(parts: string[]): string | null {
    try {
      return readNoFollow(this.path(...parts), 64 << 20).toString("utf8");
    } catch {
      return null;
    }
  }
}

export class FileTooLarge extends Error {}

/** Reads a regular file without following a final link (nor, with `noHardLinks`, one with other names); throws FileTooLarge past `maxBytes`. */
export function readNoFollow(path: string, maxBytes: number, noHardLinks = false): Buffer {
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${path} is not a regular file`);
    if (noHardLinks && st.nlink > 1) throw new Error("it is a hard link to another file; links are refused");
    if (st.size > maxBytes) throw new FileTooLarge(`${path} is ${st.size} bytes; the limit is ${maxBytes}`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n <= 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

export const isInside = (root: string, p: string) => {
  const rel = relative(root, p);
  return !!rel && !rel.startsWith("..") && !isAbsolute(rel) && !rel.split(sep).includes("..");
};
