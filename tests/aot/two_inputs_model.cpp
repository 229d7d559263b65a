// A model with two inputs sharing the dynamic batch and a second dynamic
// axis, for the AOT tests: y = sum_t tanh(seq · W + b) + ctx.
#include "brine.h"

brine::Model brine_model() {
  using namespace brine;
  auto seq = Input({"T", 8}, "seq");
  auto ctx = Input({8}, "ctx");
  auto h = Dense(8, "tanh")(seq) + expand_dims(ctx, 1);
  return Model({seq, ctx}, {reduce_sum(h, {1})}, "two_inputs");
}
