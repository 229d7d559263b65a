// A second oracle for gradients: Halide's own propagate_adjoints on the same
// algorithm (brine's lowering of the forward graph into one pipeline) must
// give the gradients brine's VJPs give, for a few ops and a small model.
// Halide 14 cannot differentiate a max-reduction ("depends on intermediate
// values, use a scan"), so softmax and reduce_max are covered by the finite
// differences of grad_test only.
#include <gtest/gtest.h>

#include <Halide.h>
#include <fmt/format.h>

#include "brine.h"
#include "codegen/lower_ctx.h"
#include "ir/autodiff.h"
#include "ir/builder.h"
#include "ir/verify.h"
#include "ops/registry.h"
#include "test_util.h"

namespace brine {
namespace {

// The forward graph as one Halide pipeline over concrete input buffers,
// differentiated by Halide: d loss / d input, per input (IR order shapes).
std::vector<ops::RefTensor> halide_gradients(const ir::Graph& g, int loss, const std::vector<ops::RefTensor>& inputs) {
  codegen::LowerCtx ctx{g, Halide::Float(64), {}, {}, {}};
  std::vector<Halide::Buffer<double>> bufs;
  const auto ids = g.inputs();
  for (size_t i = 0; i < ids.size(); ++i) {
    const ops::RefTensor& t = inputs[i];
    std::vector<int> sizes(t.shape.rbegin(), t.shape.rend());
    Halide::Buffer<double> b(sizes);
    std::copy(t.data.begin(), t.data.end(), b.data());
    const ir::Shape& s = g.node(ids[i]).type.shape;
    for (size_t a = 0; a < s.size(); ++a)
      if (!s[a].is_static()) ctx.symbol_extents[s[a].sym] = static_cast<int>(t.shape[a]);
    bufs.push_back(b);
  }
  for (size_t i = 0; i < ids.size(); ++i) ctx.funcs[ids[i]] = Halide::Func(bufs[i]);
  for (const ir::Node& n : g.nodes)
    if (n.op != ir::Op::Input) ctx.funcs[n.id] = ops::lower(ctx, n);
  const Halide::Derivative d = Halide::propagate_adjoints(ctx.funcs.at(loss));
  std::vector<ops::RefTensor> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    Halide::Buffer<double> r = d(bufs[i]).realize(std::vector<int>(inputs[i].shape.rbegin(), inputs[i].shape.rend()));
    out.push_back({inputs[i].shape, std::vector<double>(r.data(), r.data() + r.number_of_elements())});
  }
  return out;
}

void expect_same_gradients(const ir::Graph& g, int loss, int64_t batch) {
  std::vector<ops::RefTensor> inputs;
  uint64_t seed = 17;
  for (int id : g.inputs()) {
    std::vector<int64_t> shape;
    for (const ir::Dim& d : g.node(id).type.shape) shape.push_back(d.is_static() ? d.size : batch);
    inputs.push_back(test::to_ref(test::random_tensor(shape, DType::F64, seed++)));
  }
  const ir::Graph back = ir::differentiate(g, loss, g.inputs());
  const auto brine_grads = ir::evaluate(back, inputs, {});
  const auto halide_grads = halide_gradients(g, loss, inputs);
  for (size_t i = 0; i < halide_grads.size(); ++i) {
    SCOPED_TRACE(back.outputs[1 + i].name);
    Tensor got = Tensor::from<double>(halide_grads[i].shape, halide_grads[i].data);
    EXPECT_TRUE(test::close(got, brine_grads[1 + i], 1e-12, 1e-12));
  }
}

ir::Graph one_op(ir::Op op, std::vector<ir::Shape> shapes, ir::Attrs attrs, int* loss) {
  ir::Graph g;
  ir::GraphBuilder b(g);
  std::vector<int> xs;
  for (size_t i = 0; i < shapes.size(); ++i) xs.push_back(b.input(fmt::format("x{}", i), {DType::F64, shapes[i]}));
  const int y = b.op(op, xs, attrs);
  const int wid = b.input("w", b.type(y));  // loss weights: every output element counts differently
  std::vector<int64_t> all;
  for (int a = 0; a < b.type(y).rank(); ++a) all.push_back(a);
  *loss = b.reduce_sum(b.mul(y, wid), all, false);
  g.outputs.push_back({"loss", *loss});
  return g;
}

TEST(HalideOracle, Ops) {
  ir::Attrs none, mid, tb;
  mid.axes = {1};
  tb.transpose_b = true;
  const std::vector<std::tuple<ir::Op, std::vector<ir::Shape>, ir::Attrs>> cases = {
      {ir::Op::Tanh, {{"N", 7}}, none},
      {ir::Op::Sigmoid, {{"N", 7}}, none},
      {ir::Op::Exp, {{"N", 7}}, none},
      {ir::Op::Mul, {{"N", 3, 5}, {5}}, none},
      {ir::Op::Div, {{"N", 3, 5}, {3, 1}}, none},
      {ir::Op::MatMul, {{"N", 6}, {6, 4}}, none},
      {ir::Op::MatMul, {{"N", 3, 6}, {"N", 5, 6}}, tb},
      {ir::Op::ReduceMean, {{"N", 4, 9}}, mid},
  };
  for (const auto& [op, shapes, attrs] : cases) {
    SCOPED_TRACE(std::string(ir::op_name(op)));
    int loss;
    const ir::Graph g = one_op(op, shapes, attrs, &loss);
    expect_same_gradients(g, loss, 3);
  }
}

TEST(HalideOracle, SmallModel) {
  // Dense(5, tanh) -> Dense(3, sigmoid) -> squared error, weights as inputs.
  ir::Graph g;
  ir::GraphBuilder b(g);
  const auto input = [&](const char* name, ir::Shape s) { return b.input(name, {DType::F64, std::move(s)}); };
  const int xi = input("x", {"N", 4}), w1 = input("w1", {4, 5}), b1 = input("b1", {5}), w2 = input("w2", {5, 3}),
            b2 = input("b2", {3}), t = input("t", {"N", 3});
  const int h = b.op(ir::Op::Tanh, {b.add(b.matmul(xi, w1, false, false), b1)});
  const int y = b.op(ir::Op::Sigmoid, {b.add(b.matmul(h, w2, false, false), b2)});
  const int e = b.sub(y, t);
  const int loss = b.reduce_sum(b.mul(e, e), {0, 1}, false);
  g.outputs.push_back({"loss", loss});
  ir::verify(g);
  expect_same_gradients(g, loss, 4);
}

}  // namespace
}  // namespace brine
