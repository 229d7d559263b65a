#include "codegen/fusion.h"

#include <algorithm>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <optional>

#include "codegen/views.h"

namespace brine::codegen {

using ir::FusionKind;

namespace {

// Every reshape read from `id` (transitively) can be read in place.
bool reshapes_in_place(const ir::Graph& g, const std::vector<std::vector<int>>& consumers, const StrideProbe& probe,
                       int id) {
  for (int c : consumers[id])
    if (g.node(c).op == ir::Op::Reshape && (!probe.strides(c) || !reshapes_in_place(g, consumers, probe, c)))
      return false;
  return true;
}

}  // namespace

Partition fuse(const ir::Graph& g) {
  const auto consumers = g.consumers();
  std::vector<bool> is_output(g.nodes.size(), false);
  for (const ir::Output& o : g.outputs) is_output[o.node] = true;

  std::vector<KernelGroup> groups;
  std::vector<int> group_of(g.nodes.size(), -1);
  for (const ir::Node& n : g.nodes) {
    const FusionKind kind = ir::op_info(n.op).kind;
    if (kind == FusionKind::Leaf || kind == FusionKind::View) continue;
    int join = -1;
    if (kind == FusionKind::Elementwise || kind == FusionKind::Broadcast) {
      // A producer anchored by a matmul or reduction is joined first, so that
      // elementwise siblings merge into it below (SGD momentum's
      // m*v - lr*g: the update runs in the kernel that computes g).
      for (const bool want_heavy : {true, false})
        for (int p : n.inputs) {
          const int gp = group_of[p];
          if (join >= 0 || gp < 0 || groups[gp].tail != p || is_output[p]) continue;
          const FusionKind pk = ir::op_info(g.node(groups[gp].anchor).op).kind;
          if (pk == FusionKind::Scan) continue;  // a scan kernel writes one step per call
          if (want_heavy == (pk == FusionKind::Elementwise || pk == FusionKind::Broadcast)) continue;
          const auto& c = consumers[p];
          if (std::all_of(c.begin(), c.end(), [&](int id) { return id == n.id; })) join = gp;
        }
    }
    if (join < 0) {
      join = static_cast<int>(groups.size());
      groups.push_back({});
      groups.back().anchor = n.id;
    }
    // Sibling elementwise kernels that only feed n merge into n's kernel too
    // (sigmoid(h) + tanh(h): one kernel reading h, not three).
    if (kind == FusionKind::Elementwise || kind == FusionKind::Broadcast) {
      for (int q : n.inputs) {
        const int gq = group_of[q];
        if (gq < 0 || gq == join || groups[gq].tail != q || is_output[q]) continue;
        const FusionKind ak = ir::op_info(g.node(groups[gq].anchor).op).kind;
        if (ak != FusionKind::Elementwise && ak != FusionKind::Broadcast) continue;
        const auto& c = consumers[q];
        if (!std::all_of(c.begin(), c.end(), [&](int id) { return id == n.id; })) continue;
        for (int id : groups[gq].nodes) group_of[id] = join;
        auto& dst = groups[join].nodes;
        dst.insert(dst.end(), groups[gq].nodes.begin(), groups[gq].nodes.end());
        std::sort(dst.begin(), dst.end());
        // The anchor picks the schedule: a matmul or reduction anchor stays.
        const FusionKind jk = ir::op_info(g.node(groups[join].anchor).op).kind;
        if (jk == FusionKind::Elementwise || jk == FusionKind::Broadcast)
          groups[join].anchor = std::min(groups[join].anchor, groups[gq].anchor);
        groups[gq] = {};  // merged away
      }
    }
    groups[join].nodes.push_back(n.id);
    groups[join].tail = n.id;
    group_of[n.id] = join;
  }

  // A slice that is a kernel of its own (a copy) becomes a view when it and
  // the reshapes of it can be read in place, checked with two sets of probe
  // sizes (they are also the strides the kernels reading it are told).
  std::vector<bool> view(g.nodes.size(), false);
  for (const ir::Node& n : g.nodes) view[n.id] = ir::op_info(n.op).kind == FusionKind::View;
  const StrideProbe probe(g, view, 0), other_probe(g, view, 1);  // they read `view` as it changes
  for (KernelGroup& k : groups) {
    if (k.nodes.size() != 1 || g.node(k.anchor).op != ir::Op::Slice) continue;
    const ir::Node& n = g.node(k.anchor);
    if (g.node(n.inputs[0]).op == ir::Op::Constant) continue;
    view[n.id] = true;  // tentatively, for the probes
    if (reshapes_in_place(g, consumers, probe, n.id) && reshapes_in_place(g, consumers, other_probe, n.id)) {
      group_of[n.id] = -1;
      k = {};
    } else {
      view[n.id] = false;
    }
  }

  // Execution order: by tail. A kernel's inputs are tails of kernels with
  // lower tail ids (or leaves and views), so this order is topological.
  std::vector<int> order;
  for (size_t i = 0; i < groups.size(); ++i)
    if (!groups[i].nodes.empty()) order.push_back(static_cast<int>(i));
  std::sort(order.begin(), order.end(), [&](int a, int b) { return groups[a].tail < groups[b].tail; });
  Partition p;
  p.kernel_of.assign(g.nodes.size(), -1);
  p.view = view;
  for (int gi : order) {
    KernelGroup k = groups[gi];
    const int idx = static_cast<int>(p.kernels.size());
    for (int id : k.nodes) p.kernel_of[id] = idx;
    for (int id : k.nodes)
      for (int in : g.node(id).inputs)
        if (group_of[in] != gi && g.node(in).op != ir::Op::Constant &&
            std::find(k.inputs.begin(), k.inputs.end(), in) == k.inputs.end())
          k.inputs.push_back(in);
    for (int in : k.inputs) {
      const std::vector<int64_t> a = *probe.strides(in), b = *other_probe.strides(in);
      std::vector<int64_t> s;
      if (a != StrideProbe::dense(probe.extents(in)))
        for (size_t d = 0; d < a.size(); ++d) s.push_back(a[d] == b[d] ? a[d] : -1);
      k.input_strides.push_back(std::move(s));
    }
    p.kernels.push_back(std::move(k));
  }
  return p;
}

std::string print_fused(const ir::Graph& g, const Partition& p) {
  std::string out = fmt::format("# fused: {} kernel(s)\n", p.kernels.size());
  for (size_t k = 0; k < p.kernels.size(); ++k) {
    const KernelGroup& kg = p.kernels[k];
    std::vector<std::string> ins, ops;
    for (int i : kg.inputs) ins.push_back(fmt::format("%{}", i));
    for (int id : kg.nodes) ops.push_back(fmt::format("%{}={}", id, ir::op_name(g.node(id).op)));
    const ir::Node& a = g.node(kg.anchor);
    out += fmt::format("kernel {} [{}] ({}) -> %{} : {}\n    {}\n", k, ir::fusion_kind_name(ir::op_info(a.op).kind),
                       fmt::join(ins, ", "), kg.tail, ir::type_str(g.node(kg.tail).type), fmt::join(ops, " -> "));
  }
  for (const ir::Node& n : g.nodes)
    if (p.view[n.id])
      out += fmt::format("view %{} = {}(%{}) : {}\n", n.id, ir::op_name(n.op), n.inputs[0], ir::type_str(n.type));
  return out;
}

}  // namespace brine::codegen
