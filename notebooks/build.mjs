#!/usr/bin/env node
// Builds the course notebooks (notebooks/NN-name.ipynb) from their readable sources
// (notebooks/src/NN-name.md).
//
//   node notebooks/build.mjs            # write every notebook
//   node notebooks/build.mjs --check    # exit 1 if a committed notebook differs from its source
//
// Source format: Markdown. Each fenced ```ts block is a code cell; the Markdown between
// code blocks is one Markdown cell (a line `<!-- split -->` starts a new one). A marker line
// right before a code block (or before Markdown text) attaches metadata to that cell:
//
//   <!-- cell: {"tags": ["parameters"]} -->          any cell metadata (merged)
//   <!-- nbgrader: {"grade_id": "ex1", "solution": true} -->
//
// nbgrader metadata is completed with nbgrader's defaults (schema_version 3, task false,
// grade/solution/locked false unless given; graded cells are locked). The test helpers (assert,
// assertEqual, assertClose, assertThrows) are preloaded by the kernel: no cell defines them.
import { readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(HERE);
const KERNELSPEC = { name: "gradbook", display_name: "TypeScript (gradbook)", language: "typescript" };
const LANGUAGE_INFO = {
  name: "typescript",
  version: "5.9",
  mimetype: "text/typescript",
  file_extension: ".ts",
  pygments_lexer: "typescript",
  codemirror_mode: { name: "javascript", typescript: true },
  nbconvert_exporter: "script",
};

function nbgraderMeta(m) {
  const out = { schema_version: 3, task: false, grade: false, solution: false, locked: false, ...m };
  if (out.grade && !out.solution) out.locked = true;
  if (out.grade && out.points === undefined) throw new Error(`nbgrader cell ${out.grade_id}: graded cells need points`);
  if (!out.grade) delete out.points;
  return out;
}

/** Parses a source file into cells [{cell_type, source, metadata}]. */
export function parseSource(text, name = "source") {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  const cells = [];
  let md = [];
  let pending = {};
  const flushMd = () => {
    while (md.length && md[0].trim() === "") md.shift();
    while (md.length && md[md.length - 1].trim() === "") md.pop();
    if (md.length) cells.push({ cell_type: "markdown", source: md.join("\n"), metadata: takePending() });
    md = [];
  };
  const takePending = () => {
    const m = pending;
    pending = {};
    return m;
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    const marker = /^<!--\s*(cell|nbgrader):\s*(\{.*\})\s*-->\s*$/.exec(l);
    if (marker) {
      flushMd();
      let obj;
      try {
        obj = JSON.parse(marker[2]);
      } catch (e) {
        throw new Error(`${name}:${i + 1}: bad JSON in marker (${e.message})`);
      }
      if (marker[1] === "cell") pending = { ...pending, ...obj };
      else pending = { ...pending, nbgrader: nbgraderMeta(obj) };
      continue;
    }
    if (/^<!--\s*split\s*-->\s*$/.test(l)) {
      flushMd();
      continue;
    }
    const fence = /^```(ts|typescript)\s*$/.exec(l);
    if (fence) {
      flushMd();
      const code = [];
      i++;
      while (i < lines.length && !/^```\s*$/.test(lines[i])) code.push(lines[i++]);
      if (i >= lines.length) throw new Error(`${name}: unterminated code block`);
      cells.push({ cell_type: "code", source: code.join("\n"), metadata: takePending() });
      continue;
    }
    md.push(l);
  }
  flushMd();
  return cells;
}

const splitLines = (s) => {
  const out = s.split(/(?<=\n)/);
  return out.length === 1 && out[0] === "" ? [] : out;
};

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k] = sortKeys(v[k]);
    return o;
  }
  return v;
}

/** Builds the notebook JSON text for one source. */
export function buildNotebook(text, name) {
  const cells = parseSource(text, name);
  const ids = new Set();
  let n = 0;
  const out = cells.map((c) => {
    const gid = c.metadata.nbgrader?.grade_id;
    let id = gid ? gid.replace(/[^A-Za-z0-9_-]/g, "-") : `${c.cell_type === "code" ? "code" : "md"}-${String(++n).padStart(2, "0")}`;
    if (ids.has(id)) throw new Error(`${name}: two cells would have the id ${id}`);
    ids.add(id);
    const cell = { cell_type: c.cell_type, id, metadata: c.metadata, source: splitLines(c.source) };
    if (c.cell_type === "code") {
      cell.execution_count = null;
      cell.outputs = [];
    }
    return cell;
  });
  const nb = {
    cells: out,
    metadata: { kernelspec: KERNELSPEC, language_info: LANGUAGE_INFO },
    nbformat: 4,
    nbformat_minor: 5,
  };
  return JSON.stringify(sortKeys(nb), null, 1) + "\n";
}

export function sources() {
  return readdirSync(join(HERE, "src"))
    .filter((f) => /^\d\d-.*\.md$/.test(f))
    .sort()
    .map((f) => ({ src: join(HERE, "src", f), out: join(HERE, f.replace(/\.md$/, ".ipynb")), name: f.replace(/\.md$/, "") }));
}

async function main() {
  const check = process.argv.includes("--check");
  let bad = 0;
  for (const s of sources()) {
    const text = buildNotebook(readFileSync(s.src, "utf8"), s.name);
    if (check) {
      const same = existsSync(s.out) && readFileSync(s.out, "utf8") === text;
      if (!same) {
        console.error(`${s.name}.ipynb is out of date: run node notebooks/build.mjs`);
        bad++;
      }
    } else {
      writeFileSync(s.out, text);
      console.log(`wrote ${s.out}`);
    }
  }
  process.exit(bad ? 1 : 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
