// The layers guide's three Keras LSTM examples, on x = np.random.rand(4, 3, 32)
// (4 samples, 3 time steps, 32 features):
//
//   inp = Input(shape=(3, 32))
//   out = Dense(2)(LSTM(8)(inp))                                    -> (4, 2)
//   out = Dense(2)(LSTM(8, return_sequences=True)(inp))             -> (4, 3, 2)
//   lstm, h, c = LSTM(8, return_sequences=False, return_state=True)(inp)
//   Model(inp, [Dense(2)(lstm), h, c])                              -> (4, 2), (4, 8), (4, 8)
//
// The third model also returns the LSTM's own output (4, 8), which equals h.
#include "brine.h"

brine::Model seed_lstm_model() {
  using namespace brine;
  reset_layer_names();
  auto inp = Input({3, 32});
  auto out = Dense(2)(LSTM(8)(inp));
  return Model({inp}, {out}, "seed_lstm");
}

brine::Model seed_lstm_sequences_model() {
  using namespace brine;
  reset_layer_names();
  auto inp = Input({3, 32});
  auto out = Dense(2)(LSTM(8, {.return_sequences = true})(inp));
  return Model({inp}, {out}, "seed_lstm_sequences");
}

brine::Model seed_lstm_state_model() {
  using namespace brine;
  reset_layer_names();
  auto inp = Input({3, 32});
  const std::vector<Expr> r = LSTM(8, {.return_sequences = false, .return_state = true}).call(inp);
  auto out = Dense(2)(r[0]);
  return Model({inp}, {out, r[0], r[1], r[2]}, "seed_lstm_state");
}
