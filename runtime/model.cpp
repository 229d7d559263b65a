#include "runtime/model.h"

#include <cmath>
#include <cstring>
#include <fmt/format.h>

namespace brine {

namespace {
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

void initialize_param(Tensor& t, const std::string& init, uint64_t seed, const std::string& name) {
  const auto set = [&](int64_t i, double v) {
    if (t.dtype() == DType::F32) t.data<float>()[i] = static_cast<float>(v);
    else t.data<double>()[i] = v;
  };
  if (init == "zeros" || init == "ones") {
    for (int64_t i = 0; i < t.size(); ++i) set(i, init == "ones" ? 1.0 : 0.0);
    return;
  }
  uint64_t state = 0xCBF29CE484222325ull ^ seed;  // FNV-1a of the name, from the seed
  for (unsigned char c : name) state = (state ^ c) * 0x100000001B3ull;
  const auto uniform = [&] { return static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53; };  // [0, 1)
  if (init == "unit_forget_bias") {
    // An LSTM's bias (4 units: gates i, f, c, o): ones for the forget gate,
    // zeros elsewhere (Keras's unit_forget_bias=True).
    const int64_t units = t.size() / 4;
    for (int64_t i = 0; i < t.size(); ++i) set(i, i >= units && i < 2 * units ? 1.0 : 0.0);
    return;
  }
  if (init == "orthogonal") {
    // Keras's Orthogonal (gain 1): the QR of a standard normal matrix of
    // shape (max(rows, cols), min(rows, cols)), signs fixed by R's diagonal,
    // transposed when rows < cols. Here by modified Gram-Schmidt on its
    // columns, which gives the same Q.
    const auto& s = t.shape();
    const int64_t cols = s.empty() ? 1 : s.back(), rows = t.size() / std::max<int64_t>(cols, 1);
    const int64_t m = std::max(rows, cols), k = std::min(rows, cols);
    std::vector<double> q(m * k);  // column-major: column j at q[j * m]
    for (double& v : q) {                    // Box-Muller
      const double u1 = 1 - uniform(), u2 = uniform();
      v = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
    }
    for (int64_t j = 0; j < k; ++j) {
      double* cj = &q[j * m];
      for (int64_t p = 0; p < j; ++p) {
        const double* cp = &q[p * m];
        double dot = 0;
        for (int64_t i = 0; i < m; ++i) dot += cp[i] * cj[i];
        for (int64_t i = 0; i < m; ++i) cj[i] -= dot * cp[i];
      }
      double norm = 0;
      for (int64_t i = 0; i < m; ++i) norm += cj[i] * cj[i];
      norm = std::sqrt(norm);
      for (int64_t i = 0; i < m; ++i) cj[i] /= norm;  // R's diagonal is the norm (> 0): no sign flip
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) set(r * cols + c, rows >= cols ? q[c * m + r] : q[r * m + c]);
    return;
  }
  if (init != "glorot_uniform") throw Error("unknown initializer '" + init + "'");
  // Keras: fan_in = shape[-2] * receptive field, fan_out = shape[-1] * receptive field.
  const auto& s = t.shape();
  double fan_in = 1, fan_out = 1;
  if (s.size() == 1) fan_in = fan_out = static_cast<double>(s[0]);
  else if (s.size() >= 2) {
    double receptive = 1;
    for (size_t i = 0; i + 2 < s.size(); ++i) receptive *= static_cast<double>(s[i]);
    fan_in = static_cast<double>(s[s.size() - 2]) * receptive;
    fan_out = static_cast<double>(s[s.size() - 1]) * receptive;
  }
  const double limit = std::sqrt(6.0 / (fan_in + fan_out));
  for (int64_t i = 0; i < t.size(); ++i) set(i, (2 * uniform() - 1) * limit);
}

CompiledModel::CompiledModel(std::shared_ptr<const rt::ProgramSpec> spec, std::vector<rt::KernelBinding> kernels,
                             uint64_t seed, std::shared_ptr<const void> keepalive)
    : keepalive_(std::move(keepalive)), executor_(std::move(spec), std::move(kernels)) {
  const rt::ProgramSpec& p = executor_.spec();
  for (size_t i = 0; i < p.params.size(); ++i) {
    const rt::BufferSpec& b = p.buffers[p.params[i]];
    Tensor t(rt::concrete_shape(b.shape, {}), b.dtype);
    initialize_param(t, b.init, seed, b.name);
    params_.push_back(std::move(t));
    param_names_.push_back(b.name);
  }
}

std::vector<Tensor> CompiledModel::forward(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> outputs(spec().outputs.size());
  forward(inputs, outputs);
  return outputs;
}

void CompiledModel::forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) {
  executor_.run(inputs, outputs, params_, frozen_ ? params_version_ : 0);
}

Status CompiledModel::try_forward(std::span<const Tensor> inputs, std::span<Tensor> outputs) noexcept {
  try {
    forward(inputs, outputs);
    return Status::success();
  } catch (const std::exception& e) {
    return Status::error(e.what());
  }
}

Tensor& CompiledModel::param(const std::string& name) {
  ++params_version_;
  for (size_t i = 0; i < params_.size(); ++i)
    if (param_names_[i] == name) return params_[i];
  throw Error(fmt::format("model '{}' has no parameter '{}'", this->name(), name));
}

void CompiledModel::set_param(const std::string& name, const Tensor& value) {
  Tensor& p = param(name);
  if (value.shape() != p.shape() || value.dtype() != p.dtype())
    throw Error(fmt::format("model '{}': parameter '{}' is {} {}, got {} {}", this->name(), name, dtype_name(p.dtype()),
                            shape_string(p.shape()), dtype_name(value.dtype()), shape_string(value.shape())));
  std::memcpy(p.raw(), value.raw(), p.bytes());
}

size_t CompiledModel::param_bytes() const {
  size_t n = 0;
  for (const Tensor& t : params_) n += t.bytes();
  return n;
}

}  // namespace brine
