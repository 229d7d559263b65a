// Groups IR nodes into kernels, reading only each op's FusionKind: an
// elementwise or broadcast op joins the kernel of the producer whose result it
// alone consumes (Dense = matmul + bias add + activation becomes one kernel;
// a chain of elementwise ops becomes one kernel), and elementwise kernels that
// only feed that op merge in as well. Every other op anchors a new kernel.
// Leaves and views are never kernels: a reshape is always a view of its
// input's buffer, and so is a slice that would be a kernel of its own (a
// copy) when its strides, and those of the reshapes of it, exist: the
// kernels reading it take the base's strides (an LSTM's h or dz slots).
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
  // Per input: empty when it is dense row-major, else its strides in
  // elements, outermost axis first, -1 where they depend on a dynamic size.
  std::vector<std::vector<int64_t>> input_strides;
};

struct Partition {
  std::vector<KernelGroup> kernels;  // in execution order (by tail id)
  std::vector<int> kernel_of;        // node id -> kernel index, -1 if none
  std::vector<bool> view;            // node id -> read in place from its input's buffer
};

Partition fuse(const ir::Graph& g);
// The IR with kernel boundaries: `brinec --emit=fused`.
std::string print_fused(const ir::Graph& g, const Partition& p);

}  // namespace brine::codegen
