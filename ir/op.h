// The op enum and its per-op facts, generated from ir/op_list.h.
#pragma once

#include <optional>
#include <string_view>

#include "ir/op_list.h"

namespace brine::ir {

enum class Op : uint8_t {
#define X(e, n, k, a, f) e,
  BRINE_FOR_EACH_OP(X)
#undef X
};

inline constexpr int kNumOps = 0
#define X(e, n, k, a, f) +1
    BRINE_FOR_EACH_OP(X)
#undef X
    ;

// How an op takes part in fusion (after TVM's OpPatternKind). The fusion pass
// reads only this. Leaf: inputs, parameters, constants (no kernel). View: a
// reshape of a row-major buffer, executed as an alias, never a kernel.
// Scan: a recurrence along one axis (the time axis of an LSTM); its kernel
// computes one step per call, reading its own earlier steps, and the runtime
// calls it once per step. It fuses with nothing.
enum class FusionKind : uint8_t {
  Leaf, Elementwise, Broadcast, Injective, Reduction, OutElementwiseFusable, Opaque, Scan, View
};

enum class Family : uint8_t {
#define X(f) f,
  BRINE_FOR_EACH_FAMILY(X)
#undef X
};

struct OpInfo {
  Op op;
  std::string_view name;
  FusionKind kind;
  int arity;  // -1: variadic (at least one input)
  Family family;
};

const OpInfo& op_info(Op op);
inline std::string_view op_name(Op op) { return op_info(op).name; }
std::optional<Op> op_from_name(std::string_view name);
std::string_view fusion_kind_name(FusionKind k);

}  // namespace brine::ir
