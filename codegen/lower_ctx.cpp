#include "codegen/lower_ctx.h"

#include <fmt/format.h>

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
    v[a] = Var(d < 4 ? std::string(names[d]) : fmt::format("d{}", d));
  }
  return v;
}

std::string func_name(const ir::Node& n, const char* suffix) {
  return std::string(ir::op_name(n.op)) + suffix + "_" + std::to_string(n.id);
}

std::vector<RVar> update_rvars(const Func& f, int update) {
  std::vector<RVar> r;
  for (const auto& rv : Func(f).update(update).get_schedule().rvars()) r.push_back(RVar(rv.var));
  return r;
}

Expr LowerCtx::extent(const ir::Dim& d) const {
  if (d.is_static()) return Expr(static_cast<int>(d.size));
  auto it = symbol_extents.find(d.sym);
  BRINE_CHECK_INTERNAL(it != symbol_extents.end(), "symbol " + d.sym + " has no extent in this kernel");
  return it->second;
}

void schedule_pointwise(ScheduleCtx& s) {
  std::vector<Var> vars = s.out_vars;
  if (vars.empty()) return;
  Func& out = s.out;
  const ir::Shape& shape = s.tail.type.shape;
  Expr width = out.output_buffer().dim(0).extent();
  Expr total = width;
  for (size_t d = 1; d < vars.size(); ++d) total = total * out.output_buffer().dim(d).extent();
  // A short static innermost axis (8 channels of a (N, 32, 32, 8) tensor)
  // merges with the axes outside it into one vector loop: left alone it ran
  // as scalar code (20 µs instead of ~3 for 32K elements).
  int64_t inner = shape.back().is_static() ? shape.back().size : 0;
  while (inner > 0 && inner < 4 * s.vector_width && vars.size() >= 2 && shape[vars.size() - 2].is_static()) {
    const size_t r = vars.size();
    inner *= shape[r - 2].size;
    Var merged(vars[r - 1].name() + vars[r - 2].name());
    out.fuse(vars[r - 1], vars[r - 2], merged);
    vars.pop_back();
    vars.back() = merged;
    width = static_cast<int>(inner);
  }
  const int rank = static_cast<int>(vars.size());
  Var x = vars[rank - 1];
  // Fuse all outer axes into one parallel loop (fuse takes the inner var first).
  Var outer = rank >= 2 ? vars[rank - 2] : x;
  for (int a = rank - 3; a >= 0; --a) {
    Var fused("outer" + std::to_string(a));
    out.fuse(outer, vars[a], fused);
    outer = fused;
  }
  const int v = s.vector_width;
  // Each parallel task gets at least ~8K elements: with one 240-element row
  // per task, the thread pool's per-task cost made a relu gradient over
  // (64, 30, 30, 8) take 104 µs instead of ~25.
  constexpr int kTaskElements = 8192;
  Var xo("xo"), xi("xi");
  if (rank == 1) {
    // One long axis: split it for both threads and lanes.
    Var xb("xb");
    out.specialize(width >= 2 * kTaskElements)
        .split(x, xb, xi, kTaskElements, TailStrategy::GuardWithIf)
        .parallel(xb)
        .split(xi, xo, xi, v)
        .vectorize(xi);
    out.specialize(width >= v).vectorize(x, v, TailStrategy::GuardWithIf);
    return;
  }
  // Below ~16K elements a fork-join costs more than it saves.
  const int64_t static_width = inner;  // the (merged) innermost width, 0 if dynamic
  const int rows_per_task = static_width > 0 ? static_cast<int>(std::max<int64_t>(1, kTaskElements / static_width)) : 1;
  Stage par = out.specialize(width >= v && total >= 2 * kTaskElements).vectorize(x, v, TailStrategy::ShiftInwards);
  if (rows_per_task > 1) {
    Var po("po"), pi("pi");
    par.split(outer, po, pi, rows_per_task, TailStrategy::GuardWithIf).parallel(po);
  } else {
    par.parallel(outer);
  }
  out.specialize(width >= v).vectorize(x, v, TailStrategy::ShiftInwards);
}

}  // namespace brine::codegen
