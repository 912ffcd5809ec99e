"""Reference values for the widget tests, computed with PyTorch (Debian's python3-torch).

Run with Debian's Python:  /usr/bin/python3 tests/widgets/make_reference.py
Writes tests/widgets/reference.json.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
ref = {}

# --- convolution arithmetic: output sizes from real conv2d calls -------------------------
cases = []
guide = [  # Dumoulin & Visin's cases (as in widgets/conv.ts CONV_GUIDE_CASES)
    (4, 3, 1, 0, 1), (5, 4, 1, 2, 1), (5, 3, 1, 1, 1), (5, 3, 1, 2, 1),
    (5, 3, 2, 0, 1), (5, 3, 2, 1, 1), (6, 3, 2, 1, 1), (7, 3, 1, 0, 2),
]
grid = []
for i in (5, 6, 7, 8):
    for k in (1, 2, 3):
        for s in (1, 2, 3):
            for p in (0, 1, 2):
                for d in (1, 2, 3):
                    if i + 2 * p >= d * (k - 1) + 1:
                        grid.append((i, k, s, p, d))
for (i, k, s, p, d) in guide + grid:
    out = F.conv2d(torch.zeros(1, 1, i, i), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
    cases.append({"input": i, "kernel": k, "stride": s, "padding": p, "dilation": d, "output": list(out.shape[2:])})
# a non-square case
out = F.conv2d(torch.zeros(1, 1, 7, 5), torch.zeros(1, 1, 3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
cases.append({"input": [7, 5], "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0], "dilation": [1, 2], "output": list(out.shape[2:])})
ref["conv"] = cases

# --- activation functions and derivatives (autograd) on 20 points in [-5, 5] --------------
x0 = torch.linspace(-5, 5, 20, dtype=torch.float64).float()
acts = {
    "relu": F.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softplus": F.softplus,
    "leakyRelu": lambda x: F.leaky_relu(x, 0.1),
    "elu": F.elu,
    "gelu": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "relu6": F.relu6,
    "hardtanh": F.hardtanh,
    "logsigmoid": F.logsigmoid,
}
ra = {"x": x0.tolist(), "curves": {}}
for name, f in acts.items():
    x = x0.clone().requires_grad_(True)
    y = f(x)
    (g,) = torch.autograd.grad(y.sum(), [x])
    ra["curves"][name] = {"y": y.tolist(), "dy": g.tolist()}
ref["activations"] = ra

# --- confusion matrix ----------------------------------------------------------------------
C = 4
targets = torch.randint(0, C, (60,))
logits = torch.randn(60, C)
preds = logits.argmax(1)
counts = torch.bincount(targets * C + preds, minlength=C * C).reshape(C, C)
ref["confusion"] = {"logits": logits.tolist(), "targets": targets.tolist(), "counts": counts.tolist()}

# --- decision boundaries -------------------------------------------------------------------
R = 25
xs = torch.linspace(-1.5, 2.5, R)
ys = torch.linspace(-1.25, 2.25, R)
gy, gx = torch.meshgrid(ys, xs, indexing="ij")
pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
w = torch.tensor([1.3, 0.7])
b = torch.tensor(-1.1)
score = pts @ w + b
ref["perceptron"] = {
    "w": w.tolist(), "b": b.item(), "range": [[-1.5, 2.5], [-1.25, 2.25]], "resolution": R,
    "classes": (score > 0).long().reshape(R, R).tolist(),
}
mlp = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1), torch.nn.Sigmoid())
with torch.no_grad():
    # weights that solve XOR (rounded so the TS side gets the same numbers)
    mlp[0].weight.copy_(torch.tensor([[4.1, 4.2], [-3.9, -4.3], [3.7, -3.6], [-3.8, 3.9]]))
    mlp[0].bias.copy_(torch.tensor([-6.1, 1.9, -1.7, -1.8]))
    mlp[2].weight.copy_(torch.tensor([[-5.2, -5.1, 4.9, 5.3]]))
    mlp[2].bias.copy_(torch.tensor([-0.3]))
    prob = mlp(pts).reshape(R, R)
ref["xor_mlp"] = {
    "state": {k: v.tolist() for k, v in mlp.state_dict().items()},
    "range": [[-1.5, 2.5], [-1.25, 2.25]], "resolution": R,
    "prob": prob.tolist(), "classes": (prob > 0.5).long().tolist(),
    "X": [[0, 0], [0, 1], [1, 0], [1, 1]], "y": [0, 1, 1, 0],
    "data_classes": (mlp(torch.tensor([[0., 0], [0, 1], [1, 0], [1, 1]])) > 0.5).long().reshape(-1).tolist(),
}

# --- parameter counts ----------------------------------------------------------------------
def count(m):
    return sum(p.numel() for p in m.parameters())

ref["params"] = {
    "mlp_2_4_1": count(torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))),
    "mlp_784_128_64_10": count(torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))),
}

# --- autograd graph: micrograd's example L = (a*b + c) * f ----------------------------------
a = torch.tensor(2.0, requires_grad=True)
bb = torch.tensor(-3.0, requires_grad=True)
c = torch.tensor(10.0, requires_grad=True)
f = torch.tensor(-2.0, requires_grad=True)
e = a * bb
d = e + c
L = d * f
for t in (e, d, L):
    t.retain_grad()
L.backward()
ref["graph"] = {"a": 2.0, "b": -3.0, "c": 10.0, "f": -2.0, "L": L.item(),
                "grads": {"a": a.grad.item(), "b": bb.grad.item(), "c": c.grad.item(), "f": f.grad.item(),
                          "e": e.grad.item(), "d": d.grad.item(), "L": L.grad.item()}}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
with open(out, "w") as fh:
    json.dump(ref, fh)
print("wrote", out, "torch", torch.__version__)
