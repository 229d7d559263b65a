#pragma once
#include <string>
#include <vector>

#include "ops/family.h"
namespace brine::ops {
BRINE_DECLARE_OP_FAMILY(Recurrent);

// The activations a recurrent cell may use (Keras names): tanh, sigmoid,
// hard_sigmoid, relu, linear. Throws ShapeError naming the choices.
void check_cell_activation(const std::string& name, const char* what);

// A scan op's kernel computes one step along `axis` (an IR axis of its
// output) per call, reading earlier steps of its own output; `reverse` runs
// the steps from last to first (a backward pass through time).
struct ScanAxis {
  int axis = -1;  // -1: not a scan
  bool reverse = false;
};
ScanAxis scan_axis(ir::Op op);

// The operand a scan op reads its recurrent kernel from (r of the forward
// cells, rᵀ of their backward ops), or -1 for other ops. It may be given as
// pack_panels of the matrix (codegen/graph_passes.h).
int recurrent_weight_operand(const ir::Node& n);
// Every weight matrix operand that may be given as panels: the recurrent
// kernel and, with input_projection, the input kernel w.
std::vector<int> packable_weight_operands(const ir::Node& n);
}  // namespace brine::ops
