// The execution plan of a compiled model, shared by the JIT and by generated
// (AOT) code: which buffers exist, which kernel reads and writes which, and in
// what order. A deployed program links this and the generated kernels only.
//
// Shapes are symbolic (a batch size, a sequence length). `Executor::run`
// binds the symbols from the inputs, checks every input, and on the first call
// with a new binding plans all intermediate buffers into one arena, reusing
// memory between buffers whose lifetimes do not overlap. Later calls with the
// same binding reuse that plan and allocate nothing.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/tensor.h"

namespace brine::rt {

struct DimSpec {
  int64_t size = 0;  // used when sym < 0
  int32_t sym = -1;  // index into ProgramSpec::symbols
};

enum class BufferKind : uint8_t { Input, Param, Temp, Output, View };

// A View reads another buffer in place: a reshape (strides_from: how its
// strides follow from the viewed buffer's), or (slice_axis >= 0) a slice of
// it along that axis from slice_start (negative: from the end), with the
// viewed buffer's strides. The compiler makes a view only where the
// strides exist (codegen/fusion.h); kernels reading one take any strides.
struct BufferSpec {
  std::string name;     // the IR value's name, used in error messages
  BufferKind kind;
  DType dtype;
  std::vector<DimSpec> shape;
  int32_t index = -1;   // ordinal among inputs/params/outputs; for View: the viewed buffer id
  std::string init{};   // Param: its initializer ("glorot_uniform", "zeros", "ones")
  int32_t slice_axis = -1;
  int64_t slice_start = 0;
  std::vector<int32_t> strides_from{};  // a reshape View: its recipe (reshape_recipe)
};

// One step: a kernel call (args: buffer ids, output last) or, with kernel < 0,
// a copy of args[0] into args[1] (a model output that is an input or a view).
// A scan kernel (scan_dim >= 0, an LSTM's recurrence) is called once per
// index along Halide dim `scan_dim` of its output, first to last or (reverse)
// last to first, each call writing that one slice; it reads the whole output
// through its second-to-last argument.
struct StepSpec {
  int32_t kernel = -1;
  std::vector<int32_t> args;
  int32_t scan_dim = -1;
  bool scan_reverse = false;
};

struct ProgramSpec {
  std::string model_name;
  std::vector<std::string> symbols;
  std::vector<BufferSpec> buffers;
  std::vector<std::string> kernel_names;
  std::vector<StepSpec> steps;
  std::vector<int32_t> inputs, params, outputs;  // buffer ids, in the model's order
};

// A compiled kernel: `fn(ctx, args)` with args[i] a halide_buffer_t*.
struct KernelBinding {
  int (*fn)(void* ctx, void** args) = nullptr;
  void* ctx = nullptr;
};

class Executor {
 public:
  Executor(std::shared_ptr<const ProgramSpec> spec, std::vector<KernelBinding> kernels);
  ~Executor();
  Executor(Executor&&) noexcept;
  Executor& operator=(Executor&&) noexcept;

  const ProgramSpec& spec() const { return *spec_; }

  // Runs the program. Outputs that are empty tensors are allocated; outputs
  // that hold storage must have the expected shape and dtype. Throws
  // brine::Error naming the input or output at fault.
  //
  // Steps that read parameters only (the packing of a Dense kernel into
  // panels, codegen/graph_passes.h) write buffers of their own, kept across
  // calls: with a nonzero `params_version` equal to the previous call's and
  // the same parameter buffers, they are not run again. 0 runs them always.
  void run(std::span<const Tensor> inputs, std::span<Tensor> outputs,
           std::span<const Tensor> params, uint64_t params_version = 0);

  // The concrete shape of an output for the given input shapes.
  std::vector<std::vector<int64_t>> output_shapes(std::span<const Tensor> inputs);

  // Bytes of the intermediate arena planned for the most recent binding.
  size_t arena_bytes() const;
  // Bytes of the buffers computed from parameters only (see run).
  size_t constant_bytes() const { return constant_bytes_; }
  size_t plans_built() const { return plans_built_; }

  // With BRINE_PROFILE=1 in the environment, every kernel call is timed and
  // the totals are printed to stderr when the executor is destroyed: which
  // kernels a schedule should work on.
  std::string profile_report() const;

 private:
  struct Plan;
  std::vector<int64_t> bind(std::span<const Tensor> inputs) const;
  Plan& plan_for(const std::vector<int64_t>& binding);

  std::shared_ptr<const ProgramSpec> spec_;
  std::vector<KernelBinding> kernels_;
  std::vector<bool> constant_;          // per buffer: a parameter, or computed from parameters only
  std::vector<bool> constant_step_;     // per step: computes a constant buffer
  std::vector<size_t> constant_offset_;  // per constant Temp buffer: its offset in constants_
  std::shared_ptr<void> constants_;
  size_t constant_bytes_ = 0;
  uint64_t constants_version_ = 0;       // the params_version they were computed for; 0: none
  std::vector<const void*> constants_params_;  // and the parameter buffers
  std::map<std::vector<int64_t>, std::unique_ptr<Plan>> plans_;
  Plan* last_plan_ = nullptr;
  size_t plans_built_ = 0;
  bool profiling_ = false;
  std::vector<double> kernel_seconds_;
  std::vector<int64_t> kernel_calls_;
};

// How to read memory laid out as `extents` with `strides` in the row-major
// shape `shape` (all outermost axis first), or nullopt when no strides can
// (the reshape needs a copy; numpy's rule: axes merged into one must be
// contiguous with each other). The recipe, per new axis k, holds a pair
// (a, e): stride[k] = strides[a] × shape[k+1] × ... × shape[e-1]; a = -1
// for a trailing axis of extent 1 (stride 1).
std::optional<std::vector<int32_t>> reshape_recipe(std::span<const int64_t> extents,
                                                   std::span<const int64_t> strides,
                                                   std::span<const int64_t> shape);
std::vector<int64_t> apply_reshape_recipe(std::span<const int32_t> recipe, std::span<const int64_t> strides,
                                          std::span<const int64_t> shape);
// Both at once: the strides, or nullopt.
std::optional<std::vector<int64_t>> reshaped_strides(std::span<const int64_t> extents,
                                                     std::span<const int64_t> strides,
                                                     std::span<const int64_t> shape);

std::vector<int64_t> concrete_shape(const std::vector<DimSpec>& shape,
                                    std::span<const int64_t> binding);
std::string spec_shape_string(const ProgramSpec& p, const std::vector<DimSpec>& shape);

}  // namespace brine::rt
