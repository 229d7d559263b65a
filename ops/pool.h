#pragma once
#include "ops/family.h"
namespace brine::ops {
BRINE_DECLARE_OP_FAMILY(Pool);
}  // namespace brine::ops
