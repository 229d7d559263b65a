#include "train/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "dsl/collect.h"
#include "dsl/grad.h"
#include "runtime/files.h"
#include "runtime/safetensors.h"
#include "train/losses.h"
#include "train/train_graph.h"

namespace brine {

struct Trainer::Impl {
  std::string loss_name;
  bool from_logits = false;
  DType dtype = DType::F32;
  ir::Shape x_shape, y_shape;  // with the batch axis
  // The step graph's parameters are the weights; evaluate and predict are
  // pointed at them before each use.
  std::unique_ptr<Executable> step, eval, predict;
  std::unique_ptr<TrainStepper> stepper;

  void bind(Executable& e) {
    for (size_t i = 0; i < e.param_names().size(); ++i) e.params()[i] = step->param(e.param_names()[i]);
  }
};

namespace {

void check_data(const char* what, const Tensor& t, const ir::Shape& want, DType dtype) {
  bool ok = t.rank() == static_cast<int>(want.size()) && t.dtype() == dtype;
  for (size_t a = 1; ok && a < want.size(); ++a) ok = !want[a].is_static() || t.dim(static_cast<int>(a)) == want[a].size;
  if (!ok)
    throw Error(fmt::format("Trainer: {} is {} {}, expected {} {} (samples first)", what, dtype_name(t.dtype()),
                            shape_string(t.shape()), dtype_name(dtype), ir::shape_str(want)));
}

// Rows [begin, end) of a row-major tensor, without copying.
Tensor rows(const Tensor& t, int64_t begin, int64_t end) {
  std::vector<int64_t> shape = t.shape();
  const int64_t row = t.size() / std::max<int64_t>(shape[0], 1);
  shape[0] = end - begin;
  return Tensor::view(static_cast<char*>(const_cast<void*>(t.raw())) + begin * row * dtype_size(t.dtype()), shape,
                      t.dtype());
}

// The rows `idx` gathered into `out` (reallocated when the count changes).
void gather(const Tensor& t, std::span<const int64_t> idx, Tensor& out) {
  std::vector<int64_t> shape = t.shape();
  shape[0] = static_cast<int64_t>(idx.size());
  if (out.shape() != shape) out = Tensor(shape, t.dtype());
  const size_t row = t.bytes() / std::max<int64_t>(t.dim(0), 1);
  for (size_t i = 0; i < idx.size(); ++i)
    std::memcpy(static_cast<char*>(out.raw()) + i * row, static_cast<const char*>(t.raw()) + idx[i] * row, row);
}

// Correct predictions in a batch, for the cross-entropy losses.
// Correct predictions in a batch, counted per sample: a sample of several
// positions (a sequence: (N, T, classes)) adds the fraction it got right, so
// that dividing by the samples gives Keras's mean over all positions.
double correct(const std::string& loss, bool from_logits, const Tensor& pred, const Tensor& y) {
  const int64_t n = std::max<int64_t>(pred.dim(0), 1), c = pred.shape().back();
  const int64_t rows = pred.size() / std::max<int64_t>(c, 1);
  const double per_sample = static_cast<double>(std::max<int64_t>(rows / n, 1));
  const auto argmax = [&](const Tensor& t, int64_t r) {
    int64_t best = 0;
    for (int64_t j = 1; j < c; ++j)
      if (t.at_flat(r * c + j) > t.at_flat(r * c + best)) best = j;
    return best;
  };
  double hits = 0;
  if (loss == "sparse_categorical_crossentropy") {
    for (int64_t r = 0; r < rows; ++r) hits += argmax(pred, r) == static_cast<int64_t>(y.at_flat(r));
    hits /= per_sample;
  } else if (loss == "categorical_crossentropy") {
    for (int64_t r = 0; r < rows; ++r) hits += argmax(pred, r) == argmax(y, r);
    hits /= per_sample;
  } else {  // binary: per element, then per sample
    const double threshold = from_logits ? 0.0 : 0.5;
    for (int64_t i = 0; i < pred.size(); ++i) hits += (pred.at_flat(i) > threshold) == (y.at_flat(i) > 0.5);
    hits /= static_cast<double>(pred.size() / n);
  }
  return hits;
}

// Keras's order: loss, then the metrics, then their validation counterparts.
std::vector<std::string> ordered(const std::map<std::string, double>& row) {
  std::vector<std::string> names;
  for (const char* k : {"loss", "accuracy", "val_loss", "val_accuracy"})
    if (row.count(k)) names.push_back(k);
  return names;
}

std::string progress_bar(int64_t done, int64_t total) {
  const int width = 28;
  const int filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
  std::string bar(filled, '=');
  if (filled < width) bar += '>' + std::string(width - filled - 1, '.');
  return "[" + bar + "]";
}

}  // namespace

Trainer::Trainer(const Model& model, const std::string& loss, Optimizer optimizer, bool from_logits,
                 CompileOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  const ir::Graph& g = model.graph();
  m.loss_name = loss;
  m.from_logits = from_logits;
  m.dtype = options.dtype;

  TrainingGraphs t = build_training_graphs(model, loss, from_logits, optimizer);
  m.x_shape = t.step.node(t.step.inputs()[0]).type.shape;
  m.y_shape = t.step.node(t.step.inputs()[1]).type.shape;
  m.step = std::make_unique<Executable>(compile(t.step, options));
  m.eval = std::make_unique<Executable>(compile(t.evaluate, options));
  m.predict = std::make_unique<Executable>(compile(g, options));
  m.stepper = std::make_unique<TrainStepper>(*m.step, t.updated, t.rate);
}

Trainer::~Trainer() = default;

bool Trainer::has_accuracy() const { return impl_->loss_name.find("crossentropy") != std::string::npos; }

const Tensor& Trainer::weight(const std::string& name) const { return impl_->step->param(name); }

int64_t Trainer::steps() const { return impl_->stepper->steps(); }

double Trainer::train_step(const Tensor& x, const Tensor& y) {
  Impl& m = *impl_;
  check_data("x", x, m.x_shape, m.dtype);
  check_data("y", y, m.y_shape, m.dtype);
  return m.stepper->step(x, y);
}

std::map<std::string, double> Trainer::evaluate(const Tensor& x, const Tensor& y, int64_t batch_size) {
  Impl& m = *impl_;
  check_data("x", x, m.x_shape, m.dtype);
  check_data("y", y, m.y_shape, m.dtype);
  m.bind(*m.eval);
  const int64_t n = x.dim(0);
  double loss = 0, hits = 0;
  for (int64_t b = 0; b < n; b += batch_size) {
    const int64_t e = std::min(n, b + batch_size);
    const Tensor yb = rows(y, b, e);
    std::vector<Tensor> in{rows(x, b, e), yb};
    const auto out = m.eval->forward(in);
    loss += out[0].at_flat(0) * static_cast<double>(e - b);
    if (has_accuracy()) hits += correct(m.loss_name, m.from_logits, out[1], yb);
  }
  std::map<std::string, double> r{{"loss", loss / static_cast<double>(std::max<int64_t>(n, 1))}};
  if (has_accuracy()) r["accuracy"] = hits / static_cast<double>(std::max<int64_t>(n, 1));
  return r;
}

Tensor Trainer::predict(const Tensor& x, int64_t batch_size) {
  Impl& m = *impl_;
  check_data("x", x, m.x_shape, m.dtype);
  m.bind(*m.predict);
  const int64_t n = x.dim(0);
  Tensor result;
  for (int64_t b = 0; b < n; b += batch_size) {
    const int64_t e = std::min(n, b + batch_size);
    const auto out = m.predict->forward({rows(x, b, e)});
    if (!result.owns()) {
      std::vector<int64_t> shape = out[0].shape();
      shape[0] = n;
      result = Tensor(shape, out[0].dtype());
    }
    std::memcpy(static_cast<char*>(result.raw()) + b * (out[0].bytes() / (e - b)), out[0].raw(), out[0].bytes());
  }
  return result;
}

History Trainer::fit(const Tensor& x, const Tensor& y, const FitOptions& o) {
  Impl& m = *impl_;
  check_data("x", x, m.x_shape, m.dtype);
  check_data("y", y, m.y_shape, m.dtype);
  if (x.dim(0) != y.dim(0))
    throw Error(fmt::format("Trainer::fit: x has {} samples but y has {}", x.dim(0), y.dim(0)));
  if (o.batch_size < 1 || o.epochs < 0 || o.validation_split < 0 || o.validation_split >= 1)
    throw Error(fmt::format("Trainer::fit: batch_size {} must be >= 1, epochs {} >= 0, validation_split {} in [0, 1)",
                            o.batch_size, o.epochs, o.validation_split));
  const int64_t n = x.dim(0);
  const int64_t n_val = static_cast<int64_t>(std::floor(static_cast<double>(n) * o.validation_split));
  const int64_t n_train = n - n_val;
  if (n_train < 1) throw Error("Trainer::fit: no samples left for training after the validation split");
  const Tensor x_train = rows(x, 0, n_train), y_train = rows(y, 0, n_train);
  const bool tty = o.verbose == 1 && ::isatty(STDOUT_FILENO);
  const int64_t batches = (n_train + o.batch_size - 1) / o.batch_size;
  std::vector<int64_t> order(n_train);
  for (int64_t i = 0; i < n_train; ++i) order[i] = i;
  uint64_t rng = 0x9E3779B97F4A7C15ull ^ o.seed;
  History h;
  Tensor xb, yb;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    if (o.shuffle)  // Fisher-Yates with a fixed generator: the same order on every platform
      for (int64_t i = n_train - 1; i > 0; --i) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        std::swap(order[i], order[(rng >> 33) % static_cast<uint64_t>(i + 1)]);
      }
    double loss = 0, hits = 0;
    for (int64_t b = 0; b < batches; ++b) {
      const int64_t s = b * o.batch_size, e = std::min(n_train, s + o.batch_size);
      gather(x_train, std::span(order).subspan(s, e - s), xb);
      gather(y_train, std::span(order).subspan(s, e - s), yb);
      loss += train_step(xb, yb) * static_cast<double>(e - s);
      if (has_accuracy()) hits += correct(m.loss_name, m.from_logits, m.stepper->predictions(), yb);
      if (tty) {
        std::string line = fmt::format("\rEpoch {}/{} {} {}/{} - loss: {:.4f}", epoch + 1, o.epochs,
                                       progress_bar(b + 1, batches), b + 1, batches, loss / static_cast<double>(e));
        if (has_accuracy()) line += fmt::format(" - accuracy: {:.4f}", hits / static_cast<double>(e));
        fmt::print("{}", line);
        std::fflush(stdout);
      }
    }
    std::map<std::string, double> row{{"loss", loss / static_cast<double>(n_train)}};
    if (has_accuracy()) row["accuracy"] = hits / static_cast<double>(n_train);
    if (n_val > 0)
      for (const auto& [k, v] : evaluate(rows(x, n_train, n), rows(y, n_train, n))) row["val_" + k] = v;
    h.epochs.push_back(row);
    if (o.verbose == 1) {
      std::string line = tty ? "\r" : "";
      const std::string bar = tty ? fmt::format(" {}", progress_bar(batches, batches)) : std::string();
      line += fmt::format("Epoch {}/{}{}", epoch + 1, o.epochs, bar);
      for (const std::string& k : ordered(row)) line += fmt::format(" - {}: {:.4f}", k, row.at(k));
      fmt::print("{}\n", line);
    }
  }
  return h;
}

void Trainer::save(const std::string& path) const {
  const Executable& e = *impl_->step;
  std::vector<NamedTensor> t;
  for (size_t i = 0; i < e.param_names().size(); ++i) t.push_back({e.param_names()[i], impl_->step->params()[i]});
  save_safetensors(path, t,
                   {{"format", "brine"}, {"step", std::to_string(steps())}, {"loss", impl_->loss_name}});
}

void Trainer::load(const std::string& path) {
  Executable& e = *impl_->step;
  const Checkpoint ck = load_safetensors(path);
  std::set<std::string> seen;
  for (const NamedTensor& t : ck.tensors) {
    const auto& names = e.param_names();
    if (std::find(names.begin(), names.end(), t.name) == names.end())
      throw Error(fmt::format("{}: tensor '{}' is not a weight of this model", path, t.name));
    const Tensor& w = e.param(t.name);
    if (w.shape() != t.tensor.shape() || w.dtype() != t.tensor.dtype())
      throw Error(fmt::format("{}: tensor '{}' is {} {}, the model expects {} {}", path, t.name,
                              dtype_name(t.tensor.dtype()), shape_string(t.tensor.shape()), dtype_name(w.dtype()),
                              shape_string(w.shape())));
    seen.insert(t.name);
  }
  for (const std::string& name : e.param_names())
    if (!seen.count(name)) throw Error(fmt::format("{}: the checkpoint has no tensor '{}'", path, name));
  for (const NamedTensor& t : ck.tensors) e.param(t.name) = t.tensor;
  auto it = ck.metadata.find("step");
  impl_->stepper->set_steps(it == ck.metadata.end() ? 0 : std::stoll(it->second));
}

std::vector<std::string> History::metric_names() const {
  return epochs.empty() ? std::vector<std::string>{} : ordered(epochs.back());
}

void History::write_csv(const std::string& path) const {
  const auto names = metric_names();
  std::string out = "epoch";
  for (const auto& k : names) out += "," + k;
  out += "\n";
  for (size_t e = 0; e < epochs.size(); ++e) {
    out += std::to_string(e + 1);
    for (const auto& k : names) out += epochs[e].count(k) ? fmt::format(",{}", epochs[e].at(k)) : ",";
    out += "\n";
  }
  write_file_atomic(path, out);
}

void History::write_json(const std::string& path) const {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& row : epochs) j.push_back(row);
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace brine
