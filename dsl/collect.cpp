#include "dsl/collect.h"

namespace brine {

int add_expr_node(ir::Graph& g, ExprIds& ids, const ExprNode* e) {
  ir::Node n;
  n.op = e->op;
  for (const auto& c : e->inputs) n.inputs.push_back(ids.at(c.get()));
  n.attrs = e->attrs;
  n.type = e->type;
  n.layer = e->layer;
  n.loc = e->loc;
  const int id = g.add(std::move(n));
  ids[e] = id;
  return id;
}

void collect_dag(ir::Graph& g, ExprIds& ids, const ExprNode* root, const std::function<void(const ExprNode*)>& check) {
  std::vector<std::pair<const ExprNode*, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [e, next] = stack.back();
    if (ids.count(e)) {
      stack.pop_back();
      continue;
    }
    if (next < e->inputs.size()) {
      const ExprNode* child = e->inputs[next++].get();
      if (!ids.count(child)) stack.push_back({child, 0});
      continue;
    }
    check(e);
    add_expr_node(g, ids, e);
    stack.pop_back();
  }
}

std::vector<Expr> exprs_from_graph(const ir::Graph& g) {
  std::vector<Expr> out;
  out.reserve(g.nodes.size());
  for (const ir::Node& n : g.nodes) {
    auto e = std::make_shared<ExprNode>();
    e->op = n.op;
    for (int i : n.inputs) e->inputs.push_back(out.at(i).node());
    e->attrs = n.attrs;
    e->type = n.type;
    e->layer = n.layer;
    e->loc = n.loc;
    out.emplace_back(std::move(e));
  }
  return out;
}

Expr scalar_input(const std::string& name, DType dtype) {
  auto e = std::make_shared<ExprNode>();
  e->op = ir::Op::Input;
  e->attrs.name = name;
  e->type = {dtype, {}};
  return Expr(std::move(e));
}

Expr make_param(const std::string& name, const Shape& shape, DType dtype, const std::string& init) {
  auto e = std::make_shared<ExprNode>();
  e->op = ir::Op::Param;
  e->attrs.name = name;
  e->attrs.init = init;
  e->type = {dtype, shape};
  return Expr(std::move(e));
}

}  // namespace brine
