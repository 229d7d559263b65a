#include <fmt/format.h>

#include "ops/rules.h"

namespace brine::ops {

int normalize_axis(int64_t axis, int rank, const char* what) {
  if (axis < -rank || axis >= std::max(rank, 1))
    throw ShapeError(fmt::format("{} {} is out of range for a tensor of rank {} (valid: {} to {})",
                                 what, axis, rank, -rank, rank - 1));
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

ir::Shape broadcast_shapes(const ir::Shape& a, const ir::Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  ir::Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const bool ha = i < a.size(), hb = i < b.size();
    const ir::Dim da = ha ? a[a.size() - 1 - i] : ir::Dim(1);
    const ir::Dim db = hb ? b[b.size() - 1 - i] : ir::Dim(1);
    ir::Dim d;
    if (da == db) d = da;
    else if (da.is_static() && da.size == 1) d = db;
    else if (db.is_static() && db.size == 1) d = da;
    else
      throw ShapeError(fmt::format("cannot broadcast shapes {} and {}: dimension {} vs {}",
                                   ir::shape_str(a), ir::shape_str(b), da.str(), db.str()));
    out[r - 1 - i] = d;
  }
  return out;
}

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

int64_t ref_elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<ir::TensorType> ref_types(std::span<const RefTensor* const> in) {
  std::vector<ir::TensorType> types;
  for (const RefTensor* r : in) {
    ir::TensorType t{DType::F64, {}};
    for (int64_t s : r->shape) t.shape.push_back(s);
    types.push_back(std::move(t));
  }
  return types;
}

}  // namespace brine::ops
