#include "baselines.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <dnnl.hpp>
#include <optional>
#include <stdexcept>

#include "onednn_steps.h"

namespace bench {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// oneDNN picks its layouts (format_tag::any); reorders it asks for on the
// activations run inside the timed call, weights are reordered once.
class OneDnnChain : public DenseChain {
 public:
  explicit OneDnnChain(const std::vector<DenseLayer>& layers) : eng_(dnnl::engine::kind::cpu, 0), stream_(eng_) {
    const DenseLayer& first = layers.front();
    input_ = memory({{first.M, first.K}, dt::f32, tag::nc}, eng_, DNNL_MEMORY_NONE);
    memory cur = input_;
    for (const DenseLayer& l : layers) {
      const bool softmax = l.activation == "softmax";
      memory::desc src_any({l.M, l.K}, dt::f32, tag::any), w_any({l.N, l.K}, dt::f32, tag::any),
          b_md({l.N}, dt::f32, tag::x), dst_any({l.M, l.N}, dt::f32, tag::any);
      dnnl::primitive_attr attr;
      if (l.activation == "relu") {
        dnnl::post_ops po;
        po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
        attr.set_post_ops(po);
      }
      dnnl::inner_product_forward::primitive_desc pd(
          dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_inference, src_any, w_any, b_md, dst_any), attr,
          eng_);
      // The previous output, seen as this layer's (M, K) input (Flatten).
      memory src = &l == &layers.front() ? input_
                                         : memory(memory::desc({l.M, l.K}, dt::f32, tag::nc), eng_, cur.get_data_handle());
      if (pd.src_desc() != src.get_desc()) {
        memory r(pd.src_desc(), eng_);
        steps_.push_back({dnnl::reorder(src, r), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, r}}});
        bytes_ += r.get_desc().get_size();
        src = r;
      }
      memory w_user({{l.N, l.K}, dt::f32, tag::io}, eng_, const_cast<float*>(l.W));
      memory w(pd.weights_desc(), eng_), b(b_md, eng_), dst(pd.dst_desc(), eng_);
      dnnl::reorder(w_user, w).execute(stream_, w_user, w);
      std::memcpy(b.get_data_handle(), l.b, l.N * sizeof(float));
      memory scratch(pd.scratchpad_desc(), eng_);
      bytes_ += w.get_desc().get_size() + b.get_desc().get_size() + dst.get_desc().get_size() +
                pd.scratchpad_desc().get_size();
      steps_.push_back({dnnl::inner_product_forward(pd),
                        {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, dst},
                         {DNNL_ARG_SCRATCHPAD, scratch}}});
      cur = dst;
      if (softmax) {
        dnnl::softmax_forward::primitive_desc spd(
            dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, dst.get_desc(), 1), eng_);
        memory out(spd.dst_desc(), eng_);
        bytes_ += out.get_desc().get_size();
        steps_.push_back({dnnl::softmax_forward(spd), {{DNNL_ARG_SRC, dst}, {DNNL_ARG_DST, out}}});
        cur = out;
      }
      if (cur.get_desc() != memory::desc({l.M, l.N}, dt::f32, tag::nc))
        throw std::runtime_error("oneDNN chose a blocked output layout; add a reorder for it");
    }
    out_ = cur;
    stream_.wait();
  }
  void run(const float* x) override {
    input_.set_data_handle(const_cast<float*>(x));
    execute(steps_, stream_);
    stream_.wait();
  }
  const float* output() const override { return static_cast<const float*>(out_.get_data_handle()); }
  size_t bytes() const override { return bytes_; }

 private:
  dnnl::engine eng_;
  dnnl::stream stream_;
  memory input_, out_;
  std::vector<OneDnnStep> steps_;
  size_t bytes_ = 0;
};

class OpenBlasChain : public DenseChain {
 public:
  explicit OpenBlasChain(const std::vector<DenseLayer>& layers) : layers_(layers) {
    weights_.reserve(2 * layers_.size());
    for (DenseLayer& l : layers_) {  // own the weights: the caller's may go away
      weights_.emplace_back(l.W, l.W + l.K * l.N);
      weights_.emplace_back(l.b, l.b + l.N);
      l.W = weights_[weights_.size() - 2].data();
      l.b = weights_.back().data();
    }
    for (const DenseLayer& l : layers) {
      acts_.emplace_back(l.M * l.N);
      bytes_ += (l.K * l.N + l.N + l.M * l.N) * sizeof(float);
    }
  }
  void run(const float* x) override {
    const float* in = x;
    for (size_t i = 0; i < layers_.size(); ++i) {
      const DenseLayer& l = layers_[i];
      float* y = acts_[i].data();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l.M, l.N, l.K, 1.f, in, l.K, l.W, l.N, 0.f, y, l.N);
      for (int64_t m = 0; m < l.M; ++m) {
        float* row = y + m * l.N;
        for (int64_t n = 0; n < l.N; ++n) row[n] += l.b[n];
        if (l.activation == "relu")
          for (int64_t n = 0; n < l.N; ++n) row[n] = std::max(row[n], 0.f);
        if (l.activation == "softmax") {
          const float mx = *std::max_element(row, row + l.N);
          float s = 0;
          for (int64_t n = 0; n < l.N; ++n) s += row[n] = std::exp(row[n] - mx);
          for (int64_t n = 0; n < l.N; ++n) row[n] /= s;
        }
      }
      in = y;
    }
  }
  const float* output() const override { return acts_.back().data(); }
  size_t bytes() const override { return bytes_; }

 private:
  std::vector<DenseLayer> layers_;
  std::vector<std::vector<float>> acts_, weights_;
  size_t bytes_ = 0;
};

// oneDNN's training path: forward_training primitives that keep what the
// backward needs, then backward data / weights primitives in reverse. Layouts
// are oneDNN's choice (format_tag::any); reorders it asks for are timed.
class OneDnnTraining : public DenseChainTraining {
 public:
  OneDnnTraining(const std::vector<DenseLayer>& layers, const float* target, float lr)
      : eng_(dnnl::engine::kind::cpu, 0), stream_(eng_), layers_(layers), target_(target), lr_(lr) {
    using namespace dnnl;
    const DenseLayer& first = layers.front();
    input_ = memory({{first.M, first.K}, dt::f32, tag::nc}, eng_, DNNL_MEMORY_NONE);
    memory cur = input_;
    struct Saved {
      inner_product_forward::primitive_desc fwd;
      memory src, w, b, z, out;  // z: pre-activation, out: post-activation
      std::optional<eltwise_forward::primitive_desc> relu;
      std::optional<softmax_forward::primitive_desc> softmax;
    };
    std::vector<Saved> saved;
    for (const DenseLayer& l : layers) {
      // Activations in plain rows (Flatten reinterprets them between layers;
      // oneDNN picks blocked ones for narrow layers otherwise); weights in
      // oneDNN's choice of layout.
      memory::desc src_any({l.M, l.K}, dt::f32, tag::nc), w_any({l.N, l.K}, dt::f32, tag::any),
          b_md({l.N}, dt::f32, tag::x), z_any({l.M, l.N}, dt::f32, tag::nc);
      inner_product_forward::primitive_desc pd(
          inner_product_forward::desc(prop_kind::forward_training, src_any, w_any, b_md, z_any), eng_);
      memory src = &l == &layers.front() ? input_ : memory(memory::desc({l.M, l.K}, dt::f32, tag::nc), eng_, cur.get_data_handle());
      if (pd.src_desc() != src.get_desc()) throw std::runtime_error("oneDNN asked for a blocked activation layout");
      memory w_user({{l.N, l.K}, dt::f32, tag::io}, eng_, const_cast<float*>(l.W));
      memory w(pd.weights_desc(), eng_), b(b_md, eng_), z(pd.dst_desc(), eng_);
      reorder(w_user, w).execute(stream_, w_user, w);
      std::memcpy(b.get_data_handle(), l.b, l.N * sizeof(float));
      fwd_.push_back({inner_product_forward(pd), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, z}}});
      bytes_ += w.get_desc().get_size() + b.get_desc().get_size() + z.get_desc().get_size();
      Saved sv{pd, src, w, b, z, z, {}, {}};
      if (l.activation == "relu") {
        eltwise_forward::primitive_desc epd(
            eltwise_forward::desc(prop_kind::forward_training, algorithm::eltwise_relu, z.get_desc(), 0.f), eng_);
        memory a(epd.dst_desc(), eng_);
        fwd_.push_back({eltwise_forward(epd), {{DNNL_ARG_SRC, z}, {DNNL_ARG_DST, a}}});
        sv.relu = epd;
        sv.out = a;
        bytes_ += a.get_desc().get_size();
      } else if (l.activation == "softmax") {
        softmax_forward::primitive_desc spd(softmax_forward::desc(prop_kind::forward_training, z.get_desc(), 1), eng_);
        memory a(spd.dst_desc(), eng_);
        fwd_.push_back({softmax_forward(spd), {{DNNL_ARG_SRC, z}, {DNNL_ARG_DST, a}}});
        sv.softmax = spd;
        sv.out = a;
        bytes_ += a.get_desc().get_size();
      }
      cur = sv.out;
      saved.push_back(sv);
    }
    out_ = cur;
    // loss = sum(output): d loss / d output = 1.
    const DenseLayer& last = layers.back();
    memory diff(memory::desc({last.M, last.N}, dt::f32, tag::nc), eng_);
    std::fill_n(static_cast<float*>(diff.get_data_handle()), last.M * last.N, 1.f);
    loss_grad_ = diff;
    bytes_ += diff.get_desc().get_size();
    for (int li = static_cast<int>(layers.size()) - 1; li >= 0; --li) {
      const DenseLayer& l = layers[li];
      Saved& sv = saved[li];
      memory dz = diff;
      if (sv.relu) {
        eltwise_backward::primitive_desc bpd(
            eltwise_backward::desc(algorithm::eltwise_relu, diff.get_desc(), sv.z.get_desc(), 0.f), eng_, *sv.relu);
        dz = memory(bpd.diff_src_desc(), eng_);
        bwd_.push_back({eltwise_backward(bpd), {{DNNL_ARG_SRC, sv.z}, {DNNL_ARG_DIFF_DST, diff}, {DNNL_ARG_DIFF_SRC, dz}}});
        bytes_ += dz.get_desc().get_size();
      } else if (sv.softmax) {
        softmax_backward::primitive_desc bpd(softmax_backward::desc(diff.get_desc(), sv.out.get_desc(), 1), eng_,
                                             *sv.softmax);
        dz = memory(bpd.diff_src_desc(), eng_);
        bwd_.push_back({softmax_backward(bpd), {{DNNL_ARG_DST, sv.out}, {DNNL_ARG_DIFF_DST, diff}, {DNNL_ARG_DIFF_SRC, dz}}});
        bytes_ += dz.get_desc().get_size();
      }
      memory::desc src_any({l.M, l.K}, dt::f32, tag::nc), w_any({l.N, l.K}, dt::f32, tag::any),
          b_md({l.N}, dt::f32, tag::x), z_any({l.M, l.N}, dt::f32, tag::nc);
      inner_product_backward_weights::primitive_desc wpd(
          inner_product_backward_weights::desc(src_any, w_any, b_md, z_any), eng_, sv.fwd);
      memory dw(wpd.diff_weights_desc(), eng_), db(b_md, eng_);
      if (wpd.diff_dst_desc() != dz.get_desc() || sv.out.get_desc() != z_any)
        throw std::runtime_error("oneDNN chose a blocked activation layout in the training chain");
      if (wpd.src_desc() != sv.src.get_desc()) throw std::runtime_error("oneDNN wants another src layout for backward");
      bwd_.push_back({inner_product_backward_weights(wpd),
                      {{DNNL_ARG_SRC, sv.src}, {DNNL_ARG_DIFF_DST, dz}, {DNNL_ARG_DIFF_WEIGHTS, dw}, {DNNL_ARG_DIFF_BIAS, db}}});
      bytes_ += dw.get_desc().get_size() + db.get_desc().get_size();
      dw_.insert(dw_.begin(), dw);
      if (dw.get_desc() != sv.w.get_desc()) throw std::runtime_error("oneDNN's weight gradient layout differs from the weights'");
      // Same (possibly blocked and padded) layout: update the whole buffers.
      updates_.push_back({sv.w, dw, static_cast<int64_t>(dw.get_desc().get_size() / sizeof(float))});
      updates_.push_back({sv.b, db, l.N});
      if (li > 0) {  // the first layer's input needs no gradient
        inner_product_backward_data::primitive_desc dpd(inner_product_backward_data::desc(src_any, w_any, z_any), eng_,
                                                        sv.fwd);
        memory dsrc(dpd.diff_src_desc(), eng_);
        memory wb = sv.w;
        if (dpd.weights_desc() != sv.w.get_desc()) {  // the backward wants another weights layout
          wb = memory(dpd.weights_desc(), eng_);
          bwd_.push_back({reorder(sv.w, wb), {{DNNL_ARG_FROM, sv.w}, {DNNL_ARG_TO, wb}}});
          bytes_ += wb.get_desc().get_size();
        }
        bwd_.push_back({inner_product_backward_data(dpd), {{DNNL_ARG_DIFF_DST, dz}, {DNNL_ARG_WEIGHTS, wb}, {DNNL_ARG_DIFF_SRC, dsrc}}});
        bytes_ += dsrc.get_desc().get_size();
        // As the previous layer's (M', N') output gradient (Flatten).
        diff = memory(memory::desc({layers[li - 1].M, layers[li - 1].N}, dt::f32, tag::nc), eng_, dsrc.get_data_handle());
      }
    }
    stream_.wait();
  }
  void run(const float* x) override {
    input_.set_data_handle(const_cast<float*>(x));
    execute(fwd_, stream_);
    if (target_) {  // d mse / d y = 2 (y - t) / (M N)
      stream_.wait();
      const size_t n = layers_.back().M * layers_.back().N;
      const float* y = static_cast<const float*>(out_.get_data_handle());
      float* d = static_cast<float*>(loss_grad_.get_data_handle());
      for (size_t i = 0; i < n; ++i) d[i] = 2.f * (y[i] - target_[i]) / static_cast<float>(n);
    }
    execute(bwd_, stream_);
    stream_.wait();
    if (target_)
      for (auto& u : updates_) {
        float* w = static_cast<float*>(u.w.get_data_handle());
        const float* g = static_cast<const float*>(u.g.get_data_handle());
        for (int64_t i = 0; i < u.n; ++i) w[i] -= lr_ * g[i];
      }
  }
  std::vector<float> kernel_grad(size_t l) override { return to_user(dw_[l], l); }
  std::vector<float> kernel(size_t l) override { return to_user(updates_[2 * (layers_.size() - 1 - l)].w, l); }
  size_t bytes() const override { return bytes_; }

 private:
  std::vector<float> to_user(dnnl::memory m, size_t l) {
    const DenseLayer& d = layers_[l];
    dnnl::memory user({{d.N, d.K}, dt::f32, tag::io}, eng_);
    dnnl::reorder(m, user).execute(stream_, m, user);
    stream_.wait();
    const float* p = static_cast<const float*>(user.get_data_handle());
    return {p, p + d.K * d.N};
  }

  dnnl::engine eng_;
  dnnl::stream stream_;
  dnnl::memory out_, loss_grad_;
  std::vector<DenseLayer> layers_;
  const float* target_;
  float lr_;
  struct Update {
    dnnl::memory w, g;
    int64_t n;
  };
  std::vector<Update> updates_;
  dnnl::memory input_;
  std::vector<OneDnnStep> fwd_, bwd_;
  std::vector<dnnl::memory> dw_;
  size_t bytes_ = 0;
};

}  // namespace

std::unique_ptr<DenseChain> make_onednn_chain(const std::vector<DenseLayer>& layers) {
  return std::make_unique<OneDnnChain>(layers);
}
std::unique_ptr<DenseChain> make_openblas_chain(const std::vector<DenseLayer>& layers) {
  return std::make_unique<OpenBlasChain>(layers);
}
std::unique_ptr<DenseChainTraining> make_onednn_training(const std::vector<DenseLayer>& layers, const float* target,
                                                         float lr) {
  return std::make_unique<OneDnnTraining>(layers, target, lr);
}

}  // namespace bench
