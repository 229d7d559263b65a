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

// seed_dense_b4: the layers guide's Dense example (examples/seed_dense).
brine::Model seed_dense_model() {
  using namespace brine;
  reset_layer_names();
  // One statement per layer: in a nested call C++ constructs the outer layer
  // first, which would swap the automatic names dense / dense_1.
  auto inp = Input({32, 32, 3});
  auto hidden = Dense(8, "relu")(inp);
  auto flat = Flatten()(hidden);
  auto out = Dense(2)(flat);
  return Model({inp}, {out}, "seed_dense");
}

// seed_conv_b64: the guide's Conv2D example.
brine::Model seed_conv_model() {
  using namespace brine;
  reset_layer_names();
  auto inp = Input({32, 32, 3});
  auto conv = Conv2D(8, 3, {.activation = "relu"})(inp);
  auto flat = Flatten()(conv);
  auto out = Dense(2, "softmax")(flat);
  return Model({inp}, {out}, "seed_conv");
}

// conv3x3_64_56_b8: one ResNet-style 3x3 convolution, "same", relu.
brine::Model conv3x3_model() {
  using namespace brine;
  reset_layer_names();
  auto inp = Input({56, 56, 64});
  auto out = Conv2D(64, 3, {.padding = "same", .activation = "relu"})(inp);
  return Model({inp}, {out}, "conv3x3");
}
