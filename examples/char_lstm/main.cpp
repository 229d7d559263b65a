// A character-level language model of English words: the word list of
// Debian's wamerican package, one-hot characters -> LSTM(256) -> Dense(28),
// trained with Adam and gradient clipping as compiled training steps.
// Reports bits per character on held-out words (the exit status says
// whether it is at most 2.5) and samples new words, one character at a time,
// with the same compiled model on growing sequences (the time axis is
// dynamic).
//
//   char_lstm [WORD_LIST] [EPOCHS]   (defaults: /usr/share/dict/american-english, 5)
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <set>

#include "brine.h"

namespace {

// '\n' ends a word (and starts the next), then a-z and the apostrophe.
constexpr int64_t kVocab = 28;
int64_t id_of(char c) { return c == '\n' ? 0 : c == '\'' ? 27 : c - 'a' + 1; }
char char_of(int64_t id) { return id == 0 ? '\n' : id == 27 ? '\'' : static_cast<char>('a' + id - 1); }

std::vector<std::string> load_words(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw brine::Error(fmt::format("cannot read the word list '{}' (Debian package wamerican)", path));
  std::vector<std::string> words;
  for (std::string w; std::getline(in, w);) {
    const bool plain = !w.empty() && std::all_of(w.begin(), w.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '\''; });
    if (plain) words.push_back(w);  // lowercase ASCII words only (no names, no accents)
  }
  return words;
}

// The words as one stream ("cat\ndog\n..."), cut into windows of T
// characters: x = the window, y = the window shifted by one.
std::pair<brine::Tensor, brine::Tensor> windows(const std::vector<std::string>& words, int64_t T) {
  std::vector<int64_t> stream{0};
  for (const std::string& w : words) {
    for (char c : w) stream.push_back(id_of(c));
    stream.push_back(0);
  }
  const int64_t n = (static_cast<int64_t>(stream.size()) - 1) / T;
  brine::Tensor x({n, T}), y({n, T});
  for (int64_t i = 0; i < n * T; ++i) {
    x.data<float>()[i] = static_cast<float>(stream[i]);
    y.data<float>()[i] = static_cast<float>(stream[i + 1]);
  }
  return {x, y};
}

// Bits per character over the held-out stream, each character predicted
// with context: windows of 2T characters with a stride of T, scoring only
// their second halves (the first window scores all of itself). Cutting the
// stream into disjoint windows instead would predict every window's first
// characters from nothing.
double held_out_bits(brine::Trainer& trainer, const std::vector<std::string>& words, int64_t T) {
  std::vector<int64_t> stream{0};
  for (const std::string& w : words) {
    for (char c : w) stream.push_back(id_of(c));
    stream.push_back(0);
  }
  const int64_t L = 2 * T, n = (static_cast<int64_t>(stream.size()) - 1 - L) / T + 1;
  brine::Tensor x({n, L});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < L; ++t) x.data<float>()[i * L + t] = static_cast<float>(stream[i * T + t]);
  const brine::Tensor logits = trainer.predict(x);
  double nats = 0;
  int64_t scored = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = i == 0 ? 0 : T; t < L; ++t) {
      const int64_t row = (i * L + t) * kVocab, target = stream[i * T + t + 1];
      double mx = -1e30, sum = 0;
      for (int64_t c = 0; c < kVocab; ++c) mx = std::max(mx, static_cast<double>(logits.at_flat(row + c)));
      for (int64_t c = 0; c < kVocab; ++c) sum += std::exp(logits.at_flat(row + c) - mx);
      nats += std::log(sum) + mx - logits.at_flat(row + target);
      ++scored;
    }
  return nats / static_cast<double>(scored) / std::log(2.0);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "/usr/share/dict/american-english";
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 5;
  std::vector<std::string> words = load_words(path);
  std::mt19937_64 rng(7);
  std::shuffle(words.begin(), words.end(), rng);
  const size_t held = words.size() / 10;
  const std::vector<std::string> test(words.begin(), words.begin() + held), train(words.begin() + held, words.end());
  const int64_t T = 32;
  const auto [x_train, y_train] = windows(train, T);
  const auto [x_test, y_test] = windows(test, T);
  fmt::print("{}: {} words for training, {} held out ({} and {} windows of {} characters)\n", path, train.size(),
             test.size(), x_train.dim(0), x_test.dim(0), T);

  using namespace brine;
  reset_layer_names();
  auto chars = Input({"T"}, "chars");  // character ids; any length
  auto h = LSTM(256, {.return_sequences = true})(one_hot(chars, kVocab));
  auto logits = Dense(kVocab)(h);
  const Model model({chars}, {logits}, "char_lstm");
  fmt::print("{}", model.summary());

  Optimizer adam = Optimizer::adam(0.01);
  adam.clip_norm = 1.0;
  Trainer trainer(model, "sparse_categorical_crossentropy", adam, /*from_logits=*/true);
  trainer.fit(x_train, y_train, {.epochs = epochs, .batch_size = 64, .validation_split = 0.0, .seed = 1});
  const auto m = trainer.evaluate(x_test, y_test);
  fmt::print("held-out windows of {}: loss {:.4f} nats, next-character accuracy {:.1f}%\n", T, m.at("loss"),
             100 * m.at("accuracy"));
  const double bits = held_out_bits(trainer, test, T);
  fmt::print("held-out: {:.3f} bits per character, every character predicted from at least {} before it\n", bits, T);

  // Sampling: feed the word so far, draw the next character from the
  // softmax of the last position's logits (temperature 0.8).
  const std::set<std::string> known(words.begin(), words.end());
  std::mt19937_64 draw(3);
  fmt::print("sampled words:");
  for (int s = 0; s < 12;) {
    std::vector<int64_t> seq{0};
    std::string word;
    while (word.size() < 20) {
      Tensor in({1, static_cast<int64_t>(seq.size())});
      for (size_t i = 0; i < seq.size(); ++i) in.data<float>()[i] = static_cast<float>(seq[i]);
      const Tensor out = trainer.predict(in);
      std::vector<double> p(kVocab);
      const int64_t last = (static_cast<int64_t>(seq.size()) - 1) * kVocab;
      double mx = -1e30, sum = 0;
      for (int64_t c = 0; c < kVocab; ++c) mx = std::max(mx, static_cast<double>(out.at_flat(last + c)));
      for (int64_t c = 0; c < kVocab; ++c) sum += p[c] = std::exp((out.at_flat(last + c) - mx) / 0.8);
      std::discrete_distribution<int64_t> pick(p.begin(), p.end());
      const int64_t next = pick(draw);
      if (next == 0) break;
      word += char_of(next);
      seq.push_back(next);
    }
    if (word.empty()) continue;  // an immediate end of word: draw again
    fmt::print(" {}{}", word, known.count(word) ? "" : "*");
    ++s;
  }
  fmt::print("\n(* not in the word list)\n");
  if (!(bits <= 2.5)) {
    fmt::print(stderr, "held-out bits per character {:.3f} > 2.5\n", bits);
    return 1;
  }
}
