using System.Numerics.Tensors;
using Sprout.Kernels;
using Sprout.Tensors;

namespace Sprout.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Matrix product of rank-2 tensors: op(a)·op(b), op = transpose when the flag is set.
    /// a: [m,k] (or [k,m] transposed), b: [k,n] (or [n,k] transposed) → [m,n].
    /// </summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        if (a.Rank != 2 || b.Rank != 2) throw new ArgumentException("MatMul needs rank-2 tensors");
        int m = transA ? a.Dim(1) : a.Dim(0);
        int k = transA ? a.Dim(0) : a.Dim(1);
        int kb = transB ? b.Dim(1) : b.Dim(0);
        int n = transB ? b.Dim(0) : b.Dim(1);
        if (k != kb)
            throw new ArgumentException($"MatMul: inner dimensions differ ({Tensor.FormatShape(a.Shape)}{(transA ? "ᵀ" : "")} · {Tensor.FormatShape(b.Shape)}{(transB ? "ᵀ" : "")})");
        var y = NewOut([m, n]);
        Gemm.Multiply(m, n, k, a.Span, a.Dim(1), transA, b.Span, b.Dim(1), transB, y.Span, n, false);
        if (!Graph.Needs(a, b)) return y;
        Graph.Record(y, "MatMul", [a, b], () =>
        {
            var g = y.Grad!;
            if (a.RequiresGrad)
            {
                // C = A B: dA = G Bᵀ; C = Aᵀ B (a stores Aᵀ): d(aᵀ)... stored grad of a = B Gᵀ
                var ga = a.GradBuffer(out bool fresh);
                if (!transA) Gemm.Multiply(m, k, n, g.Span, n, false, b.Span, b.Dim(1), !transB, ga.Span, k, !fresh);
                else Gemm.Multiply(k, m, n, b.Span, b.Dim(1), transB, g.Span, n, true, ga.Span, m, !fresh);
            }
            if (b.RequiresGrad)
            {
                var gbT = b.GradBuffer(out bool fresh);
                if (!transB) Gemm.Multiply(k, n, m, a.Span, a.Dim(1), !transA, g.Span, n, false, gbT.Span, n, !fresh);
                else Gemm.Multiply(n, k, m, g.Span, n, true, a.Span, a.Dim(1), transA, gbT.Span, k, !fresh);
            }
        });
        return y;
    }

    /// <summary>
    /// Fused affine map y = x·wᵀ + b (PyTorch's Linear layout): x [n, in], w [out, in], b [out] or null → [n, out].
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor w, Tensor? b)
    {
        if (x.Rank != 2 || w.Rank != 2) throw new ArgumentException("Linear needs x [n,in] and w [out,in]");
        int n = x.Dim(0), inF = x.Dim(1), outF = w.Dim(0);
        if (w.Dim(1) != inF)
            throw new ArgumentException($"Linear: input has {inF} features but weight is {Tensor.FormatShape(w.Shape)}");
        if (b is not null && (b.Rank != 1 || b.Dim(0) != outF))
            throw new ArgumentException($"Linear: bias {Tensor.FormatShape(b.Shape)} does not match {outF} outputs");
        var y = NewOut([n, outF]);
        var ys = y.Span;
        if (b is not null)
        {
            // bias rows (split over threads by rows for large outputs)
            Workers.For(n, (r0, rows) =>
            {
                var bs = b.Span;
                var yd = y.Span;
                for (int i = r0; i < r0 + rows; i++) bs.CopyTo(yd.Slice(i * outF, outF));
            }, minParallel: (long)n * outF >= 1 << 16 ? 16 : int.MaxValue);
        }
        Gemm.Multiply(n, outF, inF, x.Span, inF, false, w.Span, inF, true, ys, outF, accumulate: b is not null);
        if (!Graph.Needs(x, w, b)) return y;
        Graph.Record(y, "Linear", b is null ? [x, w] : [x, w, b], () =>
        {
            var g = y.Grad!.Span;
            if (x.RequiresGrad)
            {
                var gx = x.GradBuffer(out bool fresh); // dX = G W
                Gemm.Multiply(n, inF, outF, g, outF, false, w.Span, inF, false, gx.Span, inF, !fresh);
            }
            if (w.RequiresGrad)
            {
                var gw = w.GradBuffer(out bool fresh); // dW = Gᵀ X
                Gemm.Multiply(outF, inF, n, g, outF, true, x.Span, inF, false, gw.Span, inF, !fresh);
            }
            if (b is not null && b.RequiresGrad)
            {
                var gb = b.GradBuffer(out bool fresh); // db = column sums of G, threads take fixed column ranges
                Workers.For(outF, (c0, cols) =>
                {
                    var gs = y.Grad!.Span;
                    var d = gb.Span.Slice(c0, cols);
                    int i0 = 0;
                    if (fresh) { gs.Slice(c0, cols).CopyTo(d); i0 = 1; }
                    for (int i = i0; i < n; i++) TensorPrimitives.Add(d, gs.Slice(i * outF + c0, cols), d);
                }, minParallel: (long)n * outF >= 1 << 16 ? 16 : int.MaxValue);
            }
        });
        return y;
    }
}
