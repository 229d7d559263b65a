#include "runtime/program.h"

#include <HalideRuntime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <fmt/format.h>

#include "runtime/thread_pool.h"

namespace brine::rt {

std::vector<int64_t> concrete_shape(const std::vector<DimSpec>& shape,
                                    std::span<const int64_t> binding) {
  std::vector<int64_t> out;
  out.reserve(shape.size());
  for (const DimSpec& d : shape) out.push_back(d.sym >= 0 ? binding[d.sym] : d.size);
  return out;
}

std::optional<std::vector<int32_t>> reshape_recipe(std::span<const int64_t> extents,
                                                   std::span<const int64_t> strides,
                                                   std::span<const int64_t> shape) {
  // Axes of extent 1 have no say in the layout.
  std::vector<int64_t> oe, os;
  std::vector<int32_t> axis;
  for (size_t i = 0; i < extents.size(); ++i)
    if (extents[i] != 1) {
      oe.push_back(extents[i]);
      os.push_back(strides[i]);
      axis.push_back(static_cast<int32_t>(i));
    }
  std::vector<int32_t> recipe(2 * shape.size(), -1);
  size_t oi = 0, ni = 0;
  while (ni < shape.size() && oi < oe.size()) {
    // The smallest runs of old axes [oi, oj) and new axes [ni, nj) of equal size.
    size_t oj = oi + 1, nj = ni + 1;
    int64_t op = oe[oi], np = shape[ni];
    while (np != op) {
      if (np < op) {
        if (nj == shape.size()) return std::nullopt;
        np *= shape[nj++];
      } else {
        if (oj == oe.size()) return std::nullopt;
        op *= oe[oj++];
      }
    }
    for (size_t k = oi; k + 1 < oj; ++k)
      if (os[k] != oe[k + 1] * os[k + 1]) return std::nullopt;
    for (size_t k = ni; k < nj; ++k) {  // stride: the run's last old axis's, times the new axes inside it
      recipe[2 * k] = axis[oj - 1];
      recipe[2 * k + 1] = static_cast<int32_t>(nj);
    }
    ni = nj;
    oi = oj;
  }
  if (oi != oe.size()) return std::nullopt;
  for (; ni < shape.size(); ++ni)
    if (shape[ni] != 1) return std::nullopt;
  return recipe;
}

std::vector<int64_t> apply_reshape_recipe(std::span<const int32_t> recipe, std::span<const int64_t> strides,
                                          std::span<const int64_t> shape) {
  std::vector<int64_t> out(shape.size(), 1);
  for (size_t k = 0; k < shape.size(); ++k) {
    if (recipe[2 * k] < 0) continue;  // a trailing unit axis
    int64_t s = strides[recipe[2 * k]];
    for (int32_t m = static_cast<int32_t>(k) + 1; m < recipe[2 * k + 1]; ++m) s *= shape[m];
    out[k] = s;
  }
  return out;
}

std::optional<std::vector<int64_t>> reshaped_strides(std::span<const int64_t> extents,
                                                     std::span<const int64_t> strides,
                                                     std::span<const int64_t> shape) {
  const auto recipe = reshape_recipe(extents, strides, shape);
  if (!recipe) return std::nullopt;
  return apply_reshape_recipe(*recipe, strides, shape);
}

std::string spec_shape_string(const ProgramSpec& p, const std::vector<DimSpec>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += shape[i].sym >= 0 ? p.symbols[shape[i].sym] : std::to_string(shape[i].size);
  }
  return s + (shape.size() == 1 ? ",)" : ")");
}

namespace {

// Copies a buffer into a dense one of the same extents; the source may be a
// strided view. Innermost runs that are contiguous in both go by memcpy.
void copy_elements(const halide_buffer_t& from, const halide_buffer_t& to) {
  const size_t elem = (from.type.bits + 7) / 8;
  const int rank = from.dimensions;
  std::function<void(int, const uint8_t*, uint8_t*)> copy = [&](int d, const uint8_t* src, uint8_t* dst) {
    const halide_dimension_t &fd = from.dim[d], &td = to.dim[d];
    if (d == 0 && fd.stride == 1 && td.stride == 1) {
      std::memcpy(dst, src, fd.extent * elem);
      return;
    }
    for (int32_t i = 0; i < fd.extent; ++i) {
      const uint8_t* s = src + int64_t{i} * fd.stride * elem;
      uint8_t* t = dst + int64_t{i} * td.stride * elem;
      if (d == 0) std::memcpy(t, s, elem);
      else copy(d - 1, s, t);
    }
  };
  if (rank == 0) std::memcpy(to.host, from.host, elem);
  else copy(rank - 1, from.host, to.host);
}

}  // namespace

struct Executor::Plan {
  std::vector<std::vector<int64_t>> shapes;        // per buffer
  std::vector<size_t> offsets;                     // per Temp buffer: arena offset
  std::vector<halide_buffer_t> bufs;               // per buffer
  std::vector<std::vector<halide_dimension_t>> dims;
  std::vector<int64_t> view_offset;                // per View: bytes from its viewed buffer's start
  std::shared_ptr<void> arena;
  size_t arena_bytes = 0;
};

Executor::Executor(std::shared_ptr<const ProgramSpec> spec, std::vector<KernelBinding> kernels)
    : spec_(std::move(spec)), kernels_(std::move(kernels)) {
  BRINE_CHECK_INTERNAL(kernels_.size() == spec_->kernel_names.size(),
                       "kernel bindings do not match the program");
  const char* profile = std::getenv("BRINE_PROFILE");
  profiling_ = profile && std::string(profile) == "1";
  kernel_seconds_.assign(kernels_.size(), 0.0);
  kernel_calls_.assign(kernels_.size(), 0);

  // Buffers computed from parameters only: the output of a plain kernel step
  // (not a scan) whose every input is one, of a static shape, written by no
  // other step.
  const ProgramSpec& p = *spec_;
  const size_t nb = p.buffers.size();
  std::vector<int> writers(nb, 0);
  for (const StepSpec& s : p.steps) ++writers[s.args.back()];
  constant_.assign(nb, false);
  for (int32_t id : p.params) constant_[id] = true;
  constant_offset_.assign(nb, 0);
  constant_step_.assign(p.steps.size(), false);
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const StepSpec& s = p.steps[i];
    const int32_t out = s.args.back();
    const BufferSpec& b = p.buffers[out];
    if (s.kernel < 0 || s.scan_dim >= 0 || b.kind != BufferKind::Temp || writers[out] != 1) continue;
    if (!std::all_of(s.args.begin(), s.args.end() - 1, [&](int32_t a) { return constant_[a]; }) ||
        !std::all_of(b.shape.begin(), b.shape.end(), [](const DimSpec& d) { return d.sym < 0; }))
      continue;
    constant_[out] = constant_step_[i] = true;
    constant_offset_[out] = constant_bytes_;
    constant_bytes_ += (shape_elements(concrete_shape(b.shape, {})) * dtype_size(b.dtype) + 63) / 64 * 64;
  }
  if (constant_bytes_) {
    void* mem = std::aligned_alloc(64, constant_bytes_);
    if (!mem) throw Error(fmt::format("model '{}': cannot allocate {} bytes for packed parameters", p.model_name, constant_bytes_));
    constants_ = std::shared_ptr<void>(mem, std::free);
  }
}

Executor::~Executor() {
  if (profiling_ && spec_) std::fputs(profile_report().c_str(), stderr);
}

std::string Executor::profile_report() const {
  double total = 0;
  for (double s : kernel_seconds_) total += s;
  std::string out = fmt::format("brine profile of model '{}': {:.3f} ms in kernels\n", spec_->model_name, total * 1e3);
  std::vector<size_t> order(kernel_seconds_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return kernel_seconds_[a] > kernel_seconds_[b]; });
  for (size_t k : order)
    if (kernel_calls_[k])
      out += fmt::format("  {:>6.1f}%  {:>10.1f} µs/call  {}\n", 100 * kernel_seconds_[k] / std::max(total, 1e-12),
                         kernel_seconds_[k] * 1e6 / static_cast<double>(kernel_calls_[k]), spec_->kernel_names[k]);
  return out;
}
Executor::Executor(Executor&&) noexcept = default;
Executor& Executor::operator=(Executor&&) noexcept = default;

size_t Executor::arena_bytes() const { return last_plan_ ? last_plan_->arena_bytes : 0; }

std::vector<int64_t> Executor::bind(std::span<const Tensor> inputs) const {
  const ProgramSpec& p = *spec_;
  if (inputs.size() != p.inputs.size())
    throw Error(fmt::format("model '{}' takes {} input(s), got {}", p.model_name,
                            p.inputs.size(), inputs.size()));
  std::vector<int64_t> binding(p.symbols.size(), -1);
  std::vector<std::string> bound_by(p.symbols.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const BufferSpec& b = p.buffers[p.inputs[i]];
    const Tensor& t = inputs[i];
    const std::string expected = spec_shape_string(p, b.shape);
    if (t.raw() == nullptr)
      throw Error(fmt::format("model '{}': input '{}' is a null buffer; expected {} {}",
                              p.model_name, b.name, dtype_name(b.dtype), expected));
    if (t.dtype() != b.dtype)
      throw Error(fmt::format("model '{}': input '{}' has dtype {}, expected {}", p.model_name,
                              b.name, dtype_name(t.dtype()), dtype_name(b.dtype)));
    if (t.rank() != static_cast<int>(b.shape.size()))
      throw Error(fmt::format("model '{}': input '{}' has shape {} (rank {}), expected {} (rank {})",
                              p.model_name, b.name, shape_string(t.shape()), t.rank(), expected,
                              b.shape.size()));
    for (int a = 0; a < t.rank(); ++a) {
      const DimSpec& d = b.shape[a];
      const int64_t got = t.dim(a);
      if (d.sym < 0) {
        if (got != d.size)
          throw Error(fmt::format("model '{}': input '{}' has shape {}, expected {} (axis {} must be {})",
                                  p.model_name, b.name, shape_string(t.shape()), expected, a, d.size));
      } else if (binding[d.sym] < 0) {
        if (got < 1)
          throw Error(fmt::format("model '{}': input '{}' has shape {}: dimension {} must be at least 1",
                                  p.model_name, b.name, shape_string(t.shape()), p.symbols[d.sym]));
        binding[d.sym] = got;
        bound_by[d.sym] = b.name;
      } else if (binding[d.sym] != got) {
        throw Error(fmt::format(
            "model '{}': input '{}' has shape {}, but dimension {} is {} in input '{}' (axis {} of '{}' must be {})",
            p.model_name, b.name, shape_string(t.shape()), p.symbols[d.sym], binding[d.sym],
            bound_by[d.sym], a, b.name, binding[d.sym]));
      }
    }
  }
  for (size_t s = 0; s < binding.size(); ++s)
    BRINE_CHECK_INTERNAL(binding[s] >= 0, "symbol " + p.symbols[s] + " is not bound by any input");
  return binding;
}

std::vector<std::vector<int64_t>> Executor::output_shapes(std::span<const Tensor> inputs) {
  const std::vector<int64_t> binding = bind(inputs);
  std::vector<std::vector<int64_t>> out;
  for (int32_t id : spec_->outputs) out.push_back(concrete_shape(spec_->buffers[id].shape, binding));
  return out;
}

Executor::Plan& Executor::plan_for(const std::vector<int64_t>& binding) {
  auto it = plans_.find(binding);
  if (it != plans_.end()) return *it->second;
  const ProgramSpec& p = *spec_;
  auto plan = std::make_unique<Plan>();
  const size_t nb = p.buffers.size();
  plan->shapes.resize(nb);
  plan->offsets.assign(nb, 0);
  plan->bufs.resize(nb);
  plan->dims.resize(nb);
  for (size_t b = 0; b < nb; ++b) plan->shapes[b] = concrete_shape(p.buffers[b].shape, binding);

  // Lifetimes of temporaries in step indices; a view keeps its base alive.
  auto base_of = [&](int32_t b) {
    while (p.buffers[b].kind == BufferKind::View) b = p.buffers[b].index;
    return b;
  };
  std::vector<int> first(nb, INT32_MAX), last(nb, -1);
  for (int s = 0; s < static_cast<int>(p.steps.size()); ++s)
    for (int32_t a : p.steps[s].args) {
      const int32_t b = base_of(a);
      first[b] = std::min(first[b], s);
      last[b] = std::max(last[b], s);
    }
  // Greedy placement, largest first, at the lowest offset that does not
  // overlap a buffer live at the same time (sizes rounded to 64 bytes).
  std::vector<int32_t> temps;
  std::vector<size_t> size(nb, 0);
  for (size_t b = 0; b < nb; ++b)
    if (p.buffers[b].kind == BufferKind::Temp && !constant_[b]) {
      temps.push_back(static_cast<int32_t>(b));
      size[b] = (shape_elements(plan->shapes[b]) * dtype_size(p.buffers[b].dtype) + 63) / 64 * 64;
    }
  std::sort(temps.begin(), temps.end(), [&](int32_t a, int32_t b) { return size[a] > size[b]; });
  std::vector<int32_t> placed;
  for (int32_t b : temps) {
    std::vector<std::pair<size_t, size_t>> busy;
    for (int32_t o : placed)
      if (!(last[o] < first[b] || last[b] < first[o])) busy.emplace_back(plan->offsets[o], plan->offsets[o] + size[o]);
    std::sort(busy.begin(), busy.end());
    size_t off = 0;
    for (auto [lo, hi] : busy) {
      if (off + size[b] <= lo) break;
      off = std::max(off, hi);
    }
    plan->offsets[b] = off;
    plan->arena_bytes = std::max(plan->arena_bytes, off + size[b]);
    placed.push_back(b);
  }
  if (plan->arena_bytes) {
    void* mem = std::aligned_alloc(64, plan->arena_bytes);
    if (!mem) throw Error(fmt::format("model '{}': cannot allocate {} bytes for intermediates",
                                      p.model_name, plan->arena_bytes));
    plan->arena = std::shared_ptr<void>(mem, std::free);
  }
  for (size_t b = 0; b < nb; ++b) {
    plan->dims[b].resize(std::max<size_t>(plan->shapes[b].size(), 1));
    uint8_t* host = nullptr;
    if (p.buffers[b].kind == BufferKind::Temp)
      host = constant_[b] ? static_cast<uint8_t*>(constants_.get()) + constant_offset_[b]
                          : static_cast<uint8_t*>(plan->arena.get()) + plan->offsets[b];
    make_halide_buffer(plan->bufs[b], plan->dims[b].data(), host, plan->shapes[b], p.buffers[b].dtype);
  }
  // Views take their base's strides (a base always has a lower id).
  plan->view_offset.assign(nb, 0);
  for (size_t b = 0; b < nb; ++b) {
    const BufferSpec& v = p.buffers[b];
    if (v.kind != BufferKind::View) continue;
    const halide_buffer_t& base = plan->bufs[v.index];
    const int rank = base.dimensions;
    std::vector<int64_t> extents(rank), strides(rank);  // outermost first
    for (int a = 0; a < rank; ++a) {
      extents[a] = base.dim[rank - 1 - a].extent;
      strides[a] = base.dim[rank - 1 - a].stride;
    }
    if (v.slice_axis >= 0) {
      BRINE_CHECK_INTERNAL(v.slice_axis < rank && static_cast<int>(plan->shapes[b].size()) == rank, "bad slice view " + v.name);
      const int64_t start = v.slice_start >= 0 ? v.slice_start : extents[v.slice_axis] + v.slice_start;
      const int64_t length = plan->shapes[b][v.slice_axis];
      if (start < 0 || start + length > extents[v.slice_axis])
        throw Error(fmt::format("model '{}': slice '{}' takes [{}, {}) of axis {} of '{}' {}, which has {}",
                                p.model_name, v.name, start, start + length, v.slice_axis,
                                p.buffers[v.index].name, shape_string(plan->shapes[v.index]), extents[v.slice_axis]));
      plan->view_offset[b] = start * strides[v.slice_axis] * dtype_size(v.dtype);
    } else {
      // The compiler's recipe, not one found from these extents: with a
      // dynamic size of 1 there are several, and the kernels were compiled
      // for the strides of the general one.
      BRINE_CHECK_INTERNAL(v.strides_from.size() == 2 * plan->shapes[b].size(), "view " + v.name + " has no strides");
      strides = apply_reshape_recipe(v.strides_from, strides, plan->shapes[b]);
    }
    for (size_t a = 0; a < strides.size(); ++a) plan->dims[b][strides.size() - 1 - a].stride = static_cast<int32_t>(strides[a]);
  }
  ++plans_built_;
  return *plans_.emplace(binding, std::move(plan)).first->second;
}

void Executor::run(std::span<const Tensor> inputs, std::span<Tensor> outputs,
                   std::span<const Tensor> params, uint64_t params_version) {
  const ProgramSpec& p = *spec_;
  const std::vector<int64_t> binding = bind(inputs);
  if (outputs.size() != p.outputs.size())
    throw Error(fmt::format("model '{}' has {} output(s), got {} output tensors", p.model_name,
                            p.outputs.size(), outputs.size()));
  if (params.size() != p.params.size())
    throw Error(fmt::format("model '{}' has {} parameter(s), got {}", p.model_name,
                            p.params.size(), params.size()));
  Plan& plan = plan_for(binding);
  last_plan_ = &plan;
  const ParallelRun running;  // the kernels' parallel loops follow each other closely

  auto set_host = [&](int32_t id, const void* data) {
    plan.bufs[id].host = static_cast<uint8_t*>(const_cast<void*>(data));
  };
  for (size_t i = 0; i < inputs.size(); ++i) set_host(p.inputs[i], inputs[i].raw());
  for (size_t i = 0; i < params.size(); ++i) {
    const int32_t id = p.params[i];
    const BufferSpec& b = p.buffers[id];
    if (params[i].raw() == nullptr || params[i].shape() != plan.shapes[id] || params[i].dtype() != b.dtype)
      throw Error(fmt::format("model '{}': parameter '{}' is {} {}, expected {} {}", p.model_name,
                              b.name, dtype_name(params[i].dtype()), shape_string(params[i].shape()),
                              dtype_name(b.dtype), shape_string(plan.shapes[id])));
    set_host(id, params[i].raw());
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const int32_t id = p.outputs[i];
    const BufferSpec& b = p.buffers[id];
    Tensor& t = outputs[i];
    if (t.raw() == nullptr) {
      t = Tensor(plan.shapes[id], b.dtype);
    } else if (t.shape() != plan.shapes[id] || t.dtype() != b.dtype) {
      if (!t.owns())
        throw Error(fmt::format("model '{}': output '{}' is a {} {} view, expected {} {}",
                                p.model_name, b.name, dtype_name(t.dtype()), shape_string(t.shape()),
                                dtype_name(b.dtype), shape_string(plan.shapes[id])));
      t = Tensor(plan.shapes[id], b.dtype);
    }
    set_host(id, t.raw());
  }
  // Views take their base's memory (resolved in buffer order: a view's base
  // always has a lower id), at their offset from the base's start.
  for (size_t b = 0; b < p.buffers.size(); ++b)
    if (p.buffers[b].kind == BufferKind::View) plan.bufs[b].host = plan.bufs[p.buffers[b].index].host + plan.view_offset[b];

  // (No allocation here: constants_params_ keeps its size from call to call.)
  bool constants_valid = params_version != 0 && params_version == constants_version_ &&
                         constants_params_.size() == params.size();
  for (size_t i = 0; constants_valid && i < params.size(); ++i) constants_valid = constants_params_[i] == params[i].raw();
  constants_version_ = 0;  // until the steps below have all run

  void* args[16];
  for (size_t i = 0; i < p.steps.size(); ++i) {
    const StepSpec& s = p.steps[i];
    if (constants_valid && constant_step_[i]) continue;
    if (s.kernel < 0) {
      copy_elements(plan.bufs[s.args[0]], plan.bufs[s.args[1]]);
      continue;
    }
    BRINE_CHECK_INTERNAL(s.args.size() <= 16, "kernel with more than 16 buffers");
    for (size_t a = 0; a < s.args.size(); ++a) args[a] = &plan.bufs[s.args[a]];
    const KernelBinding& k = kernels_[s.kernel];
    const auto t0 = profiling_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    int rc = 0;
    if (s.scan_dim < 0) {
      rc = k.fn(k.ctx, args);
    } else {
      // One call per step, the output cropped to that step.
      const halide_buffer_t& whole = plan.bufs[s.args.back()];
      BRINE_CHECK_INTERNAL(s.scan_dim < whole.dimensions && whole.dimensions <= 8, "scan dimension out of range");
      halide_dimension_t dims[8];
      std::copy(whole.dim, whole.dim + whole.dimensions, dims);
      halide_buffer_t step = whole;
      step.dim = dims;
      args[s.args.size() - 1] = &step;
      const int64_t steps = whole.dim[s.scan_dim].extent;
      const int64_t step_bytes = int64_t{whole.dim[s.scan_dim].stride} * ((whole.type.bits + 7) / 8);
      dims[s.scan_dim].extent = 1;
      for (int64_t i = 0; i < steps && rc == 0; ++i) {
        const int64_t t = s.scan_reverse ? steps - 1 - i : i;
        dims[s.scan_dim].min = static_cast<int32_t>(t);
        step.host = whole.host + t * step_bytes;
        rc = k.fn(k.ctx, args);
      }
    }
    if (profiling_) {
      kernel_seconds_[s.kernel] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ++kernel_calls_[s.kernel];
    }
    if (rc != 0)
      throw Error(fmt::format("model '{}': kernel '{}' failed with Halide error {}", p.model_name,
                              p.kernel_names[s.kernel], rc));
  }
  constants_version_ = params_version;
  constants_params_.resize(params.size());
  for (size_t i = 0; i < params.size(); ++i) constants_params_[i] = params[i].raw();
}

}  // namespace brine::rt
