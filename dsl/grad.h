// Gradients in the DSL: `auto d = brine::grad(loss, {w, b});` gives, for a
// scalar `loss`, the expressions d loss / d w and d loss / d b, built by the
// IR's reverse-mode autodiff from each op's VJP. They are ordinary
// expressions: use them in a Model, or differentiate them again.
#pragma once

#include <vector>

#include "dsl/expr.h"

namespace brine {

std::vector<Expr> grad(const Expr& loss, const std::vector<Expr>& wrt, BRINE_HERE);

}  // namespace brine
