// Helpers shared by the tests: random tensors, conversions between the
// runtime's tensors and the reference evaluator's, and closeness checks.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ops/rules.h"
#include "runtime/tensor.h"

namespace brine::test {

inline double uniform(uint64_t& s) {
  s = s * 6364136223846793005ull + 1442695040888963407ull;
  return static_cast<double>(s >> 11) * 0x1.0p-53;
}

inline Tensor random_tensor(const std::vector<int64_t>& shape, DType dtype, uint64_t seed, double lo = -2.0,
                            double hi = 2.0) {
  Tensor t(shape, dtype);
  for (int64_t i = 0; i < t.size(); ++i) {
    const double v = lo + (hi - lo) * uniform(seed);
    if (dtype == DType::F32) t.data<float>()[i] = static_cast<float>(v);
    else t.data<double>()[i] = v;
  }
  return t;
}

// Inputs for an op sweep sample: uniform in [-2, 2), [0.5, 2) for positive
// samples, or integers in [0, integer_below) for class ids (one of them out
// of range when integer_below exceeds the depth).
inline Tensor sample_tensor(const ops::OpSample& s, const std::vector<int64_t>& shape, DType dtype, uint64_t seed) {
  if (s.integer_below > 0) {
    Tensor t = random_tensor(shape, dtype, seed, 0, static_cast<double>(s.integer_below));
    for (int64_t i = 0; i < t.size(); ++i) {
      if (dtype == DType::F32) t.data<float>()[i] = std::floor(t.data<float>()[i]);
      else t.data<double>()[i] = std::floor(t.data<double>()[i]);
    }
    return t;
  }
  return s.positive ? random_tensor(shape, dtype, seed, 0.5, 2.0) : random_tensor(shape, dtype, seed);
}

inline ops::RefTensor to_ref(const Tensor& t) {
  ops::RefTensor r{t.shape(), std::vector<double>(t.size())};
  for (int64_t i = 0; i < t.size(); ++i) r.data[i] = t.at_flat(i);
  return r;
}

// |got - want| <= atol + rtol * |want|, elementwise; atol scales with the
// largest reference magnitude so that sums of many terms are judged fairly.
inline ::testing::AssertionResult close(const Tensor& got, const ops::RefTensor& want, double rtol, double atol) {
  if (got.shape() != want.shape)
    return ::testing::AssertionFailure() << "shape " << shape_string(got.shape()) << " != reference "
                                         << shape_string(want.shape);
  double scale = 1.0;
  for (double v : want.data) scale = std::max(scale, std::abs(v));
  for (int64_t i = 0; i < got.size(); ++i) {
    const double g = got.at_flat(i), w = want.data[i];
    if (!(std::abs(g - w) <= atol * scale + rtol * std::abs(w)))
      return ::testing::AssertionFailure() << "element " << i << " of " << shape_string(got.shape()) << ": got " << g
                                           << ", reference " << w;
  }
  return ::testing::AssertionSuccess();
}

// Asserts that `stmt` throws brine::Error whose message contains every piece.
#define EXPECT_BRINE_ERROR(stmt, ...)                                                          \
  do {                                                                                          \
    try {                                                                                       \
      stmt;                                                                                     \
      ADD_FAILURE() << "expected brine::Error from: " #stmt;                                   \
    } catch (const ::brine::InternalError& e) {                                                \
      ADD_FAILURE() << "internal error instead of a user error: " << e.what();                 \
    } catch (const ::brine::Error& e) {                                                         \
      const std::string msg = e.what();                                                         \
      for (const std::string& piece : std::initializer_list<std::string>{__VA_ARGS__})          \
        EXPECT_NE(msg.find(piece), std::string::npos) << "message lacks \"" << piece << "\":\n" << msg; \
    }                                                                                           \
  } while (0)

}  // namespace brine::test
