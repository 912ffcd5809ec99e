"""PyTorch CUDA reference for `npm run bench -- --gpu` (TF32 off: plain fp32).
Prints one JSON object: {"cuda": false, ...} when CUDA is not available.
Usage: python3 bench/torch_gpu.py   (the python that has a CUDA build of torch; set GB_TORCH_PYTHON)"""
import json, time
import torch
import torch.nn as nn
import torch.nn.functional as F

out = {"torch": torch.__version__, "cuda": torch.cuda.is_available()}
if not out["cuda"]:
    print(json.dumps(out))
    raise SystemExit(0)
# TF32 off (plain fp32): PyTorch 2.9+ has fp32_precision settings (the allow_tf32 flags are deprecated
# there); older versions only the flags. Set both where they exist and record what was in force.
if hasattr(torch.backends, "fp32_precision"):
    torch.backends.fp32_precision = "ieee"
    torch.backends.cuda.matmul.fp32_precision = "ieee"
    torch.backends.cudnn.fp32_precision = "ieee"
    torch.backends.cudnn.conv.fp32_precision = "ieee"
    out["fp32_precision"] = {"matmul": torch.backends.cuda.matmul.fp32_precision, "conv": torch.backends.cudnn.conv.fp32_precision}
else:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    out["fp32_precision"] = {"matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32, "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32}
dev = "cuda"
out["device"] = torch.cuda.get_device_name(0)
torch.manual_seed(0)

def timed(fn, reps):
    fn(); torch.cuda.synchronize()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best

for n in (1024, 2048, 4096):
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    t = timed(lambda: a @ b, 20 if n < 4096 else 10)
    out[f"matmul{n}_tflops"] = 2 * n ** 3 / t / 1e12

def lenet():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),
                         nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10)).to(dev)

def train_step_fn(model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step

for batch in (64, 256, 1024):
    m = lenet()
    x, y = torch.rand(batch, 1, 28, 28, device=dev), torch.randint(0, 10, (batch,), device=dev)
    t = timed(train_step_fn(m, x, y), 20)
    out[f"lenet{batch}_images_per_s"] = batch / t

def alexnet():
    # torchvision.models.alexnet's layers
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.AdaptiveAvgPool2d((6, 6)), nn.Flatten(),
        nn.Dropout(), nn.Linear(256 * 36, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000)).to(dev)

m = alexnet()
x, y = torch.rand(128, 3, 224, 224, device=dev), torch.randint(0, 1000, (128,), device=dev)
with torch.no_grad():
    t = timed(lambda: m(x), 5)
out["alexnet128_forward_images_per_s"] = 128 / t
t = timed(train_step_fn(m, x, y), 5)
out["alexnet128_train_images_per_s"] = 128 / t
print(json.dumps(out))
