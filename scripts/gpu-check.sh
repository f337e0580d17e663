#!/usr/bin/env bash
# The GPU check of issue 14, for a machine lent with a GPU (docs/benchmarks.md, "GPU"). Run from
# the repository root: bash scripts/gpu-check.sh
#
# It builds the addon against python3's torch (a CUDA build there links libtorch_cuda), then runs
# dist/bench/gpu-check.js: one lattice search step on the CPU and on CUDA from the same state
# (1e-4), and the step time on the GPU against PyTorch. Without CUDA it checks what the CPU allows.
#
# What must travel with the working tree (the device machine has no Node.js and no network):
#   - node: on PATH, or .gpu/bin/node.xz (an xz-compressed node binary; about 24 MB) and Node's
#     headers in .gpu/include/node (node_api.h, common.gypi, ... of the same version);
#   - node_modules/node-addon-api and node_modules/node-gyp (and what node-gyp requires);
#   - dist/ (the compiled TypeScript).
# The results go to $OUT/gpu-check.log when OUT is set.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null 2>&1; then
  if [ -f .gpu/bin/node.xz ]; then
    xz -dc .gpu/bin/node.xz > .gpu/bin/node
    chmod +x .gpu/bin/node
    export PATH="$PWD/.gpu/bin:$PATH"
  else
    echo "gpu-check: no node on PATH and no .gpu/bin/node.xz" >&2
    exit 1
  fi
fi
[ -f dist/bench/gpu-check.js ] || { echo "gpu-check: dist/ is missing: compile the TypeScript first (npm run build) and carry dist/" >&2; exit 1; }
LIBTORCH_USE_PYTORCH=1 DNAS_SETUP_NO_APT=1 bash scripts/setup.sh --addon-only
cat build/libtorch.json
log=${OUT:-/tmp}/gpu-check.log
DNAS_PYTHON=$(command -v python3) node dist/bench/gpu-check.js "$@" 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
