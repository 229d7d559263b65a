// Pooling and zero padding over NHWC height and width:
//   max_pool2d(x)            y[w] = max of x over window w (padding excluded)
//   max_pool2d_grad(x, g)    dx[p] = Σ_{windows w ∋ p, x[p] = y[w]} g[w] / ties[w]
//   max_pool2d_gather(x, a)  z[w] = Σ_{p ∈ w, x[p] = y[w]} a[p] / ties[w]   (the VJP of the grad in g)
//   avg_pool2d(x)            y[w] = Σ_{p ∈ w} x[p] / count[w]   (count excludes padding, as Keras)
//   avg_pool2d_grad(g)       dx[p] = Σ_{w ∋ p} g[w] / count[w]
//   pad2d(x)                 zeros around height and width
// ties[w] is the number of elements of w equal to its maximum: tied maxima
// share the gradient equally, the convention reduce_max follows too
// (docs/training.md).
#include "ops/pool.h"

#include <Halide.h>
#include <fmt/format.h>

#include <cmath>

#include "codegen/lower_ctx.h"
#include "ir/builder.h"
#include "ops/window.h"

namespace brine::ops {

namespace {

struct PoolDims {
  int64_t H, W, C, OH, OW;
  Window2D win;
};

PoolDims pool_dims(const ir::Node& n, std::span<const ir::TensorType> in) {
  const std::string op(ir::op_name(n.op));
  PoolDims d{};
  if (n.op == ir::Op::Pad2D) {
    check_nhwc(in[0], op, "input");
    d.win = window_of(n.attrs, 1, 1, op);
    d.H = in[0].shape[1].size, d.W = in[0].shape[2].size, d.C = in[0].shape[3].size;
    d.OH = d.H + d.win.pt + d.win.pb, d.OW = d.W + d.win.pl + d.win.pr;
    return d;
  }
  if (n.attrs.window.size() != 2) throw ShapeError(fmt::format("{} takes window = [height, width]", op));
  if (!n.attrs.dilation.empty()) throw ShapeError(fmt::format("{} has no dilation", op));
  d.win = window_of(n.attrs, n.attrs.window[0], n.attrs.window[1], op);
  const ir::TensorType& first = in[0];
  if (n.op == ir::Op::AvgPool2DGrad) {
    check_nhwc(first, op, "output gradient");
    if (n.attrs.shape.size() != 2 || !n.attrs.shape[0].is_static() || !n.attrs.shape[1].is_static())
      throw ShapeError(fmt::format("{} takes shape = [height, width] of the input it differentiates", op));
    d.H = n.attrs.shape[0].size, d.W = n.attrs.shape[1].size;
  } else {
    check_nhwc(first, op, "input");
    d.H = first.shape[1].size, d.W = first.shape[2].size;
  }
  d.C = first.shape[3].size;
  if (d.win.pt >= d.win.kh || d.win.pb >= d.win.kh || d.win.pl >= d.win.kw || d.win.pr >= d.win.kw)
    throw ShapeError(fmt::format("{}: pads [{}] must be smaller than the window {}x{} (a window of padding only)", op,
                                 fmt::join(n.attrs.pads, ", "), d.win.kh, d.win.kw));
  std::tie(d.OH, d.OW) = window_output(d.win, d.H, d.W, op);
  // The second operand (or the first, for avg_pool2d_grad) is shaped like
  // the pooled output or like the input.
  const auto expect = [&](const ir::TensorType& t, int64_t h, int64_t w, const char* what) {
    if (t.rank() != 4 || t.shape[1] != ir::Dim(h) || t.shape[2] != ir::Dim(w) || t.shape[3] != ir::Dim(d.C) ||
        t.shape[0] != first.shape[0])
      throw ShapeError(fmt::format("{}: the {} {} should be [{},{},{},{}]", op, what, ir::shape_str(t.shape),
                                   first.shape[0].str(), h, w, d.C));
  };
  if (n.op == ir::Op::MaxPool2DGrad) expect(in[1], d.OH, d.OW, "output gradient");
  if (n.op == ir::Op::MaxPool2DGather) expect(in[1], d.H, d.W, "input adjoint");
  if (n.op == ir::Op::AvgPool2DGrad) expect(in[0], d.OH, d.OW, "output gradient");
  return d;
}

}  // namespace

ir::TensorType Pool::infer(const ir::Node& n, std::span<const ir::TensorType> in) {
  const PoolDims d = pool_dims(n, in);
  const ir::Dim N = in[0].shape[0];
  switch (n.op) {
    case ir::Op::MaxPool2DGrad:
    case ir::Op::AvgPool2DGrad: return {in[0].dtype, {N, d.H, d.W, d.C}};
    default: return {in[0].dtype, {N, d.OH, d.OW, d.C}};
  }
}

RefTensor Pool::reference(const ir::Node& n, std::span<const RefTensor* const> in) {
  const PoolDims d = pool_dims(n, ref_types(in));
  const Window2D& w = d.win;
  const int64_t N = in[0]->shape[0];
  const auto xi = [&](int64_t b, int64_t y, int64_t x, int64_t c) { return ((b * d.H + y) * d.W + x) * d.C + c; };
  const auto yi = [&](int64_t b, int64_t y, int64_t x, int64_t c) { return ((b * d.OH + y) * d.OW + x) * d.C + c; };
  RefTensor out;
  if (n.op == ir::Op::Pad2D) {
    out.shape = {N, d.OH, d.OW, d.C};
    out.data.assign(ref_elements(out.shape), 0.0);
    for (int64_t b = 0; b < N; ++b)
      for (int64_t y = 0; y < d.H; ++y)
        for (int64_t x = 0; x < d.W; ++x)
          for (int64_t c = 0; c < d.C; ++c) out.data[yi(b, y + w.pt, x + w.pl, c)] = in[0]->data[xi(b, y, x, c)];
    return out;
  }
  const bool to_input = n.op == ir::Op::MaxPool2DGrad || n.op == ir::Op::AvgPool2DGrad;
  out.shape = to_input ? std::vector<int64_t>{N, d.H, d.W, d.C} : std::vector<int64_t>{N, d.OH, d.OW, d.C};
  out.data.assign(ref_elements(out.shape), 0.0);
  for (int64_t b = 0; b < N; ++b)
    for (int64_t oy = 0; oy < d.OH; ++oy)
      for (int64_t ox = 0; ox < d.OW; ++ox)
        for (int64_t c = 0; c < d.C; ++c) {
          // The window's valid positions, its max and ties.
          std::vector<int64_t> ps;
          for (int64_t ky = 0; ky < w.kh; ++ky)
            for (int64_t kx = 0; kx < w.kw; ++kx) {
              const int64_t iy = w.in_y(oy, ky), ix = w.in_x(ox, kx);
              if (iy >= 0 && iy < d.H && ix >= 0 && ix < d.W) ps.push_back(xi(b, iy, ix, c));
            }
          const int64_t o = yi(b, oy, ox, c);
          const double cnt = static_cast<double>(ps.size());
          if (n.op == ir::Op::AvgPool2D) {
            for (int64_t p : ps) out.data[o] += in[0]->data[p] / cnt;
          } else if (n.op == ir::Op::AvgPool2DGrad) {
            for (int64_t p : ps) out.data[p] += in[0]->data[o] / cnt;
          } else {
            double mx = -INFINITY, ties = 0;
            for (int64_t p : ps) mx = std::max(mx, in[0]->data[p]);
            for (int64_t p : ps) ties += in[0]->data[p] == mx;
            for (int64_t p : ps) {
              if (in[0]->data[p] != mx) continue;
              if (n.op == ir::Op::MaxPool2D) out.data[o] = mx;
              else if (n.op == ir::Op::MaxPool2DGrad) out.data[p] += in[1]->data[o] / ties;
              else out.data[o] += in[1]->data[p] / ties;
            }
          }
        }
  return out;
}

// Halide dims: x(c, ix, iy, n). Window reads outside the input are masked.
Halide::Func Pool::lower(codegen::LowerCtx& ctx, const ir::Node& n) {
  using namespace Halide;
  std::vector<ir::TensorType> types;
  for (size_t i = 0; i < n.inputs.size(); ++i) types.push_back(ctx.in_type(n, static_cast<int>(i)));
  const PoolDims d = pool_dims(n, types);
  const Window2D& w = d.win;
  const auto I = [](int64_t v) { return Expr(static_cast<int>(v)); };
  const Expr H = I(d.H), W = I(d.W);
  const std::vector<Var> v = codegen::axis_vars(4);
  Var c = v[3], px = v[2], py = v[1], b = v[0];
  Func out(codegen::func_name(n));
  const Func& x = ctx.in(n, 0);
  const auto inside = [&](const Expr& ix, const Expr& iy) { return ix >= 0 && ix < W && iy >= 0 && iy < H; };
  const auto read = [&](const Func& f, const Expr& ix, const Expr& iy) {
    return f(c, clamp(ix, 0, W - 1), clamp(iy, 0, H - 1), b);
  };
  if (n.op == ir::Op::Pad2D) {
    const Expr ix = px - I(w.pl), iy = py - I(w.pt);
    out(c, px, py, b) = select(inside(ix, iy), read(x, ix, iy), cast(ctx.type, 0));
    ctx.stages[n.id] = {};
    return out;
  }
  RDom r({{0, I(w.kw)}, {0, I(w.kh)}}, "r");
  // Window (px, py) at offset r, in input coordinates.
  const Expr wx = px * I(w.sw) + r.x - I(w.pl), wy = py * I(w.sh) + r.y - I(w.pt);
  // Windows that cover input (px, py) at offset r: (tx/sw, ty/sh) when on the stride grid.
  const Expr tx = px + I(w.pl) - r.x, ty = py + I(w.pt) - r.y;
  const Expr ox = clamp(tx / I(w.sw), 0, I(d.OW - 1)), oy = clamp(ty / I(w.sh), 0, I(d.OH - 1));
  const Expr covers = tx >= 0 && ty >= 0 && tx < I(d.OW * w.sw) && ty < I(d.OH * w.sh) &&
                      (w.sw == 1 ? Internal::const_true() : tx % I(w.sw) == 0) && (w.sh == 1 ? Internal::const_true() : ty % I(w.sh) == 0);
  // Window sizes without the padding.
  const auto count = [&](const Expr& ox_, const Expr& oy_) {
    const Expr y0 = oy_ * I(w.sh) - I(w.pt), x0 = ox_ * I(w.sw) - I(w.pl);
    return cast(ctx.type, (min(y0 + I(w.kh), H) - max(y0, 0)) * (min(x0 + I(w.kw), W) - max(x0, 0)));
  };
  Func acc(codegen::func_name(n, "_acc"));
  std::vector<Func> stages{acc};
  switch (n.op) {
    case ir::Op::AvgPool2D:
      acc(c, px, py, b) = cast(ctx.type, 0);
      acc(c, px, py, b) += select(inside(wx, wy), read(x, wx, wy), cast(ctx.type, 0));
      out(c, px, py, b) = acc(c, px, py, b) / count(px, py);
      break;
    case ir::Op::AvgPool2DGrad:
      acc(c, px, py, b) = cast(ctx.type, 0);
      acc(c, px, py, b) += select(covers, x(c, ox, oy, b) / count(ox, oy), cast(ctx.type, 0));
      out(c, px, py, b) = acc(c, px, py, b);
      break;
    default: {
      // The max of each window and how many elements tie for it.
      Func mx(codegen::func_name(n, "_max")), ties(codegen::func_name(n, "_ties"));
      mx(c, px, py, b) = ctx.type.min();
      mx(c, px, py, b) = max(mx(c, px, py, b), select(inside(wx, wy), read(x, wx, wy), ctx.type.min()));
      ties(c, px, py, b) = cast(ctx.type, 0);
      ties(c, px, py, b) += select(inside(wx, wy) && read(x, wx, wy) == mx(c, px, py, b), cast(ctx.type, 1),
                                   cast(ctx.type, 0));
      stages = {mx, ties};
      if (n.op == ir::Op::MaxPool2D) {
        out(c, px, py, b) = mx(c, px, py, b);
        stages = {mx};
      } else if (n.op == ir::Op::MaxPool2DGrad) {
        const Func& g = ctx.in(n, 1);
        acc(c, px, py, b) = cast(ctx.type, 0);
        acc(c, px, py, b) += select(covers && x(c, px, py, b) == mx(c, ox, oy, b), g(c, ox, oy, b) / ties(c, ox, oy, b),
                                    cast(ctx.type, 0));
        out(c, px, py, b) = acc(c, px, py, b);
        stages.push_back(acc);
      } else {  // MaxPool2DGather
        const Func& a = ctx.in(n, 1);
        acc(c, px, py, b) = cast(ctx.type, 0);
        acc(c, px, py, b) += select(inside(wx, wy) && read(x, wx, wy) == mx(c, px, py, b), read(a, wx, wy),
                                    cast(ctx.type, 0));
        out(c, px, py, b) = acc(c, px, py, b) / ties(c, px, py, b);
        stages.push_back(acc);
      }
    }
  }
  ctx.stages[n.id] = stages;
  return out;
}

// Vectors along channels, rows in parallel; the window statistics of the
// max-pool gradients are made once per call (each is read by several input
// positions), the accumulators per vector of outputs.
void Pool::schedule(codegen::ScheduleCtx& s) {
  using namespace Halide;
  const auto& st = s.lower.stages.at(s.anchor.id);
  const int64_t C = s.anchor.type.shape[3].size;
  const int lanes = static_cast<int>(std::min<int64_t>(s.vector_width, C));
  Var c = s.out_vars[3], px = s.out_vars[2], py = s.out_vars[1], b = s.out_vars[0], row("row");
  Var co("co"), ci("ci");
  s.out.split(c, co, ci, lanes, TailStrategy::GuardWithIf).vectorize(ci);
  s.out.fuse(py, b, row);
  Expr total = s.lower.extent(s.anchor.type.shape[0]) * static_cast<int>(s.anchor.type.shape[1].size * s.anchor.type.shape[2].size * C);
  s.out.specialize(total >= (1 << 14)).parallel(row);
  const bool grad_of_max = s.anchor.op == ir::Op::MaxPool2DGrad || s.anchor.op == ir::Op::MaxPool2DGather;
  for (size_t i = 0; i < st.size(); ++i) {
    Func f = st[i];
    const bool window_stat = grad_of_max && i < 2;
    if (window_stat) {
      f.compute_root().vectorize(f.args()[0], lanes, TailStrategy::GuardWithIf).parallel(f.args()[3]);
      f.update().vectorize(f.args()[0], lanes, TailStrategy::GuardWithIf).parallel(f.args()[3]);
    } else {
      f.compute_at(s.out, co).vectorize(f.args()[0], lanes, TailStrategy::GuardWithIf);
      f.update().vectorize(f.args()[0], lanes, TailStrategy::GuardWithIf);
    }
  }
}

std::vector<OpSample> Pool::samples(ir::Op op) {
  const auto attrs = [](std::vector<int64_t> window, std::vector<int64_t> strides, std::vector<int64_t> pads,
                        ir::Shape shape = {}) { return window_attrs(window, strides, {}, pads, shape); };
  switch (op) {
    case ir::Op::Pad2D:
      return {{"pads 1,2,0,3", {{"N", 3, 4, 5}}, attrs({}, {}, {1, 2, 0, 3})}};
    case ir::Op::AvgPool2DGrad:
      return {{"2x2 stride 2", {{"N", 3, 3, 5}}, attrs({2, 2}, {2, 2}, {}, {6, 7})},
              {"3x3 same stride 1 (counts without padding)", {{"N", 4, 5, 17}}, attrs({3, 3}, {1, 1}, {1, 1, 1, 1}, {4, 5})}};
    case ir::Op::MaxPool2DGrad:
      return {{"2x2 stride 2", {{"N", 6, 7, 5}, {"N", 3, 3, 5}}, attrs({2, 2}, {2, 2}, {})},
              {"3x3 same stride 2, overlapping", {{"N", 5, 6, 17}, {"N", 3, 3, 17}}, attrs({3, 3}, {2, 2}, {1, 1, 1, 1})}};
    case ir::Op::MaxPool2DGather:
      return {{"2x2 stride 2", {{"N", 6, 7, 5}, {"N", 6, 7, 5}}, attrs({2, 2}, {2, 2}, {})},
              {"3x3 same stride 2, overlapping", {{"N", 5, 6, 17}, {"N", 5, 6, 17}}, attrs({3, 3}, {2, 2}, {1, 1, 1, 1})}};
    default:  // MaxPool2D, AvgPool2D
      return {{"2x2 stride 2 (floor)", {{"N", 6, 7, 5}}, attrs({2, 2}, {2, 2}, {})},
              {"3x3 same stride 2", {{"N", 5, 6, 17}}, attrs({3, 3}, {2, 2}, {1, 1, 1, 1})},
              {"3x2 stride 1x2, even window same", {{"N", 5, 6, 3}}, attrs({3, 2}, {1, 2}, {1, 1, 0, 0})}};
  }
}

// max_pool2d:        dx = max_pool2d_grad(x, g)
// max_pool2d_grad:   dx = 0 (piecewise constant in x), dg = max_pool2d_gather(x, a)
// max_pool2d_gather: dx = 0, da = max_pool2d_grad(x, g)
// avg_pool2d:        dx = avg_pool2d_grad(g);  avg_pool2d_grad: dg = avg_pool2d(a)
// pad2d:             dx = g with the padding sliced off
std::vector<int> Pool::vjp(ir::GraphBuilder& b, const ir::Node& n, int g) {
  const int x = n.inputs[0];
  ir::Attrs a = n.attrs;
  switch (n.op) {
    case ir::Op::MaxPool2D: return {b.op(ir::Op::MaxPool2DGrad, {x, g}, a)};
    case ir::Op::MaxPool2DGrad: return {-1, b.op(ir::Op::MaxPool2DGather, {x, g}, a)};
    case ir::Op::MaxPool2DGather: return {-1, b.op(ir::Op::MaxPool2DGrad, {x, g}, a)};
    case ir::Op::AvgPool2D: {
      const ir::Shape s = b.shape(x);
      a.shape = {s[1], s[2]};
      return {b.op(ir::Op::AvgPool2DGrad, {g}, a)};
    }
    case ir::Op::AvgPool2DGrad:
      a.shape.clear();
      return {b.op(ir::Op::AvgPool2D, {g}, a)};
    default: {  // Pad2D
      const ir::Shape s = b.shape(x);
      return {b.slice(b.slice(g, 1, n.attrs.pads[0], s[1].size), 2, n.attrs.pads[2], s[2].size)};
    }
  }
}

}  // namespace brine::ops
