// A codegen pass: the recurrent kernel each scan op reads at every step is
// handed to it as column panels (pack_panels), packed once per call.
//
// A step's matmul reads a tile's slice of the kernel: 256 rows by 32 columns
// for lstm256, each row 4 KiB from the next in a (256, 1024) matrix, so every
// row of the slice was in another page and the slice kept leaving L1. As
// panels of w columns the slice is contiguous (lstm256's forward scan: 6.4 ->
// 5.1 ms). The backward's transposed kernel (a transpose op feeding the scan)
// is packed from the kernel itself, the transpose folded into the packing.
#pragma once

#include "ir/graph.h"

namespace brine::codegen {

// Panels of this many columns: a multiple of every vector width brine
// targets (AVX2 and AVX-512, float and double).
constexpr int kPanelWidth = 16;

// The graph with every scan op's recurrent kernel packed, when its units are
// a multiple of the panel width (else the op reads the matrix as it is).
// Inputs, parameters and outputs keep their order and names; a transpose
// left without consumers is dropped. The result is verified.
ir::Graph pack_scan_weights(const ir::Graph& g);

}  // namespace brine::codegen
