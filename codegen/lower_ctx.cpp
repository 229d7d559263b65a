#include "codegen/lower_ctx.h"

#include "runtime/error.h"

namespace brine::codegen {

using namespace Halide;

FuncRef at(const Func& f, const std::vector<Expr>& idx) {
  return f(std::vector<Expr>(idx.rbegin(), idx.rend()));
}

FuncRef at(const Func& f, const std::vector<Var>& idx) {
  return f(std::vector<Expr>(idx.rbegin(), idx.rend()));
}

std::vector<Var> axis_vars(int rank) {
  static const char* names[] = {"x", "y", "z", "w"};
  std::vector<Var> v(rank);
  for (int a = 0; a < rank; ++a) {
    const int d = rank - 1 - a;  // Halide dim
    v[a] = Var(d < 4 ? std::string(names[d]) : "d" + std::to_string(d));
  }
  return v;
}

std::string func_name(const ir::Node& n, const char* suffix) {
  return std::string(ir::op_name(n.op)) + suffix + "_" + std::to_string(n.id);
}

Expr LowerCtx::extent(const ir::Dim& d) const {
  if (d.is_static()) return Expr(static_cast<int>(d.size));
  auto it = symbol_extents.find(d.sym);
  BRINE_CHECK_INTERNAL(it != symbol_extents.end(), "symbol " + d.sym + " has no extent in this kernel");
  return it->second;
}

void schedule_pointwise(ScheduleCtx& s) {
  const int rank = static_cast<int>(s.out_vars.size());
  if (rank == 0) return;
  Var x = s.out_vars[rank - 1];
  Func& out = s.out;
  const Expr width = out.output_buffer().dim(0).extent();
  Expr total = width;
  for (int d = 1; d < rank; ++d) total = total * out.output_buffer().dim(d).extent();
  // Fuse all outer axes into one parallel loop (fuse takes the inner var first).
  Var outer = rank >= 2 ? s.out_vars[rank - 2] : x;
  for (int a = rank - 3; a >= 0; --a) {
    Var fused("outer" + std::to_string(a));
    out.fuse(outer, s.out_vars[a], fused);
    outer = fused;
  }
  const int v = s.vector_width;
  Var xo("xo"), xi("xi");
  if (rank == 1) {
    // One long axis: split it for both threads and lanes.
    Var xb("xb");
    out.specialize(width >= 16 * v)
        .split(x, xb, xi, 8 * v, TailStrategy::GuardWithIf)
        .parallel(xb)
        .split(xi, xo, xi, v)
        .vectorize(xi);
    return;
  }
  // Below ~16K elements a fork-join costs more than it saves.
  out.specialize(width >= v && total >= 16384).vectorize(x, v, TailStrategy::ShiftInwards).parallel(outer);
  out.specialize(width >= v).vectorize(x, v, TailStrategy::ShiftInwards);
}

}  // namespace brine::codegen
