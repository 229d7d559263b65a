// The generator behind brine_add_model: links the user's model file (which
// defines brine_model()) and emits the model's static library sources: the
// forward model, and with --train-loss a training step and its gradients.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "brine.h"
#include "train/train_graph.h"

int main(int argc, char** argv) {
  CLI::App app{"brine AOT generator"};
  std::string name, out_dir, schedule = "tuned", dtype = "f32", target = "host", loss, optimizer = "adam";
  double lr = 0.001, momentum = 0;
  bool from_logits = false, nesterov = false, frozen = false;
  app.add_option("--name", name, "library and namespace name")->required();
  app.add_option("--out", out_dir, "output directory")->required();
  app.add_option("--schedule", schedule, "naive | tuned | mullapudi2016 | adams2019 | li2018");
  app.add_option("--dtype", dtype, "f32 | f64")->check(CLI::IsMember({"f32", "f64"}));
  app.add_option("--target", target, "Halide target string");
  app.add_option("--train-loss", loss, "also emit NAME::TrainStep and NAME::Gradients for this Keras loss");
  app.add_flag("--from-logits", from_logits, "the model outputs logits");
  app.add_option("--optimizer", optimizer, "sgd | adam")->check(CLI::IsMember({"sgd", "adam"}));
  app.add_option("--learning-rate", lr, "learning rate");
  app.add_option("--momentum", momentum, "SGD momentum");
  app.add_flag("--nesterov", nesterov, "SGD with Nesterov momentum");
  app.add_flag("--frozen-params", frozen, "inference with fixed weights: pack Dense kernels once (the Model class starts frozen)");
  CLI11_PARSE(app, argc, argv);
  try {
    brine::Model model = brine_model();
    brine::CompileOptions o;
    o.schedule = schedule;
    o.dtype = dtype == "f64" ? brine::DType::F64 : brine::DType::F32;
    o.target = target;
    o.frozen_params = frozen;
    std::vector<brine::LibraryClass> classes{{"Model", model.graph(), {}, {}}};
    if (!loss.empty()) {
      const brine::Optimizer opt =
          optimizer == "sgd" ? brine::Optimizer::sgd(lr, momentum, nesterov) : brine::Optimizer::adam(lr);
      brine::TrainingGraphs t = brine::build_training_graphs(model, loss, from_logits, opt);
      classes.push_back({"TrainStep", t.step, t.updated, t.rate});
      classes.push_back({"Gradients", t.gradients, {}, {}});
    }
    brine::emit_library(classes, name, out_dir, o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "brine: {}\n", e.what());
    return 1;
  }
  return 0;
}
