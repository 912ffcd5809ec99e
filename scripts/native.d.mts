// Types of scripts/native.mjs (the native kernels' build) for the TypeScript that imports it.
export declare const NATIVE_SRC: string;
export declare const NATIVE_LIB: string;
export declare const NATIVE_PACKAGES: string[];
export declare function nodeHeaders(): string | null;
export declare function buildNative(opts?: { optional?: boolean; quiet?: boolean }): string | null;
