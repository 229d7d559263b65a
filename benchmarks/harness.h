// The benchmark harness: median timing after warm-up, the machine's measured
// FP32 peak, peak memory, and a table plus JSON of side-by-side results.
//
// Written by hand rather than on Google Benchmark because every figure here
// is a ratio between engines timed in the same run, which needs all engines'
// numbers in one table; Google Benchmark reports each case on its own.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace bench {

struct Timing {
  double median_ms = 0, min_ms = 0;
  int runs = 0;
};

// One engine under test: `run` executes one call on prepared inputs.
struct Engine {
  std::string name;
  std::function<void()> run;
};

// Times every engine in interleaved rounds (each round runs each engine for a
// burst), so that the machine's slow phases hit all engines alike and the
// ratios between them stay meaningful on a shared, noisy machine. Each burst
// starts with untimed calls: the previous engine's thread pool (OpenMP,
// OpenBLAS, Halide) keeps spinning for a while after its last call and would
// otherwise steal the cores from this one.
inline std::vector<Timing> time_interleaved(const std::vector<Engine>& engines, bool quick) {
  const int rounds = quick ? 1 : 8;
  const double burst_s = quick ? 0 : 0.2, settle_s = quick ? 0 : 0.01;
  std::vector<std::vector<double>> ms(engines.size());
  for (const Engine& e : engines)
    for (int i = 0; i < (quick ? 1 : 5); ++i) e.run();  // warm-up
  for (int r = 0; r < rounds; ++r)
    for (size_t e = 0; e < engines.size(); ++e) {
      const auto settle = std::chrono::steady_clock::now();
      while (std::chrono::duration<double>(std::chrono::steady_clock::now() - settle).count() < settle_s) engines[e].run();
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0;; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        engines[e].run();
        const auto t1 = std::chrono::steady_clock::now();
        ms[e].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        if (i >= 2 && std::chrono::duration<double>(t1 - start).count() > burst_s) break;
      }
    }
  std::vector<Timing> out;
  for (auto& v : ms) {
    std::sort(v.begin(), v.end());
    out.push_back({v[v.size() / 2], v.front(), static_cast<int>(v.size())});
  }
  return out;
}

inline Timing time_it(const std::function<void()>& f, bool quick) {
  const int warmup = quick ? 1 : 5;
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> ms;
  const auto start = std::chrono::steady_clock::now();
  const int min_runs = quick ? 3 : 30, max_runs = quick ? 3 : 2000;
  const double budget_s = quick ? 0 : 1.5;
  while (static_cast<int>(ms.size()) < max_runs) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    if (static_cast<int>(ms.size()) >= min_runs && std::chrono::duration<double>(t1 - start).count() > budget_s) break;
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front(), static_cast<int>(ms.size())};
}

// FP32 FLOP/s of an AVX-512 FMA loop on `threads` threads (peak.cpp).
// A library baseline of a whole workload (oneDNN's convolution or LSTM
// network): one timed call on the input; its output is what the brine
// engines are checked against (forward: the model's output; training: the
// kernel gradients, Keras layout, in the model's parameter order).
class Net {
 public:
  virtual ~Net() = default;
  virtual void run(const float* x) = 0;
  virtual std::vector<float> output() = 0;
  virtual size_t bytes() const = 0;  // weights, activations, scratch it holds
};

double measure_peak_gflops(int threads);

// Peak resident memory since the last reset (Linux: /proc/self/clear_refs).
void reset_peak_rss();
size_t peak_rss_bytes();

struct Row {
  std::string workload, direction, engine;
  Timing t;
  double gflop = 0;
  size_t engine_bytes = 0;  // what the engine holds: weights, activations, scratch
  size_t peak_rss = 0;      // process high-water mark during this engine's run
};

class Report {
 public:
  explicit Report(double peak_gflops) : peak_(peak_gflops) {}
  void add(Row r) { rows_.push_back(std::move(r)); }
  const std::vector<Row>& rows() const { return rows_; }
  // Prints rows of one workload and direction with ratios to `baseline`.
  void print(const std::string& workload, const std::string& direction, const std::string& baseline, bool micro) const {
    const Row* base = nullptr;
    for (const Row* r : rows_for(workload, direction))
      if (r->engine == baseline) base = r;
    fmt::print("\n{} ({}) — {:.4f} GFLOP per call\n", workload, direction, rows_for(workload, direction).front()->gflop);
    fmt::print("  {:<28} {:>11} {:>9} {:>8} {:>9} {:>12} {:>10}\n", "engine", micro ? "median µs" : "median ms",
               "GFLOP/s", "% peak", "× oneDNN", "engine MiB", "RSS MiB");
    for (const Row* r : rows_for(workload, direction)) {
      const double gfs = r->gflop / (r->t.median_ms * 1e-3);
      fmt::print("  {:<28} {:>11.3f} {:>9.1f} {:>7.1f}% {:>9.2f} {:>12.2f} {:>10.1f}\n", r->engine,
                 micro ? r->t.median_ms * 1e3 : r->t.median_ms, gfs, 100 * gfs / peak_,
                 base ? r->t.median_ms / base->t.median_ms : 0.0, r->engine_bytes / 1048576.0, r->peak_rss / 1048576.0);
    }
  }
  void write_json(const std::string& path, const std::string& baseline) const {
    nlohmann::json j;
    j["peak_gflops"] = peak_;
    for (const Row& r : rows_) {
      const Row* base = nullptr;
      for (const Row& b : rows_)
        if (b.workload == r.workload && b.direction == r.direction && b.engine == baseline) base = &b;
      j["results"].push_back({{"workload", r.workload},
                              {"direction", r.direction},
                              {"engine", r.engine},
                              {"median_ms", r.t.median_ms},
                              {"min_ms", r.t.min_ms},
                              {"runs", r.t.runs},
                              {"gflop", r.gflop},
                              {"gflops", r.gflop / (r.t.median_ms * 1e-3)},
                              {"share_of_peak", r.gflop / (r.t.median_ms * 1e-3) / peak_},
                              {"ratio_to_" + baseline, base ? r.t.median_ms / base->t.median_ms : 0.0},
                              {"engine_bytes", r.engine_bytes},
                              {"peak_rss_bytes", r.peak_rss}});
    }
    std::ofstream(path) << j.dump(2) << "\n";
  }

 private:
  std::vector<const Row*> rows_for(const std::string& w, const std::string& d) const {
    std::vector<const Row*> out;
    for (const Row& r : rows_)
      if (r.workload == w && r.direction == d) out.push_back(&r);
    return out;
  }
  double peak_;
  std::vector<Row> rows_;
};

}  // namespace bench
