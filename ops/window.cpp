#include "ops/window.h"

#include <fmt/format.h>

namespace brine::ops {

namespace {
std::pair<int64_t, int64_t> pair_attr(const std::vector<int64_t>& v, int64_t def, const std::string& op,
                                      const char* what) {
  if (v.empty()) return {def, def};
  if (v.size() != 2) throw ShapeError(fmt::format("{}: {} must have 2 values (height, width), got {}", op, what, v.size()));
  return {v[0], v[1]};
}
}  // namespace

Window2D window_of(const ir::Attrs& a, int64_t kh, int64_t kw, const std::string& op) {
  Window2D w;
  w.kh = kh;
  w.kw = kw;
  std::tie(w.sh, w.sw) = pair_attr(a.strides, 1, op, "strides");
  std::tie(w.dh, w.dw) = pair_attr(a.dilation, 1, op, "dilation");
  if (w.sh < 1 || w.sw < 1) throw ShapeError(fmt::format("{}: strides ({}, {}) must be at least 1", op, w.sh, w.sw));
  if (w.dh < 1 || w.dw < 1)
    throw ShapeError(fmt::format("{}: dilation ({}, {}) must be at least 1", op, w.dh, w.dw));
  if (kh < 1 || kw < 1) throw ShapeError(fmt::format("{}: window {}x{} must be at least 1x1", op, kh, kw));
  if (!a.pads.empty()) {
    if (a.pads.size() != 4)
      throw ShapeError(fmt::format("{}: pads must have 4 values (top, bottom, left, right), got {}", op, a.pads.size()));
    w.pt = a.pads[0], w.pb = a.pads[1], w.pl = a.pads[2], w.pr = a.pads[3];
    for (int64_t p : a.pads)
      if (p < 0) throw ShapeError(fmt::format("{}: pads [{}] must not be negative", op, fmt::join(a.pads, ", ")));
  }
  return w;
}

std::pair<int64_t, int64_t> window_output(const Window2D& w, int64_t h, int64_t wd, const std::string& op) {
  const int64_t eh = (w.kh - 1) * w.dh + 1, ew = (w.kw - 1) * w.dw + 1;
  if (eh > h + w.pt + w.pb || ew > wd + w.pl + w.pr)
    throw ShapeError(fmt::format("{}: window {}x{}{} is larger than the padded input {}x{} ({}x{} plus padding {})",
                                 op, w.kh, w.kw,
                                 w.dh > 1 || w.dw > 1 ? fmt::format(" (spanning {}x{} with dilation {}x{})", eh, ew, w.dh, w.dw) : "",
                                 h + w.pt + w.pb, wd + w.pl + w.pr, h, wd, fmt::format("{},{},{},{}", w.pt, w.pb, w.pl, w.pr)));
  return {w.out_h(h), w.out_w(wd)};
}

void check_nhwc(const ir::TensorType& t, const std::string& op, const char* what) {
  if (t.rank() != 4)
    throw ShapeError(fmt::format("{}: the {} must have rank 4 (batch, height, width, channels), got {}", op, what,
                                 ir::shape_str(t.shape)));
  for (int a = 1; a < 4; ++a)
    if (!t.shape[a].is_static())
      throw ShapeError(fmt::format("{}: the {} {} must have static height, width and channels", op, what,
                                   ir::shape_str(t.shape)));
}

ir::Attrs window_attrs(std::vector<int64_t> window, std::vector<int64_t> strides, std::vector<int64_t> dilation,
                       std::vector<int64_t> pads, ir::Shape shape) {
  ir::Attrs a;
  a.window = std::move(window);
  a.strides = std::move(strides);
  a.dilation = std::move(dilation);
  a.pads = std::move(pads);
  a.shape = std::move(shape);
  return a;
}

}  // namespace brine::ops
