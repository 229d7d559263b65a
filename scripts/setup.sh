#!/usr/bin/env bash
# Installs every Debian 12 package brine needs. Idempotent: when everything is
# present it only runs dpkg-query and returns in well under a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libhalide14-0-dev libhalide14-doc llvm-14-dev   # Halide 14 + autoscheduler plugins
  libfmt-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libdnnl-dev libopenblas-dev                     # benchmark baselines
  ocl-icd-opencl-dev                              # dnnl-config.cmake requires OpenCL (only a Recommends of libdnnl-dev)
  graphviz                                        # renders `brinec --emit=dot`
  python3-sklearn                                 # ships the 8x8 digits data set (examples/mlp_digits)
  wamerican                                       # the word list of examples/char_lstm
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
