#!/usr/bin/env bash
# Here (any checkout or worktree), from the repository root: packs into .device/ (git-ignored) all that a
# bare GPU machine needs for bench/device/run.sh — Node, `webgpu` and the Vulkan loader (the shared
# device-prep), the bundles (bundle.mjs), and for the notebook runner TypeScript (+ @types/node, the
# gb namespace's types) and a Fashion-MNIST subset (the first 10,000 training images, the 10,000 test
# images: the whole set does not fit the 64 MiB that travels). Then, in one call of the `device` tool:
#   run(command="bash bench/device/run.sh", carry=[".device"], timeout_s=600)
# GB_DEVICE_TOOLS: the folder of device-prep (default: ../shared/tools, else /work/shared/tools).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
root=$PWD
tools=${GB_DEVICE_TOOLS:-}
if [ -z "$tools" ]; then
  for t in ../shared/tools /work/shared/tools; do [ -x "$t/device-prep" ] && tools=$(cd "$t" && pwd) && break; done
fi
[ -n "$tools" ] && [ -x "$tools/device-prep" ] || { echo "prep.sh: device-prep not found (set GB_DEVICE_TOOLS)"; exit 1; }
[ -f node_modules/typescript/lib/typescript.js ] || { echo "prep.sh: node_modules missing: npm ci first"; exit 1; }
[ -f dist/gb-namespace.d.ts ] || node scripts/build.mjs
# device-prep appends to .git/info/exclude, which is not a folder in a worktree (.git is a file there):
# it runs in a scratch repository whose .device and node_modules are this checkout's
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git init -q "$scratch"
mkdir -p .device
ln -s "$root/.device" "$scratch/.device"
ln -s "$root/node_modules" "$scratch/node_modules"
(cd "$scratch" && "$tools/device-prep")
# NVIDIA's Vulkan driver (libGLX_nvidia) needs the GL vendor-neutral dispatch libraries, which the bare
# machine lacks ("Found no drivers!" without them: seen on an H200, 2026-12-04); run.sh unpacks them
(cd .device/debs && for p in libglvnd0 libglx0 libgl1 libegl1 libgles2 libopengl0; do
  ls ${p}_*.deb >/dev/null 2>&1 || apt-get download $p >/dev/null 2>&1 || { echo "prep.sh: apt-get download $p failed (apt-get update first)"; exit 1; }
done)
node bench/device/bundle.mjs
rm -f .device/typescript.v8cache  # the kernel's compile cache, if the runner ran here: made again there
# the notebook runner's TypeScript, unpacked under the repository root there
tar -cJf .device/kernel-deps.tar.xz node_modules/typescript/package.json node_modules/typescript/lib/typescript.js \
  node_modules/typescript/lib/lib.*.d.ts node_modules/@types/node dist/gb-namespace.d.ts
mkdir -p .device/fashion-mnist
node -e '
  const fs = require("fs"), zlib = require("zlib");
  const [src, dst] = process.argv.slice(1);
  const idx = (name) => zlib.gunzipSync(fs.readFileSync(`${src}/${name}.gz`));
  const write = (name, buf) => fs.writeFileSync(`${dst}/${name}.gz`, zlib.gzipSync(buf, { level: 9 }));
  // first n items of an IDX file: the header (magic, dims) with the count set to n, then n items
  const head = (buf, n) => {
    const dims = buf[3];
    let size = 1;
    for (let d = 1; d < dims; d++) size *= buf.readUInt32BE(4 + 4 * d);
    const out = Buffer.from(buf.subarray(0, 4 + 4 * dims + n * size));
    out.writeUInt32BE(n, 4);
    return out;
  };
  write("train-images-idx3-ubyte", head(idx("train-images-idx3-ubyte"), 10000));
  write("train-labels-idx1-ubyte", head(idx("train-labels-idx1-ubyte"), 10000));
  for (const f of ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]) fs.copyFileSync(`${src}/${f}.gz`, `${dst}/${f}.gz`);
' /usr/share/datasets/fashion-mnist .device/fashion-mnist
tracked=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
carried=$(du -sb .device | cut -f1)
echo "prep.sh: .device $((carried / 1048576)) MiB + tracked files $((tracked / 1048576)) MiB (the device tool's limit: 64 MiB)"
