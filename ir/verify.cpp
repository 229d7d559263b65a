#include "ir/verify.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>

namespace brine::ir {

namespace {

TensorType checked_type(const Graph& g, const Node& n) {
  std::vector<TensorType> in;
  for (int i : n.inputs) in.push_back(g.node(i).type);
  try {
    return ops::infer(n, in);
  } catch (const ops::ShapeError& e) {
    std::vector<std::string> shapes;
    for (const TensorType& t : in) shapes.push_back(shape_str(t.shape));
    throw Error(fmt::format("{}: {} (input shapes: {})", g.describe(n.id), e.what(),
                            shapes.empty() ? "none" : fmt::format("{}", fmt::join(shapes, ", "))));
  }
}

void check_structure(const Graph& g, const Node& n, int index) {
  if (n.id != index) internal_error(fmt::format("node at index {} has id {}", index, n.id));
  const OpInfo& info = op_info(n.op);
  const int nin = static_cast<int>(n.inputs.size());
  if (info.arity >= 0 && nin != info.arity)
    throw Error(fmt::format("{}: {} takes {} input(s), got {}", g.describe(n.id), info.name, info.arity, nin));
  if (info.arity < 0 && nin < 1)
    throw Error(fmt::format("{}: {} takes at least one input", g.describe(n.id), info.name));
  for (int i : n.inputs)
    if (i < 0 || i >= n.id)
      throw Error(fmt::format("{}: input %{} is not defined before it", g.describe(n.id), i));
}

}  // namespace

void infer_types(Graph& g) {
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    check_structure(g, g.nodes[i], i);
    g.nodes[i].type = checked_type(g, g.nodes[i]);
  }
}

void verify(const Graph& g) {
  std::set<std::string> input_names, param_names, output_names;
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    const Node& n = g.nodes[i];
    check_structure(g, n, i);
    const TensorType t = checked_type(g, n);
    if (t != n.type)
      throw Error(fmt::format("{}: declared type {} but its inputs give {}", g.describe(n.id), type_str(n.type),
                              type_str(t)));
    if (n.op == Op::Input && !input_names.insert(n.attrs.name).second)
      throw Error(fmt::format("{}: two inputs are named '{}'", g.describe(n.id), n.attrs.name));
    if (n.op == Op::Param && !param_names.insert(n.attrs.name).second)
      throw Error(fmt::format("{}: two parameters are named '{}'", g.describe(n.id), n.attrs.name));
    if (n.op == Op::Param && n.attrs.init != "glorot_uniform" && n.attrs.init != "zeros" && n.attrs.init != "ones" &&
        n.attrs.init != "orthogonal" && n.attrs.init != "unit_forget_bias")
      throw Error(fmt::format("{}: unknown initializer '{}' (expected glorot_uniform, orthogonal, zeros, ones or "
                              "unit_forget_bias)", g.describe(n.id), n.attrs.init));
  }
  if (g.outputs.empty()) throw Error(fmt::format("graph '{}' has no outputs", g.name));
  for (const Output& o : g.outputs) {
    if (o.node < 0 || o.node >= static_cast<int>(g.nodes.size()))
      throw Error(fmt::format("graph '{}': output '{}' refers to undefined value %{}", g.name, o.name, o.node));
    if (!output_names.insert(o.name).second)
      throw Error(fmt::format("graph '{}': two outputs are named '{}'", g.name, o.name));
  }
  // Every input symbol must be bound by an input.
  const auto syms = g.symbols();
  for (const Node& n : g.nodes)
    for (const Dim& d : n.type.shape)
      if (!d.is_static() && std::find(syms.begin(), syms.end(), d.sym) == syms.end())
        throw Error(fmt::format("{}: dimension {} is not bound by any input", g.describe(n.id), d.sym));
}

std::vector<ops::RefTensor> evaluate(const Graph& g, std::span<const ops::RefTensor> inputs,
                                     std::span<const ops::RefTensor> params) {
  const auto in_ids = g.inputs(), param_ids = g.params();
  if (inputs.size() != in_ids.size() || params.size() != param_ids.size())
    throw Error(fmt::format("evaluate: graph '{}' takes {} inputs and {} params, got {} and {}", g.name,
                            in_ids.size(), param_ids.size(), inputs.size(), params.size()));
  std::map<std::string, int64_t> binding;
  std::vector<ops::RefTensor> values(g.nodes.size());
  for (size_t i = 0; i < in_ids.size(); ++i) {
    const Node& n = g.node(in_ids[i]);
    if (inputs[i].shape.size() != n.type.shape.size())
      throw Error(fmt::format("evaluate: input '{}' has rank {}, expected {}", n.attrs.name, inputs[i].shape.size(),
                              shape_str(n.type.shape)));
    for (size_t a = 0; a < n.type.shape.size(); ++a) {
      const Dim& d = n.type.shape[a];
      const int64_t got = inputs[i].shape[a];
      if (d.is_static() ? got != d.size : (binding.count(d.sym) && binding[d.sym] != got))
        throw Error(fmt::format("evaluate: input '{}' has shape {}, expected {}", n.attrs.name,
                                shape_string(inputs[i].shape), shape_str(n.type.shape)));
      if (!d.is_static()) binding[d.sym] = got;
    }
    values[in_ids[i]] = inputs[i];
  }
  for (size_t i = 0; i < param_ids.size(); ++i) values[param_ids[i]] = params[i];
  for (const Node& n : g.nodes) {
    if (n.op == Op::Input || n.op == Op::Param) continue;
    Node concrete = n;
    for (Dim& d : concrete.type.shape)
      if (!d.is_static()) d = Dim(binding.at(d.sym));
    std::vector<const ops::RefTensor*> in;
    for (int i : n.inputs) in.push_back(&values[i]);
    values[n.id] = ops::reference(concrete, in);
  }
  std::vector<ops::RefTensor> out;
  for (const Output& o : g.outputs) out.push_back(values[o.node]);
  return out;
}

}  // namespace brine::ir
