// Transcendentals that vectorize. Halide 14 lowers exp and tanh of float32
// vectors to one libm call per lane; in an LSTM step (five per unit) those
// calls cost more than the step's matmul. These are range-reduced
// polynomials (Cephes's expf, ~1 ulp), pure arithmetic, so they vectorize
// like the rest of a kernel. Float64 keeps the library's functions.
#pragma once

#include <Halide.h>

namespace brine::codegen {

Halide::Expr vector_exp(const Halide::Expr& x);
Halide::Expr vector_tanh(const Halide::Expr& x);
Halide::Expr vector_sigmoid(const Halide::Expr& x);

}  // namespace brine::codegen
