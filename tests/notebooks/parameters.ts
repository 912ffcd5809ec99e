/** Notebook parameters as papermill sets them (shared by the notebook tests in Node and in the browser). */

/** The notebook with papermill's injected-parameters cell after its parameters cell. */
export function withParameters(nb: any, params: Record<string, unknown>): any {
  const copy = JSON.parse(JSON.stringify(nb));
  const at = copy.cells.findIndex((c: any) => (c.metadata.tags ?? []).includes("parameters"));
  if (at < 0) throw new Error("no parameters cell");
  const source = Object.entries(params).map(([k, v]) => `${k} = ${JSON.stringify(v)};`).join("\n");
  copy.cells.splice(at + 1, 0, { cell_type: "code", id: "injected-parameters", metadata: { tags: ["injected-parameters"] }, execution_count: null, outputs: [], source });
  return copy;
}
