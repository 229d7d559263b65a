// seed_conv_b64 and conv3x3_64_56_b8, float32, 2 threads, forward and
// forward+backward (every parameter's gradient for loss = sum(output)),
// brine beside oneDNN's convolution primitives in the same process, same
// weights, interleaved rounds, outputs cross-checked.
//
//   conv_bench [--quick] [--json FILE]
#include "bench_conv3x3_tuned.h"
#include "bench_seed_conv_tuned.h"
#include "conv_baselines.h"
#include "engines.h"

brine::Model seed_conv_model();
brine::Model conv3x3_model();

namespace {

using bench::Prepared;
using bench::brine_aot;
using bench::brine_jit;

Prepared onednn(const std::string& w, double gflop, const bench::ConvNetSpec& spec, const brine::Tensor& x,
                bool training) {
  return bench::net_engine(w, "oneDNN", gflop, x, training, [&] { return bench::make_onednn_convnet(spec, training); });
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(argc, argv, "conv_bench.json");
  const double peak = bench::measure_peak_gflops(2);
  bench::Workloads workloads;
  {
    const std::string w = "seed_conv_b64";
    // conv 30x30x8 outputs of 27 MACs, the head 7200 x 2; backward: the
    // filter gradient (as many MACs as the forward) and the head's two.
    const double conv = 64.0 * 30 * 30 * 8 * 27, head = 64.0 * 7200 * 2;
    const brine::Tensor x = bench::random_input({64, 32, 32, 3});
    bench_seed_conv_tuned::Model weights;  // every engine runs these (seed 0) weights
    const auto P = [&](const char* n) { return weights.param(n).data<float>(); };
    const bench::ConvNetSpec spec{64, 32, 32, 3, 8, 3, 0, P("conv2d/kernel"), P("conv2d/bias"), 2, P("dense/kernel"), P("dense/bias")};
    std::vector<Prepared> fwd, bwd;
    fwd.push_back(onednn(w, 2 * (conv + head) / 1e9, spec, x, false));
    fwd.push_back(brine_aot<bench_seed_conv_tuned::Model>(w, "brine AOT tuned", 2 * (conv + head) / 1e9, x));
    fwd.push_back(brine_jit(w, "brine JIT tuned", 2 * (conv + head) / 1e9, seed_conv_model(), x, false));
    bwd.push_back(onednn(w, 2 * (2 * conv + 3 * head) / 1e9, spec, x, true));
    bwd.push_back(brine_jit(w, "brine JIT tuned", 2 * (2 * conv + 3 * head) / 1e9, seed_conv_model(), x, true));
    workloads.emplace_back(w, std::move(fwd));
    workloads.emplace_back(w, std::move(bwd));
  }
  {
    const std::string w = "conv3x3_64_56_b8";
    const double conv = 8.0 * 56 * 56 * 64 * 9 * 64;
    const brine::Tensor x = bench::random_input({8, 56, 56, 64});
    bench_conv3x3_tuned::Model weights;
    const auto P = [&](const char* n) { return weights.param(n).data<float>(); };
    const bench::ConvNetSpec spec{8, 56, 56, 64, 64, 3, 1, P("conv2d/kernel"), P("conv2d/bias")};
    std::vector<Prepared> fwd, bwd;
    fwd.push_back(onednn(w, 2 * conv / 1e9, spec, x, false));
    fwd.push_back(brine_aot<bench_conv3x3_tuned::Model>(w, "brine AOT tuned", 2 * conv / 1e9, x));
    fwd.push_back(brine_jit(w, "brine JIT tuned", 2 * conv / 1e9, conv3x3_model(), x, false));
    bwd.push_back(onednn(w, 4 * conv / 1e9, spec, x, true));
    bwd.push_back(brine_jit(w, "brine JIT tuned", 4 * conv / 1e9, conv3x3_model(), x, true));
    workloads.emplace_back(w, std::move(fwd));
    workloads.emplace_back(w, std::move(bwd));
  }
  // Gradients sum over 25K pixels: compared relative to their magnitude.
  const bench::Report report = bench::run_all(workloads, args.quick, peak);
  report.print("seed_conv_b64", "forward", "oneDNN", true);
  report.print("seed_conv_b64", "forward+backward", "oneDNN", true);
  report.print("conv3x3_64_56_b8", "forward", "oneDNN", false);
  report.print("conv3x3_64_56_b8", "forward+backward", "oneDNN", false);
  bench::finish(report, args.json);
}
