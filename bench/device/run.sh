#!/usr/bin/env bash
# The one command for a lent GPU machine (issue 4's checks, in one call of the `device` tool):
#   here:   ../shared/tools/device-prep && node bench/device/bundle.mjs
#   device: run(command="bash bench/device/run.sh", carry=[".device"])
# Runs, from the repository root: the WebGPU probe, the WebGPU test files (bench/device/webgpu-tests.ts),
# `bench --gpu` against PyTorch CUDA (python3 there), and the GEMM variant sweep. Full logs go to $OUT;
# the last lines printed are the summary. GB_DEVICE_STEPS limits the steps (e.g. "tests,bench").
set -uo pipefail
source .device/env.sh
OUT=${OUT:-/tmp/gb-out}
mkdir -p "$OUT"
steps=${GB_DEVICE_STEPS:-probe,tests,bench,sweep}
has() { [[ ",$steps," == *",$1,"* ]]; }
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,utilization.gpu,memory.used --format=csv > "$OUT/nvidia-smi.txt" 2>&1 || true
if has probe; then
  node .device/probe.mjs > "$OUT/probe.txt" 2>&1; summary+=("probe: exit $? — $(grep -m1 adapter: "$OUT/probe.txt")")
fi
if has tests; then
  node .device/bundle/webgpu-tests.mjs 2>&1 | grep -v '^Warning: max' > "$OUT/webgpu-tests.txt"
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
echo "================ summary"
cat "$OUT/nvidia-smi.txt"
has tests && grep '^FAIL' "$OUT/webgpu-tests.txt" | head -20
has bench && grep -v '^Warning' "$OUT/bench-gpu.txt" | tail -14
has sweep && grep -v '^Warning' "$OUT/gemm-sweep.txt" | tail -12
printf '%s\n' "${summary[@]}"
