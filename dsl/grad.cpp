#include "dsl/grad.h"

#include <fmt/format.h>

#include "dsl/collect.h"
#include "ir/autodiff.h"

namespace brine {

std::vector<Expr> grad(const Expr& loss, const std::vector<Expr>& wrt, Loc loc) {
  const Site site{"grad", Site::format(loc)};
  if (!loss.defined()) site.fail("the loss is undefined");
  if (loss.rank() != 0)
    site.fail(fmt::format("the loss must be a scalar, got shape {}; reduce it first (reduce_sum, reduce_mean)",
                          ir::shape_str(loss.shape())));
  ir::Graph g;
  ExprIds ids;
  const auto no_check = [](const ExprNode*) {};
  collect_dag(g, ids, loss.node().get(), no_check);
  std::vector<int> wrt_ids;
  for (size_t i = 0; i < wrt.size(); ++i) {
    if (!wrt[i].defined()) site.fail(fmt::format("wrt[{}] is undefined", i));
    collect_dag(g, ids, wrt[i].node().get(), no_check);
    wrt_ids.push_back(ids.at(wrt[i].node().get()));
  }
  const int n_fwd = static_cast<int>(g.nodes.size());
  // Owning pointers to the caller's nodes, so the gradients keep them alive.
  std::vector<std::shared_ptr<const ExprNode>> owned(n_fwd);
  std::vector<std::shared_ptr<const ExprNode>> stack{loss.node()};
  for (const Expr& e : wrt) stack.push_back(e.node());
  while (!stack.empty()) {
    auto e = std::move(stack.back());
    stack.pop_back();
    const int slot_id = ids.at(e.get());
    if (owned[slot_id]) continue;
    for (const auto& c : e->inputs) stack.push_back(c);
    owned[slot_id] = std::move(e);
  }

  const ir::Graph back = ir::differentiate(g, ids.at(loss.node().get()), wrt_ids);
  // The backward nodes, as expressions over the caller's own nodes.
  std::vector<std::shared_ptr<const ExprNode>> made(back.nodes.size());
  const auto expr_of = [&](int id) { return id < n_fwd ? owned[id] : made[id]; };
  for (int id = n_fwd; id < static_cast<int>(back.nodes.size()); ++id) {
    const ir::Node& n = back.node(id);
    auto e = std::make_shared<ExprNode>();
    e->op = n.op;
    for (int in : n.inputs) e->inputs.push_back(expr_of(in));
    e->attrs = n.attrs;
    e->type = n.type;
    e->layer = n.layer;
    e->loc = site.loc;
    made[id] = e;
  }
  std::vector<Expr> out;
  for (size_t i = 0; i < wrt.size(); ++i) out.emplace_back(expr_of(back.outputs[1 + i].node));
  return out;
}

}  // namespace brine
