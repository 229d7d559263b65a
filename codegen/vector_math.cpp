#include "codegen/vector_math.h"

namespace brine::codegen {

using namespace Halide;

// 1 / (1 + e^-x): overflows gracefully to 0 for very negative x.
Expr vector_sigmoid(const Expr& x) { return cast(x.type(), 1) / (cast(x.type(), 1) + exp(-x)); }

// tanh x = sign(x) (1 - 2 / (e^{2|x|} + 1)): no overflow (e^{2|x|} = inf
// gives 1), and for small |x| an absolute error of a few ulp of 1.
Expr vector_tanh(const Expr& x) {
  if (x.type().element_of() != Float(32)) return tanh(x);
  const Expr t = 1.0f - 2.0f / (exp(2.0f * abs(x)) + 1.0f);
  return select(x < 0.0f, -t, t);
}

}  // namespace brine::codegen
