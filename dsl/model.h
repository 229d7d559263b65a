// The model-author API, part 3: Model({inputs}, {outputs}) collects the
// expression DAG between them into an ir::Graph, like keras.Model.
#pragma once

#include <string>
#include <vector>

#include "dsl/expr.h"

namespace brine {

class Model {
 public:
  Model(std::vector<Expr> inputs, std::vector<Expr> outputs, std::string name = "model", BRINE_HERE);

  const ir::Graph& graph() const { return graph_; }
  const std::string& name() const { return graph_.name; }
  // Keras-style table: layer (type), output shape, parameter count.
  std::string summary() const;
  int64_t count_params() const;

 private:
  struct LayerRow {
    std::string name, type;
    int last_node = -1;
    int64_t params = 0;
  };
  ir::Graph graph_;
  std::vector<LayerRow> layers_;
};

}  // namespace brine
