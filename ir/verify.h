#pragma once

#include <span>
#include <vector>

#include "ir/graph.h"
#include "ops/rules.h"

namespace brine::ir {

// Checks structure (topological order, arity, names, outputs) and that every
// node's type equals its op's type rule. Throws brine::Error naming the node.
void verify(const Graph& g);
// Recomputes every node's type from its inputs (leaves keep theirs).
void infer_types(Graph& g);

// The reference evaluation of the whole graph in double precision. Inputs
// and params in the order of Graph::inputs() / Graph::params().
std::vector<ops::RefTensor> evaluate(const Graph& g, std::span<const ops::RefTensor> inputs,
                                     std::span<const ops::RefTensor> params);

}  // namespace brine::ir
