#include <Halide.h>
#include <fmt/format.h>

#include <map>
#include <mutex>

#include "codegen/compile.h"
#include "codegen/kernel.h"
#include "codegen/graph_passes.h"
#include "codegen/program.h"
#include "ir/verify.h"
#include "runtime/thread_pool.h"

namespace brine {

namespace {

struct JitKernel {
  Halide::Pipeline pipeline;
  std::vector<Halide::ImageParam> inputs;
  Halide::Target target;
};

// Halide's JIT calling convention goes through a ParamMap; Halide errors
// (which would be bugs: the executor checks shapes first) become a status.
int run_jit_kernel(void* ctx, void** args) {
  auto* k = static_cast<JitKernel*>(ctx);
  try {
    Halide::ParamMap pm;
    std::vector<Halide::Buffer<>> bufs;
    bufs.reserve(k->inputs.size() + 1);
    for (size_t i = 0; i < k->inputs.size(); ++i) {
      bufs.emplace_back(*static_cast<halide_buffer_t*>(args[i]));
      pm.set(k->inputs[i], bufs.back());
    }
    k->pipeline.realize(Halide::Pipeline::RealizationArg(static_cast<halide_buffer_t*>(args[k->inputs.size()])), k->target, pm);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "brine: JIT kernel failed: {}\n", e.what());
    return -1;
  }
}

// Halide's JIT passes its own context type; the pool only forwards it.
int jit_parallel_for(Halide::JITUserContext* uc, int (*f)(Halide::JITUserContext*, int, uint8_t*), int min, int size,
                     uint8_t* closure) {
  return rt::parallel_for(uc, reinterpret_cast<rt::ParallelTask>(f), min, size, closure);
}

std::mutex cache_mutex;
std::map<std::string, std::shared_ptr<JitKernel>> cache;
JitStats stats;

}  // namespace

Executable::Executable(ir::Graph g, codegen::Partition p, std::shared_ptr<const rt::ProgramSpec> spec,
                       std::vector<rt::KernelBinding> kernels, uint64_t seed, std::shared_ptr<const void> keepalive)
    : CompiledModel(std::move(spec), std::move(kernels), seed, std::move(keepalive)),
      graph_(std::move(g)),
      partition_(std::move(p)) {}

JitStats jit_stats() {
  std::lock_guard lock(cache_mutex);
  return stats;
}

Executable compile(const ir::Graph& source, const CompileOptions& options) {
  ir::verify(source);
  const ir::Graph g = codegen::prepare_graph(source, options.projection_in_scan, options.frozen_params);
  const codegen::Policy policy = codegen::policy_from_name(options.schedule);
  const Halide::Target target = options.target == "host" ? Halide::get_jit_target_from_environment()
                                                         : Halide::Target(options.target);
  codegen::Partition part = codegen::fuse(g);
  auto keep = std::make_shared<std::vector<std::shared_ptr<JitKernel>>>();
  std::vector<rt::KernelBinding> bindings;
  std::vector<std::string> names;
  for (size_t k = 0; k < part.kernels.size(); ++k) {
    const codegen::KernelGroup& kg = part.kernels[k];
    const std::string name = codegen::c_identifier(fmt::format("{}_k{}_{}", g.name, k, ir::op_name(g.node(kg.anchor).op)));
    const std::string key = codegen::kernel_key(g, kg, options.dtype, policy, target);
    std::shared_ptr<JitKernel> jk;
    {
      std::lock_guard lock(cache_mutex);
      if (auto it = cache.find(key); it != cache.end()) {
        jk = it->second;
        ++stats.reused;
      }
    }
    if (!jk) {
      try {
        codegen::KernelSource src = codegen::build_kernel(g, kg, name, options.dtype, policy, target);
        jk = std::make_shared<JitKernel>(JitKernel{src.pipeline, src.inputs, target});
        jk->pipeline.jit_handlers().custom_do_par_for = jit_parallel_for;
        jk->pipeline.compile_jit(target);
      } catch (const Halide::CompileError& e) {
        throw Error(fmt::format("kernel {} ({}) cannot be compiled with schedule '{}': Halide says: {}", name,
                                g.describe(kg.anchor), options.schedule, e.what()));
      }
      std::lock_guard lock(cache_mutex);
      cache.emplace(key, jk);
      ++stats.compiled;
    }
    keep->push_back(jk);
    bindings.push_back({run_jit_kernel, jk.get()});
    names.push_back(name);
  }
  auto spec = std::make_shared<rt::ProgramSpec>(codegen::build_program(g, part, options.dtype, names));
  Executable exe(g, std::move(part), std::move(spec), std::move(bindings), options.seed, keep);
  if (options.frozen_params) exe.freeze_params();
  return exe;
}

}  // namespace brine
