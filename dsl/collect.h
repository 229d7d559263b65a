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

}  // namespace brine
