// Groups IR nodes into kernels, reading only each op's FusionKind: an
// elementwise or broadcast op joins the kernel of the producer whose result it
// alone consumes (Dense = matmul + bias add + activation becomes one kernel;
// a chain of elementwise ops becomes one kernel), and elementwise kernels that
// only feed that op merge in as well. Every other op anchors a new kernel.
// Leaves and views (reshape) are never kernels.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace brine::codegen {

struct KernelGroup {
  std::vector<int> nodes;   // in topological order
  int anchor = -1;          // the node whose family schedules the kernel (the first, or the non-elementwise one)
  int tail = -1;            // the last node: the kernel's output
  std::vector<int> inputs;  // buffers read (node ids outside the group, constants excluded)
};

struct Partition {
  std::vector<KernelGroup> kernels;  // in execution order (by tail id)
  std::vector<int> kernel_of;        // node id -> kernel index, -1 if none
};

Partition fuse(const ir::Graph& g);
// The IR with kernel boundaries: `brinec --emit=fused`.
std::string print_fused(const ir::Graph& g, const Partition& p);

}  // namespace brine::codegen
