// Transcendentals that vectorize. Halide 14 vectorizes exp and log of
// float32 with its own polynomials, but lowers tanh to one libm tanhf call
// per lane; in an LSTM step (two tanh per unit) those calls cost more than
// the step's matmul. tanh here is written through Halide's exp, so it
// vectorizes like the rest of a kernel. Float64 keeps the library's tanh.
#pragma once

#include <Halide.h>

namespace brine::codegen {

Halide::Expr vector_tanh(const Halide::Expr& x);
Halide::Expr vector_sigmoid(const Halide::Expr& x);

}  // namespace brine::codegen
