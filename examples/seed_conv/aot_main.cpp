// seed_conv, ahead of time: the kernels were compiled at build time into the
// seed_conv library; this program links neither libHalide nor LLVM.
#include "example_batch.h"
#include "seed_conv.h"

int main() {
  seed_conv::Model model;  // parameters: the same seeded initializers as the JIT
  brine::Tensor y;
  brine::Status s = model.forward(example_batch(), y);
  if (!s) {
    fmt::print(stderr, "error: {}\n", s.message);
    return 1;
  }
  print_output(y);
}
