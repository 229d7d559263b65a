#include "ir/text.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <map>

#include "ir/verify.h"

namespace brine::ir {

// ---------------------------------------------------------------- printing

namespace {

std::string quote(const std::string& s) {
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    r += c;
  }
  return r + "\"";
}

std::string dims_str(const Shape& s) {
  std::vector<std::string> p;
  for (const Dim& d : s) p.push_back(d.str());
  return fmt::format("[{}]", fmt::join(p, ","));
}

std::string attrs_str(const Attrs& a) {
  const Attrs def;
  std::vector<std::string> p;
  if (!a.name.empty()) p.push_back("name=" + quote(a.name));
  if (!a.init.empty()) p.push_back("init=" + quote(a.init));
  if (!a.axes.empty()) p.push_back(fmt::format("axes=[{}]", fmt::join(a.axes, ",")));
  if (!a.shape.empty()) p.push_back("shape=" + dims_str(a.shape));
  const auto ints = [&](const char* key, const std::vector<int64_t>& v) {
    if (!v.empty()) p.push_back(fmt::format("{}=[{}]", key, fmt::join(v, ",")));
  };
  ints("window", a.window);
  ints("strides", a.strides);
  ints("dilation", a.dilation);
  ints("pads", a.pads);
  if (!a.activation.empty()) p.push_back("activation=" + quote(a.activation));
  if (!a.recurrent_activation.empty()) p.push_back("recurrent_activation=" + quote(a.recurrent_activation));
  if (a.reset_after) p.push_back("reset_after=true");
  if (a.states_only) p.push_back("states_only=true");
  if (a.input_projection) p.push_back("input_projection=true");
  if (a.keepdims) p.push_back("keepdims=true");
  if (a.transpose_a) p.push_back("transpose_a=true");
  if (a.transpose_b) p.push_back("transpose_b=true");
  if (a.packed_b) p.push_back("packed_b=true");
  if (a.value != def.value) p.push_back(fmt::format("value={}", a.value));
  return p.empty() ? "" : fmt::format(" {{{}}}", fmt::join(p, ", "));
}

}  // namespace

std::string print(const Graph& g) {
  std::string out = fmt::format("brine.ir 1\ngraph {} {{\n", quote(g.name));
  for (const Node& n : g.nodes) {
    std::vector<std::string> args;
    for (int i : n.inputs) args.push_back(fmt::format("%{}", i));
    out += fmt::format("  %{} = {}", n.id, op_name(n.op));
    if (!args.empty()) out += fmt::format("({})", fmt::join(args, ", "));
    out += attrs_str(n.attrs) + " : " + type_str(n.type);
    if (!n.layer.empty()) out += " @" + quote(n.layer);
    if (!n.loc.empty()) out += " at " + quote(n.loc);
    out += "\n";
  }
  for (const Output& o : g.outputs) out += fmt::format("  return {} = %{}\n", quote(o.name), o.node);
  return out + "}\n";
}

// ---------------------------------------------------------------- parsing

namespace {

enum class Tok { Ident, Value, Int, Float, String, Punct, End };

struct Token {
  Tok kind;
  std::string text;
  int line, col;
};

class Parser {
 public:
  Parser(const std::string& text, std::string source) : src_(std::move(source)) { lex(text); }

  Graph parse() {
    expect_ident("brine.ir");
    const Token v = next();
    if (v.kind != Tok::Int || v.text != "1") fail(v, "format version 1");
    expect_ident("graph");
    Graph g;
    g.name = expect(Tok::String, "a quoted graph name").text;
    expect_punct("{");
    std::map<std::string, int> ids;
    while (!is_punct("}")) {
      if (peek().kind == Tok::Ident && peek().text == "return") {
        next();
        Output o;
        o.name = expect(Tok::String, "a quoted output name").text;
        expect_punct("=");
        o.node = value_ref(ids);
        g.outputs.push_back(o);
        continue;
      }
      const Token def = expect(Tok::Value, "a value definition like %3 = ... or return");
      if (ids.count(def.text)) fail(def, "a new value name", "%" + def.text + " is already defined");
      expect_punct("=");
      const Token opt = expect(Tok::Ident, "an op name");
      auto op = op_from_name(opt.text);
      if (!op) fail(opt, "a known op", "unknown op '" + opt.text + "'");
      Node n;
      n.op = *op;
      if (is_punct("(")) {
        next();
        while (!is_punct(")")) {
          n.inputs.push_back(value_ref(ids));
          if (!is_punct(")")) expect_punct(",");
        }
        next();
      }
      if (is_punct("{")) attrs(n.attrs);
      expect_punct(":");
      n.type = type();
      if (is_punct("@")) {
        next();
        n.layer = expect(Tok::String, "a quoted layer name").text;
      }
      if (peek().kind == Tok::Ident && peek().text == "at") {
        next();
        n.loc = expect(Tok::String, "a quoted source location").text;
      }
      line_of_[static_cast<int>(g.nodes.size())] = def.line;
      ids[def.text] = g.add(std::move(n));
    }
    next();
    if (peek().kind != Tok::End) fail(peek(), "end of input after the graph's closing brace");
    try {
      verify(g);
    } catch (const Error& e) {
      // Point at the line of the offending node when the message names one.
      std::string msg = e.what();
      int line = 0;
      if (msg.rfind("node %", 0) == 0) line = line_of_[std::atoi(msg.c_str() + 6)];
      throw Error(line ? fmt::format("{}:{}: {}", src_, line, msg) : fmt::format("{}: {}", src_, msg));
    }
    return g;
  }

 private:
  [[noreturn]] void fail(const Token& t, const std::string& expected, const std::string& what = "") {
    const std::string got = t.kind == Tok::End ? "end of input" : "'" + t.text + "'";
    throw Error(fmt::format("{}:{}:{}: {}expected {}, got {}", src_, t.line, t.col,
                            what.empty() ? "" : what + ": ", expected, got));
  }
  const Token& peek() const { return toks_[pos_]; }
  Token next() { return pos_ + 1 < toks_.size() ? toks_[pos_++] : toks_.back(); }
  bool is_punct(const char* p) const { return peek().kind == Tok::Punct && peek().text == p; }
  Token expect(Tok k, const std::string& what) {
    if (peek().kind != k) fail(peek(), what);
    return next();
  }
  void expect_punct(const char* p) {
    if (!is_punct(p)) fail(peek(), std::string("'") + p + "'");
    next();
  }
  void expect_ident(const char* s) {
    if (peek().kind != Tok::Ident || peek().text != s) fail(peek(), std::string("'") + s + "'");
    next();
  }
  int value_ref(const std::map<std::string, int>& ids) {
    const Token t = expect(Tok::Value, "a value like %3");
    auto it = ids.find(t.text);
    if (it == ids.end()) fail(t, "a value defined above", "%" + t.text + " is not defined");
    return it->second;
  }
  int64_t integer() {
    bool neg = false;
    if (is_punct("-")) { next(); neg = true; }
    const Token t = expect(Tok::Int, "an integer");
    try {
      return (neg ? -1 : 1) * std::stoll(t.text);
    } catch (const std::exception&) {
      fail(t, "an integer that fits in 64 bits");
    }
  }
  Dim dim() {
    if (peek().kind == Tok::Ident) return Dim(next().text);
    return Dim(integer());
  }
  Shape dim_list() {
    expect_punct("[");
    Shape s;
    while (!is_punct("]")) {
      s.push_back(dim());
      if (!is_punct("]")) expect_punct(",");
    }
    next();
    return s;
  }
  TensorType type() {
    const Token t = expect(Tok::Ident, "a type like f32[N,10]");
    TensorType r;
    if (t.text == "f32") r.dtype = DType::F32;
    else if (t.text == "f64") r.dtype = DType::F64;
    else fail(t, "a dtype (f32 or f64)");
    r.shape = dim_list();
    return r;
  }
  std::vector<int64_t> int_list() {
    std::vector<int64_t> v;
    expect_punct("[");
    while (!is_punct("]")) {
      v.push_back(integer());
      if (!is_punct("]")) expect_punct(",");
    }
    next();
    return v;
  }
  bool boolean() {
    const Token t = expect(Tok::Ident, "true or false");
    if (t.text != "true" && t.text != "false") fail(t, "true or false");
    return t.text == "true";
  }
  void attrs(Attrs& a) {
    expect_punct("{");
    while (!is_punct("}")) {
      const Token key = expect(Tok::Ident, "an attribute name");
      expect_punct("=");
      if (key.text == "name") a.name = expect(Tok::String, "a quoted name").text;
      else if (key.text == "init") a.init = expect(Tok::String, "a quoted initializer name").text;
      else if (key.text == "axes") a.axes = int_list();
      else if (key.text == "window") a.window = int_list();
      else if (key.text == "strides") a.strides = int_list();
      else if (key.text == "dilation") a.dilation = int_list();
      else if (key.text == "pads") a.pads = int_list();
      else if (key.text == "shape") a.shape = dim_list();
      else if (key.text == "activation") a.activation = expect(Tok::String, "a quoted activation name").text;
      else if (key.text == "recurrent_activation")
        a.recurrent_activation = expect(Tok::String, "a quoted activation name").text;
      else if (key.text == "reset_after") a.reset_after = boolean();
      else if (key.text == "states_only") a.states_only = boolean();
      else if (key.text == "input_projection") a.input_projection = boolean();
      else if (key.text == "keepdims") a.keepdims = boolean();
      else if (key.text == "transpose_a") a.transpose_a = boolean();
      else if (key.text == "transpose_b") a.transpose_b = boolean();
      else if (key.text == "packed_b") a.packed_b = boolean();
      else if (key.text == "value") {
        bool neg = false;
        if (is_punct("-")) { next(); neg = true; }
        const Token t = next();
        if (t.kind != Tok::Int && t.kind != Tok::Float && !(t.kind == Tok::Ident && (t.text == "inf" || t.text == "nan")))
          fail(t, "a number");
        a.value = (neg ? -1 : 1) * std::strtod(t.text.c_str(), nullptr);
      } else fail(key, "an attribute (name, init, axes, shape, window, strides, dilation, pads, activation, "
                        "recurrent_activation, reset_after, states_only, input_projection, keepdims, transpose_a, transpose_b, packed_b, value)");
      if (!is_punct("}")) expect_punct(",");
    }
    next();
  }

  void lex(const std::string& s) {
    int line = 1, col = 1;
    size_t i = 0;
    const auto advance = [&](size_t n) {
      for (size_t k = 0; k < n; ++k, ++i) {
        if (s[i] == '\n') { ++line; col = 1; } else ++col;
      }
    };
    while (i < s.size()) {
      const char c = s[i];
      if (std::isspace(static_cast<unsigned char>(c))) { advance(1); continue; }
      if (c == '#') { while (i < s.size() && s[i] != '\n') advance(1); continue; }
      Token t{Tok::Punct, "", line, col};
      size_t j = i;
      if (c == '%') {
        ++j;
        while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
        t.kind = Tok::Value;
        t.text = s.substr(i + 1, j - i - 1);
        if (t.text.empty()) throw Error(fmt::format("{}:{}:{}: expected a value name after '%'", src_, line, col));
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_' || s[j] == '.' || s[j] == '/')) ++j;
        t.kind = Tok::Ident;
        t.text = s.substr(i, j - i);
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        bool is_float = false;
        while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
                                ((s[j] == '-' || s[j] == '+') && (s[j - 1] == 'e' || s[j - 1] == 'E')))) {
          is_float |= !std::isdigit(static_cast<unsigned char>(s[j]));
          ++j;
        }
        t.kind = is_float ? Tok::Float : Tok::Int;
        t.text = s.substr(i, j - i);
      } else if (c == '"') {
        ++j;
        while (j < s.size() && s[j] != '"') {
          if (s[j] == '\\' && j + 1 < s.size()) ++j;
          t.text += s[j++];
        }
        if (j >= s.size()) throw Error(fmt::format("{}:{}:{}: unterminated string", src_, line, col));
        ++j;
        t.kind = Tok::String;
      } else if (std::string_view("(){}[],=:@-").find(c) != std::string_view::npos) {
        ++j;
        t.text = std::string(1, c);
      } else {
        throw Error(fmt::format("{}:{}:{}: unexpected character '{}'", src_, line, col, c));
      }
      toks_.push_back(t);
      advance(j - i);
    }
    toks_.push_back({Tok::End, "", line, col});
  }

  std::string src_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
  std::map<int, int> line_of_;
};

}  // namespace

Graph parse(const std::string& text, const std::string& source) { return Parser(text, source).parse(); }

// ---------------------------------------------------------------- DOT

std::string to_dot(const Graph& g, const std::vector<int>* kernel_of) {
  std::string out = fmt::format("digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n", g.name);
  const auto label = [&](const Node& n) {
    std::string l = fmt::format("%{} {}", n.id, op_name(n.op));
    if (!n.attrs.name.empty()) l += " " + n.attrs.name;
    return l + "\\n" + type_str(n.type);
  };
  std::map<int, std::vector<int>> clusters;
  for (const Node& n : g.nodes) {
    const int k = kernel_of ? (*kernel_of)[n.id] : -1;
    if (k >= 0) clusters[k].push_back(n.id);
    else {
      const char* style = n.op == Op::Input ? ", style=filled, fillcolor=lightblue"
                          : n.op == Op::Param ? ", style=filled, fillcolor=lightyellow" : "";
      out += fmt::format("  n{} [label=\"{}\"{}];\n", n.id, label(n), style);
    }
  }
  for (const auto& [k, ids] : clusters) {
    out += fmt::format("  subgraph cluster_k{} {{\n    label=\"kernel {}\"; style=rounded; color=gray40;\n", k, k);
    for (int id : ids) out += fmt::format("    n{} [label=\"{}\"];\n", id, label(g.node(id)));
    out += "  }\n";
  }
  for (const Node& n : g.nodes)
    for (int i : n.inputs) out += fmt::format("  n{} -> n{};\n", i, n.id);
  for (const Output& o : g.outputs) {
    out += fmt::format("  out_{0} [label=\"output {1}\", shape=ellipse];\n  n{2} -> out_{0};\n", &o - g.outputs.data(), o.name, o.node);
  }
  return out + "}\n";
}

}  // namespace brine::ir
