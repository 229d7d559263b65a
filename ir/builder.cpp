#include "ir/builder.h"

#include <fmt/format.h>

#include <algorithm>

#include "ops/rules.h"

namespace brine::ir {

int GraphBuilder::op(Op op, std::vector<int> inputs, Attrs attrs) {
  Node n;
  n.op = op;
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  n.layer = layer_;
  std::vector<TensorType> in;
  for (int i : n.inputs) in.push_back(type(i));
  try {
    n.type = ops::infer(n, in);
  } catch (const ops::ShapeError& e) {
    internal_error(fmt::format("a rule built an ill-typed {} node: {}", op_name(op), e.what()));
  }
  return g_.add(std::move(n));
}

int GraphBuilder::input(const std::string& name, TensorType type) {
  Node n;
  n.op = Op::Input;
  n.attrs.name = name;
  n.type = std::move(type);
  n.layer = layer_;
  return g_.add(std::move(n));
}

int GraphBuilder::constant(double v, DType dtype) {
  Node n;
  n.op = Op::Constant;
  n.attrs.value = v;
  n.type = {dtype, {}};
  n.layer = layer_;
  return g_.add(std::move(n));
}

int GraphBuilder::matmul(int a, int b, bool ta, bool tb) {
  Attrs at;
  at.transpose_a = ta;
  at.transpose_b = tb;
  return op(Op::MatMul, {a, b}, at);
}

int GraphBuilder::summed_matmul(int a, int b, bool ta, bool tb) {
  Attrs at;
  at.transpose_a = ta;
  at.transpose_b = tb;
  for (size_t i = 0; i + 2 < shape(a).size(); ++i) at.axes.push_back(static_cast<int64_t>(i));
  return op(Op::MatMul, {a, b}, at);
}

int GraphBuilder::reduce_sum(int x, std::vector<int64_t> axes, bool keepdims) {
  Attrs a;
  a.axes = std::move(axes);
  a.keepdims = keepdims;
  return op(Op::ReduceSum, {x}, a);
}

int GraphBuilder::reshape(int x, Shape shape) {
  if (this->shape(x) == shape) return x;
  // A scalar constant has no buffer to view; as (1, 1, ...) it broadcasts the same.
  if (g_.node(x).op == Op::Constant &&
      std::all_of(shape.begin(), shape.end(), [](const Dim& d) { return d == Dim(1); }))
    return x;
  Attrs a;
  a.shape = std::move(shape);
  return op(Op::Reshape, {x}, a);
}

int GraphBuilder::transpose(int x, std::vector<int64_t> perm) {
  Attrs a;
  a.axes = std::move(perm);
  return op(Op::Transpose, {x}, a);
}

int GraphBuilder::slice(int x, int axis, int64_t start, int64_t length) {
  Attrs a;
  a.axes = {axis, start, length};
  return op(Op::Slice, {x}, a);
}

int GraphBuilder::unbroadcast(int g, Shape target) {
  const Shape s = shape(g);
  const size_t lead = s.size() - target.size();
  std::vector<int64_t> axes;
  for (size_t a = 0; a < s.size(); ++a) {
    if (a < lead) axes.push_back(static_cast<int64_t>(a));
    else if (target[a - lead] == Dim(1) && s[a] != Dim(1)) axes.push_back(static_cast<int64_t>(a));
  }
  if (axes.empty()) return g;
  return reshape(reduce_sum(g, axes, false), target);
}

}  // namespace brine::ir
