// Losses, optimizers, the trainer and checkpoints.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fmt/format.h>

#include "brine.h"
#include "codegen/fusion.h"
#include "train/train_graph.h"
#include "dsl/collect.h"
#include "ir/autodiff.h"
#include "ir/verify.h"
#include "runtime/files.h"
#include "runtime/safetensors.h"
#include "test_util.h"

namespace brine {
namespace {

// Evaluates a loss on concrete (y_true, y_pred) in f64 with the reference.
double loss_value(const std::string& name, bool logits, const ops::RefTensor& t, const ops::RefTensor& p,
                  ir::Graph* graph_out = nullptr) {
  auto e = std::make_shared<ExprNode>();
  e->op = ir::Op::Input;
  e->attrs.name = "y_pred";
  e->type = {DType::F64, {"N", static_cast<int64_t>(p.shape[1])}};
  const Expr y_pred(e);
  auto f = std::make_shared<ExprNode>(*e);
  f->attrs.name = "y_true";
  f->type.shape = losses::label_shape(name, e->type.shape);
  const Expr y_true(f);
  const Model m({y_true, y_pred}, {losses::by_name(name, y_true, y_pred, logits)});
  if (graph_out) *graph_out = m.graph();
  const std::vector<ops::RefTensor> in{t, p};
  return ir::evaluate(m.graph(), in, {})[0].data[0];
}

TEST(Losses, MatchHandComputation) {
  const ops::RefTensor t{{2, 3}, {0, 1, 0, 1, 0, 0}}, p{{2, 3}, {0.2, 0.7, 0.1, 0.5, 0.25, 0.25}};
  double mse = 0;
  for (int i = 0; i < 6; ++i) mse += (p.data[i] - t.data[i]) * (p.data[i] - t.data[i]);
  EXPECT_NEAR(loss_value("mse", false, t, p), mse / 6, 1e-12);
  EXPECT_NEAR(loss_value("categorical_crossentropy", false, t, p), -(std::log(0.7) + std::log(0.5)) / 2, 1e-9);
  const ops::RefTensor ids{{2}, {1, 0}};
  EXPECT_NEAR(loss_value("sparse_categorical_crossentropy", false, ids, p), -(std::log(0.7) + std::log(0.5)) / 2, 1e-9);
  double bce = 0;
  for (int i = 0; i < 6; ++i)
    bce -= t.data[i] * std::log(p.data[i] + 1e-7) + (1 - t.data[i]) * std::log(1 - p.data[i] + 1e-7);
  EXPECT_NEAR(loss_value("binary_crossentropy", false, t, p), bce / 6, 1e-9);
  // Huber, delta 1: errors 0.2, 0.3, 0.1 | 0.5, 0.25, 0.25 are all quadratic; add a linear one.
  const ops::RefTensor big{{1, 2}, {3.0, 0.5}}, zero{{1, 2}, {0, 0}};
  EXPECT_NEAR(loss_value("huber", false, zero, big), ((3.0 - 0.5) + 0.5 * 0.25) / 2, 1e-12);
}

TEST(Losses, LogitFormsAreStableAndAgree) {
  const ops::RefTensor t{{2, 3}, {0, 1, 0, 1, 0, 0}}, z{{2, 3}, {1.0, 2.0, -1.0, 0.5, 0.0, -0.5}};
  // softmax(z) then the probability form equals the logits form.
  ops::RefTensor p = z;
  for (int r = 0; r < 2; ++r) {
    double s = 0;
    for (int j = 0; j < 3; ++j) s += std::exp(z.data[r * 3 + j]);
    for (int j = 0; j < 3; ++j) p.data[r * 3 + j] = std::exp(z.data[r * 3 + j]) / s;
  }
  EXPECT_NEAR(loss_value("categorical_crossentropy", true, t, z), loss_value("categorical_crossentropy", false, t, p),
              1e-9);
  // Huge logits: finite, and right (the correct class has a margin of 1000).
  const ops::RefTensor huge{{2, 3}, {0, 1000, -1000, 1000, 0, -1000}};
  EXPECT_NEAR(loss_value("categorical_crossentropy", true, t, huge), 0.0, 1e-12);
  // Binary: each element on its own; the two logits of 0 cost log 2 each.
  const double b = loss_value("binary_crossentropy", true, t, huge);
  EXPECT_NEAR(b, 2 * std::log(2.0) / 6, 1e-12);
}

TEST(Losses, GradientsAgreeWithFiniteDifferences) {
  const ops::RefTensor t{{2, 3}, {0, 1, 0, 1, 0, 0}}, ids{{2}, {1, 0}};
  const ops::RefTensor p{{2, 3}, {0.2, 0.7, 0.1, 0.5, 0.3, 0.2}}, z{{2, 3}, {1.0, 2.0, -1.0, 0.5, 0.1, -0.5}};
  for (const auto& [name, logits] : std::vector<std::pair<std::string, bool>>{
           {"mse", false}, {"huber", false}, {"binary_crossentropy", false}, {"binary_crossentropy", true},
           {"categorical_crossentropy", false}, {"categorical_crossentropy", true},
           {"sparse_categorical_crossentropy", true}}) {
    SCOPED_TRACE(name + (logits ? " (logits)" : ""));
    const ops::RefTensor& labels = name == "sparse_categorical_crossentropy" ? ids : t;
    ops::RefTensor pred = logits ? z : p;
    ir::Graph g;
    loss_value(name, logits, labels, pred, &g);
    const ir::Graph back = ir::differentiate(g, g.outputs[0].node, {g.inputs()[1]});
    const std::vector<ops::RefTensor> in{labels, pred};
    const auto d = ir::evaluate(back, in, {})[1];
    for (int64_t i = 0; i < pred.size(); ++i) {
      const double x0 = pred.data[i], h = 1e-6;
      pred.data[i] = x0 + h;
      const double up = loss_value(name, logits, labels, pred);
      pred.data[i] = x0 - h;
      const double down = loss_value(name, logits, labels, pred);
      pred.data[i] = x0;
      EXPECT_NEAR((up - down) / (2 * h), d.data[i], 1e-6) << i;
    }
  }
}

TEST(Losses, ShapeMismatchIsAnError) {
  auto a = Input({3});
  auto b = Input({4});
  EXPECT_BRINE_ERROR(losses::mean_squared_error(a, b), "mean_squared_error", "(N, 3)", "(N, 4)");
  EXPECT_BRINE_ERROR(losses::by_name("hinge", a, a, false), "unknown loss 'hinge'");
  EXPECT_BRINE_ERROR(losses::sparse_categorical_crossentropy(a, b), "labels have shape (N, 3)", "(N,)");
}

// y = x . w (one weight vector, no bias), loss = mse: the gradient by hand is
// dL/dw = 2/N sum_n x_n (y_n - t_n) (the mean is over N samples, one output).
Model linear(int64_t features) {
  reset_layer_names();
  auto x = Input({features}, "x", DType::F64);
  return Model({x}, {Dense(1, "linear", false)(x)}, "linear");
}

std::vector<double> hand_grad(const Tensor& w, const Tensor& x, const Tensor& t) {
  const int64_t n = x.dim(0), f = x.dim(1);
  std::vector<double> g(f, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double y = 0;
    for (int64_t j = 0; j < f; ++j) y += x.at_flat(i * f + j) * w.at_flat(j);
    for (int64_t j = 0; j < f; ++j) g[j] += 2.0 / n * x.at_flat(i * f + j) * (y - t.at_flat(i));
  }
  return g;
}

std::vector<double> values(const Tensor& t) {
  std::vector<double> v(t.size());
  for (int64_t i = 0; i < t.size(); ++i) v[i] = t.at_flat(i);
  return v;
}

TEST(Optimizers, SgdMomentumNesterovAndAdamMatchHandComputation) {
  const Tensor x = test::random_tensor({5, 3}, DType::F64, 1), t = test::random_tensor({5, 1}, DType::F64, 2);
  const double lr = 0.1, mom = 0.9;
  for (const std::string kind : {"sgd", "momentum", "nesterov", "adam"}) {
    SCOPED_TRACE(kind);
    Optimizer opt = kind == "adam" ? Optimizer::adam(lr) : Optimizer::sgd(lr, kind == "sgd" ? 0 : mom, kind == "nesterov");
    Trainer tr(linear(3), "mse", opt, false, {.dtype = DType::F64});
    std::vector<double> w = values(tr.weight("dense/kernel")), v(3, 0.0), m(3, 0.0), s(3, 0.0);
    for (int step = 1; step <= 3; ++step) {
      Tensor wt = Tensor::from<double>({3, 1}, w);
      const auto g = hand_grad(wt, x, t);
      tr.train_step(x, t);
      for (int j = 0; j < 3; ++j) {
        if (kind == "sgd") w[j] -= lr * g[j];
        else if (kind == "adam") {
          m[j] = 0.9 * m[j] + 0.1 * g[j];
          s[j] = 0.999 * s[j] + 0.001 * g[j] * g[j];
          const double rate = lr * std::sqrt(1 - std::pow(0.999, step)) / (1 - std::pow(0.9, step));
          w[j] -= rate * m[j] / (std::sqrt(s[j]) + 1e-7);
        } else {
          v[j] = mom * v[j] - lr * g[j];
          w[j] += kind == "nesterov" ? mom * v[j] - lr * g[j] : v[j];
        }
      }
      const auto got = values(tr.weight("dense/kernel"));
      for (int j = 0; j < 3; ++j) EXPECT_NEAR(got[j], w[j], 1e-12) << "step " << step;
    }
  }
}

// Where the gradient has a single consumer (plain SGD, SGD momentum's
// velocity), the update runs in the kernel that computes the gradient: the
// gradient itself is never written to memory.
TEST(Optimizers, UpdateFusesIntoTheGradientKernelWhereItIsTheOnlyConsumer) {
  for (const Optimizer& opt : {Optimizer::sgd(0.1), Optimizer::sgd(0.1, 0.9)}) {
    reset_layer_names();
    auto in = Input({8});
    auto h = Dense(4, "relu")(in);
    const TrainingGraphs tg = build_training_graphs(Model({in}, {Dense(1)(h)}), "mse", false, opt);
    const codegen::Partition p = codegen::fuse(tg.step);
    // outputs: loss, y_pred, then the updated weights in `updated` order.
    const std::string first = opt.momentum > 0 ? "sgd/velocity/dense/kernel" : "dense/kernel";
    const auto it = std::find(tg.updated.begin(), tg.updated.end(), first);
    ASSERT_NE(it, tg.updated.end());
    const int node = tg.step.outputs[2 + (it - tg.updated.begin())].node;
    const codegen::KernelGroup& k = p.kernels[p.kernel_of[node]];
    EXPECT_EQ(tg.step.node(k.anchor).op, ir::Op::MatMul) << codegen::print_fused(tg.step, p);
  }
}

TEST(Optimizers, ClippingByValueAndByGlobalNorm) {
  const Tensor x = test::random_tensor({4, 3}, DType::F64, 5, 2, 4), t = test::random_tensor({4, 1}, DType::F64, 6, -9, -8);
  for (const bool by_norm : {false, true}) {
    Optimizer opt = Optimizer::sgd(1.0);
    (by_norm ? opt.clip_norm : opt.clip_value) = 0.5;
    Trainer tr(linear(3), "mse", opt, false, {.dtype = DType::F64});
    const std::vector<double> w0 = values(tr.weight("dense/kernel"));
    auto g = hand_grad(tr.weight("dense/kernel"), x, t);
    double norm = 0;
    for (double v : g) norm += v * v;
    norm = std::sqrt(norm);
    ASSERT_GT(norm, 0.5);  // the clip bites
    tr.train_step(x, t);
    const auto w1 = values(tr.weight("dense/kernel"));
    for (int j = 0; j < 3; ++j) {
      const double clipped = by_norm ? g[j] * 0.5 / norm : std::clamp(g[j], -0.5, 0.5);
      EXPECT_NEAR(w1[j], w0[j] - clipped, 1e-12) << (by_norm ? "norm" : "value");
    }
  }
}

TEST(Trainer, LossGoesDownAndRunsAreReproducible) {
  // A noiseless linear regression: y = x . (1, -2, 3).
  Tensor x = test::random_tensor({64, 3}, DType::F32, 3), y({64, 1});
  for (int i = 0; i < 64; ++i)
    y.data<float>()[i] = x.data<float>()[i * 3] - 2 * x.data<float>()[i * 3 + 1] + 3 * x.data<float>()[i * 3 + 2];
  const auto run = [&] {
    reset_layer_names();
    auto in = Input({3});
    Trainer tr(Model({in}, {Dense(1)(in)}), "mse", Optimizer::sgd(0.05, 0.9));
    History h = tr.fit(x, y, {.epochs = 20, .batch_size = 8, .verbose = 0});  // before reading the weights
    return std::make_pair(h, values(tr.weight("dense/kernel")));
  };
  const auto [h1, w1] = run();
  const auto [h2, w2] = run();
  EXPECT_LT(h1.epochs.back().at("loss"), 0.01 * h1.epochs.front().at("loss"));
  EXPECT_EQ(w1, w2);  // same seed, same shuffles, same weights
  EXPECT_NEAR(w1[0], 1.0, 0.05);
  EXPECT_NEAR(w1[1], -2.0, 0.05);
  EXPECT_NEAR(w1[2], 3.0, 0.05);
}

Model tr_model_with_two_outputs() {
  reset_layer_names();
  auto in = Input({3});
  return Model({in}, {Dense(2)(in), Dense(1)(in)});
}

TEST(Trainer, BadDataIsAnError) {
  reset_layer_names();
  auto in = Input({3});
  Trainer tr(Model({in}, {Dense(2, "softmax")(in)}), "sparse_categorical_crossentropy", Optimizer::adam());
  EXPECT_BRINE_ERROR(tr.fit(Tensor({4, 5}), Tensor({4})), "x is f32 (4, 5), expected f32 (N, 3)");
  EXPECT_BRINE_ERROR(tr.fit(Tensor({4, 3}), Tensor({4, 2})), "y is f32 (4, 2), expected f32 (N,)");
  EXPECT_BRINE_ERROR(tr.fit(Tensor({4, 3}), Tensor({5})), "x has 4 samples but y has 5");
  EXPECT_BRINE_ERROR(tr.fit(Tensor({4, 3}), Tensor({4}), {.batch_size = 0}), "batch_size 0 must be >= 1");
  EXPECT_BRINE_ERROR(Trainer(tr_model_with_two_outputs(), "mse", Optimizer::adam()), "takes one of each");
}

class Checkpoints : public ::testing::Test {
 protected:
  std::string dir = ::testing::TempDir() + "/brine_ckpt";
  void SetUp() override { std::filesystem::create_directories(dir); }
  Trainer make() {
    reset_layer_names();
    auto in = Input({3});
    return Trainer(Model({in}, {Dense(4, "relu")(in)}), "mse", Optimizer::adam());
  }
};

TEST_F(Checkpoints, RoundTripRestoresWeightsStateAndStep) {
  Trainer a = make();
  const Tensor x = test::random_tensor({8, 3}, DType::F32, 1), y = test::random_tensor({8, 4}, DType::F32, 2);
  for (int i = 0; i < 3; ++i) a.train_step(x, y);
  a.save(dir + "/a.safetensors");
  Trainer b = make();
  b.load(dir + "/a.safetensors");
  EXPECT_EQ(b.steps(), 3);
  for (const char* name : {"dense/kernel", "dense/bias", "adam/m/dense/kernel", "adam/v/dense/bias"})
    EXPECT_EQ(values(a.weight(name)), values(b.weight(name))) << name;
  // Training on from the checkpoint is training on from the original.
  EXPECT_EQ(a.train_step(x, y), b.train_step(x, y));
  for (const auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos);
}

TEST_F(Checkpoints, CorruptFilesNameTheProblem) {
  Trainer a = make();
  a.save(dir + "/good.safetensors");
  const std::string good = read_file(dir + "/good.safetensors");
  const auto put = [&](const std::string& name, const std::string& bytes) {
    write_file_atomic(dir + "/" + name, bytes);
    return dir + "/" + name;
  };
  Trainer b = make();
  EXPECT_BRINE_ERROR(b.load(put("tiny", "abc")), "tiny", "not a safetensors file (3 bytes");
  EXPECT_BRINE_ERROR(b.load(put("trunc_header", good.substr(0, 40))), "trunc_header", "truncated: the header claims");
  EXPECT_BRINE_ERROR(b.load(put("trunc_data", good.substr(0, good.size() - 8))), "trunc_data", "outside the",
                     "data bytes (truncated file?)");
  std::string json = good;
  json[9] = '!';
  EXPECT_BRINE_ERROR(b.load(put("json", json)), "json", "not valid JSON");
  std::string dt = good;
  dt.replace(dt.find("\"F32\""), 5, "\"I64\"");
  EXPECT_BRINE_ERROR(b.load(put("dtype", dt)), "dtype", "has dtype I64, expected F32 or F64");
  // Valid files that do not fit this model.
  save_safetensors(dir + "/missing.safetensors", {{"dense/kernel", Tensor({3, 4})}});
  EXPECT_BRINE_ERROR(b.load(dir + "/missing.safetensors"), "missing.safetensors", "has no tensor 'dense/bias'");
  reset_layer_names();
  auto in = Input({3});
  Trainer other(Model({in}, {Dense(5)(in)}), "mse", Optimizer::adam());
  other.save(dir + "/other.safetensors");
  EXPECT_BRINE_ERROR(b.load(dir + "/other.safetensors"), "other.safetensors", "'adam/m/dense/bias' is f32 (5,)",
                     "expects f32 (4,)");
  save_safetensors(dir + "/extra.safetensors", {{"dense/kernal", Tensor({3, 4})}});
  EXPECT_BRINE_ERROR(b.load(dir + "/extra.safetensors"), "tensor 'dense/kernal' is not a weight of this model");
  // A failed load leaves the trainer as it was.
  EXPECT_EQ(b.steps(), 0);
}

}  // namespace
}  // namespace brine
