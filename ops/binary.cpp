// Binary arithmetic with NumPy broadcasting.
#include "ops/binary.h"

#include <Halide.h>

#include "codegen/lower_ctx.h"
#include "ir/builder.h"

namespace brine::ops {

namespace {

double ref_apply(ir::Op op, double a, double b) {
  switch (op) {
    case ir::Op::Add: return a + b;
    case ir::Op::Sub: return a - b;
    case ir::Op::Mul: return a * b;
    case ir::Op::Div: return a / b;
    case ir::Op::Equal: return a == b ? 1.0 : 0.0;
    case ir::Op::Minimum: return std::min(a, b);
    case ir::Op::Maximum: return std::max(a, b);
    case ir::Op::BroadcastLike: return a;  // b only gives the shape
    default: break;
  }
  internal_error("not a binary op");
}

Halide::Expr halide_apply(ir::Op op, Halide::Expr a, Halide::Expr b) {
  switch (op) {
    case ir::Op::Add: return a + b;
    case ir::Op::Sub: return a - b;
    case ir::Op::Mul: return a * b;
    case ir::Op::Div: return a / b;
    case ir::Op::Equal: return Halide::select(a == b, Halide::cast(a.type(), 1), Halide::cast(a.type(), 0));
    case ir::Op::Minimum: return Halide::min(a, b);
    case ir::Op::Maximum: return Halide::max(a, b);
    case ir::Op::BroadcastLike: return a;
    default: break;
  }
  internal_error("not a binary op");
}

// Index of an operand of shape `in` inside an output of shape `out`:
// right-aligned, broadcast (size-1) axes read element 0.
template <typename Idx>
std::vector<Idx> operand_index(const std::vector<Idx>& out_idx, const std::vector<int64_t>& in,
                               const std::vector<int64_t>& out, Idx zero) {
  const size_t off = out.size() - in.size();
  std::vector<Idx> idx(in.size(), zero);
  for (size_t a = 0; a < in.size(); ++a) idx[a] = (in[a] == 1 && out[off + a] != 1) ? zero : out_idx[off + a];
  return idx;
}

// Static sizes with symbols as -1: only static 1s broadcast.
std::vector<int64_t> sizes(const ir::Shape& s) {
  std::vector<int64_t> r;
  for (const ir::Dim& d : s) r.push_back(d.is_static() ? d.size : -1);
  return r;
}

}  // namespace

ir::TensorType Binary::infer(const ir::Node& n, std::span<const ir::TensorType> in) {
  if (in[0].dtype != in[1].dtype)
    throw ShapeError(std::string("operands have different dtypes: ") + dtype_name(in[0].dtype) +
                     " and " + dtype_name(in[1].dtype));
  const ir::Shape out = broadcast_shapes(in[0].shape, in[1].shape);
  if (n.op == ir::Op::BroadcastLike && out != in[1].shape)
    throw ShapeError("broadcast_like: " + ir::shape_str(in[0].shape) + " does not broadcast to " +
                     ir::shape_str(in[1].shape));
  return {in[0].dtype, out};
}

RefTensor Binary::reference(const ir::Node& n, std::span<const RefTensor* const> in) {
  const RefTensor& a = *in[0];
  const RefTensor& b = *in[1];
  std::vector<int64_t> shape(std::max(a.shape.size(), b.shape.size()));
  for (size_t i = 0; i < shape.size(); ++i) {
    const auto dim = [&](const RefTensor& t) {
      const size_t r = t.shape.size();
      return i + r >= shape.size() ? t.shape[i + r - shape.size()] : int64_t{1};
    };
    shape[i] = std::max(dim(a), dim(b));
  }
  RefTensor out{shape, std::vector<double>(ref_elements(shape))};
  const auto os = row_major_strides(shape), as = row_major_strides(a.shape), bs = row_major_strides(b.shape);
  std::vector<int64_t> idx(shape.size());
  for (int64_t f = 0; f < out.size(); ++f) {
    for (size_t d = 0; d < shape.size(); ++d) idx[d] = (f / os[d]) % shape[d];
    const auto flat = [&](const RefTensor& t, const std::vector<int64_t>& st) {
      auto ti = operand_index<int64_t>(idx, t.shape, shape, 0);
      int64_t o = 0;
      for (size_t d = 0; d < ti.size(); ++d) o += ti[d] * st[d];
      return o;
    };
    out.data[f] = ref_apply(n.op, a.data[flat(a, as)], b.data[flat(b, bs)]);
  }
  return out;
}

Halide::Func Binary::lower(codegen::LowerCtx& ctx, const ir::Node& n) {
  std::vector<Halide::Var> v = codegen::axis_vars(n.type.rank());
  std::vector<Halide::Expr> ov(v.begin(), v.end());
  const auto out_sizes = sizes(n.type.shape);
  const auto operand = [&](int i) {
    auto idx = operand_index<Halide::Expr>(ov, sizes(ctx.in_type(n, i).shape), out_sizes, Halide::Expr(0));
    return codegen::at(ctx.in(n, i), idx);
  };
  Halide::Func f{codegen::func_name(n)};
  // broadcast_like reads only its first operand; the second gives the shape.
  codegen::at(f, v) = n.op == ir::Op::BroadcastLike ? operand(0) : halide_apply(n.op, operand(0), operand(1));
  return f;
}

void Binary::schedule(codegen::ScheduleCtx& s) { codegen::schedule_pointwise(s); }

std::vector<OpSample> Binary::samples(ir::Op op) {
  const bool positive = op == ir::Op::Div;  // keep divisors away from 0
  if (op == ir::Op::BroadcastLike)
    return {{"bias to batch", {{17}, {"N", 15, 17}}, {}}, {"scalar", {{}, {"N", 4}}, {}}};
  return {{"same shape", {{"N", 33}, {"N", 33}}, {}, positive},
          {"bias broadcast", {{"N", 15, 17}, {17}}, {}, positive},
          {"both broadcast", {{"N", 1, 17}, {15, 1}}, {}, positive},
          {"bias to 3 channels", {{"N", 7, 5, 3}, {3}}, {}, positive},
          {"scalar operand", {{"N", 16}, {}}, {}, positive}};
}

// y = a op b (broadcast), g = dL/dy; each adjoint is summed back over the
// axes its operand was broadcast along.
std::vector<int> Binary::vjp(ir::GraphBuilder& b, const ir::Node& n, int g) {
  const int x = n.inputs[0], y = n.inputs[1];
  const ir::Shape xs = b.shape(x), ys = b.shape(y);
  switch (n.op) {
    case ir::Op::Add: return {b.unbroadcast(g, xs), b.unbroadcast(g, ys)};             // d(a+b) = da + db
    case ir::Op::Sub: return {b.unbroadcast(g, xs), b.unbroadcast(b.neg(g), ys)};      // d(a-b) = da - db
    case ir::Op::Mul:                                                                  // d(ab) = b da + a db
      return {b.unbroadcast(b.mul(g, y), xs), b.unbroadcast(b.mul(g, x), ys)};
    case ir::Op::Div:                                                                  // d(a/b) = da/b - (a/b)/b db
      return {b.unbroadcast(b.div(g, y), xs), b.unbroadcast(b.neg(b.div(b.mul(g, n.id), y)), ys)};
    case ir::Op::Equal: return {-1, -1};                                               // 0 almost everywhere
    case ir::Op::Minimum:  // the smaller operand takes g; on a tie, the first (as TensorFlow)
    case ir::Op::Maximum: {  // the larger operand takes g; on a tie, the first
      const int other_wins = n.op == ir::Op::Maximum ? b.op(ir::Op::Step, {b.sub(y, x)})   // [y > x]
                                                     : b.op(ir::Op::Step, {b.sub(x, y)});  // [x > y]
      const int first_wins = b.sub(b.constant_like(1, other_wins), other_wins);
      return {b.unbroadcast(b.mul(g, first_wins), xs), b.unbroadcast(b.mul(g, other_wins), ys)};
    }
    case ir::Op::BroadcastLike: return {b.unbroadcast(g, xs), -1};                     // the shape donor has none
    default: break;
  }
  internal_error("not a binary op");
}

}  // namespace brine::ops
