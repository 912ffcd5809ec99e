"""PyTorch CPU reference for `npm run bench`: matmul GFLOP/s and a LeNet-5 training step.
Prints one JSON object. Run with Debian's /usr/bin/python3 (python3-torch)."""
import json, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)
out = {"threads": threads, "torch": torch.__version__}

def best_of(fn, reps, rounds=3):
    """Best per-call time over `rounds`, as (wall seconds, process CPU seconds)."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps)
        best_cpu = min(best_cpu, (time.process_time() - c0) / reps)
    return best, best_cpu

for n in (512, 1024):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t, c = best_of(lambda: a @ b, 10 if n == 512 else 4)
    out[f"matmul{n}_gflops"] = 2 * n ** 3 / t / 1e9
    out[f"matmul{n}_gflops_cpu"] = 2 * n ** 3 / c / 1e9

# which BLAS the matmuls ran on: Debian's torch links libblas.so.3, which is OpenBLAS only when
# libopenblas0 is installed (else the reference BLAS, ~20x slower)
try:
    with open("/proc/self/maps") as f:
        libs = {l.split()[-1] for l in f if "blas" in l.lower() and ".so" in l}
    out["blas"] = ", ".join(sorted(libs)) or "unknown"
except OSError:
    out["blas"] = "unknown"

def lenet(act="tanh", pool="avg"):
    A = nn.Tanh if act == "tanh" else nn.ReLU
    P = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), A(), P(2), nn.Conv2d(6, 16, 5), A(), P(2), nn.Flatten(),
                         nn.Linear(400, 120), A(), nn.Linear(120, 84), A(), nn.Linear(84, 10))

act = sys.argv[2] if len(sys.argv) > 2 else "tanh"
pool = sys.argv[3] if len(sys.argv) > 3 else "avg"
model = lenet(act, pool)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
batch = 256
x, y = torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
def step():
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 3
for _ in range(warmup):
    step()
t, c = best_of(step, 10)
out["lenet_step_ms"] = t * 1e3
out["lenet_images_per_s"] = batch / t
out["lenet_images_per_s_cpu"] = batch / c
print(json.dumps(out))
