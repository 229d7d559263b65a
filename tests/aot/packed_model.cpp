// A Dense whose 256 x 256 kernel codegen packs into panels, for the AOT test
// of a library compiled with FROZEN_PARAMS: y = x · W + b.
#include "brine.h"

brine::Model brine_model() {
  using namespace brine;
  auto x = Input({256}, "x");
  return Model({x}, {Dense(256)(x)}, "packed");
}
