// An MLP trained on the 8x8 digits: the whole training step (forward, loss,
// backward, Adam) runs as compiled kernels. Saves a checkpoint, reloads it
// into a fresh trainer and checks the reloaded model scores the same.
//
//   mlp_digits [OUT_DIR]
#include <fmt/format.h>

#include <filesystem>

#include "brine.h"
#include "digits.h"

int main(int argc, char** argv) {
  const std::string out_dir = argc > 1 ? argv[1] : ".";
  std::filesystem::create_directories(out_dir);
  const auto [train, test] = split(load_digits(), 0.2, 7);
  fmt::print("digits: {} training and {} held-out test images of 8x8\n", train.x.dim(0), test.x.dim(0));

  const auto build = [] {
    using namespace brine;
    reset_layer_names();
    auto x = Input({64}, "pixels");
    auto h = Dense(64, "relu")(x);
    auto logits = Dense(10)(h);
    return Model({x}, {logits}, "mlp_digits");
  };
  const brine::Model model = build();
  fmt::print("{}", model.summary());

  brine::Trainer trainer(model, "sparse_categorical_crossentropy", brine::Optimizer::adam(0.005), /*from_logits=*/true);
  brine::History history =
      trainer.fit(train.x, train.y, {.epochs = 30, .batch_size = 32, .validation_split = 0.1, .seed = 1});
  history.write_csv(out_dir + "/mlp_digits_history.csv");
  history.write_json(out_dir + "/mlp_digits_history.json");

  return score_save_reload(
      trainer,
      [&] { return brine::Trainer(build(), "sparse_categorical_crossentropy", brine::Optimizer::adam(0.005), true); },
      test, out_dir + "/mlp_digits.safetensors", 0.95);
}
