// seed_dense, ahead of time: the kernels were compiled at build time into the
// seed_dense library; this program links neither libHalide nor LLVM.
#include "example_batch.h"
#include "seed_dense.h"

int main() {
  seed_dense::Model model;  // parameters: the same seeded initializers as the JIT
  brine::Tensor y;
  brine::Status s = model.forward(example_batch(), y);
  if (!s) {
    fmt::print(stderr, "error: {}\n", s.message);
    return 1;
  }
  print_output(y);
}
