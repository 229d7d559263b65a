// Malformed models: each must raise brine::Error whose message names the
// layer (or op), its type, the shapes involved and this file and line.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "brine.h"
#include "test_util.h"

namespace brine {
namespace {

// "dsl_error_test.cpp:<line>" for the line that follows the marker.
std::string here(int line) { return fmt::format("dsl_error_test.cpp:{}", line); }

class DslErrors : public ::testing::Test {
 protected:
  void SetUp() override { reset_layer_names(); }
};

TEST_F(DslErrors, DenseZeroUnits) {
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Dense(0), "Dense layer 'dense'", here(line), "units must be a positive integer, got 0");
}

TEST_F(DslErrors, DenseUnknownActivation) {
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Dense(4, "relux"), "Dense layer 'dense'", here(line), "unknown activation 'relux'");
}

TEST_F(DslErrors, DenseOnScalar) {
  auto x = Input({3});
  auto s = reduce_sum(x);
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Dense(4)(s), "Dense layer 'dense'", here(line), "rank >= 2", "shape ()");
}

TEST_F(DslErrors, DenseOnDynamicFeatureAxis) {
  auto x = Input({"T"}, "seq");
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Dense(4, "linear", true, "proj")(x), "Dense layer 'proj'", here(line), "(N, T)",
                     "last axis of the input must be static");
}

TEST_F(DslErrors, DenseReusedOnOtherWidth) {
  auto a = Input({8});
  auto b = Input({6});
  Dense shared(4);
  shared(a);
  const int line = __LINE__ - 2;  // the layer was declared there
  EXPECT_BRINE_ERROR(shared(b), "Dense layer 'dense'", here(line), "last axis 8", "(N, 6)");
}

TEST_F(DslErrors, BroadcastMismatch) {
  auto a = Input({3});
  auto b = Input({4});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(a + b, "add", here(line), "cannot broadcast shapes (N, 3) and (N, 4)");
}

TEST_F(DslErrors, BroadcastSymbolMismatch) {
  auto a = Input({"T", 4});
  auto b = Input({5, 4});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(a * b, "mul", here(line), "(N, T, 4)", "(N, 5, 4)", "T vs 5");
}

TEST_F(DslErrors, MatmulContractionMismatch) {
  auto a = Input({3, 8});
  auto b = Input({7, 2});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(matmul(a, b), "matmul", here(line), "(N, 3, 8)", "(N, 7, 2)",
                     "contraction dimensions differ (8 vs 7)");
}

TEST_F(DslErrors, MatmulRankOne) {
  auto a = Input({8});
  auto v = reduce_sum(a, {1});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(matmul(v, a), "matmul", here(line), "rank >= 2", "(N,)");
}

TEST_F(DslErrors, SoftmaxAxisOutOfRange) {
  auto x = Input({5});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(softmax(x, 2), "softmax", here(line), "softmax axis 2 is out of range", "rank 2",
                     "(N, 5)");
}

TEST_F(DslErrors, SoftmaxLayerAxisOutOfRange) {
  auto x = Input({5});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Softmax(-3)(x), "Softmax layer 'softmax'", here(line), "softmax axis -3", "(N, 5)");
}

TEST_F(DslErrors, ReduceAxisOutOfRange) {
  auto x = Input({5});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(reduce_mean(x, {3}), "reduce_mean", here(line), "reduction axis 3 is out of range",
                     "(N, 5)");
}

TEST_F(DslErrors, ReduceAxisRepeated) {
  auto x = Input({5, 6});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(reduce_max(x, {1, -2}), "reduce_max", here(line), "axis 1 is listed twice", "(N, 5, 6)");
}

TEST_F(DslErrors, ReshapeWrongCount) {
  auto x = Input({4, 6});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(reshape(x, {"N", 5, 5}), "reshape", here(line), "cannot reshape (N, 4, 6)",
                     "24 elements", "(N, 5, 5)");
}

TEST_F(DslErrors, ReshapeTwoInferred) {
  auto x = Input({4, 6});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(reshape(x, {"N", -1, -1}), "reshape", here(line), "at most one -1");
}

TEST_F(DslErrors, ReshapeDropsBatchSymbol) {
  auto x = Input({4});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(reshape(x, {2, 2}), "reshape", here(line), "cannot reshape (N, 4) to (2, 2)",
                     "symbolic dimensions");
}

TEST_F(DslErrors, TransposeRepeatedAxis) {
  auto x = Input({4, 6});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(transpose(x, {0, 1, 1}), "transpose", here(line), "repeats axis 1", "(N, 4, 6)");
}

TEST_F(DslErrors, TransposeWrongLength) {
  auto x = Input({4, 6});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(transpose(x, {1, 0}), "transpose", here(line), "2 axes for a tensor of rank 3");
}

TEST_F(DslErrors, ConcatMismatch) {
  auto a = Input({4, 6});
  auto b = Input({5, 6});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(concat({a, b}, -1), "concat", here(line), "input 1 has shape (N, 5, 6)",
                     "input 0 has (N, 4, 6)", "axis 1 differs");
}

TEST_F(DslErrors, ConcatOfNothing) {
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(concat({}, 0), "concat", here(line), "concat of no tensors");
}

TEST_F(DslErrors, ExpandDimsOutOfRange) {
  auto x = Input({4});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(expand_dims(x, 5), "expand_dims", here(line), "axis 5 is out of range", "(N, 4)");
}

TEST_F(DslErrors, InputZeroDimension) {
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Input({32, 0, 3}, "image"), "Input 'image'", here(line), "shape (32, 0, 3)",
                     "at least 1");
}

TEST_F(DslErrors, FlattenDynamicAxis) {
  auto x = Input({"T", 4});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Flatten()(x), "Flatten layer 'flatten'", here(line), "must be static", "(N, T, 4)");
}

TEST_F(DslErrors, UnknownActivationLayer) {
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Activation("gelu"), "Activation layer 'activation'", here(line),
                     "unknown activation 'gelu'");
}

TEST_F(DslErrors, UndefinedInputTensor) {
  Expr nothing;
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Dense(3)(nothing), "Dense layer 'dense'", here(line), "undefined");
}

TEST_F(DslErrors, OutputNotReachableFromInputs) {
  auto a = Input({4}, "a");
  auto b = Input({4}, "b");
  auto y = Dense(2)(a + b);
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Model({a}, {y}, "m"), "Model 'm'", here(line), "layer 'dense'", "(N, 2)",
                     "depends on Input 'b'", "not among the model's inputs [a]");
}

TEST_F(DslErrors, ModelInputIsNotAnInput) {
  auto a = Input({4});
  auto h = Dense(3)(a);
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Model({h}, {h}), "Model 'model'", here(line), "not an Input(...)", "(N, 3)");
}

TEST_F(DslErrors, ModelInputListedTwice) {
  auto a = Input({4}, "pixels");
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Model({a, a}, {Dense(2)(a)}), "Model 'model'", here(line),
                     "input 'pixels' is listed twice");
}

TEST_F(DslErrors, TwoLayersWithOneName) {
  auto a = Input({4});
  auto y = Dense(3, "relu", true, "hidden")(Dense(3, "relu", true, "hidden")(a));
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Model({a}, {y}), "Model 'model'", here(line), "two different layers are named 'hidden'");
}

TEST_F(DslErrors, ModelWithoutOutputs) {
  auto a = Input({4});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(Model({a}, {}), "Model 'model'", here(line), "at least one output");
}

TEST_F(DslErrors, ErrorsAreNotInternal) {
  // A user error is brine::Error and never brine::InternalError.
  try {
    Dense(-1);
    FAIL();
  } catch (const InternalError&) {
    FAIL() << "user error reported as internal";
  } catch (const Error&) {
  }
}

}  // namespace
}  // namespace brine
