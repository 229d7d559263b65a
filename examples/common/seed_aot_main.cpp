// A seed example, ahead of time: the kernels were compiled at build time into
// the example's library (SEED_LIBRARY, its header SEED_LIBRARY.h); this
// program links neither libHalide nor LLVM.
#include "example_batch.h"

#define SEED_STR2(x) #x
#define SEED_STR(x) SEED_STR2(x)
#include SEED_STR(SEED_LIBRARY.h)

int main() {
  SEED_LIBRARY::Model model;  // parameters: the same seeded initializers as the JIT
  brine::Tensor y;
  brine::Status s = model.forward(example_batch(), y);
  if (!s) {
    fmt::print(stderr, "error: {}\n", s.message);
    return 1;
  }
  print_output(y);
}
