// Dispatch from the op list to the op families, and the compile-time check
// that every family implements every rule.
#include "ops/registry.h"

#include <Halide.h>

#include <concepts>

#include "codegen/lower_ctx.h"
#include "ir/builder.h"
#include "ops/binary.h"
#include "ops/conv.h"
#include "ops/layout.h"
#include "ops/leaf.h"
#include "ops/matmul.h"
#include "ops/pool.h"
#include "ops/recurrent.h"
#include "ops/reduce.h"
#include "ops/softmax.h"
#include "ops/unary.h"

namespace brine::ops {

// A family that lacks a rule does not compile (STYLE: let the compiler say an
// op is incomplete).
template <typename F>
concept OpFamily = requires(const ir::Node& n, std::span<const ir::TensorType> t,
                            std::span<const RefTensor* const> r, codegen::LowerCtx& lc,
                            codegen::ScheduleCtx& sc, ir::GraphBuilder& gb) {
  { F::infer(n, t) } -> std::same_as<ir::TensorType>;
  { F::reference(n, r) } -> std::same_as<RefTensor>;
  { F::lower(lc, n) } -> std::same_as<Halide::Func>;
  { F::schedule(sc) } -> std::same_as<void>;
  { F::samples(n.op) } -> std::same_as<std::vector<OpSample>>;
  { F::vjp(gb, n, 0) } -> std::same_as<std::vector<int>>;
};
#define X(f) static_assert(OpFamily<f>, #f " does not implement every op rule");
BRINE_FOR_EACH_FAMILY(X)
#undef X

ir::TensorType infer(const ir::Node& n, std::span<const ir::TensorType> in) {
  switch (ir::op_info(n.op).family) {
#define X(f) case ir::Family::f: return f::infer(n, in);
    BRINE_FOR_EACH_FAMILY(X)
#undef X
  }
  internal_error("unknown op family");
}

std::vector<OpSample> samples(ir::Op op) {
  switch (ir::op_info(op).family) {
#define X(f) case ir::Family::f: return f::samples(op);
    BRINE_FOR_EACH_FAMILY(X)
#undef X
  }
  internal_error("unknown op family");
}

std::vector<int> vjp(ir::GraphBuilder& b, const ir::Node& n, int g) {
  switch (ir::op_info(n.op).family) {
#define X(f) case ir::Family::f: return f::vjp(b, n, g);
    BRINE_FOR_EACH_FAMILY(X)
#undef X
  }
  internal_error("unknown op family");
}

RefTensor reference(const ir::Node& n, std::span<const RefTensor* const> in) {
  switch (ir::op_info(n.op).family) {
#define X(f) case ir::Family::f: return f::reference(n, in);
    BRINE_FOR_EACH_FAMILY(X)
#undef X
  }
  internal_error("unknown op family");
}

Halide::Func lower(codegen::LowerCtx& ctx, const ir::Node& n) {
  switch (ir::op_info(n.op).family) {
#define X(f) case ir::Family::f: return f::lower(ctx, n);
    BRINE_FOR_EACH_FAMILY(X)
#undef X
  }
  internal_error("unknown op family");
}

void schedule_tuned(codegen::ScheduleCtx& s) {
  switch (ir::op_info(s.anchor.op).family) {
#define X(f) case ir::Family::f: f::schedule(s); return;
    BRINE_FOR_EACH_FAMILY(X)
#undef X
  }
  internal_error("unknown op family");
}

}  // namespace brine::ops
