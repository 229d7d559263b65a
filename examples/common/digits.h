// The 8x8 handwritten digits data set that Debian's python3-sklearn ships
// (1797 images, 64 pixels in 0..16, then the label), read from C++.
#pragma once

#include <zlib.h>

#include <fmt/format.h>
#include <algorithm>
#include <string>
#include <vector>

#include <functional>

#include "train/trainer.h"
#include "runtime/tensor.h"

inline const char* kDigitsPath = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

struct Digits {
  brine::Tensor x;  // (n, 64), pixels / 16
  brine::Tensor y;  // (n,), class ids 0..9
};

inline Digits load_digits(const std::string& path = kDigitsPath) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw brine::Error(fmt::format("cannot open '{}' (install python3-sklearn: scripts/setup.sh does)", path));
  std::vector<float> pixels, labels;
  std::string line;
  char buf[4096];
  int line_no = 0;
  while (gzgets(f, buf, sizeof buf)) {
    line = buf;
    ++line_no;
    if (line.find_first_not_of(" \r\n") == std::string::npos) continue;
    std::vector<float> row;
    size_t pos = 0;
    while (pos < line.size()) {
      size_t used = 0;
      try {
        row.push_back(std::stof(line.substr(pos), &used));
      } catch (const std::exception&) {
        gzclose(f);
        throw brine::Error(fmt::format("{}:{}: not a number at column {}", path, line_no, row.size() + 1));
      }
      pos += used;
      while (pos < line.size() && (line[pos] == ',' || line[pos] == '\n' || line[pos] == '\r')) ++pos;
    }
    if (row.size() != 65) {
      gzclose(f);
      throw brine::Error(fmt::format("{}:{}: {} values, expected 64 pixels and a label", path, line_no, row.size()));
    }
    for (int i = 0; i < 64; ++i) pixels.push_back(row[i] / 16.0f);
    labels.push_back(row[64]);
  }
  gzclose(f);
  const int64_t n = static_cast<int64_t>(labels.size());
  return {brine::Tensor::from<float>({n, 64}, pixels), brine::Tensor::from<float>({n}, labels)};
}

// A seeded shuffle of the samples, then the first `test_fraction` held out.
inline std::pair<Digits, Digits> split(const Digits& d, double test_fraction, uint64_t seed) {
  const int64_t n = d.x.dim(0), n_test = static_cast<int64_t>(n * test_fraction);
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    std::swap(order[i], order[(seed >> 33) % static_cast<uint64_t>(i + 1)]);
  }
  const auto take = [&](int64_t begin, int64_t end) {
    Digits s{brine::Tensor({end - begin, 64}), brine::Tensor({end - begin})};
    for (int64_t i = begin; i < end; ++i) {
      std::copy_n(d.x.data<float>() + order[i] * 64, 64, s.x.data<float>() + (i - begin) * 64);
      s.y.data<float>()[i - begin] = d.y.data<float>()[order[i]];
    }
    return s;
  };
  return {take(n_test, n), take(0, n_test)};
}

// The end of both digits examples: score the held-out set, save a
// checkpoint, reload it into a fresh trainer (from `build`) and check that
// it scores the same, and that the accuracy reaches `target`. Returns the
// process exit code.
inline int score_save_reload(brine::Trainer& trainer, const std::function<brine::Trainer()>& fresh, const Digits& test,
                             const std::string& ckpt, double target) {
  const auto score = trainer.evaluate(test.x, test.y);
  fmt::print("held-out test: loss {:.4f}, accuracy {:.2f}% ({} steps)\n", score.at("loss"), 100 * score.at("accuracy"),
             trainer.steps());
  trainer.save(ckpt);
  brine::Trainer reloaded = fresh();
  reloaded.load(ckpt);
  const auto again = reloaded.evaluate(test.x, test.y);
  fmt::print("reloaded from {}: accuracy {:.2f}%\n", ckpt, 100 * again.at("accuracy"));
  if (again.at("accuracy") != score.at("accuracy") || again.at("loss") != score.at("loss")) {
    fmt::print(stderr, "the reloaded model scores differently\n");
    return 1;
  }
  if (score.at("accuracy") < target) {
    fmt::print(stderr, "accuracy below the {:.0f}% target\n", 100 * target);
    return 1;
  }
  return 0;
}
