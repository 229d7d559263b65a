#include "codegen/vector_math.h"

namespace brine::codegen {

using namespace Halide;

Expr vector_exp(const Expr& x) {
  if (x.type().element_of() != Float(32)) return exp(x);
  // e^x = 2^k e^r with k = round(x / ln 2), |r| <= ln 2 / 2 (ln 2 split in
  // two parts so that r is exact), e^r by Cephes's degree-7 polynomial.
  const Expr xc = clamp(x, -87.3f, 88.7f);
  const Expr k = floor(xc * 1.44269504088896341f + 0.5f);
  const Expr r = xc - k * 0.693359375f + k * 2.12194440e-4f;
  Expr p = 1.9875691500e-4f;
  for (const float c : {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f})
    p = p * r + c;
  const Expr er = p * r * r + r + 1.0f;
  const Expr two_k = reinterpret(Float(32), (cast<int32_t>(k) + 127) << 23);
  return er * two_k;
}

Expr vector_sigmoid(const Expr& x) {
  if (x.type().element_of() != Float(32)) return 1 / (1 + exp(-x));
  return 1.0f / (1.0f + vector_exp(-x));
}

// tanh x = sign(x) (1 - 2 / (e^{2|x|} + 1)): no overflow, and for small |x|
// an absolute error of a few ulp of 1.
Expr vector_tanh(const Expr& x) {
  if (x.type().element_of() != Float(32)) return tanh(x);
  const Expr t = 1.0f - 2.0f / (vector_exp(2.0f * abs(x)) + 1.0f);
  return select(x < 0.0f, -t, t);
}

}  // namespace brine::codegen
