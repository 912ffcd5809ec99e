#!/usr/bin/python3
"""Generates tests/engine/optim/reference.json: PyTorch 1.13 parameter trajectories
of every optimizer (several option combinations) on a small fixed least-squares
problem, and the learning rates the schedulers produce.

Run with the Debian python that has torch:  /usr/bin/python3 tests/engine/optim/make_reference.py

The problem: W [3, 2], b [3] (given initial values), X [6, 2], Y [6, 3];
loss = mean((X @ W.T + b - Y) ** 2) + 0.05 * sum(W ** 4). All values are
multiples of 1e-3 so float32 inputs are identical on both sides.
"""
import json
import math
import os
import re

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
STEPS = 8

W0 = [[0.5, -0.3], [0.1, 0.8], [-0.7, 0.25]]
B0 = [0.05, -0.2, 0.3]
X = [[1.0, 2.0], [-0.5, 0.3], [0.25, -1.5], [2.0, 0.1], [-1.2, -0.8], [0.6, 0.9]]
Y = [[0.3, -1.0, 2.0], [1.5, 0.2, -0.4], [-0.8, 0.7, 0.1], [0.9, -0.3, 1.1], [0.0, 0.5, -1.3], [0.4, 0.4, 0.4]]


def snake(name):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def loss_fn(W, b):
    x = torch.tensor(X)
    y = torch.tensor(Y)
    return ((x @ W.T + b - y) ** 2).mean() + 0.05 * (W ** 4).sum()


def flat(t):
    return [float("%.9g" % v) for v in t.detach().reshape(-1).tolist()]


def run_opt(name, opts, groups=None, scheduler=None):
    W = torch.tensor(W0, requires_grad=True)
    b = torch.tensor(B0, requires_grad=True)
    kw = {snake(k): (tuple(v) if isinstance(v, list) else v) for k, v in opts.items()}
    if name not in ("SGD",):
        kw["foreach"] = False
    cls = getattr(torch.optim, name)
    if groups is not None:
        pg = [{"params": [W]}, {"params": [b], **{snake(k): v for k, v in groups.items()}}]
        opt = cls(pg, **kw)
    else:
        opt = cls([W, b], **kw)
    sched = None
    if scheduler is not None:
        sname, sargs = scheduler
        sched = getattr(torch.optim.lr_scheduler, sname)(opt, *sargs)
    traj = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = loss_fn(W, b)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        traj.append({"W": flat(W), "b": flat(b), "loss": float(loss)})
    return traj


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.5, "weightDecay": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weightDecay": 0.01, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lrDecay": 0.05, "weightDecay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initialAccumulatorValue": 0.5, "eps": 1e-6}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weightDecay": 0.05}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.005, "centered": True, "momentum": 0.5, "weightDecay": 0.1, "eps": 1e-4}),
    ("Adam", {}),
    ("Adam", {"lr": 0.05, "betas": [0.8, 0.99]}),
    ("Adam", {"lr": 0.05, "weightDecay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.02, "amsgrad": True, "weightDecay": 0.01, "eps": 1e-3, "maximize": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.05, "weightDecay": 0.5}),
    ("AdamW", {"lr": 0.05, "weightDecay": 0.1, "amsgrad": True, "betas": [0.5, 0.9]}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.05, "betas": [0.8, 0.9], "weightDecay": 0.1, "eps": 1e-3}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.05, "betas": [0.8, 0.99], "weightDecay": 0.05, "momentumDecay": 0.01}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.05, "betas": [0.8, 0.9], "weightDecay": 0.1}),
]

optim_cases = []
for name, opts in CASES:
    optim_cases.append({"name": name, "opts": opts, "traj": run_opt(name, opts)})

# parameter groups: b gets its own lr / momentum
group_cases = []
for name, opts, gopts in [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"lr": 0.01, "momentum": 0.0}),
    ("Adam", {"lr": 0.05}, {"lr": 0.2, "weightDecay": 0.1}),
]:
    group_cases.append({"name": name, "opts": opts, "group": gopts, "traj": run_opt(name, opts, groups=gopts)})

# SGD driven by a scheduler (the lr changes between steps)
sched_traj = run_opt("SGD", {"lr": 0.1, "momentum": 0.9}, scheduler=("StepLR", (2, 0.5)))


# ---- schedulers: the lr after construction and after each step
def lrs(sname, args, n=14, lr=0.1, metrics=None):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    s = getattr(torch.optim.lr_scheduler, sname)(opt, *args)
    out = [opt.param_groups[0]["lr"]]
    for i in range(n):
        opt.step()
        if metrics is not None:
            s.step(metrics[i])
        else:
            s.step()
        out.append(opt.param_groups[0]["lr"])
    return out


schedulers = [
    {"name": "StepLR", "args": [3, 0.5], "lrs": lrs("StepLR", (3, 0.5))},
    {"name": "StepLR", "args": [1, 0.9], "lrs": lrs("StepLR", (1, 0.9))},
    {"name": "MultiStepLR", "args": [[2, 5, 5, 9], 0.3], "lrs": lrs("MultiStepLR", ([2, 5, 5, 9], 0.3))},
    {"name": "ExponentialLR", "args": [0.9], "lrs": lrs("ExponentialLR", (0.9,))},
    {"name": "LambdaLR", "args": ["1/(1+e)"], "lrs": lrs("LambdaLR", (lambda e: 1 / (1 + e),))},
    {"name": "LinearLR", "args": [{"startFactor": 0.25, "endFactor": 1.0, "totalIters": 4}],
     "lrs": lrs("LinearLR", (0.25, 1.0, 4))},
    {"name": "CosineAnnealingLR", "args": [5, 0.01], "lrs": lrs("CosineAnnealingLR", (5, 0.01), n=16)},
]
schedulers += [
    {"name": "CosineAnnealingWarmRestarts", "args": [3, 2, 0.001], "lrs": lrs("CosineAnnealingWarmRestarts", (3, 2, 0.001), n=22)},
    {"name": "CosineAnnealingWarmRestarts", "args": [4, 1, 0.0], "lrs": lrs("CosineAnnealingWarmRestarts", (4, 1, 0.0), n=10)},
]

# SGDR stepped with fractional epochs (per batch)
p = torch.zeros(1, requires_grad=True)
opt = torch.optim.SGD([p], lr=0.1)
s_ = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, 2, 2, 0.0)
frac_epochs = [e + b / 4 for e in range(7) for b in range(4)]
frac_lrs = []
for e in frac_epochs:
    opt.step()
    s_.step(e)
    frac_lrs.append(opt.param_groups[0]["lr"])
sgdr_frac = {"args": [2, 2, 0.0], "epochs": frac_epochs, "lrs": frac_lrs}

# OneCycleLR: lr and momentum (SGD) / beta1 (Adam) after construction and each step
one_cycle = []
for oname, okw, kw in [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"max_lr": 0.5, "total_steps": 20}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"max_lr": 1.0, "total_steps": 15, "pct_start": 0.25, "anneal_strategy": "linear", "three_phase": True}),
    ("Adam", {"lr": 0.01}, {"max_lr": 0.01, "epochs": 3, "steps_per_epoch": 5, "div_factor": 10.0, "final_div_factor": 100.0}),
    ("SGD", {"lr": 0.1}, {"max_lr": 0.2, "total_steps": 10, "cycle_momentum": False}),
]:
    p = torch.zeros(1, requires_grad=True)
    opt = getattr(torch.optim, oname)([p], **okw)
    s_ = torch.optim.lr_scheduler.OneCycleLR(opt, **kw)
    total = kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"]
    g = opt.param_groups[0]
    mom = lambda: (g["betas"][0] if oname == "Adam" else g.get("momentum"))
    out_lr, out_m = [g["lr"]], [mom()]
    for _ in range(total - 1):
        opt.step()
        s_.step()
        out_lr.append(g["lr"])
        out_m.append(mom())
    camel = {"max_lr": "maxLr", "total_steps": "totalSteps", "pct_start": "pctStart", "anneal_strategy": "annealStrategy",
             "three_phase": "threePhase", "epochs": "epochs", "steps_per_epoch": "stepsPerEpoch", "div_factor": "divFactor",
             "final_div_factor": "finalDivFactor", "cycle_momentum": "cycleMomentum"}
    one_cycle.append({"optimizer": oname, "optOpts": okw, "opts": {camel[k]: v for k, v in kw.items()}, "lrs": out_lr, "momentum": out_m})

metrics = [1.0, 0.9, 0.95, 0.96, 0.97, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.91, 0.92, 0.93]
plateau = {
    "opts": {"mode": "min", "factor": 0.5, "patience": 2, "cooldown": 1},
    "metrics": metrics,
}
p = torch.zeros(1, requires_grad=True)
opt = torch.optim.SGD([p], lr=0.1)
rs = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, cooldown=1)
plateau_lrs = []
for m in metrics:
    rs.step(m)
    plateau_lrs.append(opt.param_groups[0]["lr"])
plateau["lrs"] = plateau_lrs

# ---- gradient clipping: grads of the problem at the initial point, clipped
clip_cases = []
for kind, arg, norm_type in [("norm", 0.5, 2.0), ("norm", 100.0, 2.0), ("norm", 0.3, 1.0), ("norm", 0.2, math.inf), ("value", 0.1, None)]:
    W = torch.tensor(W0, requires_grad=True)
    b = torch.tensor(B0, requires_grad=True)
    loss_fn(W, b).backward()
    if kind == "norm":
        total = torch.nn.utils.clip_grad_norm_([W, b], arg, norm_type=norm_type)
        total = float(total)
    else:
        torch.nn.utils.clip_grad_value_([W, b], arg)
        total = None
    clip_cases.append({"kind": kind, "arg": arg, "normType": "inf" if norm_type == math.inf else norm_type,
                       "total": total, "gW": flat(W.grad), "gb": flat(b.grad)})

ref = {
    "problem": {"W0": W0, "b0": B0, "X": X, "Y": Y, "steps": STEPS},
    "optimizers": optim_cases,
    "groups": group_cases,
    "schedulerTraj": {"opts": {"lr": 0.1, "momentum": 0.9}, "stepLR": [2, 0.5], "traj": sched_traj},
    "schedulers": schedulers,
    "plateau": plateau,
    "clip": clip_cases,
    "sgdrFractional": sgdr_frac,
    "oneCycle": one_cycle,
}
with open(OUT, "w") as f:
    json.dump(ref, f, indent=1)
print("wrote", OUT)
