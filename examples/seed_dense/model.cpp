// The layers guide's first Keras example: Dense on an image-shaped input.
//
//   inp = Input(shape=(32, 32, 3))
//   hidden = Dense(8, activation='relu')(inp)
//   flat = Flatten()(hidden)
//   out = Dense(2)(flat)
#include "brine.h"

brine::Model brine_model() {
  using namespace brine;
  auto inp = Input({32, 32, 3});
  auto hidden = Dense(8, "relu")(inp);
  auto flat = Flatten()(hidden);
  auto out = Dense(2)(flat);
  return Model({inp}, {out}, "seed_dense");
}
