// From a fused graph to the runtime's execution plan (rt::ProgramSpec):
// one buffer per value that lives in memory, one step per kernel.
#pragma once

#include "codegen/fusion.h"
#include "ir/graph.h"
#include "runtime/program.h"

namespace brine::codegen {

// `kernel_names[k]` names kernel k of `p`.
rt::ProgramSpec build_program(const ir::Graph& g, const Partition& p, DType dtype,
                              const std::vector<std::string>& kernel_names);
// A C identifier from any name ("dense_1/kernel" -> "dense_1_kernel").
std::string c_identifier(const std::string& s);

}  // namespace brine::codegen
