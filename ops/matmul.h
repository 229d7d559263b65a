#pragma once
#include "ops/family.h"
namespace brine::ops {
BRINE_DECLARE_OP_FAMILY(MatMul);

// The schedule of a product summed over samples, out(j, i) = Σ a(i, ·) b(j, ·)
// with acc's update `update` reducing over (steps of a sample, samples...)
// and `panel` the right operand's values as the update reads them: a
// Dense-on-sequences weight gradient (the batch-summed matmul) and a
// recurrent kernel's gradient (ops/recurrent.h). `narrow` is the tile width
// (columns) when 4 vectors by 4 rows do not tile the output whole.
void schedule_sample_sum(codegen::ScheduleCtx& s, Halide::Func acc, int update, Halide::Func panel, int narrow);
}  // namespace brine::ops
