// The per-op rules that need no Halide: shape/type inference and the
// double-precision reference evaluation (the test oracle). Dispatch over the
// op list lives in ops/registry.cpp; each family implements them in its file.
#pragma once

#include <span>
#include <vector>

#include "ir/graph.h"
#include "runtime/error.h"

namespace brine::ops {

// A shape rule's complaint. The caller (DSL builder, verifier) prefixes it
// with the layer / node and source location.
struct ShapeError : Error {
  using Error::Error;
};

// The reference evaluator's tensors: row-major doubles.
struct RefTensor {
  std::vector<int64_t> shape;
  std::vector<double> data;
  int64_t size() const { return static_cast<int64_t>(data.size()); }
};

// A case for the op sweep (tests/op_sweep_test.cpp): one Input per shape
// (symbolic dims are bound to awkward sizes: 1, 15, 17, 33), and the attrs.
struct OpSample {
  std::string label;
  std::vector<ir::Shape> inputs;
  ir::Attrs attrs;
  bool positive = false;     // draw inputs from [0.5, 2) (log, sqrt)
  int64_t integer_below = 0; // draw integers in [0, integer_below) (class ids); not differentiable
  bool differentiable = true; // false: the op has no VJP (a backward-only op) and says so
  // A large sample for a path of the tuned schedule (wide register tiles):
  // the op sweep runs it under `tuned` only and the VJP checks (finite
  // differences per element) skip it; the small samples cover the other
  // schedules and the same VJP rules.
  bool tuned_only = false;
};

ir::TensorType infer(const ir::Node& n, std::span<const ir::TensorType> in);
std::vector<OpSample> samples(ir::Op op);
RefTensor reference(const ir::Node& n, std::span<const RefTensor* const> in);

// Shared shape helpers.
int normalize_axis(int64_t axis, int rank, const char* what);  // throws ShapeError
ir::Shape broadcast_shapes(const ir::Shape& a, const ir::Shape& b);  // NumPy rules
std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape);
int64_t ref_elements(const std::vector<int64_t>& shape);
// The static f64 types of reference tensors, for rules that check shapes
// the same way in infer and reference.
std::vector<ir::TensorType> ref_types(std::span<const RefTensor* const> in);

}  // namespace brine::ops
