#include "runtime/train_step.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace brine {

double StepRate::at(int64_t t) const {
  if (!adam) return learning_rate;
  return learning_rate * std::sqrt(1 - std::pow(beta_2, static_cast<double>(t))) /
         (1 - std::pow(beta_1, static_cast<double>(t)));
}

TrainStepper::TrainStepper(CompiledModel& graph, std::vector<std::string> updated, StepRate rate)
    : graph_(graph), updated_(std::move(updated)), rate_(rate), spare_(updated_.size()) {
  const auto& names = graph_.param_names();
  for (const std::string& u : updated_) {
    const auto it = std::find(names.begin(), names.end(), u);
    BRINE_CHECK_INTERNAL(it != names.end(), "training graph updates unknown weight " + u);
    param_of_.push_back(static_cast<size_t>(it - names.begin()));
  }
}

double TrainStepper::step(const Tensor& x, const Tensor& y_true) {
  if (!lr_.owns()) lr_ = Tensor({}, graph_.spec().buffers[graph_.spec().inputs.at(2)].dtype);
  const double r = rate_.at(steps_ + 1);
  if (lr_.dtype() == DType::F32) lr_.data<float>()[0] = static_cast<float>(r);
  else lr_.data<double>()[0] = r;
  const Tensor in[] = {x, y_true, lr_};
  std::vector<Tensor> out(2 + updated_.size());
  for (size_t i = 0; i < updated_.size(); ++i) out[2 + i] = spare_[i];
  graph_.forward(in, out);
  ++steps_;
  for (size_t i = 0; i < updated_.size(); ++i) {
    Tensor& p = graph_.params()[param_of_[i]];
    spare_[i] = p;
    p = out[2 + i];
  }
  predictions_ = out[1];
  return out[0].at_flat(0);
}

}  // namespace brine
