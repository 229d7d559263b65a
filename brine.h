// brine: write a network in C++, compile it to fused Halide kernels.
//
//   #include "brine.h"
//   auto x = brine::Input({784});
//   auto y = brine::Dense(10, "softmax")(brine::Dense(512, "relu")(x));
//   brine::Model model({x}, {y});
//   auto exe = brine::compile(model);                  // JIT
//   std::vector<brine::Tensor> out = exe.forward({batch});
#pragma once

#include "codegen/compile.h"
#include "dsl/expr.h"
#include "dsl/grad.h"
#include "dsl/conv_layers.h"
#include "dsl/recurrent_layers.h"
#include "dsl/layers.h"
#include "dsl/model.h"
#include "runtime/model.h"
#include "runtime/tensor.h"
#include "train/losses.h"
#include "train/trainer.h"

// A model file compiled with brine_add_model() defines this; the generator
// calls it at build time and compiles what it returns.
brine::Model brine_model();

namespace brine {
inline Executable compile(const Model& m, const CompileOptions& options = {}) { return compile(m.graph(), options); }
}  // namespace brine
