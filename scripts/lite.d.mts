// Types of scripts/lite.mjs for the TypeScript that imports it (tests, the benchmark).
import type { Server } from "node:http";

export declare const LITE_SITE: string;
export declare function buildLite(options?: { force?: boolean; dev?: boolean; instructor?: boolean; quiet?: boolean }): Promise<{ built: boolean; hash: string; info: Record<string, unknown> }>;
export declare function serveSite(options?: { dir?: string; host?: string; port?: number; isolation?: boolean }): Promise<{ server: Server; url: string }>;
