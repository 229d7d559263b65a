#include "dsl/layers.h"

#include <fmt/format.h>

#include <cctype>
#include <map>

namespace brine {

namespace {
thread_local std::map<std::string, int> name_counts;

// Keras's automatic names: "dense", "dense_1", ...; inputs start at "input_1".
std::string auto_name(const std::string& base, bool start_at_one = false) {
  const int n = name_counts[base]++;
  if (start_at_one) return fmt::format("{}_{}", base, n + 1);
  return n == 0 ? base : fmt::format("{}_{}", base, n);
}

// Keras's to_snake_case: "Dense" -> "dense", "MaxPooling2D" -> "max_pooling2d",
// "Conv2D" -> "conv2d": an underscore before a capital that starts a
// lowercase word, and between a lowercase letter and a capital.
std::string snake(const std::string& type) {
  const auto up = [](char c) { return std::isupper(static_cast<unsigned char>(c)) != 0; };
  const auto low = [](char c) { return std::islower(static_cast<unsigned char>(c)) != 0; };
  std::string r;
  for (size_t i = 0; i < type.size(); ++i) {
    const char c = type[i];
    const bool word = i > 0 && up(c) && i + 1 < type.size() && low(type[i + 1]);
    const bool camel = i > 0 && up(c) && low(type[i - 1]);
    if ((word || camel) && r.back() != '_') r += '_';
    r += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return r;
}
}  // namespace

void reset_layer_names() { name_counts.clear(); }

Expr Input(Shape shape, std::string name, DType dtype, Loc loc) {
  if (name.empty()) name = auto_name("input", true);
  const Site site{fmt::format("Input '{}'", name), Site::format(loc)};
  for (const Dim& d : shape)
    if (d.is_static() && d.size < 1)
      site.fail(fmt::format("shape {} has a dimension {}; every dimension must be at least 1 (name a dimension, "
                            "like {{\"T\", 32}}, to make it dynamic)", ir::shape_str(shape), d.size));
  shape.insert(shape.begin(), Dim("N"));
  ir::Attrs a;
  a.name = name;
  auto n = std::make_shared<ExprNode>();
  n->op = ir::Op::Input;
  n->attrs = a;
  n->type = {dtype, shape};
  n->layer = name;
  n->layer_type = "InputLayer";
  n->loc = site.loc;
  return Expr(std::move(n));
}

Layer::Layer(std::string type, std::string name, const std::source_location& loc)
    : type_(std::move(type)), site_name_(name.empty() ? auto_name(snake(type_)) : std::move(name)),
      loc_(Site::format(loc)) {}

Site Layer::site() const { return {fmt::format("{} layer '{}'", type_, site_name_), loc_}; }

Expr Layer::node(ir::Op op, std::vector<Expr> inputs, ir::Attrs attrs) const {
  return make_expr(op, std::move(inputs), std::move(attrs), site(), site_name_, type_);
}

// Parameters take the dtype of the data the layer is applied to.
Expr Layer::param(const std::string& suffix, Shape shape, const std::string& init, DType dtype) const {
  auto n = std::make_shared<ExprNode>();
  n->op = ir::Op::Param;
  n->attrs.name = site_name_ + "/" + suffix;
  n->attrs.init = init;
  n->type = {dtype, std::move(shape)};
  n->layer = site_name_;
  n->layer_type = type_;
  n->loc = loc_;
  return Expr(std::move(n));
}

void Layer::check_activation(const std::string& a) const {
  if (a != "linear" && a != "relu" && a != "sigmoid" && a != "tanh" && a != "softmax")
    fail(fmt::format("unknown activation '{}' (expected linear, relu, sigmoid, tanh or softmax)", a));
}

Expr Layer::activate(const Expr& x, const std::string& a) const {
  if (a == "linear") return x;
  if (a == "relu") return node(ir::Op::Relu, {x});
  if (a == "sigmoid") return node(ir::Op::Sigmoid, {x});
  if (a == "tanh") return node(ir::Op::Tanh, {x});
  ir::Attrs at;
  at.axes = {-1};
  return node(ir::Op::Softmax, {x}, at);
}

Dense::Dense(int64_t units, std::string activation, bool use_bias, std::string name, Loc loc)
    : Layer("Dense", std::move(name), loc), units_(units), activation_(activation.empty() ? "linear" : activation),
      use_bias_(use_bias) {
  if (units < 1) fail(fmt::format("units must be a positive integer, got {}", units));
  check_activation(activation_);
}

Expr Dense::operator()(const Expr& x, Loc) const {
  if (!x.defined()) fail("the input tensor is undefined");
  if (x.rank() < 2)
    fail(fmt::format("input must have rank >= 2 (batch, ..., features), got shape {}", ir::shape_str(x.shape())));
  const Dim& in = x.shape().back();
  if (!in.is_static())
    fail(fmt::format("the last axis of the input must be static to size the kernel, got shape {}",
                     ir::shape_str(x.shape())));
  if (!kernel_.defined()) {
    kernel_ = param("kernel", {in, units_}, "glorot_uniform", x.dtype());
    if (use_bias_) bias_ = param("bias", {units_}, "zeros", x.dtype());
  } else if (kernel_.shape()[0] != in) {
    fail(fmt::format("was built for inputs with last axis {}, now called on shape {}", kernel_.shape()[0].str(),
                     ir::shape_str(x.shape())));
  }
  Expr y = node(ir::Op::MatMul, {x, kernel_});
  if (use_bias_) y = node(ir::Op::Add, {y, bias_});
  return activate(y, activation_);
}

Flatten::Flatten(std::string name, Loc loc) : Layer("Flatten", std::move(name), loc) {}

Expr Flatten::operator()(const Expr& x, Loc) const {
  if (!x.defined()) fail("the input tensor is undefined");
  if (x.rank() < 1) fail("cannot flatten a scalar");
  int64_t n = 1;
  for (int a = 1; a < x.rank(); ++a) {
    if (!x.shape()[a].is_static())
      fail(fmt::format("every axis but the batch must be static, got shape {}", ir::shape_str(x.shape())));
    n *= x.shape()[a].size;
  }
  ir::Attrs a;
  a.shape = {x.shape()[0], n};
  return node(ir::Op::Reshape, {x}, a);
}

Activation::Activation(std::string activation, std::string name, Loc loc)
    : Layer("Activation", std::move(name), loc), activation_(std::move(activation)) {
  check_activation(activation_);
}

Expr Activation::operator()(const Expr& x, Loc) const {
  if (!x.defined()) fail("the input tensor is undefined");
  Expr y = activate(x, activation_);
  // A linear activation is still a layer in the summary: give it a node.
  return y.node() == x.node() ? node(ir::Op::Mul, {x, make_constant(1.0, x.dtype(), site())}) : y;
}

Softmax::Softmax(int64_t axis, std::string name, Loc loc) : Layer("Softmax", std::move(name), loc), axis_(axis) {}

Expr Softmax::operator()(const Expr& x, Loc) const {
  if (!x.defined()) fail("the input tensor is undefined");
  ir::Attrs a;
  a.axes = {axis_};
  return node(ir::Op::Softmax, {x}, a);
}

}  // namespace brine
