// The baselines brine is measured against, on the same shapes and weights:
// a chain of Dense layers (and a final softmax) through oneDNN primitives and
// through OpenBLAS sgemm with plain loops for bias and activation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bench {

// One Dense layer on an (M, K) row-major input; W is Keras's (K, N) kernel.
// A layer's M x K input is the previous layer's M' x N' output reinterpreted
// (Flatten), so M * K must equal M' * N'.
struct DenseLayer {
  int64_t M, K, N;
  std::string activation;  // "linear" | "relu" | "softmax"
  const float* W;
  const float* b;
};

class DenseChain {
 public:
  virtual ~DenseChain() = default;
  virtual void run(const float* x) = 0;
  virtual const float* output() const = 0;
  virtual size_t bytes() const = 0;  // weights, activations, scratch
};

std::unique_ptr<DenseChain> make_onednn_chain(const std::vector<DenseLayer>& layers);
std::unique_ptr<DenseChain> make_openblas_chain(const std::vector<DenseLayer>& layers);

}  // namespace bench

namespace bench {

// Forward and backward of the same chain for loss = sum(output): the
// gradients of every weight and bias (and of the activations in between).
class DenseChainTraining {
 public:
  virtual ~DenseChainTraining() = default;
  virtual void run(const float* x) = 0;
  // d loss / d kernel of layer l, in Keras's (K, N) row-major layout.
  virtual std::vector<float> kernel_grad(size_t l) = 0;
  // The kernel of layer l itself (changed by training steps), same layout.
  virtual std::vector<float> kernel(size_t l) = 0;
  virtual size_t bytes() const = 0;
};

// With `target` (M x N of the last layer), a whole SGD training step on the
// mean squared error instead: the loss gradient 2 (y - t) / (M N) seeds the
// backward, and every weight and bias is updated in place by w -= lr dw
// (plain loops, timed with the rest).
std::unique_ptr<DenseChainTraining> make_onednn_training(const std::vector<DenseLayer>& layers,
                                                         const float* target = nullptr, float lr = 0.01f);

}  // namespace bench
