// One kernel group -> one Halide pipeline: the op families' algorithms,
// composed, then one schedule policy.
#pragma once

#include <Halide.h>

#include <string>
#include <vector>

#include "codegen/fusion.h"
#include "ir/graph.h"

namespace brine::codegen {

// naive: every stage computed at root, scalar, serial (the baseline).
// tuned: the anchor family's hand schedule (ops/<family>.cpp).
// mullapudi2016 / adams2019 / li2018: Halide's autoschedulers (plugins).
enum class Policy { Naive, Tuned, Mullapudi2016, Adams2019, Li2018 };
Policy policy_from_name(const std::string& s);  // throws brine::Error listing the choices
const char* policy_name(Policy p);

struct KernelSource {
  std::string name;
  Halide::Pipeline pipeline;
  std::vector<Halide::ImageParam> inputs;  // in the order of KernelGroup::inputs
  std::vector<Halide::Argument> arguments() const;
};

KernelSource build_kernel(const ir::Graph& g, const KernelGroup& k, const std::string& name, DType dtype,
                          Policy policy, const Halide::Target& target);

// A stable text key for a kernel: its nodes, attributes and types, with
// inputs renumbered, so that identical layers share one compiled kernel.
std::string kernel_key(const ir::Graph& g, const KernelGroup& k, DType dtype, Policy policy,
                       const Halide::Target& target);

}  // namespace brine::codegen
