// From the DSL's expression DAG to IR: shared by Model and grad.
#pragma once

#include <functional>
#include <map>

#include "dsl/expr.h"

namespace brine {

using ExprIds = std::map<const ExprNode*, int>;

// Adds one node whose inputs are already in `ids`.
int add_expr_node(ir::Graph& g, ExprIds& ids, const ExprNode* e);

// Adds the DAG below `root` in post-order, skipping nodes already in `ids`.
// `check` sees every new node before it is added and may throw. Iterative, so
// that long chains cannot overflow the stack.
void collect_dag(ir::Graph& g, ExprIds& ids, const ExprNode* root, const std::function<void(const ExprNode*)>& check);

// The reverse: every node of a graph as an expression (by node id), so that
// a compiled-model graph can be extended in the DSL (losses, training steps).
std::vector<Expr> exprs_from_graph(const ir::Graph& g);

// A rank-0 input (no batch axis): learning rates and other per-step scalars.
Expr scalar_input(const std::string& name, DType dtype);
// A parameter made by a pass rather than a layer (optimizer slots).
Expr make_param(const std::string& name, const Shape& shape, DType dtype, const std::string& init);

}  // namespace brine
