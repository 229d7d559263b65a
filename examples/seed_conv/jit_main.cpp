// seed_conv, just in time: build the model with the DSL, compile it in
// process, run it on the example batch.
#include "example_batch.h"
#include "brine.h"

int main() {
  brine::Model model = brine_model();
  fmt::print("{}", model.summary());
  brine::Executable exe = brine::compile(model);
  std::vector<brine::Tensor> out = exe.forward({example_batch()});
  print_output(out[0]);
}
