// The generated training step against the JIT trainer: same model, seed,
// optimizer and batches must give the same weights.
#include <gtest/gtest.h>

#include <cmath>

#include "brine.h"
#include "classifier_train.h"
#include "ir/autodiff.h"
#include "train/train_graph.h"

brine::Model brine_model();

namespace brine {
namespace {

TEST(AotTraining, SameWeightsAsTheJitTrainer) {
  classifier_train::TrainStep aot;
  Trainer jit(brine_model(), "sparse_categorical_crossentropy", Optimizer::adam(0.01), /*from_logits=*/true);
  Tensor x({12, 6}), y({12});
  for (int64_t i = 0; i < 12; ++i) {
    for (int j = 0; j < 6; ++j) x.data<float>()[i * 6 + j] = static_cast<float>(std::cos(0.9 * i + 2.1 * j));
    y.data<float>()[i] = static_cast<float>(i % 3);
  }
  for (int s = 0; s < 5; ++s) {
    double loss_aot = 0;
    ASSERT_TRUE(aot.step(x, y, loss_aot).ok());
    EXPECT_NEAR(loss_aot, jit.train_step(x, y), 1e-6) << "step " << s;
  }
  for (const char* name : {"dense/kernel", "dense/bias", "dense_1/kernel", "adam/m/dense/kernel", "adam/v/dense_1/bias"}) {
    const Tensor& a = aot.param(name);
    const Tensor& b = jit.weight(name);
    ASSERT_EQ(a.shape(), b.shape()) << name;
    for (int64_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a.at_flat(i), b.at_flat(i), 1e-6) << name << "[" << i << "]";
  }
}

TEST(AotTraining, GradientsMatchTheJitBackward) {
  classifier_train::Gradients aot;
  Tensor x({4, 6}), y({4});
  for (int64_t i = 0; i < 24; ++i) x.data<float>()[i] = static_cast<float>(std::sin(0.4 * i));
  for (int64_t i = 0; i < 4; ++i) y.data<float>()[i] = static_cast<float>(i % 3);
  const auto got = aot.forward({x, y});
  // The same graph, JIT compiled.
  Executable jit = compile(build_training_graphs(brine_model(), "sparse_categorical_crossentropy", true,
                                                 Optimizer::adam(0.01)).gradients);
  const auto want = jit.forward({x, y});
  ASSERT_EQ(got.size(), want.size());
  for (size_t o = 0; o < got.size(); ++o)
    for (int64_t i = 0; i < got[o].size(); ++i) EXPECT_NEAR(got[o].at_flat(i), want[o].at_flat(i), 1e-6) << o;
}

}  // namespace
}  // namespace brine
