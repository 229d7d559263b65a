// The strides of views (codegen/fusion.h): a slice read in place has its
// base's strides, a reshape strides that follow from its input's (or none:
// then it would need a copy). Found with every dynamic size replaced by a
// probe value, a distinct prime larger than any static extent (so that it
// divides none: products of sizes agree only where they agree
// symbolically); a stride that differs between the two probes (`which` = 0
// or 1, disjoint primes) depends on a dynamic size.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ir/graph.h"

namespace brine::codegen {

class StrideProbe {
 public:
  // `view`: node id -> read in place from its input's buffer.
  StrideProbe(const ir::Graph& g, const std::vector<bool>& view, int which = 0);

  std::vector<int64_t> extents(int id) const;
  static std::vector<int64_t> dense(const std::vector<int64_t>& extents);
  // The node's buffer's strides (outermost first), nullopt if a view on the
  // way cannot be read in place.
  std::optional<std::vector<int64_t>> strides(int id) const;
  // A reshape view's strides as a function of its input's
  // (rt::reshape_recipe), the same for every value of the dynamic sizes.
  std::optional<std::vector<int32_t>> reshape_recipe(int id) const;

 private:
  const ir::Graph& g_;
  const std::vector<bool>& view_;
  std::vector<std::string> symbols_;
  std::vector<int64_t> primes_;
};

}  // namespace brine::codegen
