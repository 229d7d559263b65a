// The generated libraries, used as a deployed program would: this test links
// them and brine_runtime only (no libbrine, no libHalide, no LLVM).
#include <gtest/gtest.h>

#include <cmath>

#include "packed_frozen.h"
#include "two_inputs_f32.h"
#include "two_inputs_naive_f64.h"

namespace {

template <typename T>
brine::Tensor filled(std::vector<int64_t> shape, double scale) {
  brine::Tensor t(std::move(shape), brine::dtype_of<T>());
  T* p = t.data<T>();
  for (int64_t i = 0; i < t.size(); ++i) p[i] = static_cast<T>(scale * std::sin(0.37 * i + 0.1));
  return t;
}

// y[n, j] = sum_t tanh(sum_k seq[n,t,k] W[k,j] + b[j]) + T * ctx[n, j], by hand.
template <typename T>
std::vector<double> expected(const brine::Tensor& seq, const brine::Tensor& ctx, const brine::Tensor& W,
                             const brine::Tensor& b) {
  const int64_t N = seq.dim(0), Tn = seq.dim(1);
  std::vector<double> y(N * 8, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < 8; ++j) {
      double acc = 0;
      for (int64_t t = 0; t < Tn; ++t) {
        double z = b.data<T>()[j];
        for (int64_t k = 0; k < 8; ++k) z += seq.data<T>()[(n * Tn + t) * 8 + k] * W.data<T>()[k * 8 + j];
        acc += std::tanh(z) + ctx.data<T>()[n * 8 + j];
      }
      y[n * 8 + j] = acc;
    }
  return y;
}

template <typename Model, typename T>
void check_numbers(double tol) {
  Model model(3);
  for (int64_t batch : {1, 3, 64})
    for (int64_t steps : {1, 7}) {
      const brine::Tensor seq = filled<T>({batch, steps, 8}, 1.5), ctx = filled<T>({batch, 8}, 0.5);
      brine::Tensor y;
      const brine::Status s = model.forward(seq, ctx, y);
      ASSERT_TRUE(s.ok()) << s.message;
      ASSERT_EQ(y.shape(), (std::vector<int64_t>{batch, 8}));
      const auto want = expected<T>(seq, ctx, model.param("dense/kernel"), model.param("dense/bias"));
      for (int64_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y.data<T>()[i], want[i], tol * (1 + std::abs(want[i])));
    }
}

TEST(Aot, TunedF32MatchesHandComputation) { check_numbers<two_inputs_f32::Model, float>(1e-5); }
TEST(Aot, NaiveF64MatchesHandComputation) { check_numbers<two_inputs_naive_f64::Model, double>(1e-12); }

// Compiled with FROZEN_PARAMS: the class starts frozen, its packed kernel is
// computed on the first call and again after set_param.
TEST(Aot, FrozenModelPacksItsKernelAndFollowsSetParam) {
  packed_frozen::Model model(5);
  EXPECT_TRUE(model.params_frozen());
  EXPECT_EQ(model.constant_bytes(), 256u * 256u * 4u);
  const brine::Tensor x = filled<float>({3, 256}, 1.0);
  const auto check = [&](const char* what) {
    brine::Tensor y;
    ASSERT_TRUE(model.forward(x, y).ok()) << what;
    const brine::Tensor &W = model.param("dense/kernel"), &b = model.param("dense/bias");
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t j = 0; j < 256; ++j) {
        double want = b.data<float>()[j];
        for (int64_t k = 0; k < 256; ++k) want += double{x.data<float>()[n * 256 + k]} * W.data<float>()[k * 256 + j];
        EXPECT_NEAR(y.data<float>()[n * 256 + j], want, 1e-4 * (1 + std::abs(want))) << what << " (" << n << ", " << j << ")";
      }
  };
  check("first call");
  check("second call");
  model.set_param("dense/kernel", filled<float>({256, 256}, 0.1));
  check("after set_param");
}

TEST(Aot, OutputBufferIsReusedWhenItFits) {
  two_inputs_f32::Model model;
  const brine::Tensor seq = filled<float>({4, 2, 8}, 1), ctx = filled<float>({4, 8}, 1);
  brine::Tensor y({4, 8});
  const void* before = y.raw();
  ASSERT_TRUE(model.forward(seq, ctx, y).ok());
  EXPECT_EQ(y.raw(), before);
  EXPECT_EQ(model.plans_built(), 1u);
  ASSERT_TRUE(model.forward(seq, ctx, y).ok());
  EXPECT_EQ(model.plans_built(), 1u);
}

void expect_error(const brine::Status& s, std::initializer_list<std::string> pieces) {
  ASSERT_FALSE(s.ok());
  for (const std::string& p : pieces) EXPECT_NE(s.message.find(p), std::string::npos) << "lacks \"" << p << "\": " << s.message;
}

TEST(Aot, WrongInputsReturnErrorStatus) {
  two_inputs_f32::Model model;
  const brine::Tensor seq = filled<float>({2, 5, 8}, 1), ctx = filled<float>({2, 8}, 1);
  brine::Tensor y;
  expect_error(model.forward(filled<float>({2, 8}, 1), ctx, y),
               {"model 'two_inputs_f32'", "input 'seq'", "shape (2, 8) (rank 2)", "expected (N, T, 8) (rank 3)"});
  expect_error(model.forward(filled<float>({2, 5, 9}, 1), ctx, y), {"input 'seq'", "(2, 5, 9)", "axis 2 must be 8"});
  expect_error(model.forward(filled<double>({2, 5, 8}, 1), ctx, y), {"input 'seq'", "dtype f64, expected f32"});
  expect_error(model.forward(brine::Tensor::view(nullptr, {2, 5, 8}), ctx, y), {"input 'seq' is a null buffer"});
  expect_error(model.forward(seq, filled<float>({3, 8}, 1), y),
               {"input 'ctx'", "(3, 8)", "dimension N is 2 in input 'seq'"});
  float small[4];
  brine::Tensor bad_out = brine::Tensor::view(small, {2, 2});
  expect_error(model.forward(seq, ctx, bad_out), {"output", "(2, 2) view", "expected f32 (2, 8)"});
  // The model still works after errors.
  EXPECT_TRUE(model.forward(seq, ctx, y).ok());
}

TEST(Aot, GenericForwardThrows) {
  two_inputs_f32::Model model;
  EXPECT_THROW(model.forward(std::vector<brine::Tensor>{filled<float>({2, 5, 8}, 1)}), brine::Error);
}

}  // namespace

#include "classifier_train.h"

namespace {

// Three well separated classes: class c has feature c (and c + 3) at 2, the rest noise.
std::pair<brine::Tensor, brine::Tensor> three_classes(int64_t n) {
  brine::Tensor x({n, 6}), y({n});
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % 3);
    for (int j = 0; j < 6; ++j) x.data<float>()[i * 6 + j] = 0.3f * static_cast<float>(std::sin(1.7 * i + j));
    x.data<float>()[i * 6 + c] += 2;
    x.data<float>()[i * 6 + c + 3] += 2;
    y.data<float>()[i] = static_cast<float>(c);
  }
  return {x, y};
}

TEST(AotTraining, TrainStepLearns) {
  classifier_train::TrainStep t;
  const auto [x, y] = three_classes(48);
  double first = 0, loss = 0;
  for (int s = 0; s < 60; ++s) {
    ASSERT_TRUE(t.step(x, y, loss).ok());
    if (s == 0) first = loss;
  }
  EXPECT_EQ(t.steps(), 60);
  EXPECT_LT(loss, 0.1 * first);
}

TEST(AotTraining, BadBatchGivesStatusAndChangesNothing) {
  classifier_train::TrainStep t;
  const auto [x, y] = three_classes(6);
  const std::vector<float> before(t.param("dense/kernel").data<float>(), t.param("dense/kernel").data<float>() + 48);
  double loss = -1;
  const brine::Status s = t.step(x, brine::Tensor({5}), loss);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message.find("input 'y_true'"), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("dimension N is 6 in input 'x'"), std::string::npos) << s.message;
  EXPECT_EQ(t.steps(), 0);
  EXPECT_EQ(loss, -1);
  const float* after = t.param("dense/kernel").data<float>();
  EXPECT_TRUE(std::equal(before.begin(), before.end(), after));
}

}  // namespace
