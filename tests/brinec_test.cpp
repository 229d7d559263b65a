// The brinec driver, run as a user would: every --emit kind, --run on .npy
// files against the reference evaluator, and its errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fmt/format.h>

#include "brine.h"
#include "ir/text.h"
#include "ir/verify.h"
#include "runtime/files.h"
#include "runtime/npy.h"
#include "test_util.h"

namespace brine {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code;
  std::string out;  // stdout and stderr
};

Result brinec(const std::string& args) {
  const std::string cmd = fmt::format("{} {} 2>&1", BRINEC_PATH, args);
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

class Brinec : public ::testing::Test {
 protected:
  std::string dir;
  std::string model;
  ir::Graph graph;
  void SetUp() override {
    dir = ::testing::TempDir() + "/brinec_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir);
    fs::create_directories(dir);
    reset_layer_names();
    auto x = Input({12}, "x");
    auto h = Dense(9, "relu")(x);
    auto y = Dense(5, "softmax")(h);
    graph = Model({x}, {y}, "tiny").graph();
    model = dir + "/tiny.ir";
    write_file_atomic(model, ir::print(graph));
  }
};

TEST_F(Brinec, EmitsTextStages) {
  Result r = brinec(model + " --emit=ir");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, ir::print(graph));
  r = brinec(model + " --emit=fused");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("kernel 0 [out-elementwise-fusable]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kernel 2 [opaque]"), std::string::npos) << r.out;
  r = brinec(model + " --emit=backward");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("return \"grad/dense/kernel\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("return \"grad/dense_1/bias\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("@\"backward/dense_1\""), std::string::npos) << r.out;
  r = brinec(model + " --emit=dot");
  EXPECT_NE(r.out.find("digraph \"tiny\""), std::string::npos) << r.out;
  r = brinec(model + " --emit=fused-dot");
  EXPECT_NE(r.out.find("cluster_k2"), std::string::npos) << r.out;
}

// An LSTM's input projection runs inside its scan unless asked to stay a
// kernel of its own.
TEST_F(Brinec, ProjectionKernelFlagKeepsTheProjectionAKernel) {
  reset_layer_names();
  auto x = Input({"T", 4}, "x");
  const std::string lstm = dir + "/lstm.ir";
  write_file_atomic(lstm, ir::print(Model({x}, {LSTM(16)(x)}, "lstm").graph()));
  Result r = brinec(lstm + " --emit=fused");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("input_projection=true"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("=matmul"), std::string::npos) << r.out;
  r = brinec(lstm + " --emit=fused --projection-kernel");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("input_projection"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("%2=matmul -> %4=add"), std::string::npos) << r.out;
}

// A Dense kernel of 64 Ki elements is packed into panels for fixed weights only.
TEST_F(Brinec, FrozenParamsFlagPacksLargeDenseKernels) {
  reset_layer_names();
  auto x = Input({256}, "x");
  const std::string big = dir + "/big.ir";
  write_file_atomic(big, ir::print(Model({x}, {Dense(256)(x)}, "big").graph()));
  Result r = brinec(big + " --emit=fused");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("pack_panels"), std::string::npos) << r.out;
  r = brinec(big + " --emit=fused --frozen-params");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("pack_panels(%1) {axes=[16]} : f32[16,256,16]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("packed_b=true"), std::string::npos) << r.out;
}

TEST_F(Brinec, EmitsPerKernelListings) {
  for (const auto& [kind, ext, marker] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"stmt", ".stmt", "produce"}, {"stmt-html", ".stmt.html", "<head><style"}, {"asm", ".s", "tiny_k"},
           {"llvm", ".ll", "define"}}) {
    const Result r = brinec(fmt::format("{} --emit={} -o {}", model, kind, dir));
    ASSERT_EQ(r.code, 0) << r.out;
    for (int k = 0; k < 3; ++k) {
      const std::string op = k == 2 ? "softmax" : "matmul";
      const std::string f = fmt::format("{}/tiny_k{}_{}{}", dir, k, op, ext);
      ASSERT_TRUE(fs::exists(f)) << f << "\n" << r.out;
      EXPECT_NE(read_file(f).find(marker), std::string::npos) << f;
    }
  }
}

TEST_F(Brinec, EmitsLibrarySources) {
  const Result r = brinec(fmt::format("{} --emit=lib --name tinylib -o {}", model, dir));
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* f : {"tinylib.h", "tinylib.cpp", "tinylib_kernels.o", "tinylib_runtime.o"})
    EXPECT_TRUE(fs::exists(dir + "/" + f)) << f;
  EXPECT_NE(read_file(dir + "/tinylib.h").find("brine::Status forward(const brine::Tensor& x, brine::Tensor& dense_1)"),
            std::string::npos);
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos);
}

TEST_F(Brinec, RunsOnNpyFiles) {
  Executable exe = compile(graph);
  const Tensor x = test::random_tensor({6, 12}, DType::F32, 4);
  write_npy(dir + "/x.npy", x);
  fs::create_directories(dir + "/weights/dense");
  fs::create_directories(dir + "/weights/dense_1");
  std::vector<ops::RefTensor> params;
  for (size_t i = 0; i < exe.param_names().size(); ++i) {
    const Tensor w = test::random_tensor(exe.params()[i].shape(), DType::F32, 100 + i);
    write_npy(dir + "/weights/" + exe.param_names()[i] + ".npy", w);
    params.push_back(test::to_ref(w));
  }
  const Result r = brinec(fmt::format("{} --run -i x={}/x.npy -w {}/weights -o {}/out", model, dir, dir, dir));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("dense_1 (6, 5)"), std::string::npos) << r.out;
  const std::vector<ops::RefTensor> in{test::to_ref(x)};
  const auto want = ir::evaluate(graph, in, params);
  EXPECT_TRUE(test::close(read_npy(dir + "/out/dense_1.npy"), want[0], 1e-5, 1e-5));
}

TEST_F(Brinec, ReportsErrors) {
  Result r = brinec(model + " --run -o " + dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("no file for model input 'x': pass --input x=FILE.npy"), std::string::npos) << r.out;
  write_npy(dir + "/bad.npy", Tensor({6, 11}));
  r = brinec(fmt::format("{} --run -i x={}/bad.npy -o {}", model, dir, dir));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("input 'x' has shape (6, 11), expected (N, 12)"), std::string::npos) << r.out;
  write_file_atomic(dir + "/broken.ir", "brine.ir 1\ngraph \"b\" {\n  %0 = nope : f32[2]\n}\n");
  r = brinec(dir + "/broken.ir");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("broken.ir:3:8: unknown op 'nope'"), std::string::npos) << r.out;
  r = brinec(dir + "/absent.ir");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("cannot read"), std::string::npos) << r.out;
  r = brinec(model + " --emit=pdf");
  EXPECT_NE(r.code, 0);
  r = brinec("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--emit"), std::string::npos);
}

}  // namespace
}  // namespace brine
