// NumPy .npy files (format 1.0-3.0, little-endian f4/f8, C order): what
// `brinec --run` reads inputs and weights from and writes outputs to.
#pragma once
#include <string>
#include "runtime/tensor.h"

namespace brine {
// Throws brine::Error naming the file, the offending bytes or field, and what
// was expected (truncated data, bad magic, Fortran order, unsupported dtype).
Tensor read_npy(const std::string& path);
Tensor parse_npy(const std::string& bytes, const std::string& source);
std::string npy_bytes(const Tensor& t);
void write_npy(const std::string& path, const Tensor& t);  // atomic
}  // namespace brine
