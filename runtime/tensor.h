// A dense host tensor in Keras/NumPy order (outermost axis first, row-major),
// 64-byte aligned. It either owns its storage or views someone else's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/error.h"

struct halide_buffer_t;
struct halide_dimension_t;

namespace brine {

enum class DType : uint8_t { F32, F64 };

inline size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 8; }
inline const char* dtype_name(DType t) { return t == DType::F32 ? "f32" : "f64"; }

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }

std::string shape_string(std::span<const int64_t> shape);
int64_t shape_elements(std::span<const int64_t> shape);

class Tensor {
 public:
  Tensor() = default;
  // Allocates zero-filled storage.
  Tensor(std::vector<int64_t> shape, DType dtype = DType::F32);
  // A non-owning view of memory the caller keeps alive.
  static Tensor view(void* data, std::vector<int64_t> shape, DType dtype = DType::F32);
  template <typename T>
  static Tensor from(std::vector<int64_t> shape, std::span<const T> values) {
    Tensor t(std::move(shape), dtype_of<T>());
    if (static_cast<int64_t>(values.size()) != t.size())
      throw Error("Tensor::from: " + std::to_string(values.size()) + " values for shape " +
                  shape_string(t.shape()));
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
  }

  const std::vector<int64_t>& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const { return shape_.at(axis); }
  int64_t size() const { return shape_elements(shape_); }
  size_t bytes() const { return static_cast<size_t>(size()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  bool owns() const { return storage_ != nullptr; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T> T* data() { check_type<T>(); return static_cast<T*>(data_); }
  template <typename T> const T* data() const { check_type<T>(); return static_cast<const T*>(data_); }
  template <typename T> std::span<T> values() { return {data<T>(), static_cast<size_t>(size())}; }
  template <typename T> std::span<const T> values() const {
    return {data<T>(), static_cast<size_t>(size())};
  }
  // Element at a row-major flat index, converted to double (for tests/printing).
  double at_flat(int64_t i) const;

  // The same memory seen with another shape of the same element count.
  Tensor reshaped(std::vector<int64_t> shape) const;

 private:
  template <typename T> void check_type() const {
    if (dtype_of<T>() != dtype_)
      throw Error(std::string("tensor holds ") + dtype_name(dtype_) + ", accessed as " +
                  dtype_name(dtype_of<T>()));
  }
  std::vector<int64_t> shape_;
  DType dtype_ = DType::F32;
  std::shared_ptr<void> storage_;
  void* data_ = nullptr;
};

// Fills a halide_buffer_t (and its dim array, which must hold rank entries)
// that describes `data` with a Keras-order shape: Halide's dim 0 is the
// innermost (last) axis.
void make_halide_buffer(halide_buffer_t& buf, halide_dimension_t* dims, void* data,
                        std::span<const int64_t> shape, DType dtype);

}  // namespace brine
