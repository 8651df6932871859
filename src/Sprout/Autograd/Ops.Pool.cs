using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Sprout.Kernels;
using Sprout.Tensors;

namespace Sprout.Autograd;

public static partial class Ops
{
    private static (int OH, int OW) PoolOut(int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, string op)
    {
        if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || ph * 2 > kh || pw * 2 > kw)
            throw new ArgumentException($"{op}: invalid kernel/stride/padding (padding must be at most half the kernel)");
        int oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1;
        if (oh <= 0 || ow <= 0) throw new ArgumentException($"{op}: a {kh}x{kw} window does not fit a {h}x{w} input");
        return (oh, ow);
    }

    /// <summary>Max pooling over x [N, C, H, W] (padding counts as −∞); the gradient goes to the first maximum.</summary>
    public static Tensor MaxPool2d(Tensor x, int kernel, int stride = -1, int padding = 0)
    {
        if (x.Rank != 4) throw new ArgumentException("MaxPool2d needs [N,C,H,W]");
        if (stride < 0) stride = kernel;
        int n = x.Dim(0), c = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        var (oh, ow) = PoolOut(h, w, kernel, kernel, stride, stride, padding, padding, "MaxPool2d");
        var y = NewOut([n, c, oh, ow]);
        bool needs = Graph.Needs(x);
        var arg = needs ? NewOut([n * c * oh * ow]) : null; // index of the maximum within its plane (exact in float: h·w < 2²⁴)
        var xs = x.Span;
        var ys = y.Span;
        var args = needs ? arg!.Span : default;
        if (kernel == 2 && stride == 2 && padding == 0)
        {
            // planes are independent: threads take fixed plane ranges
            int parts = ChannelParts(n * c, (long)n * c * h * w);
            Workers.Run(parts, part =>
            {
                var (p0, p1) = Range(n * c, part, parts);
                MaxPool2x2(x.Span.Slice(p0 * h * w, (p1 - p0) * h * w), y.Span.Slice(p0 * oh * ow, (p1 - p0) * oh * ow),
                    needs ? arg!.Span.Slice(p0 * oh * ow, (p1 - p0) * oh * ow) : default, p1 - p0, h, w, oh, ow, needs);
            });
        }
        else
        for (int pl = 0; pl < n * c; pl++)
        {
            var xp = xs.Slice(pl * h * w, h * w);
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    int y0 = oy * stride - padding, x0 = ox * stride - padding;
                    float best = float.NegativeInfinity;
                    int bi = -1;
                    for (int ky = Math.Max(0, -y0); ky < kernel && y0 + ky < h; ky++)
                        for (int kx = Math.Max(0, -x0); kx < kernel && x0 + kx < w; kx++)
                        {
                            int idx = (y0 + ky) * w + x0 + kx;
                            float v = xp[idx];
                            if (v > best || bi < 0 || float.IsNaN(v)) { best = v; bi = idx; }
                        }
                    int o = (pl * oh + oy) * ow + ox;
                    ys[o] = best;
                    if (needs) args[o] = bi;
                }
        }
        if (needs)
            Graph.Record(y, "MaxPool2d", [x], () =>
            {
                var gb = x.GradBuffer(out bool fresh);
                if (kernel == 2 && stride == 2 && padding == 0 && h == 2 * oh && w == 2 * ow)
                {
                    // windows tile the input exactly: every input position is written once, no clear, no scatter
                    int parts = ChannelParts(n * c, (long)n * c * h * w);
                    var gT = y.Grad!;
                    Workers.Run(parts, part =>
                    {
                        var (p0, p1) = Range(n * c, part, parts);
                        var gs = gT.Span;
                        var args2 = arg!.Span;
                        var ds = gb.Span;
                        for (int pl = p0; pl < p1; pl++)
                            PoolKernels.MaxPool2x2Backward(gs.Slice(pl * oh * ow, oh * ow), args2.Slice(pl * oh * ow, oh * ow), ds.Slice(pl * h * w, h * w), oh, ow, !fresh);
                    });
                    return;
                }
                var d = gb.Span;
                var g = y.Grad!.Span;
                var a = arg!.Span;
                if (fresh) d.Clear();
                int per = oh * ow;
                for (int pl = 0; pl < n * c; pl++)
                    for (int j = 0; j < per; j++)
                        d[pl * h * w + (int)a[pl * per + j]] += g[pl * per + j];
            });
        return y;
    }

    // The common 2×2 stride-2 case: two input rows per output row, no bounds checks in the inner loop.
    private static void MaxPool2x2(ReadOnlySpan<float> xs, Span<float> ys, Span<float> args, int planes, int h, int w, int oh, int ow, bool needs)
    {
        for (int pl = 0; pl < planes; pl++)
        {
            int inBase = pl * h * w, outBase = pl * oh * ow;
            for (int oy = 0; oy < oh; oy++)
            {
                var r0 = xs.Slice(inBase + 2 * oy * w, w);
                var r1 = xs.Slice(inBase + (2 * oy + 1) * w, w);
                var yo = ys.Slice(outBase + oy * ow, ow);
                if (!needs)
                {
                    for (int ox = 0; ox < ow; ox++)
                        yo[ox] = MathF.Max(MathF.Max(r0[2 * ox], r0[2 * ox + 1]), MathF.Max(r1[2 * ox], r1[2 * ox + 1]));
                    continue;
                }
                var ao = args.Slice(outBase + oy * ow, ow);
                int row0 = 2 * oy * w;
                int ox0 = 0;
                if (Avx2.IsSupported)
                    ox0 = MaxPool2x2Row(r0, r1, yo, ao, ow, row0, w);
                for (int ox = ox0; ox < ow; ox++)
                {
                    // first maximum in window order (0,0), (0,1), (1,0), (1,1), as the general loop picks it
                    float a0 = r0[2 * ox], a1 = r0[2 * ox + 1], a2 = r1[2 * ox], a3 = r1[2 * ox + 1];
                    int i0 = row0 + 2 * ox;
                    bool t1 = a1 > a0;
                    float m01 = t1 ? a1 : a0;
                    int j01 = t1 ? i0 + 1 : i0;
                    bool t3 = a3 > a2;
                    float m23 = t3 ? a3 : a2;
                    int j23 = t3 ? i0 + w + 1 : i0 + w;
                    bool t = m23 > m01;
                    yo[ox] = t ? m23 : m01;
                    ao[ox] = t ? j23 : j01;
                }
            }
        }
    }

    // Eight 2×2 windows per step, branch-free: deinterleave even/odd columns of both input rows, then compare masks
    // and blends pick the maximum and its index (first maximum in window order on ties). Returns outputs done.
    private static unsafe int MaxPool2x2Row(ReadOnlySpan<float> r0, ReadOnlySpan<float> r1, Span<float> yo, Span<float> ao, int ow, int row0, int w)
    {
        int ox = 0;
        fixed (float* p0 = r0) fixed (float* p1 = r1) fixed (float* py = yo) fixed (float* pa = ao)
        {
            var lane2 = Vector256.Create(0f, 2, 4, 6, 8, 10, 12, 14);
            var one = Vector256.Create(1f);
            var wv = Vector256.Create((float)w);
            for (; ox + 8 <= ow; ox += 8)
            {
                var (e0, o0) = Deinterleave(Avx.LoadVector256(p0 + 2 * ox), Avx.LoadVector256(p0 + 2 * ox + 8));
                var (e1, o1) = Deinterleave(Avx.LoadVector256(p1 + 2 * ox), Avx.LoadVector256(p1 + 2 * ox + 8));
                var i0 = Vector256.Create((float)(row0 + 2 * ox)) + lane2;
                var t1 = Vector256.GreaterThan(o0, e0);
                var m01 = Vector256.ConditionalSelect(t1, o0, e0);
                var j01 = Vector256.ConditionalSelect(t1, i0 + one, i0);
                var t3 = Vector256.GreaterThan(o1, e1);
                var m23 = Vector256.ConditionalSelect(t3, o1, e1);
                var j23 = Vector256.ConditionalSelect(t3, i0 + wv + one, i0 + wv);
                var t = Vector256.GreaterThan(m23, m01);
                Avx.Store(py + ox, Vector256.ConditionalSelect(t, m23, m01));
                Avx.Store(pa + ox, Vector256.ConditionalSelect(t, j23, j01));
            }
        }
        return ox;
    }

    // (a0..a7, b0..b7) → (a0 a2 a4 a6 b0 b2 b4 b6, a1 a3 a5 a7 b1 b3 b5 b7)
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> Even, Vector256<float> Odd) Deinterleave(Vector256<float> a, Vector256<float> b)
    {
        var ev = Avx.Shuffle(a, b, 0b10_00_10_00); // a0 a2 b0 b2 | a4 a6 b4 b6
        var od = Avx.Shuffle(a, b, 0b11_01_11_01); // a1 a3 b1 b3 | a5 a7 b5 b7
        ev = Avx2.Permute4x64(ev.AsDouble(), 0b11_01_10_00).AsSingle();
        od = Avx2.Permute4x64(od.AsDouble(), 0b11_01_10_00).AsSingle();
        return (ev, od);
    }

    /// <summary>Average pooling over x [N, C, H, W]; padded zeros count in the average (PyTorch's default).</summary>
    public static Tensor AvgPool2d(Tensor x, int kernel, int stride = -1, int padding = 0)
    {
        if (x.Rank != 4) throw new ArgumentException("AvgPool2d needs [N,C,H,W]");
        if (stride < 0) stride = kernel;
        var (oh, ow) = PoolOut(x.Dim(2), x.Dim(3), kernel, kernel, stride, stride, padding, padding, "AvgPool2d");
        return WindowMean(x, oh, ow, (o, i) => (o * stride - padding, o * stride - padding + kernel), 1f / (kernel * kernel), "AvgPool2d");
    }

    /// <summary>
    /// Adaptive average pooling to [N, C, outH, outW] (PyTorch's windows: start ⌊i·H/out⌋, end ⌈(i+1)·H/out⌉);
    /// (1, 1) is global average pooling.
    /// </summary>
    public static Tensor AdaptiveAvgPool2d(Tensor x, int outH = 1, int outW = 1)
    {
        if (x.Rank != 4) throw new ArgumentException("AdaptiveAvgPool2d needs [N,C,H,W]");
        if (outH < 1 || outW < 1) throw new ArgumentException("AdaptiveAvgPool2d: output size must be positive");
        return WindowMean(x, outH, outW, null, 0f, "AdaptiveAvgPool2d");
    }

    // Mean over windows. With `window` (start/end per output index, same rule for both axes) and a fixed divisor;
    // without it, adaptive windows whose divisor is their own size.
    private static Tensor WindowMean(Tensor x, int oh, int ow, Func<int, int, (int, int)>? window, float fixedScale, string op)
    {
        int n = x.Dim(0), c = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        var ys0 = new int[oh]; var ye0 = new int[oh]; var xs0 = new int[ow]; var xe0 = new int[ow];
        for (int i = 0; i < oh; i++)
        {
            var (s, e) = window?.Invoke(i, h) ?? (i * h / oh, ((i + 1) * h + oh - 1) / oh);
            ys0[i] = s; ye0[i] = e;
        }
        for (int j = 0; j < ow; j++)
        {
            var (s, e) = window?.Invoke(j, w) ?? (j * w / ow, ((j + 1) * w + ow - 1) / ow);
            xs0[j] = s; xe0[j] = e;
        }
        var y = NewOut([n, c, oh, ow]);
        var xsp = x.Span;
        var ysp = y.Span;
        for (int pl = 0; pl < n * c; pl++)
        {
            var xp = xsp.Slice(pl * h * w, h * w);
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    int y0 = Math.Max(0, ys0[i]), y1 = Math.Min(h, ye0[i]), x0 = Math.Max(0, xs0[j]), x1 = Math.Min(w, xe0[j]);
                    double s = 0;
                    for (int yy = y0; yy < y1; yy++)
                        for (int xx = x0; xx < x1; xx++) s += xp[yy * w + xx];
                    float scale = window is null ? 1f / ((ye0[i] - ys0[i]) * (xe0[j] - xs0[j])) : fixedScale;
                    ysp[(pl * oh + i) * ow + j] = (float)(s * scale);
                }
        }
        if (Graph.Needs(x))
            Graph.Record(y, op, [x], () =>
            {
                var gb = x.GradBuffer(out bool fresh);
                var d = gb.Span;
                if (fresh) d.Clear();
                var g = y.Grad!.Span;
                for (int pl = 0; pl < n * c; pl++)
                    for (int i = 0; i < oh; i++)
                        for (int j = 0; j < ow; j++)
                        {
                            int y0 = Math.Max(0, ys0[i]), y1 = Math.Min(h, ye0[i]), x0 = Math.Max(0, xs0[j]), x1 = Math.Min(w, xe0[j]);
                            float scale = window is null ? 1f / ((ye0[i] - ys0[i]) * (xe0[j] - xs0[j])) : fixedScale;
                            float v = g[(pl * oh + i) * ow + j] * scale;
                            for (int yy = y0; yy < y1; yy++)
                                for (int xx = x0; xx < x1; xx++) d[pl * h * w + yy * w + xx] += v;
                        }
            });
        return y;
    }

    /// <summary>
    /// Inverted dropout: in training, zeroes each element with probability p (one <see cref="Rng.NextDouble"/> draw from
    /// <paramref name="rng"/> per element, in order) and scales survivors by 1/(1−p); otherwise the identity (no draws).
    /// When x is one process's rows of a batch split over processes along its first dimension,
    /// <paramref name="rowsBefore"/> and <paramref name="rowsAfter"/> are the rows of the other processes before and
    /// after them: the stream first skips the draws of the rows before, and after this process's own draws those of the
    /// rows after, so the mask is the slice of the whole batch's mask that one process would draw, and every process's
    /// stream ends where one process's would (data-parallel training). Both 0 (default): x is the whole batch.
    /// </summary>
    public static Tensor Dropout(Tensor x, float p, Rng rng, bool training, int rowsBefore = 0, int rowsAfter = 0)
    {
        if (!(p >= 0f && p < 1f)) throw new ArgumentException($"Dropout probability must be in [0, 1), got {p}");
        if (rowsBefore < 0 || rowsAfter < 0) throw new ArgumentException($"Dropout rows before and after must not be negative, got {rowsBefore} and {rowsAfter}");
        if ((rowsBefore | rowsAfter) != 0 && x.Rank == 0) throw new ArgumentException("Dropout with rows of other processes needs rows: x has no first dimension");
        if (!training || p == 0f) return x;
        var mask = NewOut(x.ShapeArray());
        var ms = mask.Span;
        float keep = 1f / (1f - p);
        long perRow = 1;   // draws per row: the product of the dimensions after the first
        for (int d = 1; d < x.Rank; d++) perRow *= x.Dim(d);
        rng.Skip(rowsBefore * perRow);
        for (int i = 0; i < ms.Length; i++) ms[i] = rng.NextDouble() < p ? 0f : keep;
        rng.Skip(rowsAfter * perRow);
        return Mul(x, mask);
    }
}
