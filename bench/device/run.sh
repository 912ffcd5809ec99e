#!/usr/bin/env bash
# The one command for a lent GPU machine (issues 4 and 19, in one call of the `device` tool):
#   here:   bash bench/device/prep.sh
#   device: run(command="bash bench/device/run.sh", carry=[".device"], timeout_s=600)
# (about 2 minutes on an H200: probe 3 s, tests 39 s, bench 27 s, sweep 27 s, notebook 19 s)
# Runs, from the repository root: the WebGPU probe, the WebGPU test files (bench/device/webgpu-tests.ts),
# `bench --gpu` against PyTorch CUDA (python3 there; targets beside the ratios), the GEMM variant sweep,
# and notebook 06 at its GPU settings (full AlexNet at 224x224 on the GPU; quick: one epoch of 2,000
# images — the full 10 epochs of 55,000 outlast one call) through the kernel's interpreter. Full logs go
# to $OUT; the last lines printed are the summary. GB_DEVICE_STEPS picks the steps (default
# "probe,tests,bench,sweep,notebook"; e.g. "bench,notebook" for a second call).
set -uo pipefail
# the Vulkan loader and GL dispatch libraries where the NVIDIA driver's ICD finds them (the device
# tool's advice: unpacked into /, then ldconfig)
for f in .device/debs/*.deb; do dpkg -x "$f" /; done; ldconfig
source .device/env.sh
OUT=${OUT:-/tmp/gb-out}
mkdir -p "$OUT"
steps=${GB_DEVICE_STEPS:-probe,tests,bench,sweep,notebook}
has() { [[ ",$steps," == *",$1,"* ]]; }
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,utilization.gpu,memory.used --format=csv > "$OUT/nvidia-smi.txt" 2>&1 || true
if has probe; then
  node .device/probe.mjs > "$OUT/probe.txt" 2>&1; summary+=("probe: exit $? — $(grep -m1 adapter: "$OUT/probe.txt")")
fi
if has tests; then
  GB_ENGINE_BUNDLE=$PWD/.device/bundle/gradbook.mjs node .device/bundle/webgpu-tests.mjs 2>&1 | grep -v '^Warning: max' > "$OUT/webgpu-tests.txt"
  summary+=("webgpu tests: $(tail -1 "$OUT/webgpu-tests.txt")")
fi
if has bench; then
  GB_TORCH_PYTHON=${GB_TORCH_PYTHON:-python3} node .device/bundle/bench.mjs --gpu > "$OUT/bench-gpu.txt" 2>&1
  summary+=("bench --gpu: exit $?")
fi
if has sweep; then
  node .device/bundle/bench.mjs --gpu-sweep > "$OUT/gemm-sweep.txt" 2>&1
  summary+=("gemm sweep: exit $?")
fi
if has notebook; then
  # the runner's TypeScript under node_modules/; the Fashion-MNIST subset where the engine looks for it
  tar -xJf .device/kernel-deps.tar.xz
  mkdir -p /usr/share/datasets/fashion-mnist
  cp -n .device/fashion-mnist/*.gz /usr/share/datasets/fashion-mnist/
  node .device/notebook.mjs notebooks/06-alexnet.ipynb quick=true > "$OUT/notebook06.txt" 2>&1
  summary+=("notebook 06 (GPU settings, quick): exit $? — $(tail -1 "$OUT/notebook06.txt")")
fi
echo "================ summary"
cat "$OUT/nvidia-smi.txt"
has tests && grep '^FAIL' "$OUT/webgpu-tests.txt" | head -20
has bench && grep -v '^Warning' "$OUT/bench-gpu.txt" | tail -14
has sweep && grep -v '^Warning' "$OUT/gemm-sweep.txt" | tail -12
has notebook && grep -E '^(WebGPU adapter|training device|GPU:|AlexNet[ -]|epoch [0-9]+:)' "$OUT/notebook06.txt" | head -20
printf '%s\n' "${summary[@]}"
