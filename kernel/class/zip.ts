/**
 * Writes a ZIP archive (PKWARE APPNOTE 6.3: local headers, deflate,
 * central directory; no ZIP64, so under 4 GiB and 65,535 entries) with Unix
 * modes, so that scripts stay executable where unzip restores them.
 * Timestamps are fixed (1980-01-01), so the same files make the same bytes.
 */
import { crc32, deflateRawSync } from "node:zlib";

export interface ZipEntry {
  /** "/"-separated path inside the archive. */
  name: string;
  data: Uint8Array;
  /** Unix permission bits (default 0o644). */
  mode?: number;
}

const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
const DOS_TIME = 0;

export function makeZip(entries: ZipEntry[]): Buffer {
  if (entries.length > 0xffff) throw new Error(`a zip without ZIP64 holds at most 65,535 files, not ${entries.length}`);
  const names = new Set<string>();
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    if (!e.name || e.name.startsWith("/") || e.name.split("/").some((p) => p === ".." || p === "")) throw new Error(`unusable name in a zip: ${JSON.stringify(e.name)}`);
    if (names.has(e.name)) throw new Error(`${e.name} is twice in the zip`);
    names.add(e.name);
    const name = Buffer.from(e.name, "utf8");
    const crc = crc32(e.data) >>> 0;
    const deflated = deflateRawSync(e.data, { level: 9 });
    const stored = deflated.length >= e.data.length;
    const body = stored ? Buffer.from(e.data) : deflated;
    const method = stored ? 0 : 8;
    // the fields the local header (at 4) and the central directory entry (at 6) share
    const common = (b: Buffer, at: number) => {
      b.writeUInt16LE(20, at); // version needed: 2.0
      b.writeUInt16LE(0x0800, at + 2); // UTF-8 names
      b.writeUInt16LE(method, at + 4);
      b.writeUInt16LE(DOS_TIME, at + 6);
      b.writeUInt16LE(DOS_DATE, at + 8);
      b.writeUInt32LE(crc, at + 10);
      b.writeUInt32LE(body.length, at + 14);
      b.writeUInt32LE(e.data.length, at + 18);
      b.writeUInt16LE(name.length, at + 22);
      b.writeUInt16LE(0, at + 24); // extra
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    common(local, 4);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    common(cd, 6);
    cd.writeUInt16LE(0, 32); // comment
    cd.writeUInt16LE(0, 34); // disk
    cd.writeUInt16LE(0, 36); // internal attributes
    cd.writeUInt32LE(((0o100000 | (e.mode ?? 0o644)) << 16) >>> 0, 38); // regular file + mode
    cd.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    central.push(cd, name);
    offset += local.length + name.length + body.length;
    if (offset > 0xffffffff) throw new Error("the zip would pass 4 GiB (no ZIP64 here)");
  }
  const cdSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...central, end]);
}
