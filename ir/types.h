// Dimensions, shapes and tensor types of the IR. A dimension is either a
// static size or a named symbol ("N" for the batch, "T" for a sequence
// length) bound at run time from the inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace brine::ir {

struct Dim {
  int64_t size = 0;
  std::string sym;  // non-empty: symbolic

  Dim() = default;
  Dim(int64_t s) : size(s) {}                     // NOLINT: implicit by design ({32, 32, 3})
  Dim(int s) : size(s) {}                         // NOLINT
  Dim(const char* name) : sym(name) {}            // NOLINT: {"T", 32}
  Dim(std::string name) : sym(std::move(name)) {} // NOLINT

  bool is_static() const { return sym.empty(); }
  bool operator==(const Dim& o) const { return sym == o.sym && (!sym.empty() || size == o.size); }
  bool operator!=(const Dim& o) const { return !(*this == o); }
  std::string str() const { return sym.empty() ? std::to_string(size) : sym; }
};

using Shape = std::vector<Dim>;

// "(N, 32, 32, 3)" as Keras prints shapes (the batch as N rather than None).
std::string shape_str(const Shape& s);
// "f32[N,32,32,3]" as the text format writes types.
struct TensorType {
  DType dtype = DType::F32;
  Shape shape;
  int rank() const { return static_cast<int>(shape.size()); }
  bool operator==(const TensorType&) const = default;
};
std::string type_str(const TensorType& t);

// Product of a shape's static dims, and whether all dims are static.
int64_t static_elements(const Shape& s);
bool all_static(const Shape& s);

}  // namespace brine::ir
