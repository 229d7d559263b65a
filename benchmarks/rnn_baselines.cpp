#include "rnn_baselines.h"

#include <dnnl.hpp>

#include <cstring>

#include "onednn_steps.h"

namespace bench {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dnnl::memory;

// oneDNN's LSTM uses Keras's gate order (i, f, c, o), so Keras's kernels are
// its ldigo weights and ldgo bias as they are; it picks its own weight
// layouts (`any`), reordered once at setup. Gradients of the weights come
// back to Keras's layout inside the timed run, and since oneDNN accumulates
// into them they are zeroed there too.
class OneDnnLstmNet : public OneDnnNet {
 public:
  OneDnnLstmNet(const LstmNetSpec& s, bool training) : s_(s) {
    using namespace dnnl;
    const auto prop = training ? prop_kind::forward_training : prop_kind::forward_inference;
    const auto dir = rnn_direction::unidirectional_left2right;
    const memory::desc src_md({s.T, s.N, s.C}, dt::f32, tag::ntc), dst_md({s.T, s.N, s.U}, dt::f32, tag::ntc),
        iter_md({1, 1, s.N, s.U}, dt::f32, tag::ldnc), wl_any({1, 1, s.C, 4, s.U}, dt::f32, tag::any),
        wi_any({1, 1, s.U, 4, s.U}, dt::f32, tag::any), b_md({1, 1, 4, s.U}, dt::f32, tag::ldgo), none;
    lstm_forward::primitive_desc fpd(
        lstm_forward::desc(prop, dir, src_md, none, none, wl_any, wi_any, b_md, dst_md, iter_md, iter_md), eng_);
    input_ = memory(src_md, eng_, DNNL_MEMORY_NONE);
    memory wl_user({{1, 1, s.C, 4, s.U}, dt::f32, tag::ldigo}, eng_, const_cast<float*>(s.w));
    memory wi_user({{1, 1, s.U, 4, s.U}, dt::f32, tag::ldigo}, eng_, const_cast<float*>(s.r));
    memory wl(fpd.weights_layer_desc(), eng_), wi(fpd.weights_iter_desc(), eng_), b(b_md, eng_);
    reorder(wl_user, wl).execute(stream_, wl_user, wl);
    reorder(wi_user, wi).execute(stream_, wi_user, wi);
    std::memcpy(b.get_data_handle(), s.b, 4 * s.U * sizeof(float));
    memory y(dst_md, eng_), h_last(iter_md, eng_), c_last(iter_md, eng_);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC_LAYER, input_}, {DNNL_ARG_WEIGHTS_LAYER, wl},
                                         {DNNL_ARG_WEIGHTS_ITER, wi}, {DNNL_ARG_BIAS, b},
                                         {DNNL_ARG_DST_LAYER, y}, {DNNL_ARG_DST_ITER, h_last},
                                         {DNNL_ARG_DST_ITER_C, c_last}};
    memory ws;
    if (training) {
      ws = memory(fpd.workspace_desc(), eng_);
      args[DNNL_ARG_WORKSPACE] = ws;
      bytes_ += ws.get_desc().get_size();
    }
    fwd_.push_back({lstm_forward(fpd), args});
    bytes_ += wl.get_desc().get_size() + wi.get_desc().get_size() + b.get_desc().get_size() +
              y.get_desc().get_size() + 2 * h_last.get_desc().get_size();

    // The head: every step's h as (N*T, U) rows, or the last h (N, U).
    const int64_t rows = s.return_sequences ? s.N * s.T : s.N;
    const memory hx({{rows, s.U}, dt::f32, tag::nc}, eng_, (s.return_sequences ? y : h_last).get_data_handle());
    const memory::desc hw_any({s.units, s.U}, dt::f32, tag::any), hb_md({s.units}, dt::f32, tag::x),
        hz_md({rows, s.units}, dt::f32, tag::nc);
    inner_product_forward::primitive_desc ipd(inner_product_forward::desc(prop, hx.get_desc(), hw_any, hb_md, hz_md), eng_);
    memory hw_user({{s.units, s.U}, dt::f32, tag::io}, eng_, const_cast<float*>(s.hw));
    memory hw(ipd.weights_desc(), eng_), hb(hb_md, eng_), hz(hz_md, eng_);
    reorder(hw_user, hw).execute(stream_, hw_user, hw);
    std::memcpy(hb.get_data_handle(), s.hb, s.units * sizeof(float));
    fwd_.push_back({inner_product_forward(ipd), {{DNNL_ARG_SRC, hx}, {DNNL_ARG_WEIGHTS, hw}, {DNNL_ARG_BIAS, hb}, {DNNL_ARG_DST, hz}}});
    bytes_ += hw.get_desc().get_size() + hb.get_desc().get_size() + hz.get_desc().get_size();
    out_ = hz;
    stream_.wait();
    if (!training) return;

    // loss = sum(output): d loss / d output = 1.
    memory ones(hz_md, eng_);
    std::fill_n(static_cast<float*>(ones.get_data_handle()), rows * s.units, 1.f);
    inner_product_backward_weights::primitive_desc wb(
        inner_product_backward_weights::desc(hx.get_desc(), hw_any, hb_md, hz_md), eng_, ipd);
    memory dhw(wb.diff_weights_desc(), eng_), dhb(hb_md, eng_);
    bwd_.push_back({inner_product_backward_weights(wb),
                    {{DNNL_ARG_SRC, hx}, {DNNL_ARG_DIFF_DST, ones}, {DNNL_ARG_DIFF_WEIGHTS, dhw}, {DNNL_ARG_DIFF_BIAS, dhb}}});
    inner_product_backward_data::primitive_desc db(inner_product_backward_data::desc(hx.get_desc(), hw_any, hz_md), eng_, ipd);
    memory hwb = hw;
    if (db.weights_desc() != hw.get_desc()) {
      hwb = memory(db.weights_desc(), eng_);
      reorder(hw, hwb).execute(stream_, hw, hwb);
    }
    // dL/dh: into every step (return_sequences) or into the last state.
    memory d_layer(dst_md, eng_), d_iter(iter_md, eng_), d_iter_c(iter_md, eng_);
    std::memset(d_layer.get_data_handle(), 0, d_layer.get_desc().get_size());
    std::memset(d_iter.get_data_handle(), 0, d_iter.get_desc().get_size());
    std::memset(d_iter_c.get_data_handle(), 0, d_iter_c.get_desc().get_size());
    const memory dhx({{rows, s.U}, dt::f32, tag::nc}, eng_, (s.return_sequences ? d_layer : d_iter).get_data_handle());
    bwd_.push_back({inner_product_backward_data(db), {{DNNL_ARG_DIFF_DST, ones}, {DNNL_ARG_WEIGHTS, hwb}, {DNNL_ARG_DIFF_SRC, dhx}}});

    const memory::desc dwl_any({1, 1, s.C, 4, s.U}, dt::f32, tag::any), dwi_any({1, 1, s.U, 4, s.U}, dt::f32, tag::any);
    lstm_backward::primitive_desc bpd(
        lstm_backward::desc(prop_kind::backward, dir, src_md, none, none, wl_any, wi_any, b_md, dst_md, iter_md, iter_md,
                            src_md, none, none, dwl_any, dwi_any, b_md, dst_md, iter_md, iter_md),
        eng_, fpd);
    memory wlb = wl, wib = wi;
    if (bpd.weights_layer_desc() != wl.get_desc()) {
      wlb = memory(bpd.weights_layer_desc(), eng_);
      reorder(wl, wlb).execute(stream_, wl, wlb);
    }
    if (bpd.weights_iter_desc() != wi.get_desc()) {
      wib = memory(bpd.weights_iter_desc(), eng_);
      reorder(wi, wib).execute(stream_, wi, wib);
    }
    dwl_ = memory(bpd.diff_weights_layer_desc(), eng_);
    dwi_ = memory(bpd.diff_weights_iter_desc(), eng_);
    db_ = memory(b_md, eng_);
    memory dx(src_md, eng_);
    bwd_.push_back({lstm_backward(bpd),
                    {{DNNL_ARG_SRC_LAYER, input_}, {DNNL_ARG_WEIGHTS_LAYER, wlb}, {DNNL_ARG_WEIGHTS_ITER, wib},
                     {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST_LAYER, y}, {DNNL_ARG_DST_ITER, h_last},
                     {DNNL_ARG_DST_ITER_C, c_last}, {DNNL_ARG_DIFF_SRC_LAYER, dx},
                     {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl_}, {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi_},
                     {DNNL_ARG_DIFF_BIAS, db_}, {DNNL_ARG_DIFF_DST_LAYER, d_layer},
                     {DNNL_ARG_DIFF_DST_ITER, d_iter}, {DNNL_ARG_DIFF_DST_ITER_C, d_iter_c},
                     {DNNL_ARG_WORKSPACE, ws}}});
    lstm_grad_ = memory({{1, 1, s.C, 4, s.U}, dt::f32, tag::ldigo}, eng_);
    rec_grad_ = memory({{1, 1, s.U, 4, s.U}, dt::f32, tag::ldigo}, eng_);
    head_grad_ = memory({{s.units, s.U}, dt::f32, tag::io}, eng_);
    post_.push_back({reorder(dwl_, lstm_grad_), {{DNNL_ARG_FROM, dwl_}, {DNNL_ARG_TO, lstm_grad_}}});
    post_.push_back({reorder(dwi_, rec_grad_), {{DNNL_ARG_FROM, dwi_}, {DNNL_ARG_TO, rec_grad_}}});
    post_.push_back({reorder(dhw, head_grad_), {{DNNL_ARG_FROM, dhw}, {DNNL_ARG_TO, head_grad_}}});
    bytes_ += ones.get_desc().get_size() + 2 * dhw.get_desc().get_size() + dhb.get_desc().get_size() +
              3 * d_layer.get_desc().get_size() + 2 * dwl_.get_desc().get_size() + 2 * dwi_.get_desc().get_size() +
              db_.get_desc().get_size() + dx.get_desc().get_size();
    training_ = true;
    stream_.wait();
  }

  void run(const float* x) override {
    input_.set_data_handle(const_cast<float*>(x));
    execute(fwd_, stream_);
    if (training_) {
      for (memory* m : {&dwl_, &dwi_, &db_}) std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
      execute(bwd_, stream_);
      execute(post_, stream_);
    }
    stream_.wait();
  }

  std::vector<float> output() override {
    if (!training_) return floats(out_);
    std::vector<float> all = floats(lstm_grad_);
    const auto h = floats(head_grad_);
    all.insert(all.end(), h.begin(), h.end());
    return all;
  }

 private:
  LstmNetSpec s_;
  memory input_, out_, dwl_, dwi_, db_, lstm_grad_, rec_grad_, head_grad_;
  std::vector<OneDnnStep> fwd_, bwd_, post_;
  bool training_ = false;
};

}  // namespace

std::unique_ptr<Net> make_onednn_lstmnet(const LstmNetSpec& spec, bool training) {
  return std::make_unique<OneDnnLstmNet>(spec, training);
}

}  // namespace bench
