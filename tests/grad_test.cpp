// Gradients: every op's VJP against central finite differences of the
// reference evaluator in double precision, every schedule of the backward
// kernels against the reference, and a deliberately wrong VJP that the
// checker must reject.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "brine.h"
#include "ir/autodiff.h"
#include "ir/builder.h"
#include "ir/verify.h"
#include "test_util.h"

namespace brine {
namespace {

// A single-op graph in f64 with loss = sum(op(x...) * w): the random weights
// w make every output element matter differently.
struct Problem {
  ir::Graph forward;             // outputs: loss
  std::vector<int> wrt;          // the op's inputs
  std::vector<ops::RefTensor> inputs;  // x..., then w
};

Problem make_problem(ir::Op op, const ops::OpSample& s, int64_t size, uint64_t seed) {
  Problem p;
  ir::Graph& g = p.forward;
  g.name = "grad";
  ir::GraphBuilder b(g);
  std::vector<int> xs;
  for (size_t i = 0; i < s.inputs.size(); ++i) xs.push_back(b.input(fmt::format("x{}", i), {DType::F64, s.inputs[i]}));
  const int y = b.op(op, xs, s.attrs);
  const int wid = b.input("w", b.type(y));
  std::vector<int64_t> all;
  for (int a = 0; a < b.type(y).rank(); ++a) all.push_back(a);
  const int prod = b.mul(y, wid);
  const int loss = all.empty() ? prod : b.reduce_sum(prod, all, false);
  g.outputs.push_back({"loss", loss});
  p.wrt = xs;
  for (int id : g.inputs()) {
    std::vector<int64_t> shape;
    for (const ir::Dim& d : g.node(id).type.shape) shape.push_back(d.is_static() ? d.size : size);
    p.inputs.push_back(test::to_ref(id == wid ? test::random_tensor(shape, DType::F64, seed++)
                                              : test::sample_tensor(s, shape, DType::F64, seed++)));
  }
  return p;
}

// Backward-only ops have no VJP; tuned_only samples are too large for
// per-element finite differences (see OpSample).
bool checks_vjp(const ops::OpSample& s) { return s.differentiable && !s.tuned_only; }

double loss_of(const ir::Graph& g, const std::vector<ops::RefTensor>& inputs) {
  return ir::evaluate(g, inputs, {})[0].data[0];
}

// The checker: analytic gradients (the backward graph, reference-evaluated)
// against central differences. Relative tolerance 1e-6 of the largest
// gradient magnitude.
::testing::AssertionResult gradients_match(const ir::Graph& forward, const ir::Graph& backward,
                                           const std::vector<int>& wrt, std::vector<ops::RefTensor> inputs) {
  const auto analytic = ir::evaluate(backward, inputs, {});
  for (size_t w = 0; w < wrt.size(); ++w) {
    const int input_index = w;  // wrt are the first inputs, in order
    const ops::RefTensor& grad = analytic[1 + w];
    double scale = 1e-3;
    for (double v : grad.data) scale = std::max(scale, std::abs(v));
    for (int64_t i = 0; i < inputs[input_index].size(); ++i) {
      double& x = inputs[input_index].data[i];
      const double x0 = x, h = 1e-6 * std::max(1.0, std::abs(x0));
      x = x0 + h;
      const double up = loss_of(forward, inputs);
      x = x0 - h;
      const double down = loss_of(forward, inputs);
      x = x0;
      const double fd = (up - down) / (2 * h);
      if (!(std::abs(fd - grad.data[i]) <= 1e-6 * scale))
        return ::testing::AssertionFailure() << "d loss / d x" << w << "[" << i << "]: VJP " << grad.data[i]
                                             << ", finite differences " << fd;
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(Vjp, EveryOpAgreesWithFiniteDifferences) {
  int checked = 0;
#define X(e, n, k, a, f)                                                                          \
  if (ir::FusionKind::k != ir::FusionKind::Leaf)                                                  \
    for (const ops::OpSample& s : ops::samples(ir::Op::e))                                        \
      for (int64_t size : {1, 3}) {                                                               \
        SCOPED_TRACE(fmt::format("op {} / {} / dynamic dims = {}", n, s.label, size));            \
        if (s.integer_below > 0 || !checks_vjp(s)) continue; /* class ids; see checks_vjp */      \
        Problem p = make_problem(ir::Op::e, s, size, 11 + size);                                   \
        const ir::Graph back = ir::differentiate(p.forward, p.forward.outputs[0].node, p.wrt);    \
        EXPECT_TRUE(gradients_match(p.forward, back, p.wrt, p.inputs));                           \
        ++checked;                                                                                \
      }
  BRINE_FOR_EACH_OP(X)
#undef X
  EXPECT_GT(checked, 50);
}

TEST(Vjp, CheckerRejectsAWrongVjp) {
  // tanh's VJP is g * (1 - y^2); make it g * (1.01 - y^2) in the backward
  // graph, as a wrong derivative under a right-looking formula would be.
  const ops::OpSample s{"tanh", {{"N", 5}}, {}};
  Problem p = make_problem(ir::Op::Tanh, s, 3, 5);
  ir::Graph back = ir::differentiate(p.forward, p.forward.outputs[0].node, p.wrt);
  ASSERT_TRUE(gradients_match(p.forward, back, p.wrt, p.inputs));
  int changed = 0;
  for (ir::Node& n : back.nodes)
    if (n.op == ir::Op::Constant && n.attrs.value == 1.0 && n.layer == "backward") {
      // The seed dL/dL = 1 is also a constant 1; the tanh rule's is the later one.
      if (n.id > static_cast<int>(p.forward.nodes.size()) + 1) {
        n.attrs.value = 1.01;
        ++changed;
      }
    }
  ASSERT_EQ(changed, 1);
  EXPECT_FALSE(gradients_match(p.forward, back, p.wrt, p.inputs));
}

TEST(Vjp, BackwardOnlyOpsRefuseSecondDerivatives) {
  for (const ir::Op op : {ir::Op::LstmGrad, ir::Op::SimpleRnnGrad, ir::Op::GruGrad, ir::Op::RecurrentKernelGrad}) {
    const ops::OpSample s = ops::samples(op).at(0);
    ASSERT_FALSE(s.differentiable);
    Problem p = make_problem(op, s, 2, 3);
    EXPECT_BRINE_ERROR(ir::differentiate(p.forward, p.forward.outputs[0].node, p.wrt),
                       std::string(ir::op_name(op)) + " is not differentiable: second derivatives through a recurrent layer");
  }
}

// Scans without a workspace (what codegen makes of an inference graph) say
// why they have no VJP.
TEST(Vjp, StatesOnlyScansRefuseToBeDifferentiated) {
  for (const ir::Op op : {ir::Op::Lstm, ir::Op::Gru}) {
    const std::vector<ops::OpSample> all = ops::samples(op);
    const auto s = std::find_if(all.begin(), all.end(), [](const ops::OpSample& x) { return x.attrs.states_only; });
    ASSERT_NE(s, all.end());
    Problem p = make_problem(op, *s, 2, 3);
    EXPECT_BRINE_ERROR(ir::differentiate(p.forward, p.forward.outputs[0].node, p.wrt),
                       std::string(ir::op_name(op)) + " with states_only keeps no workspace and cannot be differentiated");
  }
}

TEST(Vjp, ScansWithTheirInputProjectionRefuseToBeDifferentiated) {
  for (const ir::Op op : {ir::Op::Lstm, ir::Op::SimpleRnn}) {
    const std::vector<ops::OpSample> all = ops::samples(op);
    const auto s = std::find_if(all.begin(), all.end(), [](const ops::OpSample& x) {
      return x.attrs.input_projection && !x.attrs.states_only;
    });
    ASSERT_NE(s, all.end());
    Problem p = make_problem(op, *s, 2, 3);
    EXPECT_BRINE_ERROR(ir::differentiate(p.forward, p.forward.outputs[0].node, p.wrt),
                       std::string(ir::op_name(op)) + " with input_projection cannot be differentiated");
  }
}

TEST(Vjp, ConventionsAtKinks) {
  // relu'(0) = 0, and tied maxima share the gradient equally.
  ir::Graph g;
  ir::GraphBuilder b(g);
  const int xid = b.input("x", {DType::F64, {4}});
  ir::Attrs all;
  all.axes = {0};
  const int loss = b.add(b.op(ir::Op::ReduceSum, {b.op(ir::Op::Relu, {xid})}, all),
                         b.op(ir::Op::ReduceMax, {xid}, all));
  g.outputs.push_back({"loss", loss});
  const ir::Graph back = ir::differentiate(g, loss, {xid});
  const std::vector<ops::RefTensor> in{{{4}, {0.0, 2.0, -1.0, 2.0}}};
  const auto d = ir::evaluate(back, in, {})[1].data;
  // relu: 0, 1, 0, 1; max (ties at 1 and 3): 0, 0.5, 0, 0.5.
  EXPECT_EQ(d, (std::vector<double>{0.0, 1.5, 0.0, 1.5}));
}

TEST(Vjp, SymbolicMeanCountsAtRunTime) {
  // reduce_mean over the batch: the count is N, only known at run time.
  ir::Graph g;
  ir::GraphBuilder b(g);
  const int xid = b.input("x", {DType::F64, {"N", 2}});
  ir::Attrs all;
  all.axes = {0, 1};
  const int loss = b.op(ir::Op::ReduceMean, {xid}, all);
  g.outputs.push_back({"loss", loss});
  const ir::Graph back = ir::differentiate(g, loss, {xid});
  const std::vector<ops::RefTensor> in{{{5, 2}, std::vector<double>(10, 1.0)}};
  const auto out = ir::evaluate(back, in, {});
  for (double v : out[1].data) EXPECT_DOUBLE_EQ(v, 0.1);
}

TEST(Vjp, ErrorsNameTheProblem) {
  ir::Graph g;
  ir::Node x;
  x.op = ir::Op::Input;
  x.attrs.name = "x";
  x.type = {DType::F64, {"N", 2}};
  const int xid = g.add(x);
  g.outputs.push_back({"y", xid});
  EXPECT_BRINE_ERROR(ir::differentiate(g, xid, {xid}), "the loss must be a scalar", "(N, 2)", "reduce_sum");
  EXPECT_BRINE_ERROR(ir::differentiate(g, 7, {xid}), "loss %7 is not a node");
}

// A small composite model: seed_dense-like, in f64, d(sum of outputs)/d params.
TEST(Vjp, ModelParametersAgreeWithFiniteDifferences) {
  reset_layer_names();
  auto x = Input({3, 4}, "x", DType::F64);
  auto h = Dense(5, "tanh")(x);
  auto y = Dense(3, "softmax")(Flatten()(h));
  const ir::Graph g = Model({x}, {y * 2.0}).graph();
  const ir::Graph back = ir::differentiate_sum_of_outputs(g);
  // The parameters become inputs so that the reference evaluator (and the
  // finite differences) can vary them: inputs in node order are x, then the
  // four parameters, whose gradients are outputs 1 to 4.
  ir::Graph fwd = g, bwd = back;
  for (ir::Graph* gr : {&fwd, &bwd})
    for (ir::Node& n : gr->nodes)
      if (n.op == ir::Op::Param) n.op = ir::Op::Input;
  std::vector<ops::RefTensor> inputs;
  uint64_t seed = 3;
  for (int id : fwd.inputs()) {
    std::vector<int64_t> shape;
    for (const ir::Dim& d : fwd.node(id).type.shape) shape.push_back(d.is_static() ? d.size : 2);
    inputs.push_back(test::to_ref(test::random_tensor(shape, DType::F64, seed++)));
  }
  const auto analytic = ir::evaluate(bwd, inputs, {});
  const auto sum_loss = [&](const std::vector<ops::RefTensor>& in) {
    const auto out = ir::evaluate(fwd, in, {});
    double s = 0;
    for (double v : out[0].data) s += v;
    return s;
  };
  ASSERT_EQ(inputs.size(), 5u);
  for (size_t p = 1; p < inputs.size(); ++p) {
    const ops::RefTensor& grad = analytic[p];
    double scale = 1e-3;
    for (double v : grad.data) scale = std::max(scale, std::abs(v));
    for (int64_t i = 0; i < inputs[p].size(); ++i) {
      double& v = inputs[p].data[i];
      const double v0 = v, h = 1e-6;
      v = v0 + h;
      const double up = sum_loss(inputs);
      v = v0 - h;
      const double down = sum_loss(inputs);
      v = v0;
      EXPECT_NEAR((up - down) / (2 * h), grad.data[i], 1e-6 * scale) << back.outputs[p].name << "[" << i << "]";
    }
  }
}

// Every schedule of every backward kernel agrees with the reference.
TEST(Vjp, CompiledBackwardKernelsMatchReference) {
  for (const std::string schedule : {"naive", "tuned"}) {
#define X(e, n, k, a, f)                                                                        \
    if (ir::FusionKind::k != ir::FusionKind::Leaf)                                              \
      for (const ops::OpSample& s : ops::samples(ir::Op::e)) {                                  \
        SCOPED_TRACE(fmt::format("op {} / {} / {}", n, s.label, schedule));                     \
        if (!checks_vjp(s)) continue;                                                           \
        Problem p = make_problem(ir::Op::e, s, 3, 29);                                          \
        const ir::Graph back = ir::differentiate(p.forward, p.forward.outputs[0].node, p.wrt);  \
        CompileOptions o;                                                                       \
        o.schedule = schedule;                                                                  \
        o.dtype = DType::F64;                                                                   \
        Executable exe = compile(back, o);                                                      \
        for (int64_t size : {1, 4}) {                                                           \
          Problem q = make_problem(ir::Op::e, s, size, 31);                                     \
          std::vector<Tensor> in;                                                               \
          for (const ops::RefTensor& r : q.inputs)                                              \
            in.push_back(Tensor::from<double>(r.shape, r.data));                                \
          const auto got = exe.forward(in);                                                     \
          const auto want = ir::evaluate(back, q.inputs, {});                                   \
          for (size_t o2 = 0; o2 < got.size(); ++o2)                                            \
            EXPECT_TRUE(test::close(got[o2], want[o2], 1e-10, 1e-10)) << back.outputs[o2].name; \
        }                                                                                       \
      }
    BRINE_FOR_EACH_OP(X)
#undef X
  }
}

}  // namespace
}  // namespace brine

namespace brine {
namespace {

TEST(Grad, DslGradientsAreExpressions) {
  reset_layer_names();
  auto x = Input({5}, "x", DType::F64);
  auto w = Input({5}, "w", DType::F64);
  auto loss = reduce_sum(tanh(x) * w);
  auto d = grad(loss, {x, w});
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].shape(), x.shape());
  Executable exe = compile(Model({x, w}, {d[0], d[1]}), {.dtype = DType::F64});
  const Tensor xv = test::random_tensor({3, 5}, DType::F64, 1), wv = test::random_tensor({3, 5}, DType::F64, 2);
  const auto out = exe.forward({xv, wv});
  for (int64_t i = 0; i < xv.size(); ++i) {
    const double t = std::tanh(xv.at_flat(i));
    EXPECT_NEAR(out[0].at_flat(i), (1 - t * t) * wv.at_flat(i), 1e-12);  // d/dx = (1 - tanh^2) w
    EXPECT_NEAR(out[1].at_flat(i), t, 1e-12);                            // d/dw = tanh x
  }
}

TEST(Grad, SecondDerivative) {
  // loss = sum(x^3): d/dx = 3x^2, d2/dx2 (of the sum of the first) = 6x.
  auto x = Input({4}, "x", DType::F64);
  auto d1 = grad(reduce_sum(x * x * x), {x})[0];
  auto d2 = grad(reduce_sum(d1), {x})[0];
  Executable exe = compile(Model({x}, {d1, d2}), {.dtype = DType::F64});
  const Tensor xv = test::random_tensor({2, 4}, DType::F64, 4);
  const auto out = exe.forward({xv});
  for (int64_t i = 0; i < xv.size(); ++i) {
    EXPECT_NEAR(out[0].at_flat(i), 3 * xv.at_flat(i) * xv.at_flat(i), 1e-12);
    EXPECT_NEAR(out[1].at_flat(i), 6 * xv.at_flat(i), 1e-12);
  }
}

TEST(Grad, LayerWeightsThroughTheDslMatchTheIrPass) {
  reset_layer_names();
  auto x = Input({6}, "x", DType::F64);
  Dense dense(3, "sigmoid");
  auto y = dense(x);
  // Route 1: the IR pass on the model (loss = sum of outputs, all parameters).
  Executable ir_route = compile(ir::differentiate_sum_of_outputs(Model({x}, {y}).graph()), {.dtype = DType::F64});
  // Route 2: grad() on the layer's own weights, compiled as a model.
  const auto d = grad(reduce_sum(y), {dense.kernel(), dense.bias()});
  Executable dsl_route = compile(Model({x}, {d[0], d[1]}), {.dtype = DType::F64});
  const Tensor xv = test::random_tensor({4, 6}, DType::F64, 8);
  const auto a = ir_route.forward({xv});
  const auto b = dsl_route.forward({xv});
  EXPECT_TRUE(test::close(b[0], test::to_ref(a[1]), 1e-13, 1e-13));  // kernel
  EXPECT_TRUE(test::close(b[1], test::to_ref(a[2]), 1e-13, 1e-13));  // bias
}

TEST(Grad, ErrorsNameTheCall) {
  auto x = Input({4});
  const int line = __LINE__ + 1;
  EXPECT_BRINE_ERROR(grad(x * 2.0, {x}), fmt::format("grad at grad_test.cpp:{}", line), "must be a scalar",
                     "(N, 4)");
  EXPECT_BRINE_ERROR(grad(reduce_sum(x), {Expr()}), "wrt[0] is undefined");
}

}  // namespace
}  // namespace brine
