/** Minimal source map v3 decoder: maps generated line/column back to the source. */

const B64 = new Map([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].map((c, i) => [c, i]));

/** Per generated line: segments [genCol, srcLine, srcCol], 0-based, sorted by genCol. */
export type DecodedMap = number[][][];

export function decodeMappings(mappings: string): DecodedMap {
  const lines: DecodedMap = [];
  let srcIdx = 0, srcLine = 0, srcCol = 0, name = 0;
  for (const lineStr of mappings.split(";")) {
    const segs: number[][] = [];
    let genCol = 0;
    for (const seg of lineStr.split(",")) {
      if (!seg) continue;
      const vals: number[] = [];
      let value = 0, shift = 0;
      for (const ch of seg) {
        const d = B64.get(ch);
        if (d === undefined) break;
        value += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          vals.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += vals[0] ?? 0;
      if (vals.length >= 4) {
        srcIdx += vals[1];
        srcLine += vals[2];
        srcCol += vals[3];
        if (vals.length >= 5) name += vals[4];
        segs.push([genCol, srcLine, srcCol]);
      }
    }
    lines.push(segs);
  }
  return lines;
}

/** 1-based in, 1-based out; null when the position has no mapping. */
export function originalPosition(map: DecodedMap, line: number, column: number): { line: number; column: number } | null {
  for (let l = line - 1; l >= 0 && l >= line - 3; l--) {
    const segs = map[l];
    if (!segs || !segs.length) continue;
    let best = segs[0];
    if (l === line - 1) for (const s of segs) if (s[0] <= column - 1) best = s;
    return { line: best[1] + 1, column: best[2] + 1 };
  }
  return null;
}
