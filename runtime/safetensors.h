// Checkpoints in the safetensors format: an 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__":
// {...}}, then the raw little-endian data. Written atomically.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace brine {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

struct Checkpoint {
  std::vector<NamedTensor> tensors;  // in file order
  std::map<std::string, std::string> metadata;
};
// Throws brine::Error naming the file, the tensor and the bytes at fault:
// truncated header or data, malformed JSON, unknown dtype, offsets outside
// the data or not matching the shape.
Checkpoint load_safetensors(const std::string& path);

}  // namespace brine
