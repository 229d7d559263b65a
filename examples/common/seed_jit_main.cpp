// A seed example, just in time: build the example's model (SEED_MODEL() of
// its model.cpp) with the DSL, compile it in process, run it on the example batch.
#include "brine.h"
#include "example_batch.h"

brine::Model SEED_MODEL();

int main() {
  brine::Model model = SEED_MODEL();
  fmt::print("{}", model.summary());
  brine::Executable exe = brine::compile(model);
  std::vector<brine::Tensor> out = exe.forward({example_batch()});
  print_output(out[0]);
}
