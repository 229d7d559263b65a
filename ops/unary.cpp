// Unary elementwise math. Each op is a pair of formulas below: the reference
// in double and the Halide expression, side by side.
#include "ops/unary.h"

#include <Halide.h>

#include <cmath>

#include "codegen/lower_ctx.h"
#include "codegen/vector_math.h"
#include "ir/builder.h"

namespace brine::ops {

namespace {

double ref_apply(ir::Op op, double v) {
  switch (op) {
    case ir::Op::Neg: return -v;
    case ir::Op::Exp: return std::exp(v);
    case ir::Op::Log: return std::log(v);
    case ir::Op::Tanh: return std::tanh(v);
    case ir::Op::Sigmoid: return 1.0 / (1.0 + std::exp(-v));
    case ir::Op::Relu: return v > 0 ? v : 0.0;  // kink convention: relu(0) = 0, relu'(0) = 0
    case ir::Op::Sqrt: return std::sqrt(v);
    case ir::Op::Step: return v > 0 ? 1.0 : 0.0;  // step(0) = 0: relu'(0) = 0
    case ir::Op::Abs: return std::abs(v);
    default: break;
  }
  internal_error("not a unary op");
}

Halide::Expr halide_apply(ir::Op op, Halide::Expr v) {
  using namespace Halide;
  switch (op) {
    case ir::Op::Neg: return -v;
    // Halide's fast_exp/fast_log are less accurate than the reference
    // tolerance allows; exp/log lower to vectorized polynomial code anyway.
    // tanh does not (one libm call per lane): codegen/vector_math.h.
    case ir::Op::Exp: return exp(v);
    case ir::Op::Log: return log(v);
    case ir::Op::Tanh: return codegen::vector_tanh(v);
    case ir::Op::Sigmoid: return codegen::vector_sigmoid(v);
    case ir::Op::Relu: return max(v, cast(v.type(), 0));
    case ir::Op::Sqrt: return sqrt(v);
    case ir::Op::Step: return select(v > 0, cast(v.type(), 1), cast(v.type(), 0));
    case ir::Op::Abs: return abs(v);
    default: break;
  }
  internal_error("not a unary op");
}

}  // namespace

ir::TensorType Unary::infer(const ir::Node&, std::span<const ir::TensorType> in) { return in[0]; }

RefTensor Unary::reference(const ir::Node& n, std::span<const RefTensor* const> in) {
  RefTensor out = *in[0];
  for (double& v : out.data) v = ref_apply(n.op, v);
  return out;
}

Halide::Func Unary::lower(codegen::LowerCtx& ctx, const ir::Node& n) {
  std::vector<Halide::Var> v = codegen::axis_vars(n.type.rank());
  Halide::Func f{codegen::func_name(n)};
  codegen::at(f, v) = halide_apply(n.op, codegen::at(ctx.in(n, 0), v));
  return f;
}

void Unary::schedule(codegen::ScheduleCtx& s) { codegen::schedule_pointwise(s); }

std::vector<OpSample> Unary::samples(ir::Op op) {
  const bool positive = op == ir::Op::Log || op == ir::Op::Sqrt;
  return {{"rank 2", {{"N", 17}}, {}, positive},
          {"rank 3, narrow", {{"N", 3, 5}}, {}, positive},
          {"rank 4, short static inner axes (fused)", {{"N", 7, 5, 3}}, {}, positive},
          {"rank 1", {{"N"}}, {}, positive}};
}

// y = f(x), g = dL/dy.
std::vector<int> Unary::vjp(ir::GraphBuilder& b, const ir::Node& n, int g) {
  const int x = n.inputs[0], y = n.id;
  switch (n.op) {
    case ir::Op::Neg: return {b.neg(g)};                                   // d/dx -x = -1
    case ir::Op::Exp: return {b.mul(g, y)};                                // d/dx e^x = e^x = y
    case ir::Op::Log: return {b.div(g, x)};                                // d/dx ln x = 1/x
    case ir::Op::Tanh:                                                     // d/dx tanh x = 1 - y^2
      return {b.mul(g, b.sub(b.constant_like(1, y), b.mul(y, y)))};
    case ir::Op::Sigmoid:                                                  // d/dx s(x) = y (1 - y)
      return {b.mul(b.mul(g, y), b.sub(b.constant_like(1, y), y))};
    // d/dx relu x = step(x), 0 at 0; written step(y) (the same: y > 0 iff
    // x > 0) so that the backward needs only the output and the forward
    // keeps relu fused into its producer's kernel.
    case ir::Op::Relu: return {b.mul(g, b.op(ir::Op::Step, {y}))};
    case ir::Op::Sqrt:                                                     // d/dx sqrt x = 1 / (2 y)
      return {b.div(b.mul(g, b.constant_like(0.5, y)), y)};
    case ir::Op::Step: return {-1};                                        // 0 almost everywhere
    case ir::Op::Abs:                                                      // d/dx |x| = sign x, 0 at 0
      return {b.mul(g, b.sub(b.op(ir::Op::Step, {x}), b.op(ir::Op::Step, {b.neg(x)})))};
    default: break;
  }
  internal_error("not a unary op");
}

}  // namespace brine::ops
