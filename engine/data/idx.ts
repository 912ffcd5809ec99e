/**
 * The IDX file format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
 * magic bytes 0 0 <type> <ndim>, then ndim big-endian uint32 sizes, then the
 * values, big-endian. Types: 0x08 ubyte, 0x09 byte, 0x0B short (int16),
 * 0x0C int (int32), 0x0D float (float32), 0x0E double (float64).
 * Gzipped files (magic 1f 8b) are decompressed transparently.
 */
import { nodeOnly } from "../node-only.js";
import { Tensor } from "../tensor.js";

export type IdxType = "ubyte" | "byte" | "short" | "int" | "float" | "double";

export type IdxArray = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxData {
  /** The element type stored in the file. */
  type: IdxType;
  /** The dimensions, e.g. [60000, 28, 28]. */
  shape: number[];
  /** The values, row-major, in native byte order. */
  data: IdxArray;
}

const TYPES: Record<number, [IdxType, number]> = {
  0x08: ["ubyte", 1],
  0x09: ["byte", 1],
  0x0b: ["short", 2],
  0x0c: ["int", 4],
  0x0d: ["float", 4],
  0x0e: ["double", 8],
};

/** Whether `bytes` start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompresses gzip data: node:zlib in Node (the fastest there), else the platform's DecompressionStream (browsers). */
export async function gunzip(bytes: Uint8Array, via?: "zlib" | "stream"): Promise<Uint8Array> {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (via === "zlib" || (via === undefined && proc?.versions?.node)) {
    const zlib = await import("node:zlib");
    return new Uint8Array(zlib.gunzipSync(bytes));
  }
  const DS = (globalThis as { DecompressionStream?: new (format: string) => TransformStream<Uint8Array, Uint8Array> }).DecompressionStream;
  if (!DS) throw new Error("gunzip: this platform has neither DecompressionStream nor node:zlib; decompress the file first");
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DS("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Parses uncompressed IDX bytes (synchronous). Errors say what is wrong with the header. */
export function parseIdxRaw(bytes: Uint8Array): IdxData {
  if (isGzip(bytes)) throw new Error("parseIdx: these bytes are gzip-compressed; use `await parseIdx(bytes)`, which decompresses them");
  if (bytes.length < 4) throw new Error(`parseIdx: ${bytes.length} bytes are too short for an IDX header (4 magic bytes and the sizes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new Error(`parseIdx: not an IDX file (the magic number must start with two zero bytes, got ${hex(bytes[0])} ${hex(bytes[1])})`);
  const t = TYPES[bytes[2]];
  if (!t) throw new Error(`parseIdx: unknown IDX element type ${hex(bytes[2])} (expected 0x08 ubyte, 0x09 byte, 0x0b short, 0x0c int, 0x0d float or 0x0e double)`);
  const [type, size] = t;
  const ndim = bytes[3];
  const header = 4 + 4 * ndim;
  if (bytes.length < header) throw new Error(`parseIdx: truncated header: ${ndim} dimensions need ${header} bytes, the file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let n = 1;
  for (let d = 0; d < ndim; d++) {
    const s = view.getUint32(4 + 4 * d, false);
    shape.push(s);
    n *= s;
  }
  const need = header + n * size;
  if (bytes.length < need) throw new Error(`parseIdx: truncated data: shape [${shape.join(", ")}] of ${type} needs ${need} bytes, the file has ${bytes.length}`);
  let data: IdxArray;
  switch (type) {
    case "ubyte":
    case "byte": {
      // copy (a Node Buffer's slice would share the pool's memory)
      const a = type === "ubyte" ? new Uint8Array(n) : new Int8Array(n);
      a.set(type === "ubyte" ? bytes.subarray(header, need) : new Int8Array(bytes.buffer, bytes.byteOffset + header, n));
      data = a;
      break;
    }
    case "short": {
      const a = new Int16Array(n);
      for (let i = 0; i < n; i++) a[i] = view.getInt16(header + 2 * i, false);
      data = a;
      break;
    }
    case "int": {
      const a = new Int32Array(n);
      for (let i = 0; i < n; i++) a[i] = view.getInt32(header + 4 * i, false);
      data = a;
      break;
    }
    case "float": {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = view.getFloat32(header + 4 * i, false);
      data = a;
      break;
    }
    case "double": {
      const a = new Float64Array(n);
      for (let i = 0; i < n; i++) a[i] = view.getFloat64(header + 8 * i, false);
      data = a;
      break;
    }
  }
  return { type, shape, data };
}

/** Parses IDX bytes, gzip-compressed or not. */
export async function parseIdx(bytes: Uint8Array | ArrayBuffer): Promise<IdxData> {
  let b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (isGzip(b)) b = await gunzip(b);
  return parseIdxRaw(b);
}

/** Reads an IDX file (optionally .gz) from disk. Node only. */
export async function readIdx(path: string): Promise<IdxData> {
  nodeOnly("readIdx", "`await gb.data.parseIdx(await (await fetch(url)).arrayBuffer())` reads an IDX file on the site");
  const fs = await import("node:fs/promises");
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (e) {
    throw new Error(`readIdx: cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return await parseIdx(bytes);
  } catch (e) {
    throw new Error(`${(e as Error).message} (file ${path})`);
  }
}

/**
 * An IDX array as a tensor: integer types become int32, float/double float32.
 * `div` (e.g. 255) converts to float32 and divides (as torchvision's ToTensor: x / 255).
 */
export function idxToTensor(idx: IdxData, opts: { div?: number } = {}): Tensor {
  const { data, shape } = idx;
  if (opts.div !== undefined) {
    const out = new Float32Array(data.length);
    const s = opts.div;
    for (let i = 0; i < data.length; i++) out[i] = data[i] / s;
    return Tensor.fromData(out, shape, "float32");
  }
  if (data instanceof Float32Array) return Tensor.fromData(data, shape, "float32");
  if (data instanceof Float64Array) return Tensor.fromData(Float32Array.from(data), shape, "float32");
  return Tensor.fromData(data instanceof Int32Array ? data : Int32Array.from(data), shape, "int32");
}

function hex(b: number | undefined): string {
  return b === undefined ? "(none)" : "0x" + b.toString(16).padStart(2, "0");
}
