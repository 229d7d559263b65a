// The example's input: by default 4 samples of 32x32x3, uniform in [0, 1)
// (like np.random.rand), from a fixed seed so that the JIT and AOT programs
// see the same batch.
#pragma once
#include <cstdint>
#include <vector>
#include <fmt/format.h>
#include "runtime/tensor.h"

inline brine::Tensor example_batch(std::vector<int64_t> shape = {4, 32, 32, 3}) {
  brine::Tensor x(shape);
  uint64_t s = 42;
  for (float& v : x.values<float>()) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<float>((s >> 40) * 0x1.0p-24);
  }
  return x;
}

// One line per row of the last axis.
inline void print_output(const brine::Tensor& y, const char* label = "output") {
  fmt::print("{} shape {}\n", label, brine::shape_string(y.shape()));
  const int64_t row = y.shape().back();
  for (int64_t i = 0; i < y.size() / row; ++i) {
    fmt::print(" [");
    for (int64_t j = 0; j < row; ++j) fmt::print("{}{: .8f}", j ? ", " : "", y.at_flat(i * row + j));
    fmt::print("]\n");
  }
}
