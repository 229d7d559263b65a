#include "codegen/graph_passes.h"

#include <algorithm>
#include <map>

#include "ir/autodiff.h"
#include "ir/builder.h"
#include "ir/verify.h"
#include "ops/recurrent.h"

namespace brine::codegen {

namespace {

// Operand w of scan n (one of ops::packable_weight_operands) goes as panels.
bool packable(const ir::Graph& g, const ir::Node& n, int w) {
  if (w < 0) return false;
  const ir::TensorType& t = g.node(n.inputs[w]).type;
  const ir::Dim& units = n.type.shape[3];
  return t.rank() == 2 && ir::all_static(t.shape) && units.is_static() && units.size % kPanelWidth == 0;
}

// pack_panels(from) in `out`, panels of kPanelWidth columns (of fromᵀ with `transposed`).
int add_panels(ir::Graph& out, const std::string& layer, int from, bool transposed = false) {
  ir::Attrs a;
  a.axes = {kPanelWidth};
  a.transpose_a = transposed;
  return ir::GraphBuilder(out, layer).op(ir::Op::PackPanels, {from}, a);
}

bool is_matrix_transpose(const ir::Node& n) {
  return n.op == ir::Op::Transpose && n.attrs.axes == std::vector<int64_t>{1, 0};
}

}  // namespace

ir::Graph pack_weights(const ir::Graph& g, bool dense_kernels) {
  const auto consumers = g.consumers();
  std::vector<bool> is_output(g.nodes.size(), false);
  for (const ir::Output& o : g.outputs) is_output[o.node] = true;
  // Transposes read only by packed scans are folded into their packing.
  std::vector<bool> folded(g.nodes.size(), false);
  for (const ir::Node& n : g.nodes) {
    if (!is_matrix_transpose(n) || is_output[n.id] || consumers[n.id].empty()) continue;
    bool all = true;
    for (int c : consumers[n.id]) {
      const ir::Node& user = g.node(c);
      const int w = ops::recurrent_weight_operand(user);
      all = all && packable(g, user, w) && user.inputs[w] == n.id &&
            std::count(user.inputs.begin(), user.inputs.end(), n.id) == 1;
    }
    folded[n.id] = all;
  }
  const auto dense_kernel = [&](const ir::Node& n) {
    if (!dense_kernels || n.op != ir::Op::MatMul || n.attrs.transpose_b || n.attrs.packed_b || !n.attrs.axes.empty())
      return false;
    const ir::Node& w = g.node(n.inputs[1]);
    if (w.op != ir::Op::Param || w.type.rank() != 2 || !ir::all_static(w.type.shape)) return false;
    return w.type.shape[1].size % kPanelWidth == 0 && w.type.shape[0].size * w.type.shape[1].size >= kPackedKernelElements;
  };

  ir::Graph out;
  out.name = g.name;
  std::vector<int> id(g.nodes.size(), -1);
  // (source in out, transposed) -> its panels: a matrix read by several
  // scans and products is packed once.
  std::map<std::pair<int, bool>, int> packed;
  const auto panels = [&](const std::string& layer, int from, bool transposed) {
    auto [it, fresh] = packed.try_emplace({from, transposed}, -1);
    if (fresh) it->second = add_panels(out, layer, from, transposed);
    return it->second;
  };
  for (const ir::Node& n : g.nodes) {
    if (folded[n.id]) continue;
    ir::Node copy = n;
    for (int& in : copy.inputs) in = id[in];
    for (int w : ops::packable_weight_operands(n)) {
      if (!packable(g, n, w)) continue;
      const ir::Node& src = g.node(n.inputs[w]);
      const bool transposed = folded[src.id];
      copy.inputs[w] = panels(n.layer, transposed ? id[src.inputs[0]] : id[src.id], transposed);
    }
    if (dense_kernel(n)) {
      copy.inputs[1] = panels(n.layer, copy.inputs[1], false);
      copy.attrs.packed_b = true;
    }
    id[n.id] = out.add(std::move(copy));
  }
  for (const ir::Output& o : g.outputs) out.outputs.push_back({o.name, id[o.node]});
  ir::verify(out);
  return out;
}

ir::Graph drop_unread_workspaces(const ir::Graph& g) {
  const auto consumers = g.consumers();
  std::vector<bool> is_output(g.nodes.size(), false);
  for (const ir::Output& o : g.outputs) is_output[o.node] = true;
  // Whether everything read from node `id` (a scan's output, or a slice of
  // it along the batch or time axes, such as the last step) lies in the
  // first `states` slots; slice attrs are {axis, start, length}, slots axis 2.
  const auto reads_only_states = [&](auto&& self, int id, int64_t states) -> bool {
    if (is_output[id]) return false;
    for (int c : consumers[id]) {
      const ir::Node& user = g.node(c);
      const auto& a = user.attrs.axes;
      if (user.op != ir::Op::Slice || a.size() != 3) return false;
      const bool slots = a[0] == 2 && a[1] >= 0 && a[1] + a[2] <= states;
      if (!slots && !((a[0] == 0 || a[0] == 1) && self(self, c, states))) return false;
    }
    return true;
  };
  ir::Graph out = g;
  const auto narrow = [&](auto&& self, int id, int64_t states) -> void {
    out.node(id).type.shape[2] = states;
    for (int c : consumers[id])
      if (g.node(c).attrs.axes[0] != 2) self(self, c, states);
  };
  bool changed = false;
  for (const ir::Node& n : g.nodes) {
    if ((n.op != ir::Op::Lstm && n.op != ir::Op::Gru) || n.attrs.states_only) continue;
    const int64_t states = n.op == ir::Op::Lstm ? 2 : 1;
    if (!reads_only_states(reads_only_states, n.id, states)) continue;
    out.node(n.id).attrs.states_only = true;
    narrow(narrow, n.id, states);
    changed = true;
  }
  if (changed) ir::verify(out);
  return out;
}

ir::Graph fuse_input_projections(const ir::Graph& g) {
  const auto consumers = g.consumers();
  std::vector<bool> is_output(g.nodes.size(), false);
  for (const ir::Output& o : g.outputs) is_output[o.node] = true;
  const auto only_read_by = [&](int id, int user) {
    return !is_output[id] && consumers[id] == std::vector<int>{user};
  };
  ir::Graph out = g;
  bool changed = false;
  for (const ir::Node& n : g.nodes) {
    if ((n.op != ir::Op::Lstm && n.op != ir::Op::SimpleRnn && n.op != ir::Op::Gru) || n.attrs.input_projection) continue;
    // Only layers whose kernels go as panels: on smaller ones (seed_lstm's
    // 8 units) the step's extra product cost more than z's round trip.
    const ir::Dim& units = n.type.shape[3];
    if (!units.is_static() || units.size % kPanelWidth != 0) continue;
    const ir::Node& z = g.node(n.inputs[0]);
    if (z.op != ir::Op::Add || !only_read_by(z.id, n.id) || std::count(n.inputs.begin(), n.inputs.end(), z.id) != 1)
      continue;
    for (int side : {0, 1}) {  // add(matmul(x, w), b), either way round
      const ir::Node &mm = g.node(z.inputs[side]), &bias = g.node(z.inputs[1 - side]);
      if (mm.op != ir::Op::MatMul || mm.attrs.transpose_a || mm.attrs.transpose_b || !mm.attrs.axes.empty() ||
          !only_read_by(mm.id, z.id))
        continue;
      const ir::TensorType &x = g.node(mm.inputs[0]).type, &w = g.node(mm.inputs[1]).type;
      if (x.rank() != 3 || w.rank() != 2 || mm.type != z.type || bias.type.shape != ir::Shape{w.shape[1]}) continue;
      ir::Node& fused = out.node(n.id);
      fused.inputs = {mm.inputs[0], mm.inputs[1], bias.id};
      fused.inputs.insert(fused.inputs.end(), n.inputs.begin() + 1, n.inputs.end());
      fused.attrs.input_projection = true;
      changed = true;
      break;
    }
  }
  if (!changed) return g;
  ir::eliminate_dead_code(out);
  ir::verify(out);
  return out;
}

ir::Graph prepare_graph(const ir::Graph& g, bool projection_in_scan, bool frozen_params) {
  return pack_weights(drop_unread_workspaces(projection_in_scan ? fuse_input_projections(g) : g), frozen_params);
}

}  // namespace brine::codegen
