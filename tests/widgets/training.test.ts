import { afterEach, describe, expect, it } from "vitest";
import { setDisplayHost, setPrintFallback, trainingView } from "../../widgets/index.js";
import { CaptureHost } from "./capture-host.js";

afterEach(() => {
  setDisplayHost(null);
  setPrintFallback((t) => console.log(t));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("training view", () => {
  it("shows itself, updates in place (throttled) through the display id, renders a final state on close", async () => {
    const host = new CaptureHost();
    setDisplayHost(host);
    const view = trainingView({ epochs: 2, batchesPerEpoch: 4, throttleMs: 30 });
    expect(host.displays).toHaveLength(1);
    expect(host.displays[0].options.update).toBeFalsy();
    const id = host.displays[0].options.displayId;
    expect(id).toBe(view.displayId);
    for (let epoch = 0; epoch < 2; epoch++) {
      for (let b = 0; b < 4; b++) {
        view.update({ epoch, batch: b, trainLoss: 1 / (1 + epoch * 4 + b), trainAcc: 0.5 + 0.05 * (epoch * 4 + b), samples: 32 });
        view.update({ epoch, batch: b, trainLoss: 1 / (1 + epoch * 4 + b) }); // a burst: throttled
        await sleep(35);
      }
      view.update({ epoch, valLoss: 0.8 - 0.1 * epoch, valAcc: 0.6 + 0.1 * epoch });
    }
    const beforeClose = host.displays.length;
    // at most one render per update burst (throttle), at least a few
    expect(beforeClose).toBeGreaterThan(3);
    expect(beforeClose).toBeLessThanOrEqual(1 + 8 + 2);
    await view.close();
    expect(host.displays.length).toBe(beforeClose + 1);
    for (const d of host.displays.slice(1)) {
      expect(d.options).toMatchObject({ displayId: id, update: true });
    }
    const last = host.displays.at(-1)!.bundle;
    expect(Object.keys(last).sort()).toEqual(["text/html", "text/plain"]);
    const html = last["text/html"] as string;
    expect(html).toContain('data-progress="100"');
    expect(html).toContain('<progress class="gb-progress" value="100" max="100"');
    expect(html).toContain('data-metric="loss"');
    expect(html).toContain('data-metric="accuracy"');
    expect(html).toContain("samples/s");
    expect(html).toContain("epoch 2/2");
    expect(html).toContain("batch 4/4");
    expect((html.match(/class="gb-series"/g) ?? []).length).toBe(4); // train+val loss, train+val accuracy
    expect(last["text/plain"]).toContain("100%");
    expect(last["text/plain"]).toContain("val loss 0.7");
    // progress in earlier renders was lower
    const first = host.displays[1].bundle["text/html"] as string;
    const p = Number(/data-progress="([\d.]+)"/.exec(first)![1]);
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(100);
    expect(() => view.update({ epoch: 0 })).toThrow(/trainingView.update: the view is closed/);
  });

  it("progress, throughput and time left", () => {
    const host = new CaptureHost();
    setDisplayHost(host);
    const view = trainingView({ epochs: 4, batchesPerEpoch: 10, throttleMs: 1e9 });
    view.update({ epoch: 1, batch: 4, trainLoss: 1 });
    expect(view.progress()).toBeCloseTo(15 / 40, 10);
    const s = view.status();
    expect(s.epoch).toBe("epoch 2/4");
    expect(s.batch).toBe("batch 5/10");
    expect(s.throughput).toMatch(/batches\/s$/);
    expect(s.left).toMatch(/^\d\d:\d\d$/);
  });

  it("without a host: one-line progress on stdout", async () => {
    const lines: string[] = [];
    setPrintFallback((t) => lines.push(t));
    const view = trainingView({ epochs: 1, batchesPerEpoch: 2 });
    view.update({ epoch: 0, batch: 0, trainLoss: 0.9 });
    view.update({ epoch: 0, batch: 1, trainLoss: 0.7 });
    await view.close();
    expect(lines.length).toBe(2);
    expect(lines.at(-1)).toMatch(/100% · epoch 1\/1 · batch 2\/2 · .* · train loss 0\.7/);
    expect(lines.at(-1)!.includes("\n")).toBe(false);
  });

  it("bad arguments", () => {
    expect(() => trainingView({ epochs: 0 })).toThrow(/trainingView: epochs must be a positive number, got 0/);
  });
});
