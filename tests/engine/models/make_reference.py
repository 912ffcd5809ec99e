#!/usr/bin/python3
"""Generates tests/engine/models/reference.json: parameter counts, state-dict names and
shapes, and forward outputs of LeNet-5, AlexNet (torchvision's definition, written
out here since Debian has no torchvision) and MLPs, in PyTorch 1.13.

Weights and inputs come from an integer formula both sides can compute exactly:
  tensor k (state-dict order), element i:  v = ((i * 7919 + k * 104729) % 2001 - 1000) / 1000
  weights (dim >= 2) are scaled by 1 / sqrt(fan_in), biases by 0.1; inputs use
  x_i = ((i * 31) % 257) / 256 - 0.5.

Run:  /usr/bin/python3 tests/engine/models/make_reference.py
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")


class AlexNet(nn.Module):
    """torchvision.models.AlexNet (v0.14), verbatim; `small` mirrors gradbook's small-input variant."""

    def __init__(self, num_classes=1000, in_channels=3, dropout=0.5, small=False, hidden=None, lrn=False):
        super().__init__()
        hidden = hidden or (1024 if small else 4096)
        pooled = 2 if small else 6
        L = lambda: [nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2)] if lrn else []
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=5, stride=1, padding=2) if small else nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            *L(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            *L(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((pooled, pooled))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * pooled * pooled, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


class LeNet5(nn.Module):
    def __init__(self, num_classes=10, activation="tanh", pooling="avg", in_channels=1, input_size=28):
        super().__init__()
        A = nn.Tanh if activation == "tanh" else nn.ReLU
        P = (lambda: nn.AvgPool2d(2)) if pooling == "avg" else (lambda: nn.MaxPool2d(2))
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2 if input_size == 28 else 0), A(), P(),
            nn.Conv2d(6, 16, 5), A(), P(),
        )
        self.classifier = nn.Sequential(
            nn.Linear(400, 120), A(), nn.Linear(120, 84), A(), nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def conv3x3(i, o, stride=1):
    return nn.Conv2d(i, o, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(i, o, stride=1):
    return nn.Conv2d(i, o, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock (v0.14)."""
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """torchvision.models.resnet.Bottleneck (v0.14)."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * 4)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision.models.ResNet (v0.14); `small` is gradbook's CIFAR stem (3x3/1 conv, Identity for the max pool)."""

    def __init__(self, block, layers, num_classes=1000, in_channels=3, small=False):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False) if small else nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if small else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride), nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def mlp(sizes, act):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(act())
    return nn.Sequential(*layers)


def fill_formula(model):
    with torch.no_grad():
        for k, (name, p) in enumerate(model.state_dict().items()):
            if not p.is_floating_point():
                continue  # BatchNorm's num_batches_tracked
            i = np.arange(p.numel(), dtype=np.int64)
            v = (((i * 7919 + k * 104729) % 2001) - 1000) / 1000.0
            if name.endswith("running_var"):
                v = np.abs(v) + 0.5
            elif p.dim() >= 2:
                v = v * (1.0 / math.sqrt(p.numel() // p.shape[0]))
            else:
                v = v * 0.1
            p.copy_(torch.from_numpy(v.astype(np.float32)).reshape(p.shape))


def formula_input(shape):
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.int64)
    v = ((i * 31) % 257) / 256.0 - 0.5
    return torch.from_numpy(v.astype(np.float32)).reshape(shape)


def describe(model, input_shapes, value_shape=None):
    model.eval()
    d = {
        "params": sum(p.numel() for p in model.parameters()),
        "stateDict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
        "outputShapes": [],
    }
    with torch.no_grad():
        for s in input_shapes:
            d["outputShapes"].append({"input": list(s), "output": list(model(torch.zeros(s)).shape)})
        if value_shape is not None:
            fill_formula(model)
            y = model(formula_input(value_shape))
            d["values"] = {"input": list(value_shape), "output": [float("%.8g" % v) for v in y.reshape(-1).tolist()]}
    return d


ref = {
    "lenet": {
        "tanh-avg-28": describe(LeNet5(), [(1, 1, 28, 28), (3, 1, 28, 28)], (2, 1, 28, 28)),
        "relu-max-28": describe(LeNet5(activation="relu", pooling="max"), [(2, 1, 28, 28)], (2, 1, 28, 28)),
        "tanh-avg-32": describe(LeNet5(input_size=32), [(2, 1, 32, 32)], (2, 1, 32, 32)),
    },
    "alexnet": {
        "default": describe(AlexNet(), [(1, 3, 224, 224), (2, 3, 64, 64)], (2, 3, 67, 67)),
        "gray-lrn": describe(AlexNet(num_classes=10, in_channels=1, lrn=True, hidden=256), [(1, 1, 96, 96)], (1, 1, 96, 96)),
        "small": describe(AlexNet(num_classes=10, in_channels=1, small=True), [(2, 1, 28, 28), (1, 1, 32, 32), (1, 1, 64, 64)], (2, 1, 28, 28)),
        "small-lrn": describe(AlexNet(num_classes=10, in_channels=1, small=True, lrn=True, hidden=64), [(2, 1, 32, 32)], (2, 1, 32, 32)),
    },
    "resnet": {
        "resnet18": describe(ResNet(BasicBlock, [2, 2, 2, 2]), [(1, 3, 64, 64), (2, 3, 33, 47)], (2, 3, 64, 64)),
        "resnet34": describe(ResNet(BasicBlock, [3, 4, 6, 3]), [(1, 3, 32, 32)]),
        "resnet50": describe(ResNet(Bottleneck, [3, 4, 6, 3]), [], (1, 3, 32, 32)),
        "resnet18-small": describe(ResNet(BasicBlock, [2, 2, 2, 2], num_classes=10, small=True), [(2, 3, 32, 32)], (1, 3, 16, 16)),
    },
    "mlp": {
        "2-8-1-tanh": describe(mlp([2, 8, 1], nn.Tanh), [(4, 2)], (5, 2)),
        "784-128-64-10-relu": describe(mlp([784, 128, 64, 10], nn.ReLU), [(3, 784)], (3, 784)),
    },
}
with open(OUT, "w") as f:
    json.dump(ref, f)
print({k: {n: v["params"] for n, v in g.items()} for k, g in ref.items()})
