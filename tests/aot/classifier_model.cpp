// A small classifier for the AOT training tests: 6 features -> 8 tanh -> 3 logits.
#include "brine.h"

brine::Model brine_model() {
  using namespace brine;
  reset_layer_names();
  auto x = Input({6}, "x");
  auto h = Dense(8, "tanh")(x);
  auto logits = Dense(3)(h);
  return Model({x}, {logits}, "classifier");
}
