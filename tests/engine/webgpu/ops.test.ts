// The engine's op cases and their PyTorch reference on the WebGPU backend (reference-suites.ts).
import { afterAll, beforeAll, describe } from "vitest";
import * as gb from "../../../engine/index.ts";
import { startGpu } from "./gpu.ts";
import { opReferenceTests } from "./reference-suites.ts";

const hasGpu = await startGpu();

describe.skipIf(!hasGpu)("ops vs PyTorch on WebGPU", { timeout: 300_000 }, () => {
  beforeAll(() => gb.setDefaultDevice("gpu"));
  afterAll(() => gb.releaseGpu());
  opReferenceTests();
});
