// Conv2D, Conv1D, pooling and ZeroPadding2D as layers: Keras's output shapes
// and padding conventions on hand-computed examples, compiled kernels
// against them, a model-level gradient check, and the errors of impossible
// configurations (naming the layer, the shapes and this file's line).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "brine.h"
#include "ir/autodiff.h"
#include "ir/verify.h"
#include "test_util.h"

namespace brine {
namespace {

std::string here(int line) { return fmt::format("conv_layers_test.cpp:{}", line); }

class ConvLayers : public ::testing::Test {
 protected:
  void SetUp() override { reset_layer_names(); }
};

ir::Shape shape_of(const Expr& e) { return e.shape(); }

TEST_F(ConvLayers, KerasOutputShapes) {
  auto x = Input({32, 32, 3});
  EXPECT_EQ(ir::shape_str(shape_of(Conv2D(8, 3)(x))), "(N, 30, 30, 8)");
  EXPECT_EQ(ir::shape_str(shape_of(Conv2D(8, 3, {.padding = "same"})(x))), "(N, 32, 32, 8)");
  EXPECT_EQ(ir::shape_str(shape_of(Conv2D(8, 3, {.strides = 2, .padding = "same"})(x))), "(N, 16, 16, 8)");
  EXPECT_EQ(ir::shape_str(shape_of(Conv2D(8, 3, {.strides = 2})(x))), "(N, 15, 15, 8)");
  EXPECT_EQ(ir::shape_str(shape_of(Conv2D(8, {3, 5}, {.dilation_rate = 2})(x))), "(N, 28, 24, 8)");
  EXPECT_EQ(ir::shape_str(shape_of(Conv2D(4, 2, {.padding = "same"})(x))), "(N, 32, 32, 4)");
  EXPECT_EQ(ir::shape_str(shape_of(MaxPooling2D()(x))), "(N, 16, 16, 3)");
  EXPECT_EQ(ir::shape_str(shape_of(MaxPooling2D(3, 2)(x))), "(N, 15, 15, 3)");
  EXPECT_EQ(ir::shape_str(shape_of(AveragePooling2D(3, 2, "same")(x))), "(N, 16, 16, 3)");
  EXPECT_EQ(ir::shape_str(shape_of(GlobalAveragePooling2D()(x))), "(N, 3)");
  EXPECT_EQ(ir::shape_str(shape_of(GlobalMaxPooling2D(true)(x))), "(N, 1, 1, 3)");
  EXPECT_EQ(ir::shape_str(shape_of(ZeroPadding2D({1, 2})(x))), "(N, 34, 36, 3)");
  auto s = Input({10, 4});
  EXPECT_EQ(ir::shape_str(shape_of(Conv1D(6, 3)(s))), "(N, 8, 6)");
  EXPECT_EQ(ir::shape_str(shape_of(Conv1D(6, 3, {.strides = 2, .padding = "same"})(s))), "(N, 5, 6)");
}

// 1..9 in a 3x3 single-channel image.
Tensor nine() {
  std::vector<float> v(9);
  for (int i = 0; i < 9; ++i) v[i] = static_cast<float>(i + 1);
  return Tensor::from<float>({1, 3, 3, 1}, v);
}

std::vector<float> run(const Model& m, const Tensor& x, std::function<void(Executable&)> set = {}) {
  Executable exe = compile(m.graph());
  if (set) set(exe);
  const Tensor y = exe.forward({x})[0];
  return {y.data<float>(), y.data<float>() + y.size()};
}

TEST_F(ConvLayers, SamePaddingPutsTheOddZeroAfter) {
  // A 2x2 kernel of ones, "same": one row and column of zeros after (bottom,
  // right), as TensorFlow pads.
  auto x = Input({3, 3, 1});
  Conv2D conv(1, 2, {.padding = "same", .use_bias = false});
  const Model m({x}, {conv(x)});
  const auto y = run(m, nine(), [](Executable& e) { e.set_param("conv2d/kernel", Tensor::from<float>({2, 2, 1, 1}, std::vector<float>{1, 1, 1, 1})); });
  EXPECT_EQ(y, (std::vector<float>{12, 16, 9, 24, 28, 15, 15, 17, 9}));
}

TEST_F(ConvLayers, StridedDilatedConvolution) {
  // A 3x2 kernel dilated 2x1 with relu, against the reference evaluator.
  auto x = Input({7, 6, 3});
  Conv2D conv(5, {3, 2}, {.dilation_rate = {2, 1}, .activation = "relu"});
  const Model m({x}, {conv(x)});
  Executable exe = compile(m.graph());
  const Tensor in = test::random_tensor({2, 7, 6, 3}, DType::F32, 4);
  const Tensor y = exe.forward({in})[0];
  std::vector<ops::RefTensor> params;
  for (const Tensor& p : exe.params()) params.push_back(test::to_ref(p));
  const std::vector<ops::RefTensor> ref_in{test::to_ref(in)};
  const auto want = ir::evaluate(m.graph(), ref_in, params);
  EXPECT_TRUE(test::close(y, want[0], 1e-5, 1e-5));
}

TEST_F(ConvLayers, AveragePoolingSameCountsOnlyRealElements) {
  auto x = Input({3, 3, 1});
  const Model m({x}, {AveragePooling2D(2, 2, "same")(x)});
  EXPECT_EQ(run(m, nine()), (std::vector<float>{3, 4.5, 7.5, 9}));
  reset_layer_names();
  auto x2 = Input({3, 3, 1});
  const Model mx({x2}, {MaxPooling2D(2, 2, "same")(x2)});
  EXPECT_EQ(run(mx, nine()), (std::vector<float>{5, 6, 8, 9}));
}

TEST_F(ConvLayers, GlobalPoolingAndZeroPadding) {
  auto x = Input({3, 3, 1});
  const Model m({x}, {GlobalAveragePooling2D()(x), GlobalMaxPooling2D()(x), ZeroPadding2D(0, 1, 1, 0)(x)});
  Executable exe = compile(m.graph());
  const auto y = exe.forward({nine()});
  EXPECT_FLOAT_EQ(y[0].data<float>()[0], 5);
  EXPECT_FLOAT_EQ(y[1].data<float>()[0], 9);
  const std::vector<float> padded(y[2].data<float>(), y[2].data<float>() + y[2].size());
  EXPECT_EQ(padded, (std::vector<float>{0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0}));
}

TEST_F(ConvLayers, Conv1DIsAConv2DOfHeightOne) {
  auto s = Input({5, 2});
  Conv1D conv(1, 2, {.use_bias = false});
  const Model m({s}, {conv(s)});
  Executable exe = compile(m.graph());
  exe.set_param("conv1d/kernel", Tensor::from<float>({2, 2, 1}, std::vector<float>{1, 10, 100, 1000}));
  const std::vector<float> in{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};  // steps of (a, b)
  const Tensor y = exe.forward({Tensor::from<float>({1, 5, 2}, in)})[0];
  // y[t] = x[t].a + 10 x[t].b + 100 x[t+1].a + 1000 x[t+1].b
  EXPECT_EQ(std::vector<float>(y.data<float>(), y.data<float>() + 4), (std::vector<float>{4321, 6543, 8765, 10987}));
}

TEST_F(ConvLayers, ModelGradientsAgreeWithFiniteDifferences) {
  // Conv -> MaxPool -> Conv(same, stride 2) -> AvgPool -> Dense, in f64.
  auto x = Input({8, 7, 2}, "x", DType::F64);
  auto h = Conv2D(3, 3, {.activation = "tanh"})(x);
  h = MaxPooling2D(2, 1)(h);
  h = Conv2D(4, 2, {.strides = 2, .padding = "same"})(h);
  h = AveragePooling2D(2, 1, "same")(h);
  auto flat = Flatten()(h);
  auto y = Dense(2)(flat);
  const Model m({x}, {reduce_sum(y * y)});
  ir::Graph g = m.graph();
  std::vector<int> params;
  for (const ir::Node& n : g.nodes)
    if (n.op == ir::Op::Param) params.push_back(n.id);
  const ir::Graph back = ir::differentiate(g, g.outputs[0].node, params);
  std::vector<ops::RefTensor> pv;
  uint64_t seed = 3;
  for (int id : params) {
    std::vector<int64_t> shape;
    for (const ir::Dim& d : g.node(id).type.shape) shape.push_back(d.size);
    pv.push_back(test::to_ref(test::random_tensor(shape, DType::F64, seed++)));
  }
  const std::vector<ops::RefTensor> in{test::to_ref(test::random_tensor({2, 8, 7, 2}, DType::F64, 1))};
  const auto analytic = ir::evaluate(back, in, pv);
  for (size_t p = 0; p < params.size(); ++p) {
    double scale = 1e-3;
    for (double v : analytic[1 + p].data) scale = std::max(scale, std::abs(v));
    for (int64_t i = 0; i < pv[p].size(); i += 3) {
      const double x0 = pv[p].data[i], h = 1e-6;
      pv[p].data[i] = x0 + h;
      const double up = ir::evaluate(g, in, pv)[0].data[0];
      pv[p].data[i] = x0 - h;
      const double down = ir::evaluate(g, in, pv)[0].data[0];
      pv[p].data[i] = x0;
      EXPECT_NEAR(analytic[1 + p].data[i], (up - down) / (2 * h), 1e-6 * scale) << g.node(params[p]).attrs.name << "[" << i << "]";
    }
  }
}

TEST_F(ConvLayers, ImpossibleConfigurationsAreClearErrors) {
  auto x = Input({5, 5, 3});
  int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Conv2D(4, 7)(x), "Conv2D layer 'conv2d'", here(line), "window 7x7", "larger than the padded input 5x5");
  line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Conv2D(4, 3, {.strides = {0, 1}}), "Conv2D layer 'conv2d_1'", here(line), "strides must be positive, got (0, 1)");
  line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Conv2D(0, 3), "Conv2D layer 'conv2d_2'", here(line), "filters must be a positive integer, got 0");
  Conv2D shared(4, 3);
  shared(x);
  line = __LINE__ - 2;
  auto x4 = Input({5, 5, 4});
  EXPECT_BRINE_ERROR(shared(x4), "Conv2D layer 'conv2d_3'", here(line), "channel mismatch", "(N, 5, 5, 4)", "4 channels", "expects 3");
  line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Conv2D(4, 3, {.padding = "causal"}), "unknown padding 'causal'", here(line));
  line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Conv2D(4, 3, {.strides = 2, .dilation_rate = 2}), "not supported", here(line));
  auto flat = Input({25});
  line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Conv2D(4, 3)(flat), "Conv2D layer", here(line), "rank 4", "(N, 25)");
  line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(MaxPooling2D(6)(x), "MaxPooling2D layer 'max_pooling2d'", here(line), "window 6x6", "5x5");
  line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(MaxPooling2D(2, Size2(0)), "MaxPooling2D layer", here(line), "strides must be positive");
  line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Conv1D(4, 3)(x), "Conv1D layer 'conv1d'", here(line), "rank 3", "(N, 5, 5, 3)");
  line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(ZeroPadding2D(-1, 0, 0, 0), "ZeroPadding2D layer", here(line), "must not be negative");
}

}  // namespace
}  // namespace brine
