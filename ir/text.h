// The IR text format (docs/ir.md): printed, parsed back, and exported to DOT.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace brine::ir {

std::string print(const Graph& g);
// Parses and verifies. Errors name `source` (a file name), the line and column.
Graph parse(const std::string& text, const std::string& source = "<text>");

// Graphviz DOT. With `kernel_of` (node id -> kernel index, -1 for none), the
// nodes of each kernel are drawn in one cluster.
std::string to_dot(const Graph& g, const std::vector<int>* kernel_of = nullptr);

}  // namespace brine::ir
