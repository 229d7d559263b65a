#include "runtime/tensor.h"

#include <HalideRuntime.h>

#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace brine {

std::string shape_string(std::span<const int64_t> shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

int64_t shape_elements(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Tensor::Tensor(std::vector<int64_t> shape, DType dtype) : shape_(std::move(shape)), dtype_(dtype) {
  for (int64_t d : shape_)
    if (d < 0) throw Error("Tensor: negative dimension in shape " + shape_string(shape_));
  // Round up so that a zero-size tensor still gets a valid, aligned pointer.
  size_t n = (std::max<size_t>(bytes(), 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, n);
  if (!p) throw Error(fmt::format("Tensor: cannot allocate {} bytes", n));
  std::memset(p, 0, n);
  storage_ = std::shared_ptr<void>(p, std::free);
  data_ = p;
}

Tensor Tensor::view(void* data, std::vector<int64_t> shape, DType dtype) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.data_ = data;
  return t;
}

double Tensor::at_flat(int64_t i) const {
  if (dtype_ == DType::F32) return static_cast<const float*>(data_)[i];
  return static_cast<const double*>(data_)[i];
}

Tensor Tensor::reshaped(std::vector<int64_t> shape) const {
  if (shape_elements(shape) != size())
    throw Error("Tensor::reshaped: cannot view " + shape_string(shape_) + " as " +
                shape_string(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

void make_halide_buffer(halide_buffer_t& buf, halide_dimension_t* dims, void* data,
                        std::span<const int64_t> shape, DType dtype) {
  const int rank = static_cast<int>(shape.size());
  int64_t stride = 1;
  for (int d = 0; d < rank; ++d) {
    const int64_t extent = shape[rank - 1 - d];
    dims[d] = halide_dimension_t(0, static_cast<int32_t>(extent), static_cast<int32_t>(stride));
    stride *= extent;
  }
  buf = halide_buffer_t{};
  buf.host = static_cast<uint8_t*>(data);
  buf.type = halide_type_t(halide_type_float, dtype == DType::F32 ? 32 : 64);
  buf.dimensions = rank;
  buf.dim = dims;
}

}  // namespace brine
