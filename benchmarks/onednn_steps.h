// A oneDNN primitive with its arguments: the baselines' timed paths are
// lists of these, executed in order on one stream.
#pragma once

#include <dnnl.hpp>

#include <unordered_map>
#include <vector>

#include "harness.h"

namespace bench {

struct OneDnnStep {
  dnnl::primitive p;
  std::unordered_map<int, dnnl::memory> args;
};

// What the oneDNN network baselines share: an engine and stream, the bytes
// they hold, a memory's floats.
class OneDnnNet : public Net {
 public:
  size_t bytes() const override { return bytes_; }

 protected:
  static std::vector<float> floats(const dnnl::memory& m) {
    const float* p = static_cast<const float*>(m.get_data_handle());
    return std::vector<float>(p, p + m.get_desc().get_size() / sizeof(float));
  }
  dnnl::engine eng_{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream_{eng_};
  size_t bytes_ = 0;
};

inline void execute(std::vector<OneDnnStep>& steps, dnnl::stream& s) {
  for (OneDnnStep& st : steps) st.p.execute(s, st.args);
}

}  // namespace bench
