// oneDNN baselines for the convolution workloads: Conv2D (+ bias + relu) on
// Keras's NHWC activations and HWIO kernel, optionally followed by a Dense
// head (Flatten -> Dense -> softmax), forward, or forward + backward for
// loss = sum(output) (every parameter's gradient; no input gradient).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "harness.h"

namespace bench {

struct ConvNetSpec {
  int64_t N, H, W, C;        // input (NHWC)
  int64_t F, K, pad;         // filters, kernel size (square), padding each side (stride 1)
  const float *w, *b;        // Keras kernel (K, K, C, F) and bias (F)
  int64_t units = 0;         // Dense head after Flatten (0: none), then softmax
  const float *hw = nullptr, *hb = nullptr;  // head kernel (OH*OW*F, units), bias
};

std::unique_ptr<Net> make_onednn_convnet(const ConvNetSpec& spec, bool training);

}  // namespace bench
