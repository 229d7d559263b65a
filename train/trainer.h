// Training a model, Keras style:
//
//   brine::Trainer t(model, "sparse_categorical_crossentropy", brine::Optimizer::adam(1e-3));
//   brine::History h = t.fit(x, y, {.epochs = 20, .batch_size = 32, .validation_split = 0.1});
//   auto metrics = t.evaluate(x_test, y_test);     // {"loss": ..., "accuracy": ...}
//   t.save("model.safetensors");
//
// A whole training step (forward, loss, backward, optimizer update) is one
// compiled graph; parameters and optimizer slots are swapped with the
// step's outputs, never copied.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "codegen/compile.h"
#include "dsl/model.h"
#include "train/optimizer.h"

namespace brine {

struct FitOptions {
  int epochs = 1;
  int64_t batch_size = 32;
  double validation_split = 0.0;  // the last fraction of the samples, as Keras
  bool shuffle = true;
  uint64_t seed = 0;
  int verbose = 1;                // 0 silent; 1 progress bar on a terminal, a line per epoch otherwise
};

struct History {
  std::vector<std::map<std::string, double>> epochs;  // loss, accuracy, val_loss, val_accuracy
  std::vector<std::string> metric_names() const;
  void write_csv(const std::string& path) const;
  void write_json(const std::string& path) const;
};

class Trainer {
 public:
  // `loss`: a Keras loss name (see train/losses.h); the model must have one output.
  Trainer(const Model& model, const std::string& loss, Optimizer optimizer, bool from_logits = false,
          CompileOptions options = {});
  ~Trainer();

  // x: (samples, ...model input...), y: the labels (class ids for sparse losses).
  History fit(const Tensor& x, const Tensor& y, const FitOptions& options = {});
  std::map<std::string, double> evaluate(const Tensor& x, const Tensor& y, int64_t batch_size = 256);
  Tensor predict(const Tensor& x, int64_t batch_size = 256);

  // One step on one batch; returns the batch loss.
  double train_step(const Tensor& x, const Tensor& y);

  // Parameters and optimizer state (and the step count) in safetensors.
  void save(const std::string& path) const;
  // Throws brine::Error naming the file and the tensor if a name is missing
  // or extra, or a shape or dtype differs; the trainer is unchanged then.
  void load(const std::string& path);

  const Tensor& weight(const std::string& name) const;
  int64_t steps() const;
  bool has_accuracy() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace brine
