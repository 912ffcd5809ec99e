/**
 * WGSL code generation helpers. Shapes and strides are baked into the shader
 * text as constants (pipelines are cached by their text, so a training loop
 * compiles each shader once).
 */
import type { DType } from "../../dtype.js";

/** The WGSL element type of a dtype: bool is stored as u32 (0 / 1). */
export function wtype(d: DType): "f32" | "i32" | "u32" {
  return d === "float32" ? "f32" : d === "int32" ? "i32" : "u32";
}

const f32buf = new Float32Array(1);
const u32view = new Uint32Array(f32buf.buffer);

/** An exact f32 literal (also for inf / NaN). */
export function f32c(v: number): string {
  f32buf[0] = v;
  const u = u32view[0];
  const f = f32buf[0];
  if (Number.isInteger(f) && Math.abs(f) < 1e7 && !Object.is(f, -0)) return `${f}.0`;
  // WGSL rejects inf / NaN in constant expressions: go through a (non-const) function
  return Number.isFinite(f) ? `bitcast<f32>(${u}u)` : `f32bits(${u}u)`;
}

export const u = (n: number): string => `${n >>> 0}u`;
export const i = (n: number): string => `${n | 0}i`;

/** A constant of dtype `d`. */
export function constOf(v: number, d: DType): string {
  if (d === "float32") return f32c(v);
  if (d === "int32") return `${Math.trunc(v) | 0}i`;
  return v ? "1u" : "0u";
}

/** The flat index of this thread (2-D dispatches for large sizes) and the early-out. */
export function main(body: string, wg = 256, extra = ""): string {
  return `${extra}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = gid.x + gid.y * nwg.x * ${wg}u;
${body}
}
`;
}

/**
 * A WGSL function `name(i: u32) -> u32` mapping a flat index in `shape` to
 * sum(index_d * strides_d) + offset.
 */
export function offsetFn(name: string, shape: readonly number[], strides: readonly number[], offset = 0): string {
  const r = shape.length;
  // contiguous (strides are the row-major strides of shape)?
  let acc = 1, contiguous = true;
  for (let d = r - 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== acc) contiguous = false;
    acc *= shape[d];
  }
  if (contiguous) return `fn ${name}(i: u32) -> u32 { return i + ${u(offset)}; }\n`;
  const lines: string[] = [`fn ${name}(i: u32) -> u32 {`, `  var r = i;`, `  var o = ${u(offset)};`];
  for (let d = r - 1; d >= 0; d--) {
    if (shape[d] === 1) continue;
    if (d === 0 || shape.slice(0, d).every((s) => s === 1)) {
      if (strides[d] !== 0) lines.push(`  o = o + r * ${u(strides[d])};`);
      break;
    }
    if (strides[d] !== 0) lines.push(`  o = o + (r % ${u(shape[d])}) * ${u(strides[d])};`);
    lines.push(`  r = r / ${u(shape[d])};`);
  }
  lines.push(`  return o;`, `}`);
  return lines.join("\n") + "\n";
}

/** `let c<d> = ...` statements decomposing flat index `v` of `shape` into coordinates `${p}0..${p}{r-1}`. */
export function coords(v: string, shape: readonly number[], p = "c"): string {
  const r = shape.length;
  const lines: string[] = [`  var rr_${p} = ${v};`];
  for (let d = r - 1; d >= 0; d--) {
    if (d === 0) lines.push(`  let ${p}${d} = rr_${p};`);
    else lines.push(`  let ${p}${d} = rr_${p} % ${u(shape[d])};`, `  rr_${p} = rr_${p} / ${u(shape[d])};`);
  }
  return lines.join("\n");
}

/** How a shader uses a tensor: reads it (get_NAME(i)), writes it (set_NAME(i, v)) or adds to it atomically (add_NAME(i, v)). */
export type Access = "read" | "write" | "atomic";

/**
 * The bindings, from binding number `at` on, and the accessor of one tensor operand named `name`
 * with elements of WGSL type `type`. `whole`: the tensor is one buffer, bound as `name`. Else
 * `parts` buffers are bound (name_0, name_1, ...), holding parts firstPart, firstPart + 1, ... of
 * `partElems` elements (a power of two) each (firstPart: a number or a WGSL expression): the
 * accessor picks the part of element i.
 */
export function operandDecl(name: string, type: "f32" | "i32" | "u32", access: Access, at: number, whole: boolean, parts: number, firstPart: number | string, partElems: number): string {
  const elem = access === "atomic" ? `atomic<${type === "f32" ? "u32" : type}>` : type;
  const mode = access === "read" ? "read" : "read_write";
  const names = whole ? [name] : Array.from({ length: parts }, (_, j) => `${name}_${j}`);
  let code = names.map((n, j) => `@group(0) @binding(${at + j}) var<storage, ${mode}> ${n}: array<${elem}>;\n`).join("");
  const use = (ref: string): string =>
    access === "read" ? `return ${ref};` : access === "write" ? `${ref} = v;` : type === "f32" ? `atomicAddF32(&${ref}, v);` : `atomicAdd(&${ref}, v);`;
  const sig = access === "read" ? `fn get_${name}(i: u32) -> ${type}` : `fn ${access === "write" ? "set" : "add"}_${name}(i: u32, v: ${type})`;
  if (whole) return code + `${sig} { ${use(`${name}[i]`)} }\n`;
  const mask = u(partElems - 1);
  if (parts === 1) return code + `${sig} { ${use(`${name}_0[i & ${mask}]`)} }\n`;
  code += `${sig} {\n  let o = i & ${mask};\n  switch ((i >> ${u(Math.log2(partElems))}) - ${typeof firstPart === "number" ? u(firstPart) : firstPart}) {\n`;
  for (let j = 0; j < parts; j++) code += `    ${j === parts - 1 ? "default" : `case ${u(j)}`}: { ${use(`${name}_${j}[o]`)} }\n`;
  return code + `  }\n}\n`;
}

export const binding = (n: number, name: string, type: string, rw = false): string =>
  `@group(0) @binding(${n}) var<storage, ${rw ? "read_write" : "read"}> ${name}: array<${type}>;\n`;

/** f32 atomic add on a u32 atomic array via a compare-exchange loop. */
export const ATOMIC_ADD_F32 = `
fn atomicAddF32(p: ptr<storage, atomic<u32>, read_write>, v: f32) {
  var old = atomicLoad(p);
  loop {
    let r = atomicCompareExchangeWeak(p, old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}
`;

/** WGSL math helpers of the element-wise, reduction and pooling shaders (PyTorch's NaN and pow rules, stable sigmoid / tanh / log1p / expm1). */
export const MATH = `
fn sigm(v: f32) -> f32 { if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); } let e = exp(v); return e / (1.0 + e); }
fn stanh(v: f32) -> f32 { let t = exp(-2.0 * abs(v)); let r = (1.0 - t) / (1.0 + t); return select(r, -r, v < 0.0); }
fn log1p_(v: f32) -> f32 { let w = 1.0 + v; if (w == 1.0) { return v; } return log(w) * (v / (w - 1.0)); }
fn expm1_(v: f32) -> f32 { if (abs(v) < 1e-5) { return v + 0.5 * v * v; } let e = exp(v); if (e == 1.0) { return v; } if (e - 1.0 == -1.0) { return -1.0; } return (e - 1.0) * v / log(e); }
fn gpow(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a != a || b != b) { return a + b; }
  let r = pow(abs(a), b);
  if (a < 0.0) {
    if (floor(b) != b) { return f32bits(0x7fc00000u); }
    if (fract(b * 0.5) != 0.0) { return -r; }
  }
  return r;
}
fn isnan_(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
`;
