// The executor and the JIT: input checking, buffer planning, the kernel
// cache, whole models against the reference evaluator, parameters and .npy.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <utility>

#include "brine.h"
#include "ir/text.h"
#include "ir/verify.h"
#include "runtime/files.h"
#include "runtime/npy.h"
#include "runtime/program.h"
#include "test_util.h"

namespace brine {
namespace {

Model two_input_model() {
  reset_layer_names();
  auto seq = Input({"T", 8}, "seq");
  auto ctx = Input({8}, "ctx");
  auto h = Dense(8, "tanh")(seq) + expand_dims(ctx, 1);
  return Model({seq, ctx}, {reduce_sum(h, {1})}, "two_inputs");
}

Model seed_dense() {
  reset_layer_names();
  auto inp = Input({32, 32, 3});
  auto out = Dense(2)(Flatten()(Dense(8, "relu")(inp)));
  return Model({inp}, {out}, "seed_dense");
}

Model mlp() {
  reset_layer_names();
  auto x = Input({37});
  auto h = Dense(33, "relu")(x);
  h = Dense(17, "sigmoid")(h);
  auto y = Dense(10, "softmax")(h);
  return Model({x}, {y, h}, "mlp");
}

Model attention() {
  reset_layer_names();
  auto x = Input({"T", 16}, "x");
  auto q = Dense(16)(x);
  auto w = softmax(matmul(q, q, false, true) * 0.25);
  return Model({x}, {matmul(w, q)}, "dotattn");
}

std::vector<ops::RefTensor> refs(const std::vector<Tensor>& ts) {
  std::vector<ops::RefTensor> r;
  for (const Tensor& t : ts) r.push_back(test::to_ref(t));
  return r;
}

TEST(Models, MatchReferenceUnderEverySchedule) {
  for (const std::string schedule : {"naive", "tuned"}) {
    for (const Model& m : {seed_dense(), mlp(), two_input_model(), attention()}) {
      SCOPED_TRACE(m.name() + " / " + schedule);
      CompileOptions o;
      o.schedule = schedule;
      Executable exe = compile(m, o);
      for (int64_t batch : {1, 5, 17}) {
        std::vector<Tensor> inputs;
        uint64_t seed = batch;
        for (int id : m.graph().inputs()) {
          std::vector<int64_t> shape;
          for (const ir::Dim& d : m.graph().node(id).type.shape) shape.push_back(d.is_static() ? d.size : batch);
          inputs.push_back(test::random_tensor(shape, DType::F32, seed++));
        }
        const auto out = exe.forward(inputs);
        const auto want = ir::evaluate(m.graph(), refs(inputs), refs(exe.params()));
        for (size_t i = 0; i < out.size(); ++i) EXPECT_TRUE(test::close(out[i], want[i], 1e-5, 1e-5)) << "output " << i;
      }
    }
  }
}

TEST(Inputs, WrongInputsGiveClearErrors) {
  Executable exe = compile(two_input_model());
  const Tensor seq = test::random_tensor({2, 5, 8}, DType::F32, 1);
  const Tensor ctx = test::random_tensor({2, 8}, DType::F32, 2);
  EXPECT_NO_THROW(exe.forward({seq, ctx}));
  EXPECT_BRINE_ERROR(exe.forward({seq}), "model 'two_inputs' takes 2 input(s), got 1");
  EXPECT_BRINE_ERROR(exe.forward({test::random_tensor({2, 8}, DType::F32, 1), ctx}), "input 'seq'",
                     "shape (2, 8) (rank 2)", "expected (N, T, 8) (rank 3)");
  EXPECT_BRINE_ERROR(exe.forward({test::random_tensor({2, 5, 7}, DType::F32, 1), ctx}), "input 'seq'",
                     "shape (2, 5, 7)", "expected (N, T, 8)", "axis 2 must be 8");
  EXPECT_BRINE_ERROR(exe.forward({test::random_tensor({2, 5, 8}, DType::F64, 1), ctx}), "input 'seq'",
                     "dtype f64, expected f32");
  EXPECT_BRINE_ERROR(exe.forward({Tensor::view(nullptr, {2, 5, 8}), ctx}), "input 'seq' is a null buffer",
                     "expected f32 (N, T, 8)");
  EXPECT_BRINE_ERROR(exe.forward({seq, test::random_tensor({3, 8}, DType::F32, 2)}), "input 'ctx'", "shape (3, 8)",
                     "dimension N is 2 in input 'seq'", "axis 0 of 'ctx' must be 2");
  EXPECT_BRINE_ERROR(exe.forward({test::random_tensor({2, 0, 8}, DType::F32, 1), ctx}), "input 'seq'",
                     "dimension T must be at least 1");
  // An output view of the wrong shape is refused before anything is written.
  std::vector<float> small(3);
  std::vector<Tensor> out{Tensor::view(small.data(), {3})};
  const std::vector<Tensor> in{seq, ctx};
  EXPECT_BRINE_ERROR(exe.forward(in, out), "output 'output_1'", "(3,) view", "expected f32 (2, 8)");
}

TEST(Plan, BuffersArePlannedOncePerShape) {
  Executable exe = compile(mlp());
  const Tensor a = test::random_tensor({16, 37}, DType::F32, 1);
  const Tensor b = test::random_tensor({9, 37}, DType::F32, 2);
  exe.forward({a});
  exe.forward({a});
  EXPECT_EQ(exe.plans_built(), 1u);
  const size_t arena16 = exe.arena_bytes();
  EXPECT_GT(arena16, 0u);
  exe.forward({b});
  EXPECT_EQ(exe.plans_built(), 2u);
  exe.forward({a});
  EXPECT_EQ(exe.plans_built(), 2u);
  // Only the first dense layer's output is a temporary (the others are model
  // outputs); liveness reuse keeps the arena at that one buffer, 64-byte rounded.
  EXPECT_EQ(arena16, (16u * 33u * 4u + 63u) / 64u * 64u);
}

TEST(Plan, TemporariesShareMemoryWhenLifetimesDoNotOverlap) {
  reset_layer_names();
  auto x = Input({64});
  auto h = x;
  for (int i = 0; i < 6; ++i) h = Dense(64, "relu")(h);
  Executable exe = compile(Model({x}, {h}));
  exe.forward({test::random_tensor({8, 64}, DType::F32, 3)});
  // Five temporaries of 8x64 floats, but at most two are alive at once.
  EXPECT_EQ(exe.arena_bytes(), 2u * 8u * 64u * 4u);
}

TEST(Jit, SameGraphIsNotCompiledTwice) {
  const Model m = mlp();
  compile(m);
  const JitStats before = jit_stats();
  Executable again = compile(m);
  const JitStats after = jit_stats();
  EXPECT_EQ(after.compiled, before.compiled);
  EXPECT_EQ(after.reused, before.reused + 4);  // three dense kernels and a softmax
}

TEST(Jit, IdenticalLayersShareAKernel) {
  reset_layer_names();
  auto x = Input({24});
  auto y = Dense(24, "relu")(Dense(24, "relu")(x));
  const JitStats before = jit_stats();
  compile(Model({x}, {y}, "twins"));
  const JitStats after = jit_stats();
  EXPECT_EQ(after.compiled - before.compiled, 1u);
  EXPECT_EQ(after.reused - before.reused, 1u);
}

TEST(Jit, UnknownScheduleIsAnError) {
  CompileOptions o;
  o.schedule = "fastest";
  EXPECT_BRINE_ERROR(compile(mlp(), o), "unknown schedule 'fastest'", "naive, tuned");
}

TEST(Params, SeededKerasDefaults) {
  Executable a = compile(mlp()), b = compile(mlp());
  CompileOptions o;
  o.seed = 1;
  Executable c = compile(mlp(), o);
  ASSERT_EQ(a.param_names(), (std::vector<std::string>{"dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias",
                                                        "dense_2/kernel", "dense_2/bias"}));
  const Tensor& k = a.param("dense/kernel");
  const double limit = std::sqrt(6.0 / (37 + 33));
  double max_abs = 0;
  for (float v : k.values<float>()) max_abs = std::max(max_abs, std::abs(static_cast<double>(v)));
  EXPECT_LE(max_abs, limit);
  EXPECT_GT(max_abs, 0.9 * limit);
  for (float v : a.param("dense/bias").values<float>()) EXPECT_EQ(v, 0.0f);
  EXPECT_TRUE(test::close(b.param("dense/kernel"), test::to_ref(k), 0, 0));
  EXPECT_FALSE(test::close(c.param("dense/kernel"), test::to_ref(k), 0, 0));
}

TEST(Params, SetParamChecksShapeAndName) {
  Executable exe = compile(mlp());
  EXPECT_BRINE_ERROR(exe.set_param("dense/kernel", Tensor({3, 3})), "parameter 'dense/kernel' is f32 (37, 33)",
                     "got f32 (3, 3)");
  EXPECT_BRINE_ERROR(exe.set_param("dense/kernal", Tensor({3, 3})), "has no parameter 'dense/kernal'");
  Tensor ones({10});
  for (float& v : ones.values<float>()) v = 1;
  exe.set_param("dense_2/bias", ones);
  EXPECT_EQ(exe.param("dense_2/bias").values<float>()[9], 1.0f);
}

// A Dense whose 256 x 256 kernel is packed into panels (codegen's
// pack_weights) and a small one that is not.
Model packed_dense() {
  reset_layer_names();
  auto x = Input({256});
  auto h = Dense(256, "relu")(x);  // "dense", packed
  return Model({x}, {Dense(10)(h)}, "packed");
}

CompileOptions frozen() {
  CompileOptions o;
  o.frozen_params = true;
  return o;
}

TEST(PackedKernels, LargeDenseKernelsOfFrozenModelsReadPanels) {
  EXPECT_EQ(compile(packed_dense()).constant_bytes(), 0u) << "packed without frozen_params";
  Executable exe = compile(packed_dense(), frozen());
  EXPECT_TRUE(exe.params_frozen());
  int packs = 0, packed_products = 0;
  for (const ir::Node& n : exe.graph().nodes) {
    packs += n.op == ir::Op::PackPanels;
    packed_products += n.op == ir::Op::MatMul && n.attrs.packed_b;
  }
  EXPECT_EQ(packs, 1);
  EXPECT_EQ(packed_products, 1);
  EXPECT_EQ(exe.constant_bytes(), 256u * 256u * 4u);
  for (int64_t batch : {1, 7, 70}) {
    const Tensor x = test::random_tensor({batch, 256}, DType::F32, batch);
    const auto want = ir::evaluate(packed_dense().graph(), refs({x}), refs(exe.params()));
    EXPECT_TRUE(test::close(exe.forward({x})[0], want[0], 1e-5, 1e-5)) << "batch " << batch;
  }
}

// Frozen, the packing runs on the first call and again only after a mutable
// access to the parameters; a write through a handle kept from before a
// call is not seen until then (the documented contract), unfrozen at once.
TEST(PackedKernels, FrozenModelsPackOnceAndSeeWritesThroughTheAccessors) {
  Executable exe = compile(packed_dense(), frozen());
  const Tensor x = test::random_tensor({5, 256}, DType::F32, 11);
  const auto expect_weights = [&](const char* what) {
    const auto want = ir::evaluate(packed_dense().graph(), refs({x}), refs(std::as_const(exe).params()));
    EXPECT_TRUE(test::close(exe.forward({x})[0], want[0], 1e-5, 1e-5)) << what;
  };
  Tensor kernel = exe.param("dense/kernel");  // shares the parameter's storage
  expect_weights("frozen, first call");
  const Tensor before = exe.forward({x})[0];
  for (float& v : kernel.values<float>()) v *= -1.0f;  // behind the model's back
  EXPECT_TRUE(test::close(exe.forward({x})[0], test::to_ref(before), 0, 0)) << "the packed kernel was recomputed";
  exe.param("dense/kernel");
  expect_weights("after param()");
  Tensor doubled(kernel.shape());
  for (int64_t i = 0; i < kernel.size(); ++i) doubled.values<float>()[i] = 2 * kernel.values<float>()[i];
  exe.set_param("dense/kernel", doubled);
  expect_weights("after set_param()");
  exe.unfreeze_params();
  EXPECT_FALSE(exe.params_frozen());
  for (float& v : kernel.values<float>()) v *= 0.5f;
  expect_weights("unfrozen");
  exe.freeze_params();
  for (float& v : kernel.values<float>()) v *= 3.0f;  // before the first frozen call: seen
  expect_weights("frozen again");
}

class Npy : public ::testing::Test {
 protected:
  std::string dir = ::testing::TempDir() + "/brine_npy";
  void SetUp() override { std::filesystem::create_directories(dir); }
  std::string put(const std::string& name, const std::string& bytes) {
    write_file_atomic(dir + "/" + name, bytes);
    return dir + "/" + name;
  }
};

TEST_F(Npy, RoundTrip) {
  for (DType t : {DType::F32, DType::F64})
    for (std::vector<int64_t> shape : {std::vector<int64_t>{}, {7}, {2, 3, 5}}) {
      const Tensor x = test::random_tensor(shape, t, 9);
      write_npy(dir + "/x.npy", x);
      const Tensor y = read_npy(dir + "/x.npy");
      EXPECT_EQ(y.shape(), x.shape());
      EXPECT_EQ(y.dtype(), x.dtype());
      EXPECT_TRUE(test::close(y, test::to_ref(x), 0, 0));
    }
}

TEST_F(Npy, CorruptFilesGiveClearErrors) {
  const std::string good = npy_bytes(test::random_tensor({2, 3}, DType::F32, 1));
  EXPECT_BRINE_ERROR(read_npy(put("magic.npy", "PK\x03\x04 not numpy")), "magic.npy", "not a .npy file");
  EXPECT_BRINE_ERROR(read_npy(put("short.npy", good.substr(0, 20))), "short.npy", "truncated .npy header");
  EXPECT_BRINE_ERROR(read_npy(put("data.npy", good.substr(0, good.size() - 4))), "data.npy",
                     "shape (2, 3) of f32 needs 24 data bytes, file has 20");
  std::string i8 = good;
  i8.replace(i8.find("<f4"), 3, "<i8");
  EXPECT_BRINE_ERROR(read_npy(put("int.npy", i8)), "int.npy", "unsupported dtype '<i8'");
  std::string fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  EXPECT_BRINE_ERROR(read_npy(put("f.npy", fortran)), "f.npy", "Fortran-ordered");
  EXPECT_BRINE_ERROR(read_npy(dir + "/missing.npy"), "cannot read", "missing.npy");
}

}  // namespace
}  // namespace brine

namespace brine {
namespace {

TEST(Views, ReshapedStridesFollowNumpysRule) {
  using rt::reshaped_strides;
  using V = std::vector<int64_t>;
  // Dense: any reshape.
  EXPECT_EQ(reshaped_strides(V{2, 3, 4}, V{12, 4, 1}, V{6, 4}), (V{4, 1}));
  EXPECT_EQ(reshaped_strides(V{6, 4}, V{4, 1}, V{2, 3, 1, 4}), (V{12, 4, 4, 1}));
  // Slots 0..3 of (N, T, 6, U): merging the slots with the units keeps the
  // row stride 6U; merging time with the slots cannot be strided.
  EXPECT_EQ(reshaped_strides(V{2, 5, 4, 8}, V{240, 48, 8, 1}, V{2, 5, 32}), (V{240, 48, 1}));
  EXPECT_EQ(reshaped_strides(V{2, 5, 4, 8}, V{240, 48, 8, 1}, V{10, 32}), (V{48, 1}));
  EXPECT_EQ(reshaped_strides(V{2, 5, 4, 8}, V{240, 48, 8, 1}, V{2, 20, 8}), std::nullopt);
  // Unit axes are free; a sliced unit axis drops out.
  EXPECT_EQ(reshaped_strides(V{2, 5, 1, 8}, V{240, 48, 8, 1}, V{2, 5, 8}), (V{240, 48, 1}));
  EXPECT_EQ(reshaped_strides(V{3}, V{1}, V{4}), std::nullopt);
}

// Slices that would be copies are read in place: kernels take the base's
// strides, a model output that is one is copied out element by element.
constexpr const char* kSlices = R"(brine.ir 1
graph "slices" {
  %0 = input {name="x"} : f32[N,T,6,8]
  %1 = tanh(%0) : f32[N,T,6,8]
  %2 = slice(%1) {axes=[2,0,4]} : f32[N,T,4,8]
  %3 = reshape(%2) {shape=[N,T,32]} : f32[N,T,32]
  %4 = param {name="w", init="glorot_uniform"} : f32[32,5]
  %5 = matmul(%3, %4) : f32[N,T,5]
  %6 = slice(%1) {axes=[1,-1,1]} : f32[N,1,6,8]
  %7 = reshape(%6) {shape=[N,48]} : f32[N,48]
  %8 = slice(%1) {axes=[3,2,3]} : f32[N,T,6,3]
  return "proj" = %5
  return "last" = %7
  return "cols" = %8
}
)";

TEST(Views, SlicesAreReadInPlace) {
  const ir::Graph g = ir::parse(kSlices, "slices.ir");
  for (const std::string schedule : {"naive", "tuned", "mullapudi2016", "adams2019"}) {
    SCOPED_TRACE(schedule);
    CompileOptions o;
    o.schedule = schedule;
    Executable exe = compile(g, o);
    for (int id : {2, 3, 6, 7, 8}) EXPECT_TRUE(exe.partition().view[id]) << "%" << id;
    EXPECT_EQ(exe.partition().kernels.size(), 2u);  // tanh, matmul
    for (auto [n, t] : {std::pair<int64_t, int64_t>{1, 1}, {3, 4}}) {
      const std::vector<Tensor> in{test::random_tensor({n, t, 6, 8}, DType::F32, static_cast<uint64_t>(n + t))};
      const auto out = exe.forward(in);
      const auto want = ir::evaluate(g, refs(in), refs(exe.params()));
      for (size_t i = 0; i < out.size(); ++i) EXPECT_TRUE(test::close(out[i], want[i], 1e-5, 1e-5)) << "output " << i;
    }
  }
}

TEST(Views, ASliceWhoseReshapeNeedsACopyStaysAKernel) {
  const ir::Graph g = ir::parse(R"(brine.ir 1
graph "merge" {
  %0 = input {name="x"} : f32[N,3,6,8]
  %1 = tanh(%0) : f32[N,3,6,8]
  %2 = slice(%1) {axes=[2,1,2]} : f32[N,3,2,8]
  %3 = reshape(%2) {shape=[N,6,8]} : f32[N,6,8]
  %4 = exp(%3) : f32[N,6,8]
  return "y" = %4
}
)", "merge.ir");
  Executable exe = compile(g);
  EXPECT_FALSE(exe.partition().view[2]);
  const std::vector<Tensor> in{test::random_tensor({2, 3, 6, 8}, DType::F32, 5)};
  EXPECT_TRUE(test::close(exe.forward(in)[0], ir::evaluate(g, refs(in), {})[0], 1e-5, 1e-5));
}

TEST(Views, ASliceOutsideADynamicAxisIsAClearError) {
  const ir::Graph g = ir::parse(R"(brine.ir 1
graph "late" {
  %0 = input {name="x"} : f32[N,T,4]
  %1 = tanh(%0) : f32[N,T,4]
  %2 = slice(%1) {axes=[1,2,1]} : f32[N,1,4]
  return "y" = %2
}
)", "late.ir");
  Executable exe = compile(g);
  EXPECT_NO_THROW(exe.forward({test::random_tensor({2, 3, 4}, DType::F32, 1)}));
  EXPECT_BRINE_ERROR(exe.forward({test::random_tensor({2, 2, 4}, DType::F32, 1)}), "model 'late'", "slice '%2'",
                     "[2, 3) of axis 1", "(2, 2, 4), which has 2");
}

}  // namespace
}  // namespace brine
