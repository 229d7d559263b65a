#!/usr/bin/env bash
# One command: set up, build, run the demo (the layers guide's first Dense
# example, once JIT and once from the ahead-of-time compiled library).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target seed_dense_jit seed_dense_aot
echo "== JIT =="; build/release/examples/seed_dense/seed_dense_jit
echo "== AOT =="; build/release/examples/seed_dense/seed_dense_aot
