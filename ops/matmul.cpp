// Batched matrix multiply with NumPy matmul semantics: (..., M, K) @ (..., K, N)
// -> (..., M, N), batch axes broadcast; transpose_a / transpose_b swap the
// last two axes of an operand. Dense is this op with a rank-2 kernel.
//
// With axes = [0, ..., rank - 3] (every batch axis) the products are summed
// over the batch: (B..., M, K) @ (B..., K, N) -> (M, N), operands with equal
// batch axes. It is the weight gradient of a Dense on sequences (xᵀ g summed
// over the batch) as one contraction over batch and rows, where a batched
// product then a reduce_sum wrote (and read back) a (batch, M, N) tensor.
//
// With packed_b the right operand is a (K, N) matrix as pack_panels made it,
// (N / w, K, w): each register tile reads its columns of the kernel as
// contiguous panels instead of rows N elements apart (codegen/graph_passes.h
// packs constant Dense kernels so).
#include "ops/matmul.h"

#include <Halide.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "codegen/lower_ctx.h"
#include "ir/builder.h"

namespace brine::ops {

namespace {
struct Dims { ir::Dim m, k, n; };

// The right operand's shape as a (K, N) matrix: panels (N / w, K, w) side by side.
ir::Shape logical_b(const ir::Node& n, const ir::Shape& b) {
  if (!n.attrs.packed_b) return b;
  if (b.size() != 3 || !ir::all_static(b) || n.attrs.transpose_b || !n.attrs.axes.empty())
    throw ShapeError(fmt::format("matmul with packed_b takes a kernel packed as (N / w, K, w) panels of static "
                                 "shape, not transposed nor summed, got {}",
                                 ir::shape_str(b)));
  return {b[1], ir::Dim(b[0].size * b[2].size)};
}

Dims contraction(const ir::Node& n, const ir::Shape& a, const ir::Shape& packed) {
  const ir::Shape b = logical_b(n, packed);
  const size_t ra = a.size(), rb = b.size();
  const ir::Dim am = n.attrs.transpose_a ? a[ra - 1] : a[ra - 2];
  const ir::Dim ak = n.attrs.transpose_a ? a[ra - 2] : a[ra - 1];
  const ir::Dim bk = n.attrs.transpose_b ? b[rb - 1] : b[rb - 2];
  const ir::Dim bn = n.attrs.transpose_b ? b[rb - 2] : b[rb - 1];
  if (ak != bk)
    throw ShapeError(fmt::format(
        "matmul of {}{} and {}{}: contraction dimensions differ ({} vs {})", ir::shape_str(a),
        n.attrs.transpose_a ? "ᵀ" : "", ir::shape_str(b), n.attrs.transpose_b ? "ᵀ" : "", ak.str(), bk.str()));
  return {am, ak, bn};
}
// Whether n sums its products over the batch axes; checks the axes.
bool sums_batch(const ir::Node& n, const ir::Shape& a, const ir::Shape& b) {
  if (n.attrs.axes.empty()) return false;
  std::vector<int64_t> all;
  for (size_t i = 0; i + 2 < a.size(); ++i) all.push_back(static_cast<int64_t>(i));
  if (all.empty() || n.attrs.axes != all || a.size() != b.size() ||
      !std::equal(a.begin(), a.end() - 2, b.begin()))
    throw ShapeError(fmt::format(
        "matmul of {} and {} summed over axes {}: the sum takes every batch axis ([0 .. rank-3]) of operands "
        "with the same batch axes",
        ir::shape_str(a), ir::shape_str(b), fmt::join(n.attrs.axes, ", ")));
  return true;
}
}  // namespace

ir::TensorType MatMul::infer(const ir::Node& n, std::span<const ir::TensorType> in) {
  const ir::Shape& a = in[0].shape;
  const ir::Shape& b = in[1].shape;
  if (a.size() < 2 || b.size() < 2)
    throw ShapeError(fmt::format("matmul needs operands of rank >= 2, got {} and {}",
                                 ir::shape_str(a), ir::shape_str(b)));
  if (in[0].dtype != in[1].dtype) throw ShapeError("matmul operands have different dtypes");
  const Dims d = contraction(n, a, b);
  if (sums_batch(n, a, b)) return {in[0].dtype, {d.m, d.n}};
  const ir::Shape lb = logical_b(n, b);
  ir::Shape batch = broadcast_shapes(ir::Shape(a.begin(), a.end() - 2), ir::Shape(lb.begin(), lb.end() - 2));
  batch.push_back(d.m);
  batch.push_back(d.n);
  return {in[0].dtype, batch};
}

// A packed kernel's panels (P, K, w) side by side again: (K, P·w).
RefTensor unpack_panels(const RefTensor& p) {
  const int64_t P = p.shape[0], K = p.shape[1], w = p.shape[2];
  RefTensor m{{K, P * w}, std::vector<double>(p.data.size())};
  for (int64_t q = 0; q < P; ++q)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < w; ++j) m.data[k * P * w + q * w + j] = p.data[(q * K + k) * w + j];
  return m;
}

RefTensor MatMul::reference(const ir::Node& n, std::span<const RefTensor* const> in) {
  const RefTensor& a = *in[0];
  const RefTensor unpacked = n.attrs.packed_b ? unpack_panels(*in[1]) : RefTensor{};
  const RefTensor& b = n.attrs.packed_b ? unpacked : *in[1];
  const size_t ra = a.shape.size(), rb = b.shape.size();
  const int64_t M = n.attrs.transpose_a ? a.shape[ra - 1] : a.shape[ra - 2];
  const int64_t K = n.attrs.transpose_a ? a.shape[ra - 2] : a.shape[ra - 1];
  const int64_t N = n.attrs.transpose_b ? b.shape[rb - 2] : b.shape[rb - 1];
  const size_t rank = std::max(ra, rb);
  std::vector<int64_t> shape(rank);
  for (size_t i = 0; i + 2 < rank; ++i) {
    const auto dim = [&](const RefTensor& t) {
      const size_t r = t.shape.size();
      return i + r >= rank ? t.shape[i + r - rank] : int64_t{1};
    };
    shape[i] = std::max(dim(a), dim(b));
  }
  shape[rank - 2] = M;
  shape[rank - 1] = N;
  RefTensor out{shape, std::vector<double>(ref_elements(shape))};
  const int64_t batches = out.size() / (M * N);
  const auto bstride = [&](const RefTensor& t) {  // element offset of batch index `bi`
    return [&t, &shape, rank](int64_t bi) {
      const size_t r = t.shape.size();
      int64_t off = 0, stride = t.shape[r - 1] * t.shape[r - 2];
      for (int d = static_cast<int>(rank) - 3; d >= 0; --d) {
        const int64_t idx = bi % shape[d];
        bi /= shape[d];
        const int td = d - static_cast<int>(rank - r);
        if (td >= 0) {
          if (t.shape[td] != 1) off += idx * stride;
          stride *= t.shape[td];
        }
      }
      return off;
    };
  };
  const auto aoff = bstride(a), boff = bstride(b);
  for (int64_t bi = 0; bi < batches; ++bi) {
    const double* A = a.data.data() + aoff(bi);
    const double* B = b.data.data() + boff(bi);
    double* C = out.data.data() + bi * M * N;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double av = n.attrs.transpose_a ? A[k * M + i] : A[i * K + k];
          const double bv = n.attrs.transpose_b ? B[j * K + k] : B[k * N + j];
          acc += av * bv;
        }
        C[i * N + j] = acc;
      }
  }
  if (n.attrs.axes.empty()) return out;
  RefTensor sum{{M, N}, std::vector<double>(M * N, 0.0)};
  for (int64_t bi = 0; bi < batches; ++bi)
    for (int64_t e = 0; e < M * N; ++e) sum.data[e] += out.data[bi * M * N + e];
  return sum;
}

Halide::Func MatMul::lower(codegen::LowerCtx& ctx, const ir::Node& n) {
  using namespace Halide;
  const ir::Shape& as = ctx.in_type(n, 0).shape;
  const ir::Shape& bs = ctx.in_type(n, 1).shape;
  const int rank = n.type.rank();
  std::vector<Var> v = codegen::axis_vars(rank);
  Var m = v[rank - 2], nn = v[rank - 1];
  const Dims d = contraction(n, as, bs);
  if (sums_batch(n, as, bs)) {
    // acc(n, m) = Σ_{k, batch} a(k, m, batch) b(n, k, batch): the batch axes
    // are reduction variables after k.
    Region ranges{{0, ctx.extent(d.k)}};
    for (size_t i = 0; i + 2 < as.size(); ++i) ranges.emplace_back(0, ctx.extent(as[as.size() - 3 - i]));
    RDom r(ranges, "kb");
    std::vector<Expr> batch;  // Halide order: innermost batch axis first
    for (int i = 1; i < r.dimensions(); ++i) batch.push_back(r[i]);
    const auto idx = [&](Expr row, Expr col) {
      std::vector<Expr> x{col, row};
      x.insert(x.end(), batch.begin(), batch.end());
      return x;
    };
    Func acc(codegen::func_name(n, "_acc"));
    acc(nn, m) = cast(ctx.type, 0);
    acc(nn, m) += ctx.in(n, 0)(n.attrs.transpose_a ? idx(r[0], m) : idx(m, r[0])) *
                  ctx.in(n, 1)(n.attrs.transpose_b ? idx(nn, r[0]) : idx(r[0], nn));
    Func mm(codegen::func_name(n));
    mm(nn, m) = acc(nn, m);
    ctx.stages[n.id] = {acc};
    return mm;
  }
  RDom k(0, ctx.extent(d.k), "k");
  // Operand index: broadcast batch axes of size 1 read element 0.
  const auto operand = [&](const ir::Shape& s, Expr row, Expr col) {
    std::vector<Expr> idx(s.size());
    const size_t off = rank - s.size();
    for (size_t a = 0; a + 2 < s.size(); ++a)
      idx[a] = (s[a].is_static() && s[a].size == 1 && n.type.shape[off + a] != ir::Dim(1)) ? Expr(0) : Expr(v[off + a]);
    idx[s.size() - 2] = row;
    idx[s.size() - 1] = col;
    return idx;
  };
  const auto a_idx = n.attrs.transpose_a ? operand(as, k, m) : operand(as, m, k);
  if (n.attrs.packed_b) {
    // acc(j, p, m) = sum_k a(k, m) * panels(j, k, p), column p·w + j: the
    // accumulator is indexed by panel, so a tile's loads never divide.
    const int w = static_cast<int>(bs[2].size);
    Var p("p"), j("j");
    std::vector<Var> av(v.begin(), v.end() - 1);
    av.push_back(p);
    av.push_back(j);
    Func acc(codegen::func_name(n, "_acc"));
    codegen::at(acc, av) = cast(ctx.type, 0);
    codegen::at(acc, av) += codegen::at(ctx.in(n, 0), a_idx) * codegen::at(ctx.in(n, 1), std::vector<Expr>{p, k, j});
    std::vector<Expr> mv(v.begin(), v.end() - 1);
    mv.push_back(nn / w);
    mv.push_back(nn % w);
    Func mm(codegen::func_name(n));
    codegen::at(mm, v) = codegen::at(acc, mv);
    ctx.stages[n.id] = {acc};
    return mm;
  }
  const auto b_idx = n.attrs.transpose_b ? operand(bs, nn, k) : operand(bs, k, nn);

  // THE ALGORITHM: acc(n, m) = sum_k a(k, m) * b(n, k)   (Halide dim order)
  Func acc(codegen::func_name(n, "_acc"));
  codegen::at(acc, v) = cast(ctx.type, 0);
  codegen::at(acc, v) += codegen::at(ctx.in(n, 0), a_idx) * codegen::at(ctx.in(n, 1), b_idx);
  Func mm(codegen::func_name(n));
  codegen::at(mm, v) = codegen::at(acc, v);
  ctx.stages[n.id] = {acc};
  return mm;
}

// THE SCHEDULE. The accumulator of each output tile lives in registers and
// its consumers (bias, activation) are applied as the tile is stored, so
// Dense + bias + activation is one pass over the output. Measurements behind
// each choice (AMD EPYC, AVX-512, 2 threads, peak 447 GFLOP/s measured) are in
// docs/scheduling.md; the figures quoted here are from that table.

// A product summed over samples (see ops/matmul.h): threads take blocks of
// output columns; in a block, per sample (the outer
// reduction loop), each register tile sums the sample's steps, the tile's
// columns of the right operand copied contiguous first (`panel`; in place,
// rows 4 KiB apart fell into the same L1 sets), the left operand's sample
// rows in L2. Rows in parallel inside each sample instead streamed the
// sample's whole right operand through every task (7.0 ms for lstm256's
// dR); a tile summing all samples at once streamed them from memory once
// per tile (13.6 ms). lstm256's weight gradients: dW 4.4 and 2.2 ms as
// batched products plus reduce_sum, 2.7 and 1.2 ms this way. Tiles of 4
// vectors by 4 rows when they tile the output whole (16 accumulators fed by
// 4 broadcasts a step rather than 8 by 2 x 8): dR 4.6-4.9 -> 4.3-4.7 ms,
// the projection's dW 2.5-3.1 -> 2.5-2.9, the head's 1.1-1.5 -> 1.1-1.3.
void schedule_sample_sum(codegen::ScheduleCtx& s, Halide::Func acc, int update, Halide::Func panel, int narrow) {
  using namespace Halide;
  const int v = s.vector_width;
  Var n = s.out_vars[1], m = s.out_vars[0];
  const ir::Dim N = s.anchor.type.shape[1], M = s.anchor.type.shape[0];
  const int lanes = N.is_static() ? static_cast<int>(std::min<int64_t>(N.size, v)) : v;
  const bool wide = N.is_static() && M.is_static() && N.size % (4 * v) == 0 && M.size % 4 == 0;
  const int width = wide ? 4 * v : narrow;
  s.out.vectorize(n, lanes, TailStrategy::GuardWithIf);
  acc.compute_root().vectorize(n, lanes, TailStrategy::GuardWithIf);
  const std::vector<RVar> r = codegen::update_rvars(acc, update);
  const bool big = N.is_static() && M.is_static() && N.size * M.size >= (1 << 14);
  const int64_t tiles = N.is_static() ? (N.size + width - 1) / width : 1;
  const int blocks = big ? 4 : 1;
  Var mo("mo"), mi("mi"), no("no"), ni("ni"), nb("nb"), nt("nt");
  Stage up = acc.update(update);
  // Row tiles that divide the rows: Halide 14 miscompiled the unrolled rows
  // of a guarded tail here (7 rows by 8: row 6 came out wrong).
  int rows = M.is_static() ? static_cast<int>(std::min<int64_t>(M.size, wide ? 4 : 8)) : 1;
  while (M.is_static() && M.size % rows != 0) --rows;
  up.split(m, mo, mi, rows, TailStrategy::GuardWithIf)
      .split(n, no, ni, width, TailStrategy::GuardWithIf)
      .split(no, nb, nt, static_cast<int>((tiles + blocks - 1) / blocks), TailStrategy::GuardWithIf);
  std::vector<VarOrRVar> order{ni, mi, r[0], mo, nt};
  order.insert(order.end(), r.begin() + 1, r.end());
  order.push_back(nb);
  up.reorder(order).vectorize(ni, lanes, TailStrategy::GuardWithIf).unroll(mi);
  // (Unrolled vectors with a guarded tail: Halide 14 again stored a wrong
  // vector, 37 columns; only whole tiles unroll.)
  if (N.is_static() && N.size % width == 0) up.unroll(ni);
  if (blocks > 1) up.parallel(nb);
  panel.compute_at(acc, nt).vectorize(panel.args()[0], lanes, TailStrategy::GuardWithIf);
}

void MatMul::schedule(codegen::ScheduleCtx& s) {
  using namespace Halide;
  Func acc = s.lower.stages.at(s.anchor.id)[0];
  if (!s.anchor.attrs.axes.empty()) {  // summed over the batch
    const ir::Dim N = s.anchor.type.shape[1];
    const int v = s.vector_width;
    const int narrow = N.is_static() && N.size >= 2 * v ? 2 * v : N.is_static() ? static_cast<int>(std::min<int64_t>(N.size, v)) : v;
    // The left operand read in place: copied per sample as the recurrent
    // kernel's gradient copies h_{t-1}, lstm256's head dW (hᵀ dy, h rows
    // 6 KiB apart) ran 1.05-1.17x the time and the projection's 1.01-1.03x.
    return schedule_sample_sum(s, acc, 0, Func(s.lower.in(s.anchor, 1)).in(acc), narrow);
  }
  const int rank = static_cast<int>(s.out_vars.size());
  const int v = s.vector_width;
  Var n = s.out_vars[rank - 1], m = s.out_vars[rank - 2];
  const ir::Dim N = s.anchor.type.shape[rank - 1];
  const ir::TensorType& a_type = s.lower.in_type(s.anchor, 0);
  const ir::Dim K = a_type.shape[a_type.rank() - (s.anchor.attrs.transpose_a ? 2 : 1)];
  RVar k = codegen::update_rvars(acc)[0];
  const OutputImageParam ob = s.out.output_buffer();
  const Expr M = ob.dim(1).extent();
  Expr rows = M;  // all output rows, batch axes included
  for (int d = 2; d < rank; ++d) rows = rows * ob.dim(d).extent();
  // Fork-join on Halide's thread pool costs a few microseconds: below about a
  // million multiply-adds one thread is faster (K=3 Dense on 4096 rows:
  // 49 µs parallel over 512 tiles, 2.2 µs serial).
  // A weight gradient's contraction is the batch, known at run time.
  const bool batch_k = !K.is_static() && s.anchor.attrs.transpose_a && N.is_static();
  const Expr batch = batch_k ? s.lower.extent(K) : Expr();
  const Expr big = K.is_static() && N.is_static() ? rows * static_cast<int>(N.size * K.size) >= (1 << 20)
                   : batch_k ? cast<int64_t>(rows) * static_cast<int>(N.size) * batch >= (1 << 20)
                             : rows >= 256;
  // Short static contractions are unrolled: the loop overhead dominates them.
  const bool unroll_k = K.is_static() && K.size <= 16;
  Var no("no"), mo("mo"), ni("ni"), mi("mi"), mio("mio"), mii("mii");

  // The row-tile loop fused with the batch axes into one loop, parallel or not.
  const auto outer_loop = [&](Stage st, Var first, bool parallel) {
    Var outer = first;
    for (int a = rank - 3; a >= 0; --a) {
      Var f("outer" + std::to_string(a));
      st.fuse(outer, s.out_vars[a], f);
      outer = f;
    }
    if (parallel) st.parallel(outer);
  };

  if (!N.is_static()) {
    // Output width only known at run time: guard every tail.
    s.out.tile(n, m, no, mo, ni, mi, v, 4, TailStrategy::GuardWithIf).vectorize(ni);
    outer_loop(s.out, mo, true);
    acc.compute_at(s.out, no).vectorize(n, v, TailStrategy::GuardWithIf);
    acc.update().reorder(n, m, k).vectorize(n, v, TailStrategy::GuardWithIf);
    return;
  }

  if (N.size < v / 2 && s.anchor.attrs.transpose_a && rank == 2) {
    // A narrow weight gradient (xᵀ g of a Dense(2): 8192 x 2 over a batch of
    // 4): vectors run down the output's rows, which are contiguous in the
    // transposed left operand, and the few columns are unrolled. One row at a
    // time read that operand with a stride of M (38 µs; this: ~3).
    // Threads take blocks of 16 vectors: one vector per task drowned in
    // the thread pool's overhead.
    for (const bool parallel : {true, false}) {
      Stage st = parallel ? Stage(s.out.specialize(big && M >= 32 * v)) : Stage(s.out);
      if (parallel) st.split(m, mio, m, 16 * v, TailStrategy::GuardWithIf).parallel(mio);
      st.split(m, mo, mi, v, TailStrategy::GuardWithIf).reorder(n, mi, mo).vectorize(mi).unroll(n);
    }
    acc.compute_at(s.out, mo).vectorize(m, v, TailStrategy::GuardWithIf).unroll(n);
    acc.update().reorder(m, n, k).vectorize(m, v, TailStrategy::GuardWithIf).unroll(n);
    if (unroll_k) acc.update().unroll(k);
    return;
  }

  if (N.size < v / 2 && K.is_static() && K.size >= 8 * v && !s.anchor.attrs.transpose_a) {
    // A few long dot products per row (Dense(2) after a Flatten, K = 7200):
    // the contraction split into vector-wide pieces summed lane by lane
    // (rfactor), four rows at a time so that each load of the narrow kernel
    // (deinterleaved from its stride of N) serves four rows. seed_conv's
    // head: 81 µs one row at a time, 28 µs this way. The lane sums must be
    // stored lane-innermost: left outermost (rfactor's order) every vector
    // was a scatter, slower than the scalar loop.
    const int tm4 = 4;
    RVar ko("ko"), ki("ki");
    Var u("u");
    for (const bool parallel : {true, false}) {
      Stage st = parallel ? Stage(s.out.specialize(big && M >= 2 * tm4)) : Stage(s.out);
      st.split(m, mo, mi, tm4, TailStrategy::GuardWithIf).unroll(mi).unroll(n);
      outer_loop(st, mo, parallel);
    }
    Func lanes_acc = acc.update().split(k, ko, ki, v).rfactor(ki, u);
    std::vector<Var> storage = lanes_acc.args();  // rfactor appends u; store it innermost
    storage.insert(storage.begin(), storage.back());
    storage.pop_back();
    lanes_acc.reorder_storage(storage);
    lanes_acc.compute_at(s.out, mo).vectorize(u).unroll(n).unroll(m);
    lanes_acc.update().reorder(u, n, m, ko).vectorize(u).unroll(n).unroll(m);
    acc.compute_at(s.out, mo);
    return;
  }

  if (N.size < v / 2) {
    // A few short dot products per row (K below 8 vectors): one row at a
    // time, the contraction left to LLVM.
    for (const bool parallel : {true, false}) {
      Stage st = parallel ? Stage(s.out.specialize(big)) : Stage(s.out);
      st.split(m, mo, mi, 16, TailStrategy::GuardWithIf);
      outer_loop(st, mo, parallel);
    }
    acc.compute_at(s.out, mi);
    if (unroll_k) acc.update().unroll(k);
    return;
  }

  // Register tile tn x tm: three vectors by eight rows use 24 of the 32
  // vector registers (plus three for the kernel row and one broadcast), enough
  // independent FMA chains for both FMA pipes. The tile width must be a
  // multiple of the vector width (the accumulator's update cannot shift a
  // partial vector inwards), so narrower outputs take one or two vectors, or
  // the whole row as one short vector.
  int tn = N.size >= 3 * v ? 3 * v : N.size >= 2 * v ? 2 * v : N.size >= v ? v : static_cast<int>(N.size);
  int tm = 8;
  // Large outputs: blocks of mb rows by tn columns per task, and the
  // contraction split in kb-long pieces so that the kb x tn slice of the
  // kernel stays in L1 while all the block's row tiles pass over it. This took
  // mlp_b256's first layer from 370 to ~390 GFLOP/s (kb = 196, mb = 64).
  const int mb = 64;
  int kb = 0;
  if (K.is_static() && K.size > 256)
    for (int c = 256; c >= 128 && !kb; --c)
      if (K.size % c == 0) kb = c;
  // A contraction over the batch (a Dense's weight gradient xᵀ g, K = the
  // batch, known only at run time) is split in 128-long pieces, the last
  // guarded: unblocked, each row tile sweeps a K x 48 slice of g, which for
  // large batches streams from L2 or L3 once per 8 output rows (see
  // docs/scheduling.md).
  if (batch_k) kb = 128;
  // A large kernel is blocked the same way even when its contraction is not
  // split (it is short, or no 128..256 piece divides it): row tiles that
  // each swept all of it streamed it from beyond L2, and two threads ran
  // slower than one (3200 x 256 x 1024: 20 ms on two threads, 15 on one;
  // blocked, 10.8 ms). Short contractions gain only from larger kernels
  // (K = 128: 1 MiB or more; K = 64 lost at 1 MiB); measured in
  // docs/scheduling.md.
  const int64_t kernel_bytes = K.is_static() ? K.size * N.size * s.lower.type.bytes() : 0;
  const bool whole_k = !kb && K.is_static() &&
                       ((K.size >= 192 && kernel_bytes >= (512 << 10)) || (K.size >= 128 && kernel_bytes >= (1 << 20)));
  if (whole_k) kb = static_cast<int>(K.size);
  // Rows per batch sample that 8 does not divide (a Dense on 50-step
  // sequences): the last tile, shifted inwards, recomputed 6 of every 56
  // rows. Five rows by four vectors (20 accumulators, about as many kernel
  // loads per FMA) divide 50: lstm256's head 1.20 -> 0.98 ms.
  const ir::Dim rows_per_sample = s.anchor.type.shape[rank - 2];
  if (!kb && rank > 2 && rows_per_sample.is_static() && rows_per_sample.size % 8 != 0 &&
      rows_per_sample.size % 5 == 0 && N.size % (4 * v) == 0) {
    tm = 5;
    tn = 4 * v;
  }
  const int lanes = std::min(tn, v);

  // Tiles are counted in columns, or with a packed kernel in panels: the
  // output's columns split by the panel width first (exactly: the pass packs
  // only kernels whose width it divides), so that a tile, even the last one
  // shifted inwards, covers whole panels and reads each as one contiguous
  // stream; the accumulator is indexed by (lane, panel, row).
  const bool packed = s.anchor.attrs.packed_b;
  const int w = packed ? static_cast<int>(s.lower.in_type(s.anchor, 1).shape[2].size) : 0;
  const int plane = packed ? std::min(w, v) : lanes;
  Var cols = n;
  int tile_cols = tn;
  int64_t col_units = N.size;
  if (packed) {
    Var np("np"), nj("nj");
    s.out.split(n, np, nj, w, TailStrategy::GuardWithIf).vectorize(nj, plane).unroll(nj);
    cols = np;
    tile_cols = std::max(1, tn / w);
    col_units = N.size / w;
  }
  const auto columns = [&](Stage st) {
    if (packed) st.unroll(ni);
    else st.vectorize(ni, lanes);
  };
  const auto register_tiles = [&](Stage st, int rows_per_tile, bool parallel) {
    st.tile(cols, m, no, mo, ni, mi, tile_cols, rows_per_tile, TailStrategy::ShiftInwards).unroll(mi);
    columns(st);
    outer_loop(st, mo, parallel);
  };
  // The last block is shifted inwards, recomputing rows: a whole-K blocking
  // only when that is at most an eighth more work (3200 x 256 x 1024 on 200
  // rows: 16% slower blocked; 256 rows: 24% faster).
  Expr use_blocks = M >= mb && big;
  if (whole_k) use_blocks = use_blocks && (M + mb - 1) / mb * mb * 8 <= M * 9;
  // Below a batch of 512 the row tiles are as fast or faster (mlp_b256's
  // gradient graph, blocked from 129 rows of batch: 1.03x the time at 256,
  // 1.01 at 384, 0.99 at 512, 0.83 at 1024, 0.77 at 2048).
  if (batch_k) use_blocks = use_blocks && batch >= 4 * kb;
  if (kb) {
    Stage blocked = s.out.specialize(use_blocks);
    blocked.tile(cols, m, no, mo, ni, mi, tile_cols, mb, TailStrategy::ShiftInwards).split(mi, mio, mii, tm).unroll(mii);
    columns(blocked);
    // Tasks are (row block, half of the column tiles) pairs: with one task
    // per row block, 64 rows ran on one thread (64 x 784 x 512: 1.7x
    // faster in halves).
    const int64_t col_tiles = (col_units + tile_cols - 1) / tile_cols;
    if (col_tiles >= 2) {
      Var nb("nb"), task("task");
      blocked.split(no, nb, no, static_cast<int>((col_tiles + 1) / 2), TailStrategy::GuardWithIf)
          .reorder(ni, mii, mio, no, mo, nb)
          .fuse(mo, nb, task);
      outer_loop(blocked, task, true);
    } else {
      outer_loop(blocked, mo, true);
    }
  }
  register_tiles(s.out.specialize(M >= tm && big), tm, true);
  register_tiles(s.out.specialize(M >= tm), tm, false);
  register_tiles(s.out, 1, false);
  // The accumulator's columns: n, or (lane j, panel p).
  const std::vector<Var> acc_args = acc.args();
  const Var lane = acc_args[0];
  std::vector<VarOrRVar> acc_cols{lane};
  if (packed) acc_cols.push_back(acc_args[1]);
  const auto vector_cols = [&](auto st) {
    st.vectorize(lane, plane).unroll(lane);
    if (packed) st.unroll(acc_args[1]);
  };
  vector_cols(acc.compute_at(s.out, no));
  if (kb) {
    // In the blocked branch the accumulator covers mb rows; in the others tm
    // or 1. Splitting its rows by tm keeps the register tile in each case.
    RVar ko("ko"), ki("ki");
    Var am("am"), ami("ami");
    Stage st = acc.update().specialize(use_blocks);
    std::vector<VarOrRVar> order = acc_cols;
    order.insert(order.end(), {ami, ki, am, ko});
    st.split(k, ko, ki, kb).split(m, am, ami, tm).reorder(order).unroll(ami);
    vector_cols(st);
  }
  std::vector<VarOrRVar> order = acc_cols;
  order.insert(order.end(), {m, k});
  vector_cols(acc.update().reorder(order).unroll(m));
  if (unroll_k) acc.update().unroll(k);
  if (s.anchor.attrs.transpose_b && !(K.is_static() && K.size < v)) {
    // A transposed right operand (dX = g Wᵀ in a backward pass, q kᵀ in
    // attention) is read across its rows: vector loads along the output
    // width would be gathers with a stride of K. The accumulator reads a
    // copy stored the other way round instead, made once per call
    // (mlp_b256 backward, 512 x 512: see docs/scheduling.md). Under a vector
    // of contraction the copy costs as much as the product it serves.
    Func b = s.lower.in(s.anchor, 1);
    Func bt = b.in(acc);
    const std::vector<Var> args = bt.args();
    std::vector<Var> storage = args;
    std::swap(storage[0], storage[1]);
    Var bo("bto"), bi("bti"), co("btco"), ci("btci");
    bt.compute_root().reorder_storage(storage);
    // In 16 x 16 tiles, rows of tiles in parallel: the single-threaded
    // row-by-row copy cost 1150 µs of a 256 x 512 x 512 product (this one:
    // 367 µs, the untransposed product 331 µs). Small operands stay on one
    // thread, like the product itself.
    bt.tile(args[1], args[0], bo, co, bi, ci, 16, 16, TailStrategy::GuardWithIf).vectorize(bi).unroll(ci);
    const ir::TensorType& b_type = s.lower.in_type(s.anchor, 1);
    int64_t b_elems = 1;
    for (const ir::Dim& d : b_type.shape) b_elems = d.is_static() ? b_elems * d.size : (1 << 30);
    if (b_elems >= (1 << 16)) bt.parallel(co);
  }
}

std::vector<OpSample> MatMul::samples(ir::Op) {
  ir::Attrs ta, tb, sum_ta, sum2, packed;
  packed.packed_b = true;
  ta.transpose_a = true;
  tb.transpose_b = true;
  sum_ta.transpose_a = true;
  sum_ta.axes = {0};
  sum2.axes = {0, 1};
  return {{"dense, wide (tiled, tails)", {{"N", 40}, {40, 70}}, {}},
          {"dense, narrow output", {{"N", 17}, {17, 10}}, {}},
          {"dense, long K, 2 outputs (rfactor)", {{"N", 300}, {300, 2}}, {}},
          {"dense on rank 3", {{"N", 5, 15}, {15, 33}}, {}},
          {"dense on 10-step sequences (tiles of 5 rows by 4 vectors)", {{"N", 10, 6}, {6, 64}}, {}},
          {"dynamic output width", {{15, 17}, {17, "N"}}, {}},
          {"batched, broadcast batch", {{"N", 3, 7}, {1, 7, 5}}, {}},
          {"transpose_a", {{"N", 7, 3}, {"N", 7, 5}}, ta},
          {"transpose_a, narrow (weight gradient of a Dense(2))", {{"N", 40}, {"N", 2}}, ta},
          {"transpose_b", {{"N", 4, 8}, {"N", 6, 8}}, tb},
          {"summed over the batch (a Dense-on-sequences weight gradient)", {{"N", 5, 7}, {"N", 5, 37}}, sum_ta},
          {"summed over two batch axes", {{2, "N", 3, 4}, {2, "N", 4, 5}}, sum2},
          {"packed kernel (3 panels of 16 columns)", {{"N", 9}, {3, 9, 16}}, packed},
          {"packed kernel on rank 3", {{"N", 5, 7}, {2, 7, 16}}, packed}};
}

// y = op(A) op(B), g = dL/dy, op = optional transpose of the last two axes:
//   no transposes: dA = g Bᵀ,   dB = Aᵀ g
//   transpose_b:   dA = g B,    dB = gᵀ A
//   transpose_a:   dA = B gᵀ,   dB = A g
//   both:          dA = Bᵀ gᵀ,  dB = gᵀ Aᵀ
// then summed over the batch axes an operand was broadcast along (for Dense on
// a (N, 32, 32, 3) input: dkernel sums over N and 32).
std::vector<int> MatMul::vjp(ir::GraphBuilder& b, const ir::Node& n, int g) {
  if (n.attrs.packed_b) {
    // The product of the kernel unpacked, its gradient packed like it.
    const ir::Shape ps = b.shape(n.inputs[1]);
    ir::Node plain = n;
    plain.attrs.packed_b = false;
    plain.inputs[1] = b.reshape(b.transpose(n.inputs[1], {1, 0, 2}), {ps[1], ir::Dim(ps[0].size * ps[2].size)});
    std::vector<int> d = vjp(b, plain, g);
    ir::Attrs pa;
    pa.axes = {ps[2].size};
    d[1] = b.op(ir::Op::PackPanels, {d[1]}, pa);
    return d;
  }
  const int A = n.inputs[0], B = n.inputs[1];
  const bool ta = n.attrs.transpose_a, tb = n.attrs.transpose_b;
  // A rank-2 operand of a product with batch axes (a Dense kernel on
  // sequences) gets its gradient as one product summed over the batch,
  // when the two factors have the same batch axes.
  const auto product = [&](int x, int y, bool tx, bool ty, int operand) {
    const ir::Shape xs = b.shape(x), ys = b.shape(y), target = b.shape(operand);
    if (target.size() == 2 && xs.size() > 2 && xs.size() == ys.size() && std::equal(xs.begin(), xs.end() - 2, ys.begin()))
      return b.summed_matmul(x, y, tx, ty);
    return b.unbroadcast(b.matmul(x, y, tx, ty), target);
  };
  int dA, dB;
  if (!ta && !tb) { dA = product(g, B, false, true, A); dB = product(A, g, true, false, B); }
  else if (!ta) { dA = product(g, B, false, false, A); dB = product(g, A, true, false, B); }
  else if (!tb) { dA = product(B, g, false, true, A); dB = product(A, g, false, false, B); }
  else { dA = product(B, g, true, true, A); dB = product(g, A, true, true, B); }
  return {dA, dB};
}

}  // namespace brine::ops
