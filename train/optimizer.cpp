#include "train/optimizer.h"

#include <cmath>

#include "dsl/collect.h"

namespace brine {

std::vector<Optimizer::Update> Optimizer::updates(const std::vector<Expr>& params, std::vector<Expr> grads,
                                                  const Expr& lr) const {
  // Clipping first, as Keras does, by value and then by global norm.
  if (clip_value > 0)
    for (Expr& g : grads) g = clip(g, -clip_value, clip_value);
  if (clip_norm > 0 && !grads.empty()) {
    Expr sq = reduce_sum(grads[0] * grads[0]);
    for (size_t i = 1; i < grads.size(); ++i) sq = sq + reduce_sum(grads[i] * grads[i]);
    // g * c / max(norm, c): unchanged when the norm is within the limit.
    const Expr scale = clip_norm / maximum(sqrt(sq), clip_norm);
    for (Expr& g : grads) g = g * scale;
  }
  std::vector<Update> out;
  for (size_t i = 0; i < params.size(); ++i) {
    const Expr& p = params[i];
    const Expr& g = grads[i];
    const std::string& name = p.node()->attrs.name;
    const auto slot = [&](const std::string& kind) { return make_param(kind + "/" + name, p.shape(), p.dtype(), "zeros"); };
    if (kind == Kind::SGD) {
      if (momentum == 0) {
        out.push_back({name, p - lr * g});  // p -= lr g
        continue;
      }
      const Expr v = slot("sgd/velocity");
      const Expr v_new = v * momentum - lr * g;  // v = momentum v - lr g
      out.push_back({name, nesterov ? p + v_new * momentum - lr * g : p + v_new});
      out.push_back({"sgd/velocity/" + name, v_new});
    } else {
      const Expr m = slot("adam/m"), v = slot("adam/v");
      const Expr m_new = m * beta_1 + g * (1 - beta_1);      // m = b1 m + (1 - b1) g
      const Expr v_new = v * beta_2 + g * g * (1 - beta_2);  // v = b2 v + (1 - b2) g^2
      out.push_back({name, p - lr * m_new / (sqrt(v_new) + epsilon)});  // lr carries the bias correction
      out.push_back({"adam/m/" + name, m_new});
      out.push_back({"adam/v/" + name, v_new});
    }
  }
  return out;
}

}  // namespace brine
