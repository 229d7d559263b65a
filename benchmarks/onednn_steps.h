// A oneDNN primitive with its arguments: the baselines' timed paths are
// lists of these, executed in order on one stream.
#pragma once

#include <dnnl.hpp>

#include <unordered_map>
#include <vector>

namespace bench {

struct OneDnnStep {
  dnnl::primitive p;
  std::unordered_map<int, dnnl::memory> args;
};

inline void execute(std::vector<OneDnnStep>& steps, dnnl::stream& s) {
  for (OneDnnStep& st : steps) st.p.execute(s, st.args);
}

}  // namespace bench
