"""Kernel benchmark with Debian's jupyter_client: start-up until the first
kernel_info_reply, the first cell right after it (as "Run All" sends it: for
gradbook it waits for the type checker's cold start), and the round trip of
executing `1 + 1` (request sent until both the execute_reply and the idle
status are back).
usage: kernel_client.py KERNEL_NAME [STARTS] [EXECUTIONS] [FIRST_CELL]; prints one JSON line."""
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
        r = kc.get_shell_msg(timeout=60)
        if r["parent_header"].get("msg_id") == msg_id:
            break
    startup = time.perf_counter() - t0
    return km, kc, startup


def run_cell(kc, code):
    """Seconds from sending `code` until its reply and its idle status are back."""
    t = time.perf_counter()
    msg_id = kc.execute(code)
    got_reply = got_idle = False
    while not got_reply:
        r = kc.get_shell_msg(timeout=60)
        got_reply = r["parent_header"].get("msg_id") == msg_id
    while not got_idle:
        m = kc.get_iopub_msg(timeout=60)
        got_idle = (
            m["parent_header"].get("msg_id") == msg_id
            and m["msg_type"] == "status"
            and m["content"]["execution_state"] == "idle"
        )
    return time.perf_counter() - t


def round_trips(kc, n):
    times = [run_cell(kc, "1 + 1") for _ in range(n + 10)]
    return times[10:]  # after 10 for warm-up


def main():
    name = sys.argv[1]
    starts = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    first = sys.argv[4] if len(sys.argv) > 4 else "1 + 1"
    startups = []
    firsts = []
    times = []
    for s in range(starts):
        km, kc, startup = start_once(name)
        startups.append(startup)
        # (until iopub is connected: a kernel's first idle can otherwise go out before the client listens)
        kc.wait_for_ready(timeout=60)
        firsts.append(run_cell(kc, first))
        if s == starts - 1:
            times = round_trips(kc, n)
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    print(json.dumps({
        "kernel": name,
        "startup_s": statistics.median(startups),
        "startups_s": startups,
        "first_cell_s": statistics.median(firsts),
        "rtt_median_ms": statistics.median(times) * 1000,
        "rtt_p90_ms": sorted(times)[int(0.9 * len(times))] * 1000,
        "executions": len(times),
    }))


if __name__ == "__main__":
    main()
