// Data movement: reshape (also Flatten and expand_dims), transpose, concat,
// slice (one axis; concat's backward).
//
// reshape keeps the row-major order of elements, so the runtime executes it
// as a view of its input's buffer (FusionKind::View): no kernel, no copy. Its
// Halide lowering below (index arithmetic through the flat offset) exists for
// the day a reshape must be fused into a kernel; the op sweep tests it.
#include "ops/layout.h"

#include <Halide.h>
#include <fmt/format.h>

#include <cmath>
#include <numeric>

#include "codegen/lower_ctx.h"
#include "ir/builder.h"

namespace brine::ops {

namespace {

// A reshape target: static sizes, symbols, and at most one -1 (inferred).
// Symbols must match those of the input exactly (as a multiset), so that the
// element counts agree for every value of the symbols.
ir::Shape reshape_target(const ir::Shape& in, const ir::Shape& target) {
  std::vector<std::string> sin, sout;
  for (const ir::Dim& d : in)
    if (!d.is_static()) sin.push_back(d.sym);
  int infer_at = -1;
  int64_t known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    const ir::Dim& d = target[i];
    if (!d.is_static()) sout.push_back(d.sym);
    else if (d.size == -1) {
      if (infer_at >= 0) throw ShapeError(fmt::format("reshape to {}: at most one -1", ir::shape_str(target)));
      infer_at = static_cast<int>(i);
    } else if (d.size < 1) {
      throw ShapeError(fmt::format("reshape to {}: dimension {} must be at least 1 or -1",
                                   ir::shape_str(target), d.size));
    } else {
      known *= d.size;
    }
  }
  std::sort(sin.begin(), sin.end());
  std::sort(sout.begin(), sout.end());
  if (sin != sout)
    throw ShapeError(fmt::format("cannot reshape {} to {}: the symbolic dimensions must be the same on both sides",
                                 ir::shape_str(in), ir::shape_str(target)));
  const int64_t total = static_elements(in);
  ir::Shape out = target;
  if (infer_at >= 0) {
    if (total % known != 0)
      throw ShapeError(fmt::format("cannot reshape {} ({} elements per symbol) to {}", ir::shape_str(in), total,
                                   ir::shape_str(target)));
    out[infer_at] = total / known;
  } else if (known != total) {
    throw ShapeError(fmt::format("cannot reshape {} ({} elements) to {} ({} elements)", ir::shape_str(in), total,
                                 ir::shape_str(target), known));
  }
  return out;
}

std::vector<int> check_perm(const ir::Node& n, int rank) {
  if (static_cast<int>(n.attrs.axes.size()) != rank)
    throw ShapeError(fmt::format("transpose permutation has {} axes for a tensor of rank {}", n.attrs.axes.size(), rank));
  std::vector<int> perm;
  std::vector<bool> seen(rank, false);
  for (int64_t a : n.attrs.axes) {
    const int ax = normalize_axis(a, rank, "transpose axis");
    if (seen[ax]) throw ShapeError(fmt::format("transpose permutation repeats axis {}", ax));
    seen[ax] = true;
    perm.push_back(ax);
  }
  return perm;
}

struct SliceAttrs {
  int axis;
  int64_t start, length;
};

// slice: attrs.axes = {axis, start, length}, the axis static.
SliceAttrs check_slice(const ir::Node& n, const ir::Shape& in) {
  if (n.attrs.axes.size() != 3) throw ShapeError("slice takes axes = {axis, start, length}");
  const int axis = normalize_axis(n.attrs.axes[0], static_cast<int>(in.size()), "slice axis");
  const int64_t start = n.attrs.axes[1], length = n.attrs.axes[2];
  if (!in[axis].is_static())
    throw ShapeError(fmt::format("slice along axis {} of {}: the axis must be static", axis, ir::shape_str(in)));
  if (start < 0 || length < 1 || start + length > in[axis].size)
    throw ShapeError(fmt::format("slice [{}, {}) of axis {} is outside {}", start, start + length, axis,
                                 ir::shape_str(in)));
  return {axis, start, length};
}

}  // namespace

ir::TensorType Layout::infer(const ir::Node& n, std::span<const ir::TensorType> in) {
  switch (n.op) {
    case ir::Op::Reshape: return {in[0].dtype, reshape_target(in[0].shape, n.attrs.shape)};
    case ir::Op::Transpose: {
      const auto perm = check_perm(n, in[0].rank());
      ir::Shape out;
      for (int p : perm) out.push_back(in[0].shape[p]);
      return {in[0].dtype, out};
    }
    case ir::Op::Concat: {
      if (n.attrs.axes.size() != 1) throw ShapeError("concat takes exactly one axis");
      const int rank = in[0].rank();
      const int axis = normalize_axis(n.attrs.axes[0], rank, "concat axis");
      ir::TensorType out = in[0];
      int64_t total = 0;
      for (size_t i = 0; i < in.size(); ++i) {
        if (in[i].rank() != rank || in[i].dtype != in[0].dtype)
          throw ShapeError(fmt::format("concat input {} is {} but input 0 is {}", i, ir::type_str(in[i]), ir::type_str(in[0])));
        for (int a = 0; a < rank; ++a)
          if (a != axis && in[i].shape[a] != in[0].shape[a])
            throw ShapeError(fmt::format("concat along axis {}: input {} has shape {}, input 0 has {} (axis {} differs)",
                                         axis, i, ir::shape_str(in[i].shape), ir::shape_str(in[0].shape), a));
        if (!in[i].shape[axis].is_static())
          throw ShapeError(fmt::format("concat along axis {}: input {} has symbolic size {} on that axis",
                                       axis, i, in[i].shape[axis].str()));
        total += in[i].shape[axis].size;
      }
      out.shape[axis] = total;
      return out;
    }
    case ir::Op::Slice: {
      const SliceAttrs s = check_slice(n, in[0].shape);
      ir::TensorType out = in[0];
      out.shape[s.axis] = s.length;
      return out;
    }
    case ir::Op::OneHot: {
      // Class ids (stored as floats, as labels arrive) -> a new last axis of depth.
      if (n.attrs.axes.size() != 1 || n.attrs.axes[0] < 1)
        throw ShapeError("one_hot takes axes = {depth} with depth >= 1");
      ir::TensorType out = in[0];
      out.shape.push_back(n.attrs.axes[0]);
      return out;
    }
    default: break;
  }
  internal_error("not a layout op");
}

RefTensor Layout::reference(const ir::Node& n, std::span<const RefTensor* const> in) {
  const RefTensor& x = *in[0];
  switch (n.op) {
    case ir::Op::Reshape: {
      // The evaluator passes nodes whose types are concrete (symbols bound).
      RefTensor out = x;
      out.shape.clear();
      for (const ir::Dim& d : n.type.shape) out.shape.push_back(d.size);
      BRINE_CHECK_INTERNAL(ref_elements(out.shape) == x.size(), "reshape reference: element count changed");
      return out;
    }
    case ir::Op::Transpose: {
      const auto perm = check_perm(n, static_cast<int>(x.shape.size()));
      std::vector<int64_t> shape;
      for (int p : perm) shape.push_back(x.shape[p]);
      RefTensor out{shape, std::vector<double>(x.size())};
      const auto xs = row_major_strides(x.shape), os = row_major_strides(shape);
      for (int64_t f = 0; f < out.size(); ++f) {
        int64_t src = 0;
        for (size_t a = 0; a < shape.size(); ++a) src += ((f / os[a]) % shape[a]) * xs[perm[a]];
        out.data[f] = x.data[src];
      }
      return out;
    }
    case ir::Op::Concat: {
      const int rank = static_cast<int>(x.shape.size());
      const int axis = normalize_axis(n.attrs.axes[0], rank, "concat axis");
      std::vector<int64_t> shape = x.shape;
      shape[axis] = 0;
      for (const RefTensor* t : in) shape[axis] += t->shape[axis];
      RefTensor out{shape, {}};
      out.data.reserve(ref_elements(shape));
      const int64_t outer = std::accumulate(shape.begin(), shape.begin() + axis, int64_t{1}, std::multiplies<>());
      for (int64_t o = 0; o < outer; ++o)
        for (const RefTensor* t : in) {
          const int64_t chunk = t->size() / std::max<int64_t>(outer, 1);
          out.data.insert(out.data.end(), t->data.begin() + o * chunk, t->data.begin() + (o + 1) * chunk);
        }
      return out;
    }
    case ir::Op::OneHot: {
      const int64_t depth = n.attrs.axes[0];
      RefTensor out{x.shape, std::vector<double>(x.size() * depth, 0.0)};
      out.shape.push_back(depth);
      for (int64_t i = 0; i < x.size(); ++i) {
        const double c = x.data[i];
        if (c >= 0 && c < static_cast<double>(depth) && c == std::floor(c)) out.data[i * depth + static_cast<int64_t>(c)] = 1;
      }
      return out;
    }
    case ir::Op::Slice: {
      const int axis = normalize_axis(n.attrs.axes[0], static_cast<int>(x.shape.size()), "slice axis");
      const int64_t start = n.attrs.axes[1], length = n.attrs.axes[2];
      const int64_t len = x.shape[axis];
      const int64_t inner = row_major_strides(x.shape)[axis];
      const int64_t outer = x.size() / (len * inner);
      RefTensor out{x.shape, {}};
      out.shape[axis] = length;
      for (int64_t o = 0; o < outer; ++o)
        out.data.insert(out.data.end(), x.data.begin() + (o * len + start) * inner,
                        x.data.begin() + (o * len + start + length) * inner);
      return out;
    }
    default: break;
  }
  internal_error("not a layout op");
}

Halide::Func Layout::lower(codegen::LowerCtx& ctx, const ir::Node& n) {
  using namespace Halide;
  const int rank = n.type.rank();
  std::vector<Var> v = codegen::axis_vars(rank);
  Func out{codegen::func_name(n)};
  switch (n.op) {
    case ir::Op::Reshape: {
      const ir::Shape& is = ctx.in_type(n, 0).shape;
      Expr flat = 0;
      for (int a = 0; a < rank; ++a) flat = flat * ctx.extent(n.type.shape[a]) + v[a];
      std::vector<Expr> idx(is.size());
      for (int a = static_cast<int>(is.size()) - 1; a >= 0; --a) {
        idx[a] = flat % ctx.extent(is[a]);
        flat = flat / ctx.extent(is[a]);
      }
      codegen::at(out, v) = codegen::at(ctx.in(n, 0), idx);
      return out;
    }
    case ir::Op::Transpose: {
      const auto perm = check_perm(n, rank);
      std::vector<Expr> idx(rank);
      for (int a = 0; a < rank; ++a) idx[perm[a]] = v[a];
      codegen::at(out, v) = codegen::at(ctx.in(n, 0), idx);
      return out;
    }
    case ir::Op::Concat: {
      const int axis = normalize_axis(n.attrs.axes[0], rank, "concat axis");
      // Each input is read at a clamped index so that bounds inference never
      // asks an input for rows it does not have; select picks the right one.
      Expr value;
      for (int i = static_cast<int>(n.inputs.size()) - 1; i >= 0; --i) {
        const int64_t len = ctx.in_type(n, i).shape[axis].size;
        int64_t start = 0;
        for (int j = 0; j < i; ++j) start += ctx.in_type(n, j).shape[axis].size;
        std::vector<Expr> idx(v.begin(), v.end());
        idx[axis] = clamp(v[axis] - static_cast<int>(start), 0, static_cast<int>(len - 1));
        const Expr x = codegen::at(ctx.in(n, i), idx);
        value = value.defined() ? select(v[axis] < static_cast<int>(start + len), x, value) : x;
      }
      codegen::at(out, v) = value;
      return out;
    }
    case ir::Op::OneHot: {
      // A class id that is not an integer in [0, depth) gives a zero row.
      std::vector<Expr> idx(v.begin(), v.end() - 1);
      const Expr c = codegen::at(ctx.in(n, 0), idx);
      codegen::at(out, v) = select(c == cast(ctx.type, v[rank - 1]), cast(ctx.type, 1), cast(ctx.type, 0));
      return out;
    }
    case ir::Op::Slice: {
      const int axis = normalize_axis(n.attrs.axes[0], rank, "slice axis");
      std::vector<Expr> idx(v.begin(), v.end());
      idx[axis] = v[axis] + static_cast<int>(n.attrs.axes[1]);
      codegen::at(out, v) = codegen::at(ctx.in(n, 0), idx);
      return out;
    }
    default: break;
  }
  internal_error("not a layout op");
}

void Layout::schedule(codegen::ScheduleCtx& s) { codegen::schedule_pointwise(s); }

std::vector<OpSample> Layout::samples(ir::Op op) {
  ir::Attrs a;
  switch (op) {
    case ir::Op::Reshape:
      a.shape = {"N", 5, -1};
      return {{"split an axis", {{"N", 15}}, a}};
    case ir::Op::Transpose: {
      ir::Attrs b;
      a.axes = {1, 0};
      b.axes = {0, 2, 1};
      return {{"2-D", {{"N", 17}}, a}, {"swap inner axes", {{"N", 15, 17}}, b}};
    }
    case ir::Op::Concat: {
      ir::Attrs b;
      a.axes = {-1};
      b.axes = {0};
      return {{"last axis", {{"N", 3}, {"N", 14}, {"N", 1}}, a}, {"first axis", {{4, "N"}, {1, "N"}}, b}};
    }
    case ir::Op::OneHot:
      a.axes = {10};
      return {{"ten classes", {{"N"}}, a, false, 11}, {"two per row", {{"N", 2}}, a, false, 10}};
    case ir::Op::Slice: {
      ir::Attrs b;
      a.axes = {-1, 3, 11};
      b.axes = {1, 0, 1};
      return {{"middle of the last axis", {{"N", 17}}, a}, {"first row", {{"N", 4, 5}}, b}};
    }
    default: break;
  }
  return {};
}

// Adjoints move data back where it came from:
//   reshape:   dx = reshape(g, shape of x)
//   transpose: dx = transpose(g, inverse permutation)
//   concat:    dx_i = the slice of g that input i filled
//   slice:     dx = g padded with zeros back to the shape of x
std::vector<int> Layout::vjp(ir::GraphBuilder& b, const ir::Node& n, int g) {
  const int x = n.inputs[0];
  switch (n.op) {
    case ir::Op::Reshape: return {b.reshape(g, b.shape(x))};
    case ir::Op::Transpose: {
      const auto perm = check_perm(n, n.type.rank());
      std::vector<int64_t> inverse(perm.size());
      for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
      return {b.transpose(g, inverse)};
    }
    case ir::Op::Concat: {
      const int axis = normalize_axis(n.attrs.axes[0], n.type.rank(), "concat axis");
      std::vector<int> d;
      int64_t start = 0;
      for (int in : n.inputs) {
        const int64_t len = b.shape(in)[axis].size;
        d.push_back(b.slice(g, axis, start, len));
        start += len;
      }
      return d;
    }
    case ir::Op::OneHot: return {-1};  // labels are not differentiable
    case ir::Op::Slice: {
      const SliceAttrs s = check_slice(n, b.shape(x));
      const int64_t total = b.shape(x)[s.axis].size;
      const int zeros = b.broadcast_like(b.constant_like(0, x), x);
      std::vector<int> parts;
      if (s.start > 0) parts.push_back(b.slice(zeros, s.axis, 0, s.start));
      parts.push_back(g);
      if (s.start + s.length < total) parts.push_back(b.slice(zeros, s.axis, s.start + s.length, total - s.start - s.length));
      if (parts.size() == 1) return {g};
      ir::Attrs a;
      a.axes = {s.axis};
      return {b.op(ir::Op::Concat, parts, a)};
    }
    default: break;
  }
  internal_error("not a layout op");
}

}  // namespace brine::ops
