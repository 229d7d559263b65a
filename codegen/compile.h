// Compiling a graph: just in time (brine::compile) or ahead of time into a
// static library with a typed header (brine::emit_library, used by brinec and
// the brine_add_model CMake helper).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "codegen/fusion.h"
#include "ir/graph.h"
#include "runtime/model.h"
#include "runtime/train_step.h"

namespace brine {

struct CompileOptions {
  std::string schedule = "tuned";  // naive | tuned | mullapudi2016 | adams2019 | li2018
  DType dtype = DType::F32;        // f64 builds every kernel in double (gradient checks)
  std::string target = "host";     // a Halide target string
  uint64_t seed = 0;               // parameter initialization
  // Recurrent scans (LSTM, GRU, SimpleRNN) compute each step's input
  // projection x_t w in the step's register tiles (codegen/graph_passes.h:
  // faster, z never stored); false keeps it one matmul kernel over all
  // steps, as the IR has it.
  bool projection_in_scan = true;
  // Inference with fixed weights: Dense kernels are packed into panels
  // (codegen/graph_passes.h) and the compiled model starts frozen
  // (CompiledModel::freeze_params), so the packing runs on its first call
  // only. Without it nothing is packed that would have to be packed on
  // every call. An AOT library freezes its Model class, not TrainStep or
  // Gradients.
  bool frozen_params = false;
};

// A JIT-compiled model: a CompiledModel that also keeps its graph.
class Executable : public CompiledModel {
 public:
  Executable(ir::Graph g, codegen::Partition p, std::shared_ptr<const rt::ProgramSpec> spec,
             std::vector<rt::KernelBinding> kernels, uint64_t seed, std::shared_ptr<const void> keepalive);
  const ir::Graph& graph() const { return graph_; }
  const codegen::Partition& partition() const { return partition_; }

 private:
  ir::Graph graph_;
  codegen::Partition partition_;
};

Executable compile(const ir::Graph& g, const CompileOptions& options = {});

// How often the JIT compiled a kernel, and how often it found one already
// compiled (identical kernels are shared across models in one process).
struct JitStats {
  size_t compiled = 0;
  size_t reused = 0;
};
JitStats jit_stats();

// Writes NAME.h, NAME.cpp, NAME_kernels.o and NAME_runtime.o into out_dir:
// compiled together they are the model's static library, which needs
// brine_runtime but neither libHalide nor LLVM. Each file is written to a
// temporary name and renamed, so a failure leaves no half-written file.
void emit_library(const ir::Graph& g, const std::string& name, const std::string& out_dir,
                  const CompileOptions& options = {});

// Several graphs in one library, one generated class each (namespace NAME):
// a class with `updated` weights is a training step (a TrainStepper over
// its graph, see runtime/train_step.h); the others get a typed forward().
struct LibraryClass {
  std::string class_name;
  ir::Graph graph;
  std::vector<std::string> updated;
  StepRate rate;
};
void emit_library(const std::vector<LibraryClass>& classes, const std::string& name, const std::string& out_dir,
                  const CompileOptions& options = {});

// Per-kernel compiler output for study: "stmt", "stmt-html", "asm", "llvm".
// Returns the files written.
std::vector<std::string> emit_kernel_listings(const ir::Graph& g, const std::string& kind, const std::string& name,
                                              const std::string& out_dir, const CompileOptions& options = {});

}  // namespace brine
