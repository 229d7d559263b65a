// A compiled model ready to run: its execution plan, its kernels and its
// parameters. The JIT's brine::Executable and every generated AOT model class
// are this, so both behave (and fail) the same way.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/program.h"
#include "runtime/tensor.h"

namespace brine {

class CompiledModel {
 public:
  CompiledModel(std::shared_ptr<const rt::ProgramSpec> spec, std::vector<rt::KernelBinding> kernels,
                uint64_t seed = 0, std::shared_ptr<const void> keepalive = nullptr);

  const rt::ProgramSpec& spec() const { return executor_.spec(); }
  const std::string& name() const { return spec().model_name; }

  // Runs the model; throws brine::Error naming the input at fault.
  std::vector<Tensor> forward(const std::vector<Tensor>& inputs);
  void forward(std::span<const Tensor> inputs, std::span<Tensor> outputs);
  // The same, for callers that cannot take exceptions (generated entry points).
  Status try_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) noexcept;

  // Parameters, in the model's order, initialized with Keras's defaults
  // (glorot_uniform kernels, zero biases) from a seeded generator.
  std::vector<Tensor>& params() { return params_; }
  const std::vector<std::string>& param_names() const { return param_names_; }
  Tensor& param(const std::string& name);
  void set_param(const std::string& name, const Tensor& value);  // checks shape and dtype

  size_t arena_bytes() const { return executor_.arena_bytes(); }
  size_t param_bytes() const;
  size_t plans_built() const { return executor_.plans_built(); }

 private:
  std::shared_ptr<const void> keepalive_;  // owns JIT-compiled code, if any
  rt::Executor executor_;
  std::vector<Tensor> params_;
  std::vector<std::string> param_names_;
};

// Keras-default initialization, deterministic for a given seed and parameter
// name on every platform (a counter-based generator, not <random>'s
// implementation-defined distributions): a layer gets the same initial
// weights whatever else the graph holds.
void initialize_param(Tensor& t, const std::string& init, uint64_t seed, const std::string& name);

}  // namespace brine
