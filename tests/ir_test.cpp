// The IR text format (round trip, errors with line and column), the
// verifier, DOT export and the fusion pass.
#include <gtest/gtest.h>

#include "brine.h"
#include "codegen/fusion.h"
#include "codegen/graph_passes.h"
#include "ir/text.h"
#include "ir/verify.h"
#include "test_util.h"

namespace brine {
namespace {

Model seed_dense() {
  reset_layer_names();
  auto inp = Input({32, 32, 3});
  auto hidden = Dense(8, "relu")(inp);
  auto flat = Flatten()(hidden);
  auto out = Dense(2)(flat);
  return Model({inp}, {out}, "seed_dense");
}

// Every op at least once, custom-layer style (a hand-written attention).
Model custom_layer() {
  reset_layer_names();
  auto q = Input({"T", 16}, "q");
  auto v = Input({"T", 16}, "v");
  auto scores = matmul(q, v, false, true) * (1.0 / 4.0);
  auto w = softmax(scores, -1);
  auto ctx = matmul(w, v);
  auto pooled = reduce_mean(ctx, {1}) + reduce_max(ctx, {1}) - reduce_sum(ctx, {1}) / 16.0;
  auto act = sigmoid(pooled) + tanh(pooled) * relu(pooled) + exp(neg(pooled)) + log(sqrt(pooled * pooled + 1.0));
  auto t = transpose(expand_dims(act, 1), {0, 2, 1});
  auto c = concat({reshape(t, {"N", 16}), act}, -1);
  return Model({q, v}, {c, w}, "custom");
}

// A Dense whose kernel codegen packs (the compiled form: pack_panels, packed_b).
ir::Graph packed_dense() {
  reset_layer_names();
  auto x = Input({256});
  return codegen::prepare_graph(Model({x}, {Dense(256)(x)}, "packed").graph(), true, /*frozen_params=*/true);
}

TEST(IrText, RoundTripIsExact) {
  for (const ir::Graph& g : {seed_dense().graph(), custom_layer().graph(), packed_dense()}) {
    const std::string text = ir::print(g);
    const ir::Graph back = ir::parse(text, "roundtrip.ir");
    EXPECT_EQ(ir::print(back), text);
    ASSERT_EQ(back.nodes.size(), g.nodes.size());
    for (size_t i = 0; i < back.nodes.size(); ++i) {
      EXPECT_EQ(back.nodes[i].loc, g.nodes[i].loc);
      EXPECT_EQ(back.nodes[i].layer, g.nodes[i].layer);
      EXPECT_EQ(back.nodes[i].op, g.nodes[i].op);
      EXPECT_EQ(back.nodes[i].attrs, g.nodes[i].attrs);
      EXPECT_EQ(back.nodes[i].type, g.nodes[i].type);
    }
  }
  EXPECT_NE(ir::print(packed_dense()).find("packed_b=true"), std::string::npos);
}

TEST(IrText, PrintsReadableText) {
  const std::string text = ir::print(seed_dense().graph());
  EXPECT_NE(text.find("%0 = input {name=\"input_1\"} : f32[N,32,32,3]"), std::string::npos) << text;
  EXPECT_NE(text.find("= matmul(%0, %1) : f32[N,32,32,8] @\"dense\""), std::string::npos) << text;
  EXPECT_NE(text.find("reshape(%5) {shape=[N,8192]} : f32[N,8192] @\"flatten\""), std::string::npos) << text;
  EXPECT_NE(text.find("return \"dense_1\" = %10"), std::string::npos) << text;
}

TEST(IrText, ParsedGraphRunsLikeTheOriginal) {
  const Model m = seed_dense();
  const ir::Graph g = ir::parse(ir::print(m.graph()));
  Executable a = compile(m), b = compile(g);
  const Tensor x = test::random_tensor({3, 32, 32, 3}, DType::F32, 5);
  EXPECT_TRUE(test::close(b.forward({x})[0], test::to_ref(a.forward({x})[0]), 0, 0));
}

const char* kGood = R"(brine.ir 1
graph "g" {
  %0 = input {name="x"} : f32[N,4]
  %1 = param {name="w", init="glorot_uniform"} : f32[4,3]
  %2 = matmul(%0, %1) : f32[N,3]
  return "y" = %2
}
)";

// `text` with its first `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}
std::string with(const std::string& from, const std::string& to) { return replaced(kGood, from, to); }

TEST(IrText, ParseErrorsNameLineAndColumn) {
  EXPECT_NO_THROW(ir::parse(kGood, "g.ir"));
  EXPECT_BRINE_ERROR(ir::parse("", "empty.ir"), "empty.ir:1:1", "expected 'brine.ir', got end of input");
  EXPECT_BRINE_ERROR(ir::parse(with("brine.ir 1", "brine.ir 2"), "g.ir"), "g.ir:1:10", "format version 1");
  EXPECT_BRINE_ERROR(ir::parse(with("matmul(%0", "matmull(%0"), "g.ir"), "g.ir:5:8", "unknown op 'matmull'");
  EXPECT_BRINE_ERROR(ir::parse(with("matmul(%0, %1)", "matmul(%0, %7)"), "g.ir"), "g.ir:5:19",
                     "%7 is not defined");
  EXPECT_BRINE_ERROR(ir::parse(with("f32[4,3]", "f16[4,3]"), "g.ir"), "g.ir:4", "a dtype (f32 or f64)");
  EXPECT_BRINE_ERROR(ir::parse(with("%2 = matmul", "%1 = matmul"), "g.ir"), "g.ir:5:3", "%1 is already defined");
  EXPECT_BRINE_ERROR(ir::parse(with("name=\"x\"", "name=\"x"), "g.ir"), "unterminated string");
  EXPECT_BRINE_ERROR(ir::parse(with("init=\"glorot_uniform\"", "initt=\"glorot_uniform\""), "g.ir"), "g.ir:4",
                     "expected an attribute");
  EXPECT_BRINE_ERROR(ir::parse(with("}\n", "} extra\n"), "g.ir"), "end of input after the graph");
  EXPECT_BRINE_ERROR(ir::parse(with("%2 = matmul(%0, %1) : f32[N,3]", "%2 = matmul(%0, %1) : f32[N,5]"), "g.ir"),
                     "g.ir:5", "node %2 (matmul)", "declared type f32[N,5] but its inputs give f32[N,3]");
  EXPECT_BRINE_ERROR(ir::parse(with("f32[4,3]", "f32[5,3]"), "g.ir"), "g.ir:5", "node %2 (matmul)",
                     "contraction dimensions differ (4 vs 5)", "(N, 4), (5, 3)");
  EXPECT_BRINE_ERROR(ir::parse(with("matmul(%0, %1)", "matmul(%0)"), "g.ir"), "node %2 (matmul)",
                     "takes 2 input(s), got 1");
  EXPECT_BRINE_ERROR(ir::parse(with("  return \"y\" = %2\n", ""), "g.ir"), "graph 'g' has no outputs");
  EXPECT_BRINE_ERROR(ir::parse(with("glorot_uniform", "he_normal"), "g.ir"), "unknown initializer 'he_normal'");
  EXPECT_BRINE_ERROR(ir::parse(with("f32[4,3]", "f32[M,3]"), "g.ir"), "param 'w' has shape (M, 3)",
                     "static shapes");
  EXPECT_BRINE_ERROR(ir::parse(with("%0 = input", "%0 = $input"), "g.ir"), "g.ir:3:8", "unexpected character '$'");
  // A product summed over the batch needs batch axes; panels must divide the columns.
  EXPECT_BRINE_ERROR(ir::parse(with("matmul(%0, %1) : f32[N,3]", "matmul(%0, %1) {axes=[0]} : f32[4,3]"), "g.ir"),
                     "node %2 (matmul)", "matmul of (N, 4) and (4, 3) summed over axes 0",
                     "every batch axis ([0 .. rank-3]) of operands with the same batch axes");
  EXPECT_BRINE_ERROR(ir::parse(with("%2 = matmul(%0, %1) : f32[N,3]", "%2 = pack_panels(%1) {axes=[2]} : f32[1,4,2]"),
                               "g.ir"),
                     "node %2 (pack_panels)", "pack_panels of (4, 3): 3 columns are not a multiple of the panel width 2");
  // A packed kernel is (N / w, K, w) panels, not a plain matrix.
  EXPECT_BRINE_ERROR(ir::parse(with("matmul(%0, %1) : f32[N,3]", "matmul(%0, %1) {packed_b=true} : f32[N,3]"), "g.ir"),
                     "node %2 (matmul)", "matmul with packed_b takes a kernel packed as (N / w, K, w) panels",
                     "got (4, 3)");
  // A scan that projects its input takes x, w, b and r of agreeing shapes.
  const std::string lstm = R"(brine.ir 1
graph "g" {
  %0 = input {name="x"} : f32[N,T,4]
  %1 = param {name="w", init="glorot_uniform"} : f32[4,8]
  %2 = param {name="b", init="zeros"} : f32[8]
  %3 = param {name="r", init="orthogonal"} : f32[2,8]
  %4 = lstm(%0, %1, %2, %3) {input_projection=true} : f32[N,T,6,2]
  return "y" = %4
}
)";
  EXPECT_NO_THROW(ir::parse(lstm, "lstm.ir"));
  EXPECT_BRINE_ERROR(ir::parse(replaced(lstm, "f32[N,T,4]", "f32[N,T,5]"), "lstm.ir"), "node %4 (lstm)",
                     "lstm(f32[N,T,5], f32[4,8], f32[8], f32[2,8])",
                     "with input_projection x must be (batch, time, K), w (K, G) and b (G)");
  EXPECT_BRINE_ERROR(ir::parse(replaced(lstm, "lstm(%0, %1, %2, %3)", "lstm(%0, %1, %3)"), "lstm.ir"), "node %4 (lstm)",
                     "with input_projection the operands are x, w, b, r and the initial states");
  // A GRU's too (its recurrent bias after r); never a backward op.
  const std::string gru = R"(brine.ir 1
graph "g" {
  %0 = input {name="x"} : f32[N,T,4]
  %1 = param {name="w", init="glorot_uniform"} : f32[4,6]
  %2 = param {name="b", init="zeros"} : f32[6]
  %3 = param {name="r", init="orthogonal"} : f32[2,6]
  %4 = param {name="rb", init="zeros"} : f32[6]
  %5 = gru(%0, %1, %2, %3, %4) {reset_after=true, input_projection=true} : f32[N,T,5,2]
  return "y" = %5
}
)";
  EXPECT_NO_THROW(ir::parse(gru, "gru.ir"));
  EXPECT_BRINE_ERROR(ir::parse(replaced(gru, "gru(", "gru_grad("), "gru.ir"), "node %5 (gru_grad)",
                     "input_projection applies to lstm, gru and simple_rnn only");
}

TEST(IrText, DotExportShowsKernels) {
  const Model m = seed_dense();
  const auto p = codegen::fuse(m.graph());
  const std::string dot = ir::to_dot(m.graph(), &p.kernel_of);
  EXPECT_NE(dot.find("digraph \"seed_dense\""), std::string::npos);
  EXPECT_NE(dot.find("subgraph cluster_k0"), std::string::npos);
  EXPECT_NE(dot.find("subgraph cluster_k1"), std::string::npos);
  EXPECT_EQ(dot.find("subgraph cluster_k2"), std::string::npos);
  EXPECT_NE(dot.find("n0 -> n2"), std::string::npos);
}

TEST(Fusion, DenseBiasActivationIsOneKernel) {
  const Model m = seed_dense();
  const auto p = codegen::fuse(m.graph());
  ASSERT_EQ(p.kernels.size(), 2u);  // dense (matmul+add+relu), dense_1 (matmul+add); flatten is a view
  EXPECT_EQ(p.kernels[0].nodes.size(), 3u);
  EXPECT_EQ(m.graph().node(p.kernels[0].anchor).op, ir::Op::MatMul);
  EXPECT_EQ(m.graph().node(p.kernels[0].tail).op, ir::Op::Relu);
  EXPECT_EQ(p.kernels[1].nodes.size(), 2u);
  const std::string fused = codegen::print_fused(m.graph(), p);
  EXPECT_NE(fused.find("view %6 = reshape(%5)"), std::string::npos) << fused;
}

TEST(Fusion, ElementwiseChainIsOneKernel) {
  auto x = Input({16});
  auto y = exp(tanh(x) * 2.0 + 1.0) - x;
  const Model m({x}, {y});
  const auto p = codegen::fuse(m.graph());
  ASSERT_EQ(p.kernels.size(), 1u);
  EXPECT_EQ(p.kernels[0].inputs, std::vector<int>{0});
}

TEST(Fusion, SharedValueEndsAKernel) {
  // h feeds two consumers, so it is materialized once rather than recomputed;
  // sigmoid(h) + tanh(h) is then one elementwise kernel.
  auto x = Input({16});
  auto h = Dense(16, "relu")(x);
  auto y = sigmoid(h) + tanh(h);
  const Model m({x}, {y});
  const auto p = codegen::fuse(m.graph());
  EXPECT_EQ(p.kernels.size(), 2u);
}

TEST(Fusion, OutputValueIsNotFusedAway) {
  auto x = Input({16});
  auto h = relu(x);
  auto y = exp(h);
  const Model m({x}, {h, y});
  const auto p = codegen::fuse(m.graph());
  EXPECT_EQ(p.kernels.size(), 2u);
  Executable exe = compile(m);
  const Tensor in = test::random_tensor({3, 16}, DType::F32, 1);
  auto out = exe.forward({in});
  const std::vector<ops::RefTensor> ref_in{test::to_ref(in)};
  const auto ref = ir::evaluate(m.graph(), ref_in, {});
  EXPECT_TRUE(test::close(out[0], ref[0], 1e-6, 1e-6));
  EXPECT_TRUE(test::close(out[1], ref[1], 1e-6, 1e-6));
}

}  // namespace
}  // namespace brine
