"""Kernel benchmark with Debian's jupyter_client. For one kernel:
- start-up: from starting the process until the first kernel_info_reply;
- first completion: a complete_request sent right after that reply (the kernel just started);
- first cell: executed right after the kernel is ready, as "Run All" sends it;
- round trip of `1 + 1` (request sent until both the execute_reply and the idle status are back);
- completion and inspection of each case, after a setup cell: the median round trip of the same
  request repeated ("repeated") and of requests whose cell text changes each time ("edited": a
  comment line with a counter above the code, as while typing).
usage: kernel_client.py KERNEL_NAME SPEC_JSON; SPEC has starts, executions, first, setup, cases
({name: code}; the cursor is at the end), requests; prints one JSON line."""
import json
import statistics
import sys
import time

from jupyter_client.manager import KernelManager


def start_once(name):
    km = KernelManager(kernel_name=name)
    t0 = time.perf_counter()
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    msg_id = kc.kernel_info()
    while True:
        r = kc.get_shell_msg(timeout=300)
        if r["parent_header"].get("msg_id") == msg_id:
            break
    return km, kc, time.perf_counter() - t0


def reply_time(kc, send):
    """Seconds from sending a shell request until its reply."""
    t = time.perf_counter()
    msg_id = send()
    while True:
        r = kc.get_shell_msg(timeout=300)
        if r["parent_header"].get("msg_id") == msg_id:
            return time.perf_counter() - t, r["content"]


def run_cell(kc, code):
    """Seconds from sending `code` until its reply and its idle status are back."""
    t = time.perf_counter()
    msg_id = kc.execute(code)
    got_reply = got_idle = False
    reply = None
    while not got_reply:
        r = kc.get_shell_msg(timeout=300)
        got_reply = r["parent_header"].get("msg_id") == msg_id
        reply = r["content"]
    while not got_idle:
        m = kc.get_iopub_msg(timeout=300)
        got_idle = (
            m["parent_header"].get("msg_id") == msg_id
            and m["msg_type"] == "status"
            and m["content"]["execution_state"] == "idle"
        )
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
        km, kc, startup = start_once(name)
        try:
            startups.append(startup)
            t, content = reply_time(kc, lambda: kc.complete(first_case, len(first_case)))
            first_completions.append(t)
            # (until iopub is connected: a kernel's first idle can otherwise go out before the client listens)
            kc.wait_for_ready(timeout=300)
            t, reply = run_cell(kc, spec["first"])
            if reply["status"] != "ok":
                raise SystemExit(f"{name}: the first cell failed: {reply}")
            firsts.append(t)
            if s == starts - 1:
                times = [run_cell(kc, "1 + 1")[0] for _ in range(n + 10)][10:]  # after 10 for warm-up
                out["rtt_median_ms"] = median_ms(times)
                out["rtt_p90_ms"] = sorted(times)[int(0.9 * len(times))] * 1000
                _, reply = run_cell(kc, spec["setup"])
                if reply["status"] != "ok":
                    raise SystemExit(f"{name}: the setup cell failed: {reply}")
                for kind, request in (("complete", kc.complete), ("inspect", kc.inspect)):
                    for case, code in cases.items():
                        reply_time(kc, lambda: request(code, len(code)))  # warm
                        same = [reply_time(kc, lambda: request(code, len(code)))[0] for _ in range(requests)]
                        edited = []
                        for i in range(requests):
                            text = f"// {kind} {i}\n{code}"
                            edited.append(reply_time(kc, lambda: request(text, len(text)))[0])
                        _, content = reply_time(kc, lambda: request(code, len(code)))
                        found = content.get("matches", [])[:5] if kind == "complete" else content.get("found")
                        out.setdefault(kind, {})[case] = {"repeated_ms": median_ms(same), "edited_ms": median_ms(edited), "answer": found}
            kc.stop_channels()
            km.shutdown_kernel(now=False)
        except BaseException:
            # (a kernel left running would keep our stdout open, and the bench would wait on it)
            km.shutdown_kernel(now=True)
            raise
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
