// Appends typed nodes to a graph: what VJP rules and passes build IR with.
// Every node is type-checked by its op's rule as it is added; a failure here
// is a bug in the rule that built it (an internal error).
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace brine::ir {

class GraphBuilder {
 public:
  GraphBuilder(Graph& g, std::string layer = "") : g_(g), layer_(std::move(layer)) {}

  Graph& graph() { return g_; }
  // By value: appending nodes reallocates the graph's node list.
  TensorType type(int id) const { return g_.node(id).type; }
  Shape shape(int id) const { return g_.node(id).type.shape; }

  int op(Op op, std::vector<int> inputs, Attrs attrs = {});
  int input(const std::string& name, TensorType type);
  int constant(double v, DType dtype);
  int constant_like(double v, int like) { return constant(v, type(like).dtype); }

  int add(int a, int b) { return op(Op::Add, {a, b}); }
  int sub(int a, int b) { return op(Op::Sub, {a, b}); }
  int mul(int a, int b) { return op(Op::Mul, {a, b}); }
  int div(int a, int b) { return op(Op::Div, {a, b}); }
  int neg(int a) { return op(Op::Neg, {a}); }
  int matmul(int a, int b, bool ta, bool tb);
  // op(a) op(b) summed over their batch axes (every axis but the last two,
  // which a and b must share): one product, not a batched one and a
  // reduce_sum of its result. A weight gradient, Σ xᵀ g over a sequence.
  int summed_matmul(int a, int b, bool ta, bool tb);
  int reduce_sum(int x, std::vector<int64_t> axes, bool keepdims);
  int reshape(int x, Shape shape);
  int transpose(int x, std::vector<int64_t> perm);
  int slice(int x, int axis, int64_t start, int64_t length);
  int broadcast_like(int x, int like) { return op(Op::BroadcastLike, {x, like}); }
  // Sums `g` over the axes on which a value of shape `target` was broadcast
  // to g's shape, then reshapes it to `target`.
  int unbroadcast(int g, Shape target);

 private:
  Graph& g_;
  std::string layer_;
};

}  // namespace brine::ir
