/**
 * The safetensors format (as Hugging Face's safetensors and PyTorch checkpoints use):
 * an 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}} padded with
 * spaces to a multiple of 8 bytes, then the raw little-endian tensor bytes.
 *
 * gradbook writes F32, I32 and BOOL; it reads those and converts F64, F16, BF16 (to float32)
 * and I64, I16, I8, U8, U16 (to int32), since PyTorch files often hold them.
 */
import type { DType } from "../dtype.js";
import { shapeStr, sizeOf } from "../shape.js";
import { nodeOnly } from "../node-only.js";
import { Tensor } from "../tensor.js";

/** Tensors by name: what Module.stateDict() returns and loadStateDict() takes. */
export type StateDict = Record<string, Tensor>;

const WRITE_DTYPE: Record<DType, { name: string; bytes: number }> = {
  float32: { name: "F32", bytes: 4 },
  int32: { name: "I32", bytes: 4 },
  bool: { name: "BOOL", bytes: 1 },
};

const READ_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, U16: 2, BOOL: 1 };

function entries(sd: StateDict | Map<string, Tensor>): [string, Tensor][] {
  return sd instanceof Map ? [...sd.entries()] : Object.entries(sd);
}

/** Encodes tensors (and optional string metadata) as safetensors bytes. Async: values are read from the device. */
export async function serialize(stateDict: StateDict | Map<string, Tensor>, metadata?: Record<string, string>): Promise<Uint8Array> {
  const items = entries(stateDict);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== "string") throw new Error(`safetensors.serialize: metadata value for "${k}" must be a string`);
    header.__metadata__ = metadata;
  }
  const datas: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of items) {
    if (!(t instanceof Tensor)) throw new Error(`safetensors.serialize: "${name}" is not a tensor`);
    if (name === "__metadata__") throw new Error(`safetensors.serialize: "__metadata__" cannot be a tensor name`);
    const dt = WRITE_DTYPE[t.dtype];
    const v = await t.data();
    const bytes = new Uint8Array(v.buffer, v.byteOffset, v.length * dt.bytes).slice();
    header[name] = { dtype: dt.name, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    datas.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hb = enc.encode(json);
  const padLen = (8 - ((8 + hb.length) % 8)) % 8;
  if (padLen) {
    json += " ".repeat(padLen);
    hb = enc.encode(json);
  }
  const out = new Uint8Array(8 + hb.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let at = 8 + hb.length;
  for (const d of datas) {
    out.set(d, at);
    at += d.length;
  }
  return out;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

function parseHeader(bytes: Uint8Array): { header: Record<string, HeaderEntry>; metadata: Record<string, string>; dataStart: number } {
  if (bytes.length < 8) throw new Error(`safetensors.deserialize: ${bytes.length} bytes is too short for a safetensors file`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > bytes.length - 8) throw new Error(`safetensors.deserialize: header length ${n} exceeds the file size ${bytes.length} (not a safetensors file?)`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(`safetensors.deserialize: the header is not valid JSON (${(e as Error).message})`);
  }
  const metadata = (raw.__metadata__ ?? {}) as Record<string, string>;
  delete raw.__metadata__;
  return { header: raw as Record<string, HeaderEntry>, metadata, dataStart: 8 + n };
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function decode(name: string, e: HeaderEntry, src: Uint8Array): { values: Float32Array | Int32Array | Uint8Array; dtype: DType } {
  const n = sizeOf(e.shape);
  const bytes = src.slice(); // aligned copy
  const dv = new DataView(bytes.buffer);
  switch (e.dtype) {
    case "F32": return { values: new Float32Array(bytes.buffer, 0, n), dtype: "float32" };
    case "I32": return { values: new Int32Array(bytes.buffer, 0, n), dtype: "int32" };
    case "BOOL": return { values: bytes, dtype: "bool" };
    case "F64": return { values: Float32Array.from(new Float64Array(bytes.buffer, 0, n)), dtype: "float32" };
    case "F16": { const v = new Float32Array(n); for (let i = 0; i < n; i++) v[i] = half(dv.getUint16(2 * i, true)); return { values: v, dtype: "float32" }; }
    case "BF16": { const v = new Float32Array(n); const u = new Uint32Array(v.buffer); for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16; return { values: v, dtype: "float32" }; }
    case "I64": {
      const v = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const b = dv.getBigInt64(8 * i, true);
        if (b > 2147483647n || b < -2147483648n) throw new Error(`safetensors.deserialize: "${name}" (I64) holds ${b}, which does not fit int32`);
        v[i] = Number(b);
      }
      return { values: v, dtype: "int32" };
    }
    case "I16": return { values: Int32Array.from(new Int16Array(bytes.buffer, 0, n)), dtype: "int32" };
    case "U16": return { values: Int32Array.from(new Uint16Array(bytes.buffer, 0, n)), dtype: "int32" };
    case "I8": return { values: Int32Array.from(new Int8Array(bytes.buffer, 0, n)), dtype: "int32" };
    case "U8": return { values: Int32Array.from(bytes), dtype: "int32" };
    default: throw new Error(`safetensors.deserialize: "${name}" has dtype ${e.dtype}, which gradbook cannot read (supported: ${Object.keys(READ_BYTES).join(", ")})`);
  }
}

/** Decodes safetensors bytes into tensors (float32 / int32 / bool) on `device` (default the CPU), in file order. */
export function deserialize(bytes: Uint8Array, opts: { device?: string } = {}): StateDict {
  const { header, dataStart } = parseHeader(bytes);
  const out: StateDict = {};
  for (const [name, e] of Object.entries(header)) {
    if (!e || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) throw new Error(`safetensors.deserialize: bad header entry for "${name}"`);
    const per = READ_BYTES[e.dtype];
    const [b, en] = e.data_offsets;
    if (per !== undefined && en - b !== sizeOf(e.shape) * per) {
      throw new Error(`safetensors.deserialize: "${name}" (${e.dtype}, shape ${shapeStr(e.shape)}) needs ${sizeOf(e.shape) * per} bytes, its offsets give ${en - b}`);
    }
    if (dataStart + en > bytes.length) throw new Error(`safetensors.deserialize: "${name}" extends past the end of the data (file truncated?)`);
    const { values, dtype } = decode(name, e, bytes.subarray(dataStart + b, dataStart + en));
    let t = Tensor.fromData(values, [...e.shape], dtype);
    if (opts.device) t = t.to(opts.device);
    out[name] = t;
  }
  return out;
}

/** The "__metadata__" strings of safetensors bytes. */
export function metadata(bytes: Uint8Array): Record<string, string> {
  return parseHeader(bytes).metadata;
}

/** Writes a state dict (or a module's) to a .safetensors file. Node only. */
export async function saveFile(obj: StateDict | Map<string, Tensor> | { stateDict(): StateDict }, path: string, meta?: Record<string, string>): Promise<void> {
  nodeOnly("safetensors.saveFile", "`await gb.nn.safetensors.serialize(model.stateDict())` gives the file's bytes (to download, or to keep in a variable)");
  const sd = typeof (obj as { stateDict?: unknown }).stateDict === "function" ? (obj as { stateDict(): StateDict }).stateDict() : (obj as StateDict | Map<string, Tensor>);
  const bytes = await serialize(sd, meta);
  const fs = await import("node:fs/promises");
  await fs.writeFile(path, bytes);
}

/** Reads a .safetensors file into a state dict. Node only. */
export async function loadFile(path: string, opts: { device?: string } = {}): Promise<StateDict> {
  nodeOnly("safetensors.loadFile", "`gb.nn.safetensors.deserialize(new Uint8Array(await (await fetch(url)).arrayBuffer()))` reads the bytes of a file on the site");
  const fs = await import("node:fs/promises");
  const buf = await fs.readFile(path);
  return deserialize(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), opts);
}
