#include "train/train_graph.h"

#include <fmt/format.h>

#include "dsl/collect.h"
#include "dsl/grad.h"
#include "train/losses.h"

namespace brine {

TrainingGraphs build_training_graphs(const Model& model, const std::string& loss, bool from_logits,
                                     const Optimizer& optimizer) {
  const ir::Graph& g = model.graph();
  if (g.inputs().size() != 1 || g.outputs.size() != 1)
    throw Error(fmt::format("training: model '{}' has {} inputs and {} outputs; training takes one of each", g.name,
                            g.inputs().size(), g.outputs.size()));
  const std::vector<Expr> ex = exprs_from_graph(g);
  const Expr x = ex[g.inputs()[0]], y_pred = ex[g.outputs[0].node];
  auto yt = std::make_shared<ExprNode>();
  yt->op = ir::Op::Input;
  yt->attrs.name = "y_true";
  yt->type = {y_pred.dtype(), losses::label_shape(loss, y_pred.shape())};
  const Expr y_true(yt);
  const Expr loss_value = losses::by_name(loss, y_true, y_pred, from_logits);
  std::vector<Expr> params;
  for (int id : g.params()) params.push_back(ex[id]);
  const std::vector<Expr> grads = grad(loss_value, params);

  TrainingGraphs t;
  const Expr lr = scalar_input("lr", y_pred.dtype());
  std::vector<Expr> outs{loss_value, y_pred};
  for (const auto& u : optimizer.updates(params, grads, lr)) {
    outs.push_back(u.value);
    t.updated.push_back(u.name);
  }
  t.step = Model({x, y_true, lr}, outs, g.name + "_train_step").graph();
  t.evaluate = Model({x, y_true}, {loss_value, y_pred}, g.name + "_evaluate").graph();
  std::vector<Expr> grad_outs{loss_value};
  grad_outs.insert(grad_outs.end(), grads.begin(), grads.end());
  t.gradients = Model({x, y_true}, grad_outs, g.name + "_gradients").graph();
  // Name the gradient outputs after their parameters.
  for (size_t i = 0; i < params.size(); ++i)
    t.gradients.outputs[1 + i].name = "grad/" + params[i].node()->attrs.name;
  t.gradients.outputs[0].name = "loss";
  t.rate = {optimizer.kind == Optimizer::Kind::Adam, optimizer.learning_rate, optimizer.beta_1, optimizer.beta_2};
  return t;
}

}  // namespace brine
