// The example's input: 4 samples of 32x32x3, uniform in [0, 1) (like
// np.random.rand), from a fixed seed so that the JIT and AOT programs see the
// same batch.
#pragma once
#include <cstdint>
#include <fmt/format.h>
#include "runtime/tensor.h"

inline brine::Tensor example_batch() {
  brine::Tensor x({4, 32, 32, 3});
  uint64_t s = 42;
  for (float& v : x.values<float>()) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<float>((s >> 40) * 0x1.0p-24);
  }
  return x;
}

inline void print_output(const brine::Tensor& y) {
  fmt::print("output shape {}\n", brine::shape_string(y.shape()));
  for (int64_t i = 0; i < y.dim(0); ++i) {
    fmt::print(" [");
    for (int64_t j = 0; j < y.dim(1); ++j) fmt::print("{}{: .8f}", j ? ", " : "", y.at_flat(i * y.dim(1) + j));
    fmt::print("]\n");
  }
}
