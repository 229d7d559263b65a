#include "dsl/expr.h"

#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ops/rules.h"

namespace brine {

std::string Expr::str() const { return node_ ? ir::type_str(node_->type) : "<undefined>"; }

std::string Site::format(const std::source_location& l) {
  return fmt::format("{}:{}", std::filesystem::path(l.file_name()).filename().string(), l.line());
}

void Site::fail(const std::string& msg) const { throw Error(fmt::format("{} at {}: {}", what, loc, msg)); }

Expr make_expr(ir::Op op, std::vector<Expr> inputs, ir::Attrs attrs, const Site& site, const std::string& layer,
               const std::string& layer_type) {
  auto n = std::make_shared<ExprNode>();
  n->op = op;
  n->attrs = std::move(attrs);
  n->layer = layer;
  n->layer_type = layer_type;
  n->loc = site.loc;
  std::vector<ir::TensorType> types;
  for (const Expr& e : inputs) {
    if (!e.defined()) site.fail("an input tensor is undefined (default-constructed Expr)");
    n->inputs.push_back(e.node());
    types.push_back(e.node()->type);
  }
  ir::Node probe;
  probe.op = op;
  probe.attrs = n->attrs;
  try {
    n->type = ops::infer(probe, types);
  } catch (const ops::ShapeError& e) {
    std::vector<std::string> shapes;
    for (const auto& t : types) shapes.push_back(ir::shape_str(t.shape));
    site.fail(fmt::format("{} (input shape{}: {})", e.what(), shapes.size() == 1 ? "" : "s", fmt::join(shapes, ", ")));
  }
  return Expr(std::move(n));
}

Expr make_constant(double value, DType dtype, const Site& site) {
  auto n = std::make_shared<ExprNode>();
  n->op = ir::Op::Constant;
  n->attrs.value = value;
  n->type = {dtype, {}};
  n->loc = site.loc;
  return Expr(std::move(n));
}

namespace {
Expr binary(ir::Op op, const Expr& a, const Expr& b, const std::source_location& l) {
  return make_expr(op, {a, b}, {}, Site{std::string(ir::op_name(op)), Site::format(l)});
}
Expr scalar(double v, const Expr& like, const std::source_location& l) {
  return make_constant(v, like.defined() ? like.dtype() : DType::F32, Site{"constant", Site::format(l)});
}
Expr unary(ir::Op op, const Expr& x, const std::source_location& l) {
  return make_expr(op, {x}, {}, Site{std::string(ir::op_name(op)), Site::format(l)});
}
Expr reduce(ir::Op op, const Expr& x, std::vector<int64_t> axes, bool keepdims, const std::source_location& l) {
  ir::Attrs a;
  if (axes.empty() && x.defined())
    for (int i = 0; i < x.rank(); ++i) axes.push_back(i);
  a.axes = std::move(axes);
  a.keepdims = keepdims;
  return make_expr(op, {x}, a, Site{std::string(ir::op_name(op)), Site::format(l)});
}
}  // namespace

Expr operator+(Operand a, const Expr& b) { return binary(ir::Op::Add, a.e, b, a.loc); }
Expr operator-(Operand a, const Expr& b) { return binary(ir::Op::Sub, a.e, b, a.loc); }
Expr operator*(Operand a, const Expr& b) { return binary(ir::Op::Mul, a.e, b, a.loc); }
Expr operator/(Operand a, const Expr& b) { return binary(ir::Op::Div, a.e, b, a.loc); }
Expr operator+(Operand a, double b) { return binary(ir::Op::Add, a.e, scalar(b, a.e, a.loc), a.loc); }
Expr operator-(Operand a, double b) { return binary(ir::Op::Sub, a.e, scalar(b, a.e, a.loc), a.loc); }
Expr operator*(Operand a, double b) { return binary(ir::Op::Mul, a.e, scalar(b, a.e, a.loc), a.loc); }
Expr operator/(Operand a, double b) { return binary(ir::Op::Div, a.e, scalar(b, a.e, a.loc), a.loc); }
Expr operator+(ScalarOperand a, const Expr& b) { return binary(ir::Op::Add, scalar(a.v, b, a.loc), b, a.loc); }
Expr operator-(ScalarOperand a, const Expr& b) { return binary(ir::Op::Sub, scalar(a.v, b, a.loc), b, a.loc); }
Expr operator*(ScalarOperand a, const Expr& b) { return binary(ir::Op::Mul, scalar(a.v, b, a.loc), b, a.loc); }
Expr operator/(ScalarOperand a, const Expr& b) { return binary(ir::Op::Div, scalar(a.v, b, a.loc), b, a.loc); }
Expr operator-(Operand a) { return unary(ir::Op::Neg, a.e, a.loc); }

Expr neg(const Expr& x, Loc loc) { return unary(ir::Op::Neg, x, loc); }
Expr exp(const Expr& x, Loc loc) { return unary(ir::Op::Exp, x, loc); }
Expr log(const Expr& x, Loc loc) { return unary(ir::Op::Log, x, loc); }
Expr tanh(const Expr& x, Loc loc) { return unary(ir::Op::Tanh, x, loc); }
Expr sigmoid(const Expr& x, Loc loc) { return unary(ir::Op::Sigmoid, x, loc); }
Expr relu(const Expr& x, Loc loc) { return unary(ir::Op::Relu, x, loc); }
Expr sqrt(const Expr& x, Loc loc) { return unary(ir::Op::Sqrt, x, loc); }
Expr abs(const Expr& x, Loc loc) { return unary(ir::Op::Abs, x, loc); }
Expr minimum(const Expr& a, const Expr& b, Loc loc) { return binary(ir::Op::Minimum, a, b, loc); }
Expr maximum(const Expr& a, const Expr& b, Loc loc) { return binary(ir::Op::Maximum, a, b, loc); }
Expr minimum(const Expr& a, double b, Loc loc) { return binary(ir::Op::Minimum, a, scalar(b, a, loc), loc); }
Expr maximum(const Expr& a, double b, Loc loc) { return binary(ir::Op::Maximum, a, scalar(b, a, loc), loc); }
Expr clip(const Expr& x, double lo, double hi, Loc loc) { return minimum(maximum(x, lo, loc), hi, loc); }

Expr one_hot(const Expr& ids, int64_t depth, Loc loc) {
  ir::Attrs a;
  a.axes = {depth};
  return make_expr(ir::Op::OneHot, {ids}, a, Site{"one_hot", Site::format(loc)});
}

Expr matmul(const Expr& a, const Expr& b, bool ta, bool tb, Loc loc) {
  ir::Attrs at;
  at.transpose_a = ta;
  at.transpose_b = tb;
  return make_expr(ir::Op::MatMul, {a, b}, at, Site{"matmul", Site::format(loc)});
}

Expr softmax(const Expr& x, int64_t axis, Loc loc) {
  ir::Attrs a;
  a.axes = {axis};
  return make_expr(ir::Op::Softmax, {x}, a, Site{"softmax", Site::format(loc)});
}

Expr reduce_sum(const Expr& x, std::vector<int64_t> axes, bool keepdims, Loc loc) {
  return reduce(ir::Op::ReduceSum, x, std::move(axes), keepdims, loc);
}
Expr reduce_mean(const Expr& x, std::vector<int64_t> axes, bool keepdims, Loc loc) {
  return reduce(ir::Op::ReduceMean, x, std::move(axes), keepdims, loc);
}
Expr reduce_max(const Expr& x, std::vector<int64_t> axes, bool keepdims, Loc loc) {
  return reduce(ir::Op::ReduceMax, x, std::move(axes), keepdims, loc);
}

Expr reshape(const Expr& x, Shape shape, Loc loc) {
  ir::Attrs a;
  a.shape = std::move(shape);
  return make_expr(ir::Op::Reshape, {x}, a, Site{"reshape", Site::format(loc)});
}

Expr transpose(const Expr& x, std::vector<int64_t> perm, Loc loc) {
  ir::Attrs a;
  a.axes = std::move(perm);
  return make_expr(ir::Op::Transpose, {x}, a, Site{"transpose", Site::format(loc)});
}

Expr expand_dims(const Expr& x, int64_t axis, Loc loc) {
  const Site site{"expand_dims", Site::format(loc)};
  if (!x.defined()) site.fail("the input tensor is undefined");
  Shape s = x.shape();
  int r = x.rank() + 1;
  if (axis < -r || axis >= r)
    site.fail(fmt::format("axis {} is out of range for a result of rank {} (input shape {})", axis, r, ir::shape_str(s)));
  if (axis < 0) axis += r;
  s.insert(s.begin() + axis, Dim(1));
  ir::Attrs a;
  a.shape = s;
  return make_expr(ir::Op::Reshape, {x}, a, site);
}

Expr concat(const std::vector<Expr>& xs, int64_t axis, Loc loc) {
  ir::Attrs a;
  a.axes = {axis};
  const Site site{"concat", Site::format(loc)};
  if (xs.empty()) site.fail("concat of no tensors");
  return make_expr(ir::Op::Concat, xs, a, site);
}

}  // namespace brine
