// reduce_sum / reduce_mean / reduce_max over a set of axes, with keepdims.
// The IR always lists the axes explicitly (the DSL expands "all axes").
#include "ops/reduce.h"

#include <Halide.h>
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "codegen/lower_ctx.h"
#include "ir/builder.h"

namespace brine::ops {

namespace {
std::vector<bool> reduced_mask(const ir::Node& n, int rank) {
  std::vector<bool> mask(rank, false);
  for (int64_t a : n.attrs.axes) {
    const int ax = normalize_axis(a, rank, "reduction axis");
    if (mask[ax]) throw ShapeError(fmt::format("reduction axis {} is listed twice", ax));
    mask[ax] = true;
  }
  return mask;
}
}  // namespace

ir::TensorType Reduce::infer(const ir::Node& n, std::span<const ir::TensorType> in) {
  const ir::Shape& s = in[0].shape;
  const auto mask = reduced_mask(n, static_cast<int>(s.size()));
  ir::Shape out;
  for (size_t a = 0; a < s.size(); ++a) {
    if (!mask[a]) out.push_back(s[a]);
    else if (n.attrs.keepdims) out.push_back(1);
  }
  return {in[0].dtype, out};
}

RefTensor Reduce::reference(const ir::Node& n, std::span<const RefTensor* const> in) {
  const RefTensor& x = *in[0];
  const int rank = static_cast<int>(x.shape.size());
  const auto mask = reduced_mask(n, rank);
  std::vector<int64_t> kept;  // output shape with keepdims, then squeezed at the end
  for (int a = 0; a < rank; ++a) kept.push_back(mask[a] ? 1 : x.shape[a]);
  const bool is_max = n.op == ir::Op::ReduceMax;
  RefTensor out{kept, std::vector<double>(ref_elements(kept),
                                          is_max ? -std::numeric_limits<double>::infinity() : 0.0)};
  const auto xs = row_major_strides(x.shape), os = row_major_strides(kept);
  for (int64_t f = 0; f < x.size(); ++f) {
    int64_t o = 0;
    for (int a = 0; a < rank; ++a)
      if (!mask[a]) o += ((f / xs[a]) % x.shape[a]) * os[a];
    out.data[o] = is_max ? std::max(out.data[o], x.data[f]) : out.data[o] + x.data[f];
  }
  if (n.op == ir::Op::ReduceMean) {
    const double count = static_cast<double>(x.size()) / static_cast<double>(std::max<int64_t>(out.size(), 1));
    for (double& v : out.data) v /= count;
  }
  out.shape.clear();
  for (int a = 0; a < rank; ++a)
    if (!mask[a] || n.attrs.keepdims) out.shape.push_back(kept[a]);
  return out;
}

Halide::Func Reduce::lower(codegen::LowerCtx& ctx, const ir::Node& n) {
  using namespace Halide;
  const ir::Shape& s = ctx.in_type(n, 0).shape;
  const int rank = static_cast<int>(s.size());
  const auto mask = reduced_mask(n, rank);
  std::vector<Var> ov = codegen::axis_vars(n.type.rank());
  // RDom dims innermost first, so the reduction walks memory in order.
  Region ranges;
  std::vector<int> raxes;
  for (int a = rank - 1; a >= 0; --a)
    if (mask[a]) {
      ranges.emplace_back(0, ctx.extent(s[a]));
      raxes.push_back(a);
    }
  RDom r(ranges, "r");
  std::vector<Expr> idx(rank);
  Expr count = cast(ctx.type, 1);
  for (int a = 0, o = 0; a < rank; ++a) {
    if (mask[a]) {
      const int j = static_cast<int>(std::find(raxes.begin(), raxes.end(), a) - raxes.begin());
      idx[a] = r[j];
      count = count * cast(ctx.type, ctx.extent(s[a]));
      if (n.attrs.keepdims) ++o;
    } else {
      idx[a] = ov[o++];
    }
  }
  const Expr x = codegen::at(ctx.in(n, 0), idx);
  Func acc(codegen::func_name(n, "_acc"));
  if (n.op == ir::Op::ReduceMax) {
    codegen::at(acc, ov) = ctx.type.min();
    codegen::at(acc, ov) = max(codegen::at(acc, ov), x);
  } else {
    codegen::at(acc, ov) = cast(ctx.type, 0);
    codegen::at(acc, ov) += x;
  }
  ctx.stages[n.id] = {acc};
  Func out{codegen::func_name(n)};
  codegen::at(out, ov) = n.op == ir::Op::ReduceMean ? codegen::at(acc, ov) / count : Expr(codegen::at(acc, ov));
  return out;
}

// Each vector of outputs accumulates in registers across the reduction;
// reductions over the innermost axis read their input with strided gathers,
// which is acceptable for the small reductions of losses and normalizations.
void Reduce::schedule(codegen::ScheduleCtx& s) {
  using namespace Halide;
  Func acc = s.lower.stages.at(s.anchor.id)[0];
  const int rank = static_cast<int>(s.out_vars.size());
  if (rank == 0) {
    // A whole tensor to one number (a loss): serial scalar code took 3.1 ms
    // for 1.6M elements. Partial sums instead, one vector of them per chunk
    // of the outermost axis (chunks in parallel), summed at the end.
    acc.compute_root();
    const ir::Shape& in_shape = s.lower.in_type(s.anchor, 0).shape;
    const int v = s.vector_width;
    if (in_shape.size() >= 2 && in_shape.back().is_static() && in_shape.back().size % v == 0) {
      const std::vector<RVar> r = codegen::update_rvars(acc);
      RVar ro("ro"), ri("ri");
      Var lane("lane"), part("part");
      Func partial = acc.update().split(r[0], ro, ri, v).rfactor({{ri, lane}, {r.back(), part}});
      partial.compute_root().vectorize(lane);
      Expr total = 1;
      for (const ir::Dim& d : in_shape) total = total * s.lower.extent(d);
      partial.update().vectorize(lane).specialize(total >= (1 << 16)).parallel(part);
    }
    return;
  }
  const ir::Shape& in_shape = s.lower.in_type(s.anchor, 0).shape;
  const int v0 = s.vector_width;
  std::vector<int64_t> leading_axes;
  for (size_t a = 0; a + 1 < in_shape.size(); ++a) leading_axes.push_back(static_cast<int64_t>(a));
  std::vector<int64_t> axes = s.anchor.attrs.axes;
  for (int64_t& a : axes)
    if (a < 0) a += static_cast<int64_t>(in_shape.size());
  std::sort(axes.begin(), axes.end());
  if (rank == 1 && s.anchor.op == ir::Op::ReduceSum && !leading_axes.empty() && axes == leading_axes &&
      in_shape.back().is_static() && in_shape.back().size % v0 == 0) {
    // Column sums (a bias gradient: every axis but the last). One column
    // vector at a time read the input with a stride of a row, once per
    // vector: 1.7 ms for lstm256's (64, 50, 1024). Here the rows stream in
    // order into a row of sums, in chunks of 8 along the outermost axis,
    // each chunk its own partial row (in parallel), then summed.
    Var x = s.out_vars[0], part("part");
    const std::vector<RVar> r = codegen::update_rvars(acc);
    RVar ro("ro"), ri("ri");
    Func partial = acc.update().split(r.back(), ro, ri, 8, TailStrategy::GuardWithIf).rfactor(ro, part);
    acc.compute_root().vectorize(x, v0);
    acc.update().vectorize(x, v0);
    std::vector<VarOrRVar> order{x};
    order.insert(order.end(), r.begin(), r.end() - 1);
    order.push_back(ri);
    order.push_back(part);
    partial.compute_root().vectorize(x, v0);
    partial.update().reorder(order).vectorize(x, v0).specialize(s.lower.extent(in_shape[0]) > 8).parallel(part);
    s.out.vectorize(x, v0);
    return;
  }
  // A short static output row (the 8 bias gradients of a conv or Dense on an
  // image) is one exact vector: guarding a 16-lane vector down to 8 lanes
  // made scalar code (26 µs for 32K inputs; exact: ~5).
  int v = s.vector_width;
  const ir::Dim& last = s.anchor.type.shape.back();
  if (last.is_static())
    while (v > 4 && last.size < v) v /= 2;
  Var x = s.out_vars[rank - 1], xo("xo"), xi("xi");
  s.out.split(x, xo, xi, v, TailStrategy::GuardWithIf).vectorize(xi);
  // Parallel over the outer axis only when the input is large enough to pay
  // for the fork-join (same threshold as softmax).
  Expr in_total = 1;
  for (const ir::Dim& d : in_shape) in_total = in_total * s.lower.extent(d);
  if (rank >= 2) s.out.specialize(in_total >= (1 << 16)).parallel(s.out_vars[0]);
  acc.compute_at(s.out, xo).vectorize(x, v, TailStrategy::GuardWithIf);
  acc.update().vectorize(x, v, TailStrategy::GuardWithIf);
}

std::vector<OpSample> Reduce::samples(ir::Op) {
  ir::Attrs last, first_keep, all, middle, leading, first;
  last.axes = {-1};
  first_keep.axes = {0};
  first_keep.keepdims = true;
  all.axes = {0, 1, 2};
  middle.axes = {1};
  leading.axes = {0, 1};
  first.axes = {0};
  return {{"last axis", {{"N", 17}}, last},
          {"batch axis, keepdims", {{"N", 33}}, first_keep},
          {"all axes", {{"N", 3, 5}}, all},
          {"all axes, rows of 16 (parallel vector partial sums)", {{"N", 3, 16}}, all},
          {"middle axis", {{"N", 15, 17}}, middle},
          {"column sums over two axes (a bias gradient on sequences)", {{"N", 3, 32}}, leading},
          {"column sums, rows of one vector", {{"N", 16}}, first}};
}

// y = reduce(x), g = dL/dy (shape of y). g is first given the keepdims shape.
//   sum:  dx = broadcast(g)
//   mean: dx = broadcast(g) / count
//   max:  dx = broadcast(g) * [x == max] / (number of maxima): ties share the
//         gradient equally (TensorFlow's convention).
std::vector<int> Reduce::vjp(ir::GraphBuilder& b, const ir::Node& n, int g) {
  const int x = n.inputs[0];
  const ir::Shape xs = b.shape(x);
  const auto mask = reduced_mask(n, static_cast<int>(xs.size()));
  ir::Shape keep;
  bool static_count = true;
  double count = 1;
  for (size_t a = 0; a < xs.size(); ++a) {
    keep.push_back(mask[a] ? ir::Dim(1) : xs[a]);
    if (mask[a]) {
      static_count &= xs[a].is_static();
      count *= static_cast<double>(xs[a].size);
    }
  }
  const int g_keep = b.reshape(g, keep);
  std::vector<int64_t> axes;
  for (size_t a = 0; a < xs.size(); ++a)
    if (mask[a]) axes.push_back(static_cast<int64_t>(a));
  switch (n.op) {
    case ir::Op::ReduceSum: return {b.broadcast_like(g_keep, x)};
    case ir::Op::ReduceMean: {
      // A symbolic count (a mean over the batch) is counted at run time.
      const int c = static_count ? b.constant_like(count, x)
                                 : b.reduce_sum(b.broadcast_like(b.constant_like(1, x), x), axes, true);
      return {b.broadcast_like(b.div(g_keep, c), x)};
    }
    case ir::Op::ReduceMax: {
      const int y_keep = b.reshape(n.id, keep);
      const int is_max = b.op(ir::Op::Equal, {x, y_keep});
      const int ties = b.reduce_sum(is_max, axes, true);
      return {b.mul(is_max, b.broadcast_like(b.div(g_keep, ties), x))};
    }
    default: break;
  }
  internal_error("not a reduce op");
}

}  // namespace brine::ops
