#!/usr/bin/python3
"""Called by modules.test.ts: reads a .safetensors file that gradbook wrote, loads it
into the PyTorch BnCnn (strict), runs it in eval mode on the input in a JSON file and
prints JSON {dtypes, shapes, output} for the test to compare with gradbook's forward."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402
from torch_models import BnCnn  # noqa: E402

path, inp = sys.argv[1], sys.argv[2]
tensors, meta = st_io.read(path)
model = BnCnn()
model.load_state_dict(tensors, strict=True)
model.eval()
with open(inp) as f:
    spec = json.load(f)
x = torch.tensor(spec["data"], dtype=torch.float32).reshape(spec["shape"])
with torch.no_grad():
    y = model(x)
print(json.dumps({
    "dtypes": {k: st_io.NAMES[v.dtype] for k, v in tensors.items()},
    "shapes": {k: list(v.shape) for k, v in tensors.items()},
    "metadata": meta,
    "output": y.reshape(-1).tolist(),
    "outputShape": list(y.shape),
}))
