// gb.nn.functional's PyTorch reference cases on the WebGPU backend (reference-suites.ts).
import { afterAll, beforeAll, describe } from "vitest";
import * as gb from "../../../engine/index.ts";
import { startGpu } from "./gpu.ts";
import { nnReferenceTests } from "./reference-suites.ts";

const hasGpu = await startGpu();

describe.skipIf(!hasGpu)("nn.functional vs PyTorch on WebGPU", { timeout: 300_000 }, () => {
  beforeAll(() => gb.setDefaultDevice("gpu"));
  afterAll(() => gb.releaseGpu());
  nnReferenceTests();
});
