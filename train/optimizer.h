// Optimizers (Keras semantics), applied as IR: each update is an expression
// compiled into the training step's kernels.
#pragma once

#include <string>
#include <vector>

#include "dsl/expr.h"

namespace brine {

struct Optimizer {
  enum class Kind { SGD, Adam };
  Kind kind = Kind::Adam;
  double learning_rate = 0.001;
  double momentum = 0.0;  // SGD
  bool nesterov = false;  // SGD
  double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;  // Adam
  double clip_value = 0;  // > 0: clip every gradient element to [-clip_value, clip_value]
  double clip_norm = 0;   // > 0: scale all gradients so that their global norm is at most clip_norm

  static Optimizer sgd(double lr = 0.01, double momentum = 0.0, bool nesterov = false) {
    Optimizer o;
    o.kind = Kind::SGD;
    o.learning_rate = lr;
    o.momentum = momentum;
    o.nesterov = nesterov;
    return o;
  }
  static Optimizer adam(double lr = 0.001, double beta_1 = 0.9, double beta_2 = 0.999, double epsilon = 1e-7) {
    Optimizer o;
    o.learning_rate = lr;
    o.beta_1 = beta_1;
    o.beta_2 = beta_2;
    o.epsilon = epsilon;
    return o;
  }

  struct Update {
    std::string name;  // the parameter or slot it replaces
    Expr value;
  };
  // The new value of every parameter and optimizer slot, given the
  // gradients. `lr` is the scalar input that carries the step's rate
  // (StepRate in runtime/train_step.h: Adam's includes the bias correction).
  std::vector<Update> updates(const std::vector<Expr>& params, std::vector<Expr> grads, const Expr& lr) const;
};

}  // namespace brine
