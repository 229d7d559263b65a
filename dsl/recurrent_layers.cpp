#include "dsl/recurrent_layers.h"

#include <fmt/format.h>

#include "ops/recurrent.h"

namespace brine {

RecurrentLayer::RecurrentLayer(std::string type, std::string name, const std::source_location& loc, int64_t units,
                               std::vector<std::pair<std::string, const char*>> activations)
    : Layer(std::move(type), std::move(name), loc), units_(units) {
  if (units < 1) fail(fmt::format("units must be a positive integer, got {}", units));
  try {
    for (const auto& [value, what] : activations) ops::check_cell_activation(value, what);
  } catch (const ops::ShapeError& e) {
    fail(e.what());
  }
}

Expr RecurrentLayer::operator()(const Expr& x, Loc loc) const { return call(x, {}, loc).front(); }

Expr RecurrentLayer::operator()(const Expr& x, const std::vector<Expr>& initial_state, Loc loc) const {
  return call(x, initial_state, loc).front();
}

LSTM::LSTM(int64_t units, LSTMOptions options, Loc loc)
    : RecurrentCell("LSTM", loc, units,
                    {{options.activation, "activation"}, {options.recurrent_activation, "recurrent_activation"}},
                    options) {}

std::vector<Expr> RecurrentLayer::run(const Recurrence& R, const Expr& x, const std::vector<Expr>& initial_state) const {
  if (!x.defined()) fail("the input tensor is undefined");
  if (x.rank() != 3)
    fail(fmt::format("input must have rank 3 (batch, time, features), got shape {}", ir::shape_str(x.shape())));
  const Dim& features = x.shape()[2];
  if (!features.is_static())
    fail(fmt::format("the features axis of the input must be static, got shape {}", ir::shape_str(x.shape())));
  const Shape state_shape{x.shape()[0], units_};
  if (!initial_state.empty()) {
    std::vector<std::string> got;
    bool ok = static_cast<int>(initial_state.size()) == state_count();
    for (const Expr& s : initial_state) {
      got.push_back(s.defined() ? ir::shape_str(s.shape()) : "undefined");
      ok = ok && s.defined() && s.shape() == state_shape && s.dtype() == x.dtype();
    }
    if (!ok)
      fail(fmt::format("initial_state must be [{}], each of shape {}; got [{}]", state_count() == 2 ? "h, c" : "h",
                       ir::shape_str(state_shape), fmt::join(got, ", ")));
  }
  const int64_t G = R.gates * units_;
  if (!kernel_.defined()) {
    kernel_ = param("kernel", {features, G}, "glorot_uniform", x.dtype());
    recurrent_kernel_ = param("recurrent_kernel", {units_, G}, "orthogonal", x.dtype());
    if (R.use_bias) bias_ = param("bias", R.recurrent_bias ? Shape{2, G} : Shape{G}, R.bias_init, x.dtype());
  } else if (kernel_.shape()[0] != features) {
    fail(fmt::format("was built for inputs with {} features, now called on shape {}", kernel_.shape()[0].str(),
                     ir::shape_str(x.shape())));
  }
  const auto bias_row = [&](int64_t row) {
    ir::Attrs s, r;
    s.axes = {0, row, 1};
    r.shape = {G};
    return node(ir::Op::Reshape, {node(ir::Op::Slice, {bias_}, s)}, r);
  };
  // The input projection of every step at once.
  Expr z = node(ir::Op::MatMul, {x, kernel_});
  if (R.use_bias) z = node(ir::Op::Add, {z, R.recurrent_bias ? bias_row(0) : bias_});
  ir::Attrs time;
  time.axes = {1};
  if (R.go_backwards) z = node(ir::Op::Reverse, {z}, time);
  std::vector<Expr> in{z, recurrent_kernel_};
  if (R.recurrent_bias && R.use_bias) in.push_back(bias_row(1));
  in.insert(in.end(), initial_state.begin(), initial_state.end());
  const Expr y = node(R.op, in, R.cell);  // (N, T, slots, units)

  const auto slice = [&](const Expr& e, int64_t axis, int64_t start) {
    ir::Attrs a;
    a.axes = {axis, start, 1};
    return node(ir::Op::Slice, {e}, a);
  };
  const auto reshape = [&](const Expr& e, Shape shape) {
    ir::Attrs a;
    a.shape = std::move(shape);
    return node(ir::Op::Reshape, {e}, a);
  };
  const Expr last = slice(y, 1, -1);
  const Expr h = reshape(slice(last, 2, 0), state_shape);
  std::vector<Expr> out{R.return_sequences ? reshape(slice(y, 2, 0), {x.shape()[0], x.shape()[1], units_}) : h};
  if (R.return_state)
    for (int s = 0; s < state_count(); ++s) out.push_back(s == 0 ? h : reshape(slice(last, 2, s), state_shape));
  return out;
}

std::vector<Expr> LSTM::call(const Expr& x, const std::vector<Expr>& initial_state, Loc) const {
  ir::Attrs cell;
  cell.activation = opt_.activation;
  cell.recurrent_activation = opt_.recurrent_activation;
  const Recurrence r{4, ir::Op::Lstm, opt_.use_bias, opt_.return_sequences, opt_.return_state,
                     opt_.go_backwards, opt_.unit_forget_bias ? "unit_forget_bias" : "zeros", cell};
  return run(r, x, initial_state);
}

// --------------------------------------------------------------- SimpleRNN

SimpleRNN::SimpleRNN(int64_t units, SimpleRNNOptions options, Loc loc)
    : RecurrentCell("SimpleRNN", loc, units, {{options.activation, "activation"}}, options) {}

std::vector<Expr> SimpleRNN::call(const Expr& x, const std::vector<Expr>& initial_state, Loc) const {
  ir::Attrs cell;
  cell.activation = opt_.activation;
  const Recurrence r{1, ir::Op::SimpleRnn, opt_.use_bias, opt_.return_sequences, opt_.return_state,
                     opt_.go_backwards, "zeros", cell};
  return run(r, x, initial_state);
}

// --------------------------------------------------------------------- GRU

GRU::GRU(int64_t units, GRUOptions options, Loc loc)
    : RecurrentCell("GRU", loc, units,
                    {{options.activation, "activation"}, {options.recurrent_activation, "recurrent_activation"}},
                    options) {}

std::vector<Expr> GRU::call(const Expr& x, const std::vector<Expr>& initial_state, Loc) const {
  ir::Attrs cell;
  cell.activation = opt_.activation;
  cell.recurrent_activation = opt_.recurrent_activation;
  cell.reset_after = opt_.reset_after;
  const Recurrence r{3, ir::Op::Gru, opt_.use_bias, opt_.return_sequences, opt_.return_state,
                     opt_.go_backwards, "zeros", cell, opt_.reset_after};
  return run(r, x, initial_state);
}

// --------------------------------------------------------------- Bidirectional

Bidirectional::Bidirectional(const RecurrentLayer& layer, std::string merge_mode, std::string name, Loc loc)
    : Layer("Bidirectional", std::move(name), loc),
      merge_mode_(std::move(merge_mode)),
      forward_(layer.mirror(false, site_name_ + "/forward_" + layer.name(), loc)),
      backward_(layer.mirror(true, site_name_ + "/backward_" + layer.name(), loc)) {
  if (merge_mode_ != "concat" && merge_mode_ != "sum" && merge_mode_ != "mul" && merge_mode_ != "ave")
    fail(fmt::format("unknown merge_mode '{}' (expected concat, sum, mul or ave)", merge_mode_));
}

Expr Bidirectional::operator()(const Expr& x, Loc loc) const { return call(x, {}, loc).front(); }

std::vector<Expr> Bidirectional::call(const Expr& x, const std::vector<Expr>& initial_state, Loc loc) const {
  const size_t states = static_cast<size_t>(forward_->state_count());
  if (!initial_state.empty() && initial_state.size() != 2 * states)
    fail(fmt::format("initial_state must be [{}]; got {} tensors",
                     states == 2 ? "forward h, forward c, backward h, backward c" : "forward h, backward h",
                     initial_state.size()));
  const auto half = [&](size_t first) {
    return initial_state.empty() ? std::vector<Expr>{}
                                 : std::vector<Expr>(initial_state.begin() + first, initial_state.begin() + first + states);
  };
  std::vector<Expr> fw = forward_->call(x, half(0), loc), bw = backward_->call(x, half(states), loc);
  Expr b = bw[0];
  if (forward_->return_sequences()) {  // back into time order
    ir::Attrs time;
    time.axes = {1};
    b = node(ir::Op::Reverse, {b}, time);
  }
  Expr out;
  if (merge_mode_ == "concat") {
    ir::Attrs last;
    last.axes = {-1};
    out = node(ir::Op::Concat, {fw[0], b}, last);
  } else if (merge_mode_ == "sum") {
    out = node(ir::Op::Add, {fw[0], b});
  } else if (merge_mode_ == "mul") {
    out = node(ir::Op::Mul, {fw[0], b});
  } else {
    out = node(ir::Op::Mul, {node(ir::Op::Add, {fw[0], b}), make_constant(0.5, x.dtype(), site())});
  }
  std::vector<Expr> result{out};
  result.insert(result.end(), fw.begin() + 1, fw.end());
  result.insert(result.end(), bw.begin() + 1, bw.end());
  return result;
}

}  // namespace brine
