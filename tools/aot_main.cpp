// The generator behind brine_add_model: links the user's model file (which
// defines brine_model()) and emits the model's static library sources.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "brine.h"

int main(int argc, char** argv) {
  CLI::App app{"brine AOT generator"};
  std::string name, out_dir, schedule = "tuned", dtype = "f32", target = "host";
  app.add_option("--name", name, "library and namespace name")->required();
  app.add_option("--out", out_dir, "output directory")->required();
  app.add_option("--schedule", schedule, "naive | tuned | mullapudi2016 | adams2019 | li2018");
  app.add_option("--dtype", dtype, "f32 | f64")->check(CLI::IsMember({"f32", "f64"}));
  app.add_option("--target", target, "Halide target string");
  CLI11_PARSE(app, argc, argv);
  try {
    brine::Model model = brine_model();
    brine::CompileOptions o;
    o.schedule = schedule;
    o.dtype = dtype == "f64" ? brine::DType::F64 : brine::DType::F32;
    o.target = target;
    brine::emit_library(model.graph(), name, out_dir, o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "brine: {}\n", e.what());
    return 1;
  }
  return 0;
}
