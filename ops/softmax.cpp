// softmax along one axis, computed as exp(x - max) / sum(exp(x - max)).
// Its own op rather than a composition of reduce_max/sub/exp/reduce_sum/div:
// as one kernel it reads its input once and keeps each row's exponentials in
// cache, where the composition makes four kernels and three round trips
// through memory.
#include "ops/softmax.h"

#include <Halide.h>

#include <cmath>

#include "codegen/lower_ctx.h"
#include "ir/builder.h"

namespace brine::ops {

ir::TensorType Softmax::infer(const ir::Node& n, std::span<const ir::TensorType> in) {
  if (n.attrs.axes.size() != 1) throw ShapeError("softmax takes exactly one axis");
  if (in[0].rank() == 0) throw ShapeError("softmax of a scalar (rank 0) is undefined");
  normalize_axis(n.attrs.axes[0], in[0].rank(), "softmax axis");
  return in[0];
}

RefTensor Softmax::reference(const ir::Node& n, std::span<const RefTensor* const> in) {
  const RefTensor& x = *in[0];
  const int rank = static_cast<int>(x.shape.size());
  const int axis = normalize_axis(n.attrs.axes[0], rank, "softmax axis");
  const int64_t len = x.shape[axis];
  const int64_t inner = row_major_strides(x.shape)[axis];
  const int64_t outer = x.size() / (len * inner);
  RefTensor out = x;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * len * inner + i;
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < len; ++j) mx = std::max(mx, x.data[base + j * inner]);
      for (int64_t j = 0; j < len; ++j) sum += std::exp(x.data[base + j * inner] - mx);
      for (int64_t j = 0; j < len; ++j) out.data[base + j * inner] = std::exp(x.data[base + j * inner] - mx) / sum;
    }
  return out;
}

Halide::Func Softmax::lower(codegen::LowerCtx& ctx, const ir::Node& n) {
  using namespace Halide;
  const int rank = n.type.rank();
  const int axis = normalize_axis(n.attrs.axes[0], rank, "softmax axis");
  std::vector<Var> v = codegen::axis_vars(rank);
  std::vector<Var> row = v;  // the vars of one row's statistics: all but the axis
  row.erase(row.begin() + axis);
  RDom j(0, ctx.extent(n.type.shape[axis]), "j");
  std::vector<Expr> along(v.begin(), v.end());
  along[axis] = j;
  const Func& x = ctx.in(n, 0);

  Func mx(codegen::func_name(n, "_max")), e(codegen::func_name(n, "_exp")), sum(codegen::func_name(n, "_sum")),
      out(codegen::func_name(n));
  codegen::at(mx, row) = ctx.type.min();
  codegen::at(mx, row) = max(codegen::at(mx, row), codegen::at(x, along));
  codegen::at(e, v) = exp(codegen::at(x, v) - codegen::at(mx, row));
  codegen::at(sum, row) = cast(ctx.type, 0);
  codegen::at(sum, row) += codegen::at(e, along);
  codegen::at(out, v) = codegen::at(e, v) / codegen::at(sum, row);
  ctx.stages[n.id] = {mx, e, sum};
  return out;
}

// Softmax over the innermost axis (the common case): one row at a time, its
// exponentials computed once, vectorized, and kept in cache for the sum and
// the normalization. Other axes: statistics at root, output vectorized.
void Softmax::schedule(codegen::ScheduleCtx& s) {
  using namespace Halide;
  const auto& st = s.lower.stages.at(s.anchor.id);
  Func mx = st[0], e = st[1], sum = st[2];
  const int rank = static_cast<int>(s.out_vars.size());
  const int axis = normalize_axis(s.anchor.attrs.axes[0], rank, "softmax axis");
  const int v = s.vector_width;
  Var x = s.out_vars[rank - 1];
  s.out.vectorize(x, v, TailStrategy::GuardWithIf);
  if (axis == rank - 1 && rank >= 2) {
    Var rowv = s.out_vars[rank - 2];
    for (Func f : {mx, e, sum}) f.compute_at(s.out, rowv);
    e.vectorize(x, v, TailStrategy::GuardWithIf);
    // Rows in parallel only when there is enough work to pay for the
    // fork-join: a 256 x 10 softmax took 10.5 µs parallel (see
    // docs/scheduling.md).
    Expr total = 1;
    for (int d = 0; d < rank; ++d) total = total * s.out.output_buffer().dim(d).extent();
    s.out.specialize(total >= (1 << 16)).parallel(s.out_vars[0]);
  } else {
    for (Func f : {mx, e, sum}) f.compute_root();
    e.vectorize(x, v, TailStrategy::GuardWithIf);
    if (axis != rank - 1) {
      mx.vectorize(x, v, TailStrategy::GuardWithIf);
      mx.update().vectorize(x, v, TailStrategy::GuardWithIf);
      sum.vectorize(x, v, TailStrategy::GuardWithIf);
      sum.update().vectorize(x, v, TailStrategy::GuardWithIf);
    }
  }
}

std::vector<OpSample> Softmax::samples(ir::Op) {
  ir::Attrs last, mid;
  last.axes = {-1};
  mid.axes = {1};
  return {{"last axis", {{"N", 17}}, last}, {"middle axis", {{"N", 15, 3}}, mid}, {"rank 1", {{"N"}}, last}};
}

// y = softmax(x), g = dL/dy:  dx = y (g - sum(g y))  along the axis.
std::vector<int> Softmax::vjp(ir::GraphBuilder& b, const ir::Node& n, int g) {
  const int y = n.id;
  const int axis = normalize_axis(n.attrs.axes[0], n.type.rank(), "softmax axis");
  const int gy = b.mul(g, y);
  return {b.sub(gy, b.mul(y, b.reduce_sum(gy, {axis}, true)))};
}

}  // namespace brine::ops
