// Codegen passes over a graph, applied before fusion by the JIT, the AOT
// emitter, the listings and brinec's fused views: the scan ops (the
// recurrent cells) and the layout of constant weights. Each rewrites the
// graph into an equivalent one; inputs, parameters and outputs keep their
// order and names, and the result is verified.
#pragma once

#include "ir/graph.h"

namespace brine::codegen {

// Panels of this many columns: a multiple of every vector width brine
// targets (AVX2 and AVX-512, float and double).
constexpr int kPanelWidth = 16;

// Each scan op's recurrent kernel handed to it as column panels
// (pack_panels), packed once per call, when its units are a multiple of the
// panel width. A step's matmul reads a tile's slice of the kernel: 256 rows
// by 32 columns for lstm256, each row 4 KiB from the next in a (256, 1024)
// matrix, so every row of the slice was in another page and the slice kept
// leaving L1. As panels the slice is contiguous (lstm256's forward scan:
// 6.4 -> 5.1 ms). The backward's transposed kernel (a transpose feeding the
// scan) is packed from the kernel itself, the transpose folded into the
// packing; a transpose left without consumers is dropped.
//
// With `dense_kernels`, also each matmul whose right operand is a parameter
// matrix of at least kPackedKernelElements elements and a multiple of
// kPanelWidth columns reads it as panels (matmul's packed_b): a register
// tile's columns of the kernel are then one contiguous stream instead of
// rows N elements apart, which on an Intel L1 fall into a few cache sets
// (mlp_b256's forward: see docs/scheduling.md). Only for models compiled
// with frozen parameters (CompileOptions::frozen_params): the packing reads
// parameters only, so they pack once (rt::Executor's cached steps); packed
// on every call, it cost more than it saved in a training step (mlp_b256's
// forward+backward, 4%) and far more in a small batch's inference.
//
// A matrix read by several scans and products is packed once.
constexpr int64_t kPackedKernelElements = 1 << 16;
ir::Graph pack_weights(const ir::Graph& g, bool dense_kernels = false);

// lstm and gru nodes whose gate workspace nobody reads (every consumer
// slices states out of the output: an inference graph) get states_only and
// write only their states per step: 2 of LSTM's 6 slots, 1 of GRU's 5.
ir::Graph drop_unread_workspaces(const ir::Graph& g);

// An lstm, simple_rnn or gru whose z is add(matmul(x, w), b), read by nothing
// else, takes x, w and b instead (input_projection): each step accumulates
// its x_t w into the gate registers with h_{t-1} r (GRU: into tiles of its
// own, since r scales the candidate's recurrent term), so z (N, T, 4U) is
// never written nor read back (lstm256's forward: the projection's 2.2 ms
// kernel and z's 13 MB round trip through memory; a GRU(256) of the same
// shapes 5.0-5.1 -> 4.8 ms, and 5.1-5.2 -> 4.8-4.9 without reset_after).
// Only when the units are a multiple of the panel width (w is then packed
// like r): on smaller layers the separate kernel was faster (seed_lstm's 8
// units: 0.93–1.08 µs against 1.24–1.32 fused). Runs after differentiation:
// the backward reads x and dz, never z.
ir::Graph fuse_input_projections(const ir::Graph& g);

// All of them (see CompileOptions: fuse_input_projections only with
// `projection_in_scan`, Dense kernels packed only with `frozen_params`):
// fuse_input_projections, drop_unread_workspaces, pack_weights.
ir::Graph prepare_graph(const ir::Graph& g, bool projection_in_scan = true, bool frozen_params = false);

}  // namespace brine::codegen
