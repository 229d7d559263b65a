// The model-author API, part 3: Keras's convolution and pooling layers, NHWC
// (channels last) as Keras's default:
//
//   auto x = brine::Input({32, 32, 3});
//   auto h = brine::Conv2D(8, 3, {.activation = "relu"})(x);
//   h = brine::MaxPooling2D(2)(h);
//
// Sizes take one number for both axes or {height, width}. Padding "valid"
// (no padding) or "same" (output = ceil(input / stride), zeros split as
// Keras does: the odd one after).
#pragma once

#include <optional>

#include "dsl/layers.h"

namespace brine {

struct Size2 {
  int64_t h, w;
  Size2(int64_t s) : h(s), w(s) {}  // NOLINT: implicit, as Keras takes 3 for (3, 3)
  Size2(int64_t height, int64_t width) : h(height), w(width) {}
};

struct ConvOptions {
  Size2 strides = 1;
  std::string padding = "valid";  // valid | same
  Size2 dilation_rate = 1;
  std::string activation = "linear";
  bool use_bias = true;
  std::string name{};
};

// Conv2D: y = activation(conv(x, kernel) + bias); kernel (kh, kw, in, filters).
class Conv2D : public Layer {
 public:
  Conv2D(int64_t filters, Size2 kernel_size, ConvOptions options = {}, BRINE_HERE);
  Expr operator()(const Expr& x, BRINE_HERE) const;
  const Expr& kernel() const { return kernel_; }
  const Expr& bias() const { return bias_; }

 protected:
  Conv2D(const char* type, int64_t filters, Size2 kernel_size, ConvOptions options, const std::source_location& loc);
  // conv2d + bias + activation on an NHWC input, with the kernel's shape.
  Expr apply(const Expr& x, ir::Shape kernel_shape) const;

  int64_t filters_;
  Size2 kernel_size_;
  ConvOptions opt_;
  mutable Expr kernel_, bias_;
};

struct Conv1DOptions {
  int64_t strides = 1;
  std::string padding = "valid";  // valid | same
  int64_t dilation_rate = 1;
  std::string activation = "linear";
  bool use_bias = true;
  std::string name{};
};

// Conv1D on (batch, steps, channels): a Conv2D of height 1 (reshapes are
// views, no copy); kernel (k, in, filters) as Keras's.
class Conv1D : public Conv2D {
 public:
  Conv1D(int64_t filters, int64_t kernel_size, Conv1DOptions options = {}, BRINE_HERE);
  Expr operator()(const Expr& x, BRINE_HERE) const;
};

// MaxPooling2D / AveragePooling2D: strides default to the pool size. Average
// pooling with "same" padding divides by the number of real (unpadded)
// elements, as Keras.
class MaxPooling2D : public Layer {
 public:
  MaxPooling2D(Size2 pool_size = 2, std::optional<Size2> strides = {}, std::string padding = "valid",
               std::string name = "", BRINE_HERE);
  Expr operator()(const Expr& x, BRINE_HERE) const;

 protected:
  MaxPooling2D(const char* type, ir::Op op, Size2 pool_size, std::optional<Size2> strides, std::string padding,
               std::string name, const std::source_location& loc);
  ir::Op op_;
  Size2 pool_, strides_;
  std::string padding_;
};

class AveragePooling2D : public MaxPooling2D {
 public:
  AveragePooling2D(Size2 pool_size = 2, std::optional<Size2> strides = {}, std::string padding = "valid",
                   std::string name = "", BRINE_HERE);
};

// Global pooling: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with keepdims.
class GlobalAveragePooling2D : public Layer {
 public:
  explicit GlobalAveragePooling2D(bool keepdims = false, std::string name = "", BRINE_HERE);
  Expr operator()(const Expr& x, BRINE_HERE) const;

 protected:
  GlobalAveragePooling2D(const char* type, ir::Op op, bool keepdims, std::string name,
                         const std::source_location& loc);
  ir::Op op_;
  bool keepdims_;
};

class GlobalMaxPooling2D : public GlobalAveragePooling2D {
 public:
  explicit GlobalMaxPooling2D(bool keepdims = false, std::string name = "", BRINE_HERE);
};

// ZeroPadding2D(1), ZeroPadding2D({h, w}) (symmetric), or explicit
// ZeroPadding2D(top, bottom, left, right).
class ZeroPadding2D : public Layer {
 public:
  explicit ZeroPadding2D(Size2 padding = 1, std::string name = "", BRINE_HERE);
  ZeroPadding2D(int64_t top, int64_t bottom, int64_t left, int64_t right, std::string name = "", BRINE_HERE);
  Expr operator()(const Expr& x, BRINE_HERE) const;

 private:
  std::vector<int64_t> pads_;
};

}  // namespace brine
