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
  // (glorot_uniform kernels, zero biases) from a seeded generator. The
  // mutable accessors tell a frozen model (below) that the weights may
  // change.
  std::vector<Tensor>& params() { ++params_version_; return params_; }
  const std::vector<Tensor>& params() const { return params_; }
  const std::vector<std::string>& param_names() const { return param_names_; }
  Tensor& param(const std::string& name);
  void set_param(const std::string& name, const Tensor& value);  // checks shape and dtype

  // Inference with fixed weights: what the kernels compute from the
  // parameters alone (kernels packed into panels) is computed on the
  // first call and reused, as a library reorders its weights once (see
  // rt::Executor::run). params(), param() and set_param() make the next call
  // compute it again; a write through a reference kept from before a call
  // is not seen until then, so write through them, or unfreeze.
  void freeze_params() { frozen_ = true; ++params_version_; }
  void unfreeze_params() { frozen_ = false; }
  bool params_frozen() const { return frozen_; }
  size_t constant_bytes() const { return executor_.constant_bytes(); }

  size_t arena_bytes() const { return executor_.arena_bytes(); }
  size_t param_bytes() const;
  size_t plans_built() const { return executor_.plans_built(); }

 private:
  std::shared_ptr<const void> keepalive_;  // owns JIT-compiled code, if any
  rt::Executor executor_;
  std::vector<Tensor> params_;
  std::vector<std::string> param_names_;
  bool frozen_ = false;
  uint64_t params_version_ = 1;
};

// Keras-default initialization, deterministic for a given seed and parameter
// name on every platform (a counter-based generator, not <random>'s
// implementation-defined distributions): a layer gets the same initial
// weights whatever else the graph holds.
void initialize_param(Tensor& t, const std::string& init, uint64_t seed, const std::string& name);

}  // namespace brine
