// Every op in the op list, every sample its family declares, every schedule:
// the compiled kernel against the double-precision reference evaluator, with
// the dynamic dimensions bound to awkward sizes. One compilation per sample
// and schedule serves all sizes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

#include "codegen/compile.h"
#include "ir/verify.h"
#include "test_util.h"

namespace brine {
namespace {

struct Case {
  ir::Op op;
  ops::OpSample sample;
};

// BRINE_SWEEP_OPS=lstm,unslice narrows the sweep to those ops (while
// working on them); unset, every op runs.
std::vector<Case> all_cases() {
  static std::vector<Case> cases;
  if (!cases.empty()) return cases;
  const char* only = std::getenv("BRINE_SWEEP_OPS");
  const auto wanted = [&](std::string_view name) {
    if (!only) return true;
    const std::string list = std::string(",") + only + ",";
    return list.find("," + std::string(name) + ",") != std::string::npos;
  };
#define X(e, n, k, a, f) \
  if (wanted(n))         \
    for (auto& s : ops::samples(ir::Op::e)) cases.push_back({ir::Op::e, s});
  BRINE_FOR_EACH_OP(X)
#undef X
  return cases;
}

ir::Graph single_op_graph(const Case& c) {
  ir::Graph g;
  g.name = "sweep";
  std::vector<int> ins;
  for (size_t i = 0; i < c.sample.inputs.size(); ++i) {
    ir::Node n;
    n.op = ir::Op::Input;
    n.attrs.name = fmt::format("x{}", i);
    n.type = {DType::F32, c.sample.inputs[i]};
    ins.push_back(g.add(n));
  }
  int out;
  if (c.op == ir::Op::Input) {
    out = ins[0];
  } else if (c.op == ir::Op::Param) {
    g.nodes.clear();
    ir::Node p;
    p.op = ir::Op::Param;
    p.attrs.name = "p";
    p.attrs.init = "glorot_uniform";
    p.type = {DType::F32, c.sample.inputs[0]};
    out = g.add(p);
  } else if (c.op == ir::Op::Constant) {
    ir::Node k;
    k.op = ir::Op::Constant;
    k.attrs = c.sample.attrs;
    const int kid = g.add(k);
    ir::Node add;
    add.op = ir::Op::Add;
    add.inputs = {ins[0], kid};
    out = g.add(add);
  } else {
    ir::Node n;
    n.op = c.op;
    n.inputs = ins;
    n.attrs = c.sample.attrs;
    out = g.add(n);
  }
  g.outputs.push_back({"y", out});
  ir::infer_types(g);
  ir::verify(g);
  return g;
}

TEST(OpSweep, EveryOpHasSamples) {
#define X(e, n, k, a, f) EXPECT_FALSE(ops::samples(ir::Op::e).empty()) << "op " n " has no sweep samples";
  BRINE_FOR_EACH_OP(X)
#undef X
}

struct Config {
  std::string schedule;
  DType dtype;
  double rtol, atol;
  // Samples ("op/label") whose kernels Halide 14 refuses to compile under
  // this schedule: the compile must fail with brine's clear error
  // (docs/scheduling.md). If Halide starts accepting one, this test says so.
  std::vector<std::string> uncompilable = {};
};

// One run of a compiled single-op graph, its dynamic dimensions bound to
// `size`, against the reference evaluator.
void expect_matches_reference(Executable& exe, const ir::Graph& g, const ops::OpSample& sample, int64_t size,
                              const Config& cfg) {
  SCOPED_TRACE(fmt::format("dynamic dims = {}", size));
  std::vector<Tensor> inputs;
  std::vector<ops::RefTensor> ref_in, ref_params;
  uint64_t seed = 7 + size;
  for (int id : g.inputs()) {
    std::vector<int64_t> shape;
    for (const ir::Dim& d : g.node(id).type.shape) shape.push_back(d.is_static() ? d.size : size);
    inputs.push_back(test::sample_tensor(sample, shape, cfg.dtype, seed++));
    ref_in.push_back(test::to_ref(inputs.back()));
  }
  for (const Tensor& p : exe.params()) ref_params.push_back(test::to_ref(p));
  std::vector<Tensor> out = exe.forward(inputs);
  const auto want = ir::evaluate(g, ref_in, ref_params);
  ASSERT_EQ(out.size(), want.size());
  EXPECT_TRUE(test::close(out[0], want[0], cfg.rtol, cfg.atol));
}

class Sweep : public ::testing::TestWithParam<Config> {};

TEST_P(Sweep, MatchesReference) {
  const Config cfg = GetParam();
  std::vector<std::string> uncompilable;
  for (const Case& c : all_cases()) {
    SCOPED_TRACE(fmt::format("op {} / {} / schedule {} / {}", ir::op_name(c.op), c.sample.label, cfg.schedule,
                             dtype_name(cfg.dtype)));
    if (c.sample.tuned_only && cfg.schedule != "tuned") continue;
    const ir::Graph g = single_op_graph(c);
    CompileOptions o;
    o.schedule = cfg.schedule;
    o.dtype = cfg.dtype;
    const std::string id = fmt::format("{}/{}", ir::op_name(c.op), c.sample.label);
    std::optional<Executable> compiled;
    try {
      compiled.emplace(compile(g, o));
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cannot be compiled with schedule '" + cfg.schedule + "'"), std::string::npos)
          << e.what();
      uncompilable.push_back(id);
      continue;
    }
    for (int64_t size : {1, 15, 17, 33}) expect_matches_reference(*compiled, g, c.sample, size, cfg);
  }
  std::vector<std::string> expected;  // those of the ops this run covers
  for (const std::string& id : cfg.uncompilable)
    for (const Case& c : all_cases())
      if (id == fmt::format("{}/{}", ir::op_name(c.op), c.sample.label)) expected.push_back(id);
  EXPECT_EQ(uncompilable, expected);
}

INSTANTIATE_TEST_SUITE_P(Schedules, Sweep,
                         ::testing::Values(Config{"naive", DType::F32, 1e-5, 1e-5},
                                           Config{"tuned", DType::F32, 1e-5, 1e-5},
                                           Config{"tuned", DType::F64, 1e-12, 1e-12},
                                           Config{"mullapudi2016", DType::F32, 1e-5, 1e-5},
                                           Config{"adams2019", DType::F32, 1e-5, 1e-5},
                                           Config{"li2018", DType::F32, 1e-5, 1e-5,
                                                  {"matmul/dense, narrow output", "matmul/dynamic output width",
                                                   "reduce_sum/last axis", "reduce_mean/last axis",
                                                   "reduce_max/last axis", "softmax/last axis",
                                                   "softmax/middle axis"}}),
                         [](const auto& info) {
                           return info.param.schedule + "_" + dtype_name(info.param.dtype);
                         });

// The blocked matmul schedules need more rows and a larger kernel than the
// sweep's samples have: one compiled kernel per shape, run on row counts that
// take each branch (ops/matmul.cpp). 192 x 696 (534 KiB) is blocked with the
// whole contraction, its 15 column tiles split unevenly between two tasks:
// 64 rows (one block), 128 (two), 200 (unblocked: the shifted last block
// would recompute 28%), 520 (a shifted last block), 7 (row tiles only).
// 400 x 100 splits the contraction in two (3 column tiles). A transposed
// left operand with a dynamic contraction (a weight gradient over the batch)
// is split in 128-long pieces from a batch of 512: 600 (a guarded last
// piece), 512 (four whole pieces); 72 rows of output, two blocks of 64, the
// second shifted inwards. 300: row tiles in parallel; 7: on one thread.
TEST(MatMulBlocks, EveryBranchMatchesReference) {
  const Config cfg{"tuned", DType::F32, 1e-5, 1e-5};
  ir::Attrs transpose_a;
  transpose_a.transpose_a = true;
  const std::vector<std::pair<ops::OpSample, std::vector<int64_t>>> samples = {
      {{"whole-K blocks", {{"N", 192}, {192, 696}}, {}}, {64, 128, 200, 520, 7}},
      {{"K split in two", {{"N", 400}, {400, 100}}, {}}, {64, 100, 130}},
      {{"weight gradient over the batch", {{"N", 72}, {"N", 100}}, transpose_a}, {600, 512, 300, 7}}};
  for (const auto& [sample, row_counts] : samples) {
    SCOPED_TRACE(sample.label);
    const Case c{ir::Op::MatMul, sample};
    const ir::Graph g = single_op_graph(c);
    Executable exe = compile(g);
    for (const int64_t M : row_counts) expect_matches_reference(exe, g, sample, M, cfg);
  }
}

}  // namespace
}  // namespace brine
