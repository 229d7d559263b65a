// The graphs of training, built once from a model, a loss and an optimizer;
// used by the JIT trainer and by the AOT generator (brine_add_model TRAINING).
#pragma once

#include <string>
#include <vector>

#include "dsl/model.h"
#include "runtime/train_step.h"
#include "train/optimizer.h"

namespace brine {

struct TrainingGraphs {
  // inputs x, y_true, lr; outputs loss, y_pred, then the new value of every
  // weight in `updated` (parameters and optimizer slots).
  ir::Graph step;
  std::vector<std::string> updated;
  // inputs x, y_true; outputs loss, y_pred.
  ir::Graph evaluate;
  // inputs x, y_true; outputs loss, then d loss / d parameter for each parameter.
  ir::Graph gradients;
  StepRate rate;
};

// Throws brine::Error for a model without exactly one input and one output,
// or an unknown loss.
TrainingGraphs build_training_graphs(const Model& model, const std::string& loss, bool from_logits,
                                     const Optimizer& optimizer);

}  // namespace brine
