#!/usr/bin/env bash
# dnas set-up: installs npm dependencies, finds libtorch, builds the native addon and compiles
# the TypeScript. Every step is skipped when its output is already up to date, so `npm test` and
# `npm run demo` can call this each time. Usage: scripts/setup.sh [--force]
#
# libtorch is looked for in this order (docs/install.md):
#   1. LIBTORCH=/path/to/libtorch        (a directory with include/ and lib/)
#      or LIBTORCH_INCLUDE=... LIBTORCH_LIB=...
#   2. a Python torch installation       (python3 or /usr/bin/python3; LIBTORCH_USE_PYTORCH=1 makes it
#                                          the only one tried) whose package ships include/ and lib/
#   3. the system's libtorch-dev          (/usr/include/torch, installed with apt when missing and root)
# LIBTORCH_CXX11_ABI=0|1 overrides the detected C++ ABI flag; LIBTORCH_BYPASS_VERSION_CHECK=1
# accepts a libtorch older than 1.13.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1
# --addon-only: the installed npm package (scripts/install.js): its JavaScript ships compiled and
# its dependencies are npm's business, so only libtorch is found and the addon built.
ADDON_ONLY=0
[ "${1:-}" = "--addon-only" ] && ADDON_ONLY=1
mkdir -p build
log() { echo "[dnas setup] $*" >&2; }
die() { echo "[dnas setup] error: $*" >&2; exit 1; }

# ---- 1. npm dependencies ---------------------------------------------------------------------
if [ $ADDON_ONLY = 0 ] && { [ ! -d node_modules/node-addon-api ] || [ ! -d node_modules/typescript ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  log "installing npm dependencies"
  # onnxruntime-node (tests) would fetch CUDA libraries from outside the npm registry; its switch
  # skips that (also set in .npmrc). The CPU runtime ships inside the npm package.
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error >&2
fi

# ---- 2. data and tools from Debian packages (best effort, root only) -------------------------
# The bundled data sets come from Debian packages; nothing else is ever downloaded. The test
# suite also uses, when present: labelme-examples (real street frames, extracted at test time),
# python3-torch (PyTorch parity checks) and chromium (the HTML report opened headless). Set
# DNAS_SETUP_NO_APT=1 to skip this step.
if [ $ADDON_ONLY = 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ "${DNAS_SETUP_NO_APT:-0}" != 1 ]; then
  want=()
  [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || want+=(dataset-fashion-mnist)
  [ -e /usr/share/mricron/templates/ch2.nii.gz ] || want+=(mricron-data)
  if [ "${DNAS_SETUP_FOR:-}" = test ]; then
    [ -d /usr/share/doc/labelme-examples/examples ] || want+=(labelme-examples)
    /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || want+=(python3-torch)
    [ -x /usr/bin/chromium ] || want+=(chromium)
  fi
  if [ ${#want[@]} -gt 0 ]; then
    log "installing Debian packages: ${want[*]}"
    (apt-get install -y --no-install-recommends "${want[@]}" >&2 || { apt-get update >&2 && apt-get install -y --no-install-recommends "${want[@]}" >&2; }) ||
      log "warning: could not install ${want[*]}; the bundled data sets that need them will be unavailable"
  fi
fi

# ---- 3. find libtorch -------------------------------------------------------------------------
TORCH_INC=""; TORCH_LIB=""; TORCH_ABI=""; TORCH_FROM=""
has_headers() { [ -f "$1/ATen/ATen.h" ] && [ -f "$1/torch/csrc/api/include/torch/version.h" ]; }
has_libs() { [ -e "$1/libtorch_cpu.so" ] || [ -e "$1/libtorch.so" ]; }

if [ -n "${LIBTORCH_INCLUDE:-}" ] || [ -n "${LIBTORCH_LIB:-}" ]; then
  TORCH_INC=${LIBTORCH_INCLUDE:?LIBTORCH_LIB is set, so LIBTORCH_INCLUDE must be too}
  TORCH_LIB=${LIBTORCH_LIB:?LIBTORCH_INCLUDE is set, so LIBTORCH_LIB must be too}
  TORCH_FROM="LIBTORCH_INCLUDE/LIBTORCH_LIB"
elif [ -n "${LIBTORCH:-}" ]; then
  TORCH_INC=$LIBTORCH/include; TORCH_LIB=$LIBTORCH/lib; TORCH_FROM="LIBTORCH=$LIBTORCH"
  has_headers "$TORCH_INC" && has_libs "$TORCH_LIB" || die "LIBTORCH=$LIBTORCH has no include/ATen/ATen.h and lib/libtorch_cpu.so; point it at an unpacked libtorch"
  if [ -f "$LIBTORCH/share/cmake/Torch/TorchConfig.cmake" ]; then
    grep -q "_GLIBCXX_USE_CXX11_ABI=0" "$LIBTORCH/share/cmake/Torch/TorchConfig.cmake" && TORCH_ABI=0 || TORCH_ABI=1
  fi
fi

if [ -z "$TORCH_FROM" ]; then
  pythons=(python3 /usr/bin/python3)
  for py in "${pythons[@]}"; do
    command -v "$py" >/dev/null 2>&1 || continue
    out=$("$py" -c 'import os, torch; d=os.path.dirname(torch.__file__); print(d); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null) || continue
    dir=$(echo "$out" | sed -n 1p); abi=$(echo "$out" | sed -n 2p)
    if has_headers "$dir/include" && has_libs "$dir/lib"; then
      TORCH_INC=$dir/include; TORCH_LIB=$dir/lib; TORCH_ABI=$abi; TORCH_FROM="Python torch at $dir ($py)"
      break
    fi
  done
  [ -z "$TORCH_FROM" ] && [ "${LIBTORCH_USE_PYTORCH:-0}" = 1 ] && die "LIBTORCH_USE_PYTORCH=1 but no Python torch installation with include/ and lib/ was found"
fi

if [ -z "$TORCH_FROM" ]; then
  MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
  if ! has_headers /usr/include || ! has_libs "/usr/lib/$MULTIARCH"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "libtorch not found; installing Debian's libtorch-dev with apt"
      (apt-get install -y --no-install-recommends libtorch-dev >&2 || { apt-get update >&2 && apt-get install -y --no-install-recommends libtorch-dev >&2; }) || true
    fi
  fi
  if has_headers /usr/include && has_libs "/usr/lib/$MULTIARCH"; then
    TORCH_INC=/usr/include; TORCH_LIB=/usr/lib/$MULTIARCH; TORCH_ABI=1; TORCH_FROM="system libtorch-dev"
  fi
fi

if [ -z "$TORCH_FROM" ]; then
  cat >&2 <<'EOF'
[dnas setup] error: libtorch was not found. Provide it in one of three ways:
  1. export LIBTORCH=/path/to/libtorch   (an unpacked libtorch with include/ and lib/)
  2. install PyTorch for Python (pip install torch), whose package ships include/ and lib/
  3. on Debian/Ubuntu: sudo apt-get install libtorch-dev   (set-up does this itself when run as root)
Then run the command again.
EOF
  exit 1
fi
TORCH_ABI=${LIBTORCH_CXX11_ABI:-${TORCH_ABI:-1}}

VERSION_H=$TORCH_INC/torch/csrc/api/include/torch/version.h
TV=$(awk '/define TORCH_VERSION_MAJOR/{a=$3}/define TORCH_VERSION_MINOR/{b=$3}/define TORCH_VERSION_PATCH/{c=$3}END{print a"."b"."c}' "$VERSION_H")
if [ "${LIBTORCH_BYPASS_VERSION_CHECK:-0}" != 1 ]; then
  major=${TV%%.*}; rest=${TV#*.}; minor=${rest%%.*}
  if [ "$major" -lt 1 ] || { [ "$major" = 1 ] && [ "$minor" -lt 13 ]; }; then
    die "libtorch $TV from $TORCH_FROM is older than 1.13; use a newer one or set LIBTORCH_BYPASS_VERSION_CHECK=1"
  fi
fi

# ---- 4. node headers (node-gyp must not download them) ---------------------------------------
NODE_BIN=$(readlink -f "$(command -v node)")
NODEDIR=""
for cand in "$(dirname "$(dirname "$NODE_BIN")")" /usr /usr/local; do
  if [ -f "$cand/include/node/node_api.h" ] && [ -f "$cand/include/node/common.gypi" ]; then NODEDIR=$cand; break; fi
done
[ -n "$NODEDIR" ] || die "Node.js headers (include/node/node_api.h) were not found next to $NODE_BIN; install the headers of your Node.js (Debian/Ubuntu: apt-get install libnode-dev, or the official Node.js tarball)"

# ---- 5. the native addon ---------------------------------------------------------------------
# Several processes (dnas search --nproc) use libtorch's gloo process group, whose headers include
# gloo's own: from the libtorch when it ships them, else Debian's libgloo-dev for Debian's libtorch
# (installed with apt when missing and root). Without them the addon builds without collectives.
GLOO_INC=""
debian_torch() { case "$(readlink -f "$TORCH_INC/ATen")" in /usr/include/*) return 0 ;; esac; return 1; }
if [ -f "$TORCH_INC/gloo/context.h" ]; then
  GLOO_INC=$TORCH_INC
elif debian_torch; then
  if [ ! -f /usr/include/gloo/context.h ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ "${DNAS_SETUP_NO_APT:-0}" != 1 ]; then
    log "installing Debian's libgloo-dev (headers for multi-process search)"
    (apt-get install -y --no-install-recommends libgloo-dev >&2 || { apt-get update >&2 && apt-get install -y --no-install-recommends libgloo-dev >&2; }) ||
      log "warning: could not install libgloo-dev; dnas search --nproc will be unavailable"
  fi
  [ -f /usr/include/gloo/context.h ] && GLOO_INC=/usr/include
fi
[ -n "$GLOO_INC" ] || log "note: gloo's headers were not found; the addon builds without multi-process search (Debian/Ubuntu: apt-get install libgloo-dev)"

# A CUDA build of libtorch (LIBTORCH, or a Python torch with CUDA) ships libtorch_cuda: linked then.
WITH_CUDA=0
[ -e "$TORCH_LIB/libtorch_cuda.so" ] && WITH_CUDA=1

# The export lists the addon includes come from native/boundary.def (scripts/gen-boundary.js); a
# definition edited without regenerating them would build the old lists without a word.
if [ -f scripts/gen-boundary.js ] && [ -f node_modules/prettier/bin/prettier.cjs ] && ! node scripts/gen-boundary.js --check >/dev/null; then
  die "native/boundary.def changed but the generated lists did not: run node scripts/gen-boundary.js"
fi
STAMP_NOW=$( { echo "$TORCH_INC $TORCH_LIB $TORCH_ABI $TV $NODEDIR $GLOO_INC $WITH_CUDA"; cat binding.gyp native/*.cc native/*.h native/gen/*.inc; } | sha1sum | cut -d' ' -f1)
if [ $FORCE = 1 ] || [ ! -f build/Release/dnas.node ] || [ "$(cat build/.stamp 2>/dev/null)" != "$STAMP_NOW" ]; then
  log "building the native addon against libtorch $TV ($TORCH_FROM, C++11 ABI $TORCH_ABI$([ $WITH_CUDA = 1 ] && echo ', with CUDA')); this takes about a minute"
  JOBS=$(nproc 2>/dev/null || echo 2)
  GYPLOG=$(mktemp)
  # node-gyp's rebuild empties build/, so the log is moved in afterwards.
  # node-gyp and node-addon-api: in a checkout under node_modules/; in an installed package, where
  # npm put them (resolved from here).
  NODE_GYP=$(node -p "require.resolve('node-gyp/bin/node-gyp.js')" 2>/dev/null) || die "node-gyp was not found (npm install node-gyp)"
  if ! node "$NODE_GYP" rebuild --nodedir="$NODEDIR" --jobs="$JOBS" \
    --libtorch_include="$TORCH_INC" --libtorch_lib="$TORCH_LIB" --cxx11_abi="$TORCH_ABI" --gloo_include="$GLOO_INC" --with_cuda="$WITH_CUDA" >"$GYPLOG" 2>&1; then
    mkdir -p build && mv "$GYPLOG" build/gyp.log
    grep -E "error|Error" build/gyp.log | head -20 >&2
    die "the native addon failed to build (full log: build/gyp.log)"
  fi
  mv "$GYPLOG" build/gyp.log
  echo "$STAMP_NOW" > build/.stamp
  printf '{"libtorch":"%s","from":"%s","include":"%s","lib":"%s","cxx11Abi":%s,"gloo":"%s","cuda":%s}\n' "$TV" "$TORCH_FROM" "$TORCH_INC" "$TORCH_LIB" "$TORCH_ABI" "$GLOO_INC" "$([ $WITH_CUDA = 1 ] && echo true || echo false)" > build/libtorch.json
fi

# ---- 6. TypeScript ---------------------------------------------------------------------------
[ $ADDON_ONLY = 1 ] && exit 0
node node_modules/typescript/bin/tsc -p tsconfig.json || die "TypeScript compilation failed"
