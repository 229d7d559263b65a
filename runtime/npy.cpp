#include "runtime/npy.h"

#include <cstring>
#include <fmt/format.h>

#include "runtime/files.h"

namespace brine {

namespace {
// The value of `key` in the header dict, as raw text up to the next top-level comma.
std::string dict_value(const std::string& header, const std::string& key, const std::string& source) {
  const std::string k = "'" + key + "'";
  const size_t at = header.find(k);
  if (at == std::string::npos) throw Error(fmt::format("{}: .npy header has no '{}' field: {}", source, key, header));
  size_t i = header.find(':', at + k.size());
  if (i == std::string::npos) throw Error(fmt::format("{}: malformed .npy header: {}", source, header));
  ++i;
  while (i < header.size() && header[i] == ' ') ++i;
  if (header[i] == '(') return header.substr(i, header.find(')', i) - i + 1);
  size_t j = i;
  while (j < header.size() && header[j] != ',' && header[j] != '}') ++j;
  return header.substr(i, j - i);
}
}  // namespace

Tensor parse_npy(const std::string& b, const std::string& source) {
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0)
    throw Error(fmt::format("{}: not a .npy file (the first bytes are not \\x93NUMPY; file has {} bytes)", source, b.size()));
  const int major = static_cast<unsigned char>(b[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) throw Error(fmt::format("{}: truncated .npy preamble ({} bytes)", source, b.size()));
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(b[8 + i])) << (8 * i);
    offset = 12;
  } else {
    throw Error(fmt::format("{}: unsupported .npy format version {} (expected 1, 2 or 3)", source, major));
  }
  if (offset + header_len > b.size())
    throw Error(fmt::format("{}: truncated .npy header (needs {} bytes, file has {})", source, offset + header_len, b.size()));
  const std::string header = b.substr(offset, header_len);
  const std::string descr = dict_value(header, "descr", source);
  DType dtype;
  if (descr == "'<f4'") dtype = DType::F32;
  else if (descr == "'<f8'") dtype = DType::F64;
  else throw Error(fmt::format("{}: unsupported dtype {} (expected '<f4' or '<f8')", source, descr));
  if (dict_value(header, "fortran_order", source) != "False")
    throw Error(fmt::format("{}: Fortran-ordered arrays are not supported; save with np.ascontiguousarray", source));
  std::string shape_text = dict_value(header, "shape", source);
  std::vector<int64_t> shape;
  for (size_t i = 1; i < shape_text.size();) {
    while (i < shape_text.size() && (shape_text[i] == ' ' || shape_text[i] == ',')) ++i;
    if (i >= shape_text.size() || shape_text[i] == ')') break;
    size_t used = 0;
    try {
      shape.push_back(std::stoll(shape_text.substr(i), &used));
    } catch (const std::exception&) {
      throw Error(fmt::format("{}: malformed shape {} in .npy header", source, shape_text));
    }
    if (shape.back() < 0) throw Error(fmt::format("{}: negative dimension in shape {}", source, shape_text));
    i += used;
  }
  Tensor t(shape, dtype);
  const size_t data_at = offset + header_len;
  if (b.size() - data_at != t.bytes())
    throw Error(fmt::format("{}: shape {} of {} needs {} data bytes, file has {}", source, shape_string(shape),
                            dtype_name(dtype), t.bytes(), b.size() - data_at));
  std::memcpy(t.raw(), b.data() + data_at, t.bytes());
  return t;
}

Tensor read_npy(const std::string& path) { return parse_npy(read_file(path), path); }

std::string npy_bytes(const Tensor& t) {
  std::string shape;
  for (int64_t d : t.shape()) shape += std::to_string(d) + ", ";
  if (t.rank() > 1) shape.resize(shape.size() - 2);
  else if (t.rank() == 1) shape.resize(shape.size() - 1);
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}",
                                   t.dtype() == DType::F32 ? "<f4" : "<f8", shape);
  // Pad so that the data starts on a 64-byte boundary, ending with '\n'.
  const size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(t.raw()), t.bytes());
  return out;
}

void write_npy(const std::string& path, const Tensor& t) { write_file_atomic(path, npy_bytes(t)); }

}  // namespace brine
