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
#include "ir/autodiff.h"

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

// A Net made by `make()` as an engine.
template <typename Make>
Prepared net_engine(const std::string& w, const std::string& engine, double gflop, const brine::Tensor& x,
                    bool training, Make&& make) {
  return prepare(w, engine, gflop, [&](Prepared& p) {
    std::shared_ptr<Net> net = make();
    p.run = [net, x] { net->run(x.data<float>()); };
    p.output = [net] { return net->output(); };
    p.bytes = [net, x] { return net->bytes() + x.bytes(); };
    p.state = net;
  }, training ? "forward+backward" : "forward");
}

using Workloads = std::vector<std::pair<std::string, std::vector<Prepared>>>;

// `PROGRAM [--quick] [--json FILE]`.
struct Args {
  bool quick = false;
  std::string json;
};
inline Args parse_args(int argc, char** argv, std::string default_json) {
  Args a{false, std::move(default_json)};
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--quick") a.quick = true;
    else if (std::string(argv[i]) == "--json" && i + 1 < argc) a.json = argv[++i];
  }
  return a;
}

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

// Times every workload (outputs cross-checked within `tolerance`), measures
// the peak again (the best of `peak_before` and after), prints the machine
// line and returns the report to print tables from.
inline bench::Report run_all(Workloads& workloads, bool quick, double peak_before, double tolerance = 1e-4) {
  bench::Report timing_only(1);
  for (auto& [name, engines] : workloads) run_workload(timing_only, engines, quick, tolerance);
  const double peak = std::max(peak_before, bench::measure_peak_gflops(2));
  fmt::print("machine: 2 threads, measured FP32 peak {:.0f} GFLOP/s (AVX-512 FMA loop, best of before/after)\n", peak);
  bench::Report report(peak);
  for (const bench::Row& r : timing_only.rows()) report.add(r);
  return report;
}

// The closing lines: what the cross-check established, and the JSON file.
inline void finish(const bench::Report& report, const std::string& json, const std::string& baseline = "oneDNN") {
  fmt::print("\noutputs of every engine agree with {} (max |Δ| < 1e-4 of the largest magnitude, at least 1)\n",
             baseline);
  report.write_json(json, baseline);
  fmt::print("wrote {}\n", json);
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


// A generated library's Model class (AOT), forward: inference with fixed
// weights, compiled with FROZEN_PARAMS (benchmarks/CMakeLists.txt), as the
// libraries' inference primitives reorder their weights once at setup.
template <typename Model>
Prepared brine_aot(const std::string& w, const std::string& engine, double gflop, const brine::Tensor& x) {
  return prepare(w, engine, gflop, [&](Prepared& p) {
    struct State {
      Model model;
      brine::Tensor x, y;
    };
    auto st = std::make_shared<State>();
    st->x = x;
    p.run = [st] {
      if (brine::Status s = st->model.forward(st->x, st->y); !s) throw brine::Error(s.message);
    };
    p.output = [st] { return floats(st->y); };
    p.bytes = [st] {
      return st->model.param_bytes() + st->model.constant_bytes() + st->model.arena_bytes() + st->x.bytes() + st->y.bytes();
    };
    p.state = st;
  });
}

// The JIT: the model's forward (compiled with frozen parameters, as
// brine_aot), or with `backward` its backward graph for loss = sum(outputs),
// whose output compared is every kernel gradient in a row (outputs named
// ".../kernel", in the model's parameter order); the backward stands for a
// training step, whose weights change every call: not frozen.
inline Prepared brine_jit(const std::string& w, const std::string& engine, double gflop, const brine::Model& m,
                          const brine::Tensor& x, bool backward, const brine::CompileOptions& o = {}) {
  return prepare(w, engine, gflop, [&](Prepared& p) {
    struct State {
      brine::Executable exe;
      std::vector<brine::Tensor> in, out;
      std::vector<size_t> kernels;
    };
    const brine::ir::Graph g = backward ? brine::ir::differentiate_sum_of_outputs(m.graph()) : m.graph();
    brine::CompileOptions frozen = o;
    frozen.frozen_params = !backward;
    auto st = std::make_shared<State>(State{brine::compile(g, frozen), {x}, std::vector<brine::Tensor>(g.outputs.size()), {}});
    for (size_t i = 0; i < g.outputs.size(); ++i)
      if (g.outputs[i].name.ends_with("/kernel")) st->kernels.push_back(i);
    p.run = [st] { st->exe.forward(st->in, st->out); };
    p.output = [st, backward] {
      if (!backward) return floats(st->out[0]);
      std::vector<float> all;
      for (size_t i : st->kernels) {
        const auto v = floats(st->out[i]);
        all.insert(all.end(), v.begin(), v.end());
      }
      return all;
    };
    p.bytes = [st] {
      size_t n = st->exe.param_bytes() + st->exe.constant_bytes() + st->exe.arena_bytes() + st->in[0].bytes();
      for (const auto& t : st->out) n += t.bytes();
      return n;
    };
    p.state = st;
  }, backward ? "forward+backward" : "forward");
}

}  // namespace bench
