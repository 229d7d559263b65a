// seed_lstm_b4 and lstm256_T50_b64, float32, 2 threads, forward and
// forward+backward (every parameter's gradient for loss = sum(output)),
// brine beside oneDNN's LSTM primitive in the same process, same weights,
// interleaved rounds, outputs cross-checked.
//
//   lstm_bench [--quick] [--json FILE]
#include "baselines.h"
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

Prepared onednn(const std::string& w, double gflop, const bench::LstmNetSpec& spec, const brine::Tensor& x,
                bool training) {
  return bench::net_engine(w, "oneDNN", gflop, x, training, [&] { return bench::make_onednn_lstmnet(spec, training); });
}

// Multiply-adds: the LSTM L = N T (C + U) 4U, the head H = rows U units;
// backward: the kernel's L-sized share (dW and dR) plus dh_prev N T U 4U,
// and twice the head (its weights' and its input's gradients).
template <typename Aot>
void add(bench::Workloads& workloads, const std::string& w,
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
  // The input projection as its own kernel over all steps (the IR's form)
  // rather than inside each step: what fusing it buys.
  const brine::CompileOptions kernel{.projection_in_scan = false};
  f.push_back(brine_jit(w, "brine JIT, projection kernel", fwd, model, x, false, kernel));
  b.push_back(onednn(w, both, spec, x, true));
  b.push_back(brine_jit(w, "brine JIT tuned", both, model, x, true));
  b.push_back(brine_jit(w, "brine JIT, projection kernel", both, model, x, true, kernel));
  workloads.emplace_back(w, std::move(f));
  workloads.emplace_back(w, std::move(b));
}

// oneDNN's LSTM backward always computes dL/dx, N T x 4U by 4U x C, which
// brine's model does not (its input takes no gradient). Timed alone as a
// oneDNN product of that shape, it is the work to set aside to compare the
// two on equal work (see docs/scheduling.md).
void print_input_gradient_share(const bench::Report& report, const std::string& w, int64_t N, int64_t T, int64_t C,
                                int64_t U, bool quick) {
  const std::vector<float> weights(4 * U * C, 0.01f), bias(C, 0.f);
  const brine::Tensor dz = bench::random_input({N * T, 4 * U});
  const auto product = bench::make_onednn_chain({{N * T, 4 * U, C, "linear", weights.data(), bias.data()}});
  const bench::Timing t = bench::time_it([&] { product->run(dz.data<float>()); }, quick);
  double onednn = 0, brine = 0;
  for (const bench::Row& r : report.rows())
    if (r.workload == w && r.direction == "forward+backward") {
      if (r.engine == "oneDNN") onednn = r.t.median_ms;
      if (r.engine == "brine JIT tuned") brine = r.t.median_ms;
    }
  fmt::print("\n{}: oneDNN's backward also computes dL/dx ({:.3f} GFLOP, not needed here): {:.3f} ms as a oneDNN\n"
             "product alone (timed after the table); oneDNN without it ~{:.2f} ms, brine JIT tuned {:.2f}x that\n",
             w, 2.0 * N * T * 4 * U * C / 1e9, t.median_ms, onednn - t.median_ms, brine / (onednn - t.median_ms));
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Args args = bench::parse_args(argc, argv, "lstm_bench.json");
  const double peak = bench::measure_peak_gflops(2);
  bench::Workloads workloads;
  add<bench_seed_lstm_tuned::Model>(workloads, "seed_lstm_b4", seed_lstm_model(), 4, 3, 32, 8, 2, false);
  add<bench_lstm256_tuned::Model>(workloads, "lstm256_T50_b64", lstm256_model(), 64, 50, 128, 256, 256, true);
  // Gradients sum over every step and sample: compared relative to their magnitude.
  const bench::Report report = bench::run_all(workloads, args.quick, peak);
  report.print("seed_lstm_b4", "forward", "oneDNN", true);
  report.print("seed_lstm_b4", "forward+backward", "oneDNN", true);
  report.print("lstm256_T50_b64", "forward", "oneDNN", false);
  report.print("lstm256_T50_b64", "forward+backward", "oneDNN", false);
  print_input_gradient_share(report, "lstm256_T50_b64", 64, 50, 128, 256, args.quick);
  bench::finish(report, args.json);
}
