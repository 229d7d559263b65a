// Batched matrix multiply with NumPy matmul semantics: (..., M, K) @ (..., K, N)
// -> (..., M, N), batch axes broadcast; transpose_a / transpose_b swap the
// last two axes of an operand. Dense is this op with a rank-2 kernel.
#include "ops/matmul.h"

#include <Halide.h>
#include <fmt/format.h>

#include "codegen/lower_ctx.h"

namespace brine::ops {

namespace {
struct Dims { ir::Dim m, k, n; };

Dims contraction(const ir::Node& n, const ir::Shape& a, const ir::Shape& b) {
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
}  // namespace

ir::TensorType MatMul::infer(const ir::Node& n, std::span<const ir::TensorType> in) {
  const ir::Shape& a = in[0].shape;
  const ir::Shape& b = in[1].shape;
  if (a.size() < 2 || b.size() < 2)
    throw ShapeError(fmt::format("matmul needs operands of rank >= 2, got {} and {}",
                                 ir::shape_str(a), ir::shape_str(b)));
  if (in[0].dtype != in[1].dtype) throw ShapeError("matmul operands have different dtypes");
  const Dims d = contraction(n, a, b);
  ir::Shape batch = broadcast_shapes(ir::Shape(a.begin(), a.end() - 2), ir::Shape(b.begin(), b.end() - 2));
  batch.push_back(d.m);
  batch.push_back(d.n);
  return {in[0].dtype, batch};
}

RefTensor MatMul::reference(const ir::Node& n, std::span<const RefTensor* const> in) {
  const RefTensor& a = *in[0];
  const RefTensor& b = *in[1];
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
  return out;
}

Halide::Func MatMul::lower(codegen::LowerCtx& ctx, const ir::Node& n) {
  using namespace Halide;
  const ir::Shape& as = ctx.in_type(n, 0).shape;
  const ir::Shape& bs = ctx.in_type(n, 1).shape;
  const int rank = n.type.rank();
  std::vector<Var> v = codegen::axis_vars(rank);
  Var m = v[rank - 2], nn = v[rank - 1];
  const Dims d = contraction(n, as, bs);
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
// Dense + bias + activation is one pass over the output.
//
// Measured on mlp_b256 (784->512->512->10, batch 256, AMD EPYC, AVX-512,
// 2 threads): see docs/scheduling.md for the table.
void MatMul::schedule(codegen::ScheduleCtx& s) {
  using namespace Halide;
  Func acc = s.lower.stages.at(s.anchor.id)[0];
  const int rank = static_cast<int>(s.out_vars.size());
  const int v = s.vector_width;
  Var n = s.out_vars[rank - 1], m = s.out_vars[rank - 2];
  const ir::Dim N = s.anchor.type.shape[rank - 1];
  const ir::Dim K = s.lower.in_type(s.anchor, 0).shape[s.lower.in_type(s.anchor, 0).rank() - (s.anchor.attrs.transpose_a ? 2 : 1)];
  const Expr M = s.out.output_buffer().dim(1).extent();
  RVar k(acc.update().get_schedule().rvars()[0].var);
  Var no("no"), mo("mo"), ni("ni"), mi("mi");

  // Fuse the row-tile loop with the batch axes into one parallel loop.
  const auto parallel_outer = [&](Stage st, Var first) {
    Var outer = first;
    for (int a = rank - 3; a >= 0; --a) {
      Var f("outer" + std::to_string(a));
      st.fuse(outer, s.out_vars[a], f);
      outer = f;
    }
    st.parallel(outer);
  };

  if (N.is_static() && N.size < v / 2 && K.is_static() && K.size >= 16 * v) {
    // Few, long dot products (e.g. Dense(2) after a Flatten): vectorize the
    // contraction itself. rfactor gives each lane its own partial sum.
    RVar ko("ko"), ki("ki");
    Var u("u");
    Func partial = acc.update().split(k, ko, ki, v).rfactor(ki, u);
    acc.compute_at(s.out, m);
    partial.compute_at(s.out, m).vectorize(u);
    partial.update().reorder(u, n, ko).vectorize(u);
    return;
  }

  if (!N.is_static()) {
    // Output width only known at run time: guard every tail.
    s.out.tile(n, m, no, mo, ni, mi, v, 4, TailStrategy::GuardWithIf).vectorize(ni);
    parallel_outer(s.out, mo);  // no specialization here, so this covers every case
    acc.compute_at(s.out, no).vectorize(n, v, TailStrategy::GuardWithIf);
    acc.update().reorder(n, m, k).vectorize(n, v, TailStrategy::GuardWithIf);
    return;
  }

  // Register tile: tn x tm accumulators. Two vectors across the output row and
  // eight rows use 16 of the 32 vector registers, enough independent FMA
  // chains to hide the FMA latency on both pipes. The tile width must be a
  // multiple of the vector width (the accumulator's update cannot shift a
  // partial vector inwards), so narrower outputs take one vector, or the
  // whole row as one short vector.
  const int tn = N.size >= 2 * v ? 2 * v : N.size >= v ? v : static_cast<int>(N.size);
  const int tm = 8;
  const int lanes = std::min(tn, v);
  // Directives given after specialize() apply only to the fallback, so each
  // branch gets the whole loop nest: full row tiles when M >= tm, single rows
  // otherwise (ShiftInwards would step outside an output of fewer rows).
  const auto tile = [&](Stage st, int rows) {
    st.tile(n, m, no, mo, ni, mi, tn, rows, TailStrategy::ShiftInwards).vectorize(ni, lanes).unroll(mi);
    parallel_outer(st, mo);
  };
  tile(s.out.specialize(M >= tm), tm);
  tile(s.out, 1);
  acc.compute_at(s.out, no).vectorize(n, lanes).unroll(n).unroll(m);
  acc.update().reorder(n, m, k).vectorize(n, lanes).unroll(n).unroll(m);
}

std::vector<OpSample> MatMul::samples(ir::Op) {
  ir::Attrs ta, tb;
  ta.transpose_a = true;
  tb.transpose_b = true;
  return {{"dense, wide (tiled, tails)", {{"N", 40}, {40, 70}}, {}},
          {"dense, narrow output", {{"N", 17}, {17, 10}}, {}},
          {"dense, long K, 2 outputs (rfactor)", {{"N", 300}, {300, 2}}, {}},
          {"dense on rank 3", {{"N", 5, 15}, {15, 33}}, {}},
          {"dynamic output width", {{15, 17}, {17, "N"}}, {}},
          {"batched, broadcast batch", {{"N", 3, 7}, {1, 7, 5}}, {}},
          {"transpose_a", {{"N", 7, 3}, {"N", 7, 5}}, ta},
          {"transpose_b", {{"N", 4, 8}, {"N", 6, 8}}, tb}};
}

}  // namespace brine::ops
