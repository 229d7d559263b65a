// The one list of brine's IR ops. Everything per-op (the enum, printer and
// parser names, arity checks, fusion kind, dispatch to the op family's rules
// and lowering, the test sweep) is generated from this list.
//
//   X(Enum, "text name", fusion kind, arity (-1: variadic), family)
//
// Adding an op: one line here, plus its cases in the family's file pair in
// ops/ (a family's switch has no default, so -Werror=switch flags a missing
// case at compile time).
#pragma once

#define BRINE_FOR_EACH_OP(X)                                   \
  X(Input, "input", Leaf, 0, Leaf)                             \
  X(Param, "param", Leaf, 0, Leaf)                             \
  X(Constant, "constant", Leaf, 0, Leaf)                       \
  X(Neg, "neg", Elementwise, 1, Unary)                         \
  X(Exp, "exp", Elementwise, 1, Unary)                         \
  X(Log, "log", Elementwise, 1, Unary)                         \
  X(Tanh, "tanh", Elementwise, 1, Unary)                       \
  X(Sigmoid, "sigmoid", Elementwise, 1, Unary)                 \
  X(Relu, "relu", Elementwise, 1, Unary)                       \
  X(Sqrt, "sqrt", Elementwise, 1, Unary)                       \
  X(Step, "step", Elementwise, 1, Unary)                       \
  X(Abs, "abs", Elementwise, 1, Unary)                         \
  X(Add, "add", Broadcast, 2, Binary)                          \
  X(Sub, "sub", Broadcast, 2, Binary)                          \
  X(Mul, "mul", Broadcast, 2, Binary)                          \
  X(Div, "div", Broadcast, 2, Binary)                          \
  X(Equal, "equal", Broadcast, 2, Binary)                      \
  X(Minimum, "minimum", Broadcast, 2, Binary)                  \
  X(Maximum, "maximum", Broadcast, 2, Binary)                  \
  X(BroadcastLike, "broadcast_like", Broadcast, 2, Binary)     \
  X(MatMul, "matmul", OutElementwiseFusable, 2, MatMul)        \
  X(ReduceSum, "reduce_sum", Reduction, 1, Reduce)             \
  X(ReduceMean, "reduce_mean", Reduction, 1, Reduce)           \
  X(ReduceMax, "reduce_max", Reduction, 1, Reduce)             \
  X(Softmax, "softmax", Opaque, 1, Softmax)                    \
  X(Reshape, "reshape", View, 1, Layout)                       \
  X(Transpose, "transpose", Injective, 1, Layout)              \
  X(Concat, "concat", Injective, -1, Layout)                   \
  X(Slice, "slice", Injective, 1, Layout)                      \
  X(OneHot, "one_hot", Injective, 1, Layout)                   \
  X(Conv2D, "conv2d", OutElementwiseFusable, 2, Conv)          \
  X(Conv2DGradInput, "conv2d_grad_input", OutElementwiseFusable, 2, Conv) \
  X(Conv2DGradFilter, "conv2d_grad_filter", OutElementwiseFusable, 2, Conv) \
  X(MaxPool2D, "max_pool2d", Opaque, 1, Pool)                  \
  X(MaxPool2DGrad, "max_pool2d_grad", Opaque, 2, Pool)         \
  X(MaxPool2DGather, "max_pool2d_gather", Opaque, 2, Pool)     \
  X(AvgPool2D, "avg_pool2d", Opaque, 1, Pool)                  \
  X(AvgPool2DGrad, "avg_pool2d_grad", Opaque, 1, Pool)         \
  X(Pad2D, "pad2d", Injective, 1, Pool)                        \
  X(Unslice, "unslice", Injective, 2, Layout)                  \
  X(Reverse, "reverse", Injective, 1, Layout)                  \
  X(PackPanels, "pack_panels", Injective, 1, Layout)           \
  X(Lstm, "lstm", Scan, -1, Recurrent)                         \
  X(LstmGrad, "lstm_grad", Scan, -1, Recurrent)                \
  X(SimpleRnn, "simple_rnn", Scan, -1, Recurrent)              \
  X(SimpleRnnGrad, "simple_rnn_grad", Scan, -1, Recurrent)     \
  X(Gru, "gru", Scan, -1, Recurrent)                           \
  X(GruGrad, "gru_grad", Scan, -1, Recurrent)                  \
  X(RecurrentKernelGrad, "recurrent_kernel_grad", OutElementwiseFusable, -1, Recurrent)

// The families, each with a file pair ops/<family>.{h,cpp}.
#define BRINE_FOR_EACH_FAMILY(X) X(Leaf) X(Unary) X(Binary) X(MatMul) X(Reduce) X(Softmax) X(Layout) X(Conv) X(Pool) X(Recurrent)
