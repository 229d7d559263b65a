#include "conv_baselines.h"

#include <dnnl.hpp>

#include <cstring>
#include <optional>

#include "onednn_steps.h"

namespace bench {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dnnl::memory;

// Activations stay NHWC (Keras's layout, which oneDNN 2.6 runs natively with
// its AVX-512 kernels); weights take oneDNN's preferred layout (`any`),
// reordered once from Keras's at setup; weight gradients are reordered back
// to Keras's layout inside the timed run.
class OneDnnConvNet : public OneDnnNet {
 public:
  OneDnnConvNet(const ConvNetSpec& s, bool training) : s_(s) {
    using namespace dnnl;
    const auto prop = training ? prop_kind::forward_training : prop_kind::forward_inference;
    const int64_t OH = s.H + 2 * s.pad - s.K + 1, OW = s.W + 2 * s.pad - s.K + 1;
    const memory::desc src_md({s.N, s.C, s.H, s.W}, dt::f32, tag::nhwc), dst_md({s.N, s.F, OH, OW}, dt::f32, tag::nhwc),
        w_any({s.F, s.C, s.K, s.K}, dt::f32, tag::any), b_md({s.F}, dt::f32, tag::x);
    primitive_attr attr;
    post_ops po;
    po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(po);
    convolution_forward::primitive_desc cpd(
        convolution_forward::desc(prop, algorithm::convolution_direct, src_md, w_any, b_md, dst_md, {1, 1},
                                  {s.pad, s.pad}, {s.pad, s.pad}),
        attr, eng_);
    input_ = memory(src_md, eng_, DNNL_MEMORY_NONE);
    memory w_user({{s.F, s.C, s.K, s.K}, dt::f32, tag::hwio}, eng_, const_cast<float*>(s.w));
    memory w(cpd.weights_desc(), eng_), b(b_md, eng_), y(cpd.dst_desc(), eng_);
    reorder(w_user, w).execute(stream_, w_user, w);
    std::memcpy(b.get_data_handle(), s.b, s.F * sizeof(float));
    fwd_.push_back({convolution_forward(cpd), {{DNNL_ARG_SRC, input_}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, y}}});
    bytes_ += w.get_desc().get_size() + b.get_desc().get_size() + y.get_desc().get_size();
    out_ = y;
    const int64_t flat = OH * OW * s.F;
    memory hy, hz, hw, hx;
    std::optional<inner_product_forward::primitive_desc> ipd;
    std::optional<softmax_forward::primitive_desc> spd;
    if (s.units) {
      // Flatten: the NHWC output seen as (N, OH*OW*F) rows.
      hx = memory({{s.N, flat}, dt::f32, tag::nc}, eng_, y.get_data_handle());
      const memory::desc hw_any({s.units, flat}, dt::f32, tag::any), hb_md({s.units}, dt::f32, tag::x),
          hz_md({s.N, s.units}, dt::f32, tag::nc);
      ipd.emplace(inner_product_forward::desc(prop, hx.get_desc(), hw_any, hb_md, hz_md), eng_);
      memory hw_user({{s.units, flat}, dt::f32, tag::io}, eng_, const_cast<float*>(s.hw));
      hw = memory(ipd->weights_desc(), eng_);
      memory hb(hb_md, eng_);
      reorder(hw_user, hw).execute(stream_, hw_user, hw);
      std::memcpy(hb.get_data_handle(), s.hb, s.units * sizeof(float));
      hz = memory(hz_md, eng_);
      fwd_.push_back({inner_product_forward(*ipd), {{DNNL_ARG_SRC, hx}, {DNNL_ARG_WEIGHTS, hw}, {DNNL_ARG_BIAS, hb}, {DNNL_ARG_DST, hz}}});
      spd.emplace(softmax_forward::desc(prop, hz_md, 1), eng_);
      hy = memory(hz_md, eng_);
      fwd_.push_back({softmax_forward(*spd), {{DNNL_ARG_SRC, hz}, {DNNL_ARG_DST, hy}}});
      bytes_ += hw.get_desc().get_size() + hb.get_desc().get_size() + 2 * hz.get_desc().get_size();
      out_ = hy;
    }
    stream_.wait();
    if (!training) return;

    // loss = sum(output): d loss / d output = 1.
    memory diff(out_.get_desc(), eng_);
    std::fill_n(static_cast<float*>(diff.get_data_handle()), out_.get_desc().get_size() / sizeof(float), 1.f);
    bytes_ += diff.get_desc().get_size();
    memory dy = diff;  // gradient of the conv's (post-relu) output
    if (s.units) {
      softmax_backward::primitive_desc sb(softmax_backward::desc(diff.get_desc(), hy.get_desc(), 1), eng_, *spd);
      memory dz(sb.diff_src_desc(), eng_);
      bwd_.push_back({softmax_backward(sb), {{DNNL_ARG_DST, hy}, {DNNL_ARG_DIFF_DST, diff}, {DNNL_ARG_DIFF_SRC, dz}}});
      const memory::desc hw_any({s.units, flat}, dt::f32, tag::any), hb_md({s.units}, dt::f32, tag::x);
      inner_product_backward_weights::primitive_desc wb(
          inner_product_backward_weights::desc(hx.get_desc(), hw_any, hb_md, dz.get_desc()), eng_, *ipd);
      memory dhw(wb.diff_weights_desc(), eng_), dhb(hb_md, eng_);
      bwd_.push_back({inner_product_backward_weights(wb),
                      {{DNNL_ARG_SRC, hx}, {DNNL_ARG_DIFF_DST, dz}, {DNNL_ARG_DIFF_WEIGHTS, dhw}, {DNNL_ARG_DIFF_BIAS, dhb}}});
      inner_product_backward_data::primitive_desc db(
          inner_product_backward_data::desc(hx.get_desc(), hw_any, dz.get_desc()), eng_, *ipd);
      memory hwb = hw;
      if (db.weights_desc() != hw.get_desc()) {
        hwb = memory(db.weights_desc(), eng_);
        reorder(hw, hwb).execute(stream_, hw, hwb);  // weights are fixed here: once
      }
      memory dhx(db.diff_src_desc(), eng_);
      bwd_.push_back({inner_product_backward_data(db), {{DNNL_ARG_DIFF_DST, dz}, {DNNL_ARG_WEIGHTS, hwb}, {DNNL_ARG_DIFF_SRC, dhx}}});
      dy = memory(y.get_desc(), eng_, dhx.get_data_handle());
      head_grad_ = memory({{s.units, flat}, dt::f32, tag::io}, eng_);
      bwd_.push_back({reorder(dhw, head_grad_), {{DNNL_ARG_FROM, dhw}, {DNNL_ARG_TO, head_grad_}}});
      bytes_ += dz.get_desc().get_size() + 2 * dhw.get_desc().get_size() + dhb.get_desc().get_size() +
                dhx.get_desc().get_size();
    }
    // relu backward from the output, then the weights' backward.
    eltwise_forward::primitive_desc relu_hint(
        eltwise_forward::desc(prop_kind::forward_training, algorithm::eltwise_relu_use_dst_for_bwd, y.get_desc(), 0.f), eng_);
    eltwise_backward::primitive_desc rb(
        eltwise_backward::desc(algorithm::eltwise_relu_use_dst_for_bwd, dy.get_desc(), y.get_desc(), 0.f), eng_, relu_hint);
    memory dpre(rb.diff_src_desc(), eng_);
    bwd_.push_back({eltwise_backward(rb), {{DNNL_ARG_DST, y}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, dpre}}});
    convolution_backward_weights::primitive_desc cw(
        convolution_backward_weights::desc(algorithm::convolution_direct, src_md, w_any, b_md, dst_md, {1, 1},
                                           {s.pad, s.pad}, {s.pad, s.pad}),
        eng_, cpd);
    memory dw(cw.diff_weights_desc(), eng_), dbias(b_md, eng_);
    bwd_.push_back({convolution_backward_weights(cw),
                    {{DNNL_ARG_SRC, input_}, {DNNL_ARG_DIFF_DST, dpre}, {DNNL_ARG_DIFF_WEIGHTS, dw}, {DNNL_ARG_DIFF_BIAS, dbias}}});
    conv_grad_ = memory({{s.F, s.C, s.K, s.K}, dt::f32, tag::hwio}, eng_);
    bwd_.push_back({reorder(dw, conv_grad_), {{DNNL_ARG_FROM, dw}, {DNNL_ARG_TO, conv_grad_}}});
    bytes_ += dpre.get_desc().get_size() + 2 * dw.get_desc().get_size() + dbias.get_desc().get_size();
    training_ = true;
    stream_.wait();
  }

  void run(const float* x) override {
    input_.set_data_handle(const_cast<float*>(x));
    execute(fwd_, stream_);
    execute(bwd_, stream_);
    stream_.wait();
  }

  std::vector<float> output() override {
    if (!training_) return floats(out_);
    std::vector<float> all = floats(conv_grad_);
    if (s_.units) {
      const auto h = floats(head_grad_);
      all.insert(all.end(), h.begin(), h.end());
    }
    return all;
  }

 private:
  ConvNetSpec s_;
  memory input_, out_, conv_grad_, head_grad_;
  std::vector<OneDnnStep> fwd_, bwd_;
  bool training_ = false;
};

}  // namespace

std::unique_ptr<Net> make_onednn_convnet(const ConvNetSpec& spec, bool training) {
  return std::make_unique<OneDnnConvNet>(spec, training);
}

}  // namespace bench
