// The LSTM layer: Keras's semantics and weight layout against an independent
// implementation of the equations, one compiled model on sequences of
// lengths 1, 2 and 7, go_backwards, initial states, return_state, parameter
// gradients against finite differences, training with gradient clipping,
// and the errors of bad configurations (naming the layer, the shapes and
// this file's line).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>

#include "brine.h"
#include "ir/autodiff.h"
#include "ir/verify.h"
#include "test_util.h"

namespace brine {
namespace {

std::string here(int line) { return fmt::format("recurrent_layers_test.cpp:{}", line); }

class RecurrentLayers : public ::testing::Test {
 protected:
  void SetUp() override { reset_layer_names(); }
};

std::vector<double> values(const Tensor& t) {
  std::vector<double> v(t.size());
  for (int64_t i = 0; i < t.size(); ++i) v[i] = t.at_flat(i);
  return v;
}

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

// Keras's LSTM, written from its documentation: z = x W + b + h R, gates in
// the kernel's column blocks i, f, c, o. Returns every step's h (N, T, U)
// and the last c.
struct KerasLstm {
  std::vector<double> h_seq, c_last;
};
KerasLstm keras_lstm(const std::vector<double>& x, int64_t N, int64_t T, int64_t F, const std::vector<double>& W,
                     const std::vector<double>& R, const std::vector<double>& b, int64_t U, bool backwards,
                     const std::vector<double>* h0 = nullptr, const std::vector<double>* c0 = nullptr) {
  KerasLstm out{std::vector<double>(N * T * U), std::vector<double>(N * U)};
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> h(U, 0.0), c(U, 0.0);
    if (h0) std::copy(h0->begin() + n * U, h0->begin() + (n + 1) * U, h.begin());
    if (c0) std::copy(c0->begin() + n * U, c0->begin() + (n + 1) * U, c.begin());
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = backwards ? T - 1 - s : s;
      std::vector<double> z(4 * U);
      for (int64_t j = 0; j < 4 * U; ++j) {
        z[j] = b.empty() ? 0 : b[j];
        for (int64_t f = 0; f < F; ++f) z[j] += x[(n * T + t) * F + f] * W[f * 4 * U + j];
        for (int64_t i = 0; i < U; ++i) z[j] += h[i] * R[i * 4 * U + j];
      }
      for (int64_t u = 0; u < U; ++u) {
        const double ig = sigmoid(z[u]), fg = sigmoid(z[U + u]), gg = std::tanh(z[2 * U + u]), og = sigmoid(z[3 * U + u]);
        c[u] = fg * c[u] + ig * gg;
        h[u] = og * std::tanh(c[u]);
        out.h_seq[(n * T + s) * U + u] = h[u];
      }
    }
    std::copy(c.begin(), c.end(), out.c_last.begin() + n * U);
  }
  return out;
}

TEST_F(RecurrentLayers, KerasShapesAndParameterCounts) {
  auto x = Input({3, 32});
  EXPECT_EQ(ir::shape_str(LSTM(8)(x).shape()), "(N, 8)");
  EXPECT_EQ(ir::shape_str(LSTM(8, {.return_sequences = true})(x).shape()), "(N, 3, 8)");
  const auto r = LSTM(8, {.return_state = true}).call(x);
  ASSERT_EQ(r.size(), 3u);
  for (const Expr& e : r) EXPECT_EQ(ir::shape_str(e.shape()), "(N, 8)");
  auto seq = Input({"T", 5});
  EXPECT_EQ(ir::shape_str(LSTM(4, {.return_sequences = true})(seq).shape()), "(N, T, 4)");
  // Keras: 4 units x (features + units + 1) x 8 = 1312 for LSTM(8) on 32 features.
  reset_layer_names();
  auto in = Input({3, 32});
  const std::string summary = Model({in}, {Dense(2)(LSTM(8)(in))}).summary();
  EXPECT_NE(summary.find("1,312"), std::string::npos) << summary;
  EXPECT_NE(summary.find("lstm (LSTM)"), std::string::npos) << summary;
}

// One compiled model (dynamic sequence length T), run on T = 1, 2, 7, against
// the Keras equations with the model's own (seeded) weights.
TEST_F(RecurrentLayers, MatchesKerasEquationsForEverySequenceLength) {
  for (const bool backwards : {false, true}) {
    reset_layer_names();
    auto x = Input({"T", 5}, "x", DType::F64);
    LSTM layer(3, {.return_sequences = true, .go_backwards = backwards});
    auto seq = layer(x);
    const Model m({x}, {seq});
    Executable exe = compile(m, {.dtype = DType::F64});
    const auto W = values(exe.param(layer.name() + "/kernel")), R = values(exe.param(layer.name() + "/recurrent_kernel")),
               b = values(exe.param(layer.name() + "/bias"));
    // unit_forget_bias: ones for the forget gate, zeros elsewhere.
    EXPECT_EQ(b, (std::vector<double>{0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0}));
    for (const int64_t T : {1, 2, 7}) {
      SCOPED_TRACE(fmt::format("T = {}, go_backwards = {}", T, backwards));
      const Tensor xv = test::random_tensor({2, T, 5}, DType::F64, 10 + T);
      const auto want = keras_lstm(values(xv), 2, T, 5, W, R, b, 3, backwards).h_seq;
      const auto got = values(exe.forward({xv})[0]);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << i;
    }
  }
}

// Bidirectional: the forward layer's steps and the backward layer's, put
// back in time order, side by side (concat) or summed.
TEST_F(RecurrentLayers, BidirectionalMatchesKerasEquations) {
  auto x = Input({"T", 3}, "x", DType::F64);
  Bidirectional seq(LSTM(2, {.return_sequences = true}));
  Bidirectional last(LSTM(2), "sum");
  EXPECT_EQ(seq.forward_layer().name(), "bidirectional/forward_lstm");
  EXPECT_EQ(ir::shape_str(seq(x).shape()), "(N, T, 4)");
  const auto with_state = Bidirectional(LSTM(2, {.return_state = true})).call(x);
  EXPECT_EQ(with_state.size(), 5u);
  Executable exe = compile(Model({x}, {seq(x), last(x)}), {.dtype = DType::F64});
  const auto P = [&](const std::string& layer, const char* w) { return values(exe.param(layer + "/" + w)); };
  for (const int64_t T : {1, 4}) {
    const Tensor xv = test::random_tensor({2, T, 3}, DType::F64, 20 + T);
    const auto out = exe.forward({xv});
    const auto ys = values(out[0]), yl = values(out[1]);
    const auto run = [&](const std::string& layer, bool backwards) {
      return keras_lstm(values(xv), 2, T, 3, P(layer, "kernel"), P(layer, "recurrent_kernel"), P(layer, "bias"), 2,
                        backwards).h_seq;
    };
    const auto f = run("bidirectional/forward_lstm", false), b = run("bidirectional/backward_lstm", true);
    const auto lf = run("bidirectional_1/forward_lstm_1", false), lb = run("bidirectional_1/backward_lstm_1", true);
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t u = 0; u < 2; ++u) {
          EXPECT_NEAR(ys[((n * T + t) * 4) + u], f[(n * T + t) * 2 + u], 1e-12);
          // The backward layer's step T-1-t read input t: its output for time t.
          EXPECT_NEAR(ys[((n * T + t) * 4) + 2 + u], b[(n * T + (T - 1 - t)) * 2 + u], 1e-12);
        }
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t u = 0; u < 2; ++u)
        EXPECT_NEAR(yl[n * 2 + u], lf[(n * T + T - 1) * 2 + u] + lb[(n * T + T - 1) * 2 + u], 1e-12);
  }
}

// Bidirectional around a GRU and a SimpleRNN (each checked against Keras's
// equations below): the wrapper's output against its two halves called on
// their own (shared weights), the backward half flipped back in time.
TEST_F(RecurrentLayers, BidirectionalWrapsEveryRecurrentLayer) {
  auto x = Input({"T", 3}, "x", DType::F64);
  auto h0 = Input({2}, "h0", DType::F64);
  Bidirectional gru(GRU(2, {.return_sequences = true, .reset_after = false}), "ave");
  Bidirectional rnn(SimpleRNN(2, {.return_state = true}), "mul");
  EXPECT_EQ(gru.backward_layer().name(), "bidirectional/backward_gru");
  const auto with_state = rnn.call(x, {h0, h0});
  ASSERT_EQ(with_state.size(), 3u);  // output, forward h, backward h
  const Model m({x, h0}, {gru(x), gru.forward_layer()(x), gru.backward_layer()(x), with_state[0], with_state[1],
                          with_state[2]});
  Executable exe = compile(m, {.dtype = DType::F64});
  for (const int64_t T : {1, 5}) {
    const auto out = exe.forward({test::random_tensor({2, T, 3}, DType::F64, 30 + T), test::random_tensor({2, 2}, DType::F64, 9)});
    const auto both = values(out[0]), f = values(out[1]), b = values(out[2]);
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t u = 0; u < 2; ++u) {  // the backward half's step T-1-t read input t
          const int64_t at = (n * T + t) * 2 + u;
          EXPECT_NEAR(both[at], (f[at] + b[(n * T + (T - 1 - t)) * 2 + u]) / 2, 1e-12);
        }
    const auto prod = values(out[3]), fh = values(out[4]), bh = values(out[5]);
    for (size_t i = 0; i < prod.size(); ++i) EXPECT_NEAR(prod[i], fh[i] * bh[i], 1e-12);
  }
  EXPECT_BRINE_ERROR(rnn.call(x, {h0}), "Bidirectional layer 'bidirectional_1'",
                     "initial_state must be [forward h, backward h]; got 1 tensors");
}

// SimpleRNN: h_t = tanh(x_t W + b + h_{t-1} R), any length, both directions,
// with an initial state and return_state.
TEST_F(RecurrentLayers, SimpleRnnMatchesKerasEquations) {
  auto x = Input({"T", 3}, "x", DType::F64);
  auto h0 = Input({2}, "h0", DType::F64);
  EXPECT_EQ(ir::shape_str(SimpleRNN(4, {.return_sequences = true})(x).shape()), "(N, T, 4)");
  reset_layer_names();
  SimpleRNN fwd(2, {.return_sequences = true}), bwd(2, {.return_state = true, .go_backwards = true});
  const auto r = bwd.call(x, {h0});
  ASSERT_EQ(r.size(), 2u);
  Executable exe = compile(Model({x, h0}, {fwd(x), r[0], r[1]}), {.dtype = DType::F64});
  for (const int64_t T : {1, 2, 7}) {
    const Tensor xv = test::random_tensor({2, T, 3}, DType::F64, 40 + T), hv = test::random_tensor({2, 2}, DType::F64, 9);
    const auto out = exe.forward({xv, hv});
    for (const bool backwards : {false, true}) {
      const std::string name = backwards ? "simple_rnn_1" : "simple_rnn";
      const auto W = values(exe.param(name + "/kernel")), R = values(exe.param(name + "/recurrent_kernel")),
                 b = values(exe.param(name + "/bias")), xs = values(xv), hs = values(hv);
      for (int64_t n = 0; n < 2; ++n) {
        std::vector<double> h(2, 0.0);
        if (backwards) h = {hs[n * 2], hs[n * 2 + 1]};
        for (int64_t s = 0; s < T; ++s) {
          const int64_t t = backwards ? T - 1 - s : s;
          std::vector<double> next(2);
          for (int64_t j = 0; j < 2; ++j) {
            double a = b[j];
            for (int64_t f = 0; f < 3; ++f) a += xs[(n * T + t) * 3 + f] * W[f * 2 + j];
            for (int64_t i = 0; i < 2; ++i) a += h[i] * R[i * 2 + j];
            next[j] = std::tanh(a);
          }
          h = next;
          if (!backwards) {
            for (int64_t j = 0; j < 2; ++j) EXPECT_NEAR(values(out[0])[(n * T + s) * 2 + j], h[j], 1e-12);
          }
        }
        if (backwards)
          for (int64_t j = 0; j < 2; ++j) {
            EXPECT_NEAR(values(out[1])[n * 2 + j], h[j], 1e-12);
            EXPECT_NEAR(values(out[2])[n * 2 + j], h[j], 1e-12);
          }
      }
    }
  }
}

// GRU, both reset_after settings, against tf.keras's equations.
TEST_F(RecurrentLayers, GruMatchesKerasEquations) {
  for (const bool after : {true, false}) {
    reset_layer_names();
    auto x = Input({"T", 3}, "x", DType::F64);
    auto h0 = Input({2}, "h0", DType::F64);
    GRU fwd(2, {.return_sequences = true, .reset_after = after});
    GRU bwd(2, {.return_state = true, .go_backwards = true, .reset_after = after});
    const auto r = bwd.call(x, {h0});
    Executable exe = compile(Model({x, h0}, {fwd(x), r[0], r[1]}), {.dtype = DType::F64});
    // Non-zero biases, so that where each one enters is tested.
    for (const char* name : {"gru", "gru_1"}) {
      Tensor& bias = exe.param(std::string(name) + "/bias");
      EXPECT_EQ(bias.rank(), after ? 2 : 1);
      bias = test::random_tensor(bias.shape(), DType::F64, 77);
    }
    for (const int64_t T : {1, 2, 7}) {
      SCOPED_TRACE(fmt::format("T = {}, reset_after = {}", T, after));
      const Tensor xv = test::random_tensor({2, T, 3}, DType::F64, 50 + T), hv = test::random_tensor({2, 2}, DType::F64, 8);
      const auto out = exe.forward({xv, hv});
      for (const bool backwards : {false, true}) {
        const std::string name = backwards ? "gru_1" : "gru";
        const auto W = values(exe.param(name + "/kernel")), R = values(exe.param(name + "/recurrent_kernel")),
                   b = values(exe.param(name + "/bias")), xs = values(xv), hs = values(hv);
        const int64_t U = 2, G = 6;
        for (int64_t n = 0; n < 2; ++n) {
          std::vector<double> h(U, 0.0);
          if (backwards) h = {hs[n * 2], hs[n * 2 + 1]};
          for (int64_t s = 0; s < T; ++s) {
            const int64_t t = backwards ? T - 1 - s : s;
            std::vector<double> xw(G), hr(G);
            for (int64_t j = 0; j < G; ++j) {
              xw[j] = b[j];  // the input bias: row 0 with reset_after, the only bias otherwise
              for (int64_t f = 0; f < 3; ++f) xw[j] += xs[(n * T + t) * 3 + f] * W[f * G + j];
              hr[j] = after ? b[G + j] : 0.0;
              for (int64_t i = 0; i < U; ++i) hr[j] += h[i] * R[i * G + j];
            }
            std::vector<double> next(U);
            for (int64_t u = 0; u < U; ++u) {
              const double z = sigmoid(xw[u] + hr[u]), rr = sigmoid(xw[U + u] + hr[U + u]);
              double pre = xw[2 * U + u];
              if (after) {
                pre += rr * hr[2 * U + u];
              } else {
                for (int64_t i = 0; i < U; ++i) {
                  const double ri = sigmoid(xw[U + i] + hr[U + i]);
                  pre += ri * h[i] * R[i * G + 2 * U + u];
                }
              }
              next[u] = z * h[u] + (1 - z) * std::tanh(pre);
            }
            h = next;
            if (!backwards) {
              for (int64_t u = 0; u < U; ++u) EXPECT_NEAR(values(out[0])[(n * T + s) * U + u], h[u], 1e-12);
            }
          }
          if (backwards)
            for (int64_t u = 0; u < U; ++u) {
              EXPECT_NEAR(values(out[1])[n * U + u], h[u], 1e-12);
              EXPECT_NEAR(values(out[2])[n * U + u], h[u], 1e-12);
            }
        }
      }
    }
  }
}

TEST_F(RecurrentLayers, InitialStateAndReturnState) {
  auto x = Input({4, 2}, "x", DType::F64);
  auto h0 = Input({3}, "h0", DType::F64);
  auto c0 = Input({3}, "c0", DType::F64);
  LSTM layer(3, {.return_state = true});
  const auto r = layer.call(x, {h0, c0});
  Executable exe = compile(Model({x, h0, c0}, {r[0], r[1], r[2]}), {.dtype = DType::F64});
  const Tensor xv = test::random_tensor({2, 4, 2}, DType::F64, 1), hv = test::random_tensor({2, 3}, DType::F64, 2),
               cv = test::random_tensor({2, 3}, DType::F64, 3);
  const auto out = exe.forward({xv, hv, cv});
  const auto hd = values(hv), cd = values(cv);
  const auto want = keras_lstm(values(xv), 2, 4, 2, values(exe.param("lstm/kernel")),
                               values(exe.param("lstm/recurrent_kernel")), values(exe.param("lstm/bias")), 3, false,
                               &hd, &cd);
  const auto output = values(out[0]), h = values(out[1]), c = values(out[2]);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t u = 0; u < 3; ++u) {
      EXPECT_NEAR(output[n * 3 + u], want.h_seq[(n * 4 + 3) * 3 + u], 1e-12);
      EXPECT_NEAR(h[n * 3 + u], output[n * 3 + u], 0);
      EXPECT_NEAR(c[n * 3 + u], want.c_last[n * 3 + u], 1e-12);
    }
}

// Gradients of every weight and of the initial state, through the whole
// sequence, against central differences of the reference evaluator (f64).
TEST_F(RecurrentLayers, GradientsThroughTimeAgreeWithFiniteDifferences) {
  for (const bool backwards : {false, true}) {
    reset_layer_names();
    auto x = Input({"T", 3}, "x", DType::F64);
    auto h0 = Input({2}, "h0", DType::F64);
    auto c0 = Input({2}, "c0", DType::F64);
    auto seq = LSTM(2, {.return_sequences = true, .go_backwards = backwards})(x, {h0, c0});
    auto last = LSTM(2, {.activation = "relu", .recurrent_activation = "hard_sigmoid"})(seq);
    auto rnn = SimpleRNN(2, {.go_backwards = !backwards})(seq, {h0});
    auto gru = GRU(2, {.reset_after = backwards})(seq, {h0});
    auto gru_seq = GRU(2, {.return_sequences = true, .reset_after = !backwards})(x);
    const Model m({x, h0, c0}, {reduce_sum(Dense(1)(last) * reduce_sum(seq) + rnn * gru) + reduce_sum(gru_seq * gru_seq)});
    ir::Graph g = m.graph();
    std::vector<int> wrt;
    for (const ir::Node& n : g.nodes)
      if (n.op == ir::Op::Param || (n.op == ir::Op::Input && n.attrs.name != "x")) wrt.push_back(n.id);
    const ir::Graph back = ir::differentiate(g, g.outputs[0].node, wrt);
    ASSERT_EQ(wrt.size(), 19u);  // 2 LSTMs, a SimpleRNN and 2 GRUs x 3 weights, Dense x 2, h0, c0
    int checked = 0;
    for (const int64_t T : {1, 2, 7}) {
      SCOPED_TRACE(fmt::format("T = {}, go_backwards = {}", T, backwards));
      std::vector<ops::RefTensor> in{test::to_ref(test::random_tensor({2, T, 3}, DType::F64, 1)),
                                     test::to_ref(test::random_tensor({2, 2}, DType::F64, 2)),
                                     test::to_ref(test::random_tensor({2, 2}, DType::F64, 3))};
      std::vector<ops::RefTensor> pv;
      uint64_t seed = 5;
      for (const ir::Node& n : g.nodes)
        if (n.op == ir::Op::Param) {
          std::vector<int64_t> shape;
          for (const ir::Dim& d : n.type.shape) shape.push_back(d.size);
          pv.push_back(test::to_ref(test::random_tensor(shape, DType::F64, seed++)));
        }
      const auto analytic = ir::evaluate(back, in, pv);
      size_t k = 0, pi = 0, ii = 1;
      for (int id : wrt) {
        ops::RefTensor& v = g.node(id).op == ir::Op::Param ? pv[pi++] : in[ii++];
        const ops::RefTensor& grad = analytic[1 + k++];
        double scale = 1e-3;
        for (double d : grad.data) scale = std::max(scale, std::abs(d));
        for (int64_t i = 0; i < v.size(); ++i) {
          const double x0 = v.data[i], h = 1e-6;
          v.data[i] = x0 + h;
          const double up = ir::evaluate(g, in, pv)[0].data[0];
          v.data[i] = x0 - h;
          const double down = ir::evaluate(g, in, pv)[0].data[0];
          v.data[i] = x0;
          EXPECT_NEAR(grad.data[i], (up - down) / (2 * h), 1e-6 * scale) << g.node(id).attrs.name << "[" << i << "]";
          ++checked;
        }
      }
    }
    // GRU weights: kernel 2x6 or 3x6, recurrent 2x6, bias 2x6 (reset_after) or 6.
    EXPECT_EQ(checked, 3 * (24 + 16 + 8 + 16 + 16 + 8 + 4 + 4 + 2 + (12 + 12 + (backwards ? 12 : 6)) +
                            (18 + 12 + (backwards ? 6 : 12)) + 2 + 1 + 2 * 2 + 2 * 2));
  }
}

// Units that fill whole panels: codegen hands the scans their recurrent
// kernels packed (the backward's transposed one packed from the kernel
// itself), LSTM projects its input inside its steps, and an inference
// graph's scans write their states only
// (codegen/graph_passes.h). The compiled gradient and forward graphs, in
// double, against the reference evaluation of the graphs as written.
TEST_F(RecurrentLayers, PackedRecurrentKernelsGiveTheReferenceGradients) {
  auto x = Input({"T", 5}, "x", DType::F64);
  auto seq = LSTM(16, {.return_sequences = true})(x);
  auto out = Dense(1)(GRU(16, {.reset_after = false})(SimpleRNN(16, {.return_sequences = true, .go_backwards = true})(seq)));
  const ir::Graph back = ir::differentiate_sum_of_outputs(Model({x}, {out}).graph());
  Executable exe = compile(back, {.dtype = DType::F64});
  int packed = 0, transposed = 0, projected = 0;
  for (const ir::Node& n : exe.graph().nodes) {
    if (n.op == ir::Op::PackPanels) ++(n.attrs.transpose_a ? transposed : packed);
    projected += n.attrs.input_projection;
  }
  // LSTM's and GRU's input projections run in their scans (SimpleRNN's is
  // reversed first, go_backwards, and stays a kernel).
  EXPECT_EQ(projected, 2);
  EXPECT_EQ(packed, 3 + 2);  // each forward scan's kernel, and LSTM's and GRU's input kernels
  EXPECT_EQ(transposed, 3);  // each backward scan's, the transpose folded in
  // The same model for inference: its LSTM and GRU write their states only.
  const ir::Graph forward_graph = Model({x}, {out}).graph();
  Executable inference = compile(forward_graph, {.dtype = DType::F64});
  int states_only = 0;
  for (const ir::Node& n : inference.graph().nodes) states_only += n.attrs.states_only;
  EXPECT_EQ(states_only, 2);
  for (const ir::Node& n : exe.graph().nodes) EXPECT_FALSE(n.attrs.states_only) << "the backward reads the workspace";
  for (const int64_t T : {1, 6}) {
    SCOPED_TRACE(fmt::format("T = {}", T));
    const Tensor xv = test::random_tensor({3, T, 5}, DType::F64, 7, -1.0, 1.0);
    const std::vector<Tensor> got = exe.forward({xv});
    std::vector<ops::RefTensor> params;
    for (const Tensor& p : exe.params()) params.push_back(test::to_ref(p));
    const std::vector<ops::RefTensor> in{test::to_ref(xv)};
    const auto want = ir::evaluate(back, in, params);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(test::close(got[i], want[i], 1e-9, 1e-9)) << back.outputs[i].name;
    for (size_t i = 0; i < exe.params().size(); ++i) inference.set_param(exe.param_names()[i], exe.params()[i]);
    const auto y = inference.forward({xv});
    EXPECT_TRUE(test::close(y[0], ir::evaluate(forward_graph, in, params)[0], 1e-9, 1e-9));
  }
}

// A compiled training step with clipping by global norm: the loss of a
// small sequence regression goes down.
// Stacked LSTM, GRU (reset_after), LSTM: each layer's input is the one
// before's h slot, a strided view of its output, projected inside its steps;
// the training graph reads dz in place too. All against the reference, in
// double, for sizes of 1 (where a dynamic axis's strides could be read
// ambiguously).
TEST_F(RecurrentLayers, StackedLayersReadTheirInputsInPlace) {
  auto x = Input({"T", 3}, "x", DType::F64);
  auto out = LSTM(16)(GRU(16, {.return_sequences = true})(LSTM(16, {.return_sequences = true})(x)));
  const ir::Graph forward_graph = Model({x}, {out}).graph();
  const ir::Graph back = ir::differentiate_sum_of_outputs(forward_graph);
  Executable inference = compile(forward_graph, {.dtype = DType::F64});
  Executable training = compile(back, {.dtype = DType::F64});
  for (const Executable* exe : {&inference, &training}) {
    int projected = 0, strided_inputs = 0;
    for (const ir::Node& n : exe->graph().nodes) projected += n.attrs.input_projection;
    for (const codegen::KernelGroup& k : exe->partition().kernels)
      for (const auto& st : k.input_strides) strided_inputs += !st.empty();
    EXPECT_EQ(projected, 3);
    // h into the later scans (but an inference GRU writes h alone: read whole);
    // and dz into dR, dW, db.
    EXPECT_GE(strided_inputs, exe == &inference ? 1 : 3);
  }
  // The same with the projections left as kernels of their own.
  Executable separate = compile(forward_graph, {.dtype = DType::F64, .projection_in_scan = false});
  for (const ir::Node& n : separate.graph().nodes) EXPECT_FALSE(n.attrs.input_projection);
  for (size_t i = 0; i < inference.params().size(); ++i) {
    training.set_param(inference.param_names()[i], inference.params()[i]);
    separate.set_param(inference.param_names()[i], inference.params()[i]);
  }
  std::vector<ops::RefTensor> params;
  for (const Tensor& p : inference.params()) params.push_back(test::to_ref(p));
  for (const auto& [n, t] : {std::pair<int64_t, int64_t>{1, 1}, {3, 5}}) {
    SCOPED_TRACE(fmt::format("N = {}, T = {}", n, t));
    const Tensor xv = test::random_tensor({n, t, 3}, DType::F64, 11, -1.0, 1.0);
    const std::vector<ops::RefTensor> in{test::to_ref(xv)};
    EXPECT_TRUE(test::close(inference.forward({xv})[0], ir::evaluate(forward_graph, in, params)[0], 1e-9, 1e-9));
    EXPECT_TRUE(test::close(separate.forward({xv})[0], ir::evaluate(forward_graph, in, params)[0], 1e-9, 1e-9));
    const std::vector<Tensor> got = training.forward({xv});
    const auto want = ir::evaluate(back, in, params);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(test::close(got[i], want[i], 1e-9, 1e-9)) << back.outputs[i].name;
  }
}

TEST_F(RecurrentLayers, TrainsWithGradientClipping) {
  auto x = Input({5, 2});
  auto y = Dense(1)(LSTM(6)(x));
  Optimizer opt = Optimizer::adam(0.05);
  opt.clip_norm = 1.0;
  Trainer tr(Model({x}, {y}), "mse", opt);
  // Target: the sum of the sequence's first feature.
  Tensor xs = test::random_tensor({64, 5, 2}, DType::F32, 4), ys({64, 1});
  for (int n = 0; n < 64; ++n) {
    float s = 0;
    for (int t = 0; t < 5; ++t) s += xs.data<float>()[(n * 5 + t) * 2];
    ys.data<float>()[n] = s;
  }
  const History h = tr.fit(xs, ys, {.epochs = 30, .batch_size = 16, .verbose = 0});
  EXPECT_LT(h.epochs.back().at("loss"), 0.2 * h.epochs.front().at("loss"));
}

TEST_F(RecurrentLayers, BadConfigurationsAreClearErrors) {
  auto x = Input({3, 4});
  auto flat = Input({12});
  // Errors name the line where the layer was made.
  int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(LSTM(0), "LSTM layer 'lstm'", "units must be a positive integer, got 0", here(line));
  line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(LSTM(4)(flat), "LSTM layer 'lstm_1'", here(line), "input must have rank 3 (batch, time, features), got shape (N, 12)");
  auto h_bad = Input({5});
  auto c_ok = Input({4});
  line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(LSTM(4)(x, {h_bad, c_ok}), "LSTM layer 'lstm_2'", here(line), "initial_state must be [h, c], each of shape (N, 4); got [(N, 5), (N, 4)]");
  EXPECT_BRINE_ERROR(LSTM(4)(x, {c_ok}), "initial_state must be [h, c]", "got [(N, 4)]");
  EXPECT_BRINE_ERROR(LSTM(4, {.activation = "softplus"}), "LSTM layer", "unknown activation 'softplus' (expected tanh, sigmoid, hard_sigmoid, relu or linear)");
  // An empty sequence is refused when the model runs, naming the input.
  {
    reset_layer_names();
    auto seq = Input({"T", 2}, "seq");
    Executable exe = compile(Model({seq}, {LSTM(3)(seq)}));
    EXPECT_BRINE_ERROR(exe.forward({Tensor({2, 0, 2})}),
                       "input 'seq' has shape (2, 0, 2): dimension T must be at least 1");
  }
  EXPECT_BRINE_ERROR(GRU(0), "GRU layer", "units must be a positive integer, got 0");
  EXPECT_BRINE_ERROR(GRU(4)(x, {h_bad}), "GRU layer", "initial_state must be [h], each of shape (N, 4); got [(N, 5)]");
  EXPECT_BRINE_ERROR(GRU(4, {.recurrent_activation = "swish"}),
                     "GRU layer", "unknown recurrent_activation 'swish'");
  EXPECT_BRINE_ERROR(SimpleRNN(0), "SimpleRNN layer", "units must be a positive integer, got 0");
  EXPECT_BRINE_ERROR(SimpleRNN(4)(x, {c_ok, c_ok}),
                     "SimpleRNN layer", "initial_state must be [h], each of shape (N, 4); got [(N, 4), (N, 4)]");
  EXPECT_BRINE_ERROR(SimpleRNN(4)(flat), "input must have rank 3 (batch, time, features), got shape (N, 12)");
  EXPECT_BRINE_ERROR(Bidirectional(LSTM(4), "max"),
                     "Bidirectional layer", "unknown merge_mode 'max' (expected concat, sum, mul or ave)");
  LSTM shared(4);
  shared(x);
  auto other = Input({3, 7});
  EXPECT_BRINE_ERROR(shared(other), "was built for inputs with 4 features, now called on shape (N, 3, 7)");
}

}  // namespace
}  // namespace brine
