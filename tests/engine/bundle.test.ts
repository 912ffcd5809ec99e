// The engine as notebooks load it (dist/gradbook.js, esbuild's bundle): every class keeps its own
// name. esbuild renames a class whose body names itself (Tensor, nn.Module, nn.Sequential, ...),
// and students would see the renamed one: "_Sequential(" as a model's repr, "_Tensor" in lists.
import { expect, test } from "vitest";
import { pathToFileURL } from "node:url";

test("the bundle's classes have their own names: a model's repr, a tensor's constructor", async () => {
  const gb = await import(pathToFileURL("dist/gradbook.js").href);
  const isClass = (v: unknown) => typeof v === "function" && /^class[\s{]/.test(Function.prototype.toString.call(v));
  const classes: [string, Function][] = [];
  for (const [k, v] of Object.entries(gb)) {
    if (isClass(v)) classes.push([k, v as Function]);
    else if (v && typeof v === "object" && !Array.isArray(v)) for (const [k2, v2] of Object.entries(v)) if (isClass(v2)) classes.push([k2, v2 as Function]);
  }
  expect(classes.length).toBeGreaterThan(50);
  expect(classes.filter(([k, c]) => c.name !== k).map(([k, c]) => `${k}: ${c.name}`)).toEqual([]);
  expect(gb.randn([2]).constructor.name).toBe("Tensor");
  expect(String(new gb.nn.Sequential(new gb.nn.Linear(2, 3)))).toBe("Sequential(\n  (0): Linear(inFeatures=2, outFeatures=3, bias=true)\n)");
});
