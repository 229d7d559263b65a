#include "runtime/safetensors.h"

#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/files.h"

namespace brine {

void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const NamedTensor& t : tensors) {
    header[t.name] = {{"dtype", t.tensor.dtype() == DType::F32 ? "F32" : "F64"},
                      {"shape", t.tensor.shape()},
                      {"data_offsets", {offset, offset + t.tensor.bytes()}}};
    offset += t.tensor.bytes();
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::string out(8, '\0');
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += h;
  out.reserve(out.size() + offset);
  for (const NamedTensor& t : tensors) out.append(static_cast<const char*>(t.tensor.raw()), t.tensor.bytes());
  write_file_atomic(path, out);
}

Checkpoint load_safetensors(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < 8)
    throw Error(fmt::format("{}: not a safetensors file ({} bytes; the header length alone takes 8)", path, bytes.size()));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > bytes.size() - 8)
    throw Error(fmt::format("{}: truncated: the header claims {} bytes but only {} follow", path, n, bytes.size() - 8));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  } catch (const std::exception& e) {
    throw Error(fmt::format("{}: the header is not valid JSON: {}", path, e.what()));
  }
  if (!header.is_object()) throw Error(fmt::format("{}: the header is not a JSON object", path));
  const size_t data_at = 8 + n, data_size = bytes.size() - data_at;
  Checkpoint ck;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      for (const auto& [k, m] : v.items()) ck.metadata[k] = m.is_string() ? m.get<std::string>() : m.dump();
      continue;
    }
    try {
      const std::string dt = v.at("dtype").get<std::string>();
      if (dt != "F32" && dt != "F64")
        throw Error(fmt::format("{}: tensor '{}' has dtype {}, expected F32 or F64", path, name, dt));
      const auto shape = v.at("shape").get<std::vector<int64_t>>();
      const auto off = v.at("data_offsets").get<std::vector<uint64_t>>();
      Tensor t(shape, dt == "F32" ? DType::F32 : DType::F64);
      if (off.size() != 2 || off[0] > off[1] || off[1] > data_size)
        throw Error(fmt::format("{}: tensor '{}' has data offsets [{}, {}] outside the {} data bytes (truncated file?)",
                                path, name, off.size() > 0 ? off[0] : 0, off.size() > 1 ? off[1] : 0, data_size));
      if (off[1] - off[0] != t.bytes())
        throw Error(fmt::format("{}: tensor '{}' of shape {} {} needs {} bytes, its offsets give {}", path, name,
                                dt, shape_string(shape), t.bytes(), off[1] - off[0]));
      std::memcpy(t.raw(), bytes.data() + data_at + off[0], t.bytes());
      ck.tensors.push_back({name, std::move(t)});
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("{}: tensor '{}' has a malformed entry: {}", path, name, e.what()));
    }
  }
  return ck;
}

}  // namespace brine
