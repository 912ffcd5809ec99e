/**
 * Jupyter wire protocol (messaging spec 5.3): framing, HMAC signing and
 * verification. Pure functions, no sockets, no knowledge of any language.
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";

export const PROTOCOL_VERSION = "5.3";
const DELIM = "<IDS|MSG>";

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
  [k: string]: unknown;
}

export interface Message {
  identities: Buffer[];
  header: Header;
  parent_header: Partial<Header>;
  metadata: Record<string, unknown>;
  content: Record<string, any>;
  buffers: Buffer[];
}

export interface ConnectionInfo {
  transport: string;
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
  kernel_name?: string;
}

export class WireError extends Error {}

export class Signer {
  private algo: string | null;
  constructor(private key: string, scheme = "hmac-sha256") {
    if (!key) this.algo = null;
    else {
      const m = /^hmac-(.+)$/.exec(scheme);
      if (!m) throw new WireError(`unsupported signature scheme ${scheme}`);
      this.algo = m[1];
    }
  }
  sign(parts: (Buffer | string)[]): string {
    if (!this.algo) return "";
    const h = createHmac(this.algo, this.key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }
  verify(signature: string, parts: Buffer[]): boolean {
    if (!this.algo) return true;
    const expected = Buffer.from(this.sign(parts), "utf8");
    const got = Buffer.from(signature, "utf8");
    return got.length === expected.length && timingSafeEqual(got, expected);
  }
}

/** Parses raw ZeroMQ frames into a message; throws WireError on malformed or badly signed input. */
export function parseFrames(frames: Buffer[], signer: Signer): Message {
  const i = frames.findIndex((f) => f.length === DELIM.length && f.toString("utf8") === DELIM);
  if (i < 0) throw new WireError("no <IDS|MSG> delimiter");
  if (frames.length < i + 6) throw new WireError(`too few frames (${frames.length - i - 1} after delimiter)`);
  const signature = frames[i + 1].toString("utf8");
  const parts = frames.slice(i + 2, i + 6);
  if (!signer.verify(signature, parts)) throw new WireError("invalid HMAC signature");
  let header: any, parent: any, metadata: any, content: any;
  try {
    [header, parent, metadata, content] = parts.map((p) => JSON.parse(p.toString("utf8")));
  } catch (e) {
    throw new WireError(`invalid JSON: ${(e as Error).message}`);
  }
  if (!header || typeof header !== "object" || typeof header.msg_type !== "string" || typeof header.msg_id !== "string")
    throw new WireError("header without msg_type/msg_id");
  return {
    identities: frames.slice(0, i),
    header,
    parent_header: parent && typeof parent === "object" ? parent : {},
    metadata: metadata && typeof metadata === "object" ? metadata : {},
    content: content && typeof content === "object" ? content : {},
    buffers: frames.slice(i + 6),
  };
}

export function makeHeader(msgType: string, session: string, username = "kernel"): Header {
  return { msg_id: randomUUID(), session, username, date: new Date().toISOString(), msg_type: msgType, version: PROTOCOL_VERSION };
}

export function serialize(
  signer: Signer,
  identities: Buffer[],
  header: Header,
  parent: unknown,
  metadata: unknown,
  content: unknown,
  buffers: (Buffer | Uint8Array)[] = [],
): (Buffer | Uint8Array)[] {
  const parts = [header, parent ?? {}, metadata ?? {}, content ?? {}].map((x) => Buffer.from(JSON.stringify(x), "utf8"));
  return [...identities, Buffer.from(DELIM), Buffer.from(signer.sign(parts)), ...parts, ...buffers];
}
