// The graph IR: a list of nodes in topological order (every input of a node
// has a lower id). Values are named by node id (`%3` in the text format).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/op.h"
#include "ir/types.h"

namespace brine::ir {

// Attributes of all ops in one plain struct; each op uses the few it needs
// and the printer writes only those that differ from the defaults.
struct Attrs {
  std::vector<int64_t> axes;  // reduce_*: axes; transpose: permutation; softmax, concat: {axis}
  Shape shape;                // reshape: target shape
  bool keepdims = false;      // reduce_*
  bool transpose_a = false;   // matmul
  bool transpose_b = false;   // matmul
  // matmul: the right operand is pack_panels of the (K, N) matrix, (N / w, K, w)
  // (codegen/graph_passes.h packs constant kernels this way).
  bool packed_b = false;
  double value = 0.0;         // constant
  std::string name;           // input, param: the tensor's name
  std::string init;           // param: initializer ("glorot_uniform", "zeros", "ones")
  // Windowed NHWC ops (conv2d*, *_pool2d*, pad2d), each {height, width}
  // except pads = {top, bottom, left, right}. conv2d_grad_* and
  // avg_pool2d_grad also keep in `shape` the static spatial size they
  // produce (the input's, or the filter's), which strides make ambiguous.
  std::vector<int64_t> window;    // pooling window
  std::vector<int64_t> strides;
  std::vector<int64_t> dilation;  // conv2d*
  std::vector<int64_t> pads;
  // lstm*: the cell's activation and recurrent (gate) activation: tanh,
  // sigmoid, hard_sigmoid, relu or linear.
  std::string activation;
  std::string recurrent_activation;
  bool reset_after = false;  // gru: the reset gate applied after the recurrent matmul (TF2's default)
  bool states_only = false;  // lstm, gru: write only the states per step, no workspace for a backward
  bool input_projection = false;  // lstm, gru, simple_rnn: (x, w, b, r, ...), z = x w + b per step
  bool operator==(const Attrs&) const = default;
};

struct Node {
  int id = -1;
  Op op = Op::Input;
  std::vector<int> inputs;
  Attrs attrs;
  TensorType type;
  std::string layer;  // the DSL layer that made it ("dense_1"), empty for raw expressions
  std::string loc;    // the user's source "file:line", when built from the DSL
};

struct Output {
  std::string name;
  int node = -1;
};

struct Graph {
  std::string name = "model";
  std::vector<Node> nodes;
  std::vector<Output> outputs;

  int add(Node n);  // assigns the id and returns it
  const Node& node(int id) const { return nodes.at(id); }
  Node& node(int id) { return nodes.at(id); }
  std::vector<int> inputs() const;  // node ids of op input, in order
  std::vector<int> params() const;  // node ids of op param, in order
  // consumers[id]: ids of the nodes that read node id (with repeats).
  std::vector<std::vector<int>> consumers() const;
  // The symbols used by the inputs, in order of first appearance.
  std::vector<std::string> symbols() const;
  // "node %5 (relu, layer 'dense_1', model.cpp:12)" for error messages.
  std::string describe(int id) const;
};

}  // namespace brine::ir
