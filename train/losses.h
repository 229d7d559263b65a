// Keras's losses, as compositions of IR ops (so their gradients and fusion
// come from the ops'): each returns the scalar mean over the batch of the
// per-sample loss, Keras's default "sum over batch size" reduction.
#pragma once

#include <string>

#include "dsl/expr.h"

namespace brine::losses {

// mean((y_pred - y_true)^2) over the last axis, then over the batch.
Expr mean_squared_error(const Expr& y_true, const Expr& y_pred);
// 0.5 e^2 where |e| <= delta, delta (|e| - 0.5 delta) beyond; mean as above.
Expr huber(const Expr& y_true, const Expr& y_pred, double delta = 1.0);
// From probabilities, clipped to [1e-7, 1 - 1e-7] like Keras; from logits in
// the stable form max(z, 0) - z y + log(1 + exp(-|z|)).
Expr binary_crossentropy(const Expr& y_true, const Expr& y_pred, bool from_logits = false);
// -sum(y_true log p) over the last axis; from logits through a stable
// log-softmax (z - max z - log sum exp(z - max z)).
Expr categorical_crossentropy(const Expr& y_true, const Expr& y_pred, bool from_logits = false);
// The same with integer class ids (stored as floats) instead of one-hot rows.
Expr sparse_categorical_crossentropy(const Expr& labels, const Expr& y_pred, bool from_logits = false);

// By Keras name: "mse" / "mean_squared_error", "huber", "binary_crossentropy",
// "categorical_crossentropy", "sparse_categorical_crossentropy".
Expr by_name(const std::string& name, const Expr& y_true, const Expr& y_pred, bool from_logits);
// The shape y_true must have for a loss, given y_pred's.
Shape label_shape(const std::string& name, const Shape& y_pred);

}  // namespace brine::losses
