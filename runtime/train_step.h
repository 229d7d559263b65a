// One training step of a compiled training graph, shared by the JIT trainer
// and generated (AOT) TrainStep classes. The graph's inputs are the model
// input, y_true and the scalar learning rate; its outputs are the loss, the
// predictions, then the new value of every parameter and optimizer slot
// named in `updated`. After a run the new values are swapped in for the old
// (the old buffers take the next step's results): no copy, no allocation.
#pragma once

#include <string>
#include <vector>

#include "runtime/model.h"

namespace brine {

// How the learning rate fed to step t (1-based) is computed: Adam's carries
// the bias correction lr * sqrt(1 - beta_2^t) / (1 - beta_1^t).
struct StepRate {
  bool adam = true;
  double learning_rate = 0.001, beta_1 = 0.9, beta_2 = 0.999;
  double at(int64_t t) const;
};

class TrainStepper {
 public:
  TrainStepper(CompiledModel& graph, std::vector<std::string> updated, StepRate rate);
  // Runs one step; returns the batch loss. Throws brine::Error on bad input.
  double step(const Tensor& x, const Tensor& y_true);
  const Tensor& predictions() const { return predictions_; }
  int64_t steps() const { return steps_; }
  void set_steps(int64_t t) { steps_ = t; }

 private:
  CompiledModel& graph_;
  std::vector<std::string> updated_;
  std::vector<size_t> param_of_;  // updated[i] is graph_.params()[param_of_[i]]
  StepRate rate_;
  std::vector<Tensor> spare_;
  Tensor lr_;  // the rate input, reused across steps
  Tensor predictions_;
  int64_t steps_ = 0;
};

}  // namespace brine
