// Ahead-of-time emission: the kernels as one object file, Halide's runtime as
// another, and a generated C++ class that carries the execution plan.
#include <Halide.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <filesystem>

#include "codegen/compile.h"
#include "codegen/kernel.h"
#include "codegen/program.h"
#include "ir/verify.h"
#include "runtime/files.h"

namespace brine {

namespace {

Halide::Target aot_target(const CompileOptions& o) {
  return o.target == "host" ? Halide::get_host_target() : Halide::Target(o.target);
}

struct Built {
  codegen::Partition part;
  std::vector<codegen::KernelSource> kernels;
  std::vector<std::string> names;
};

Built build_all(const ir::Graph& g, const std::string& name, const CompileOptions& o, const Halide::Target& t) {
  ir::verify(g);
  Built b{codegen::fuse(g), {}, {}};
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
    s += fmt::format("  p->buffers.push_back({{{}, brine::rt::BufferKind::{}, brine::DType::{}, {{{}}}, {}, {}}});\n",
                     cxx_string(b.name), kind(b.kind), b.dtype == DType::F32 ? "F32" : "F64", fmt::join(dims, ", "),
                     b.index, cxx_string(b.init));
  }
  std::vector<std::string> kn;
  for (const auto& x : p.kernel_names) kn.push_back(cxx_string(x));
  s += fmt::format("  p->kernel_names = {{{}}};\n", fmt::join(kn, ", "));
  for (const rt::StepSpec& st : p.steps) s += fmt::format("  p->steps.push_back({{{}, {{{}}}}});\n", st.kernel, fmt::join(st.args, ", "));
  s += fmt::format("  p->inputs = {{{}}};\n  p->params = {{{}}};\n  p->outputs = {{{}}};\n", fmt::join(p.inputs, ", "),
                   fmt::join(p.params, ", "), fmt::join(p.outputs, ", "));
  return s;
}

}  // namespace

void emit_library(const ir::Graph& g, const std::string& name, const std::string& out_dir, const CompileOptions& o) {
  if (name.empty() || codegen::c_identifier(name) != name)
    throw Error(fmt::format("model library name '{}' must be a C identifier", name));
  std::filesystem::create_directories(out_dir);
  const Halide::Target t = aot_target(o);
  Built b = build_all(g, name, o, t);
  ir::Graph named = g;
  named.name = name;
  const rt::ProgramSpec spec = codegen::build_program(named, b.part, o.dtype, b.names);
  const std::string base = out_dir + "/" + name;

  // Kernels: one linked module, without the runtime (it goes in its own object).
  std::vector<Halide::Module> modules;
  const Halide::Target kt = t.with_feature(Halide::Target::NoRuntime);
  for (size_t k = 0; k < b.kernels.size(); ++k)
    modules.push_back(b.kernels[k].pipeline.compile_to_module(b.kernels[k].arguments(), b.names[k], kt));
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

  // The typed header.
  std::vector<std::string> in_params, out_params, in_doc, out_doc, in_names, out_names;
  for (int32_t id : spec.inputs) {
    const auto& bs = spec.buffers[id];
    const std::string v = codegen::c_identifier(bs.name);
    in_params.push_back("const brine::Tensor& " + v);
    in_names.push_back(v);
    in_doc.push_back(fmt::format("//   {}: {} {}", bs.name, dtype_name(bs.dtype), rt::spec_shape_string(spec, bs.shape)));
  }
  for (int32_t id : spec.outputs) {
    const auto& bs = spec.buffers[id];
    const std::string v = codegen::c_identifier(bs.name) + (std::find(in_names.begin(), in_names.end(), codegen::c_identifier(bs.name)) != in_names.end() ? "_out" : "");
    out_params.push_back("brine::Tensor& " + v);
    out_names.push_back(v);
    out_doc.push_back(fmt::format("//   {}: {} {}", bs.name, dtype_name(bs.dtype), rt::spec_shape_string(spec, bs.shape)));
  }
  const std::string header = fmt::format(R"(// Generated by brine for model "{0}" (schedule {1}, {2}). Do not edit.
#pragma once

#include <cstdint>

#include "runtime/model.h"

namespace {0} {{

// Inputs:
{3}
// Outputs:
{4}
// Dimensions named by letters are dynamic; the rest are fixed.
class Model : public brine::CompiledModel {{
 public:
  // Parameters start with Keras's default initializers from `seed`.
  explicit Model(uint64_t seed = 0);
  // Runs the model. Empty outputs are allocated; outputs with storage must
  // have the right shape. A wrong input gives an error status naming it.
  brine::Status forward({5}, {6});
  using brine::CompiledModel::forward;
}};

}}  // namespace {0}
)",
                                         name, o.schedule, dtype_name(o.dtype), fmt::join(in_doc, "\n"),
                                         fmt::join(out_doc, "\n"), fmt::join(in_params, ", "), fmt::join(out_params, ", "));
  std::vector<std::string> externs, trampolines, bindings;
  for (size_t k = 0; k < b.names.size(); ++k) {
    externs.push_back(fmt::format("int {}_argv(void** args);", b.names[k]));
    trampolines.push_back(fmt::format("int call_{0}(void*, void** args) {{ return {0}_argv(args); }}", b.names[k]));
    bindings.push_back(fmt::format("{{call_{}, nullptr}}", b.names[k]));
  }
  const std::string source = fmt::format(R"(// Generated by brine for model "{0}". Do not edit.
#include "{0}.h"

extern "C" {{
{1}
}}

namespace {0} {{

namespace {{
{2}

std::shared_ptr<const brine::rt::ProgramSpec> program() {{
  auto p = std::make_shared<brine::rt::ProgramSpec>();
{3}  return p;
}}
}}  // namespace

Model::Model(uint64_t seed) : brine::CompiledModel(program(), {{{4}}}, seed) {{}}

brine::Status Model::forward({5}, {6}) {{
  const brine::Tensor inputs[] = {{{7}}};
  brine::Tensor outputs[] = {{{8}}};
  brine::Status s = try_forward(inputs, outputs);
{9}  return s;
}}

}}  // namespace {0}
)",
                                         name, fmt::join(externs, "\n"), fmt::join(trampolines, "\n"), spec_source(spec),
                                         fmt::join(bindings, ", "), fmt::join(in_params, ", "), fmt::join(out_params, ", "),
                                         fmt::join(in_names, ", "), fmt::join(out_names, ", "), [&] {
                                           std::string r;
                                           for (size_t i = 0; i < out_names.size(); ++i)
                                             r += fmt::format("  {} = outputs[{}];\n", out_names[i], i);
                                           return r;
                                         }());
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
