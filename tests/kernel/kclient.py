"""A small driver over Debian's jupyter_client for the kernel tests: each
test script imports it, runs a scenario and prints one JSON line."""
import json
import os
import sys
import time
from queue import Empty

from jupyter_client.manager import start_new_kernel

TIMEOUT = 60


class Driver:
    def __init__(self, kernel_name="gradbook", cwd=None):
        self.km, self.kc = start_new_kernel(kernel_name=kernel_name, cwd=cwd or os.getcwd())
        self.pending = {}

    def collect(self, msg_id, timeout=TIMEOUT):
        """Iopub messages for msg_id until idle (status and execute_input left out)."""
        out = []
        deadline = time.time() + timeout
        while True:
            m = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            t = m["msg_type"]
            if t == "status":
                if m["content"]["execution_state"] == "idle":
                    return out
                continue
            if t == "execute_input":
                continue
            out.append({"type": t, "content": m["content"]})

    def reply(self, msg_id, timeout=TIMEOUT):
        """The shell reply to msg_id; replies to other requests are kept for later."""
        if msg_id in self.pending:
            return self.pending.pop(msg_id)
        deadline = time.time() + timeout
        while True:
            r = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.time()))
            if r["parent_header"].get("msg_id") == msg_id:
                return r
            self.pending[r["parent_header"].get("msg_id")] = r

    def execute(self, code, timeout=TIMEOUT, **kw):
        msg_id = self.kc.execute(code, **kw)
        r = self.reply(msg_id, timeout)
        out = self.collect(msg_id, timeout)
        return {"reply": r["content"], "outputs": out}

    def text(self, result):
        """All stream text and text/plain of the outputs, joined."""
        parts = []
        for o in result["outputs"]:
            c = o["content"]
            if o["type"] == "stream":
                parts.append(c["text"])
            elif "data" in c:
                parts.append(str(c["data"].get("text/plain", "")))
            elif o["type"] == "error":
                parts.append("\n".join(c["traceback"]))
        return "".join(parts)

    def close(self):
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=False)


def emit(obj):
    sys.stdout.write("RESULT " + json.dumps(obj) + "\n")
    sys.stdout.flush()
