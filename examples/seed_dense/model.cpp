// The layers guide's first Keras example: Dense on an image-shaped input.
//
//   inp = Input(shape=(32, 32, 3))
//   hidden = Dense(8, activation='relu')(inp)
//   flat = Flatten()(hidden)
//   out = Dense(2)(flat)
#include "brine.h"

brine::Model seed_dense_model() {
  using namespace brine;
  reset_layer_names();  // canonical names in a process that builds other models too
  // One statement per layer: in a nested call C++ constructs the outer layer
  // first, which would swap the automatic names dense / dense_1.
  auto inp = Input({32, 32, 3});
  auto hidden = Dense(8, "relu")(inp);
  auto flat = Flatten()(hidden);
  auto out = Dense(2)(flat);
  return Model({inp}, {out}, "seed_dense");
}
