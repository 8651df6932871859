using System.Numerics.Tensors;
using Sprout.Kernels;
using Sprout.Tensors;

namespace Sprout.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Locally connected 2-D layer (an unshared convolution, Keras LocallyConnected2D): x [N, C, H, W],
    /// w [P, K, F] with P = OH·OW output positions and K = C·KH·KW taps in im2col order (c, ki, kj), bias [P, F] or
    /// null → [N, F, OH, OW]. Valid padding. When <paramref name="weightMask"/> [P, K, F] is given, the weight gradient is
    /// multiplied by it, so weights that start at zero under the mask stay exactly zero.
    /// </summary>
    public static Tensor LocallyConnected2d(Tensor x, Tensor w, Tensor? b, int kernelH, int kernelW, int strideH = 1, int strideW = 1,
        Tensor? weightMask = null)
    {
        if (x.Rank != 4 || w.Rank != 3) throw new ArgumentException("LocallyConnected2d needs x [N,C,H,W] and w [P,K,F]");
        int n = x.Dim(0), c = x.Dim(1), h = x.Dim(2), wd = x.Dim(3);
        var g = new ConvGeometry(c, h, wd, kernelH, kernelW, strideH, strideW, 0, 0);
        int oh = g.OH, ow = g.OW, p = oh * ow, k = g.K, f = w.Dim(2);
        if (oh <= 0 || ow <= 0) throw new ArgumentException($"LocallyConnected2d: a {kernelH}x{kernelW} kernel does not fit {h}x{wd}");
        if (w.Dim(0) != p || w.Dim(1) != k)
            throw new ArgumentException($"LocallyConnected2d: weight {Tensor.FormatShape(w.Shape)} does not match {p} positions × {k} taps for input {Tensor.FormatShape(x.Shape)}");
        if (b is not null && (b.Rank != 2 || b.Dim(0) != p || b.Dim(1) != f)) throw new ArgumentException($"LocallyConnected2d: bias must be [{p}, {f}]");
        if (weightMask is not null && !Tensor.SameShape(weightMask.Shape, w.Shape)) throw new ArgumentException("LocallyConnected2d: mask shape differs from weight");

        // patches [P, N, K]: patches[pos, i, :] = the input window of image i at position pos
        var patches = NewOut([p, n, k]);
        var yp = NewOut([p, n, f]);
        int threads = Workers.Threads > 1 && (long)n * p * k * f >= 1L << 20 ? Workers.Threads : 1;
        var cols = ColumnBuffers(threads, k * p);
        Workers.Run(threads, part =>
        {
            var (s, e) = Range(n, part, threads);
            var col = cols[part].Span;
            var ps = patches.Span;
            for (int i = s; i < e; i++)
            {
                ConvGemm.PackColumns(x.Span.Slice(i * c * h * wd, c * h * wd), g, 0, p, col, p);
                for (int kk = 0; kk < k; kk++)
                    for (int pos = 0; pos < p; pos++) ps[(pos * n + i) * k + kk] = col[kk * p + pos];
            }
        });
        Workers.Run(threads, part =>
        {
            var (s, e) = Range(p, part, threads);
            var ps = patches.Span;
            var ws = w.Span;
            var ys = yp.Span;
            for (int pos = s; pos < e; pos++)
            {
                var yo = ys.Slice(pos * n * f, n * f);
                if (b is not null)
                {
                    var brow = b.Span.Slice(pos * f, f);
                    for (int i = 0; i < n; i++) brow.CopyTo(yo.Slice(i * f, f));
                }
                // y_pos [N, F] (+)= patches_pos [N, K] · W_pos [K, F]
                Gemm.Multiply(n, f, k, ps.Slice(pos * n * k, n * k), k, false, ws.Slice(pos * k * f, k * f), f, false, yo, f, b is not null);
            }
        });
        var y = NewOut([n, f, oh, ow]);
        {
            var ys = y.Span;
            var src = yp.Span;
            for (int pos = 0; pos < p; pos++)
                for (int i = 0; i < n; i++)
                    for (int ff = 0; ff < f; ff++) ys[(i * f + ff) * p + pos] = src[(pos * n + i) * f + ff];
        }
        if (!Graph.Needs(x, w, b)) return y;
        Graph.Record(y, "LocallyConnected2d", b is null ? [x, w] : [x, w, b], () =>
        {
            var gy = y.Grad!.Span;
            var gp = NewOut([p, n, f]);
            var gps = gp.Span;
            for (int i = 0; i < n; i++)
                for (int ff = 0; ff < f; ff++)
                    for (int pos = 0; pos < p; pos++) gps[(pos * n + i) * f + ff] = gy[(i * f + ff) * p + pos];
            Tensor? gw = null;
            bool gwFresh = false;
            if (w.RequiresGrad) gw = w.GradBuffer(out gwFresh);
            var dpatches = x.RequiresGrad ? NewOut([p, n, k]) : null;
            Workers.Run(threads, part =>
            {
                var (s, e) = Range(p, part, threads);
                var ps = patches.Span;
                var ws = w.Span;
                var g2 = gp.Span;
                for (int pos = s; pos < e; pos++)
                {
                    var gpos = g2.Slice(pos * n * f, n * f);
                    if (gw is not null)
                    {
                        // dW_pos [K, F] (+)= patches_posᵀ [K, N] · dY_pos [N, F]
                        var d = gw.Span.Slice(pos * k * f, k * f);
                        Gemm.Multiply(k, f, n, ps.Slice(pos * n * k, n * k), k, true, gpos, f, false, d, f, !gwFresh);
                        if (weightMask is not null) TensorPrimitives.Multiply(d, weightMask.Span.Slice(pos * k * f, k * f), d);
                    }
                    if (dpatches is not null)
                    {
                        // dpatches_pos [N, K] = dY_pos [N, F] · W_posᵀ [F, K]
                        Gemm.Multiply(n, k, f, gpos, f, false, ws.Slice(pos * k * f, k * f), f, true, dpatches.Span.Slice(pos * n * k, n * k), k, false);
                    }
                }
            });
            if (b is not null && b.RequiresGrad)
            {
                var gb = b.GradBuffer(out bool fresh);
                var d = gb.Span;
                for (int pos = 0; pos < p; pos++)
                {
                    var dst = d.Slice(pos * f, f);
                    if (fresh) dst.Clear();
                    for (int i = 0; i < n; i++) TensorPrimitives.Add(dst, gps.Slice((pos * n + i) * f, f), dst);
                }
            }
            if (dpatches is not null)
            {
                var gx = x.GradBuffer(out bool fresh);
                if (fresh) gx.Span.Clear();
                var dcols = ColumnBuffers(threads, k * p);
                Workers.Run(threads, part =>
                {
                    var (s, e) = Range(n, part, threads);
                    var dcol = dcols[part].Span;
                    var dps = dpatches.Span;
                    for (int i = s; i < e; i++)
                    {
                        for (int kk = 0; kk < k; kk++)
                            for (int pos = 0; pos < p; pos++) dcol[kk * p + pos] = dps[(pos * n + i) * k + kk];
                        Im2Col.Backward(dcol, g, gx.Span.Slice(i * c * h * wd, c * h * wd), p);
                    }
                });
            }
        });
        return y;
    }
}
