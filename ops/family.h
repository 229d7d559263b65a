// The interface every op family implements, in its own file pair. The
// registry checks at compile time that each family in ir/op_list.h has all
// four rules (see OpFamily in ops/registry.cpp).
#pragma once

#include <span>

#include "ops/rules.h"

namespace Halide { class Func; }
namespace brine::codegen { struct LowerCtx; struct ScheduleCtx; }
namespace brine::ir { class GraphBuilder; }

// infer:     the type rule; throws ShapeError with the shapes involved.
// reference: plain loops in double precision, the tests' oracle.
// lower:     the Halide algorithm, reading inputs through ctx.in(n, i).
// schedule:  the `tuned` schedule of a kernel this family anchors.
// samples:   cases for the op sweep, awkward sizes included.
// vjp:       the backward rule in IR ops: given the adjoint g of n's output,
//            the adjoint of each input (-1: none, i.e. zero).
#define BRINE_DECLARE_OP_FAMILY(F)                                                          \
  struct F {                                                                                \
    static ir::TensorType infer(const ir::Node& n, std::span<const ir::TensorType> in);   \
    static RefTensor reference(const ir::Node& n, std::span<const RefTensor* const> in);  \
    static Halide::Func lower(codegen::LowerCtx& ctx, const ir::Node& n);                 \
    static void schedule(codegen::ScheduleCtx& s);                                         \
    static std::vector<OpSample> samples(ir::Op op);                                        \
    static std::vector<int> vjp(ir::GraphBuilder& b, const ir::Node& n, int g);             \
  }
