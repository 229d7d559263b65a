#include "ir/graph.h"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace brine::ir {

std::string shape_str(const Shape& s) {
  std::vector<std::string> parts;
  for (const Dim& d : s) parts.push_back(d.str());
  if (parts.size() == 1) return "(" + parts[0] + ",)";
  return fmt::format("({})", fmt::join(parts, ", "));
}

std::string type_str(const TensorType& t) {
  std::vector<std::string> parts;
  for (const Dim& d : t.shape) parts.push_back(d.str());
  return fmt::format("{}[{}]", dtype_name(t.dtype), fmt::join(parts, ","));
}

int64_t static_elements(const Shape& s) {
  int64_t n = 1;
  for (const Dim& d : s)
    if (d.is_static()) n *= d.size;
  return n;
}

bool all_static(const Shape& s) {
  return std::all_of(s.begin(), s.end(), [](const Dim& d) { return d.is_static(); });
}

int Graph::add(Node n) {
  n.id = static_cast<int>(nodes.size());
  nodes.push_back(std::move(n));
  return nodes.back().id;
}

std::vector<int> Graph::inputs() const {
  std::vector<int> r;
  for (const Node& n : nodes)
    if (n.op == Op::Input) r.push_back(n.id);
  return r;
}

std::vector<int> Graph::params() const {
  std::vector<int> r;
  for (const Node& n : nodes)
    if (n.op == Op::Param) r.push_back(n.id);
  return r;
}

std::vector<std::vector<int>> Graph::consumers() const {
  std::vector<std::vector<int>> c(nodes.size());
  for (const Node& n : nodes)
    for (int i : n.inputs) c.at(i).push_back(n.id);
  return c;
}

std::vector<std::string> Graph::symbols() const {
  std::vector<std::string> syms;
  for (const Node& n : nodes)
    if (n.op == Op::Input)
      for (const Dim& d : n.type.shape)
        if (!d.is_static() && std::find(syms.begin(), syms.end(), d.sym) == syms.end())
          syms.push_back(d.sym);
  return syms;
}

std::string Graph::describe(int id) const {
  if (id < 0 || id >= static_cast<int>(nodes.size())) return fmt::format("node %{}", id);
  const Node& n = nodes[id];
  std::string s = fmt::format("node %{} ({}", id, op_name(n.op));
  if (!n.attrs.name.empty()) s += fmt::format(" '{}'", n.attrs.name);
  if (!n.layer.empty()) s += fmt::format(", layer '{}'", n.layer);
  if (!n.loc.empty()) s += ", " + n.loc;
  return s + ")";
}

}  // namespace brine::ir
