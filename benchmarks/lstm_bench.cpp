// seed_lstm_b4 and lstm256_T50_b64, float32, 2 threads, forward and
// forward+backward (every parameter's gradient for loss = sum(output)),
// brine beside oneDNN's LSTM primitive in the same process, same weights,
// interleaved rounds, outputs cross-checked.
//
//   lstm_bench [--quick] [--json FILE]
#include <cstring>

#include "bench_lstm256_tuned.h"
#include "bench_seed_lstm_tuned.h"
#include "engines.h"
#include "rnn_baselines.h"

brine::Model seed_lstm_model();
brine::Model lstm256_model();

namespace {

using bench::Prepared;
using bench::brine_aot;
using bench::brine_jit;
using bench::prepare;

Prepared onednn(const std::string& w, double gflop, const bench::LstmNetSpec& spec, const brine::Tensor& x,
                bool training) {
  return prepare(w, "oneDNN", gflop, [&](Prepared& p) {
    std::shared_ptr<bench::LstmNet> net = bench::make_onednn_lstmnet(spec, training);
    p.run = [net, x] { net->run(x.data<float>()); };
    p.output = [net] { return net->output(); };
    p.bytes = [net, x] { return net->bytes() + x.bytes(); };
    p.state = net;
  }, training ? "forward+backward" : "forward");
}

// Multiply-adds: the LSTM L = N T (C + U) 4U, the head H = rows U units;
// backward: the kernel's L-sized share (dW and dR) plus dh_prev N T U 4U,
// and twice the head (its weights' and its input's gradients).
template <typename Aot>
void add(std::vector<std::pair<std::string, std::vector<Prepared>>>& workloads, const std::string& w,
         const brine::Model& model, int64_t N, int64_t T, int64_t C, int64_t U, int64_t units, bool sequences) {
  const double L = 4.0 * N * T * (C + U) * U, H = double(sequences ? N * T : N) * U * units;
  const double fwd = 2 * (L + H) / 1e9, both = 2 * (2 * L + 4.0 * N * T * U * U + 3 * H) / 1e9;
  const brine::Tensor x = bench::random_input({N, T, C});
  Aot weights;  // every engine runs these (seed 0) weights
  const auto P = [&](const char* n) { return weights.param(n).template data<float>(); };
  const bench::LstmNetSpec spec{N, T, C, U, sequences, P("lstm/kernel"), P("lstm/recurrent_kernel"), P("lstm/bias"),
                                units, P("dense/kernel"), P("dense/bias")};
  std::vector<Prepared> f, b;
  f.push_back(onednn(w, fwd, spec, x, false));
  f.push_back(brine_aot<Aot>(w, "brine AOT tuned", fwd, x));
  f.push_back(brine_jit(w, "brine JIT tuned", fwd, model, x, false));
  b.push_back(onednn(w, both, spec, x, true));
  b.push_back(brine_jit(w, "brine JIT tuned", both, model, x, true));
  workloads.emplace_back(w, std::move(f));
  workloads.emplace_back(w, std::move(b));
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string json = "lstm_bench.json";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--json") == 0 && i + 1 < argc) json = argv[++i];
  }
  double peak = bench::measure_peak_gflops(2);
  std::vector<std::pair<std::string, std::vector<Prepared>>> workloads;
  add<bench_seed_lstm_tuned::Model>(workloads, "seed_lstm_b4", seed_lstm_model(), 4, 3, 32, 8, 2, false);
  add<bench_lstm256_tuned::Model>(workloads, "lstm256_T50_b64", lstm256_model(), 64, 50, 128, 256, 256, true);
  bench::Report timing_only(1);
  // Gradients sum over every step and sample: compared relative to their magnitude.
  for (auto& [name, engines] : workloads) bench::run_workload(timing_only, engines, quick, 1e-4);
  peak = std::max(peak, bench::measure_peak_gflops(2));
  fmt::print("machine: 2 threads, measured FP32 peak {:.0f} GFLOP/s (AVX-512 FMA loop, best of before/after)\n", peak);
  bench::Report report(peak);
  for (const bench::Row& r : timing_only.rows()) report.add(r);
  report.print("seed_lstm_b4", "forward", "oneDNN", true);
  report.print("seed_lstm_b4", "forward+backward", "oneDNN", true);
  report.print("lstm256_T50_b64", "forward", "oneDNN", false);
  report.print("lstm256_T50_b64", "forward+backward", "oneDNN", false);
  fmt::print("\noutputs of every engine agree with oneDNN (max |Δ| < 1e-4 of the largest magnitude, at least 1)\n");
  report.write_json(json, "oneDNN");
  fmt::print("wrote {}\n", json);
}
