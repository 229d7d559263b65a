#include "dsl/model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <set>

#include "dsl/collect.h"
#include "ir/verify.h"

namespace brine {

Model::Model(std::vector<Expr> inputs, std::vector<Expr> outputs, std::string name, Loc loc) {
  const Site site{fmt::format("Model '{}'", name), Site::format(loc)};
  graph_.name = name;
  if (inputs.empty()) site.fail("a model needs at least one input");
  if (outputs.empty()) site.fail("a model needs at least one output");

  ExprIds id;
  std::vector<std::string> input_names;
  std::set<std::string> param_names;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Expr& x = inputs[i];
    if (!x.defined()) site.fail(fmt::format("input {} is undefined", i));
    if (x.node()->op != ir::Op::Input)
      site.fail(fmt::format("input {} is a {} result of shape {}, not an Input(...)", i, ir::op_name(x.node()->op),
                            ir::shape_str(x.shape())));
    if (id.count(x.node().get())) site.fail(fmt::format("input '{}' is listed twice", x.node()->attrs.name));
    for (const std::string& other : input_names)
      if (other == x.node()->attrs.name) site.fail(fmt::format("two inputs are named '{}'", other));
    input_names.push_back(x.node()->attrs.name);
    add_expr_node(graph_, id, x.node().get());
  }
  for (size_t o = 0; o < outputs.size(); ++o) {
    if (!outputs[o].defined()) site.fail(fmt::format("output {} is undefined", o));
    collect_dag(graph_, id, outputs[o].node().get(), [&](const ExprNode* e) {
      if (e->op == ir::Op::Input)
        site.fail(fmt::format("output {} ({} {}) depends on Input '{}', which is not among the model's inputs [{}]", o,
                              outputs[o].node()->layer.empty() ? std::string(ir::op_name(outputs[o].node()->op))
                                                               : "layer '" + outputs[o].node()->layer + "'",
                              ir::shape_str(outputs[o].shape()), e->attrs.name, fmt::join(input_names, ", ")));
      if (e->op == ir::Op::Param && !param_names.insert(e->attrs.name).second)
        site.fail(fmt::format("two different layers are named '{}' (parameter '{}' appears twice); give layers "
                              "unique names", e->layer, e->attrs.name));
    });
  }
  std::set<std::string> out_names;
  for (size_t o = 0; o < outputs.size(); ++o) {
    const ExprNode* e = outputs[o].node().get();
    std::string oname = e->layer.empty() ? fmt::format("output_{}", o + 1) : e->layer;
    if (!out_names.insert(oname).second) oname = fmt::format("{}_{}", oname, o + 1);
    out_names.insert(oname);
    graph_.outputs.push_back({oname, id.at(e)});
  }
  ir::verify(graph_);

  // Layer rows for summary(), in order of first appearance.
  std::map<std::string, size_t> row_of;
  for (const ir::Node& n : graph_.nodes) {
    std::string lname = n.layer, ltype;
    if (lname.empty()) {
      if (n.op == ir::Op::Constant) continue;
      lname = fmt::format("{}_{}", ir::op_name(n.op), n.id);
      ltype = "Op";
    }
    auto it = row_of.find(lname);
    if (it == row_of.end()) {
      it = row_of.emplace(lname, layers_.size()).first;
      layers_.push_back({lname, ltype, n.id, 0});
    }
    LayerRow& row = layers_[it->second];
    if (n.op == ir::Op::Param) row.params += static_cast<int64_t>(static_elements(n.type.shape));
    else row.last_node = n.id;
  }
  // Layer types come from the expression nodes (the IR keeps only names).
  for (const auto& [e, i] : id)
    if (!e->layer.empty() && row_of.count(e->layer)) layers_[row_of[e->layer]].type = e->layer_type;
}

int64_t Model::count_params() const {
  int64_t n = 0;
  for (const LayerRow& r : layers_) n += r.params;
  return n;
}

std::string Model::summary() const {
  const auto with_commas = [](int64_t v) {
    const std::string digits = std::to_string(v);
    std::string s;
    for (size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) s += ',';
      s += digits[i];
    }
    return s;
  };
  const auto keras_shape = [](const ir::Shape& s) {
    std::vector<std::string> p;
    for (const Dim& d : s) p.push_back(d.is_static() ? std::to_string(d.size) : "None");
    return p.size() == 1 ? fmt::format("({},)", p[0]) : fmt::format("({})", fmt::join(p, ", "));
  };
  const std::string rule(65, '_'), dbl(65, '=');
  std::string out = fmt::format("Model: \"{}\"\n{}\n {:<28}{:<26}{}\n{}\n", name(), rule, "Layer (type)", "Output Shape",
                                "Param #", dbl);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const LayerRow& r = layers_[i];
    std::string shape = keras_shape(graph_.node(r.last_node).type.shape);
    if (r.type == "InputLayer") shape = "[" + shape + "]";
    out += fmt::format(" {:<28}{:<26}{}\n", fmt::format("{} ({})", r.name, r.type), shape, with_commas(r.params));
    out += (i + 1 < layers_.size() ? "\n" : "");
  }
  const int64_t total = count_params();
  out += fmt::format("{}\nTotal params: {}\nTrainable params: {}\nNon-trainable params: 0\n{}\n", dbl,
                     with_commas(total), with_commas(total), rule);
  return out;
}

}  // namespace brine
