#include "ir/autodiff.h"

#include <fmt/format.h>

#include <algorithm>

#include "ir/builder.h"
#include "ir/verify.h"
#include "ops/registry.h"

namespace brine::ir {

Graph differentiate(const Graph& g, int loss, const std::vector<int>& wrt) {
  const int n_fwd = static_cast<int>(g.nodes.size());
  if (loss < 0 || loss >= n_fwd) throw Error(fmt::format("differentiate: loss %{} is not a node of '{}'", loss, g.name));
  if (g.node(loss).type.rank() != 0)
    throw Error(fmt::format("differentiate: the loss must be a scalar, but {} has shape {}; reduce it first (reduce_sum)",
                            g.describe(loss), shape_str(g.node(loss).type.shape)));
  for (int w : wrt)
    if (w < 0 || w >= n_fwd) throw Error(fmt::format("differentiate: %{} is not a node of '{}'", w, g.name));

  // Only nodes between a wrt and the loss need adjoints.
  std::vector<bool> depends(n_fwd, false), feeds_loss(n_fwd, false);
  for (int w : wrt) depends[w] = true;
  for (const Node& n : g.nodes)
    for (int i : n.inputs) depends[n.id] = depends[n.id] || depends[i];
  feeds_loss[loss] = true;
  for (int id = loss; id >= 0; --id)
    if (feeds_loss[id])
      for (int i : g.node(id).inputs) feeds_loss[i] = true;

  Graph out = g;
  out.outputs.clear();
  std::vector<std::vector<int>> contributions(n_fwd);
  std::vector<int> adjoint(n_fwd, -1);
  {
    GraphBuilder seed(out, "backward");
    contributions[loss].push_back(seed.constant(1.0, g.node(loss).type.dtype));
  }
  for (int id = loss; id >= 0; --id) {
    if (!depends[id] || !feeds_loss[id] || contributions[id].empty()) continue;
    const Node node = out.node(id);  // a copy: the builder appends to out.nodes
    GraphBuilder b(out, node.layer.empty() ? "backward" : "backward/" + node.layer);
    // Adjoints that meet are summed.
    int total = contributions[id][0];
    for (size_t c = 1; c < contributions[id].size(); ++c) total = b.add(total, contributions[id][c]);
    adjoint[id] = total;
    if (op_info(node.op).kind == FusionKind::Leaf) continue;
    const std::vector<int> d = ops::vjp(b, node, total);
    BRINE_CHECK_INTERNAL(d.size() == node.inputs.size(), fmt::format("{} VJP returned {} adjoints for {} inputs",
                                                                      op_name(node.op), d.size(), node.inputs.size()));
    for (size_t i = 0; i < d.size(); ++i) {
      const int in = node.inputs[i];
      if (d[i] < 0 || !depends[in]) continue;
      BRINE_CHECK_INTERNAL(out.node(d[i]).type.shape == out.node(in).type.shape,
                           fmt::format("{} VJP gave input {} an adjoint of shape {}, expected {}", op_name(node.op), i,
                                       shape_str(out.node(d[i]).type.shape), shape_str(out.node(in).type.shape)));
      contributions[in].push_back(d[i]);
    }
  }
  out.outputs.push_back({"loss", loss});
  GraphBuilder zeros(out, "backward");
  for (int w : wrt) {
    const Node& wn = g.node(w);
    const std::string name = "grad/" + (wn.attrs.name.empty() ? fmt::format("%{}", w) : wn.attrs.name);
    int a = adjoint[w];
    if (a < 0) a = zeros.broadcast_like(zeros.constant(0.0, wn.type.dtype), w);
    out.outputs.push_back({name, a});
  }
  eliminate_dead_code(out);
  verify(out);
  return out;
}

void eliminate_dead_code(Graph& g) {
  std::vector<bool> live(g.nodes.size(), false);
  for (const Output& o : g.outputs) live[o.node] = true;
  for (int id = static_cast<int>(g.nodes.size()) - 1; id >= 0; --id) {
    const Node& n = g.nodes[id];
    if (n.op == Op::Input || n.op == Op::Param) live[id] = true;
    if (live[id])
      for (int i : n.inputs) live[i] = true;
  }
  std::vector<int> new_id(g.nodes.size(), -1);
  std::vector<Node> kept;
  for (Node& n : g.nodes) {
    if (!live[n.id]) continue;
    new_id[n.id] = static_cast<int>(kept.size());
    for (int& i : n.inputs) i = new_id[i];
    n.id = new_id[n.id];
    kept.push_back(std::move(n));
  }
  g.nodes = std::move(kept);
  for (Output& o : g.outputs) o.node = new_id[o.node];
}

Graph differentiate_sum_of_outputs(const Graph& g) {
  Graph sum = g;
  GraphBuilder b(sum, "loss");
  int loss = -1;
  for (const Output& o : g.outputs) {
    std::vector<int64_t> all;
    for (int a = 0; a < g.node(o.node).type.rank(); ++a) all.push_back(a);
    const int s = all.empty() ? o.node : b.reduce_sum(o.node, all, false);
    loss = loss < 0 ? s : b.add(loss, s);
  }
  return differentiate(sum, loss, sum.params());
}

}  // namespace brine::ir
