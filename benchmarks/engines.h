// What every benchmark program shares: an engine prepared for timing (its
// setup and first call under a fresh peak-RSS window), interleaved timing
// with an output cross-check, and seeded random inputs.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "brine.h"
#include "harness.h"

namespace bench {

// An engine prepared for timing. Its setup and first call ran under a fresh
// peak-RSS window.
struct Prepared {
  bench::Row row;
  std::function<void()> run;
  std::function<std::vector<float>()> output;
  std::function<size_t()> bytes;  // weights, activations, scratch it holds
  std::shared_ptr<void> state;
};

template <typename Setup>
Prepared prepare(const std::string& workload, const std::string& engine, double gflop, Setup&& setup,
                 const char* direction = "forward") {
  bench::reset_peak_rss();
  Prepared p;
  p.row = {workload, direction, engine, {}, gflop, 0, 0};
  setup(p);
  p.run();  // the first call plans buffers and touches memory
  p.row.peak_rss = bench::peak_rss_bytes();
  return p;
}

inline std::vector<float> floats(const brine::Tensor& t) { return {t.data<float>(), t.data<float>() + t.size()}; }

// Times the engines interleaved, checks that every output agrees with the
// first engine's (a fast wrong answer is no result) within `tolerance`
// of the largest reference magnitude (at least 1), adds the rows.
inline void run_workload(bench::Report& report, std::vector<Prepared>& engines, bool quick, double tolerance) {
  std::vector<bench::Engine> timed;
  for (const Prepared& p : engines) timed.push_back({p.row.engine, p.run});
  const auto timings = bench::time_interleaved(timed, quick);
  const std::vector<float> ref = engines.front().output();
  for (size_t i = 0; i < engines.size(); ++i) {
    const std::vector<float> o = engines[i].output();
    // NaN compares false, so std::max alone would skip it: any non-finite
    // value (in either output) fails the check.
    double scale = 1;
    for (float r : ref) scale = std::max(scale, std::abs(static_cast<double>(r)));
    double d = o.size() == ref.size() ? 0 : INFINITY;
    for (size_t j = 0; j < ref.size() && j < o.size(); ++j) {
      const double diff = std::abs(static_cast<double>(o[j]) - ref[j]);
      d = std::isfinite(diff) ? std::max(d, diff) : INFINITY;
    }
    if (!(d < tolerance * scale)) {
      fmt::print(stderr, "{}: {} differs from {} by {}\n", engines[i].row.workload, engines[i].row.engine,
                 engines.front().row.engine, d);
      std::exit(1);
    }
    engines[i].row.t = timings[i];
    engines[i].row.engine_bytes = engines[i].bytes();
    report.add(engines[i].row);
  }
}

inline brine::Tensor random_input(std::vector<int64_t> shape) {
  brine::Tensor x(std::move(shape));
  uint64_t s = 1;
  for (float& v : x.values<float>()) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<float>((s >> 40) * 0x1.0p-24);
  }
  return x;
}

}  // namespace bench
