// Reverse-mode autodiff on the IR. The backward graph is ordinary IR appended
// to a copy of the forward graph: it is fused, scheduled, compiled and
// printed like any other.
#pragma once

#include <vector>

#include "ir/graph.h"

namespace brine::ir {

// d loss / d wrt[i] for a scalar (rank 0) `loss`. The result holds the
// forward nodes and the backward ones; its outputs are ("loss", loss) then
// ("grad/NAME", gradient) per wrt, NAME being the input's or parameter's name
// (or "%id"). A wrt that the loss does not depend on gets zeros.
Graph differentiate(const Graph& g, int loss, const std::vector<int>& wrt);

// Removes the nodes no output depends on (a VJP builds the adjoints of all
// its inputs; those nobody asked for are dead). Inputs and parameters stay:
// they are the graph's interface.
void eliminate_dead_code(Graph& g);

// The conventional training objective of a model without a loss:
// loss = sum of all elements of all outputs, gradients for every parameter.
Graph differentiate_sum_of_outputs(const Graph& g);

}  // namespace brine::ir
