// The Halide side of the op families: lowering and tuned schedules,
// dispatched over the op list. (Shape rules and reference: ops/rules.h.)
#pragma once

#include "ops/rules.h"

namespace Halide { class Func; }
namespace brine::codegen { struct LowerCtx; struct ScheduleCtx; }
namespace brine::ir { class GraphBuilder; }

namespace brine::ops {
Halide::Func lower(codegen::LowerCtx& ctx, const ir::Node& n);
void schedule_tuned(codegen::ScheduleCtx& s);
// The op's backward rule (see ops/family.h); used by ir/autodiff.cpp.
std::vector<int> vjp(ir::GraphBuilder& b, const ir::Node& n, int g);
}  // namespace brine::ops
