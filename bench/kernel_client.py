"""Kernel benchmark with Debian's jupyter_client. For one kernel:
- start-up: from starting the process until the first kernel_info_reply;
- first completion: a complete_request sent right after that reply (the kernel just started);
- first cell: executed right after the kernel is ready, as "Run All" sends it;
- round trip of `1 + 1` (request sent until both the execute_reply and the idle status are back);
- completion and inspection of each case, after a setup cell: the median round trip of the same
  request repeated ("repeated") and of requests whose cell text changes each time ("edited": a
  comment line with a counter above the code, as while typing).
Every wait is bounded (GRADBOOK_BENCH_KERNEL_TIMEOUT seconds, 120 by default): a kernel that does
not answer in time fails the step it was in, named with the kernel's last output, and is shut down.
usage: kernel_client.py KERNEL_NAME SPEC_JSON; SPEC has starts, executions, first, setup, cases
({name: code}; the cursor is at the end), requests, and startup_only (only the start-ups);
prints one JSON line: the figures, or {"kernel", "error"} when a step failed."""
import json
import os
import queue
import statistics
import sys
import tempfile
import time

from jupyter_client.manager import KernelManager

TIMEOUT = float(os.environ.get("GRADBOOK_BENCH_KERNEL_TIMEOUT", "120"))


class StepFailed(Exception):
    pass


class Run:
    """One kernel started, its output kept in a file, and the step it is in (for the error)."""

    def __init__(self, name):
        self.name = name
        self.step = "start-up (until the first kernel_info_reply)"
        self.log = tempfile.TemporaryFile()
        self.km = KernelManager(kernel_name=name)
        # (the kernelspec read before the clock starts: on a client's first start this also imports
        # most of jupyter_client, 0.1-0.4 s that are the client's, not the kernel's)
        self.km.kernel_spec
        self.t0 = time.perf_counter()
        self.km.start_kernel(stdout=self.log, stderr=self.log)
        self.kc = self.km.client()
        self.kc.start_channels()

    def fail(self, what):
        alive = self.km.is_alive()
        self.log.seek(0)
        tail = self.log.read().decode("utf8", "replace").strip().splitlines()[-5:]
        raise StepFailed(
            f"{self.name}: no {what} within {TIMEOUT:g} s, step: {self.step}; the kernel process is "
            + ("still running" if alive else f"gone (exit {self.km.provisioner.process.returncode if self.km.provisioner and self.km.provisioner.process else '?'})")
            + (f"; its last output: {' | '.join(tail)}" if tail else "; it wrote nothing")
        )

    def next_matching(self, get, match, what):
        """The next message from `get` (a channel's get_msg) that `match` accepts; earlier ones are skipped."""
        deadline = time.perf_counter() + TIMEOUT
        while True:
            try:
                m = get(timeout=max(0.01, deadline - time.perf_counter()))
            except queue.Empty:
                self.fail(what)
            if match(m):
                return m

    def shell_reply(self, msg_id, what):
        """The reply to request `msg_id` on shell."""
        return self.next_matching(self.kc.get_shell_msg, lambda r: r["parent_header"].get("msg_id") == msg_id, what)

    def idle(self, msg_id, what):
        """The idle status after request `msg_id` on iopub."""
        return self.next_matching(
            self.kc.get_iopub_msg,
            lambda m: m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "status" and m["content"]["execution_state"] == "idle",
            what,
        )

    def close(self, now=False):
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=now)
            self.log.close()


def reply_time(run, send, what):
    """Seconds from sending a shell request until its reply."""
    t = time.perf_counter()
    msg_id = send()
    r = run.shell_reply(msg_id, what)
    return time.perf_counter() - t, r["content"]


def run_cell(run, code):
    """Seconds from sending `code` until its reply and its idle status are back."""
    t = time.perf_counter()
    msg_id = run.kc.execute(code)
    reply = run.shell_reply(msg_id, "execute_reply")["content"]
    run.idle(msg_id, "idle status after the execute_reply")
    return time.perf_counter() - t, reply


def median_ms(xs):
    return statistics.median(xs) * 1000


def main():
    name = sys.argv[1]
    spec = json.loads(sys.argv[2])
    starts, n, requests = spec["starts"], spec["executions"], spec["requests"]
    cases = spec["cases"]
    first_case = next(iter(cases.values()))
    startups, firsts, first_completions = [], [], []
    out = {"kernel": name}
    for s in range(starts):
        run = Run(name)
        try:
            run.shell_reply(run.kc.kernel_info(), "kernel_info_reply")
            startups.append(time.perf_counter() - run.t0)
            if spec.get("startup_only"):
                run.step = "shutdown"
                run.close()
                continue
            run.step = "first completion"
            t, content = reply_time(run, lambda: run.kc.complete(first_case, len(first_case)), "complete_reply")
            first_completions.append(t)
            # (until iopub is connected: a kernel's first idle can otherwise go out before the client listens)
            run.step = "wait_for_ready"
            try:
                run.kc.wait_for_ready(timeout=TIMEOUT)
            except RuntimeError:
                run.fail("kernel_info_reply with iopub connected")
            run.step = "first cell"
            t, reply = run_cell(run, spec["first"])
            if reply["status"] != "ok":
                raise StepFailed(f"{name}: the first cell failed: {reply}")
            firsts.append(t)
            if s == starts - 1:
                run.step = "1 + 1 round trips"
                times = [run_cell(run, "1 + 1")[0] for _ in range(n + 10)][10:]  # after 10 for warm-up
                out["rtt_median_ms"] = median_ms(times)
                out["rtt_p90_ms"] = sorted(times)[int(0.9 * len(times))] * 1000
                run.step = "setup cell"
                _, reply = run_cell(run, spec["setup"])
                if reply["status"] != "ok":
                    raise StepFailed(f"{name}: the setup cell failed: {reply}")
                for kind, request in (("complete", run.kc.complete), ("inspect", run.kc.inspect)):
                    for case, code in cases.items():
                        run.step = f"{kind} {case}"
                        what = f"{kind}_reply"
                        reply_time(run, lambda: request(code, len(code)), what)  # warm
                        same = [reply_time(run, lambda: request(code, len(code)), what)[0] for _ in range(requests)]
                        edited = []
                        for i in range(requests):
                            text = f"// {kind} {i}\n{code}"
                            edited.append(reply_time(run, lambda: request(text, len(text)), what)[0])
                        _, content = reply_time(run, lambda: request(code, len(code)), what)
                        found = content.get("matches", [])[:5] if kind == "complete" else content.get("found")
                        out.setdefault(kind, {})[case] = {"repeated_ms": median_ms(same), "edited_ms": median_ms(edited), "answer": found}
            run.step = "shutdown"
            run.close()
        except StepFailed as e:
            # (a kernel left running would keep our stdout open, and the bench would wait on it)
            run.close(now=True)
            print(json.dumps({"kernel": name, "error": f"{e} (start {s + 1} of {starts})"}))
            return
        except BaseException:
            run.close(now=True)
            raise
    if spec.get("startup_only"):
        print(json.dumps({"kernel": name, "startup_s": statistics.median(startups), "startups_s": startups}))
        return
    out.update(
        startup_s=statistics.median(startups),
        startups_s=startups,
        first_cell_s=statistics.median(firsts),
        first_cells_s=firsts,
        first_complete_ms=median_ms(first_completions),
        first_completes_ms=[t * 1000 for t in first_completions],
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
