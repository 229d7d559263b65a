// Ahead-of-time emission: the kernels as one object file, Halide's runtime as
// another, and a generated C++ class that carries the execution plan.
#include <Halide.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <filesystem>

#include "codegen/compile.h"
#include "codegen/kernel.h"
#include "codegen/graph_passes.h"
#include "codegen/program.h"
#include "ir/verify.h"
#include "runtime/files.h"

namespace brine {

namespace {

Halide::Target aot_target(const CompileOptions& o) {
  return o.target == "host" ? Halide::get_host_target() : Halide::Target(o.target);
}

struct Built {
  ir::Graph graph;  // what the kernels compute: the model's graph after codegen's passes
  codegen::Partition part;
  std::vector<codegen::KernelSource> kernels;
  std::vector<std::string> names;
};

Built build_all(const ir::Graph& source, const std::string& name, const CompileOptions& o, const Halide::Target& t) {
  ir::verify(source);
  Built b{codegen::prepare_graph(source, o.projection_in_scan, o.frozen_params), {}, {}, {}};
  const ir::Graph& g = b.graph;
  b.part = codegen::fuse(g);
  const codegen::Policy policy = codegen::policy_from_name(o.schedule);
  for (size_t k = 0; k < b.part.kernels.size(); ++k) {
    const auto& kg = b.part.kernels[k];
    b.names.push_back(codegen::c_identifier(fmt::format("{}_k{}_{}", name, k, ir::op_name(g.node(kg.anchor).op))));
    b.kernels.push_back(codegen::build_kernel(g, kg, b.names.back(), o.dtype, policy, t));
  }
  return b;
}

std::string tmp_name(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

std::string cxx_string(const std::string& s) {
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    r += c;
  }
  return r + "\"";
}

std::string spec_source(const rt::ProgramSpec& p) {
  const auto kind = [](rt::BufferKind k) {
    switch (k) {
      case rt::BufferKind::Input: return "Input";
      case rt::BufferKind::Param: return "Param";
      case rt::BufferKind::Temp: return "Temp";
      case rt::BufferKind::Output: return "Output";
      case rt::BufferKind::View: return "View";
    }
    return "?";
  };
  std::string s;
  s += fmt::format("  p->model_name = {};\n", cxx_string(p.model_name));
  std::vector<std::string> syms;
  for (const auto& x : p.symbols) syms.push_back(cxx_string(x));
  s += fmt::format("  p->symbols = {{{}}};\n", fmt::join(syms, ", "));
  for (const rt::BufferSpec& b : p.buffers) {
    std::vector<std::string> dims;
    for (const rt::DimSpec& d : b.shape) dims.push_back(fmt::format("{{{}, {}}}", d.size, d.sym));
    s += fmt::format("  p->buffers.push_back({{{}, brine::rt::BufferKind::{}, brine::DType::{}, {{{}}}, {}, {}, {}, {}, {{{}}}}});\n",
                     cxx_string(b.name), kind(b.kind), b.dtype == DType::F32 ? "F32" : "F64", fmt::join(dims, ", "),
                     b.index, cxx_string(b.init), b.slice_axis, b.slice_start, fmt::join(b.strides_from, ", "));
  }
  std::vector<std::string> kn;
  for (const auto& x : p.kernel_names) kn.push_back(cxx_string(x));
  s += fmt::format("  p->kernel_names = {{{}}};\n", fmt::join(kn, ", "));
  for (const rt::StepSpec& st : p.steps)
    s += fmt::format("  p->steps.push_back({{{}, {{{}}}, {}, {}}});\n", st.kernel, fmt::join(st.args, ", "), st.scan_dim,
                     st.scan_reverse);
  s += fmt::format("  p->inputs = {{{}}};\n  p->params = {{{}}};\n  p->outputs = {{{}}};\n", fmt::join(p.inputs, ", "),
                   fmt::join(p.params, ", "), fmt::join(p.outputs, ", "));
  return s;
}

}  // namespace

namespace {

// One generated class: its declaration (in the header) and definitions.
struct ClassCode {
  std::string decl, defs, externs;
};

ClassCode class_code(const LibraryClass& c, const std::string& lib, const rt::ProgramSpec& spec,
                     const std::vector<std::string>& kernel_names, bool frozen) {
  ClassCode code;
  std::vector<std::string> in_params, out_params, in_doc, out_doc, in_names, out_names;
  for (int32_t id : spec.inputs) {
    const auto& bs = spec.buffers[id];
    const std::string v = codegen::c_identifier(bs.name);
    in_params.push_back("const brine::Tensor& " + v);
    in_names.push_back(v);
    in_doc.push_back(fmt::format("  //   {}: {} {}", bs.name, dtype_name(bs.dtype), rt::spec_shape_string(spec, bs.shape)));
  }
  for (int32_t id : spec.outputs) {
    const auto& bs = spec.buffers[id];
    std::string v = codegen::c_identifier(bs.name);
    if (std::find(in_names.begin(), in_names.end(), v) != in_names.end()) v += "_out";
    out_params.push_back("brine::Tensor& " + v);
    out_names.push_back(v);
    out_doc.push_back(fmt::format("  //   {}: {} {}", bs.name, dtype_name(bs.dtype), rt::spec_shape_string(spec, bs.shape)));
  }
  const auto type_of = [&](int32_t id) {
    return fmt::format("{} {}", dtype_name(spec.buffers[id].dtype), rt::spec_shape_string(spec, spec.buffers[id].shape));
  };
  std::vector<std::string> trampolines, bindings;
  for (const std::string& k : kernel_names) {
    code.externs += fmt::format("int {}_argv(void** args);\n", k);
    trampolines.push_back(fmt::format("int call_{0}(void*, void** args) {{ return {0}_argv(args); }}", k));
    bindings.push_back(fmt::format("{{call_{}, nullptr}}", k));
  }
  const std::string fn = "program_" + c.class_name;
  code.defs = fmt::format("namespace {{\n{}\n\nstd::shared_ptr<const brine::rt::ProgramSpec> {}() {{\n"
                          "  auto p = std::make_shared<brine::rt::ProgramSpec>();\n{}  return p;\n}}\n}}  // namespace\n\n",
                          fmt::join(trampolines, "\n"), fn, spec_source(spec));
  if (c.updated.empty()) {
    code.decl = fmt::format(R"(// Inputs:
{1}
// Outputs:
{2}
// Dimensions named by letters are dynamic; the rest are fixed.
class {0} : public brine::CompiledModel {{
 public:
  // Parameters start with Keras's default initializers from `seed`.{5}
  explicit {0}(uint64_t seed = 0);
  // Runs the graph. Empty outputs are allocated; outputs with storage must
  // have the right shape. A wrong input gives an error status naming it.
  brine::Status forward({3}, {4});
  using brine::CompiledModel::forward;
}};
)",
                            c.class_name, fmt::join(in_doc, "\n"), fmt::join(out_doc, "\n"), fmt::join(in_params, ", "),
                            fmt::join(out_params, ", "),
                            frozen ? "\n  // Compiled with frozen parameters: the model starts frozen (freeze_params)." : "");
    std::string assign;
    for (size_t i = 0; i < out_names.size(); ++i) assign += fmt::format("  {} = outputs[{}];\n", out_names[i], i);
    code.defs += fmt::format(R"({0}::{0}(uint64_t seed) : brine::CompiledModel({1}(), {{{2}}}, seed) {{{8}}}

brine::Status {0}::forward({3}, {4}) {{
  const brine::Tensor inputs[] = {{{5}}};
  brine::Tensor outputs[] = {{{6}}};
  brine::Status s = try_forward(inputs, outputs);
{7}  return s;
}}
)",
                             c.class_name, fn, fmt::join(bindings, ", "), fmt::join(in_params, ", "),
                             fmt::join(out_params, ", "), fmt::join(in_names, ", "), fmt::join(out_names, ", "), assign,
                             frozen ? " freeze_params(); " : "");
  } else {
    std::vector<std::string> updated;
    for (const std::string& u : c.updated) updated.push_back(cxx_string(u));
    code.decl = fmt::format(R"(// One training step of model "{1}": forward, loss, backward and the
// optimizer's update of every weight, as compiled kernels.
//   x:      {2}
//   y_true: {3}
class {0} : public brine::CompiledModel {{
 public:
  // Parameters start with Keras's default initializers from `seed`;
  // optimizer slots at zero. Weights by name: param("dense/kernel").
  explicit {0}(uint64_t seed = 0);
  // Runs one step and stores the batch loss in `loss`. A wrong input gives an
  // error status naming it, and changes nothing.
  brine::Status step(const brine::Tensor& x, const brine::Tensor& y_true, double& loss);
  int64_t steps() const {{ return stepper_.steps(); }}

 private:
  brine::TrainStepper stepper_;
}};
)",
                            c.class_name, lib, type_of(spec.inputs.at(0)), type_of(spec.inputs.at(1)));
    code.defs += fmt::format(R"({0}::{0}(uint64_t seed)
    : brine::CompiledModel({1}(), {{{2}}}, seed),
      stepper_(*this, {{{3}}}, brine::StepRate{{{4}, {5}, {6}, {7}}}) {{}}

brine::Status {0}::step(const brine::Tensor& x, const brine::Tensor& y_true, double& loss) {{
  try {{
    loss = stepper_.step(x, y_true);
    return brine::Status::success();
  }} catch (const std::exception& e) {{
    return brine::Status::error(e.what());
  }}
}}
)",
                             c.class_name, fn, fmt::join(bindings, ", "), fmt::join(updated, ", "),
                             c.rate.adam ? "true" : "false", c.rate.learning_rate, c.rate.beta_1, c.rate.beta_2);
  }
  return code;
}

}  // namespace

void emit_library(const ir::Graph& g, const std::string& name, const std::string& out_dir, const CompileOptions& o) {
  emit_library({{"Model", g, {}, {}}}, name, out_dir, o);
}

void emit_library(const std::vector<LibraryClass>& classes, const std::string& name, const std::string& out_dir,
                  const CompileOptions& o) {
  if (name.empty() || codegen::c_identifier(name) != name)
    throw Error(fmt::format("model library name '{}' must be a C identifier", name));
  std::filesystem::create_directories(out_dir);
  const Halide::Target t = aot_target(o);
  const Halide::Target kt = t.with_feature(Halide::Target::NoRuntime);
  std::vector<Halide::Module> modules;
  std::string decls, defs, externs, training_note;
  for (const LibraryClass& c : classes) {
    // The first class keeps the plain kernel names (NAME_k0_matmul); the
    // others are prefixed with their class.
    const std::string prefix = &c == &classes.front() ? name : name + "_" + c.class_name;
    CompileOptions co = o;  // frozen parameters: the inference class only
    co.frozen_params = o.frozen_params && &c == &classes.front() && c.updated.empty();
    Built b = build_all(c.graph, prefix, co, t);
    ir::Graph named = b.graph;
    named.name = name;
    const rt::ProgramSpec spec = codegen::build_program(named, b.part, o.dtype, b.names);
    for (size_t k = 0; k < b.kernels.size(); ++k)
      modules.push_back(b.kernels[k].pipeline.compile_to_module(b.kernels[k].arguments(), b.names[k], kt));
    const ClassCode code = class_code(c, name, spec, b.names, co.frozen_params);
    decls += "\n" + code.decl;
    defs += "\n" + code.defs;
    externs += code.externs;
    if (!c.updated.empty()) training_note = "#include \"runtime/train_step.h\"\n";
  }
  const std::string base = out_dir + "/" + name;
  const std::string kobj = base + "_kernels.o", robj = base + "_runtime.o";
  if (modules.empty()) {
    // A model without kernels (all views): an empty object keeps the build rule uniform.
    Halide::Func dummy(name + "_empty");
    Halide::Var x;
    dummy(x) = 0;
    modules.push_back(Halide::Pipeline(dummy).compile_to_module({}, name + "_empty", kt));
  }
  Halide::Module linked = Halide::link_modules(name + "_kernels", modules);
  linked.compile({{Halide::OutputFileType::object, tmp_name(kobj)}});
  commit_file(tmp_name(kobj), kobj);
  Halide::compile_standalone_runtime(tmp_name(robj), t);
  commit_file(tmp_name(robj), robj);

  const std::string header = fmt::format(R"(// Generated by brine for model "{0}" (schedule {1}, {2}). Do not edit.
#pragma once

#include <cstdint>

#include "runtime/model.h"
{3}
namespace {0} {{
{4}
}}  // namespace {0}
)",
                                         name, o.schedule, dtype_name(o.dtype), training_note, decls);
  const std::string source = fmt::format(R"(// Generated by brine for model "{0}". Do not edit.
#include "{0}.h"

#include <HalideRuntime.h>

#include "runtime/thread_pool.h"

extern "C" {{
{1}}}

// The kernels' parallel loops run on brine's pool (runtime/thread_pool.h).
static const bool {0}_parallel_for_installed = (halide_set_custom_do_par_for(brine::rt::parallel_for), true);

namespace {0} {{
{2}
}}  // namespace {0}
)",
                                         name, externs, defs);
  write_file_atomic(base + ".h", header);
  write_file_atomic(base + ".cpp", source);
}

std::vector<std::string> emit_kernel_listings(const ir::Graph& g, const std::string& kind, const std::string& name,
                                              const std::string& out_dir, const CompileOptions& o) {
  std::filesystem::create_directories(out_dir);
  const Halide::Target t = aot_target(o);
  Built b = build_all(g, name, o, t);
  std::vector<std::string> files;
  for (size_t k = 0; k < b.kernels.size(); ++k) {
    auto& ks = b.kernels[k];
    std::string path = out_dir + "/" + b.names[k];
    if (kind == "stmt") ks.pipeline.compile_to_lowered_stmt(path += ".stmt", ks.arguments(), Halide::Text, t);
    else if (kind == "stmt-html") ks.pipeline.compile_to_lowered_stmt(path += ".stmt.html", ks.arguments(), Halide::HTML, t);
    else if (kind == "asm") ks.pipeline.compile_to_assembly(path += ".s", ks.arguments(), b.names[k], t);
    else if (kind == "llvm") ks.pipeline.compile_to_llvm_assembly(path += ".ll", ks.arguments(), b.names[k], t);
    else throw Error("unknown listing '" + kind + "' (expected stmt, stmt-html, asm or llvm)");
    files.push_back(path);
  }
  return files;
}

}  // namespace brine
