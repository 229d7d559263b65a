// The model-author API, part 1: symbolic tensors and tensor expressions.
// Every call checks shapes immediately; a mistake raises brine::Error naming
// the layer or op, the shapes and the caller's file and line.
#pragma once

#include <initializer_list>
#include <memory>
#include <source_location>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace brine {

using ir::Dim;
using ir::Shape;

// One node of the expression DAG the DSL builds; Model turns it into ir::Graph.
struct ExprNode {
  ir::Op op;
  std::vector<std::shared_ptr<const ExprNode>> inputs;
  ir::Attrs attrs;
  ir::TensorType type;
  std::string layer;       // "dense_1"
  std::string layer_type;  // "Dense"
  std::string loc;         // "model.cpp:12"
};

// A symbolic tensor (Keras's KerasTensor).
class Expr {
 public:
  Expr() = default;
  explicit Expr(std::shared_ptr<const ExprNode> n) : node_(std::move(n)) {}
  const Shape& shape() const { return node_->type.shape; }
  int rank() const { return node_->type.rank(); }
  DType dtype() const { return node_->type.dtype; }
  bool defined() const { return node_ != nullptr; }
  const std::shared_ptr<const ExprNode>& node() const { return node_; }
  std::string str() const;  // "f32[N,32]"

 private:
  std::shared_ptr<const ExprNode> node_;
};

// Where a DSL call came from. Taken as a defaulted argument, so that it is
// the user's line (for operators, through Operand's converting constructor).
struct Site {
  std::string what;  // "Dense layer 'dense_1'" or "matmul"
  std::string loc;   // "model.cpp:12"
  static std::string format(const std::source_location& l);
  [[noreturn]] void fail(const std::string& msg) const;
};

// Creates a node after checking its type rule; errors are reported at `site`.
Expr make_expr(ir::Op op, std::vector<Expr> inputs, ir::Attrs attrs, const Site& site,
               const std::string& layer = "", const std::string& layer_type = "");
Expr make_constant(double value, DType dtype, const Site& site);

// The left operand of an operator, carrying the caller's source location.
struct Operand {
  const Expr& e;
  std::source_location loc;
  Operand(const Expr& x, std::source_location l = std::source_location::current()) : e(x), loc(l) {}  // NOLINT
};
struct ScalarOperand {
  double v;
  std::source_location loc;
  ScalarOperand(double x, std::source_location l = std::source_location::current()) : v(x), loc(l) {}  // NOLINT
};

Expr operator+(Operand a, const Expr& b);
Expr operator-(Operand a, const Expr& b);
Expr operator*(Operand a, const Expr& b);
Expr operator/(Operand a, const Expr& b);
Expr operator+(Operand a, double b);
Expr operator-(Operand a, double b);
Expr operator*(Operand a, double b);
Expr operator/(Operand a, double b);
Expr operator+(ScalarOperand a, const Expr& b);
Expr operator-(ScalarOperand a, const Expr& b);
Expr operator*(ScalarOperand a, const Expr& b);
Expr operator/(ScalarOperand a, const Expr& b);
Expr operator-(Operand a);

using Loc = std::source_location;
#define BRINE_HERE std::source_location loc = std::source_location::current()

Expr neg(const Expr& x, BRINE_HERE);
Expr exp(const Expr& x, BRINE_HERE);
Expr log(const Expr& x, BRINE_HERE);
Expr tanh(const Expr& x, BRINE_HERE);
Expr sigmoid(const Expr& x, BRINE_HERE);
Expr relu(const Expr& x, BRINE_HERE);
Expr sqrt(const Expr& x, BRINE_HERE);
Expr abs(const Expr& x, BRINE_HERE);  // abs'(0) = 0
// Elementwise with broadcasting; on a tie the gradient goes to `a`.
Expr minimum(const Expr& a, const Expr& b, BRINE_HERE);
Expr maximum(const Expr& a, const Expr& b, BRINE_HERE);
Expr minimum(const Expr& a, double b, BRINE_HERE);
Expr maximum(const Expr& a, double b, BRINE_HERE);
// min(max(x, lo), hi).
Expr clip(const Expr& x, double lo, double hi, BRINE_HERE);
// Class ids (integers stored as floats) -> one-hot rows along a new last axis
// of `depth` (tf.one_hot); ids outside [0, depth) give zero rows.
Expr one_hot(const Expr& ids, int64_t depth, BRINE_HERE);
// NumPy matmul: (..., M, K) @ (..., K, N), batch axes broadcast.
Expr matmul(const Expr& a, const Expr& b, bool transpose_a = false, bool transpose_b = false, BRINE_HERE);
Expr softmax(const Expr& x, int64_t axis = -1, BRINE_HERE);
// Empty `axes`: all axes.
Expr reduce_sum(const Expr& x, std::vector<int64_t> axes = {}, bool keepdims = false, BRINE_HERE);
Expr reduce_mean(const Expr& x, std::vector<int64_t> axes = {}, bool keepdims = false, BRINE_HERE);
Expr reduce_max(const Expr& x, std::vector<int64_t> axes = {}, bool keepdims = false, BRINE_HERE);
// Target dims: sizes, symbols ("N") and at most one -1.
Expr reshape(const Expr& x, Shape shape, BRINE_HERE);
Expr transpose(const Expr& x, std::vector<int64_t> perm, BRINE_HERE);
Expr expand_dims(const Expr& x, int64_t axis, BRINE_HERE);
Expr concat(const std::vector<Expr>& xs, int64_t axis = -1, BRINE_HERE);

}  // namespace brine
