// A small CNN trained on the 8x8 digits: two 3x3 convolutions ("same", relu)
// around a 2x2 max pooling, then a Dense classifier. Forward, loss,
// backward (conv and pooling VJPs included) and Adam all run as compiled
// kernels. Saves a checkpoint, reloads it and checks the reloaded model
// scores the same.
//
//   cnn_digits [OUT_DIR]
#include <fmt/format.h>

#include <filesystem>

#include "brine.h"
#include "digits.h"

int main(int argc, char** argv) {
  const std::string out_dir = argc > 1 ? argv[1] : ".";
  std::filesystem::create_directories(out_dir);
  auto [train, test] = split(load_digits(), 0.2, 7);
  for (Digits* d : {&train, &test}) d->x = d->x.reshaped({d->x.dim(0), 8, 8, 1});  // images, one channel
  fmt::print("digits: {} training and {} held-out test images of 8x8\n", train.x.dim(0), test.x.dim(0));

  const auto build = [] {
    using namespace brine;
    reset_layer_names();
    auto x = Input({8, 8, 1}, "image");
    auto h = Conv2D(16, 3, {.padding = "same", .activation = "relu"})(x);
    h = MaxPooling2D(2)(h);
    h = Conv2D(32, 3, {.padding = "same", .activation = "relu"})(h);
    auto flat = Flatten()(h);
    auto logits = Dense(10)(flat);
    return Model({x}, {logits}, "cnn_digits");
  };
  const auto fresh = [&] {
    return brine::Trainer(build(), "sparse_categorical_crossentropy", brine::Optimizer::adam(0.002), /*from_logits=*/true);
  };
  fmt::print("{}", build().summary());
  brine::Trainer trainer = fresh();
  brine::History history =
      trainer.fit(train.x, train.y, {.epochs = 25, .batch_size = 32, .validation_split = 0.1, .seed = 1});
  history.write_csv(out_dir + "/cnn_digits_history.csv");
  return score_save_reload(trainer, fresh, test, out_dir + "/cnn_digits.safetensors", 0.97);
}
