// The dense and convolution workloads of BENCHMARKS.md, as DSL models. The benchmark JIT-
// compiles them and brine_add_model(... FUNCTION ...) AOT-compiles them.
#include "brine.h"

// mlp_b256: Input(784) -> Dense(512, relu) -> Dense(512, relu) -> Dense(10, softmax).
brine::Model mlp_model() {
  using namespace brine;
  reset_layer_names();
  auto x = Input({784});
  auto h = Dense(512, "relu")(x);
  h = Dense(512, "relu")(h);
  auto y = Dense(10, "softmax")(h);
  return Model({x}, {y}, "mlp");
}

// seed_dense_b4 and seed_conv_b64 are the seed examples' models:
// examples/seed_dense/model.cpp, examples/seed_conv/model.cpp.

// conv3x3_64_56_b8: one ResNet-style 3x3 convolution, "same", relu.
brine::Model conv3x3_model() {
  using namespace brine;
  reset_layer_names();
  auto inp = Input({56, 56, 64});
  auto out = Conv2D(64, 3, {.padding = "same", .activation = "relu"})(inp);
  return Model({inp}, {out}, "conv3x3");
}

// lstm256_T50_b64: Input(50, 128) -> LSTM(256, return_sequences) -> Dense(256).
// (seed_lstm_b4 is examples/seed_lstm/model.cpp's seed_lstm_model.)
brine::Model lstm256_model() {
  using namespace brine;
  reset_layer_names();
  auto inp = Input({50, 128});
  auto out = Dense(256)(LSTM(256, {.return_sequences = true})(inp));
  return Model({inp}, {out}, "lstm256");
}
