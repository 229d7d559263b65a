// The model-author API, part 2: Keras-style layers. A layer is configured at
// construction and applied with operator(), like the Keras Functional API:
//
//   auto x = brine::Input({32, 32, 3});
//   auto h = brine::Dense(8, "relu")(x);
//
// Layers are named as Keras names them (dense, dense_1, ...) unless given a
// name. Calling one layer object twice shares its weights.
#pragma once

#include "dsl/expr.h"

namespace brine {

// A model input. `shape` excludes the batch axis, which is always dynamic
// ("N"); other axes may be dynamic too, by name: Input({"T", 32}).
Expr Input(Shape shape, std::string name = "", DType dtype = DType::F32, BRINE_HERE);

class Layer {
 public:
  const std::string& name() const { return site_name_; }
  const std::string& type() const { return type_; }

 protected:
  Layer(std::string type, std::string name, const std::source_location& loc);
  Site site() const;
  Expr node(ir::Op op, std::vector<Expr> inputs, ir::Attrs attrs = {}) const;
  Expr param(const std::string& suffix, Shape shape, const std::string& init, DType dtype) const;
  Expr activate(const Expr& x, const std::string& activation) const;
  void check_activation(const std::string& activation) const;
  [[noreturn]] void fail(const std::string& msg) const { site().fail(msg); }

  std::string type_, site_name_, loc_;
};

// Dense(units, activation, use_bias): y = activation(x · kernel + bias) on the
// last axis of an input of any rank. Activations: linear, relu, sigmoid, tanh, softmax.
class Dense : public Layer {
 public:
  Dense(int64_t units, std::string activation = "linear", bool use_bias = true, std::string name = "", BRINE_HERE);
  Expr operator()(const Expr& x, BRINE_HERE) const;
  // The weights (as in Keras, layer.kernel / layer.bias), defined once the
  // layer has been called: for grad() and custom losses.
  const Expr& kernel() const { return kernel_; }
  const Expr& bias() const { return bias_; }

 private:
  int64_t units_;
  std::string activation_;
  bool use_bias_;
  mutable Expr kernel_, bias_;  // created on the first call, shared by later calls
};

// Flatten: (N, d1, d2, ...) -> (N, d1 * d2 * ...). The non-batch axes must be static.
class Flatten : public Layer {
 public:
  explicit Flatten(std::string name = "", BRINE_HERE);
  Expr operator()(const Expr& x, BRINE_HERE) const;
};

class Activation : public Layer {
 public:
  explicit Activation(std::string activation, std::string name = "", BRINE_HERE);
  Expr operator()(const Expr& x, BRINE_HERE) const;

 private:
  std::string activation_;
};

class Softmax : public Layer {
 public:
  explicit Softmax(int64_t axis = -1, std::string name = "", BRINE_HERE);
  Expr operator()(const Expr& x, BRINE_HERE) const;

 private:
  int64_t axis_;
};

// Resets the automatic layer names (dense, dense_1, ...), e.g. between models.
void reset_layer_names();

}  // namespace brine
