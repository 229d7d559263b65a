#include "codegen/program.h"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>

#include "codegen/views.h"
#include "ops/recurrent.h"

namespace brine::codegen {

std::string c_identifier(const std::string& s) {
  std::string r;
  for (char c : s) r += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (r.empty() || std::isdigit(static_cast<unsigned char>(r[0]))) r = "_" + r;
  return r;
}

rt::ProgramSpec build_program(const ir::Graph& g, const Partition& p, DType dtype,
                              const std::vector<std::string>& kernel_names) {
  rt::ProgramSpec spec;
  spec.model_name = g.name;
  spec.symbols = g.symbols();
  spec.kernel_names = kernel_names;
  const auto dims = [&](const ir::Shape& s) {
    std::vector<rt::DimSpec> d;
    for (const ir::Dim& x : s) {
      if (x.is_static()) d.push_back({x.size, -1});
      else d.push_back({0, static_cast<int32_t>(std::find(spec.symbols.begin(), spec.symbols.end(), x.sym) - spec.symbols.begin())});
    }
    return d;
  };
  const auto value_name = [&](const ir::Node& n) {
    if (!n.attrs.name.empty()) return n.attrs.name;
    return n.layer.empty() ? fmt::format("%{}", n.id) : fmt::format("{} (%{})", n.layer, n.id);
  };

  // Which kernel tails are model outputs (written straight into the user's buffer).
  std::vector<int> output_of(g.nodes.size(), -1);
  for (size_t o = 0; o < g.outputs.size(); ++o) {
    const int id = g.outputs[o].node;
    if (p.kernel_of[id] >= 0 && p.kernels[p.kernel_of[id]].tail == id && output_of[id] < 0)
      output_of[id] = static_cast<int>(o);
  }
  const StrideProbe probe(g, p.view);
  std::vector<int> buffer_of(g.nodes.size(), -1);
  int n_inputs = 0, n_params = 0;
  for (const ir::Node& n : g.nodes) {
    rt::BufferSpec b{.name = value_name(n), .kind = rt::BufferKind::Temp, .dtype = dtype, .shape = dims(n.type.shape)};
    const int k = p.kernel_of[n.id];
    if (n.op == ir::Op::Input) {
      b.kind = rt::BufferKind::Input;
      b.index = n_inputs++;
    } else if (n.op == ir::Op::Param) {
      b.kind = rt::BufferKind::Param;
      b.index = n_params++;
      b.init = n.attrs.init;
    } else if (p.view[n.id]) {
      const int base = buffer_of[n.inputs[0]];
      if (base < 0)
        throw Error(fmt::format("{}: a reshape of a constant is not supported; reshape the value it is combined with",
                                g.describe(n.id)));
      b.kind = rt::BufferKind::View;
      b.index = base;
      if (n.op == ir::Op::Slice) {  // attrs.axes = {axis, start, length}
        b.slice_axis = static_cast<int32_t>(n.attrs.axes[0] < 0 ? n.attrs.axes[0] + n.type.rank() : n.attrs.axes[0]);
        b.slice_start = n.attrs.axes[1];
      } else {
        const auto recipe = probe.reshape_recipe(n.id);
        BRINE_CHECK_INTERNAL(recipe.has_value(), g.describe(n.id) + " is a view without strides");
        b.strides_from = *recipe;
      }
    } else if (k >= 0 && p.kernels[k].tail == n.id) {
      if (output_of[n.id] >= 0) {
        b.kind = rt::BufferKind::Output;
        b.index = output_of[n.id];
        b.name = g.outputs[output_of[n.id]].name;
      }
    } else {
      continue;  // fused into a kernel, or a constant: no buffer
    }
    buffer_of[n.id] = static_cast<int>(spec.buffers.size());
    spec.buffers.push_back(std::move(b));
    if (spec.buffers.back().kind == rt::BufferKind::Input) spec.inputs.push_back(buffer_of[n.id]);
    if (spec.buffers.back().kind == rt::BufferKind::Param) spec.params.push_back(buffer_of[n.id]);
  }
  for (size_t k = 0; k < p.kernels.size(); ++k) {
    rt::StepSpec s{static_cast<int32_t>(k), {}};
    for (int in : p.kernels[k].inputs) s.args.push_back(buffer_of[in]);
    const ir::Node& tail = g.node(p.kernels[k].tail);
    const ops::ScanAxis scan = ops::scan_axis(g.node(p.kernels[k].anchor).op);
    if (scan.axis >= 0) {  // the scan reads its own output, whole
      s.args.push_back(buffer_of[tail.id]);
      s.scan_dim = tail.type.rank() - 1 - scan.axis;
      s.scan_reverse = scan.reverse;
    }
    s.args.push_back(buffer_of[tail.id]);
    spec.steps.push_back(std::move(s));
  }
  // Outputs: a kernel's own buffer, or a copy (of an input, a view, or a
  // value returned under two names).
  for (size_t o = 0; o < g.outputs.size(); ++o) {
    const ir::Node& n = g.node(g.outputs[o].node);
    if (output_of[n.id] == static_cast<int>(o)) {
      spec.outputs.push_back(buffer_of[n.id]);
      continue;
    }
    if (buffer_of[n.id] < 0)
      throw Error(fmt::format("{}: a constant cannot be a model output", g.describe(n.id)));
    const int id = static_cast<int>(spec.buffers.size());
    spec.buffers.push_back({.name = g.outputs[o].name, .kind = rt::BufferKind::Output, .dtype = dtype, .shape = dims(n.type.shape), .index = static_cast<int32_t>(o)});
    spec.steps.push_back({-1, {buffer_of[n.id], id}});
    spec.outputs.push_back(id);
  }
  return spec;
}

}  // namespace brine::codegen
