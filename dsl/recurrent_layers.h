// The model-author API, part 4: Keras's recurrent layers on (batch, time,
// features) sequences:
//
//   auto x = brine::Input({"T", 32});                // any sequence length
//   auto h = brine::LSTM(8)(x);                      // (N, 8): the last output
//   auto seq = brine::LSTM(8, {.return_sequences = true})(x);   // (N, T, 8)
//   auto out = brine::LSTM(8, {.return_state = true}).call(x);  // {output, h, c}
//
// Weights and semantics are Keras's: kernel (features, 4·units) glorot
// uniform, recurrent_kernel (units, 4·units) orthogonal, bias (4·units) with
// ones for the forget gate (unit_forget_bias), gates in the order i, f, c, o.
// The input projection of all time steps is one matmul; the recurrence is a
// scan kernel (ops/recurrent.cpp) that runs any number of steps.
#pragma once

#include <memory>

#include "dsl/layers.h"

namespace brine {

// What LSTM, GRU and SimpleRNN share: applied as layer(x) or
// layer(x, initial_state) for the output, or call() for Keras's list.
class RecurrentLayer : public Layer {
 public:
  Expr operator()(const Expr& x, BRINE_HERE) const;
  Expr operator()(const Expr& x, const std::vector<Expr>& initial_state, BRINE_HERE) const;
  virtual std::vector<Expr> call(const Expr& x, const std::vector<Expr>& initial_state = {}, BRINE_HERE) const = 0;
  virtual ~RecurrentLayer() = default;

  int64_t units() const { return units_; }
  // A fresh copy of the layer (its own weights) named `name`, go_backwards
  // flipped when `flip`: the two halves of a Bidirectional.
  virtual std::shared_ptr<RecurrentLayer> mirror(bool flip, const std::string& name,
                                                 const std::source_location& loc) const = 0;
  virtual bool return_sequences() const = 0;
  virtual int state_count() const = 0;  // LSTM: h and c; SimpleRNN, GRU: h
  // The weights (Keras's layer.cell.kernel, ...), defined once the layer has
  // been called.
  const Expr& kernel() const { return kernel_; }
  const Expr& recurrent_kernel() const { return recurrent_kernel_; }
  const Expr& bias() const { return bias_; }

 protected:
  RecurrentLayer(std::string type, std::string name, const std::source_location& loc, int64_t units,
                 std::vector<std::pair<std::string, const char*>> activations);

  // What a cell's call() passes to run(): its op and shapes, the outputs
  // asked for, and the cell's attributes.
  struct Recurrence {
    int64_t gates;
    ir::Op op;
    bool use_bias, return_sequences, return_state, go_backwards;
    std::string bias_init;
    ir::Attrs cell;
    bool recurrent_bias = false;  // GRU reset_after: bias (2, G), its second row a separate operand
  };
  // Checks the input and initial states, makes the weights on the first
  // call, projects every step's input at once, runs the recurrence op and
  // cuts Keras's outputs out of its result (slot 0 of a step is h, LSTM's
  // slot 1 is c).
  std::vector<Expr> run(const Recurrence& r, const Expr& x, const std::vector<Expr>& initial_state) const;

  int64_t units_;
  mutable Expr kernel_, recurrent_kernel_, bias_;  // made on the first call, shared by later calls
};

// The part of LSTM, SimpleRNN and GRU that only differs by their options
// type and state count: the options, and the copy Bidirectional makes.
template <class Self, class Options, int States>
class RecurrentCell : public RecurrentLayer {
 public:
  const Options& options() const { return opt_; }
  bool return_sequences() const override { return opt_.return_sequences; }
  int state_count() const override { return States; }
  std::shared_ptr<RecurrentLayer> mirror(bool flip, const std::string& name,
                                         const std::source_location& loc) const override {
    Options o = opt_;
    o.go_backwards = o.go_backwards != flip;
    o.name = name;
    return std::make_shared<Self>(units_, o, loc);
  }

 protected:
  RecurrentCell(std::string type, const std::source_location& loc, int64_t units,
                std::vector<std::pair<std::string, const char*>> activations, Options options)
      : RecurrentLayer(std::move(type), options.name, loc, units, std::move(activations)), opt_(std::move(options)) {}
  Options opt_;
};

struct LSTMOptions {
  std::string activation = "tanh";               // tanh, sigmoid, hard_sigmoid, relu, linear
  std::string recurrent_activation = "sigmoid";  // the gates'
  bool use_bias = true;
  bool unit_forget_bias = true;
  bool return_sequences = false;  // output every step's h (N, T, units), not only the last (N, units)
  bool return_state = false;      // call() also returns the last h and c
  bool go_backwards = false;      // read the sequence from its end; outputs in processing order
  std::string name{};
};

class LSTM : public RecurrentCell<LSTM, LSTMOptions, 2> {
 public:
  LSTM(int64_t units, LSTMOptions options = {}, BRINE_HERE);
  using RecurrentLayer::operator();
  // The output (see return_sequences), or with return_state {output, h, c}.
  // initial_state: {h0, c0}, each (N, units).
  std::vector<Expr> call(const Expr& x, const std::vector<Expr>& initial_state = {}, BRINE_HERE) const override;

};

struct SimpleRNNOptions {
  std::string activation = "tanh";
  bool use_bias = true;
  bool return_sequences = false;
  bool return_state = false;  // call() also returns the last h
  bool go_backwards = false;
  std::string name{};
};

// SimpleRNN: h_t = activation(x_t · kernel + bias + h_{t-1} · recurrent_kernel);
// kernel (features, units) glorot uniform, recurrent_kernel (units, units)
// orthogonal, bias zeros.
class SimpleRNN : public RecurrentCell<SimpleRNN, SimpleRNNOptions, 1> {
 public:
  SimpleRNN(int64_t units, SimpleRNNOptions options = {}, BRINE_HERE);
  using RecurrentLayer::operator();
  // {output} or, with return_state, {output, h}. initial_state: {h0}.
  std::vector<Expr> call(const Expr& x, const std::vector<Expr>& initial_state = {}, BRINE_HERE) const override;

};

struct GRUOptions {
  std::string activation = "tanh";
  std::string recurrent_activation = "sigmoid";
  bool use_bias = true;
  bool return_sequences = false;
  bool return_state = false;  // call() also returns the last h
  bool go_backwards = false;
  bool reset_after = true;    // TF2's default: r scales h_{t-1}·R_h + b_h after the product
  std::string name{};
};

// GRU: z = σ(x W_z + h R_z + b_z), r = σ(x W_r + h R_r + b_r),
// hh = act(x W_h + r ⊙ (h R_h + b_rh) + b_h) with reset_after, else
// act(x W_h + (r ⊙ h) R_h + b_h); h_t = z ⊙ h_{t-1} + (1 - z) ⊙ hh. Gates in
// the kernel's column blocks z, r, h. kernel (features, 3·units) glorot
// uniform, recurrent_kernel (units, 3·units) orthogonal, bias zeros of
// (2, 3·units) (input and recurrent rows) with reset_after, else (3·units).
class GRU : public RecurrentCell<GRU, GRUOptions, 1> {
 public:
  GRU(int64_t units, GRUOptions options = {}, BRINE_HERE);
  using RecurrentLayer::operator();
  // {output} or, with return_state, {output, h}. initial_state: {h0}.
  std::vector<Expr> call(const Expr& x, const std::vector<Expr>& initial_state = {}, BRINE_HERE) const override;

};

// Bidirectional(LSTM / GRU / SimpleRNN(...), merge_mode): Keras's wrapper. A
// forward copy and a backward copy (go_backwards flipped) of the layer, with
// their own weights ("bidirectional/forward_lstm/kernel", ...); with
// return_sequences the backward outputs are reversed back into time order.
// merge_mode: concat (default, along the last axis), sum, mul, ave. call()
// with return_state gives {output, the forward layer's states, the backward
// layer's} (LSTM: forward h, c, backward h, c); initial_state is given in the
// same order.
class Bidirectional : public Layer {
 public:
  explicit Bidirectional(const RecurrentLayer& layer, std::string merge_mode = "concat", std::string name = "",
                         BRINE_HERE);
  Expr operator()(const Expr& x, BRINE_HERE) const;
  std::vector<Expr> call(const Expr& x, const std::vector<Expr>& initial_state = {}, BRINE_HERE) const;
  const RecurrentLayer& forward_layer() const { return *forward_; }
  const RecurrentLayer& backward_layer() const { return *backward_; }

 private:
  std::string merge_mode_;
  std::shared_ptr<RecurrentLayer> forward_, backward_;
};

}  // namespace brine
