// mlp_b256 and seed_dense_b4, float32, 2 threads. Forward: brine (AOT under
// each schedule, and the JIT) beside oneDNN and OpenBLAS. Forward+backward
// (gradients of every parameter for loss = sum(output)): brine's generated
// backward graph (JIT) beside oneDNN's training primitives. Same process,
// same weights. Engines are timed in interleaved rounds and their
// outputs cross-checked before any number is shown.
//
//   dense_bench [--quick] [--json FILE]
#include <unistd.h>

#include <array>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "baselines.h"
#include "bench_mlp_adams2019.h"
#include "bench_mlp_mullapudi2016.h"
#include "bench_mlp_naive.h"
#include "bench_mlp_tuned.h"
#include "bench_seed_dense_naive.h"
#include "bench_seed_dense_tuned.h"
#include "bench_mlp_train.h"
#include "bench_seed_dense_train.h"
#include "brine.h"
#include "engines.h"
#include "harness.h"

brine::Model mlp_model();
brine::Model seed_dense_model();

namespace {

using bench::Prepared;
using bench::brine_aot;
using bench::brine_jit;
using bench::floats;
using bench::prepare;
using bench::random_input;

Prepared baseline(const std::string& w, const std::string& engine, double gflop,
                  const std::vector<bench::DenseLayer>& layers, const brine::Tensor& x) {
  return prepare(w, engine, gflop, [&](Prepared& p) {
    std::shared_ptr<bench::DenseChain> chain =
        engine == "oneDNN" ? bench::make_onednn_chain(layers) : bench::make_openblas_chain(layers);
    const size_t n = layers.back().M * layers.back().N;
    p.run = [chain, x] { chain->run(x.data<float>()); };
    p.output = [chain, n] { return std::vector<float>(chain->output(), chain->output() + n); };
    p.bytes = [chain, x] { return chain->bytes() + x.bytes(); };
    p.state = chain;
  });
}

Prepared onednn_backward(const std::string& w, double gflop, const std::vector<bench::DenseLayer>& layers,
                         const brine::Tensor& x) {
  return prepare(w, "oneDNN", gflop, [&](Prepared& p) {
    std::shared_ptr<bench::DenseChainTraining> t = bench::make_onednn_training(layers);
    const size_t n = layers.size();
    p.run = [t, x] { t->run(x.data<float>()); };
    p.output = [t, n] {
      std::vector<float> all;
      for (size_t l = 0; l < n; ++l) {
        const auto v = t->kernel_grad(l);
        all.insert(all.end(), v.begin(), v.end());
      }
      return all;
    };
    p.bytes = [t, x] { return t->bytes() + x.bytes(); };
    p.state = t;
  }, "forward+backward");
}

// A whole SGD step on the mean squared error (forward, loss gradient,
// backward, update of every weight). The output compared is the first
// layer's kernel right after the engine's first step.
template <typename TrainStep>
Prepared brine_train_step(const std::string& w, double gflop, const brine::Tensor& x, const brine::Tensor& target) {
  return prepare(w, "brine AOT TrainStep", gflop, [&](Prepared& p) {
    auto st = std::make_shared<TrainStep>();
    double loss = 0;
    if (brine::Status s = st->step(x, target, loss); !s) throw brine::Error(s.message);
    const std::vector<float> first = floats(st->param("dense/kernel"));
    p.run = [st, x, target] {
      double l = 0;
      if (brine::Status s = st->step(x, target, l); !s) throw brine::Error(s.message);
    };
    p.output = [first] { return first; };
    // Weights, the buffers the next step writes them into, packed kernels,
    // intermediates, data.
    p.bytes = [st, x, target] {
      return 2 * st->param_bytes() + st->constant_bytes() + st->arena_bytes() + x.bytes() + 2 * target.bytes();
    };
    p.state = st;
  }, "train step");
}

Prepared onednn_train_step(const std::string& w, double gflop, const std::vector<bench::DenseLayer>& layers,
                           const brine::Tensor& x, const brine::Tensor& target) {
  return prepare(w, "oneDNN + loops", gflop, [&](Prepared& p) {
    std::shared_ptr<bench::DenseChainTraining> t = bench::make_onednn_training(layers, target.data<float>(), 0.01f);
    t->run(x.data<float>());
    const std::vector<float> first = t->kernel(0);
    p.run = [t, x] { t->run(x.data<float>()); };
    p.output = [first] { return first; };
    p.bytes = [t, x, target] { return t->bytes() + x.bytes() + target.bytes(); };
    p.state = t;
  }, "train step");
}

// Forward and backward FLOPs of a Dense chain: the backward computes every
// kernel gradient and every activation gradient but the first layer's input.
double training_gflop(const std::vector<bench::DenseLayer>& layers) {
  double f = 0;
  for (size_t l = 0; l < layers.size(); ++l) f += 2.0 * layers[l].M * layers[l].K * layers[l].N * (l == 0 ? 2 : 3);
  return f / 1e9;
}

// The engines every workload runs: the two baselines, brine tuned (AOT and
// JIT) and brine naive.
template <typename Tuned, typename Naive>
std::vector<Prepared> standard_engines(const std::string& w, double gflop, const std::vector<bench::DenseLayer>& layers,
                                       const brine::Tensor& x, const brine::Model& model) {
  std::vector<Prepared> e;
  e.push_back(baseline(w, "oneDNN", gflop, layers, x));
  e.push_back(baseline(w, "OpenBLAS (SkylakeX)", gflop, layers, x));
  e.push_back(brine_aot<Tuned>(w, "brine AOT tuned", gflop, x));
  e.push_back(brine_jit(w, "brine JIT (tuned)", gflop, model, x, false));
  e.push_back(brine_aot<Naive>(w, "brine AOT naive", gflop, x));
  return e;
}

using bench::Workloads;

// The training rows of a workload: forward+backward (oneDNN, brine tuned and
// naive) and a whole SGD step on the MSE against a random target.
template <typename TrainStep>
void add_training_workloads(Workloads& workloads, const std::string& w, const std::vector<bench::DenseLayer>& layers,
                            const brine::Tensor& x, const brine::Model& model) {
  const double gflop = training_gflop(layers);
  std::vector<Prepared> backward;
  backward.push_back(onednn_backward(w, gflop, layers, x));
  for (const char* s : {"tuned", "naive"})
    backward.push_back(brine_jit(w, std::string("brine JIT ") + s, gflop, model, x, true, {.schedule = s}));
  workloads.emplace_back(w, std::move(backward));
  const brine::Tensor target = random_input({layers.back().M, layers.back().N});
  std::vector<Prepared> steps;
  steps.push_back(onednn_train_step(w, gflop, layers, x, target));
  steps.push_back(brine_train_step<TrainStep>(w, gflop, x, target));
  workloads.emplace_back(w, std::move(steps));
}

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS picks its kernels when it loads; this CPU is not recognised and
  // would get AVX2 kernels unless told it is SkylakeX-class (AVX-512).
  if (const char* ct = std::getenv("OPENBLAS_CORETYPE"); !ct || std::strcmp(ct, "SkylakeX") != 0) {
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    execv("/proc/self/exe", argv);
  }
  const bench::Args args = bench::parse_args(argc, argv, "dense_bench.json");
  const double peak = bench::measure_peak_gflops(2);

  Workloads workloads;
  {  // mlp_b256
    const std::string w = "mlp_b256";
    const double gflop = 2.0 * 256 * (784 * 512 + 512 * 512 + 512 * 10) / 1e9;
    const brine::Tensor x = random_input({256, 784});
    bench_mlp_tuned::Model weights;  // every engine runs these (seed 0) weights
    const auto P = [&](const char* n) { return weights.param(n).data<float>(); };
    const std::vector<bench::DenseLayer> layers = {
        {256, 784, 512, "relu", P("dense/kernel"), P("dense/bias")},
        {256, 512, 512, "relu", P("dense_1/kernel"), P("dense_1/bias")},
        {256, 512, 10, "softmax", P("dense_2/kernel"), P("dense_2/bias")}};
    add_training_workloads<bench_mlp_train::TrainStep>(workloads, w, layers, x, mlp_model());
    auto e = standard_engines<bench_mlp_tuned::Model, bench_mlp_naive::Model>(w, gflop, layers, x, mlp_model());
    e.push_back(brine_aot<bench_mlp_mullapudi2016::Model>(w, "brine AOT mullapudi2016", gflop, x));
    e.push_back(brine_aot<bench_mlp_adams2019::Model>(w, "brine AOT adams2019", gflop, x));
    workloads.emplace_back(w, std::move(e));
  }
  {  // seed_dense_b4
    const std::string w = "seed_dense_b4";
    const double gflop = 2.0 * (4 * 32 * 32 * 3 * 8 + 4 * 8192 * 2) / 1e9;
    const brine::Tensor x = random_input({4, 32, 32, 3});
    bench_seed_dense_tuned::Model weights;
    const auto P = [&](const char* n) { return weights.param(n).data<float>(); };
    const std::vector<bench::DenseLayer> layers = {{4 * 32 * 32, 3, 8, "relu", P("dense/kernel"), P("dense/bias")},
                                                   {4, 8192, 2, "linear", P("dense_1/kernel"), P("dense_1/bias")}};
    workloads.emplace_back(w, standard_engines<bench_seed_dense_tuned::Model, bench_seed_dense_naive::Model>(
                                  w, gflop, layers, x, seed_dense_model()));
    add_training_workloads<bench_seed_dense_train::TrainStep>(workloads, w, layers, x, seed_dense_model());
  }

  const bench::Report report = bench::run_all(workloads, args.quick, peak);
  report.print("mlp_b256", "forward", "oneDNN", false);
  report.print("mlp_b256", "forward+backward", "oneDNN", false);
  report.print("mlp_b256", "train step", "oneDNN + loops", false);
  report.print("seed_dense_b4", "forward", "oneDNN", true);
  report.print("seed_dense_b4", "forward+backward", "oneDNN", true);
  report.print("seed_dense_b4", "train step", "oneDNN + loops", true);
  // The train step's memory against what training fundamentally holds:
  // parameters, their gradients, optimizer state (none for plain SGD) and
  // the activations the backward needs (each layer's output, and its
  // pre-activation where the activation is not linear).
  for (const auto& [w, layers] : {std::pair{std::string("mlp_b256"), std::vector<std::array<int64_t, 4>>{
                                                {256, 784, 512, 1}, {256, 512, 512, 1}, {256, 512, 10, 1}}},
                                  std::pair{std::string("seed_dense_b4"), std::vector<std::array<int64_t, 4>>{
                                                {4096, 3, 8, 1}, {4, 8192, 2, 0}}}}) {
    double ideal = 0;
    for (const auto& [M, K, N, nonlinear] : layers) ideal += 4.0 * (2 * (K * N + N) + M * N * (1 + nonlinear));
    for (const bench::Row& r : report.rows())
      if (r.workload == w && r.direction == "train step")
        fmt::print("{} train step, {}: {:.2f} MiB held, {:.2f}x the {:.2f} MiB of parameters + gradients + saved "
                   "activations\n", w, r.engine, r.engine_bytes / 1048576.0, r.engine_bytes / ideal, ideal / 1048576.0);
  }
  bench::finish(report, args.json);
}
