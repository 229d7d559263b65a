// conv2d and its two gradients, NHWC with HWIO filters (Keras's layouts):
//   conv2d(x, w)               y[n,oy,ox,f]  = Σ_{ky,kx,c} x[n, oy·sh+ky·dh-pt, ox·sw+kx·dw-pl, c] · w[ky,kx,c,f]
//   conv2d_grad_input(g, w)    dx[n,iy,ix,c] = Σ over the (oy,ox,ky,kx) that read (iy,ix) of g[n,oy,ox,f] · w[ky,kx,c,f]
//   conv2d_grad_filter(x, g)   dw[ky,kx,c,f] = Σ_{n,oy,ox} x[n, oy·sh+ky·dh-pt, ox·sw+kx·dw-pl, c] · g[n,oy,ox,f]
// Reads outside the input are zeros (the padding). The three are bilinear
// and each one's VJP is made of the other two, so derivatives of any order
// stay in this family. Conv1D is conv2d on a height of 1 (a view).
#include "ops/conv.h"

#include <Halide.h>
#include <fmt/format.h>

#include <algorithm>

#include "codegen/lower_ctx.h"
#include "ir/builder.h"
#include "ops/window.h"

namespace brine::ops {

namespace {

struct ConvDims {
  int64_t H, W, C, KH, KW, F, OH, OW;
  Window2D win;
};

// Everything the three ops' rules need, from the shapes of their operands;
// every inconsistency is a ShapeError naming the op and shapes.
ConvDims conv_dims(const ir::Node& n, const ir::TensorType& a, const ir::TensorType& b) {
  const std::string op(ir::op_name(n.op));
  ConvDims d{};
  const auto is_static = [](const ir::TensorType& t) {
    return std::all_of(t.shape.begin(), t.shape.end(), [](const ir::Dim& x) { return x.is_static(); });
  };
  switch (n.op) {
    case ir::Op::Conv2D: {
      check_nhwc(a, op, "input");
      if (b.rank() != 4 || !is_static(b))
        throw ShapeError(fmt::format("{}: the filter must be static (height, width, in channels, out channels), got {}",
                                     op, ir::shape_str(b.shape)));
      d.H = a.shape[1].size, d.W = a.shape[2].size, d.C = a.shape[3].size;
      d.KH = b.shape[0].size, d.KW = b.shape[1].size, d.F = b.shape[3].size;
      if (b.shape[2].size != d.C)
        throw ShapeError(fmt::format("{}: channel mismatch: the input {} has {} channels, the filter {} expects {}", op,
                                     ir::shape_str(a.shape), d.C, ir::shape_str(b.shape), b.shape[2].size));
      break;
    }
    case ir::Op::Conv2DGradInput: {  // (g, w), attrs.shape = input {H, W}
      check_nhwc(a, op, "output gradient");
      if (b.rank() != 4 || !is_static(b)) throw ShapeError(fmt::format("{}: the filter {} must be static rank 4", op, ir::shape_str(b.shape)));
      if (n.attrs.shape.size() != 2 || !n.attrs.shape[0].is_static() || !n.attrs.shape[1].is_static())
        throw ShapeError(fmt::format("{} takes shape = [height, width] of the input it differentiates", op));
      d.H = n.attrs.shape[0].size, d.W = n.attrs.shape[1].size;
      d.KH = b.shape[0].size, d.KW = b.shape[1].size, d.C = b.shape[2].size, d.F = b.shape[3].size;
      if (a.shape[3].size != d.F)
        throw ShapeError(fmt::format("{}: the gradient {} has {} channels, the filter {} has {} outputs", op,
                                     ir::shape_str(a.shape), a.shape[3].size, ir::shape_str(b.shape), d.F));
      break;
    }
    case ir::Op::Conv2DGradFilter: {  // (x, g), attrs.shape = filter {KH, KW}
      check_nhwc(a, op, "input");
      check_nhwc(b, op, "output gradient");
      if (n.attrs.shape.size() != 2 || !n.attrs.shape[0].is_static() || !n.attrs.shape[1].is_static())
        throw ShapeError(fmt::format("{} takes shape = [height, width] of the filter it differentiates", op));
      d.H = a.shape[1].size, d.W = a.shape[2].size, d.C = a.shape[3].size;
      d.KH = n.attrs.shape[0].size, d.KW = n.attrs.shape[1].size, d.F = b.shape[3].size;
      break;
    }
    default: internal_error("conv_dims on " + op);
  }
  d.win = window_of(n.attrs, d.KH, d.KW, op);
  std::tie(d.OH, d.OW) = window_output(d.win, d.H, d.W, op);
  const ir::TensorType& g = n.op == ir::Op::Conv2D ? a : (n.op == ir::Op::Conv2DGradInput ? a : b);
  if (n.op != ir::Op::Conv2D && (g.shape[1].size != d.OH || g.shape[2].size != d.OW))
    throw ShapeError(fmt::format("{}: the output gradient {} should be {}x{} spatially for a {}x{} input", op,
                                 ir::shape_str(g.shape), d.OH, d.OW, d.H, d.W));
  if (n.op == ir::Op::Conv2DGradFilter && a.shape[0] != b.shape[0])
    throw ShapeError(fmt::format("{}: batch of the input {} and of the gradient {} differ", op, ir::shape_str(a.shape),
                                 ir::shape_str(b.shape)));
  return d;
}

ConvDims conv_dims(const ir::Node& n, std::span<const ir::TensorType> in) { return conv_dims(n, in[0], in[1]); }

}  // namespace

ir::TensorType Conv::infer(const ir::Node& n, std::span<const ir::TensorType> in) {
  const ConvDims d = conv_dims(n, in);
  if (in[0].dtype != in[1].dtype)
    throw ShapeError(fmt::format("{}: operand dtypes differ ({} and {})", ir::op_name(n.op), ir::shape_str(in[0].shape),
                                 ir::shape_str(in[1].shape)));
  switch (n.op) {
    case ir::Op::Conv2D: return {in[0].dtype, {in[0].shape[0], d.OH, d.OW, d.F}};
    case ir::Op::Conv2DGradInput: return {in[0].dtype, {in[0].shape[0], d.H, d.W, d.C}};
    default: return {in[0].dtype, {d.KH, d.KW, d.C, d.F}};
  }
}

RefTensor Conv::reference(const ir::Node& n, std::span<const RefTensor* const> in) {
  const RefTensor &a = *in[0], &b = *in[1];
  const ConvDims d = conv_dims(n, ref_types(in));
  const Window2D& w = d.win;
  const int64_t N = a.shape[0];
  RefTensor out;
  // One loop nest for all three: the forward's multiply-adds, each routed
  // to the output the op computes.
  const RefTensor* x = n.op == ir::Op::Conv2DGradInput ? nullptr : &a;
  const RefTensor* g = n.op == ir::Op::Conv2D ? nullptr : (n.op == ir::Op::Conv2DGradInput ? &a : &b);
  const RefTensor* f = n.op == ir::Op::Conv2DGradFilter ? nullptr : &b;
  switch (n.op) {
    case ir::Op::Conv2D: out.shape = {N, d.OH, d.OW, d.F}; break;
    case ir::Op::Conv2DGradInput: out.shape = {N, d.H, d.W, d.C}; break;
    default: out.shape = {d.KH, d.KW, d.C, d.F};
  }
  out.data.assign(ref_elements(out.shape), 0.0);
  for (int64_t b0 = 0; b0 < N; ++b0)
    for (int64_t oy = 0; oy < d.OH; ++oy)
      for (int64_t ox = 0; ox < d.OW; ++ox)
        for (int64_t ky = 0; ky < d.KH; ++ky)
          for (int64_t kx = 0; kx < d.KW; ++kx) {
            const int64_t iy = w.in_y(oy, ky), ix = w.in_x(ox, kx);
            if (iy < 0 || iy >= d.H || ix < 0 || ix >= d.W) continue;
            for (int64_t c = 0; c < d.C; ++c)
              for (int64_t fo = 0; fo < d.F; ++fo) {
                const int64_t xi = ((b0 * d.H + iy) * d.W + ix) * d.C + c;
                const int64_t gi = ((b0 * d.OH + oy) * d.OW + ox) * d.F + fo;
                const int64_t wi = ((ky * d.KW + kx) * d.C + c) * d.F + fo;
                if (n.op == ir::Op::Conv2D) out.data[gi] += x->data[xi] * f->data[wi];
                else if (n.op == ir::Op::Conv2DGradInput) out.data[xi] += g->data[gi] * f->data[wi];
                else out.data[wi] += x->data[xi] * g->data[gi];
              }
          }
  return out;
}

namespace {

bool has_padding(const ConvDims& d) { return d.win.pt || d.win.pb || d.win.pl || d.win.pr; }

// Lanes of the row-vectorized filter gradient: a multiple of every vector
// width (16 f32, 8 f64 lanes on AVX-512).
constexpr int64_t kRowLanes = 16;

// A filter gradient with fewer output channels than a vector (seed_conv's
// 8) vectorizes along the image rows instead, which needs unit stride along
// them and rows at least a vector long.
bool row_vectorized_filter_gradient(const ir::Node& n, const ConvDims& d) {
  return n.op == ir::Op::Conv2DGradFilter && d.F < kRowLanes && d.win.sw == 1 && d.OW >= kRowLanes;
}

// The input seen through the padding: zeros outside. Without padding, the
// input itself (no stage, no select).
Halide::Func padded(const Halide::Func& x, const ConvDims& d, Halide::Type type, const std::string& name) {
  using namespace Halide;
  if (!has_padding(d)) return x;
  Var c("c"), ix("ix"), iy("iy"), b("b");
  Func p(name);
  const Expr H = static_cast<int>(d.H), W = static_cast<int>(d.W);
  p(c, ix, iy, b) = select(ix >= 0 && ix < W && iy >= 0 && iy < H, x(c, clamp(ix, 0, W - 1), clamp(iy, 0, H - 1), b),
                           cast(type, 0));
  return p;
}

}  // namespace

// Halide dims are the IR axes reversed: x(c, ix, iy, n), w(f, c, kx, ky).
Halide::Func Conv::lower(codegen::LowerCtx& ctx, const ir::Node& n) {
  using namespace Halide;
  const ConvDims d = conv_dims(n, ctx.in_type(n, 0), ctx.in_type(n, 1));
  const Window2D& w = d.win;
  const auto I = [](int64_t v) { return Expr(static_cast<int>(v)); };
  // The output's vars are the kernel's axis vars (the schedule names them).
  const std::vector<Var> v = codegen::axis_vars(4);
  Var ch = v[3], px = v[2], py = v[1], b = v[0];
  Func acc(codegen::func_name(n, "_acc")), out(codegen::func_name(n));
  std::vector<Func> stages{acc};
  switch (n.op) {
    case ir::Op::Conv2D: {
      Func xp = padded(ctx.in(n, 0), d, ctx.type, codegen::func_name(n, "_padded"));
      const Func& f = ctx.in(n, 1);
      RDom r({{0, I(d.C)}, {0, I(d.KW)}, {0, I(d.KH)}}, "r");
      acc(ch, px, py, b) = cast(ctx.type, 0);
      acc(ch, px, py, b) += xp(r.x, px * I(w.sw) + r.y * I(w.dw) - I(w.pl), py * I(w.sh) + r.z * I(w.dh) - I(w.pt), b) *
                            f(ch, r.x, r.y, r.z);
      if (has_padding(d)) stages.push_back(xp);
      break;
    }
    case ir::Op::Conv2DGradInput: {
      // g spread back over the input's grid: at (tx, ty) = (ox·sw, oy·sh)
      // it holds g(ox, oy), elsewhere zero; then a stride-1 correlation
      // with the filter, read transposed (c innermost) so that vectors run
      // along the input's channels.
      const Func& g = ctx.in(n, 0);
      const Func& f = ctx.in(n, 1);
      Var tx("tx"), ty("ty");
      Func gs(codegen::func_name(n, "_spread")), ft(codegen::func_name(n, "_filter_t"));
      const Expr inside = tx >= 0 && ty >= 0 && tx < I(d.OW * w.sw) && ty < I(d.OH * w.sh);
      const Expr on_grid = (w.sw == 1 ? Internal::const_true() : tx % I(w.sw) == 0) && (w.sh == 1 ? Internal::const_true() : ty % I(w.sh) == 0);
      gs(ch, tx, ty, b) = select(inside && on_grid,
                                 g(ch, clamp(tx / I(w.sw), 0, I(d.OW - 1)), clamp(ty / I(w.sh), 0, I(d.OH - 1)), b),
                                 cast(ctx.type, 0));
      Var fo("fo"), kx("kx"), ky("ky");
      ft(ch, fo, kx, ky) = f(fo, ch, kx, ky);
      RDom r({{0, I(d.F)}, {0, I(d.KW)}, {0, I(d.KH)}}, "r");
      acc(ch, px, py, b) = cast(ctx.type, 0);
      acc(ch, px, py, b) += gs(r.x, px + I(w.pl) - r.y * I(w.dw), py + I(w.pt) - r.z * I(w.dh), b) * ft(ch, r.x, r.y, r.z);
      stages.push_back(gs);
      stages.push_back(ft);
      break;
    }
    default: {  // Conv2DGradFilter; output (f, c, kx, ky) = (ch, px, py, b) here
      if (row_vectorized_filter_gradient(n, d)) {
        // Rows of x and g stored planar (channel outermost), g's rows padded
        // with zeros to a whole number of vectors, so that the sum over a
        // row runs as full vectors along it. The zero lanes add nothing;
        // the x reads they pair with are clamped into the image.
        Func xp = padded(ctx.in(n, 0), d, ctx.type, codegen::func_name(n, "_padded"));
        const Func& g = ctx.in(n, 1);
        Func xt(codegen::func_name(n, "_x_rows")), gt(codegen::func_name(n, "_g_rows"));
        Var rx("rx"), c("c"), ry("ry"), bb("bb");
        const int64_t padded_ow = (d.OW + kRowLanes - 1) / kRowLanes * kRowLanes;
        xt(rx, c, ry, bb) = xp(c, has_padding(d) ? Expr(rx) : min(rx, I(d.W - 1)), ry, bb);
        gt(rx, c, ry, bb) = select(rx < I(d.OW), g(c, min(rx, I(d.OW - 1)), ry, bb), cast(ctx.type, 0));
        RDom r({{0, I(padded_ow)}, {0, I(d.OH)}, {0, ctx.extent(ctx.in_type(n, 0).shape[0])}}, "r");
        acc(ch, px, py, b) = cast(ctx.type, 0);
        acc(ch, px, py, b) += xt(r.x + py * I(w.dw) - I(w.pl), px, r.y * I(w.sh) + b * I(w.dh) - I(w.pt), r.z) *
                              gt(r.x, ch, r.y, r.z);
        stages.push_back(xt);
        stages.push_back(gt);
        break;
      }
      Func xp = padded(ctx.in(n, 0), d, ctx.type, codegen::func_name(n, "_padded"));
      const Func& g = ctx.in(n, 1);
      RDom r({{0, I(d.OW)}, {0, I(d.OH)}, {0, ctx.extent(ctx.in_type(n, 0).shape[0])}}, "r");
      acc(ch, px, py, b) = cast(ctx.type, 0);
      acc(ch, px, py, b) += xp(px, r.x * I(w.sw) + py * I(w.dw) - I(w.pl), r.y * I(w.sh) + b * I(w.dh) - I(w.pt), r.z) *
                            g(ch, r.x, r.y, r.z);
      if (has_padding(d)) stages.push_back(xp);
    }
  }
  out(ch, px, py, b) = acc(ch, px, py, b);
  ctx.stages[n.id] = stages;
  return out;
}

namespace {

// The filter gradient (f, c, kx, ky) sums over every pixel of the batch: a
// small output and a long reduction. The pixels are walked a row at a time,
// outermost (rfactor splits the sum into rows, each summed into the
// output): each input and gradient row is read from memory once per ky and
// reused from cache by every kx and channel tile, and within a row a tile
// of four vectors of f by a few c accumulates in registers. One register
// tile over the whole batch instead streamed the batch from memory once per
// tile (8.2 ms for conv3x3_64_56_b8; this: see docs/scheduling.md).
void schedule_filter_gradient(codegen::ScheduleCtx& s, Halide::Func acc, const std::vector<Halide::RVar>& r,
                              int lanes, int vecs) {
  using namespace Halide;
  const auto& st = s.lower.stages.at(s.anchor.id);
  Var f = s.out_vars[3], c = s.out_vars[2], kx = s.out_vars[1], ky = s.out_vars[0];
  const int64_t C = s.anchor.type.shape[2].size;
  const int tc = static_cast<int>(std::min<int64_t>(C, vecs >= 4 ? 6 : vecs == 3 ? 8 : 12));
  const bool big = s.anchor.type.shape[0].size * s.anchor.type.shape[1].size * C * s.anchor.type.shape[3].size >= 4096;
  s.out.vectorize(f, lanes, TailStrategy::GuardWithIf);
  if (big) s.out.parallel(ky);
  acc.compute_root().vectorize(f, lanes, TailStrategy::GuardWithIf);
  Var row("row"), img("img"), co("co"), ci("ci"), half("half"), task("task");
  Func part = acc.update().rfactor({{r[1], row}, {r[2], img}});
  // Threads take (ky, half of the channels): 3 x 2 tasks balance on two
  // threads where ky alone (3) left one idle a third of the time.
  const int64_t halves = C % 2 == 0 && C >= 2 * tc ? 2 : 1;
  // Channel tiles that divide the half exactly: guarded tails cost more
  // than the smaller tile (6 with tails: 11.2 ms; 4: see below).
  int tcx = tc;
  while (tcx > 1 && (C / halves) % tcx != 0) --tcx;
  acc.update()
      .split(c, half, c, static_cast<int>((C + halves - 1) / halves), TailStrategy::GuardWithIf)
      .split(c, co, ci, tcx, TailStrategy::GuardWithIf)
      .reorder(f, ci, co, kx, r[1], r[2], half, ky)
      .fuse(half, ky, task)
      .vectorize(f, lanes, TailStrategy::GuardWithIf)
      .unroll(ci);
  if (big) acc.update().parallel(task);
  part.compute_at(acc, co).vectorize(f, lanes, TailStrategy::GuardWithIf).unroll(f).unroll(c);
  part.update().reorder(f, c, r[0]).vectorize(f, lanes, TailStrategy::GuardWithIf).unroll(f).unroll(c);
  if (st.size() > 1) {  // the padded input: the row being read, made per row
    Func xp = st[1];
    xp.compute_at(acc, r[1]).vectorize(xp.args()[0], std::min<int>(lanes, static_cast<int>(C)), TailStrategy::GuardWithIf);
  }
}

// The row-vectorized filter gradient (few output channels): each image is a
// task (rfactor over the batch), and within it each (kx, ky) accumulates a
// register tile of vectors along the rows, one per (f, c), over all of the
// image's rows; the lanes and the images are summed at the end. The image's
// planar x and g rows (a few tens of KiB) stay in L1/L2 for all nine
// (kx, ky). Vectors along f covered half a vector for seed_conv's 8 filters,
// with 3 (ky) tasks on 2 threads: 310 µs; this: see docs/scheduling.md.
void schedule_row_filter_gradient(codegen::ScheduleCtx& s, Halide::Func acc, const std::vector<Halide::RVar>& r,
                                  const ConvDims& d) {
  using namespace Halide;
  const auto& st = s.lower.stages.at(s.anchor.id);
  Var f = s.out_vars[3], c = s.out_vars[2], kx = s.out_vars[1], ky = s.out_vars[0];
  Var img("img"), u("u"), co("co"), ci("ci");
  const int v = s.vector_width;
  const int out_lanes = static_cast<int>(std::min<int64_t>(d.F, v));
  // Up to 24 accumulator vectors: f by a divisor of C.
  int tc = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(d.C, 24 / d.F)));
  while (d.C % tc != 0) --tc;

  s.out.vectorize(f, out_lanes, TailStrategy::GuardWithIf);
  acc.compute_root().vectorize(f, out_lanes, TailStrategy::GuardWithIf);
  acc.update().vectorize(f, out_lanes, TailStrategy::GuardWithIf);
  Func part = acc.update().rfactor(r[2], img);
  RVar oxo("oxo"), oxi("oxi");
  Func lanes = part.update().split(r[0], oxo, oxi, v).rfactor(oxi, u);
  part.compute_root();
  part.update().split(c, co, ci, tc).reorder(oxi, f, ci, kx, co, ky, img).parallel(img);
  std::vector<Var> storage = lanes.args();  // rfactor appends u; store it innermost
  storage.insert(storage.begin(), storage.back());
  storage.pop_back();
  lanes.reorder_storage(storage).compute_at(part, kx).vectorize(u).unroll(f).unroll(c);
  lanes.update().reorder(u, c, f, oxo, r[1]).vectorize(u).unroll(f).unroll(c);
  for (size_t i = 1; i < st.size(); ++i) {  // the image's planar rows
    Func rows_of = st[i];
    rows_of.compute_at(part, img).vectorize(rows_of.args()[0], v, TailStrategy::GuardWithIf);
  }
}

}  // namespace

// THE SCHEDULE: a register tile of up to four vectors along the output's
// channels by a few pixels (or, for the filter gradient, input channels),
// accumulated over the whole window in registers and stored once with the
// fused bias and activation, like the matmul's. Padding is materialized a
// row of output at a time so the inner loop has no selects. Measured choices
// are in docs/scheduling.md.
void Conv::schedule(codegen::ScheduleCtx& s) {
  using namespace Halide;
  const auto& st = s.lower.stages.at(s.anchor.id);
  Func acc = st[0];
  const ir::Shape& os = s.anchor.type.shape;
  const int64_t CH = os[3].size, PX = os[2].size;
  const int v = s.vector_width;
  const int lanes = CH >= v ? v : static_cast<int>(CH);
  const int vecs = static_cast<int>(std::min<int64_t>(4, std::max<int64_t>(1, CH / v)));
  const int tn = lanes * vecs;
  const int tp = static_cast<int>(std::min<int64_t>(PX, vecs >= 4 ? 6 : vecs == 3 ? 8 : 12));
  Var ch = s.out_vars[3], px = s.out_vars[2], py = s.out_vars[1], b = s.out_vars[0];
  Var cho("cho"), pxo("pxo"), chi("chi"), pxi("pxi"), row("row");
  const std::vector<RVar> r = codegen::update_rvars(acc);

  if (s.anchor.op == ir::Op::Conv2DGradFilter) {
    const ConvDims d = conv_dims(s.anchor, s.lower.in_type(s.anchor, 0), s.lower.in_type(s.anchor, 1));
    if (row_vectorized_filter_gradient(s.anchor, d)) schedule_row_filter_gradient(s, acc, r, d);
    else schedule_filter_gradient(s, acc, r, lanes, vecs);
    return;
  }
  const ConvDims d = conv_dims(s.anchor, s.lower.in_type(s.anchor, 0), s.lower.in_type(s.anchor, 1));
  if (s.anchor.op == ir::Op::Conv2D && CH < v && PX >= v && d.win.sw == 1) {
    // Fewer output channels than a vector (seed_conv's 8): vectors run
    // along the output row instead, a tile of one vector of pixels by every
    // channel by a few rows (up to 16 accumulators), each filter tap a
    // broadcast. The input rows it reads are copied planar (channel
    // outermost) once per row of tiles so that the pixel vectors load
    // contiguously; read in place they were gathers with a stride of C.
    // seed_conv_b64: 236 µs with half-vectors along f, 149 µs this way.
    const int ty = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({os[1].size, 4, 16 / CH})));
    Var pyo("pyo"), pyi("pyi");
    s.out.split(px, pxo, pxi, v, TailStrategy::ShiftInwards)
        .split(py, pyo, pyi, ty, TailStrategy::ShiftInwards)
        .reorder(ch, pxi, pyi, pxo, pyo, b)
        .vectorize(pxi)
        .unroll(ch)
        .unroll(pyi)
        .fuse(pyo, b, row);
    Expr work = s.lower.extent(os[0]) * static_cast<int>(os[1].size * PX * CH);
    s.out.specialize(work >= (1 << 14)).parallel(row);
    acc.reorder_storage(px, ch, py, b);
    acc.compute_at(s.out, pxo).vectorize(px).unroll(ch).unroll(py);
    acc.update().reorder(px, ch, py, r[0], r[1], r[2]).vectorize(px).unroll(ch).unroll(py);
    Func src = st.size() > 1 ? Func(st[1]) : s.lower.in(s.anchor, 0);
    Func rows = src.in(acc);
    const std::vector<Var> a = rows.args();  // (c, x, y, n)
    rows.reorder_storage(a[1], a[0], a[2], a[3])
        .compute_at(s.out, row)
        .reorder(a[1], a[0])
        .vectorize(a[1], v, TailStrategy::GuardWithIf);
    return;
  }
  s.out.tile(ch, px, cho, pxo, chi, pxi, tn, tp, TailStrategy::ShiftInwards).vectorize(chi, lanes).unroll(pxi);
  s.out.fuse(py, b, row);
  // Enough work per call to pay for the thread pool (as for matmul).
  Expr work = s.lower.extent(os[0]) * static_cast<int>(os[1].size * PX * CH);
  s.out.specialize(work >= (1 << 14)).parallel(row);
  acc.compute_at(s.out, cho).vectorize(ch, lanes).unroll(ch).unroll(px);
  acc.update().reorder(ch, px, r[0], r[1], r[2]).vectorize(ch, lanes).unroll(ch).unroll(px);

  if (s.anchor.op == ir::Op::Conv2DGradInput) {
    Func(st[2]).compute_root();  // the transposed filter: small, made once per call
    Func(st[1]).compute_at(s.out, row).vectorize(st[1].args()[0], lanes, TailStrategy::GuardWithIf);
    return;
  }
  if (st.size() > 1)
    Func(st[1]).compute_at(s.out, row).vectorize(st[1].args()[0], std::min(v, static_cast<int>(s.lower.in_type(s.anchor, 0).shape[3].size)), TailStrategy::GuardWithIf);
}

std::vector<OpSample> Conv::samples(ir::Op op) {
  const auto attrs = [](std::vector<int64_t> strides, std::vector<int64_t> dilation, std::vector<int64_t> pads,
                        ir::Shape shape = {}) { return window_attrs({}, strides, dilation, pads, shape); };
  switch (op) {
    case ir::Op::Conv2D:
      return {{"3x3 valid, 3 -> 5 channels", {{"N", 6, 7, 3}, {3, 3, 3, 5}}, attrs({}, {}, {})},
              {"3x3 same, stride 2, odd channels", {{"N", 7, 6, 3}, {3, 3, 3, 7}}, attrs({2, 2}, {}, {1, 1, 0, 1})},
              {"2x2 same (even kernel: pad after)", {{"N", 5, 5, 2}, {2, 2, 2, 3}}, attrs({}, {}, {0, 1, 0, 1})},
              {"3x3 dilation 2", {{"N", 7, 7, 2}, {3, 3, 2, 4}}, attrs({}, {2, 2}, {})},
              {"1x1, 17 channels (vector tail)", {{"N", 3, 4, 5}, {1, 1, 5, 17}}, attrs({}, {}, {})},
              {"1x3 (Conv1D), stride 2", {{"N", 1, 9, 3}, {1, 3, 3, 4}}, attrs({1, 2}, {}, {})},
              {"3x3 same, 32 channels (tiles)", {{"N", 5, 13, 4}, {3, 3, 4, 32}}, attrs({}, {}, {1, 1, 1, 1})},
              {"3x3 valid, 5 channels on 19-wide rows (vectors along rows)", {{"N", 5, 19, 3}, {3, 3, 3, 5}},
               attrs({}, {}, {})},
              {"3x3 same, 3 channels on 17-wide rows (vectors along rows)", {{"N", 3, 17, 2}, {3, 3, 2, 3}},
               attrs({}, {}, {1, 1, 1, 1})}};
    case ir::Op::Conv2DGradInput:
      return {{"3x3 valid", {{"N", 4, 5, 5}, {3, 3, 3, 5}}, attrs({}, {}, {}, {6, 7})},
              {"3x3 same, stride 2", {{"N", 4, 3, 7}, {3, 3, 3, 7}}, attrs({2, 2}, {}, {1, 1, 0, 1}, {7, 6})},
              {"3x3 dilation 2, 17 channels", {{"N", 3, 3, 4}, {3, 3, 17, 4}}, attrs({}, {2, 2}, {}, {7, 7})}};
    default:
      return {{"3x3 valid", {{"N", 6, 7, 3}, {"N", 4, 5, 5}}, attrs({}, {}, {}, {3, 3})},
              {"3x3 same, stride 2", {{"N", 7, 6, 3}, {"N", 4, 3, 7}}, attrs({2, 2}, {}, {1, 1, 0, 1}, {3, 3})},
              {"2x2 dilation 2, 17 outputs", {{"N", 5, 5, 2}, {"N", 3, 3, 17}}, attrs({}, {2, 2}, {}, {2, 2})},
              {"3x3 same, 16 -> 32 channels (threads, channel halves)", {{"N", 4, 5, 16}, {"N", 4, 5, 32}},
               attrs({}, {}, {1, 1, 1, 1}, {3, 3})},
              {"3x3 valid, 5 outputs, 17-wide rows (vectors along rows, zero lanes)", {{"N", 4, 19, 3}, {"N", 2, 17, 5}},
               attrs({}, {}, {}, {3, 3})},
              {"3x3 same, dilation 2, 4 outputs, 16-wide rows (vectors along rows)", {{"N", 3, 16, 2}, {"N", 3, 16, 4}},
               attrs({}, {2, 2}, {2, 2, 2, 2}, {3, 3})}};
  }
}

// Bilinear ops; with a the adjoint of the op's output:
//   y  = conv2d(x, w):            dx = conv2d_grad_input(g, w),  dw = conv2d_grad_filter(x, g)
//   dx = conv2d_grad_input(g, w): dg = conv2d(a, w),             dw = conv2d_grad_filter(a, g)
//   dw = conv2d_grad_filter(x, g): dx = conv2d_grad_input(g, a), dg = conv2d(x, a)
std::vector<int> Conv::vjp(ir::GraphBuilder& b, const ir::Node& n, int g) {
  const int p = n.inputs[0], q = n.inputs[1];
  ir::Attrs conv = n.attrs, grad_in = n.attrs, grad_f = n.attrs;
  conv.shape.clear();
  const auto spatial = [&](int id, int first) {
    const ir::Shape s = b.shape(id);
    return ir::Shape{s[first], s[first + 1]};
  };
  switch (n.op) {
    case ir::Op::Conv2D:
      grad_in.shape = spatial(p, 1);
      grad_f.shape = spatial(q, 0);
      return {b.op(ir::Op::Conv2DGradInput, {g, q}, grad_in), b.op(ir::Op::Conv2DGradFilter, {p, g}, grad_f)};
    case ir::Op::Conv2DGradInput:
      grad_f.shape = spatial(q, 0);
      return {b.op(ir::Op::Conv2D, {g, q}, conv), b.op(ir::Op::Conv2DGradFilter, {g, p}, grad_f)};
    default:
      grad_in.shape = spatial(p, 1);
      return {b.op(ir::Op::Conv2DGradInput, {q, g}, grad_in), b.op(ir::Op::Conv2D, {p, g}, conv)};
  }
}

}  // namespace brine::ops
