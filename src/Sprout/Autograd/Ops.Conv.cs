using System.Numerics.Tensors;
using Sprout.Kernels;
using Sprout.Tensors;

namespace Sprout.Autograd;

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution (cross-correlation, as PyTorch): x [N, C, H, W], w [F, C/groups, KH, KW], b [F] or null →
    /// [N, F, OH, OW]. im2col + GEMM per image and group; the batch is split over worker threads by a fixed
    /// partition (each part accumulates its own weight gradient, summed in part order).
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor w, Tensor? b, int strideH = 1, int strideW = 1, int padH = 0, int padW = 0, int groups = 1)
    {
        if (x.Rank != 4 || w.Rank != 4)
            throw new ArgumentException($"Conv2d needs x [N,C,H,W] and w [F,C/groups,KH,KW], got {Tensor.FormatShape(x.Shape)} and {Tensor.FormatShape(w.Shape)}");
        int n = x.Dim(0), c = x.Dim(1), h = x.Dim(2), wd = x.Dim(3);
        int f = w.Dim(0), kh = w.Dim(2), kw = w.Dim(3);
        if (groups < 1 || c % groups != 0 || f % groups != 0)
            throw new ArgumentException($"Conv2d: {c} input and {f} output channels are not divisible by groups={groups}");
        int cg = c / groups, fg = f / groups;
        if (w.Dim(1) != cg)
            throw new ArgumentException($"Conv2d: weight {Tensor.FormatShape(w.Shape)} expects {w.Dim(1) * groups} input channels, input has {c}");
        if (strideH < 1 || strideW < 1 || padH < 0 || padW < 0) throw new ArgumentException("Conv2d: stride must be ≥ 1 and padding ≥ 0");
        if (b is not null && (b.Rank != 1 || b.Dim(0) != f)) throw new ArgumentException($"Conv2d: bias must be [{f}]");
        var g = new ConvGeometry(cg, h, wd, kh, kw, strideH, strideW, padH, padW);
        int oh = g.OH, ow = g.OW;
        if (oh <= 0 || ow <= 0) throw new ArgumentException($"Conv2d: a {kh}x{kw} kernel does not fit a {h}x{wd} input with padding {padH},{padW}");
        int ohw = oh * ow, k = g.K;
        var y = NewOut([n, f, oh, ow]);

        int parts = ConvParts(n, (long)f * ohw * k);
        var cols = ColumnBuffers(parts, g.IsIdentity ? 0 : k * ohw);
        Workers.Run(parts, part =>
        {
            var (s, e) = Range(n, part, parts);
            var col = cols[part];
            var xs = x.Span;
            var ws = w.Span;
            var ys = y.Span;
            for (int i = s; i < e; i++)
                for (int gi = 0; gi < groups; gi++)
                {
                    var xin = xs.Slice((i * c + gi * cg) * h * wd, cg * h * wd);
                    ReadOnlySpan<float> colSpan = xin;
                    if (!g.IsIdentity)
                    {
                        Im2Col.Forward(xin, g, col.Span);
                        colSpan = col.Span;
                    }
                    var yout = ys.Slice((i * f + gi * fg) * ohw, fg * ohw);
                    if (b is not null)
                    {
                        var bs = b.Span;
                        for (int o = 0; o < fg; o++) yout.Slice(o * ohw, ohw).Fill(bs[gi * fg + o]);
                    }
                    // y_g [fg, ohw] (+)= W_g [fg, k] · col [k, ohw]
                    Gemm.Multiply(fg, ohw, k, ws.Slice(gi * fg * k, fg * k), k, false, colSpan, ohw, false, yout, ohw, b is not null);
                }
        });
        if (!Graph.Needs(x, w, b)) return y;
        Graph.Record(y, "Conv2d", b is null ? [x, w] : [x, w, b], () =>
        {
            int bparts = ConvParts(n, (long)f * ohw * k);
            var bcols = ColumnBuffers(bparts, g.IsIdentity ? 0 : k * ohw);
            // per-part weight-gradient accumulators (part 0 writes into a temporary too, so every count of parts sums
            // the same way: Σ over parts in order)
            var dws = w.RequiresGrad ? new Tensor[bparts] : null;
            if (dws is not null) for (int p = 0; p < bparts; p++) dws[p] = Tensor.Zeros(f, cg, kh, kw);
            Tensor? gx = null;
            if (x.RequiresGrad)
            {
                gx = x.GradBuffer(out bool fresh);
                if (fresh) gx.Span.Clear();
            }
            var dcolBufs = x.RequiresGrad && !g.IsIdentity ? ColumnBuffers(bparts, k * ohw) : null;
            Workers.Run(bparts, part =>
            {
                var (s, e) = Range(n, part, bparts);
                var gy = y.Grad!.Span;
                var xs = x.Span;
                var ws = w.Span;
                for (int i = s; i < e; i++)
                    for (int gi = 0; gi < groups; gi++)
                    {
                        var go = gy.Slice((i * f + gi * fg) * ohw, fg * ohw);
                        var xin = xs.Slice((i * c + gi * cg) * h * wd, cg * h * wd);
                        if (dws is not null)
                        {
                            ReadOnlySpan<float> colSpan = xin;
                            if (!g.IsIdentity)
                            {
                                Im2Col.Forward(xin, g, bcols[part].Span);
                                colSpan = bcols[part].Span;
                            }
                            // dW_g [fg, k] += dY_g [fg, ohw] · colᵀ [ohw, k]
                            Gemm.Multiply(fg, k, ohw, go, ohw, false, colSpan, ohw, true, dws[part].Span.Slice(gi * fg * k, fg * k), k, true);
                        }
                        if (gx is not null)
                        {
                            var dxin = gx.Span.Slice((i * c + gi * cg) * h * wd, cg * h * wd);
                            if (g.IsIdentity)
                            {
                                // dX_g [cg, ohw] += W_gᵀ [cg, fg] · dY_g [fg, ohw]
                                Gemm.Multiply(k, ohw, fg, ws.Slice(gi * fg * k, fg * k), k, true, go, ohw, false, dxin, ohw, true);
                            }
                            else
                            {
                                var dcol = dcolBufs![part].Span;
                                Gemm.Multiply(k, ohw, fg, ws.Slice(gi * fg * k, fg * k), k, true, go, ohw, false, dcol, ohw, false);
                                Im2Col.Backward(dcol, g, dxin);
                            }
                        }
                    }
            });
            if (dws is not null)
            {
                for (int p = 1; p < bparts; p++) TensorPrimitives.Add(dws[0].Span, dws[p].Span, dws[0].Span);
                AccumulateGrad(w, dws[0].Span);
            }
            if (b is not null && b.RequiresGrad)
            {
                var gb = b.GradBuffer(out bool fresh);
                var d = gb.Span;
                var gy = y.Grad!.Span;
                for (int o = 0; o < f; o++)
                {
                    double sum = 0;
                    for (int i = 0; i < n; i++) sum += TensorPrimitives.Sum(gy.Slice((i * f + o) * ohw, ohw));
                    d[o] = fresh ? (float)sum : d[o] + (float)sum;
                }
            }
        });
        return y;
    }

    // How many batch parts to run in parallel: one per thread when the per-image work is worth a hand-off.
    private static int ConvParts(int n, long macsPerImage) =>
        Workers.Threads > 1 && n > 1 && macsPerImage * n >= 1L << 20 ? Math.Min(Workers.Threads, n) : 1;

    private static (int Start, int End) Range(int n, int part, int parts) =>
        ((int)((long)n * part / parts), (int)((long)n * (part + 1) / parts));

    private static Tensor[] ColumnBuffers(int parts, int size)
    {
        var r = new Tensor[parts];
        for (int p = 0; p < parts; p++) r[p] = Tensor.Empty(Math.Max(1, size));
        return r;
    }
}
