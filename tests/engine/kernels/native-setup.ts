// What the native kernels' test files share (native.test.ts, native-conv.test.ts).
import { spawnSync } from "node:child_process";
import { buildNative, NATIVE_PACKAGES } from "../../../scripts/native.mjs";

/**
 * Builds dist/gb-native.node where a source is newer (npm run build made it). No silent skip:
 * without gcc this throws and names the Debian packages to install.
 */
export function buildNativeOrFail(): void {
  try {
    buildNative({ quiet: true });
  } catch (e) {
    throw new Error(`the native kernels did not build on this machine (they need the Debian packages ${NATIVE_PACKAGES.join(" ")}): ${String(e)}`);
  }
}

/**
 * Runs the tests of `file` named by `filter` in a vitest of their own on the AVX2 + FMA kernels
 * (GB_CPU_NATIVE_ISA=avx2: on an AVX-512 machine too); its exit status, standard output and error,
 * colours removed.
 */
export function vitestOnAvx2(file: string, filter: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["node_modules/vitest/vitest.mjs", "run", file, "-t", filter], {
    env: { ...process.env, GB_CPU_NATIVE_ISA: "avx2" },
    encoding: "utf8",
    timeout: 120_000,
  });
  // eslint-disable-next-line no-control-regex
  const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
  return { status: r.status, stdout: plain(r.stdout), stderr: plain(r.stderr) };
}
