/**
 * The protocol worker's first task: zeromq's five sockets, bound. protocol/thread.ts runs this
 * before the server's own modules load (signing, the memory guard, the inspector: Node's crypto
 * module alone took 4-10 ms of the worker's start), since a client that finds the shell port
 * closed tries again only 100-200 ms later (kernel/README.md, Start-up).
 */
import type * as Zmq from "zeromq";
import type { ConnectionInfo } from "./wire.ts";

export interface BoundSockets {
  shell: Zmq.Router;
  control: Zmq.Router;
  stdin: Zmq.Router;
  iopub: Zmq.Publisher;
  hb: Zmq.Router;
}

export async function bindSockets(c: ConnectionInfo): Promise<BoundSockets> {
  const zmq: typeof Zmq = require("zeromq");
  const addr = (p: number) => (c.transport === "ipc" ? `ipc://${c.ip}-${p}` : `${c.transport || "tcp"}://${c.ip}:${p}`);
  const s: BoundSockets = {
    shell: new zmq.Router({ linger: 0 }),
    control: new zmq.Router({ linger: 0 }),
    stdin: new zmq.Router({ linger: 0 }),
    iopub: new zmq.Publisher({ linger: 0 }),
    hb: new zmq.Router({ linger: 0 }),
  };
  await Promise.all([
    s.shell.bind(addr(c.shell_port)),
    s.control.bind(addr(c.control_port)),
    s.stdin.bind(addr(c.stdin_port)),
    s.iopub.bind(addr(c.iopub_port)),
    s.hb.bind(addr(c.hb_port)),
  ]);
  return s;
}
