// brinec: the command-line driver. Prints every stage of a model given in the
// IR text format, compiles it to a library, or runs it on .npy files.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <map>

#include "codegen/compile.h"
#include "codegen/fusion.h"
#include "codegen/graph_passes.h"
#include "ir/autodiff.h"
#include "ir/text.h"
#include "runtime/files.h"
#include "runtime/npy.h"

namespace {

std::map<std::string, std::string> pairs(const std::vector<std::string>& items, const char* what) {
  std::map<std::string, std::string> r;
  for (const std::string& s : items) {
    const size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0) throw brine::Error(fmt::format("{} '{}' must be NAME=FILE.npy", what, s));
    r[s.substr(0, eq)] = s.substr(eq + 1);
  }
  return r;
}

int run_model(const brine::ir::Graph& g, const brine::CompileOptions& o, const std::vector<std::string>& input_args,
              const std::vector<std::string>& param_args, const std::string& weights, const std::string& out_dir) {
  brine::Executable exe = brine::compile(g, o);
  auto in_files = pairs(input_args, "--input");
  std::vector<brine::Tensor> inputs;
  for (int id : g.inputs()) {
    const std::string& name = g.node(id).attrs.name;
    auto it = in_files.find(name);
    if (it == in_files.end()) throw brine::Error(fmt::format("no file for model input '{}': pass --input {}=FILE.npy", name, name));
    inputs.push_back(brine::read_npy(it->second));
    in_files.erase(it);
  }
  if (!in_files.empty()) throw brine::Error(fmt::format("model '{}' has no input named '{}'", g.name, in_files.begin()->first));
  auto param_files = pairs(param_args, "--param");
  for (const std::string& name : exe.param_names()) {
    std::string file;
    if (auto it = param_files.find(name); it != param_files.end()) {
      file = it->second;
      param_files.erase(it);
    } else if (!weights.empty()) {
      file = weights + "/" + name + ".npy";
    } else {
      continue;  // keeps its seeded initial value
    }
    exe.set_param(name, brine::read_npy(file));
  }
  if (!param_files.empty()) throw brine::Error(fmt::format("model '{}' has no parameter named '{}'", g.name, param_files.begin()->first));
  std::vector<brine::Tensor> outputs = exe.forward(inputs);
  std::filesystem::create_directories(out_dir);
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string path = out_dir + "/" + g.outputs[i].name + ".npy";
    brine::write_npy(path, outputs[i]);
    fmt::print("{} {} -> {}\n", g.outputs[i].name, brine::shape_string(outputs[i].shape()), path);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"brinec: print, compile and run brine models written in the IR text format (docs/ir.md)"};
  std::string model, emit = "ir", schedule = "tuned", dtype = "f32", name, out = ".", target = "host", weights;
  bool run = false, projection_kernel = false, frozen = false;
  uint64_t seed = 0;
  std::vector<std::string> input_args, param_args;
  app.add_option("model", model, "model in the IR text format (.ir)")->required();
  app.add_option("--emit", emit,
                 "what to print or write: ir, fused, backward, dot, fused-dot (stdout); stmt, stmt-html, asm, llvm "
                 "(one file per kernel in --out); lib (static library sources in --out). backward: the gradient "
                 "graph of loss = sum of all outputs with respect to every parameter")
      ->check(CLI::IsMember({"ir", "fused", "backward", "dot", "fused-dot", "stmt", "stmt-html", "asm", "llvm", "lib"}));
  app.add_flag("--run", run, "run the model on .npy inputs and write .npy outputs to --out");
  app.add_option("-i,--input", input_args, "NAME=FILE.npy for each model input (with --run)");
  app.add_option("-p,--param", param_args, "NAME=FILE.npy for a parameter (with --run)");
  app.add_option("-w,--weights", weights, "directory holding PARAM_NAME.npy for every parameter (with --run)");
  app.add_option("--seed", seed, "seed of the initial parameters not given as files");
  app.add_option("--schedule", schedule, "naive | tuned | mullapudi2016 | adams2019 | li2018");
  app.add_option("--dtype", dtype, "f32 | f64")->check(CLI::IsMember({"f32", "f64"}));
  app.add_option("--target", target, "Halide target (default: this machine)");
  app.add_option("--name", name, "library name for --emit=lib (default: the graph's name)");
  app.add_option("-o,--out", out, "output directory");
  app.add_flag("--frozen-params", frozen,
               "inference with fixed weights: Dense kernels packed into panels once (the model starts frozen)");
  app.add_flag("--projection-kernel", projection_kernel,
               "keep LSTM / GRU / SimpleRNN input projections one matmul over all steps instead of inside each step");
  CLI11_PARSE(app, argc, argv);

  try {
    const brine::ir::Graph g = brine::ir::parse(brine::read_file(model), model);
    brine::CompileOptions o;
    o.schedule = schedule;
    o.dtype = dtype == "f64" ? brine::DType::F64 : brine::DType::F32;
    o.target = target;
    o.seed = seed;
    o.projection_in_scan = !projection_kernel;
    o.frozen_params = frozen;
    if (run) return run_model(g, o, input_args, param_args, weights, out);
    const std::string lib_name = name.empty() ? g.name : name;
    // The fused forms show the graph as codegen compiles it (its passes applied).
    const auto print_with_kernels = [&](const brine::ir::Graph& source) {
      const brine::ir::Graph k = brine::codegen::prepare_graph(source, o.projection_in_scan, o.frozen_params);
      std::cout << brine::ir::print(k) << brine::codegen::print_fused(k, brine::codegen::fuse(k));
    };
    if (emit == "ir") std::cout << brine::ir::print(g);
    else if (emit == "fused") print_with_kernels(g);
    else if (emit == "backward") print_with_kernels(brine::ir::differentiate_sum_of_outputs(g));
    else if (emit == "dot") std::cout << brine::ir::to_dot(g);
    else if (emit == "fused-dot") {
      const brine::ir::Graph k = brine::codegen::prepare_graph(g, o.projection_in_scan, o.frozen_params);
      const auto p = brine::codegen::fuse(k);
      std::cout << brine::ir::to_dot(k, &p.kernel_of);
    } else if (emit == "lib") {
      brine::emit_library(g, lib_name, out, o);
      fmt::print("wrote {0}/{1}.h, {0}/{1}.cpp, {0}/{1}_kernels.o, {0}/{1}_runtime.o\n", out, lib_name);
    } else {
      for (const std::string& f : brine::emit_kernel_listings(g, emit, lib_name, out, o)) fmt::print("{}\n", f);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "brinec: {}\n", e.what());
    return 1;
  }
  return 0;
}
