#include "dsl/conv_layers.h"

#include <fmt/format.h>

namespace brine {

namespace {

// Keras's "same": output ceil(in / stride); the total padding split with
// the odd element after (TensorFlow's convention).
std::pair<int64_t, int64_t> same_pads(int64_t in, int64_t k, int64_t stride, int64_t dilation) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + (k - 1) * dilation + 1 - in, 0);
  return {total / 2, total - total / 2};
}

}  // namespace

// ------------------------------------------------------------------ Conv2D

Conv2D::Conv2D(int64_t filters, Size2 kernel_size, ConvOptions options, Loc loc)
    : Conv2D("Conv2D", filters, kernel_size, std::move(options), loc) {}

Conv2D::Conv2D(const char* type, int64_t filters, Size2 kernel_size, ConvOptions options,
               const std::source_location& loc)
    : Layer(type, options.name, loc), filters_(filters), kernel_size_(kernel_size), opt_(std::move(options)) {
  if (opt_.activation.empty()) opt_.activation = "linear";
  if (filters < 1) fail(fmt::format("filters must be a positive integer, got {}", filters));
  if (kernel_size.h < 1 || kernel_size.w < 1)
    fail(fmt::format("kernel_size must be positive, got ({}, {})", kernel_size.h, kernel_size.w));
  if (opt_.strides.h < 1 || opt_.strides.w < 1)
    fail(fmt::format("strides must be positive, got ({}, {})", opt_.strides.h, opt_.strides.w));
  if (opt_.dilation_rate.h < 1 || opt_.dilation_rate.w < 1)
    fail(fmt::format("dilation_rate must be positive, got ({}, {})", opt_.dilation_rate.h, opt_.dilation_rate.w));
  if ((opt_.strides.h > 1 || opt_.strides.w > 1) && (opt_.dilation_rate.h > 1 || opt_.dilation_rate.w > 1))
    fail(fmt::format("strides ({}, {}) > 1 together with dilation_rate ({}, {}) > 1 is not supported (as in Keras)",
                     opt_.strides.h, opt_.strides.w, opt_.dilation_rate.h, opt_.dilation_rate.w));
  if (opt_.padding != "valid" && opt_.padding != "same")
    fail(fmt::format("unknown padding '{}' (expected valid or same)", opt_.padding));
  check_activation(opt_.activation);
}

Expr Conv2D::operator()(const Expr& x, Loc) const {
  if (!x.defined()) fail("the input tensor is undefined");
  if (x.rank() != 4)
    fail(fmt::format("input must have rank 4 (batch, height, width, channels), got shape {}",
                     ir::shape_str(x.shape())));
  return apply(x, {kernel_size_.h, kernel_size_.w, x.shape()[3], filters_});
}

Expr Conv2D::apply(const Expr& x, ir::Shape kernel_shape) const {
  for (int a = 1; a < 4; ++a)
    if (!x.shape()[a].is_static())
      fail(fmt::format("height, width and channels of the input must be static, got shape {}",
                       ir::shape_str(x.shape())));
  if (!kernel_.defined()) {
    kernel_ = param("kernel", kernel_shape, "glorot_uniform", x.dtype());
    if (opt_.use_bias) bias_ = param("bias", {filters_}, "zeros", x.dtype());
  }
  Expr k = kernel_;
  if (kernel_.rank() != 4) {  // Conv1D's (k, in, filters), seen with a height of 1
    ir::Attrs r;
    r.shape = {1, kernel_.shape()[0], kernel_.shape()[1], kernel_.shape()[2]};
    k = node(ir::Op::Reshape, {kernel_}, r);
  }
  ir::Attrs a;
  a.strides = {opt_.strides.h, opt_.strides.w};
  a.dilation = {opt_.dilation_rate.h, opt_.dilation_rate.w};
  if (opt_.padding == "same") {
    const auto [t, b] = same_pads(x.shape()[1].size, k.shape()[0].size, opt_.strides.h, opt_.dilation_rate.h);
    const auto [l, r] = same_pads(x.shape()[2].size, k.shape()[1].size, opt_.strides.w, opt_.dilation_rate.w);
    a.pads = {t, b, l, r};
  }
  Expr y = node(ir::Op::Conv2D, {x, k}, a);
  if (opt_.use_bias) y = node(ir::Op::Add, {y, bias_});
  return activate(y, opt_.activation);
}

// ------------------------------------------------------------------ Conv1D

Conv1D::Conv1D(int64_t filters, int64_t kernel_size, Conv1DOptions o, Loc loc)
    : Conv2D("Conv1D", filters, Size2(1, kernel_size),
             ConvOptions{Size2(1, o.strides), o.padding, Size2(1, o.dilation_rate), o.activation, o.use_bias, o.name},
             loc) {}

Expr Conv1D::operator()(const Expr& x, Loc) const {
  if (!x.defined()) fail("the input tensor is undefined");
  if (x.rank() != 3)
    fail(fmt::format("input must have rank 3 (batch, steps, channels), got shape {}", ir::shape_str(x.shape())));
  if (!x.shape()[1].is_static() || !x.shape()[2].is_static())
    fail(fmt::format("steps and channels of the input must be static, got shape {}", ir::shape_str(x.shape())));
  ir::Attrs up;
  up.shape = {x.shape()[0], 1, x.shape()[1], x.shape()[2]};
  const Expr y = apply(node(ir::Op::Reshape, {x}, up), {kernel_size_.w, x.shape()[2], filters_});
  ir::Attrs down;
  down.shape = {y.shape()[0], y.shape()[2], y.shape()[3]};
  return node(ir::Op::Reshape, {y}, down);
}

// ------------------------------------------------------------------ pooling

MaxPooling2D::MaxPooling2D(Size2 pool_size, std::optional<Size2> strides, std::string padding, std::string name,
                           Loc loc)
    : MaxPooling2D("MaxPooling2D", ir::Op::MaxPool2D, pool_size, strides, std::move(padding), std::move(name), loc) {}

MaxPooling2D::MaxPooling2D(const char* type, ir::Op op, Size2 pool_size, std::optional<Size2> strides,
                           std::string padding, std::string name, const std::source_location& loc)
    : Layer(type, std::move(name), loc), op_(op), pool_(pool_size), strides_(strides.value_or(pool_size)),
      padding_(std::move(padding)) {
  if (pool_.h < 1 || pool_.w < 1) fail(fmt::format("pool_size must be positive, got ({}, {})", pool_.h, pool_.w));
  if (strides_.h < 1 || strides_.w < 1)
    fail(fmt::format("strides must be positive, got ({}, {})", strides_.h, strides_.w));
  if (padding_ != "valid" && padding_ != "same")
    fail(fmt::format("unknown padding '{}' (expected valid or same)", padding_));
}

Expr MaxPooling2D::operator()(const Expr& x, Loc) const {
  if (!x.defined()) fail("the input tensor is undefined");
  if (x.rank() != 4)
    fail(fmt::format("input must have rank 4 (batch, height, width, channels), got shape {}",
                     ir::shape_str(x.shape())));
  ir::Attrs a;
  a.window = {pool_.h, pool_.w};
  a.strides = {strides_.h, strides_.w};
  if (padding_ == "same" && x.shape()[1].is_static() && x.shape()[2].is_static()) {
    const auto [t, b] = same_pads(x.shape()[1].size, pool_.h, strides_.h, 1);
    const auto [l, r] = same_pads(x.shape()[2].size, pool_.w, strides_.w, 1);
    a.pads = {t, b, l, r};
  }
  return node(op_, {x}, a);
}

AveragePooling2D::AveragePooling2D(Size2 pool_size, std::optional<Size2> strides, std::string padding,
                                   std::string name, Loc loc)
    : MaxPooling2D("AveragePooling2D", ir::Op::AvgPool2D, pool_size, strides, std::move(padding), std::move(name),
                   loc) {}

GlobalAveragePooling2D::GlobalAveragePooling2D(bool keepdims, std::string name, Loc loc)
    : GlobalAveragePooling2D("GlobalAveragePooling2D", ir::Op::ReduceMean, keepdims, std::move(name), loc) {}

GlobalAveragePooling2D::GlobalAveragePooling2D(const char* type, ir::Op op, bool keepdims, std::string name,
                                               const std::source_location& loc)
    : Layer(type, std::move(name), loc), op_(op), keepdims_(keepdims) {}

Expr GlobalAveragePooling2D::operator()(const Expr& x, Loc) const {
  if (!x.defined()) fail("the input tensor is undefined");
  if (x.rank() != 4)
    fail(fmt::format("input must have rank 4 (batch, height, width, channels), got shape {}",
                     ir::shape_str(x.shape())));
  ir::Attrs a;
  a.axes = {1, 2};
  a.keepdims = keepdims_;
  return node(op_, {x}, a);
}

GlobalMaxPooling2D::GlobalMaxPooling2D(bool keepdims, std::string name, Loc loc)
    : GlobalAveragePooling2D("GlobalMaxPooling2D", ir::Op::ReduceMax, keepdims, std::move(name), loc) {}

// ------------------------------------------------------------------ ZeroPadding2D

ZeroPadding2D::ZeroPadding2D(Size2 padding, std::string name, Loc loc)
    : ZeroPadding2D(padding.h, padding.h, padding.w, padding.w, std::move(name), loc) {}

ZeroPadding2D::ZeroPadding2D(int64_t top, int64_t bottom, int64_t left, int64_t right, std::string name, Loc loc)
    : Layer("ZeroPadding2D", std::move(name), loc), pads_{top, bottom, left, right} {
  for (int64_t p : pads_)
    if (p < 0) fail(fmt::format("padding ({}, {}, {}, {}) must not be negative", top, bottom, left, right));
}

Expr ZeroPadding2D::operator()(const Expr& x, Loc) const {
  if (!x.defined()) fail("the input tensor is undefined");
  if (x.rank() != 4)
    fail(fmt::format("input must have rank 4 (batch, height, width, channels), got shape {}",
                     ir::shape_str(x.shape())));
  ir::Attrs a;
  a.pads = pads_;
  return node(ir::Op::Pad2D, {x}, a);
}

}  // namespace brine
