#include "train/losses.h"

#include <fmt/format.h>

namespace brine::losses {

namespace {
constexpr double kEpsilon = 1e-7;  // Keras's backend epsilon

Expr batch_mean(const Expr& per_sample) { return reduce_mean(per_sample, {}, false); }

void check_same_shape(const char* loss, const Expr& y_true, const Expr& y_pred) {
  if (y_true.shape() != y_pred.shape())
    throw Error(fmt::format("{}: y_true has shape {} but y_pred has shape {}; they must match", loss,
                            ir::shape_str(y_true.shape()), ir::shape_str(y_pred.shape())));
}

Expr log_softmax(const Expr& z) {
  const Expr shifted = z - reduce_max(z, {-1}, true);
  return shifted - log(reduce_sum(exp(shifted), {-1}, true));
}
}  // namespace

Expr mean_squared_error(const Expr& y_true, const Expr& y_pred) {
  check_same_shape("mean_squared_error", y_true, y_pred);
  const Expr e = y_pred - y_true;
  return batch_mean(reduce_mean(e * e, {-1}));
}

Expr huber(const Expr& y_true, const Expr& y_pred, double delta) {
  check_same_shape("huber", y_true, y_pred);
  const Expr a = abs(y_pred - y_true);
  // With q = min(|e|, delta): 0.5 q^2 + delta (|e| - q) is both branches at once.
  const Expr q = minimum(a, delta);
  return batch_mean(reduce_mean(q * q * 0.5 + (a - q) * delta, {-1}));
}

Expr binary_crossentropy(const Expr& y_true, const Expr& y_pred, bool from_logits) {
  check_same_shape("binary_crossentropy", y_true, y_pred);
  Expr per;
  if (from_logits) {
    per = relu(y_pred) - y_pred * y_true + log(exp(-abs(y_pred)) + 1.0);
  } else {
    const Expr p = clip(y_pred, kEpsilon, 1 - kEpsilon);
    per = -(y_true * log(p + kEpsilon) + (1.0 - y_true) * log((1.0 - p) + kEpsilon));
  }
  return batch_mean(reduce_mean(per, {-1}));
}

Expr categorical_crossentropy(const Expr& y_true, const Expr& y_pred, bool from_logits) {
  check_same_shape("categorical_crossentropy", y_true, y_pred);
  Expr log_p;
  if (from_logits) {
    log_p = log_softmax(y_pred);
  } else {
    const Expr p = y_pred / reduce_sum(y_pred, {-1}, true);
    log_p = log(clip(p, kEpsilon, 1 - kEpsilon));
  }
  return batch_mean(-reduce_sum(y_true * log_p, {-1}));
}

Expr sparse_categorical_crossentropy(const Expr& labels, const Expr& y_pred, bool from_logits) {
  const Shape want = label_shape("sparse_categorical_crossentropy", y_pred.shape());
  if (labels.shape() != want)
    throw Error(fmt::format("sparse_categorical_crossentropy: labels have shape {} but y_pred {} needs labels of shape {}",
                            ir::shape_str(labels.shape()), ir::shape_str(y_pred.shape()), ir::shape_str(want)));
  ir::Attrs a;
  a.axes = {y_pred.shape().back().size};
  const Expr one_hot = make_expr(ir::Op::OneHot, {labels}, a, {"one_hot", ""});
  return categorical_crossentropy(one_hot, y_pred, from_logits);
}

Shape label_shape(const std::string& name, const Shape& y_pred) {
  if (name != "sparse_categorical_crossentropy") return y_pred;
  if (y_pred.empty() || !y_pred.back().is_static())
    throw Error(fmt::format("sparse_categorical_crossentropy needs a static class axis, y_pred has shape {}",
                            ir::shape_str(y_pred)));
  return Shape(y_pred.begin(), y_pred.end() - 1);
}

Expr by_name(const std::string& name, const Expr& y_true, const Expr& y_pred, bool from_logits) {
  if (name == "mse" || name == "mean_squared_error") return mean_squared_error(y_true, y_pred);
  if (name == "huber") return huber(y_true, y_pred);
  if (name == "binary_crossentropy") return binary_crossentropy(y_true, y_pred, from_logits);
  if (name == "categorical_crossentropy") return categorical_crossentropy(y_true, y_pred, from_logits);
  if (name == "sparse_categorical_crossentropy") return sparse_categorical_crossentropy(y_true, y_pred, from_logits);
  throw Error(fmt::format("unknown loss '{}' (expected mse, huber, binary_crossentropy, categorical_crossentropy or "
                          "sparse_categorical_crossentropy)", name));
}

}  // namespace brine::losses
