// What an op family's Halide lowering and schedule see of the kernel being
// built. Halide dims are the IR axes reversed: Halide dim 0 is the innermost
// (last) Keras axis, so every Func call goes through `at(f, idx)` with the
// index in IR axis order.
#pragma once

#include <Halide.h>

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace brine::codegen {

Halide::FuncRef at(const Halide::Func& f, const std::vector<Halide::Expr>& idx);
Halide::FuncRef at(const Halide::Func& f, const std::vector<Halide::Var>& idx);
// Vars for a tensor of this rank, in IR axis order, named after Halide's
// convention from the innermost outwards (x, y, z, w, d4, ...).
std::vector<Halide::Var> axis_vars(int rank);
// The reduction variables of one of f's updates (the first by default),
// innermost first, as a schedule names them.
std::vector<Halide::RVar> update_rvars(const Halide::Func& f, int update = 0);
// "relu_5": the op and node id. (A Func named plainly "tanh" would collide
// with the math library's symbol.)
std::string func_name(const ir::Node& n, const char* suffix = "");

struct LowerCtx {
  const ir::Graph& graph;
  Halide::Type type;  // Float(32) or Float(64)
  std::map<int, Halide::Func> funcs{};                   // node id -> its Func
  std::map<int, std::vector<Halide::Func>> stages{};     // node id -> helper stages (accumulators)
  std::map<std::string, Halide::Expr> symbol_extents{};  // "N" -> extent of a buffer dim
  Halide::Func self{};  // a scan kernel's own output, whole (earlier steps); undefined elsewhere

  const Halide::Func& in(const ir::Node& n, int i) const { return funcs.at(n.inputs.at(i)); }
  const ir::TensorType& in_type(const ir::Node& n, int i) const {
    return graph.node(n.inputs.at(i)).type;
  }
  Halide::Expr extent(const ir::Dim& d) const;
};

// The kernel as its schedule sees it: the output Func (the group's last
// node), the node that anchors the group, and the target's vector width.
struct ScheduleCtx {
  LowerCtx& lower;
  const ir::Node& anchor;
  const ir::Node& tail;
  Halide::Func out;
  std::vector<Halide::Var> out_vars;  // IR axis order
  int vector_width;                   // natural vector size of the element type
};

// Shared by the pointwise-like schedules: vectorize the innermost axis
// (specialized on its extent so small tails fall back to scalar code) and
// parallelize the outermost when there is enough work to pay for waking the
// thread pool.
void schedule_pointwise(ScheduleCtx& s);

}  // namespace brine::codegen
