/** Lazy access to the TypeScript compiler API (its load costs ~250 ms: never at start-up). */
import type * as TS from "typescript";

let mod: typeof TS | null = null;
export function ts(): typeof TS {
  return (mod ??= require("typescript"));
}
