#!/usr/bin/python3
"""Generates tests/engine/autograd/reference.json: PyTorch values for the autograd
tests (explicit upstream gradients, accumulation over two backward calls,
retain_grad, autograd.grad, vjp, jacobian, the micrograd-style graph).

Run:  /usr/bin/python3 tests/engine/autograd/make_reference.py
Inputs are float32 rounded to 3 decimals; values are float32 results.
"""
import json
import os

import torch

torch.manual_seed(7)
HERE = os.path.dirname(os.path.abspath(__file__))


def R(*shape):
    return ((torch.randn(shape) * 1000).round() / 1000).float()


def L(t):
    return [float("%.9g" % v) for v in t.detach().reshape(-1).tolist()]


def S(t):
    return {"shape": list(t.shape), "values": L(t)}


ref = {}

# backward(gradient) on a non-scalar output
x = R(2, 3).requires_grad_(True)
g = R(2, 3)
y = x.tanh() * x
y.backward(g)
ref["explicit_gradient"] = {"x": S(x), "gradient": S(g), "y": S(y), "x_grad": S(x.grad)}

# accumulation across two backward calls (two forward passes)
x = R(4).requires_grad_(True)
w = R(4).requires_grad_(True)
(x.exp() * w).sum().backward()
first_x, first_w = x.grad.clone(), w.grad.clone()
(x.sin() * w * w).sum().backward()
ref["accumulate"] = {"x": S(x), "w": S(w), "x_grad_1": S(first_x), "w_grad_1": S(first_w), "x_grad_2": S(x.grad), "w_grad_2": S(w.grad)}

# the same graph backpropagated twice (retain_graph in torch): gradients double
x = R(3).requires_grad_(True)
loss = (x * x * x).sum()
loss.backward(retain_graph=True)
loss.backward()
ref["backward_twice"] = {"x": S(x), "x_grad": S(x.grad)}

# retain_grad on an intermediate
x = R(2, 3).requires_grad_(True)
W = R(3, 4).requires_grad_(True)
h = x @ W
h.retain_grad()
out = (h.tanh() ** 2).sum()
out.backward()
ref["retain_grad"] = {"x": S(x), "W": S(W), "h_grad": S(h.grad), "x_grad": S(x.grad), "W_grad": S(W.grad)}

# torch.autograd.grad: values, .grad untouched
x = R(2, 3).requires_grad_(True)
W = R(3, 2).requires_grad_(True)
out = (x @ W).sigmoid().sum()
gx, gW = torch.autograd.grad(out, [x, W])
ref["grad"] = {"x": S(x), "W": S(W), "gx": S(gx), "gW": S(gW)}

# grad with explicit grad_outputs on a non-scalar
x = R(3).requires_grad_(True)
v = R(3)
(gx,) = torch.autograd.grad(x.exp() * x, x, v)
ref["grad_outputs"] = {"x": S(x), "v": S(v), "gx": S(gx)}

# vjp
x = R(2, 2)
v = R(2, 2)
fx, vj = torch.autograd.functional.vjp(lambda t: (t @ t).tanh(), x, v)
ref["vjp"] = {"x": S(x), "v": S(v), "fx": S(fx), "vjp": S(vj)}

# jacobians
x = R(4)
ref["jacobian_square"] = {"x": S(x), "J": S(torch.autograd.functional.jacobian(lambda t: t * t, x))}
ref["jacobian_nonlinear"] = {"x": S(x), "J": S(torch.autograd.functional.jacobian(lambda t: t.tanh() * t.sum() + t.exp() / (1 + t * t), x))}
x = R(2, 3)
ref["jacobian_softmax"] = {"x": S(x), "J": S(torch.autograd.functional.jacobian(lambda t: t.softmax(1), x))}

# micrograd-style: o = tanh(a*b + c)
a = torch.tensor(2.0, requires_grad=True)
b = torch.tensor(-3.0, requires_grad=True)
c = torch.tensor(6.8813735870195432, requires_grad=True)
e = a * b
e.retain_grad()
n = e + c
n.retain_grad()
o = n.tanh()
o.retain_grad()
o.backward()
ref["micrograd"] = {k: {"value": float("%.9g" % t.item()), "grad": float("%.9g" % t.grad.item())} for k, t in dict(a=a, b=b, c=c, e=e, n=n, o=o).items()}

json.dump(ref, open(os.path.join(HERE, "reference.json"), "w"), indent=1)
print("autograd reference:", len(ref), "entries")
