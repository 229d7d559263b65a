// Data movement: reshape (also Flatten and expand_dims), transpose, concat,
// slice (one axis; concat's backward), unslice (slice's backward: the slice
// put back among zeros), reverse (one axis: go_backwards), pack_panels (a
// matrix as column panels: how codegen hands the recurrent kernels their
// weights, see codegen/graph_passes.h).
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

// slice and unslice: attrs.axes = {axis, start, length}; a negative start
// counts from the end (-1: the last step of a sequence). On a symbolic axis
// (a sequence length) the bounds are checked when the kernel runs.
SliceAttrs check_slice(const ir::Node& n, const ir::Shape& in) {
  const std::string op(ir::op_name(n.op));
  if (n.attrs.axes.size() != 3) throw ShapeError(op + " takes axes = {axis, start, length}");
  const int axis = normalize_axis(n.attrs.axes[0], static_cast<int>(in.size()), "slice axis");
  const int64_t start = n.attrs.axes[1], length = n.attrs.axes[2];
  const bool fits = in[axis].is_static() ? (start >= 0 ? start + length <= in[axis].size
                                                      : -start <= in[axis].size && start + length <= 0)
                                         : (start >= 0 || start + length <= 0);
  if (length < 1 || !fits)
    throw ShapeError(fmt::format("{} [{}, {}) of axis {} is outside {}", op, start, start + length, axis,
                                 ir::shape_str(in)));
  return {axis, start, length};
}

// Where a slice starts along an axis of `extent` elements.
int64_t slice_start(const SliceAttrs& s, int64_t extent) { return s.start >= 0 ? s.start : extent + s.start; }
Halide::Expr slice_start(const SliceAttrs& s, const Halide::Expr& extent) {
  return s.start >= 0 ? Halide::Expr(static_cast<int>(s.start)) : extent + static_cast<int>(s.start);
}

// pack_panels: attrs.axes = {w}; x (K, M) -> (M / w, K, w), panel p holding
// columns [p·w, (p+1)·w) of x row after row. With transpose_a, x is (M, K)
// and the panels are those of xᵀ.
struct Panels {
  int64_t w, K, M;
};
Panels check_panels(const ir::Node& n, const ir::Shape& in) {
  if (n.attrs.axes.size() != 1 || n.attrs.axes[0] < 1) throw ShapeError("pack_panels takes axes = {panel width}");
  if (in.size() != 2 || !in[0].is_static() || !in[1].is_static())
    throw ShapeError(fmt::format("pack_panels needs a matrix of static shape, got {}", ir::shape_str(in)));
  const int64_t w = n.attrs.axes[0], K = in[n.attrs.transpose_a ? 1 : 0].size, M = in[n.attrs.transpose_a ? 0 : 1].size;
  if (M % w != 0)
    throw ShapeError(fmt::format("pack_panels of {}{}: {} columns are not a multiple of the panel width {}",
                                 ir::shape_str(in), n.attrs.transpose_a ? "ᵀ" : "", M, w));
  return {w, K, M};
}

// Copies `length` elements along `axis` between a tensor of shape `big` and
// one of shape `small`, in either direction (slice: big -> small).
void copy_slab(const std::vector<int64_t>& big, int axis, int64_t start, int64_t length, const double* from,
               double* to, bool to_small) {
  const int64_t inner = row_major_strides(big)[axis];
  const int64_t outer = ref_elements(big) / std::max<int64_t>(big[axis] * inner, 1);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < length * inner; ++i) {
      const int64_t b = (o * big[axis] + start) * inner + i, s = o * length * inner + i;
      if (to_small) to[s] = from[b];
      else to[b] = from[s];
    }
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
    case ir::Op::Unslice: {  // (g, x): g back in x's shape
      const SliceAttrs s = check_slice(n, in[1].shape);
      ir::Shape expect = in[1].shape;
      expect[s.axis] = s.length;
      if (in[0].shape != expect || in[0].dtype != in[1].dtype)
        throw ShapeError(fmt::format("unslice of {} into {}: the slice must be {}", ir::type_str(in[0]),
                                     ir::type_str(in[1]), ir::shape_str(expect)));
      return in[1];
    }
    case ir::Op::PackPanels: {
      const Panels p = check_panels(n, in[0].shape);
      return {in[0].dtype, {p.M / p.w, p.K, p.w}};
    }
    case ir::Op::Reverse: {
      if (n.attrs.axes.size() != 1) throw ShapeError("reverse takes exactly one axis");
      normalize_axis(n.attrs.axes[0], in[0].rank(), "reverse axis");
      return in[0];
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
      const SliceAttrs s = check_slice(n, ir::Shape(x.shape.begin(), x.shape.end()));
      const int64_t start = slice_start(s, x.shape[s.axis]);
      if (start < 0 || start + s.length > x.shape[s.axis])
        throw ShapeError(fmt::format("slice [{}, {}) of axis {} is outside a tensor of {} steps", start,
                                     start + s.length, s.axis, x.shape[s.axis]));
      RefTensor out{x.shape, {}};
      out.shape[s.axis] = s.length;
      out.data.resize(ref_elements(out.shape));
      copy_slab(x.shape, s.axis, start, s.length, x.data.data(), out.data.data(), true);
      return out;
    }
    case ir::Op::Unslice: {
      const RefTensor& like = *in[1];
      const SliceAttrs s = check_slice(n, ir::Shape(like.shape.begin(), like.shape.end()));
      RefTensor out{like.shape, std::vector<double>(like.size(), 0.0)};
      copy_slab(like.shape, s.axis, slice_start(s, like.shape[s.axis]), s.length, x.data.data(), out.data.data(), false);
      return out;
    }
    case ir::Op::PackPanels: {
      const Panels p = check_panels(n, ir::Shape(x.shape.begin(), x.shape.end()));
      RefTensor out{{p.M / p.w, p.K, p.w}, std::vector<double>(x.size())};
      for (int64_t c = 0; c < p.M; ++c)
        for (int64_t k = 0; k < p.K; ++k)
          out.data[((c / p.w) * p.K + k) * p.w + c % p.w] = n.attrs.transpose_a ? x.data[c * p.K + k] : x.data[k * p.M + c];
      return out;
    }
    case ir::Op::Reverse: {
      const int axis = normalize_axis(n.attrs.axes[0], static_cast<int>(x.shape.size()), "reverse axis");
      const int64_t len = x.shape[axis], inner = row_major_strides(x.shape)[axis];
      RefTensor out = x;
      for (int64_t f = 0; f < x.size(); ++f) {
        const int64_t i = (f / inner) % len;
        out.data[f + (len - 1 - 2 * i) * inner] = x.data[f];
      }
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
      const SliceAttrs s = check_slice(n, ctx.in_type(n, 0).shape);
      std::vector<Expr> idx(v.begin(), v.end());
      idx[s.axis] = v[s.axis] + slice_start(s, ctx.extent(ctx.in_type(n, 0).shape[s.axis]));
      codegen::at(out, v) = codegen::at(ctx.in(n, 0), idx);
      return out;
    }
    case ir::Op::Unslice: {
      // g is read at a clamped index so that bounds inference never asks it
      // for steps it does not have.
      const SliceAttrs s = check_slice(n, n.type.shape);
      const Expr start = slice_start(s, ctx.extent(n.type.shape[s.axis]));
      std::vector<Expr> idx(v.begin(), v.end());
      idx[s.axis] = clamp(v[s.axis] - start, 0, static_cast<int>(s.length - 1));
      codegen::at(out, v) = select(v[s.axis] >= start && v[s.axis] < start + static_cast<int>(s.length),
                                   codegen::at(ctx.in(n, 0), idx), cast(ctx.type, 0));
      return out;
    }
    case ir::Op::PackPanels: {  // out[p, k, j] = x[k, p·w + j]
      const Expr col = v[0] * static_cast<int>(n.attrs.axes[0]) + v[2];
      codegen::at(out, v) = codegen::at(ctx.in(n, 0), n.attrs.transpose_a ? std::vector<Expr>{col, v[1]}
                                                                          : std::vector<Expr>{v[1], col});
      return out;
    }
    case ir::Op::Reverse: {
      const int axis = normalize_axis(n.attrs.axes[0], rank, "reverse axis");
      std::vector<Expr> idx(v.begin(), v.end());
      idx[axis] = ctx.extent(n.type.shape[axis]) - 1 - v[axis];
      codegen::at(out, v) = codegen::at(ctx.in(n, 0), idx);
      return out;
    }
    default: break;
  }
  internal_error("not a layout op");
}

void Layout::schedule(codegen::ScheduleCtx& s) {
  if (s.anchor.op != ir::Op::PackPanels || s.anchor.attrs.axes[0] % s.vector_width != 0) {
    codegen::schedule_pointwise(s);
    return;
  }
  // Panels of whole vectors; the transposed packing (a column of x per
  // vector) goes through a w x w tile of x read along its rows, so that both
  // the loads and the stores are vectors (a pointwise copy with a gather per
  // vector took 385 µs for lstm256's 1 MiB kernel).
  using namespace Halide;
  const int v = s.vector_width, w = static_cast<int>(s.anchor.attrs.axes[0]);
  Var j = s.out_vars[2], k = s.out_vars[1], p = s.out_vars[0], ko("ko"), ki("ki");
  if (!s.anchor.attrs.transpose_a) {
    // Eight panels at a time, row by row: each row of x is read as 512
    // contiguous bytes. A panel at a time read one 64-byte piece per row,
    // rows 4 KiB apart (lstm256's 1 MiB kernel, warm: 90 -> 57 µs).
    Var po("po"), pi("pi");
    s.out.split(p, po, pi, 8, TailStrategy::GuardWithIf).reorder(j, pi, k, po).parallel(po).vectorize(j, v).unroll(pi);
    return;
  }
  s.out.parallel(p).vectorize(j, v);
  s.out.split(k, ko, ki, w, TailStrategy::GuardWithIf).reorder(j, ki, ko, p).unroll(ki);
  Func x = s.lower.in(s.anchor, 0);
  Func tile = x.in(s.lower.funcs.at(s.anchor.id));  // (the kernel's output may be a consumer fused in)
  tile.compute_at(s.out, ko).vectorize(tile.args()[0], v, TailStrategy::GuardWithIf).unroll(tile.args()[1]);
}

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
      ir::Attrs last, first;
      last.axes = {1, -1, 1};
      first.axes = {1, 0, 1};
      return {{"middle of the last axis", {{"N", 17}}, a},
              {"first row", {{"N", 4, 5}}, b},
              {"last step of a sequence (symbolic axis)", {{3, "N", 5}}, last},
              {"first step of a sequence (symbolic axis)", {{2, "N", 3}}, first}};
    }
    case ir::Op::Unslice: {
      ir::Attrs b, last;
      a.axes = {-1, 3, 11};
      b.axes = {-1, -4, 2};
      last.axes = {1, -1, 1};
      return {{"middle of the last axis", {{"N", 11}, {"N", 17}}, a},
              {"counted from the end", {{"N", 2}, {"N", 17}}, b},
              {"last step of a sequence (symbolic axis)", {{3, 1, 5}, {3, "N", 5}}, last}};
    }
    case ir::Op::PackPanels: {
      ir::Attrs t, narrow;
      a.axes = t.axes = {16};
      t.transpose_a = true;
      narrow.axes = {3};
      return {{"panels of 16 columns", {{9, 48}}, a},
              {"panels of the transpose (a recurrent kernel for the backward)", {{32, 21}}, t},
              {"panels narrower than a vector", {{5, 6}}, narrow}};
    }
    case ir::Op::Reverse: {
      ir::Attrs b;
      a.axes = {1};
      b.axes = {-1};
      return {{"time axis (symbolic)", {{2, "N", 3}}, a}, {"last axis", {{"N", 17}}, b}};
    }
    default: break;
  }
  return {};
}

// Adjoints move data back where it came from:
//   reshape:   dx = reshape(g, shape of x)
//   transpose: dx = transpose(g, inverse permutation)
//   concat:    dx_i = the slice of g that input i filled
//   slice:     dx = unslice(g, x): g padded with zeros back to the shape of x
//   unslice:   dg = slice(a) (x only lends its shape)
//   reverse:   dx = reverse(g)
//   pack_panels: dx = the panels side by side (transposed back with transpose_a)
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
      if (b.shape(x)[s.axis] == ir::Dim(s.length)) return {g};
      return {b.op(ir::Op::Unslice, {g, x}, n.attrs)};
    }
    case ir::Op::Unslice: return {b.op(ir::Op::Slice, {g}, n.attrs), -1};
    case ir::Op::Reverse: return {b.op(ir::Op::Reverse, {g}, n.attrs)};
    case ir::Op::PackPanels: {
      // The panels laid side by side again: (M/w, K, w) -> (K, M/w, w) -> (K, M).
      const Panels p = check_panels(n, b.shape(x));
      const int cols = b.reshape(b.transpose(g, {1, 0, 2}), {p.K, p.M});
      return {n.attrs.transpose_a ? b.transpose(cols, {1, 0}) : cols};
    }
    default: break;
  }
  internal_error("not a layout op");
}

}  // namespace brine::ops
