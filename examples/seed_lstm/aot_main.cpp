// The layers guide's LSTM examples, ahead of time: the three models were
// compiled at build time into seed_lstm, seed_lstm_sequences and
// seed_lstm_state; this program links neither libHalide nor LLVM.
#include "example_batch.h"
#include "seed_lstm.h"
#include "seed_lstm_sequences.h"
#include "seed_lstm_state.h"

int main() {
  const brine::Tensor x = example_batch({4, 3, 32});
  const auto check = [](const brine::Status& s) {
    if (!s) {
      fmt::print(stderr, "error: {}\n", s.message);
      std::exit(1);
    }
  };
  brine::Tensor y, seq, out, lstm, h, c;
  seed_lstm::Model last;
  check(last.forward(x, y));
  print_output(y, "output");
  seed_lstm_sequences::Model sequences;
  check(sequences.forward(x, seq));
  print_output(seq, "output");
  seed_lstm_state::Model state;
  check(state.forward(x, out, lstm, h, c));
  print_output(out, "output");
  print_output(lstm, "lstm");
  print_output(h, "h");
  print_output(c, "c");
}
