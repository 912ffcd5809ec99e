// Completion from live objects (kernel/ts/live-complete.ts), what the kernel answers while its language service loads.
import { afterAll, expect, test } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { completeFromLiveObjects } from "../../kernel/ts/live-complete.ts";
import { nodePlatform } from "../../kernel/ts/node.ts";

const dir = mkdtempSync(join(tmpdir(), "gb-live-"));
mkdirSync(join(dir, "node_modules", "@scope", "pkg"), { recursive: true });
mkdirSync(join(dir, "node_modules", "leftpad"), { recursive: true });
writeFileSync(join(dir, "data.json"), "{}");
writeFileSync(join(dir, "helper.ts"), "");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const host = nodePlatform(dir, () => {});
const complete = (code: string, cursor = code.length) => completeFromLiveObjects(code, cursor, host);

const g = globalThis as any;
g.liveCounter = 1;
g.liveTensorLike = new (class Thing {
  secret = 1;
  reshape() {}
  resize() {}
})();
Object.defineProperty(g, "liveGetter", { get: () => { throw new Error("a getter must not run"); }, configurable: true });
g.liveProxy = new Proxy({}, { get: () => { throw new Error("a trap must not run"); } });
afterAll(() => ["liveCounter", "liveTensorLike", "liveGetter", "liveProxy"].forEach((k) => delete g[k]));

test("globals (an earlier cell's declarations), keywords, and what the cell declares before the cursor", () => {
  expect(complete("liveCou")).toMatchObject({ matches: ["liveCounter"], cursorStart: 0, cursorEnd: 7 });
  expect(complete("const someVariable = 1; someVar")!.matches).toEqual(["someVariable"]);
  expect(complete("retu")!.matches).toEqual(["return"]);
});

test("members through plain properties, the prototype chain included; private-looking names only when typed", () => {
  expect(complete("Math.ab")).toMatchObject({ matches: ["abs"], cursorStart: 5 });
  expect(complete("liveTensorLike.res")!.matches).toEqual(["reshape", "resize"]);
  expect(complete("liveTensorLike.se")!.matches).toEqual(["secret"]);
  expect(complete("[].fil")).toBeNull(); // (an expression, not a chain of names)
});

test("no answer where reading would run code: getters, proxies, calls", () => {
  expect(complete("liveGetter.x")).toBeNull();
  expect(complete("liveProxy.x")).toBeNull();
  expect(complete("liveCounter.toFixed().len")).toBeNull();
});

test("module names in import paths: packages of the notebook's folder, builtins, the preloaded packages, files beside the notebook", () => {
  expect(complete('import { readFile } from "node:f')).toMatchObject({ matches: ["node:fs", "node:fs/promises"], cursorStart: 26 });
  expect(complete('import x from "@scope/')!.matches).toEqual(["@scope/pkg"]);
  expect(complete('const m = require("left')!.matches).toEqual(["leftpad"]);
  expect(complete('import * as w from "gradbook/')!.matches).toEqual(["gradbook/widgets"]);
  expect(complete('import h from "./')!.matches).toEqual(["./data.json", "./helper.ts"]);
});
