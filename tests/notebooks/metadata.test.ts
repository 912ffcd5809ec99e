// The course notebooks without running them: each committed .ipynb is what notebooks/build.mjs
// makes from its source, the nbgrader metadata is well formed (and accepted by the grader's own
// release step), and every notebook has a parameters cell and graded exercises.
import { describe, expect, test } from "vitest";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseNotebook, type Notebook } from "../../kernel/grader/notebook.ts";
import { prepareSource, releaseNotebook } from "../../kernel/grader/release.ts";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const NB_DIR = join(ROOT, "notebooks");
const builder = (await import(pathToFileURL(join(NB_DIR, "build.mjs")).href)) as {
  buildNotebook(text: string, name: string): string;
  sources(): { src: string; out: string; name: string }[];
};
/** Every notebook with a source in notebooks/src/. */
const NOTEBOOKS = builder.sources().map((s) => s.name);

test("the course has its seven notebooks", () => {
  expect(NOTEBOOKS).toEqual(["01-perceptron", "02-xor", "03-backprop", "04-convolution-arithmetic", "05-lenet5", "06-alexnet", "07-training-diagnosis"]);
});
const raw = (name: string) => JSON.parse(readFileSync(join(NB_DIR, `${name}.ipynb`), "utf8"));
const load = (name: string): Notebook => parseNotebook(readFileSync(join(NB_DIR, `${name}.ipynb`), "utf8"), `${name}.ipynb`);
const src = (c: { source: string | string[] }) => (Array.isArray(c.source) ? c.source.join("") : c.source);

describe.each(NOTEBOOKS)("%s", (name) => {
  test("the committed notebook is built from notebooks/src (run `node notebooks/build.mjs`)", () => {
    const committed = raw(name);
    const rebuilt = builder.buildNotebook(readFileSync(join(NB_DIR, "src", `${name}.md`), "utf8"), name);
    expect(JSON.parse(rebuilt), `${name}.ipynb differs from notebooks/src/${name}.md: run node notebooks/build.mjs`).toEqual(committed);
    expect(readFileSync(join(NB_DIR, `${name}.ipynb`), "utf8")).toBe(rebuilt);
  });

  test("nbformat 4.5, the gradbook kernelspec, unique cell ids, no outputs", () => {
    const nb = raw(name);
    expect([nb.nbformat, nb.nbformat_minor]).toEqual([4, 5]);
    expect(nb.metadata.kernelspec).toEqual({ name: "gradbook", display_name: "TypeScript (gradbook)", language: "typescript" });
    expect(nb.metadata.language_info.name).toBe("typescript");
    const ids = nb.cells.map((c: any) => c.id);
    expect(ids.every((id: unknown) => typeof id === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(id as string))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of nb.cells) if (c.cell_type === "code") expect([c.outputs, c.execution_count]).toEqual([[], null]);
  });

  test("a papermill parameters cell with `quick`", () => {
    const nb = raw(name);
    const params = nb.cells.filter((c: any) => (c.metadata.tags ?? []).includes("parameters"));
    expect(params).toHaveLength(1);
    expect(params[0].cell_type).toBe("code");
    expect(src(params[0])).toMatch(/^let quick = (true|false);/m);
    expect(nb.cells.findIndex((c: any) => c.cell_type === "code")).toBe(nb.cells.indexOf(params[0]));
  });

  test("nbgrader metadata: well formed, graded cells with ids and points, solution regions, hidden tests", () => {
    const nb = load(name);
    const ids = new Set<string>();
    let graded = 0, solutions = 0, hidden = 0, points = 0;
    for (const c of nb.cells) {
      const m = c.metadata.nbgrader;
      if (!m) {
        expect(c.source, "BEGIN SOLUTION outside a solution cell").not.toMatch(/BEGIN SOLUTION|BEGIN HIDDEN TESTS/);
        continue;
      }
      expect(m.schema_version).toBe(3);
      for (const k of ["grade", "solution", "locked", "task"] as const) expect(typeof m[k], `${m.grade_id}.${k}`).toBe("boolean");
      expect(m.grade_id).toMatch(/^[A-Za-z0-9_.-]+$/);
      expect(ids.has(m.grade_id!), `duplicate grade_id ${m.grade_id}`).toBe(false);
      ids.add(m.grade_id!);
      if (m.solution) {
        solutions++;
        expect(c.cell_type).toBe("code");
        expect(c.source, m.grade_id).toMatch(/^\s*\/\/ BEGIN SOLUTION\s*$/m);
        expect(c.source, m.grade_id).toMatch(/^\s*\/\/ END SOLUTION\s*$/m);
        expect(m.grade, "solution cells are not graded themselves").toBe(false);
      }
      if (m.grade) {
        graded++;
        expect(m.locked, m.grade_id).toBe(true);
        expect(typeof m.points === "number" && m.points > 0, `${m.grade_id} has points`).toBe(true);
        points += m.points!;
        if (/BEGIN HIDDEN TESTS/.test(c.source)) {
          hidden++;
          expect(c.source).toMatch(/^\s*\/\/ END HIDDEN TESTS\s*$/m);
        }
      }
    }
    expect(graded, "2-7 graded exercises").toBeGreaterThanOrEqual(2);
    expect(graded).toBeLessThanOrEqual(7);
    expect(solutions).toBe(graded);
    expect(hidden, "some hidden tests").toBeGreaterThanOrEqual(1);
    expect(points).toBeGreaterThan(0);
    // the test helpers are the kernel's (kernel/asserts.ts): no cell defines them
    expect(ids.has("gradbook_checks")).toBe(false);
    expect(nb.cells.map((c) => c.source).join("\n")).not.toMatch(/function assert|__gradbookChecks/);
  });

  test("the grader accepts it and makes a student version without solutions or hidden tests", () => {
    const prepared = prepareSource(load(name), `${name}.ipynb`);
    expect(prepared.cells.length).toBe(load(name).cells.length); // nothing added
    const student = releaseNotebook(prepared, `${name}.ipynb`);
    const all = student.cells.map((c) => c.source).join("\n");
    expect(all).not.toMatch(/BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS/);
    expect(all).toMatch(/throw new Error\("not implemented"\)/);
    for (const c of student.cells) if (c.metadata.nbgrader?.grade || c.metadata.nbgrader?.solution) expect(c.metadata.nbgrader.checksum).toMatch(/^[0-9a-f]{32}$/);
  });
});

test("every notebook validates against the nbformat schema (Jupyter's own nbformat package)", () => {
  const script = "import nbformat, sys\nfor f in sys.argv[1:]:\n    nbformat.validate(nbformat.read(f, as_version=4))\nprint('ok', len(sys.argv) - 1)";
  const out = execFileSync("/usr/bin/python3", ["-c", script, ...NOTEBOOKS.map((n) => join(NB_DIR, `${n}.ipynb`))], { encoding: "utf8", env: { ...process.env, PYTHONWARNINGS: "ignore" } });
  expect(out.trim()).toBe(`ok ${NOTEBOOKS.length}`);
});
