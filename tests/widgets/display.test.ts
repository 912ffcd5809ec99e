// The display pipeline (widgets/display.ts): value -> MIME bundle, display through the host, order kept.
import { afterEach, describe, expect, it } from "vitest";
import { inspect } from "node:util";
import { Bundle, DisplayHandle, Output, bundleOf, display, plot, resetPlotlyEmbedding, setDisplayHost, setPrintFallback } from "../../widgets/index.js";
import { CaptureHost } from "./capture-host.js";

afterEach(() => {
  setDisplayHost(null);
  setPrintFallback((t) => console.log(t));
  resetPlotlyEmbedding();
});

const later = <T>(v: T, ms = 20) => new Promise<T>((r) => setTimeout(() => r(v), ms));

describe("bundleOf", () => {
  it("a value's toMimeBundle (sync or async), bytes as base64, text/plain from the formatter when missing", async () => {
    const sync = { toMimeBundle: () => ({ "text/html": "<b>x</b>", "image/png": new Uint8Array([137, 80, 78, 71]), "text/x-none": undefined }) };
    expect(bundleOf(sync, (v) => inspect(v))).toEqual({ "text/html": "<b>x</b>", "image/png": "iVBORw==", "text/plain": inspect(sync) });
    const async = { toMimeBundle: async () => ({ "text/plain": "late" }) };
    const b = bundleOf(async);
    expect(b).toBeInstanceOf(Promise);
    expect(await b).toEqual({ "text/plain": "late" });
  });

  it("plain values: the host's formatter (the kernel's util.inspect), else strings as they are and JSON", () => {
    expect(bundleOf("hi", (v) => inspect(v))).toEqual({ "text/plain": "'hi'" });
    expect(bundleOf("hi")).toEqual({ "text/plain": "hi" });
    expect(bundleOf({ a: [1, 2] })).toEqual({ "text/plain": JSON.stringify({ a: [1, 2] }, null, 1) });
  });

  it("a ready Bundle is taken as it is; a failing toMimeBundle is the caller's error", async () => {
    expect(bundleOf(new Bundle({ "text/html": "<i>i</i>" }))).toEqual({ "text/html": "<i>i</i>" });
    expect(() => bundleOf({ toMimeBundle: () => { throw new Error("bad data"); } })).toThrow("bad data");
    await expect(bundleOf({ toMimeBundle: async () => { throw new Error("bad later"); } })).rejects.toThrow("bad later");
  });
});

describe("display", () => {
  it("goes to the host in the order made, a bundle still being made holding back the next", async () => {
    const host = new CaptureHost();
    setDisplayHost(host);
    display({ toMimeBundle: () => later({ "text/plain": "first (async)" }) });
    display("second");
    display.html("<b>third</b>");
    expect(host.displays).toEqual([]);
    await host.queue.settled();
    expect(host.displays.map((d) => d.bundle["text/plain"])).toEqual(["first (async)", "second", "<HTML>"]);
    expect(host.displays[2].bundle["text/html"]).toBe("<b>third</b>");
  });

  it("returns a handle only with a display id; update replaces in place; metadata from the value and the options", () => {
    const host = new CaptureHost();
    setDisplayHost(host);
    expect(display("no id")).toBeUndefined();
    const h = display("step 1", { displayId: true });
    expect(h).toBeInstanceOf(DisplayHandle);
    expect(h.displayId).toMatch(/^gb-[0-9a-f]{16}$/);
    h.update("step 2");
    display.png(new Uint8Array([1, 2, 3]), { width: 50, metadata: { note: 1 } });
    expect(host.displays.map((d) => d.options)).toEqual([
      { displayId: undefined, update: false, metadata: {} },
      { displayId: h.displayId, update: false, metadata: {} },
      { displayId: h.displayId, update: true, metadata: {} },
      { displayId: undefined, update: false, metadata: { "image/png": { width: 50, height: undefined }, note: 1 } },
    ]);
    expect(host.displays[3].bundle).toEqual({ "image/png": "AQID", "text/plain": "<PNG image>" });
  });

  it("without a host: the text/plain form is printed", async () => {
    const lines: string[] = [];
    setPrintFallback((t) => lines.push(t));
    display("plain");
    display({ toMimeBundle: async () => ({ "text/plain": "async plain" }) });
    await later(null, 5);
    expect(lines).toEqual(["plain", "async plain"]);
  });
});

describe("Output.capture", () => {
  it("keeps the order of asynchronous bundles and returns once they are in the output", async () => {
    setDisplayHost(new CaptureHost());
    const out = new Output();
    await out.capture(() => {
      display({ toMimeBundle: () => later({ "text/plain": "a" }) });
      display("b");
    });
    expect(out.outputs.map((o) => o.data!["text/plain"])).toEqual(["a", "b"]);
  });

  it("plotly.js: once for the session's page, and once more in an Output's state (widget front ends render it instead)", async () => {
    const host = new CaptureHost();
    setDisplayHost(host);
    display(plot.bar([1, 2]));
    display(plot.bar([3]));
    await host.queue.settled();
    const sizes = host.displays.map((d) => String(d.bundle["text/html"]).length);
    expect(sizes[0]).toBeGreaterThan(1_000_000);
    expect(sizes[1]).toBeLessThan(10_000);
    const out = new Output();
    await out.display(plot.bar([4]));
    await out.display(plot.bar([5]));
    expect(String(out.outputs[0].data!["text/html"]).length).toBeGreaterThan(1_000_000);
    expect(String(out.outputs[1].data!["text/html"]).length).toBeLessThan(10_000);
  });
});
