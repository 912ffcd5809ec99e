/**
 * `node:crypto` for the grader's code in the page (kernel/grader/notebook.ts, for the browser's
 * Validate): `createHash("md5")`, the hash nbgrader's cell checksums use (whether a solution was
 * answered, whether a read-only cell was changed). Web Crypto has no MD5, so it is computed here
 * (RFC 1321). Other algorithms say that they are not available in a browser.
 */
const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);

function md5(bytes: Uint8Array): string {
  const n = bytes.length;
  const padded = new Uint8Array((((n + 8) >> 6) + 1) << 6);
  padded.set(bytes);
  padded[n] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, (n * 8) >>> 0, true);
  view.setUint32(padded.length - 4, Math.floor(n / 2 ** 29), true);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const m = new Uint32Array(16);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) m[i] = view.getUint32(off + 4 * i, true);
    let [a, b, c, d] = h;
    for (let i = 0; i < 64; i++) {
      const round = i >> 4;
      const f = round === 0 ? (b & c) | (~b & d) : round === 1 ? (d & b) | (~d & c) : round === 2 ? b ^ c ^ d : c ^ (b | ~d);
      const g = round === 0 ? i : round === 1 ? (5 * i + 1) & 15 : round === 2 ? (3 * i + 5) & 15 : (7 * i) & 15;
      const s = S[(round << 2) | (i & 3)];
      const x = (f + a + K[i] + m[g]) >>> 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((x << s) | (x >>> (32 - s)))) >>> 0;
    }
    h[0] = (h[0] + a) >>> 0;
    h[1] = (h[1] + b) >>> 0;
    h[2] = (h[2] + c) >>> 0;
    h[3] = (h[3] + d) >>> 0;
  }
  return h.map((w) => [0, 8, 16, 24].map((sh) => ((w >>> sh) & 255).toString(16).padStart(2, "0")).join("")).join("");
}

class Md5 {
  private parts: Uint8Array[] = [];
  update(data: string | Uint8Array, _encoding?: string): this {
    this.parts.push(typeof data === "string" ? new TextEncoder().encode(data) : data);
    return this;
  }
  digest(encoding: "hex"): string {
    if (encoding !== "hex") throw new Error(`createHash("md5").digest: only "hex" in a browser, not ${encoding}`);
    const all = new Uint8Array(this.parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of this.parts) all.set(p, (at += p.length) - p.length);
    return md5(all);
  }
}

export function createHash(algorithm: string): Md5 {
  if (algorithm !== "md5") throw new Error(`createHash("${algorithm}") is not available in the browser (only md5, for nbgrader's checksums)`);
  return new Md5();
}
