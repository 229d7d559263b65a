// The layers guide's LSTM examples, just in time: three models built with the
// DSL (model.cpp), compiled in process and run on the same (4, 3, 32) batch.
// (The summaries come first so that the outputs print exactly as the AOT
// program prints them.)
#include "brine.h"
#include "example_batch.h"

brine::Model seed_lstm_model();
brine::Model seed_lstm_sequences_model();
brine::Model seed_lstm_state_model();

int main() {
  const brine::Tensor x = example_batch({4, 3, 32});
  std::vector<brine::Model> models{seed_lstm_model(), seed_lstm_sequences_model(), seed_lstm_state_model()};
  for (const brine::Model& m : models) fmt::print("{}", m.summary());
  const char* labels[] = {"output", "lstm", "h", "c"};
  for (const brine::Model& m : models) {
    brine::Executable exe = brine::compile(m);
    const std::vector<brine::Tensor> out = exe.forward({x});
    for (size_t i = 0; i < out.size(); ++i) print_output(out[i], labels[i]);
  }
}
