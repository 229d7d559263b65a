#!/usr/bin/env bash
# One command: set up, build, run the demos: an MLP trained on the 8x8 digits
# (the whole training step is compiled kernels), then the layers guide's Dense
# example once JIT and once from the ahead-of-time compiled library.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target mlp_digits seed_dense_jit seed_dense_aot
mkdir -p build/demo
echo "== mlp_digits: training =="; build/release/examples/mlp_digits/mlp_digits build/demo
echo "== seed_dense, JIT =="; build/release/examples/seed_dense/seed_dense_jit
echo "== seed_dense, AOT =="; build/release/examples/seed_dense/seed_dense_aot
