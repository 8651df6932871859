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

        // the kernels pack the patches (and, in the Lanes layout, the weights) once; the backward reads them again
        var layout = LocallyConnected.Choose(p, k, f);
        int threads = Workers.Threads > 1 && (long)n * p * k * f >= 1L << 20 ? Workers.Threads : 1;
        var patches = NewOut([Math.Max(1, LocallyConnected.PatchesSize(layout, g, n))]);
        var packed = NewOut([Math.Max(1, LocallyConnected.PackedWeightsSize(layout, p, k, f))]);
        var y = NewOut([n, f, oh, ow]);
        {
            var work = NewOut([Math.Max(1, LocallyConnected.ForwardWorkSize(layout, n, p, f))]);
            LocallyConnected.Forward(layout, x.Span, g, n, w.Span, b is null ? default : b.Span, f, y.Span, patches.Span, packed.Span, work.Span, threads);
        }
        if (!Graph.Needs(x, w, b)) return y;
        Graph.Record(y, "LocallyConnected2d", b is null ? [x, w] : [x, w, b], () =>
        {
            bool dx = x.RequiresGrad, dw = w.RequiresGrad, db = b is not null && b.RequiresGrad;
            Tensor? gx = null, gw = null, gb = null;
            bool gxFresh = false, gwFresh = false, gbFresh = false;
            if (dx) gx = x.GradBuffer(out gxFresh);
            if (dw) gw = w.GradBuffer(out gwFresh);
            if (db) gb = b!.GradBuffer(out gbFresh);
            var work = NewOut([Math.Max(1, LocallyConnected.BackwardWorkSize(layout, g, n, f, dx, dw, db))]);
            LocallyConnected.Backward(layout, y.Grad!.Span, g, n, f, x.Span, w.Span, patches.Span, packed.Span,
                weightMask is null ? default : weightMask.Span,
                gx is null ? default : gx.Span, !gxFresh, gw is null ? default : gw.Span, !gwFresh, gb is null ? default : gb.Span, !gbFresh,
                work.Span, threads);
        });
        return y;
    }
}
