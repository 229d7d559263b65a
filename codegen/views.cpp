#include "codegen/views.h"

#include <algorithm>

#include "runtime/program.h"

namespace brine::codegen {

StrideProbe::StrideProbe(const ir::Graph& g, const std::vector<bool>& view, int which)
    : g_(g), view_(view), symbols_(g.symbols()) {
  int64_t largest = 1000;
  for (const ir::Node& n : g.nodes)
    for (const ir::Dim& d : n.type.shape)
      if (d.is_static()) largest = std::max(largest, d.size);
  std::vector<int64_t> primes;
  for (int64_t c = largest + 1; primes.size() < 2 * symbols_.size(); ++c) {
    bool prime = true;
    for (int64_t d = 2; d * d <= c && prime; ++d) prime = c % d != 0;
    if (prime) primes.push_back(c);
  }
  primes_.assign(primes.begin() + which * symbols_.size(), primes.begin() + (which + 1) * symbols_.size());
}

std::vector<int64_t> StrideProbe::extents(int id) const {
  std::vector<int64_t> e;
  for (const ir::Dim& d : g_.node(id).type.shape)
    e.push_back(d.is_static() ? d.size : primes_[std::find(symbols_.begin(), symbols_.end(), d.sym) - symbols_.begin()]);
  return e;
}

std::vector<int64_t> StrideProbe::dense(const std::vector<int64_t>& e) {
  std::vector<int64_t> s(e.size(), 1);
  for (size_t a = e.size(); a-- > 1;) s[a - 1] = s[a] * e[a];
  return s;
}

std::optional<std::vector<int64_t>> StrideProbe::strides(int id) const {
  const ir::Node& n = g_.node(id);
  if (!view_[id]) return dense(extents(id));
  const auto base = strides(n.inputs[0]);
  if (!base || n.op == ir::Op::Slice) return base;
  return rt::reshaped_strides(extents(n.inputs[0]), *base, extents(id));
}

std::optional<std::vector<int32_t>> StrideProbe::reshape_recipe(int id) const {
  const int in = g_.node(id).inputs[0];
  const auto base = strides(in);
  if (!base) return std::nullopt;
  return rt::reshape_recipe(extents(in), *base, extents(id));
}

}  // namespace brine::codegen
