"""PyTorch CPU reference for `npm run bench -- --engine`: matmul 512/1024 and a LeNet-5 training
step, served in rounds so that the bench can interleave them with gradbook's (the VM's speed moves
between seconds; ratios of rounds measured side by side do not).

    /usr/bin/python3 bench/torch_cpu.py THREADS [tanh|relu] [avg|max] [WARMUP_STEPS] [MATMUL_WARMUP]

Prints one line `torch-serve {...}` when ready (after the warm-up steps), then answers each line of
stdin: `{"op": "lenet"}` (5 steps) or `{"op": "matmul"}` (512 x10, 1024 x4) times them once (per
call: wall seconds, and the process's CPU seconds over the calls, all threads) and reports `idleCpu`, the CPU the process used between its last answer
and this command (threads still spinning after the last call: charged to the round before);
`{"op": "idle"}` reports only that; `{"op": "quit"}` ends it. Run with Debian's /usr/bin/python3 (python3-torch)."""
import json, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
act = sys.argv[2] if len(sys.argv) > 2 else "tanh"
pool = sys.argv[3] if len(sys.argv) > 3 else "avg"
warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 3
mm_warmup = int(sys.argv[5]) if len(sys.argv) > 5 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)

def reply(obj):
    print("torch-serve " + json.dumps(obj), flush=True)

def timed(fn, reps):
    """Per call: wall seconds and process CPU seconds over `reps` calls."""
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps):
        fn()
    return {"wall": (time.perf_counter() - t0) / reps, "cpu": (time.process_time() - c0) / reps}

mats = {n: (torch.randn(n, n), torch.randn(n, n)) for n in (512, 1024)}
# the matmuls' warm-up (MATMUL_WARMUP calls of each, as gradbook's: bench/engine.ts), before the LeNet-5's
mm_warm = {"matmul%d" % n: timed(lambda: a @ b, mm_warmup) for n, (a, b) in mats.items()}

# which BLAS the matmuls ran on: Debian's torch links libblas.so.3, which is OpenBLAS only when
# libopenblas0 is installed (else the reference BLAS, ~20x slower)
try:
    with open("/proc/self/maps") as f:
        libs = {l.split()[-1] for l in f if "blas" in l.lower() and ".so" in l}
    blas = ", ".join(sorted(libs)) or "unknown"
except OSError:
    blas = "unknown"

def lenet():
    A = nn.Tanh if act == "tanh" else nn.ReLU
    P = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), A(), P(2), nn.Conv2d(6, 16, 5), A(), P(2), nn.Flatten(),
                         nn.Linear(400, 120), A(), nn.Linear(120, 84), A(), nn.Linear(84, 10))

model = lenet()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
batch = 256
x, y = torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
def step():
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()

reply({"ready": True, "threads": threads, "torch": torch.__version__, "blas": blas, "warmup": timed(step, warmup), "matmulWarmup": mm_warm})
last = time.process_time()
for line in sys.stdin:
    cmd = json.loads(line)
    idle = time.process_time() - last
    if cmd.get("op") == "quit":
        break
    out = {"idleCpu": idle}
    if cmd.get("op") == "idle":
        reply(out)
        last = time.process_time()
        continue
    if cmd.get("op") == "lenet":
        out["lenet"] = timed(step, 5)
    elif cmd.get("op") == "matmul":
        for n, (a, b) in mats.items():
            out["matmul%d" % n] = timed(lambda: a @ b, 10 if n == 512 else 4)
    else:
        raise SystemExit("torch_cpu.py: unknown command %r" % line)
    reply(out)
    last = time.process_time()
