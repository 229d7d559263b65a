// The layers guide's Keras Conv2D example:
//
//   inp = Input(shape=(32, 32, 3))
//   conv = Conv2D(filters=8, kernel_size=(3, 3), activation='relu')(inp)
//   flat = Flatten()(conv)
//   out = Dense(2, activation='softmax')(flat)
//
// (The guide also builds `feature_map = Dense(8, activation='relu')(flat)`,
// which no output uses; it is left out.)
#include "brine.h"

brine::Model seed_conv_model() {
  using namespace brine;
  reset_layer_names();  // canonical names in a process that builds other models too
  auto inp = Input({32, 32, 3});
  auto conv = Conv2D(8, {3, 3}, {.activation = "relu"})(inp);
  auto flat = Flatten()(conv);
  auto out = Dense(2, "softmax")(flat);
  return Model({inp}, {out}, "seed_conv");
}
