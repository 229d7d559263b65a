// The recurrent cells (LSTM, SimpleRNN, GRU) and their backward passes through
// time, Keras semantics:
//
//   lstm(z, r [, h0, c0])           z (N, T, 4U): the input projection x W + b
//   -> y (N, T, 6, U)               of every step (one matmul, outside);
//                                   r (U, 4U): the recurrent kernel
//     a_t = z_t + h_{t-1} r         gates in Keras order i, f, c, o
//     i = σ(a_i)  f = σ(a_f)  g = act(a_c)  o = σ(a_o)     σ: recurrent_activation
//     c_t = f c_{t-1} + i g         h_t = o act(c_t)        act: activation
//   y[:, t] holds (h_t, c_t, i, f, g, o): the states and, for the backward
//   pass, the gate activations (as oneDNN's and cuDNN's workspaces do), so
//   the backward never recomputes the recurrent matmul.
//
//   lstm_grad(rᵀ, y, gy [, h0, c0]) -> d (N, T, 5, U), walked from the last
//   step to the first: d[:, t, 0:4] = dL/da_t (the gate pre-activations, which
//   are also dL/dz_t) and d[:, t, 4] = dL/dc_{t-1}. Step t's kernel computes
//   dL/dh_t = gy_t + dL/da_{t+1} rᵀ from the dz slots the previous call
//   wrote, so a step is one parallel loop (the product, then dz, by blocks of
//   units) and dL/dh_{t-1} is never stored: dh0 = d[:, 0, 0:4] rᵀ.
//
//   simple_rnn(z, r [, h0]) -> y (N, T, 1, U): h_t = act(z_t + h_{t-1} r);
//   simple_rnn_grad(rᵀ, y, gy [, h0]) -> (N, T, 1, U): dz_t, its step's
//   dL/dh_t = gy_t + dz_{t+1} rᵀ computed the same way.
//
//   lstm / simple_rnn / gru (x, w, b, r ...) {input_projection}: the same
//   with z_t = x_t w + b computed inside each step (codegen's form, see
//   codegen/graph_passes.h; no VJP).
//
//   gru(zx, r [, rb] [, h0]) -> y (N, T, 5, U): h, z, r, the candidate hh and
//   q (reset_after: h_{t-1} r_h + rb_h; else r ⊙ h_{t-1}), tf.keras's GRU;
//   gru_grad(rᵀ, y, gy [, h0]) -> (N, T, 5, U): da_z, da_r, da_h, the
//   candidate's recurrent-side gradient, dh_{t-1}.
//
//   recurrent_kernel_grad(y, dz [, h0]) -> dr (U, G·U) = Σ_{n,t} h_{t-1}ᵀ dz_t
//   for any cell (slot 0 of y is h).
//
// The forward and backward cell ops are scans (FusionKind::Scan): their
// kernels compute one step per call and read their own output at the
// neighbouring step; the runtime calls them once per step, so one compiled
// model runs any sequence length and the graph does not grow with it. The
// initial state is zero unless given.
#include "ops/recurrent.h"

#include <Halide.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "codegen/lower_ctx.h"
#include "codegen/vector_math.h"
#include "ir/builder.h"
#include "ops/matmul.h"

namespace brine::ops {

namespace {

constexpr int kSlots = 6;                      // h, c, i, f, g, o
enum Slot { kH = 0, kC = 1, kI = 2, kF = 3, kG = 4, kO = 5 };
enum GradSlot { kDcPrev = 4 };                 // slots 0-3 of lstm_grad: dz_i, dz_f, dz_c, dz_o

const char* const kActivations[] = {"tanh", "sigmoid", "hard_sigmoid", "relu", "linear"};

std::string cell_activation(const ir::Node& n) { return n.attrs.activation.empty() ? "tanh" : n.attrs.activation; }
std::string gate_activation(const ir::Node& n) {
  return n.attrs.recurrent_activation.empty() ? "sigmoid" : n.attrs.recurrent_activation;
}

// hard_sigmoid is tf.keras's clip(0.2 x + 0.5, 0, 1).
double act_ref(const std::string& a, double x) {
  if (a == "tanh") return std::tanh(x);
  if (a == "sigmoid") return 1 / (1 + std::exp(-x));
  if (a == "hard_sigmoid") return std::clamp(0.2 * x + 0.5, 0.0, 1.0);
  if (a == "relu") return std::max(x, 0.0);
  return x;
}
// The derivative from the activation's output y (so the backward needs only
// what the forward saved). At the kinks of relu and hard_sigmoid: 0.
double act_grad_ref(const std::string& a, double y) {
  if (a == "tanh") return 1 - y * y;
  if (a == "sigmoid") return y * (1 - y);
  if (a == "hard_sigmoid") return y > 0 && y < 1 ? 0.2 : 0.0;
  if (a == "relu") return y > 0 ? 1.0 : 0.0;
  return 1;
}

// Vectorizable tanh (codegen/vector_math.h): with libm's, one call per
// lane, the gate nonlinearities cost more than the step's matmul.
Halide::Expr act_expr(const std::string& a, const Halide::Expr& x) {
  using namespace Halide;
  const Type t = x.type();
  if (a == "tanh") return codegen::vector_tanh(x);
  if (a == "sigmoid") return codegen::vector_sigmoid(x);
  if (a == "hard_sigmoid") return clamp(Internal::make_const(t, 0.2) * x + Internal::make_const(t, 0.5), cast(t, 0), cast(t, 1));
  if (a == "relu") return max(x, cast(t, 0));
  return x;
}
Halide::Expr act_grad_expr(const std::string& a, const Halide::Expr& y) {
  using namespace Halide;
  const Type t = y.type();
  if (a == "tanh") return cast(t, 1) - y * y;
  if (a == "sigmoid") return y * (cast(t, 1) - y);
  if (a == "hard_sigmoid") return select(y > cast(t, 0) && y < cast(t, 1), Internal::make_const(t, 0.2), cast(t, 0));
  if (a == "relu") return select(y > cast(t, 0), cast(t, 1), cast(t, 0));
  return cast(t, 1);
}

// What a cell's ops hold: `gates` blocks of U in z, `slots` vectors of U per
// step in the forward's output (h first), `states` carried vectors (h, c).
// The backward's output per step: dz (gates) then the states' gradients
// flowing to the previous step.
struct Cell {
  int gates, slots, states, grad_slots;
};
constexpr Cell kLstm{4, kSlots, 2, 5}, kSimple{1, 1, 1, 1}, kGru{3, 5, 1, 5};

// GRU slots: forward h, z, r, hh (the candidate) and q (reset_after: the
// candidate's recurrent term h_{t-1} r_h + b_h; otherwise r ⊙ h_{t-1});
// backward da_z, da_r, da_h (the input side's gradients), the candidate's
// recurrent-side gradient (reset_after: da_h ⊙ r) and what step t sends
// back to step t-1: without reset_after dL/dh_{t-1} whole; with it only its
// elementwise part dh_t ⊙ z_t (the next call adds the product, see
// Recurrent::lower).
enum GruSlot { kGz = 1, kGr = 2, kGhh = 3, kGq = 4 };
enum GruGradSlot { kDaZ = 0, kDaR = 1, kDaH = 2, kDrecH = 3, kGruDhPrev = 4 };

Cell cell_of(ir::Op op) {
  switch (op) {
    case ir::Op::SimpleRnn:
    case ir::Op::SimpleRnnGrad: return kSimple;
    case ir::Op::Gru:
    case ir::Op::GruGrad: return kGru;
    default: return kLstm;
  }
}

bool is_forward(ir::Op op) { return op == ir::Op::Lstm || op == ir::Op::SimpleRnn || op == ir::Op::Gru; }

// The recurrent kernel operand's shape as a matrix: given as its column
// panels (P, K, w), the step's matmul reads each tile's slice contiguously.
ir::Shape matrix_shape(const ir::TensorType& t) {
  if (t.rank() == 3 && t.shape[0].is_static() && t.shape[2].is_static())
    return {t.shape[1], t.shape[0].size * t.shape[2].size};
  return t.shape;
}

// A ShapeError naming the op and its operands' types: "lstm(f32[...], ...): why".
[[noreturn]] void operand_error(const ir::Node& n, std::span<const ir::TensorType> in, const std::string& why) {
  std::vector<std::string> s;
  for (const auto& t : in) s.push_back(ir::type_str(t));
  throw ShapeError(fmt::format("{}({}): {}", ir::op_name(n.op), fmt::join(s, ", "), why));
}

// The units U, checked against every operand; throws ShapeError naming the op
// and the shapes.
int64_t cell_units(const ir::Node& n, std::span<const ir::TensorType> in) {
  const auto fail = [&](const std::string& why) { operand_error(n, in, why); };
  const Cell cell = cell_of(n.op);
  const bool rk = n.op == ir::Op::RecurrentKernelGrad;
  // A GRU with reset_after may take its recurrent bias (3U) after r (rank 1,
  // unlike the initial state).
  const bool rb = n.op == ir::Op::Gru && n.attrs.reset_after && in.size() > 2 && in[2].rank() == 1;
  const size_t base = (rk ? 2 : is_forward(n.op) ? 2 : 3) + (rb ? 1 : 0), extra = rk ? 1 : cell.states;
  if (in.size() != base && in.size() != base + extra) fail(fmt::format("expected {} or {} operands", base, base + extra));
  const bool state = in.size() > base;
  check_cell_activation(cell_activation(n), "activation");
  check_cell_activation(gate_activation(n), "recurrent_activation");
  for (const auto& t : in)
    if (t.dtype != in[0].dtype) fail("operands of different dtypes");
  // The sequence operand (batch, time, ...) and the units.
  const ir::TensorType& seq = is_forward(n.op) ? in[0] : in[rk ? 0 : 1];
  int64_t U = 0;
  if (is_forward(n.op)) {
    if (seq.rank() != 3 || !seq.shape[2].is_static() || seq.shape[2].size % cell.gates != 0 || seq.shape[2].size == 0)
      fail(fmt::format("z must be (batch, time, {}units) with a static last axis",
                       cell.gates > 1 ? fmt::format("{}·", cell.gates) : std::string()));
    U = seq.shape[2].size / cell.gates;
  } else {
    if (seq.rank() != 4 || !seq.shape[2].is_static() || !seq.shape[3].is_static() ||
        (!rk && seq.shape[2] != ir::Dim(cell.slots)))
      fail(rk ? "y must be a recurrent layer's output (batch, time, slots, units)"
              : fmt::format("y must be the forward's output (batch, time, {}, units)", cell.slots));
    U = seq.shape[3].size;
  }
  const int64_t G = rk ? (in[1].rank() == 3 && in[1].shape[2].is_static() ? in[1].shape[2].size : 0) : cell.gates * U;
  const ir::Shape gates{U, G}, gates_t{G, U}, states{seq.shape[0], U};
  if (rb && in[base - 1].shape != ir::Shape{G})
    fail(fmt::format("the recurrent bias must be ({})", G));
  switch (n.op) {
    case ir::Op::Lstm:
    case ir::Op::SimpleRnn:
    case ir::Op::Gru:
      if (matrix_shape(in[1]) != gates) fail(fmt::format("the recurrent kernel must be {}", ir::shape_str(gates)));
      break;
    case ir::Op::LstmGrad:
    case ir::Op::SimpleRnnGrad:
    case ir::Op::GruGrad:
      if (matrix_shape(in[0]) != gates_t)
        fail(fmt::format("the transposed recurrent kernel must be {}", ir::shape_str(gates_t)));
      if (in[2].shape != seq.shape) {
        // The adjoint of h alone (1 slot), the others zero: see h_adjoint().
        ir::Shape h_only = seq.shape;
        h_only[2] = 1;
        if (in[2].shape != h_only) fail("the adjoint must have y's shape, or y's with one slot (h alone)");
      }
      break;
    default:
      if (G == 0 || G % U != 0 || in[1].shape != ir::Shape{seq.shape[0], seq.shape[1], G})
        fail(fmt::format("dz must be (batch, time, gates·units) with the batch and time of y"));
  }
  if (state)
    for (size_t i = base; i < in.size(); ++i)
      if (in[i].shape != states)
        fail(fmt::format("initial states must be (batch, units) = {}", ir::shape_str(states)));
  return U;
}

// Index helpers for the reference: a (N, T, S, U) tensor and (N, U) states.
struct Seq {
  int64_t N, T, S, U;
  int64_t at(int64_t n, int64_t t, int64_t s, int64_t u) const { return ((n * T + t) * S + s) * U + u; }
};

// input_projection: lstm / simple_rnn / gru (x, w, b, r ...) compute
// z = x w + b inside each step. The operand types the plain op (z, r ...)
// sees, after checking x (N, T, K), w (K, G) or its panels, b (G).
std::vector<ir::TensorType> projected_types(const ir::Node& n, std::span<const ir::TensorType> in) {
  const auto fail = [&](const std::string& why) { operand_error(n, in, why); };
  if (!is_forward(n.op)) fail("input_projection applies to lstm, gru and simple_rnn only");
  if (in.size() < 4) fail("with input_projection the operands are x, w, b, r and the initial states");
  const ir::TensorType& x = in[0];
  const ir::Shape w = matrix_shape(in[1]);
  if (x.rank() != 3 || !x.shape[2].is_static() || w.size() != 2 || w[0] != x.shape[2] || !w[1].is_static() ||
      in[2].shape != ir::Shape{w[1]})
    fail("with input_projection x must be (batch, time, K), w (K, G) and b (G)");
  std::vector<ir::TensorType> out{{x.dtype, {x.shape[0], x.shape[1], w[1]}}};
  out.insert(out.end(), in.begin() + 3, in.end());
  return out;
}

ir::Node without_projection(const ir::Node& n) {
  ir::Node plain = n;
  plain.attrs.input_projection = false;
  return plain;
}

}  // namespace

void check_cell_activation(const std::string& name, const char* what) {
  for (const char* a : kActivations)
    if (name == a) return;
  throw ShapeError(fmt::format("unknown {} '{}' (expected tanh, sigmoid, hard_sigmoid, relu or linear)", what, name));
}

int recurrent_weight_operand(const ir::Node& n) {
  switch (n.op) {
    case ir::Op::Lstm:
    case ir::Op::SimpleRnn:
    case ir::Op::Gru: return n.attrs.input_projection ? 3 : 1;
    case ir::Op::LstmGrad:
    case ir::Op::SimpleRnnGrad:
    case ir::Op::GruGrad: return 0;
    default: return -1;
  }
}

std::vector<int> packable_weight_operands(const ir::Node& n) {
  const int r = recurrent_weight_operand(n);
  if (r < 0) return {};
  if (n.attrs.input_projection) return {1, r};
  return {r};
}

ScanAxis scan_axis(ir::Op op) {
  switch (op) {
    case ir::Op::Lstm:
    case ir::Op::SimpleRnn: return {1, false};
    case ir::Op::Gru: return {1, false};
    case ir::Op::LstmGrad:
    case ir::Op::SimpleRnnGrad:
    case ir::Op::GruGrad: return {1, true};
    default: return {};
  }
}

ir::TensorType Recurrent::infer(const ir::Node& n, std::span<const ir::TensorType> in) {
  if (n.attrs.input_projection) return infer(without_projection(n), projected_types(n, in));
  const int64_t U = cell_units(n, in);
  const Cell cell = cell_of(n.op);
  switch (n.op) {
    case ir::Op::Lstm:
    case ir::Op::SimpleRnn:
    case ir::Op::Gru:
      return {in[0].dtype, {in[0].shape[0], in[0].shape[1], n.attrs.states_only ? cell.states : cell.slots, U}};
    case ir::Op::LstmGrad:
    case ir::Op::SimpleRnnGrad:
    case ir::Op::GruGrad: return {in[1].dtype, {in[1].shape[0], in[1].shape[1], cell.grad_slots, U}};
    case ir::Op::RecurrentKernelGrad: return {in[0].dtype, {U, in[1].shape[2].size}};
    default: break;
  }
  internal_error("not a recurrent op");
}

namespace {
// A forward's output with only its first `slots` slots (states_only).
RefTensor first_slots(const RefTensor& y, int64_t slots) {
  const int64_t N = y.shape[0], T = y.shape[1], S = y.shape[2], U = y.shape[3];
  RefTensor out{{N, T, slots, U}, std::vector<double>(N * T * slots * U)};
  for (int64_t r = 0; r < N * T; ++r)
    std::copy_n(y.data.begin() + r * S * U, slots * U, out.data.begin() + r * slots * U);
  return out;
}
}  // namespace

RefTensor Recurrent::reference(const ir::Node& n, std::span<const RefTensor* const> operands) {
  // Packed weights back to a matrix: the loops below index r (K, M) row-major.
  std::vector<const RefTensor*> in(operands.begin(), operands.end());
  std::vector<RefTensor> unpacked;
  unpacked.reserve(2);
  for (int i : packable_weight_operands(n)) {
    if (in[i]->shape.size() != 3) continue;
    const RefTensor& p = *in[i];
    const int64_t P = p.shape[0], K = p.shape[1], w = p.shape[2];
    RefTensor& m = unpacked.emplace_back(RefTensor{{K, P * w}, std::vector<double>(p.size())});
    for (int64_t c = 0; c < P * w; ++c)
      for (int64_t k = 0; k < K; ++k) m.data[k * P * w + c] = p.data[((c / w) * K + k) * w + c % w];
    in[i] = &m;
  }
  if (n.attrs.input_projection) {  // z = x w + b, then the plain cell
    const RefTensor &x = *in[0], &w = *in[1], &bias = *in[2];
    const int64_t rows = x.shape[0] * x.shape[1], K = x.shape[2], G = w.shape[1];
    RefTensor z{{x.shape[0], x.shape[1], G}, std::vector<double>(rows * G)};
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < G; ++j) {
        double a = bias.data[j];
        for (int64_t k = 0; k < K; ++k) a += x.data[r * K + k] * w.data[k * G + j];
        z.data[r * G + j] = a;
      }
    std::vector<const RefTensor*> plain{&z};
    plain.insert(plain.end(), in.begin() + 3, in.end());
    return reference(without_projection(n), plain);
  }
  const std::string act = cell_activation(n), ract = gate_activation(n);
  switch (n.op) {
    case ir::Op::Lstm: {
      const RefTensor &z = *in[0], &r = *in[1];
      const int64_t N = z.shape[0], T = z.shape[1], U = z.shape[2] / 4;
      const Seq y{N, T, kSlots, U};
      RefTensor out{{N, T, kSlots, U}, std::vector<double>(N * T * kSlots * U)};
      std::vector<double> a(4 * U);
      for (int64_t b = 0; b < N; ++b)
        for (int64_t t = 0; t < T; ++t) {
          const auto prev = [&](int s, int64_t u) {
            if (t > 0) return out.data[y.at(b, t - 1, s, u)];
            return in.size() > 2 ? in[2 + s]->data[b * U + u] : 0.0;
          };
          for (int64_t j = 0; j < 4 * U; ++j) {
            a[j] = z.data[(b * T + t) * 4 * U + j];
            for (int64_t i = 0; i < U; ++i) a[j] += prev(kH, i) * r.data[i * 4 * U + j];
          }
          for (int64_t u = 0; u < U; ++u) {
            const double ig = act_ref(ract, a[u]), fg = act_ref(ract, a[U + u]), gg = act_ref(act, a[2 * U + u]),
                         og = act_ref(ract, a[3 * U + u]);
            const double c = fg * prev(kC, u) + ig * gg;
            const double vals[kSlots] = {og * act_ref(act, c), c, ig, fg, gg, og};
            for (int s = 0; s < kSlots; ++s) out.data[y.at(b, t, s, u)] = vals[s];
          }
        }
      return n.attrs.states_only ? first_slots(out, kLstm.states) : out;
    }
    case ir::Op::LstmGrad: {
      const RefTensor &rt = *in[0], &y = *in[1], &gy = *in[2];
      const int64_t N = y.shape[0], T = y.shape[1], U = y.shape[3];
      const Seq s{N, T, kSlots, U};
      const Seq ds{N, T, kLstm.grad_slots, U};
      RefTensor d{{N, T, kLstm.grad_slots, U}, std::vector<double>(N * T * kLstm.grad_slots * U)};
      std::vector<double> dz(4 * U), dh_next(U);  // dh_next: dL/dh_t through step t+1, dz_{t+1} rᵀ
      for (int64_t b = 0; b < N; ++b)
        for (int64_t t = T - 1; t >= 0; --t) {
          const auto Y = [&](int k, int64_t u) { return y.data[s.at(b, t, k, u)]; };
          const bool h_only = gy.shape[2] == 1;  // the adjoint of h alone
          const auto G = [&](int k, int64_t u) {
            return h_only ? (k == kH ? gy.data[(b * T + t) * U + u] : 0.0) : gy.data[s.at(b, t, k, u)];
          };
          for (int64_t i = 0; i < U; ++i) {
            double acc = 0;
            if (t + 1 < T)
              for (int64_t j = 0; j < 4 * U; ++j) acc += d.data[ds.at(b, t + 1, 0, 0) + j] * rt.data[j * U + i];
            dh_next[i] = acc;
          }
          for (int64_t u = 0; u < U; ++u) {
            const double cp = t > 0 ? y.data[s.at(b, t - 1, kC, u)] : (in.size() > 3 ? in[4]->data[b * U + u] : 0.0);
            const double dh = G(kH, u) + dh_next[u];
            const double ac = act_ref(act, Y(kC, u));
            const double dc_next = t + 1 < T ? d.data[ds.at(b, t + 1, kDcPrev, u)] : 0.0;
            const double dc = G(kC, u) + dc_next + dh * Y(kO, u) * act_grad_ref(act, ac);
            dz[u] = (dc * Y(kG, u) + G(kI, u)) * act_grad_ref(ract, Y(kI, u));
            dz[U + u] = (dc * cp + G(kF, u)) * act_grad_ref(ract, Y(kF, u));
            dz[2 * U + u] = (dc * Y(kI, u) + G(kG, u)) * act_grad_ref(act, Y(kG, u));
            dz[3 * U + u] = (dh * ac + G(kO, u)) * act_grad_ref(ract, Y(kO, u));
            d.data[ds.at(b, t, kDcPrev, u)] = dc * Y(kF, u);
          }
          for (int64_t g = 0; g < 4; ++g)
            for (int64_t u = 0; u < U; ++u) d.data[ds.at(b, t, static_cast<int>(g), u)] = dz[g * U + u];
        }
      return d;
    }
    case ir::Op::SimpleRnn: {  // h_t = act(z_t + h_{t-1} r)
      const RefTensor &z = *in[0], &r = *in[1];
      const int64_t N = z.shape[0], T = z.shape[1], U = z.shape[2];
      RefTensor out{{N, T, 1, U}, std::vector<double>(N * T * U)};
      for (int64_t b = 0; b < N; ++b)
        for (int64_t t = 0; t < T; ++t)
          for (int64_t j = 0; j < U; ++j) {
            double a = z.data[(b * T + t) * U + j];
            for (int64_t i = 0; i < U; ++i)
              a += (t > 0 ? out.data[(b * T + t - 1) * U + i] : in.size() > 2 ? in[2]->data[b * U + i] : 0.0) *
                   r.data[i * U + j];
            out.data[(b * T + t) * U + j] = act_ref(act, a);
          }
      return out;
    }
    case ir::Op::SimpleRnnGrad: {  // d[:, t] = dz_t, dz_t = (gy_t + dz_{t+1} rᵀ) act'(h_t)
      const RefTensor &rt = *in[0], &y = *in[1], &gy = *in[2];
      const int64_t N = y.shape[0], T = y.shape[1], U = y.shape[3];
      RefTensor d{{N, T, 1, U}, std::vector<double>(N * T * U)};
      for (int64_t b = 0; b < N; ++b)
        for (int64_t t = T - 1; t >= 0; --t)
          for (int64_t u = 0; u < U; ++u) {
            double dh = gy.data[(b * T + t) * U + u];
            if (t + 1 < T)
              for (int64_t j = 0; j < U; ++j) dh += d.data[(b * T + t + 1) * U + j] * rt.data[j * U + u];
            d.data[(b * T + t) * U + u] = dh * act_grad_ref(act, y.data[(b * T + t) * U + u]);
          }
      return d;
    }
    case ir::Op::Gru: {
      // z = σ(zx_z + rec_z), r = σ(zx_r + rec_r), rec = h_{t-1} R (+ rb);
      // reset_after: hh = act(zx_h + r ⊙ rec_h); else act(zx_h + (r ⊙ h_{t-1}) R_h);
      // h = z ⊙ h_{t-1} + (1 - z) ⊙ hh.
      const RefTensor &zx = *in[0], &r = *in[1];
      const bool after = n.attrs.reset_after;
      const RefTensor* rb = after && in.size() > 2 && in[2]->shape.size() == 1 ? in[2] : nullptr;
      const RefTensor* h0 = in.size() > (rb ? 3u : 2u) ? in.back() : nullptr;
      const int64_t N = zx.shape[0], T = zx.shape[1], U = zx.shape[2] / 3;
      const Seq y{N, T, 5, U};
      RefTensor out{{N, T, 5, U}, std::vector<double>(N * T * 5 * U)};
      std::vector<double> hp(U), rec(3 * U), q(U);
      for (int64_t b = 0; b < N; ++b)
        for (int64_t t = 0; t < T; ++t) {
          for (int64_t i = 0; i < U; ++i) hp[i] = t > 0 ? out.data[y.at(b, t - 1, kH, i)] : h0 ? h0->data[b * U + i] : 0.0;
          for (int64_t j = 0; j < 3 * U; ++j) {
            rec[j] = rb ? rb->data[j] : 0.0;
            for (int64_t i = 0; i < U; ++i) rec[j] += hp[i] * r.data[i * 3 * U + j];
          }
          const auto X = [&](int64_t j) { return zx.data[(b * T + t) * 3 * U + j]; };
          std::vector<double> zg(U), rg(U);
          for (int64_t u = 0; u < U; ++u) {
            zg[u] = act_ref(ract, X(u) + rec[u]);
            rg[u] = act_ref(ract, X(U + u) + rec[U + u]);
            q[u] = after ? rec[2 * U + u] : rg[u] * hp[u];
          }
          for (int64_t u = 0; u < U; ++u) {
            double pre = X(2 * U + u);
            if (after) {
              pre += rg[u] * q[u];
            } else {
              for (int64_t i = 0; i < U; ++i) pre += q[i] * r.data[i * 3 * U + 2 * U + u];
            }
            const double hh = act_ref(act, pre);
            const double vals[5] = {zg[u] * hp[u] + (1 - zg[u]) * hh, zg[u], rg[u], hh, q[u]};
            for (int k = 0; k < 5; ++k) out.data[y.at(b, t, k, u)] = vals[k];
          }
        }
      return n.attrs.states_only ? first_slots(out, kGru.states) : out;
    }
    case ir::Op::GruGrad: {
      const RefTensor &rt = *in[0], &y = *in[1], &gy = *in[2];
      const bool after = n.attrs.reset_after;
      const RefTensor* h0 = in.size() > 3 ? in.back() : nullptr;
      const int64_t N = y.shape[0], T = y.shape[1], U = y.shape[3];
      const Seq s{N, T, 5, U};
      RefTensor d{{N, T, 5, U}, std::vector<double>(N * T * 5 * U)};
      // rt = Rᵀ (3U, U): R[i][j] = rt[j * U + i].
      const auto R = [&](int64_t i, int64_t j) { return rt.data[j * U + i]; };
      std::vector<double> dq(U);
      for (int64_t b = 0; b < N; ++b)
        for (int64_t t = T - 1; t >= 0; --t) {
          const auto Y = [&](int k, int64_t u) { return y.data[s.at(b, t, k, u)]; };
          const auto G = [&](int k, int64_t u) {
            return gy.shape[2] == 1 ? (k == kH ? gy.data[(b * T + t) * U + u] : 0.0) : gy.data[s.at(b, t, k, u)];
          };
          const auto hp = [&](int64_t u) {
            return t > 0 ? y.data[s.at(b, t - 1, kH, u)] : h0 ? h0->data[b * U + u] : 0.0;
          };
          std::vector<double> dh(U), dah(U);
          for (int64_t u = 0; u < U; ++u) {
            dh[u] = G(kH, u) + (t + 1 < T ? d.data[s.at(b, t + 1, kGruDhPrev, u)] : 0.0);
            if (after && t + 1 < T)  // step t+1's product (see lower)
              for (int64_t j = 0; j < U; ++j)
                dh[u] += d.data[s.at(b, t + 1, kDaZ, j)] * R(u, j) + d.data[s.at(b, t + 1, kDaR, j)] * R(u, U + j) +
                         d.data[s.at(b, t + 1, kDrecH, j)] * R(u, 2 * U + j);
            dah[u] = (dh[u] * (1 - Y(kGz, u)) + G(kGhh, u)) * act_grad_ref(act, Y(kGhh, u));
          }
          if (!after)
            for (int64_t i = 0; i < U; ++i) {
              dq[i] = G(kGq, i);
              for (int64_t u = 0; u < U; ++u) dq[i] += dah[u] * R(i, 2 * U + u);
            }
          for (int64_t u = 0; u < U; ++u) {
            const double daz = (dh[u] * (hp(u) - Y(kGhh, u)) + G(kGz, u)) * act_grad_ref(ract, Y(kGz, u));
            const double dr = after ? dah[u] * Y(kGq, u) + G(kGr, u) : dq[u] * hp(u) + G(kGr, u);
            const double vals[4] = {daz, dr * act_grad_ref(ract, Y(kGr, u)), dah[u],
                                    after ? dah[u] * Y(kGr, u) + G(kGq, u) : dah[u]};
            for (int k = 0; k < 4; ++k) d.data[s.at(b, t, k, u)] = vals[k];
          }
          for (int64_t i = 0; i < U; ++i) {
            double acc = dh[i] * Y(kGz, i);
            if (!after) {  // dL/dh_{t-1} whole; with reset_after the next step adds the product
              acc += dq[i] * Y(kGr, i);
              for (int64_t u = 0; u < U; ++u)
                acc += d.data[s.at(b, t, kDaZ, u)] * R(i, u) + d.data[s.at(b, t, kDaR, u)] * R(i, U + u);
            }
            d.data[s.at(b, t, kGruDhPrev, i)] = acc;
          }
        }
      return d;
    }
    case ir::Op::RecurrentKernelGrad: {
      const RefTensor &y = *in[0], &dz = *in[1];
      const int64_t N = y.shape[0], T = y.shape[1], U = y.shape[3], G = dz.shape[2];
      const Seq s{N, T, y.shape[2], U};
      RefTensor out{{U, G}, std::vector<double>(U * G, 0.0)};
      for (int64_t b = 0; b < N; ++b)
        for (int64_t t = 0; t < T; ++t)
          for (int64_t i = 0; i < U; ++i) {
            const double hp = t > 0 ? y.data[s.at(b, t - 1, kH, i)] : (in.size() > 2 ? in[2]->data[b * U + i] : 0.0);
            for (int64_t j = 0; j < G; ++j) out.data[i * G + j] += hp * dz.data[(b * T + t) * G + j];
          }
      return out;
    }
    default: break;
  }
  internal_error("not a recurrent op");
}

namespace {
// A weight operand (r, rᵀ, or input_projection's w; by default the recurrent
// kernel) indexed (column, row) in Halide's order, packed or not. Panels hold
// whole vectors of units (graph_passes packs only then), so a vector of
// columns is one contiguous load from one panel.
Halide::Func weight_func(const codegen::LowerCtx& ctx, const ir::Node& n, int i) {
  const ir::TensorType& t = ctx.in_type(n, i);
  if (t.rank() == 2) return ctx.in(n, i);
  const int w = static_cast<int>(t.shape[2].size);
  Halide::Func f(codegen::func_name(n, "_weights"));
  Halide::Var c("c"), k("k");
  f(c, k) = ctx.in(n, i)(c % w, k, c / w);
  return f;
}
Halide::Func weight_func(const codegen::LowerCtx& ctx, const ir::Node& n) {
  return weight_func(ctx, n, recurrent_weight_operand(n));
}
// Row b of the batch, clamped to the last: the schedule may round the rows
// of a step's product up to its register tile (Recurrent::schedule, `wide`
// tiles), and the extra rows read the last row again, not past the buffers.
Halide::Expr batch_row(const codegen::LowerCtx& ctx, const ir::Node& n, const Halide::Var& b) {
  return Halide::min(b, ctx.extent(n.type.shape[0]) - 1);
}
// input_projection's step product f(u, g, t, b) = b(g·U + u) + Σ_k x(k, t, b)
// w(k, g·U + u) (gate blocks of U units): f's pure definition and its first
// update.
void define_input_projection(Halide::Func f, const Halide::Var& u, const Halide::Var& g, const Halide::Var& t,
                             const Halide::Var& b, const codegen::LowerCtx& ctx, const ir::Node& n, int U) {
  using namespace Halide;
  const Func w = weight_func(ctx, n, 1), &x = ctx.in(n, 0);
  RDom rk(0, static_cast<int>(ctx.in_type(n, 0).shape[2].size), "rk");
  f(u, g, t, b) = ctx.in(n, 2)(g * U + u);
  f(u, g, t, b) += w(g * U + u, rk) * x(rk, t, batch_row(ctx, n, b));
}
// A backward step's matmul: Σ_{g, u} rᵀ(i, g·U + u) dz(u, g) over the cell's
// `gates` blocks, the gradient of the h that entered the step whose dz it
// reads. The schedule tiles its update. With `steps`, none on the last step
// (Halide hoists the test out of the loops): there it is zero. dz's rows
// are read clamped (batch_row), so dz itself is never asked for more rows
// than the batch when the tiles round them up.
void previous_h_grad(const codegen::LowerCtx& ctx, const ir::Node& n, Halide::Func dhp, const Halide::Func& rt,
                     const Halide::Func& dz, int U, int gates, const Halide::Expr& zero,
                     const Halide::Expr& steps = Halide::Expr()) {
  using namespace Halide;
  Var i("i"), t("t"), b("b");
  RDom rj(0, U, 0, gates, "rj");
  if (steps.defined()) rj.where(t + 1 < steps);
  dhp(i, t, b) = zero;
  dhp(i, t, b) += rt(i, rj.y * U + rj.x) * dz(rj.x, rj.y, t, batch_row(ctx, n, b));
}
// LSTM's, SimpleRNN's and GRU's (reset_after) backward step t: dL/dh_t
// through step t+1's product, dz_{t+1} rᵀ, from the dz slots the previous
// call wrote (the first `gates`, or `slots`); zero on the last step, the
// first call. With the product, its left operand (those slots), a stage
// the schedule places.
struct NextStepGrad {
  Halide::Func dh, operand;
};
NextStepGrad next_step_h_grad(const codegen::LowerCtx& ctx, const ir::Node& n, const Halide::Func& rt, int U,
                              int gates, const Halide::Expr& zero, const std::vector<int>& slots = {}) {
  using namespace Halide;
  Var u("u"), g("g"), t("t"), b("b");
  const Expr T = ctx.extent(n.type.shape[1]);
  Func dhn(codegen::func_name(n, "_dh_next")), dzn(codegen::func_name(n, "_dz_next"));
  // Gate g's slot (the product's outer loop: a select per gate, not per load).
  Expr slot = g;
  if (!slots.empty()) {
    slot = slots.back();
    for (int i = static_cast<int>(slots.size()) - 2; i >= 0; --i) slot = select(g == i, slots[i], slot);
  }
  dzn(u, g, t, b) = ctx.self(u, slot, min(t + 1, T - 1), b);
  previous_h_grad(ctx, n, dhn, rt, dzn, U, gates, zero, T);
  return {dhn, dzn};
}

}  // namespace

// Halide dims are the IR axes reversed: y(u, slot, t, b), z(j, t, b),
// r(j, i), rᵀ(i, j), states(u, b).
Halide::Func Recurrent::lower(codegen::LowerCtx& ctx, const ir::Node& n) {
  using namespace Halide;
  const std::string act = cell_activation(n), ract = gate_activation(n);
  const std::vector<Var> v = codegen::axis_vars(n.type.rank());
  Func out(codegen::func_name(n));
  const Expr zero = cast(ctx.type, 0);
  switch (n.op) {
    case ir::Op::Lstm:
    case ir::Op::SimpleRnn: {
      BRINE_CHECK_INTERNAL(ctx.self.defined(), "a recurrence lowered outside a scan kernel");
      Var u = v[3], k = v[2], t = v[1], b = v[0], g("g");
      const int U = static_cast<int>(n.type.shape[3].size);
      const bool proj = n.attrs.input_projection, lstm = n.op == ir::Op::Lstm;
      const size_t base = proj ? 4 : 2;  // the initial states' operands
      const bool state = n.inputs.size() > base;
      const Func r = weight_func(ctx, n);
      Func hp(codegen::func_name(n, "_h_prev")), cp(codegen::func_name(n, "_c_prev"));
      Func gates(codegen::func_name(n, "_gates")), acts(codegen::func_name(n, "_acts"));
      const Expr first = t == 0;
      const Expr before = max(t - 1, 0);
      const Expr row = batch_row(ctx, n, b);
      hp(u, t, b) = select(first, state ? ctx.in(n, base)(u, row) : zero, ctx.self(u, kH, before, row));
      // Gate pre-activations indexed (unit, gate) so that a block of units
      // needs exactly its gates' columns. With input_projection the step's
      // x w accumulates into them too (z never leaves the registers).
      RDom ri(0, U, "ri");
      if (proj) {
        define_input_projection(gates, u, g, t, b, ctx, n, U);
      } else {
        gates(u, g, t, b) = ctx.in(n, 0)(g * U + u, t, row);
      }
      gates(u, g, t, b) += r(g * U + u, ri) * hp(ri, t, b);
      if (!lstm) {  // SimpleRNN: h_t = act(z_t + h_{t-1} r)
        acts(u, g, t, b) = act_expr(act, gates(u, 0, t, b));
        out(u, k, t, b) = acts(u, 0, t, b);
        ctx.stages[n.id] = {gates, acts, hp};
        return out;
      }
      cp(u, t, b) = select(first, state ? ctx.in(n, base + 1)(u, b) : zero, ctx.self(u, kC, before, b));
      acts(u, g, t, b) = mux(g, {act_expr(ract, gates(u, 0, t, b)), act_expr(ract, gates(u, 1, t, b)),
                                 act_expr(act, gates(u, 2, t, b)), act_expr(ract, gates(u, 3, t, b))});
      const Expr c = acts(u, 1, t, b) * cp(u, t, b) + acts(u, 0, t, b) * acts(u, 2, t, b);
      if (n.attrs.states_only) {
        out(u, k, t, b) = mux(k, {acts(u, 3, t, b) * act_expr(act, c), c});
        ctx.stages[n.id] = {gates, acts, hp};
        return out;
      }
      out(u, k, t, b) = mux(k, {acts(u, 3, t, b) * act_expr(act, c), c, acts(u, 0, t, b), acts(u, 1, t, b),
                                acts(u, 2, t, b), acts(u, 3, t, b)});
      ctx.stages[n.id] = {gates, acts, hp};
      return out;
    }
    case ir::Op::Gru: {
      BRINE_CHECK_INTERNAL(ctx.self.defined(), "gru lowered outside a scan kernel");
      Var u = v[3], k = v[2], t = v[1], b = v[0], g("g");
      const int U = static_cast<int>(n.type.shape[3].size);
      const bool after = n.attrs.reset_after, projected = n.attrs.input_projection;
      const size_t rb_at = projected ? 4 : 2;  // x, w, b in z's place with input_projection
      const bool has_rb = after && n.inputs.size() > rb_at && ctx.in_type(n, rb_at).rank() == 1;
      const size_t base = rb_at + (has_rb ? 1 : 0);
      const bool state = n.inputs.size() > base;
      const Func r = weight_func(ctx, n);
      Func hp(codegen::func_name(n, "_h_prev")), gates(codegen::func_name(n, "_gates")),
          acts(codegen::func_name(n, "_acts")), q(codegen::func_name(n, "_q")), hrec(codegen::func_name(n, "_h_rec")),
          proj(codegen::func_name(n, "_proj"));
      const Expr row = batch_row(ctx, n, b);
      hp(u, t, b) = select(t == 0, state ? ctx.in(n, base)(u, row) : zero, ctx.self(u, kH, max(t - 1, 0), row));
      // The input side of gate `block` (z, r, the candidate): z's, or with
      // input_projection the step's x w + b, a product of its own (the
      // candidate's must stay apart from its recurrent term, which r scales).
      if (projected) define_input_projection(proj, u, g, t, b, ctx, n, U);
      const auto zx = [&](int block) { return projected ? proj(u, block, t, b) : ctx.in(n, 0)(block * U + u, t, b); };
      // The recurrent terms of the gates: (z, r) always, the candidate's too
      // with reset_after (it is scaled by r after the matmul).
      RDom ri(0, U, "ri");
      gates(u, g, t, b) = zero;
      gates(u, g, t, b) += r(g * U + u, ri) * hp(ri, t, b);
      const auto rb = [&](int block) { return has_rb ? ctx.in(n, rb_at)(block * U + u) : zero; };
      const Expr a_z = act_expr(ract, zx(0) + gates(u, 0, t, b) + rb(0)),
                 a_r = act_expr(ract, zx(1) + gates(u, 1, t, b) + rb(1));
      Expr pre;
      if (after) {
        acts(u, g, t, b) = mux(g, {a_z, a_r});
        q(u, t, b) = gates(u, 2, t, b) + rb(2);
        pre = zx(2) + acts(u, 1, t, b) * q(u, t, b);
      } else {
        // Reset before the matmul: (r ⊙ h_{t-1}) R_h, a second product, whose
        // operand r ⊙ h_{t-1} is acts' third slot (every unit's is needed
        // before any unit's product: the schedule computes acts first); with
        // input_projection the candidate's x w is a fourth, so that the whole
        // projection runs where acts does.
        std::vector<Expr> slots{a_z, a_r, a_r * hp(u, t, b)};
        if (projected) slots.push_back(zx(2));
        acts(u, g, t, b) = mux(g, slots);
        q(u, t, b) = acts(u, 2, t, b);
        RDom rq(0, U, "rq");
        hrec(u, t, b) = zero;
        hrec(u, t, b) += r(2 * U + u, rq) * acts(rq, 2, t, row);  // rows clamped: wide tiles
        pre = (projected ? Expr(acts(u, 3, t, b)) : zx(2)) + hrec(u, t, b);
      }
      const Expr hh = act_expr(act, pre), z = acts(u, 0, t, b);
      const Expr h = z * hp(u, t, b) + (cast(ctx.type, 1) - z) * hh;
      out(u, k, t, b) = n.attrs.states_only ? h : mux(k, {h, z, acts(u, 1, t, b), hh, q(u, t, b)});
      // Stages: gates, acts, hp, q [, proj] [, hrec] (the schedule's order).
      ctx.stages[n.id] = {gates, acts, hp, q};
      if (projected) ctx.stages[n.id].push_back(proj);
      if (!after) ctx.stages[n.id].push_back(hrec);
      return out;
    }
    case ir::Op::GruGrad: {
      BRINE_CHECK_INTERNAL(ctx.self.defined(), "gru_grad lowered outside a scan kernel");
      Var u = v[3], k = v[2], t = v[1], b = v[0], g("g"), i("i");
      const int U = static_cast<int>(n.type.shape[3].size);
      const Expr T = ctx.extent(n.type.shape[1]);
      const bool after = n.attrs.reset_after;
      const size_t base = 3;
      const bool state = n.inputs.size() > base;
      const Func rt = weight_func(ctx, n), &y = ctx.in(n, 1), &gy = ctx.in(n, 2);
      const bool h_only = ctx.in_type(n, 2).shape[2] == ir::Dim(1);  // see h_adjoint()
      const auto Y = [&](int s, Expr x) { return y(x, s, t, b); };
      const auto G = [&](int s, Expr x) { return h_only && s != kH ? zero : Expr(gy(x, s, t, b)); };
      const Expr hpu = select(t == 0, state ? ctx.in(n, base)(u, b) : zero, y(u, kH, max(t - 1, 0), b));
      Func dh(codegen::func_name(n, "_dh")), dah(codegen::func_name(n, "_dah"));
      // Step t+1 sent back slot 4 (kGruDhPrev): with reset_after only the
      // elementwise part dh_{t+1} ⊙ z_{t+1}, this call adding the product of
      // that step's slots 0, 1, 3 (da_z, da_r, drec_h) with rᵀ, in one pass
      // per step as LSTM's (the initial state's product is the VJP's).
      // Without it the step has a second product, dq = da_h R_hᵀ, which its
      // dz reads for every unit: two phases, dz of all units (after dq), then
      // blocks of units computing dL/dh_{t-1} whole.
      Expr dh_t = G(kH, u);
      NextStepGrad next;
      if (after) {
        next = next_step_h_grad(ctx, n, rt, U, 3, zero, {kDaZ, kDaR, kDrecH});
        dh_t += next.dh(u, t, b);
      }
      dh(u, t, b) = dh_t + select(t + 1 >= T, zero, ctx.self(u, kGruDhPrev, min(t + 1, T - 1), b));
      dah(u, t, b) = (dh(u, t, b) * (cast(ctx.type, 1) - Y(kGz, u)) + G(kGhh, u)) * act_grad_expr(act, Y(kGhh, u));
      const Expr daz = (dh(u, t, b) * (hpu - Y(kGhh, u)) + G(kGz, u)) * act_grad_expr(ract, Y(kGz, u));
      if (after) {
        const Expr dar = (dah(u, t, b) * Y(kGq, u) + G(kGr, u)) * act_grad_expr(ract, Y(kGr, u));
        const Expr drec = dah(u, t, b) * Y(kGr, u) + G(kGq, u);
        out(u, k, t, b) = mux(k, {daz, dar, dah(u, t, b), drec, dh(u, t, b) * Y(kGz, u)});
        ctx.stages[n.id] = {next.dh, dh, dah, next.operand};  // dh and da_h: once per row (the schedule)
        return out;
      }
      Func dq(codegen::func_name(n, "_dq")), dz(codegen::func_name(n, "_dz")), dhp(codegen::func_name(n, "_dh_prev"));
      // Both products read their rows clamped (the wide tiles round them up).
      RDom rq(0, U, "rq");
      const Expr row = batch_row(ctx, n, b);
      dq(i, t, b) = h_only ? zero : Expr(gy(i, kGq, t, row));
      dq(i, t, b) += rt(i, 2 * U + rq) * dah(rq, t, row);
      // The gradients of the gates' recurrent terms: the matmul's operand.
      dz(u, g, t, b) = mux(g, {daz, (dq(u, t, b) * hpu + G(kGr, u)) * act_grad_expr(ract, Y(kGr, u))});
      previous_h_grad(ctx, n, dhp, rt, dz, U, 2, zero);
      const Expr prev = dh(u, t, b) * Y(kGz, u) + dhp(u, t, b) + dq(u, t, b) * Y(kGr, u);
      out(u, k, t, b) = mux(k, {dz(u, 0, t, b), dz(u, 1, t, b), dah(u, t, b), dah(u, t, b), prev});
      ctx.stages[n.id] = {dhp, dz, dah, dq};
      return out;
    }
    case ir::Op::SimpleRnnGrad: {
      BRINE_CHECK_INTERNAL(ctx.self.defined(), "simple_rnn_grad lowered outside a scan kernel");
      Var u = v[3], k = v[2], t = v[1], b = v[0];
      const int U = static_cast<int>(n.type.shape[3].size);
      const Func rt = weight_func(ctx, n), &y = ctx.in(n, 1), &gy = ctx.in(n, 2);
      const NextStepGrad next = next_step_h_grad(ctx, n, rt, U, 1, zero);
      out(u, k, t, b) = (gy(u, kH, t, b) + next.dh(u, t, b)) * act_grad_expr(act, y(u, kH, t, b));
      ctx.stages[n.id] = {next.dh, next.operand};
      return out;
    }
    case ir::Op::LstmGrad: {
      BRINE_CHECK_INTERNAL(ctx.self.defined(), "lstm_grad lowered outside a scan kernel");
      Var u = v[3], k = v[2], t = v[1], b = v[0], g("g");
      const int U = static_cast<int>(n.type.shape[3].size);
      const Expr T = ctx.extent(n.type.shape[1]);
      const Func rt = weight_func(ctx, n), &y = ctx.in(n, 1), &gy = ctx.in(n, 2);
      const bool state = n.inputs.size() > 3;
      // gy with one slot: only h has a gradient (the usual case, see vjp).
      const bool h_only = ctx.in_type(n, 2).shape[2] == ir::Dim(1);
      const Expr last = t + 1 >= T, after = min(t + 1, T - 1);
      const auto Y = [&](int s) { return y(u, s, t, b); };
      const auto G = [&](int s) { return h_only && s != kH ? zero : Expr(gy(u, s, t, b)); };
      Func dh(codegen::func_name(n, "_dh")), dc(codegen::func_name(n, "_dc")), dz(codegen::func_name(n, "_dz"));
      const NextStepGrad next = next_step_h_grad(ctx, n, rt, U, 4, zero);
      dh(u, t, b) = G(kH) + next.dh(u, t, b);
      // act(c_t), read by dc and dz_o, inlined into both: computed once per
      // row into a stage of its own, lstm_grad took 1.28x the time (two
      // runs, against an A/A spread of ±10% in that noisy hour).
      const Expr ac = act_expr(act, y(u, kC, t, b));
      dc(u, t, b) = G(kC) + select(last, zero, ctx.self(u, kDcPrev, after, b)) +
                    dh(u, t, b) * y(u, kO, t, b) * act_grad_expr(act, ac);
      const Expr cprev = select(t == 0, state ? ctx.in(n, 4)(u, b) : zero, y(u, kC, max(t - 1, 0), b));
      dz(u, g, t, b) = mux(g, {(dc(u, t, b) * Y(kG) + G(kI)) * act_grad_expr(ract, Y(kI)),
                               (dc(u, t, b) * cprev + G(kF)) * act_grad_expr(ract, Y(kF)),
                               (dc(u, t, b) * Y(kI) + G(kG)) * act_grad_expr(act, Y(kG)),
                               (dh(u, t, b) * ac + G(kO)) * act_grad_expr(ract, Y(kO))});
      out(u, k, t, b) = select(k < 4, dz(u, clamp(k, 0, 3), t, b), dc(u, t, b) * Y(kF));
      ctx.stages[n.id] = {next.dh, dc, next.operand};
      return out;
    }
    case ir::Op::RecurrentKernelGrad: {
      Var j = v[1], i = v[0], t("t"), b("b");
      const ir::TensorType& yt = ctx.in_type(n, 0);
      const Func &y = ctx.in(n, 0), &dz = ctx.in(n, 1);
      const bool state = n.inputs.size() > 2;
      Func acc(codegen::func_name(n, "_acc"));
      // Steps 1.. read h_{t-1} from y; step 0's h0 (zero unless given) is a
      // separate update, so that the main sum has no select per load.
      // (As a predicate rather than an RDom from 1: the autoschedulers size
      // loops from estimates, and T - 1 steps of an estimated T = 1 is none.
      // Halide folds the predicate into the loop's bounds.)
      RDom r(0, ctx.extent(yt.shape[1]), 0, ctx.extent(yt.shape[0]), "r");
      r.where(r.x >= 1);
      acc(j, i) = zero;
      if (state) {
        RDom r0(0, ctx.extent(yt.shape[0]), "r0");
        acc(j, i) += ctx.in(n, 2)(i, r0) * dz(j, 0, r0);
      }
      Func panel(codegen::func_name(n, "_dz_panel"));  // the schedule's copy of a tile's columns
      panel(j, t, b) = dz(j, t, b);
      Func hprev(codegen::func_name(n, "_h_prev"));  // and of a sample's h_{t-1}
      hprev(i, t, b) = y(i, kH, max(t - 1, 0), b);
      acc(j, i) += hprev(i, r.x, r.y) * panel(j, r.x, r.y);
      out(j, i) = acc(j, i);
      ctx.stages[n.id] = {acc, panel, hprev};
      return out;
    }
    default: break;
  }
  internal_error("not a recurrent op");
}

namespace {

// The width of a register tile along a vectorized axis of `extent`: 3 or 2
// vectors when they divide it, else one.
int tile_width(int64_t extent, int lanes) {
  for (int c : {3, 2})
    if (extent % (c * lanes) == 0) return c * lanes;
  return lanes;
}

// A register tile of an accumulation: `x` split into xo and a vectorized,
// unrolled xi of `width`, then the loops in `order` (innermost first; it
// names xi and xo, the unrolled rows, the reduction and every other loop).
void register_tile(Halide::Stage st, Halide::Var x, Halide::Var xo, Halide::Var xi, int width, int lanes,
                   const std::vector<Halide::VarOrRVar>& order, const std::vector<Halide::VarOrRVar>& unrolled) {
  using namespace Halide;
  st.split(x, xo, xi, width, TailStrategy::GuardWithIf).reorder(order).vectorize(xi, lanes, TailStrategy::GuardWithIf).unroll(xi);
  for (const VarOrRVar& y : unrolled) st.unroll(y);
}

}  // namespace

// THE SCHEDULES. A step of lstm / lstm_grad works on a few batch rows at a
// time: the rows' gate pre-activations accumulate in registers (the matmul's
// register tile: vectors along the 4U gates by the rows) while the recurrent
// kernel streams from cache, then the gate nonlinearities and the state
// update run on the rows while they are in L1, and the step's output is
// written once. Rows in parallel when a step has enough work.
void Recurrent::schedule(codegen::ScheduleCtx& s) {
  using namespace Halide;
  const auto& st = s.lower.stages.at(s.anchor.id);
  const int v = s.vector_width;
  if (s.anchor.op == ir::Op::RecurrentKernelGrad) {
    // dr = Σ h_prevᵀ dz over the batch and time, summed like a Dense-on-
    // sequences weight gradient (ops/matmul.h); the h0 term, if any, is an
    // update of its own before the main sum. h_{t-1} is copied per sample
    // (its steps 1 KiB apart instead of a workspace row, 6 KiB, whose 50
    // steps fell into two L1 sets): lstm256's dR 0.88-0.92x the time.
    Func acc = st[0];
    const int64_t G = s.anchor.type.shape[1].size;
    const int lanes = static_cast<int>(std::min<int64_t>(G, v));
    const int main_sum = acc.num_update_definitions() - 1;
    if (main_sum > 0) acc.update(0).vectorize(s.out_vars[1], lanes, TailStrategy::GuardWithIf);
    schedule_sample_sum(s, acc, main_sum, st[1], tile_width(G, lanes));
    Func(st[2]).compute_at(acc, codegen::update_rvars(acc, main_sum)[1]);  // h_{t-1}: per sample
    return;
  }
  const int64_t U = s.anchor.type.shape[3].size;
  const int lanes = static_cast<int>(std::min<int64_t>(U, v));
  Var u = s.out_vars[3], k = s.out_vars[2], b = s.out_vars[0], uo("uo"), ui("ui");
  const Expr N = s.out.output_buffer().dim(3).extent();
  const bool forward = is_forward(s.anchor.op);
  // Threads take blocks of units: a block's share of the recurrent kernel
  // (its four gates' columns; 512 KiB of lstm256's 1 MiB) stays in its core's
  // L2 from step to step. Splitting the batch rows instead streamed the whole
  // kernel through every task at every step (see docs/scheduling.md). The
  // backward takes two blocks, one per core: each block's product reads the
  // dz of all units (LSTM's, SimpleRNN's and reset_after GRU's from the
  // previous call; other GRUs' computed before the blocks, one more
  // parallel loop).
  int64_t ub = U;
  if (U >= 64)
    for (const int64_t c : forward ? std::vector<int64_t>{128, 64, 32} : std::vector<int64_t>{U / 2})
      if (U % c == 0 && U / c >= 2 && c % lanes == 0) {
        ub = c;
        break;
      }
  // Pure stages shift their last vector inwards (lanes <= U): Halide 14
  // miscompiled the guarded tail of the unrolled slots (17 units: the h
  // slot's second vector was stored over its first).
  s.out.split(u, uo, ui, static_cast<int>(ub), TailStrategy::ShiftInwards)
      .reorder(ui, k, b, uo)
      .vectorize(ui, lanes, TailStrategy::ShiftInwards)
      .unroll(k);
  if (ub < U) s.out.parallel(uo);
  for (Func f : st) f.compute_at(s.out, uo);
  // The step's matmul: register tiles of vectors of units by 8 batch rows,
  // the contraction inside, when the rows divide; one row otherwise.
  // `outer` reductions go outside the tiles: a backward step contracts over
  // 4U (its kernel slice per tile: 1024 x 32, 128 KiB, more than L1), so the
  // tiles sum one gate's block at a time (32 KiB), all rows passing over it.
  //
  // Wide tiles (every step product, in blocks of 4 vectors of units or
  // more, from 24 rows): 4 vectors by 6 rows, 24 accumulators where 2 x 8
  // had 16, fewer loads per FMA. Six rows rarely divide the batch, and a
  // guarded tail tile ran at ~40% of the others' speed, so the stage's rows
  // are rounded up to a multiple of 6 (align_bounds): the extra rows (2 of
  // lstm256's 64) are computed from clamped reads (batch_row: lower clamps
  // every row these stages read) and never stored. The step's product
  // alone, 64 x 256 x 512 per core: 86 -> 96 GFLOP/s; lstm256's forward
  // 0.92-0.96x the time (docs/scheduling.md).
  constexpr int kWideRows = 6;
  const bool wide = ub % (4 * lanes) == 0;
  const Expr wide_rows = N >= 4 * kWideRows;
  const auto tile = [&](Func f, const std::vector<VarOrRVar>& r, const std::vector<VarOrRVar>& outer,
                        const std::vector<VarOrRVar>& others, int update = 0, bool parallel_tiles = false) {
    const std::vector<Var> a = f.args();
    Var x = a[0], rows = a.back(), xo("xo"), xi("xi"), ro("ro"), rin("rin");
    const int width = tile_width(ub, lanes);
    if (update == 0) {  // the pure definition, once
      f.vectorize(x, lanes, TailStrategy::ShiftInwards);
      if (wide) f.align_bounds(rows, select(wide_rows, kWideRows, 1));
    }
    // Row tiles inside the unit tiles: a tile's 32 KiB slice of the kernel
    // stays in L1 while all the rows pass over it.
    const auto row_tiles = [&](Stage st, int tile_rows, int tile_cols, TailStrategy tail) {
      st.split(rows, ro, rin, tile_rows, tail);
      std::vector<VarOrRVar> order{xi, rin};
      order.insert(order.end(), r.begin(), r.end());
      order.push_back(ro);
      order.push_back(xo);
      order.insert(order.end(), outer.begin(), outer.end());
      order.insert(order.end(), others.begin(), others.end());
      register_tile(st, x, xo, xi, tile_cols, lanes, order, {rin});
      if (parallel_tiles) st.parallel(xo);
    };
    if (wide) row_tiles(f.update(update).specialize(wide_rows), kWideRows, 4 * lanes, TailStrategy::RoundUp);
    row_tiles(f.update(update).specialize(N % 8 == 0), 8, width, TailStrategy::GuardWithIf);
    std::vector<VarOrRVar> one{xi};
    one.insert(one.end(), r.begin(), r.end());
    one.insert(one.end(), outer.begin(), outer.end());
    one.push_back(xo);
    one.insert(one.end(), others.begin(), others.end());
    one.push_back(rows);
    register_tile(f.update(update), x, xo, xi, width, lanes, one, {});
    if (parallel_tiles) f.update(update).parallel(xo);
  };
  // A GRU without reset_after has a second product per step (its candidate's
  // (r ⊙ h) R_h forward, dq backward): the last stage, tiled the same way.
  const bool second_product = s.anchor.op == ir::Op::Gru ? !s.anchor.attrs.reset_after
                                                         : s.anchor.op == ir::Op::GruGrad && !s.anchor.attrs.reset_after;
  if (second_product) {
    Func f = st.back();
    // Backward in blocks of units: dq feeds the step's dz, computed for all
    // units before the blocks (below), so dq goes first, its tiles in parallel.
    const bool first = !forward && ub < U;
    tile(f, {codegen::update_rvars(f)[0]}, {}, {f.args()[1]}, 0, first);
    if (first) f.compute_root();
  }
  if (forward) {
    Func gates = st[0], acts = st[1], hp = st[2];
    // Every product (x w with input_projection, h r) tiled alike.
    for (int up = 0; up < gates.num_update_definitions(); ++up)
      tile(gates, {codegen::update_rvars(gates, up)[0]}, {}, {gates.args()[1], gates.args()[2]}, up);
    if (s.anchor.op == ir::Op::Gru && !s.anchor.attrs.reset_after && ub < U) {
      // Each block's candidate product reads r ⊙ h_{t-1} of every unit: acts
      // (with the gate product) go first, blocks of units in parallel, and
      // h_{t-1} once for both loops. Inside out's blocks, every block
      // computed the whole gate product: 6.8 ms for GRU(256) T50 b64's scan.
      Var a = acts.args()[0], ao("ao"), ai("ai");
      acts.compute_root()
          .split(a, ao, ai, static_cast<int>(ub), TailStrategy::ShiftInwards)
          .reorder(ai, acts.args()[1], acts.args()[2], acts.args()[3], ao)
          .vectorize(ai, lanes, TailStrategy::ShiftInwards)
          .unroll(acts.args()[1])
          .parallel(ao);
      gates.compute_at(acts, ao);
      if (s.anchor.attrs.input_projection) Func(st[4]).compute_at(acts, ao);
      hp.compute_root().vectorize(hp.args()[0], lanes, TailStrategy::ShiftInwards);
    } else {
      acts.vectorize(acts.args()[0], lanes, TailStrategy::ShiftInwards).unroll(acts.args()[1]);
      hp.vectorize(hp.args()[0], lanes, TailStrategy::ShiftInwards);
    }
    if (s.anchor.op == ir::Op::Gru) {
      Func(st[3]).vectorize(st[3].args()[0], lanes, TailStrategy::ShiftInwards);
      if (s.anchor.attrs.input_projection) {  // GRU's x w: a product of its own (see lower), tiled as h r
        Func proj = st[4];
        tile(proj, {codegen::update_rvars(proj)[0]}, {}, {proj.args()[1], proj.args()[2]});
      }
    }
    return;
  }
  if (s.anchor.op == ir::Op::LstmGrad || s.anchor.op == ir::Op::SimpleRnnGrad ||
      (s.anchor.op == ir::Op::GruGrad && s.anchor.attrs.reset_after)) {
    // A block of units: the product dz_{t+1} rᵀ for its units (over all of
    // dz_{t+1}, which the previous call wrote), then its dz row by row, dz
    // inline in out's slots, the values several slots read (LSTM's dc,
    // GRU's dh and da_h) once per row: inlined, GRU's one pass was no
    // faster than its two phases. One parallel loop per step, and
    // dz written once, into the output.
    Func dhn = st[0], dzn = st.back();
    const std::vector<RVar> rj = codegen::update_rvars(dhn);
    tile(dhn, {rj[0]}, {rj[1]}, {dhn.args()[1]});
    for (size_t i = 1; i + 1 < st.size(); ++i)
      Func(st[i]).compute_at(s.out, b).vectorize(st[i].args()[0], lanes, TailStrategy::ShiftInwards);
    // The product's left operand, one gate's dz_{t+1} of every row, copied
    // contiguous first, as the forward copies h_{t-1}: read in place, the
    // rows a tile broadcasts from are a sample apart (256 000 bytes in
    // lstm256, 2048 modulo 4 KiB), so they share two of L1's 64 sets with
    // 8 lines each of the kernel slice. (Measured with the dR change below:
    // the gradient graph ~0.95x, docs/scheduling.md; the whole step's dz
    // copied at once, 256 KiB per block, was no faster than none.)
    dzn.compute_at(dhn, rj[1]).vectorize(dzn.args()[0], lanes, TailStrategy::ShiftInwards);
    return;
  }
  Func dhp = st[0], dz = st[1], dc = st[2];
  const std::vector<RVar> rj = codegen::update_rvars(dhp);
  tile(dhp, {rj[0]}, {rj[1]}, {dhp.args()[1]});
  dz.vectorize(dz.args()[0], lanes, TailStrategy::ShiftInwards).unroll(dz.args()[1]);
  dc.vectorize(dc.args()[0], lanes, TailStrategy::ShiftInwards);
  if (ub < U) {
    // Every unit block's matmul reads the step's dz of all units: computed
    // once per step, rows in parallel, rather than by each block (which
    // read the step's y and gy, 768 KiB for lstm256, from memory twice).
    // GRU's da_h is a loop of its own.
    for (Func f : {dz, dc}) {
      Var rows = f.args().back(), rb("rb"), ri("ri");
      f.compute_root().split(rows, rb, ri, 8, TailStrategy::GuardWithIf).parallel(rb);
    }
  }
}

std::vector<OpSample> Recurrent::samples(ir::Op op) {
  // 128 units: the wide register tiles (blocks of 64 units, the rows rounded
  // up to 6 from a batch of 24: the sweep's 33), a path of `tuned` only.
  const auto wide = [](OpSample s) {
    s.tuned_only = true;
    return s;
  };
  ir::Attrs keras, other, states_only, projected, projected_states;
  other.activation = "relu";
  other.recurrent_activation = "hard_sigmoid";
  states_only.states_only = true;
  projected.input_projection = projected_states.input_projection = true;
  projected_states.states_only = true;
  switch (op) {
    case ir::Op::Lstm:
      return {{"zero initial state", {{"N", 4, 12}, {3, 12}}, keras},
              {"initial state, 17 units (vector tail)", {{"N", 3, 68}, {17, 68}, {"N", 17}, {"N", 17}}, keras},
              {"one step, relu / hard_sigmoid", {{"N", 1, 8}, {2, 8}}, other},
              {"dynamic sequence length", {{2, "N", 8}, {2, 8}}, keras},
              // 16 units: codegen packs the recurrent kernel (codegen/graph_passes.h)
              {"16 units, packed recurrent kernel", {{"N", 3, 64}, {16, 64}}, keras},
              {"64 units in blocks (threads take blocks of units)", {{"N", 2, 256}, {64, 256}}, keras},
              wide({"128 units, wide register tiles, initial state", {{"N", 2, 512}, {128, 512}, {"N", 128}, {"N", 128}}, keras}),
              {"states only (inference), initial state", {{"N", 4, 12}, {3, 12}, {"N", 3}, {"N", 3}}, states_only, false, 0, false},
              // input_projection (codegen/graph_passes.h): x (N, T, K), w, b, r
              {"input projection, initial state", {{"N", 3, 5}, {5, 12}, {12}, {3, 12}, {"N", 3}, {"N", 3}}, projected, false, 0, false},
              {"input projection, 16 units, packed, states only", {{"N", 3, 7}, {7, 64}, {64}, {16, 64}}, projected_states, false, 0, false},
              wide({"input projection, 128 units, wide register tiles", {{"N", 2, 5}, {5, 512}, {512}, {128, 512}}, projected, false, 0, false})};
    case ir::Op::SimpleRnn:
      return {{"zero initial state", {{"N", 4, 3}, {3, 3}}, keras},
              {"initial state, 17 units, relu", {{"N", 3, 17}, {17, 17}, {"N", 17}}, other},
              {"dynamic sequence length", {{2, "N", 5}, {5, 5}}, keras},
              {"64 units in blocks", {{"N", 2, 64}, {64, 64}, {"N", 64}}, keras},
              wide({"128 units, wide register tiles, one step from an initial state", {{"N", 1, 128}, {128, 128}, {"N", 128}}, keras}),
              {"input projection, 16 units, packed, initial state", {{"N", 3, 5}, {5, 16}, {16}, {16, 16}, {"N", 16}}, projected, false, 0, false}};
    case ir::Op::SimpleRnnGrad: {
      std::vector<OpSample> v = {{"zero initial state", {{3, 3}, {"N", 4, 1, 3}, {"N", 4, 1, 3}}, keras},
                                 {"17 units, relu", {{17, 17}, {"N", 3, 1, 17}, {"N", 3, 1, 17}}, other},
                                 {"dynamic sequence length", {{5, 5}, {2, "N", 1, 5}, {2, "N", 1, 5}}, keras},
                                 {"16 units, packed", {{16, 16}, {"N", 3, 1, 16}, {"N", 3, 1, 16}}, keras},
                                 {"64 units in blocks", {{64, 64}, {"N", 2, 1, 64}, {"N", 2, 1, 64}, {"N", 64}}, keras},
                                 wide({"128 units, wide register tiles", {{128, 128}, {"N", 2, 1, 128}, {"N", 2, 1, 128}}, keras})};
      for (OpSample& x : v) x.differentiable = false;
      return v;
    }
    case ir::Op::Gru: {
      ir::Attrs after = keras, after_other = other;
      after.reset_after = after_other.reset_after = true;
      ir::Attrs after_states = after;
      after_states.states_only = true;
      ir::Attrs before_projected = keras, after_projected = after, after_projected_states = after_states;
      before_projected.input_projection = after_projected.input_projection = true;
      after_projected_states.input_projection = true;
      return {{"reset_after, zero initial state", {{"N", 4, 9}, {3, 9}, {9}}, after},
              {"reset_after, initial state, 17 units, relu / hard_sigmoid", {{"N", 3, 51}, {17, 51}, {51}, {"N", 17}}, after_other},
              {"reset before the product, initial state", {{"N", 4, 9}, {3, 9}, {"N", 3}}, keras},
              {"reset before the product, 17 units, relu", {{"N", 3, 51}, {17, 51}}, other},
              {"reset before the product, 2 units, dynamic length", {{2, "N", 6}, {2, 6}}, keras},
              {"reset_after, 2 units, dynamic length", {{2, "N", 6}, {2, 6}, {6}}, after},
              {"reset_after without a bias, initial state", {{"N", 3, 9}, {3, 9}, {"N", 3}}, after},
              {"reset before the product, 16 units, packed", {{"N", 3, 48}, {16, 48}}, keras},
              {"reset_after, states only (inference)", {{"N", 4, 9}, {3, 9}, {9}}, after_states, false, 0, false},
              // input_projection (codegen/graph_passes.h): x (N, T, K), w, b, r [, rb] [, h0]
              {"reset_after, input projection, recurrent bias, initial state",
               {{"N", 3, 5}, {5, 9}, {9}, {3, 9}, {9}, {"N", 3}}, after_projected, false, 0, false},
              {"reset before the product, input projection, 16 units, packed, initial state",
               {{"N", 3, 7}, {7, 48}, {48}, {16, 48}, {"N", 16}}, before_projected, false, 0, false},
              // 64 units: threads take blocks of units (the schedule's acts
              // stage first, then the candidate's product per block)
              {"reset before the product, 64 units in blocks", {{"N", 2, 192}, {64, 192}, {"N", 64}}, keras},
              {"reset_after, 64 units in blocks", {{"N", 2, 192}, {64, 192}, {192}}, after},
              {"reset before the product, input projection, 64 units in blocks",
               {{"N", 2, 5}, {5, 192}, {192}, {64, 192}}, before_projected, false, 0, false},
              {"reset_after, input projection, 16 units, packed, states only",
               {{"N", 3, 7}, {7, 48}, {48}, {16, 48}, {48}}, after_projected_states, false, 0, false},
              wide({"reset_after, 128 units, wide register tiles, one step from an initial state",
                    {{"N", 1, 384}, {128, 384}, {384}, {"N", 128}}, after}),
              wide({"reset before the product, input projection, 128 units, wide register tiles, one step from an initial state",
                    {{"N", 1, 5}, {5, 384}, {384}, {128, 384}, {"N", 128}}, before_projected, false, 0, false})};
    }
    case ir::Op::GruGrad: {
      ir::Attrs after = keras;
      after.reset_after = true;
      std::vector<OpSample> v = {{"reset_after", {{9, 3}, {"N", 4, 5, 3}, {"N", 4, 5, 3}}, after},
                                 {"reset_after, initial state, 17 units", {{51, 17}, {"N", 3, 5, 17}, {"N", 3, 5, 17}, {"N", 17}}, after},
                                 {"reset before the product, initial state", {{9, 3}, {"N", 4, 5, 3}, {"N", 4, 5, 3}, {"N", 3}}, keras},
                                 {"reset before the product, 17 units, relu", {{51, 17}, {"N", 3, 5, 17}, {"N", 3, 5, 17}}, other},
                                 // Sequences up to 33 steps with 2 units only: a recurrence
                                 // of random weights and 17 units amplifies rounding (and
                                 // vector_exp's last bit) past any tolerance over that many steps.
                                 {"reset before the product, dynamic length", {{6, 2}, {2, "N", 5, 2}, {2, "N", 5, 2}}, keras},
                                 {"reset_after, dynamic length", {{6, 2}, {2, "N", 5, 2}, {2, "N", 5, 2}}, after},
                                 {"reset before the product, 16 units, packed", {{48, 16}, {"N", 3, 5, 16}, {"N", 3, 5, 16}}, keras},
                                 {"reset before the product, the adjoint of h alone", {{9, 3}, {"N", 4, 5, 3}, {"N", 4, 1, 3}, {"N", 3}}, keras},
                                 {"reset_after, the adjoint of h alone", {{9, 3}, {"N", 4, 5, 3}, {"N", 4, 1, 3}}, after},
                                 // 64 units: blocks of units (dq first, its tiles in parallel)
                                 {"reset before the product, 64 units in blocks", {{192, 64}, {"N", 2, 5, 64}, {"N", 2, 5, 64}}, keras},
                                 {"reset_after, 64 units in blocks", {{192, 64}, {"N", 2, 5, 64}, {"N", 2, 5, 64}}, after},
                                 wide({"reset_after, 128 units, wide register tiles", {{384, 128}, {"N", 2, 5, 128}, {"N", 2, 5, 128}}, after}),
                                 wide({"reset before the product, 128 units, wide register tiles", {{384, 128}, {"N", 2, 5, 128}, {"N", 2, 5, 128}, {"N", 128}}, keras})};
      for (OpSample& x : v) x.differentiable = false;
      return v;
    }
    case ir::Op::LstmGrad: {
      std::vector<OpSample> v = {
          {"zero initial state", {{12, 3}, {"N", 4, 6, 3}, {"N", 4, 6, 3}}, keras},
          {"initial state, 17 units", {{68, 17}, {"N", 3, 6, 17}, {"N", 3, 6, 17}, {"N", 17}, {"N", 17}}, keras},
          {"dynamic sequence length, relu / hard_sigmoid", {{8, 2}, {2, "N", 6, 2}, {2, "N", 6, 2}}, other},
          {"16 units, packed", {{64, 16}, {"N", 3, 6, 16}, {"N", 3, 6, 16}}, keras},
          {"64 units in blocks", {{256, 64}, {"N", 2, 6, 64}, {"N", 2, 6, 64}}, keras},
          wide({"128 units, wide register tiles", {{512, 128}, {"N", 2, 6, 128}, {"N", 2, 6, 128}}, keras}),
          {"the adjoint of h alone, initial state", {{12, 3}, {"N", 4, 6, 3}, {"N", 4, 1, 3}, {"N", 3}, {"N", 3}}, keras}};
      for (OpSample& x : v) x.differentiable = false;
      return v;
    }
    case ir::Op::RecurrentKernelGrad: {
      std::vector<OpSample> v = {{"zero initial state", {{"N", 4, 6, 3}, {"N", 4, 12}}, keras},
                                 {"initial state, 17 units", {{"N", 3, 6, 17}, {"N", 3, 68}, {"N", 17}}, keras},
                                 {"dynamic sequence length", {{2, "N", 6, 2}, {2, "N", 8}}, keras},
                                 {"a SimpleRNN's (one slot, one gate)", {{"N", 3, 1, 4}, {"N", 3, 4}, {"N", 4}}, keras}};
      for (OpSample& x : v) x.differentiable = false;
      return v;
    }
    default: break;
  }
  return {};
}

namespace {

// y = gru(zx, r, [rb], [h0]), g = dL/dy; d = gru_grad(rᵀ, y, g, [h0]):
//   dzx = d[:, :, 0:3] (z enters every gate's pre-activation with slope 1)
//   reset_after:  drec = (da_z, da_r, da_h ⊙ r): dr = Σ h_{t-1}ᵀ drec, drb = Σ drec
//   reset before: dr = (Σ h_{t-1}ᵀ (da_z, da_r) | Σ (r ⊙ h_{t-1})ᵀ da_h)
//   dh0 = d[:, 0, 4]
// The adjoint a backward scan takes: when only h (slot 0) has one (the
// layer's outputs are h: the usual case), that slot alone rather than padded
// with zeros to every slot, which cost a kernel writing them and the scan
// reading them. The backward ops read a one-slot adjoint as h's.
int h_adjoint(ir::GraphBuilder& b, const ir::Node& n, int g) {
  const ir::Node& gn = b.graph().node(g);
  const bool h_only = gn.op == ir::Op::Unslice && gn.inputs[1] == n.id && gn.attrs.axes == std::vector<int64_t>{2, 0, 1};
  return h_only ? gn.inputs[0] : g;
}

std::vector<int> gru_vjp(ir::GraphBuilder& b, const ir::Node& n, int g) {
  const bool after = n.attrs.reset_after;
  const bool has_rb = after && n.inputs.size() > 2 && b.shape(n.inputs[2]).size() == 1;
  const size_t base = has_rb ? 3 : 2;
  const bool state = n.inputs.size() > base;
  const int zx = n.inputs[0], r = n.inputs[1];
  const ir::Shape zs = b.shape(zx);
  const int64_t U = b.shape(r)[0].size;
  std::vector<int> grad_in{b.transpose(r, {1, 0}), n.id, h_adjoint(b, n, g)};
  if (state) grad_in.push_back(n.inputs[base]);
  const int d = b.op(ir::Op::GruGrad, grad_in, n.attrs);
  const int dzx = b.reshape(b.slice(d, 2, 0, 3), zs);
  const auto rk = [&](int dz) {
    std::vector<int> in{n.id, dz};
    if (state) in.push_back(n.inputs[base]);
    return b.op(ir::Op::RecurrentKernelGrad, in, n.attrs);
  };
  std::vector<int> out{dzx};
  ir::Attrs axis0, axis1;
  axis0.axes = {0};
  axis1.axes = {1};
  // Every operand below is a view of d or y: the (z, r) slots are adjacent,
  // the candidate's apart, so each product reads its slots in place and only
  // the (U, 3U) results are concatenated. (Concatenating drec first copied
  // an (N, T, 3U) tensor; dR's two passes cost about what that copy did, so
  // the gain is memory: GRU(256) T50 b64's arena 42.6 -> 36.8 MB.)
  const ir::Shape seq{zs[0], zs[1], U};
  const int dzr = b.reshape(b.slice(d, 2, 0, 2), ir::Shape{zs[0], zs[1], 2 * U});
  if (after) {
    const int dhr = b.reshape(b.slice(d, 2, kDrecH, 1), seq);
    out.push_back(b.op(ir::Op::Concat, {rk(dzr), rk(dhr)}, axis1));
    if (has_rb)
      out.push_back(b.op(ir::Op::Concat, {b.reduce_sum(dzr, {0, 1}, false), b.reduce_sum(dhr, {0, 1}, false)}, axis0));
  } else {
    // Σ_{n,t} q_tᵀ da_h,t as one product summed over the batch, not a
    // batched product and a reduce_sum of its (N, U, U) result (GRU(256)
    // T50 b64: 2.4 ms against 3.6 + 0.8, and the arena 49.8 -> 36.8 MB).
    const int q = b.reshape(b.slice(n.id, 2, kGq, 1), seq), dah = b.reshape(b.slice(d, 2, kDaH, 1), seq);
    out.push_back(b.op(ir::Op::Concat, {rk(dzr), b.summed_matmul(q, dah, true, false)}, axis1));
  }
  if (state) {
    const int step0 = b.slice(d, 1, 0, 1);
    const ir::Shape hs = b.shape(n.inputs[base]);
    int dh0 = b.reshape(b.slice(step0, 2, kGruDhPrev, 1), hs);
    if (after) {
      // Step 0's product, which no backward step computes (see lower):
      // [da_z, da_r, drec_h]_0 rᵀ.
      const int zr = b.reshape(b.slice(step0, 2, kDaZ, 2), {hs[0], ir::Dim(2 * U)});
      const int rec = b.reshape(b.slice(step0, 2, kDrecH, 1), hs);
      dh0 = b.add(dh0, b.matmul(b.op(ir::Op::Concat, {zr, rec}, axis1), r, false, true));
    }
    out.push_back(dh0);
  }
  return out;
}

}  // namespace

// y = simple_rnn(z, r, h0), g = dL/dy:
//   d  = simple_rnn_grad(rᵀ, y, g)      dz_t = (g_t + dz_{t+1} rᵀ) act'(h_t)
//   dz = d[:, :, 0], dr = recurrent_kernel_grad(y, dz, h0), dh0 = dz_0 rᵀ (a matmul)
// y = lstm(z, r, h0, c0), g = dL/dy:
//   d  = lstm_grad(rᵀ, y, g, h0, c0)                the backward through time
//   dz = d[:, :, 0:4] as (N, T, 4U)                 (z enters a_t with slope 1)
//   dr = recurrent_kernel_grad(y, dz, h0)      Σ h_{t-1}ᵀ dz_t
//   dh0 = d[:, 0, 0:4] rᵀ (a matmul),  dc0 = d[:, 0, 4]
// lstm_grad and recurrent_kernel_grad have no VJP of their own: a
// second derivative through an LSTM is refused with a clear error.
std::vector<int> Recurrent::vjp(ir::GraphBuilder& b, const ir::Node& n, int g) {
  if (!is_forward(n.op))
    throw Error(fmt::format("{} is not differentiable: second derivatives through a recurrent layer are not supported",
                            ir::op_name(n.op)));
  if (n.attrs.states_only)
    throw Error(fmt::format("{} with states_only keeps no workspace and cannot be differentiated "
                            "(codegen sets it only on graphs that are not differentiated)",
                            ir::op_name(n.op)));
  if (n.attrs.input_projection)
    throw Error(fmt::format("{} with input_projection cannot be differentiated (codegen fuses the projection "
                            "into the scan after differentiation)",
                            ir::op_name(n.op)));
  if (n.op == ir::Op::Gru) return gru_vjp(b, n, g);
  const Cell cell = cell_of(n.op);
  const int z = n.inputs[0], r = n.inputs[1];
  const bool state = n.inputs.size() > 2;
  std::vector<int> grad_in{b.transpose(r, {1, 0}), n.id, h_adjoint(b, n, g)};
  for (size_t i = 2; i < n.inputs.size(); ++i) grad_in.push_back(n.inputs[i]);
  const int d = b.op(n.op == ir::Op::Lstm ? ir::Op::LstmGrad : ir::Op::SimpleRnnGrad, grad_in, n.attrs);
  const int dz = b.reshape(b.slice(d, 2, 0, cell.gates), b.shape(z));
  std::vector<int> rk_in{n.id, dz};
  if (state) rk_in.push_back(n.inputs[2]);
  const int dr = b.op(ir::Op::RecurrentKernelGrad, rk_in, n.attrs);
  if (!state) return {dz, dr};
  const int step0 = b.slice(d, 1, 0, 1);
  const ir::Shape hs = b.shape(n.inputs[2]);
  // Each backward step finishes the next step's product (see lower), so
  // dh0 = dz_0 rᵀ is a product of its own; LSTM's dc0 is step 0's last slot.
  const int dz0 = b.reshape(b.slice(step0, 2, 0, cell.gates), {hs[0], ir::Dim(cell.gates * hs[1].size)});
  std::vector<int> out{dz, dr, b.matmul(dz0, r, false, true)};
  if (cell.states > 1) out.push_back(b.reshape(b.slice(step0, 2, cell.gates, 1), hs));
  return out;
}

}  // namespace brine::ops
