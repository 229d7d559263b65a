#include "codegen/kernel.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <optional>
#include <mutex>

#include "codegen/lower_ctx.h"
#include "codegen/program.h"
#include "ir/text.h"
#include "ops/recurrent.h"
#include "ops/registry.h"

namespace brine::codegen {

using namespace Halide;

Policy policy_from_name(const std::string& s) {
  if (s == "naive") return Policy::Naive;
  if (s == "tuned") return Policy::Tuned;
  if (s == "mullapudi2016" || s == "Mullapudi2016") return Policy::Mullapudi2016;
  if (s == "adams2019" || s == "Adams2019") return Policy::Adams2019;
  if (s == "li2018" || s == "Li2018") return Policy::Li2018;
  throw Error("unknown schedule '" + s + "' (expected naive, tuned, mullapudi2016, adams2019 or li2018)");
}

const char* policy_name(Policy p) {
  switch (p) {
    case Policy::Naive: return "naive";
    case Policy::Tuned: return "tuned";
    case Policy::Mullapudi2016: return "mullapudi2016";
    case Policy::Adams2019: return "adams2019";
    case Policy::Li2018: return "li2018";
  }
  return "?";
}

std::vector<Argument> KernelSource::arguments() const {
  std::vector<Argument> args;
  for (const ImageParam& p : inputs) args.push_back(p);
  return args;
}

namespace {

// Tell Halide what the runtime guarantees about a buffer: dense row-major
// (so strides are products of extents), zero-based, and static extents where
// the IR knows them. Known extents and strides let the schedules resolve
// their specializations at compile time.
// A view read in place (`strides` given, outermost first, see KernelGroup)
// has its base's strides instead: the static ones are set, the others free.
template <typename B>
void constrain(B buf, const ir::Shape& shape, LowerCtx* ctx, const std::vector<int64_t>& strides = {}) {
  const int rank = static_cast<int>(shape.size());
  Expr stride = 1;
  for (int d = 0; d < rank; ++d) {
    const ir::Dim& dim = shape[rank - 1 - d];
    buf.dim(d).set_min(0);
    if (dim.is_static()) buf.dim(d).set_extent(static_cast<int>(dim.size));
    else if (ctx && !ctx->symbol_extents.count(dim.sym)) ctx->symbol_extents[dim.sym] = buf.dim(d).extent();
    if (strides.empty()) buf.dim(d).set_stride(stride);
    else if (const int64_t s = strides[rank - 1 - d]; s >= 0) buf.dim(d).set_stride(static_cast<int>(s));
    stride = d == 0 ? buf.dim(0).extent() : stride * buf.dim(d).extent();
  }
}

void apply_autoscheduler(Pipeline& p, Func out, const ir::Node& tail, const std::vector<ImageParam>& inputs,
                         const std::vector<ir::Shape>& input_shapes, int scan_dim, Policy policy, const Target& target) {
  static std::once_flag loaded;
  std::call_once(loaded, [] {
    for (const char* lib : {"libautoschedule_mullapudi2016.so", "libautoschedule_adams2019.so", "libautoschedule_li2018.so"})
      load_plugin(std::string(BRINE_HALIDE_PLUGIN_DIR) + "/" + lib);
  });
  // The autoschedulers split loops with ShiftInwards, sized by the estimates,
  // which is only valid when the real extent is at least the split factor.
  // Dynamic dims (the batch) are therefore estimated at 1: the schedule then
  // never splits them and stays correct for every size, at the price of not
  // tiling the batch axis. (Per-shape autoscheduling: docs/scheduling.md.)
  const auto est = [](const ir::Dim& d) { return d.is_static() ? static_cast<int>(d.size) : 1; };
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ir::Shape& s = input_shapes[i];
    for (int d = 0; d < static_cast<int>(s.size()); ++d) inputs[i].dim(d).set_estimate(0, est(s[s.size() - 1 - d]));
  }
  std::vector<Var> v = axis_vars(tail.type.rank());
  Region bounds;
  // A scan kernel's output is one step: a schedule sized for more would
  // compute (and read) neighbouring steps.
  for (int d = 0; d < tail.type.rank(); ++d)
    bounds.emplace_back(0, d == scan_dim ? 1 : est(tail.type.shape[tail.type.rank() - 1 - d]));
  out.set_estimates(bounds);
  const char* name = policy == Policy::Mullapudi2016 ? "Mullapudi2016" : policy == Policy::Adams2019 ? "Adams2019" : "Li2018";
  // 2 cores, 32 MiB last-level cache, balance 40 (Mullapudi's default for x86).
  p.auto_schedule(name, target, MachineParams(2, 32 * 1024 * 1024, 40));
}

}  // namespace

KernelSource build_kernel(const ir::Graph& g, const KernelGroup& k, const std::string& name, DType dtype,
                          Policy policy, const Target& target) {
  LowerCtx ctx{.graph = g, .type = dtype == DType::F32 ? Float(32) : Float(64)};
  KernelSource ks{name, {}, {}};
  std::vector<ir::Shape> input_shapes;
  for (size_t i = 0; i < k.inputs.size(); ++i) {
    const ir::Node& in = g.node(k.inputs[i]);
    ImageParam ip(ctx.type, in.type.rank(), fmt::format("in{}_{}", i, c_identifier(in.attrs.name.empty() ? fmt::format("v{}", in.id) : in.attrs.name)));
    constrain(ip, in.type.shape, &ctx, k.input_strides.empty() ? std::vector<int64_t>{} : k.input_strides[i]);
    ctx.funcs[in.id] = Func(ip);
    ks.inputs.push_back(ip);
    input_shapes.push_back(in.type.shape);
  }
  // A scan kernel (an LSTM step) also reads its own output, whole: the last
  // argument before the output is that buffer, and the output it writes is
  // one step of it (see ops/recurrent.h and the runtime's step loop).
  const ir::Node& tail = g.node(k.tail);
  const ops::ScanAxis scan = ops::scan_axis(g.node(k.anchor).op);
  std::optional<ImageParam> self;
  if (scan.axis >= 0) {
    BRINE_CHECK_INTERNAL(k.nodes.size() == 1, "a scan kernel holds one node");
    self.emplace(ctx.type, tail.type.rank(), "self");
    constrain(*self, tail.type.shape, &ctx);
    ctx.self = Func(*self);
    ks.inputs.push_back(*self);
    input_shapes.push_back(tail.type.shape);
  }
  for (int id : k.nodes) {
    const ir::Node& n = g.node(id);
    for (int in : n.inputs)
      if (g.node(in).op == ir::Op::Constant) ctx.funcs[in] = ops::lower(ctx, g.node(in));
    ctx.funcs[id] = ops::lower(ctx, n);
  }
  Func out = ctx.funcs[k.tail];
  if (self) {
    // One step: extent 1 at any position along the scan axis, the strides of
    // the whole buffer.
    const int rank = tail.type.rank();
    for (int d = 0; d < rank; ++d) {
      const ir::Dim& dim = tail.type.shape[rank - 1 - d];
      auto od = out.output_buffer().dim(d);
      od.set_stride(self->dim(d).stride());
      if (d == rank - 1 - scan.axis) {
        od.set_extent(1);
        continue;
      }
      od.set_min(0);
      od.set_extent(dim.is_static() ? Expr(static_cast<int>(dim.size)) : self->dim(d).extent());
    }
  } else {
    constrain(out.output_buffer(), tail.type.shape, nullptr);
  }
  ks.pipeline = Pipeline(out);

  switch (policy) {
    case Policy::Naive:
      for (int id : k.nodes) {
        if (id != k.tail) ctx.funcs[id].compute_root();
        if (auto it = ctx.stages.find(id); it != ctx.stages.end())
          for (Func f : it->second) f.compute_root();
      }
      break;
    case Policy::Tuned: {
      const ir::Node& anchor = g.node(k.anchor);
      ScheduleCtx s{ctx, anchor, tail, out, axis_vars(tail.type.rank()), target.natural_vector_size(ctx.type)};
      if (anchor.type.rank() == tail.type.rank()) {
        ops::schedule_tuned(s);
      } else {
        // A broadcast consumer changed the rank (a global-norm scale applied
        // to a gradient): the family's schedule assumes its own output's loop
        // nest, so compute its stages at root and schedule the output alone.
        for (int id : k.nodes)
          if (auto it = ctx.stages.find(id); it != ctx.stages.end())
            for (Func f : it->second) f.compute_root();
        ctx.funcs[k.anchor].compute_root();
        schedule_pointwise(s);
      }
      break;
    }
    case Policy::Mullapudi2016:
    case Policy::Adams2019:
    case Policy::Li2018:
      apply_autoscheduler(ks.pipeline, out, tail, ks.inputs, input_shapes,
                          scan.axis >= 0 ? tail.type.rank() - 1 - scan.axis : -1, policy, target);
      break;
  }
  return ks;
}

std::string kernel_key(const ir::Graph& g, const KernelGroup& k, DType dtype, Policy policy, const Target& target) {
  std::map<int, int> local;
  for (int in : k.inputs) local[in] = -1 - static_cast<int>(local.size());
  std::string key = fmt::format("{} {} {}\n", dtype_name(dtype), policy_name(policy), target.to_string());
  for (size_t i = 0; i < k.inputs.size(); ++i)
    key += fmt::format("arg {} strides [{}]\n", ir::type_str(g.node(k.inputs[i]).type),
                       i < k.input_strides.size() ? fmt::format("{}", fmt::join(k.input_strides[i], ",")) : "");
  for (int id : k.nodes) {
    const ir::Node& n = g.node(id);
    std::vector<std::string> args;
    for (int in : n.inputs) {
      const ir::Node& src = g.node(in);
      if (src.op == ir::Op::Constant) args.push_back(fmt::format("const({})", src.attrs.value));
      else args.push_back(local.count(in) ? fmt::format("{}", local[in]) : "?");
    }
    local[id] = static_cast<int>(local.size());
    ir::Graph one;
    ir::Node copy = n;
    copy.id = 0;
    copy.inputs.clear();
    copy.layer.clear();
    copy.loc.clear();
    one.nodes.push_back(copy);
    key += fmt::format("{}({}) {}", ir::op_name(n.op), fmt::join(args, ","), ir::print(one));
  }
  return key;
}

}  // namespace brine::codegen
