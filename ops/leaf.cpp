// Leaves: model inputs, parameters (weights) and scalar constants. Inputs and
// parameters are buffers the runtime provides; constants are folded into
// every kernel that reads them.
#include "ops/leaf.h"

#include <Halide.h>
#include <fmt/format.h>

#include "codegen/lower_ctx.h"

namespace brine::ops {

ir::TensorType Leaf::infer(const ir::Node& n, std::span<const ir::TensorType>) {
  switch (n.op) {
    case ir::Op::Input:
    case ir::Op::Param:
      for (const ir::Dim& d : n.type.shape) {
        if (d.is_static() && d.size < 1)
          throw ShapeError(fmt::format("{} '{}' has shape {}: every dimension must be at least 1",
                                       ir::op_name(n.op), n.attrs.name, ir::shape_str(n.type.shape)));
        if (!d.is_static() && n.op == ir::Op::Param)
          throw ShapeError(fmt::format("param '{}' has shape {}: parameters must have static shapes",
                                       n.attrs.name, ir::shape_str(n.type.shape)));
      }
      if (n.attrs.name.empty()) throw ShapeError(fmt::format("{} has no name", ir::op_name(n.op)));
      return n.type;
    case ir::Op::Constant:
      return {n.type.dtype, {}};
    default: break;
  }
  internal_error("Leaf::infer on a non-leaf op");
}

RefTensor Leaf::reference(const ir::Node& n, std::span<const RefTensor* const>) {
  BRINE_CHECK_INTERNAL(n.op == ir::Op::Constant, "inputs and params are bound by the evaluator");
  return {{}, {n.attrs.value}};
}

Halide::Func Leaf::lower(codegen::LowerCtx& ctx, const ir::Node& n) {
  BRINE_CHECK_INTERNAL(n.op == ir::Op::Constant, "inputs and params are kernel arguments");
  Halide::Func c("constant");
  c() = Halide::cast(ctx.type, Halide::Expr(n.attrs.value));
  return c;
}

void Leaf::schedule(codegen::ScheduleCtx&) { internal_error("a leaf never anchors a kernel"); }

std::vector<OpSample> Leaf::samples(ir::Op op) {
  switch (op) {
    case ir::Op::Input: return {{"identity model", {{"N", 17}}, {}}};
    case ir::Op::Param: return {{"parameter as output", {{15, 33}}, {}}};
    case ir::Op::Constant: {
      ir::Attrs a;
      a.value = -2.5;
      return {{"x + constant", {{"N", 17}}, a}};
    }
    default: break;
  }
  return {};
}

std::vector<int> Leaf::vjp(ir::GraphBuilder&, const ir::Node&, int) { return {}; }

}  // namespace brine::ops
