// oneDNN baselines for the LSTM workloads: oneDNN's LSTM primitive on Keras's
// batch-first sequences (ntc), then a Dense head on every step's h
// (return_sequences) or on the last h, forward, or forward + backward for
// loss = sum(output) (every parameter's gradient; no input gradient needed,
// though oneDNN's LSTM backward computes it anyway).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "harness.h"

namespace bench {

struct LstmNetSpec {
  int64_t N, T, C, U;          // batch, steps, features, units
  bool return_sequences;
  const float *w, *r, *b;      // Keras kernel (C, 4U), recurrent_kernel (U, 4U), bias (4U); gates i, f, c, o
  int64_t units;               // the Dense head
  const float *hw, *hb;        // head kernel (U, units), bias (units)
};

std::unique_ptr<Net> make_onednn_lstmnet(const LstmNetSpec& spec, bool training);

}  // namespace bench
