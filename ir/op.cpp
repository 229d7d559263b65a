#include "ir/op.h"

#include <array>

namespace brine::ir {

namespace {
constexpr std::array<OpInfo, kNumOps> kOps = {{
#define X(e, n, k, a, f) {Op::e, n, FusionKind::k, a, Family::f},
    BRINE_FOR_EACH_OP(X)
#undef X
}};
}  // namespace

const OpInfo& op_info(Op op) { return kOps[static_cast<size_t>(op)]; }

std::optional<Op> op_from_name(std::string_view name) {
  for (const OpInfo& i : kOps)
    if (i.name == name) return i.op;
  return std::nullopt;
}

std::string_view fusion_kind_name(FusionKind k) {
  switch (k) {
    case FusionKind::Leaf: return "leaf";
    case FusionKind::Elementwise: return "elementwise";
    case FusionKind::Broadcast: return "broadcast";
    case FusionKind::Injective: return "injective";
    case FusionKind::Reduction: return "reduction";
    case FusionKind::OutElementwiseFusable: return "out-elementwise-fusable";
    case FusionKind::Opaque: return "opaque";
    case FusionKind::Scan: return "scan";
    case FusionKind::View: return "view";
  }
  return "?";
}

}  // namespace brine::ir
