// The geometry shared by the windowed NHWC ops (conv2d*, *_pool2d*): a
// kernel or pooling window slid over height and width with strides,
// dilation and explicit padding (top, bottom, left, right). Keras's "same"
// padding is resolved into explicit pads by the layers (dsl/conv_layers.cpp).
#pragma once

#include <string>

#include "ops/rules.h"

namespace brine::ops {

struct Window2D {
  int64_t kh = 1, kw = 1;  // window (kernel) size
  int64_t sh = 1, sw = 1;  // strides
  int64_t dh = 1, dw = 1;  // dilation
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;

  // Output extent along height / width for an input extent.
  int64_t out_h(int64_t h) const { return (h + pt + pb - ((kh - 1) * dh + 1)) / sh + 1; }
  int64_t out_w(int64_t w) const { return (w + pl + pr - ((kw - 1) * dw + 1)) / sw + 1; }
  // The input row / column read by output o at window offset k.
  int64_t in_y(int64_t o, int64_t k) const { return o * sh + k * dh - pt; }
  int64_t in_x(int64_t o, int64_t k) const { return o * sw + k * dw - pl; }
};

// Reads strides, dilation and pads from the attrs (defaults 1, 1, 0) and
// validates them; the window size is given (the filter's, or attrs.window).
// Throws ShapeError naming `op`.
Window2D window_of(const ir::Attrs& a, int64_t kh, int64_t kw, const std::string& op);

// Checks that the (padded) input holds the (dilated) window and returns the
// output's spatial extents. Throws ShapeError naming `op` and the sizes.
std::pair<int64_t, int64_t> window_output(const Window2D& w, int64_t h, int64_t wd, const std::string& op);

// An NHWC tensor with static height, width and channels: throws otherwise.
void check_nhwc(const ir::TensorType& t, const std::string& op, const char* what);

// Attrs of a windowed op, for the op sweep's samples.
ir::Attrs window_attrs(std::vector<int64_t> window, std::vector<int64_t> strides, std::vector<int64_t> dilation,
                       std::vector<int64_t> pads, ir::Shape shape = {});

}  // namespace brine::ops
