/**
 * Loaded into tslab's kernel by `npm run bench -- --kernel` (its kernelspec's env:
 * NODE_OPTIONS=--require this file): each zeromq socket's sends wait for the previous send.
 *
 * Why: tslab 1.0.22 does not await its sends (`sock.send(...)` in ZmqMessage.signAndSend), and
 * sends two or three messages in one turn of the event loop (status busy, the reply, status
 * idle). zeromq.js 6 sends synchronously, except that after 512 synchronous operations on a
 * socket it delays the next one to the loop's check phase (so as not to starve the loop); a send
 * on that socket before then throws EBUSY ("Socket is busy writing"). tslab then loses that
 * message (and, where it was the request's first send, the rest of the request: no reply ever
 * comes), and the error it logs goes to iopub through the same socket, fails the same way and
 * is swallowed by console.error: nothing anywhere says so. That is the hang the bench met
 * (BENCHMARKS.md, kernel). Sending one message at a time per socket is what zeromq 6 asks of
 * its users (gradbook's protocol server does it: `Sender` in kernel/protocol/server.ts); this
 * changes nothing else in tslab.
 */
"use strict";
const { dirname } = require("node:path");

// the zeromq that tslab will load (resolved from its bin/ folder, as its own require does)
const zmq = require(require.resolve("zeromq", { paths: [dirname(process.argv[1] ?? ".")] }));
const tail = new WeakMap();
const ignore = () => {};
for (const Socket of [zmq.Publisher, zmq.Router, zmq.Reply, zmq.Dealer]) {
  const send = Socket.prototype.send;
  Object.defineProperty(Socket.prototype, "send", {
    configurable: true,
    writable: true,
    value: function sendInTurn(message) {
      const before = tail.get(this);
      const sent = before ? before.then(() => send.call(this, message)) : send.call(this, message);
      const settled = sent.then(ignore, ignore);
      tail.set(this, settled);
      settled.then(() => tail.get(this) === settled && tail.delete(this));
      return sent;
    },
  });
}
