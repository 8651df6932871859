using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sprout.Kernels;

/// <summary>
/// Depthwise convolution (groups = input channels = output channels, one KH×KW filter per channel), any stride and
/// padding, on one plane at a time with no column matrix.
/// <para>
/// Each input plane is copied once into <c>sh·sw</c> zero-padded <em>phase planes</em> of Hq×Wq floats, phase (ry, rx)
/// holding padded[iy·sh + ry, jx·sw + rx]. Kernel tap (ky, kx) then reads, for every output (oy, ox), the float at
/// phase (ky mod sh, kx mod sw), position (oy + ky/sh)·Wq + ox + kx/sw: for all outputs at once that is one contiguous
/// run of L = (OH−1)·Wq + OW floats starting at (ky/sh)·Wq + kx/sw, with the outputs laid out with row stride Wq (the
/// Wq − OW extra columns per row are discarded). So the forward pass is KH·KW vector multiply-adds of length L per plane,
/// the input gradient the same multiply-adds in reverse (into phase-plane gradients, then scattered back), and the
/// weight gradient KH·KW dot products of length L.
/// </para>
/// <para>
/// The planes of one channel from a chunk of images sit one after another (stride Hq·Wq) in each phase, so a tap's run
/// covers the whole chunk in one call — KH·KW calls per channel and chunk rather than per plane, which is what makes the
/// small planes of MobileNetV1 (4×4, 2×2) cheap. Padding positions are cleared once per call and never written.
/// </para>
/// The scalar references are <see cref="ForwardReference"/>, <see cref="InputGradReference"/> and
/// <see cref="WeightGradReference"/> (plain loops over the definition).
/// </summary>
public static class DepthwiseConv
{
    /// <summary>Whether the geometries <see cref="DepthwiseDirect"/> covers (3×3, padding 1, planes 16 or 32 wide and
    /// more) run there instead of through phase planes; switch it off to compare.</summary>
    public static bool UseDirect { get; set; } = true;

    [ThreadStatic] private static float[]? _ph;
    [ThreadStatic] private static float[]? _q;

    // floats of the phase buffer per chunk of images (≈ 256 KB, within L2)
    private const int ChunkFloats = 1 << 16;

    private readonly record struct Phases(int Hq, int Wq, int Count, int L, int Images)
    {
        public int Plane => Hq * Wq;
        // one phase of a chunk: Images planes
        public int Block => Images * Plane;
        // a tap's run over the chunk: every plane's L outputs and the gaps between them
        public int Run => (Images - 1) * Plane + L;

        public static Phases Of(in ConvGeometry g, int images)
        {
            int hq = (g.H + 2 * g.PH + g.SH - 1) / g.SH, wq = (g.W + 2 * g.PW + g.SW - 1) / g.SW;
            int count = g.SH * g.SW, chunk = Math.Clamp(ChunkFloats / (count * hq * wq), 1, Math.Max(1, images));
            return new Phases(hq, wq, count, (g.OH - 1) * wq + g.OW, chunk);
        }

        // where tap (ky, kx) reads: its phase block and the offset of output (0, 0) of the chunk's first plane in it
        public int Start(in ConvGeometry g, int ky, int kx) => ((ky % g.SH) * g.SW + kx % g.SW) * Block + (ky / g.SH) * Wq + kx / g.SW;
    }


    // Where row r of a plane starts in the phase blocks (its phase row (r+PH) mod sh, at position ((r+PH)/sh)·Wq), for
    // r = 0 … H−1, and where column col0 < sw starts within a row (phase column (col0+PW) mod sw, position (col0+PW)/sw):
    // computed incrementally, with no division per row.
    private static void Offsets(in ConvGeometry g, Phases p, Span<int> rowOff, Span<int> colOff)
    {
        for (int r = 0, ry = g.PH % g.SH, iy = g.PH / g.SH; r < g.H; r++)
        {
            rowOff[r] = ry * g.SW * p.Block + iy * p.Wq;
            if (++ry == g.SH) { ry = 0; iy++; }
        }
        for (int col0 = 0; col0 < colOff.Length; col0++)
        {
            int pc = col0 + g.PW;
            colOff[col0] = (pc % g.SW) * p.Block + pc / g.SW;
        }
    }

    [ThreadStatic] private static int[]? _rowOff;

    private static Span<int> RowOffsets(int h) => Scratch.Get(ref _rowOff, h);

    // ph: the phase planes of plane (i0 + i, c) of x [n, C, H, W] for the chunk's images (interior positions only)
    private static void Split(ReadOnlySpan<float> x, int channels, int c, int i0, in ConvGeometry g, Phases p, Span<float> ph, int count,
        ReadOnlySpan<int> rowOff, ReadOnlySpan<int> colOff)
    {
        int hw = g.H * g.W;
        for (int i = 0; i < count; i++)
        {
            var xp = x.Slice(((i0 + i) * channels + c) * hw, hw);
            int plane = i * p.Plane;
            if (g.SH == 1 && g.SW == 1)
            {
                CopyRows(xp, g.W, ph[(plane + rowOff[0] + colOff[0])..], p.Wq, g.H, g.W, false, 0f);
                continue;
            }
            for (int r = 0; r < g.H; r++)
            {
                var xr = xp.Slice(r * g.W, g.W);
                int at = plane + rowOff[r];
                if (g.SW == 1) { xr.CopyTo(ph[(at + colOff[0])..]); continue; }
                // columns col0, col0 + sw, … land in one phase at consecutive positions
                for (int col0 = 0; col0 < colOff.Length; col0++)
                {
                    var dst = ph[(at + colOff[col0])..];
                    for (int col = col0, j = 0; col < g.W; col += g.SW, j++) dst[j] = xr[col];
                }
            }
        }
    }

    // dx plane (i0 + i, c) (+)= the phase-plane gradients at the unpadded positions
    private static void Merge(ReadOnlySpan<float> dph, int channels, int c, int i0, in ConvGeometry g, Phases p, Span<float> dx, int count, bool accumulate,
        ReadOnlySpan<int> rowOff, ReadOnlySpan<int> colOff)
    {
        int hw = g.H * g.W;
        for (int i = 0; i < count; i++)
        {
            var dp = dx.Slice(((i0 + i) * channels + c) * hw, hw);
            int plane = i * p.Plane;
            if (g.SH == 1 && g.SW == 1)
            {
                CopyRows(dph[(plane + rowOff[0] + colOff[0])..], p.Wq, dp, g.W, g.H, g.W, accumulate, 0f);
                continue;
            }
            for (int r = 0; r < g.H; r++)
            {
                var dr = dp.Slice(r * g.W, g.W);
                int at = plane + rowOff[r];
                if (g.SW == 1)
                {
                    var src = dph.Slice(at + colOff[0], g.W);
                    if (accumulate) TensorPrimitives.Add(dr, src, dr);
                    else src.CopyTo(dr);
                    continue;
                }
                for (int col0 = 0; col0 < colOff.Length; col0++)
                {
                    var src = dph[(at + colOff[col0])..];
                    if (accumulate) for (int col = col0, j = 0; col < g.W; col += g.SW, j++) dr[col] += src[j];
                    else for (int col = col0, j = 0; col < g.W; col += g.SW, j++) dr[col] = src[j];
                }
            }
        }
    }

    /// <summary>
    /// y [n, C, OH, OW] = depthwise conv of x [n, C, H, W] with w [C, 1, KH, KW] (+ bias [C] when not empty);
    /// <paramref name="g"/> describes one channel's plane (its C is 1).
    /// </summary>
    public static void Forward(int images, int channels, ReadOnlySpan<float> w, ReadOnlySpan<float> x, in ConvGeometry g,
        ReadOnlySpan<float> bias, Span<float> y)
    {
        if (UseDirect && DepthwiseDirect.Applies(g))
        {
            DepthwiseDirect.Forward(images, channels, w, x, g, bias, y);
            return;
        }
        var p = Phases.Of(g, images);
        int kk = g.KH * g.KW, ohw = g.OH * g.OW;
        var ph = Scratch.Get(ref _ph, p.Count * p.Block);
        var yq = Scratch.Get(ref _q, p.Block);
        var rowOff = RowOffsets(g.H);
        Span<int> colOff = stackalloc int[Math.Min(g.SW, g.W)];
        Offsets(g, p, rowOff, colOff);
        ph.Clear();
        Span<int> starts = stackalloc int[kk];
        for (int ky = 0, t = 0; ky < g.KH; ky++)
            for (int kx = 0; kx < g.KW; kx++, t++) starts[t] = p.Start(g, ky, kx);
        for (int i0 = 0; i0 < images; i0 += p.Images)
        {
            int count = Math.Min(p.Images, images - i0), run = (count - 1) * p.Plane + p.L;
            for (int c = 0; c < channels; c++)
            {
                Split(x, channels, c, i0, g, p, ph, count, rowOff, colOff);
                // yq [run] = Σ_taps w[c, ky, kx] · ph[tap's run]
                TapSum(ph, starts, w.Slice(c * kk, kk), yq[..run]);
                float b = bias.IsEmpty ? 0f : bias[c];
                for (int i = 0; i < count; i++)
                {
                    CopyRows(yq[(i * p.Plane)..], p.Wq, y.Slice(((i0 + i) * channels + c) * ohw, ohw), g.OW, g.OH, g.OW, false, b);
                }
            }
        }
    }

    // dyq: dy's planes (i0 + i, c) at row stride Wq and plane stride Hq·Wq (every other position stays zero)
    private static void Spread(ReadOnlySpan<float> dy, int channels, int c, int i0, in ConvGeometry g, Phases p, Span<float> dyq, int count)
    {
        int ohw = g.OH * g.OW;
        for (int i = 0; i < count; i++)
        {
            var dyp = dy.Slice(((i0 + i) * channels + c) * ohw, ohw);
            CopyRows(dyp, g.OW, dyq[(i * p.Plane)..], p.Wq, g.OH, g.OW, false, 0f);
        }
    }

    /// <summary>
    /// dx [n, C, H, W] (+)= the input gradient of the depthwise conv for dy [n, C, OH, OW] and w [C, 1, KH, KW]: written
    /// when <paramref name="accumulate"/> is false, added otherwise.
    /// </summary>
    public static void InputGrad(int images, int channels, ReadOnlySpan<float> w, ReadOnlySpan<float> dy, in ConvGeometry g,
        Span<float> dx, bool accumulate)
    {
        if (UseDirect && DepthwiseDirect.Applies(g))
        {
            DepthwiseDirect.InputGrad(images, channels, w, dy, g, dx, accumulate);
            return;
        }
        var p = Phases.Of(g, images);
        int kk = g.KH * g.KW;
        // phase r's gradient at q is Σ over r's taps of w · dyq[q − offset]: dyq gets a zero margin in front
        int margin = ((g.KH - 1) / g.SH) * p.Wq + (g.KW - 1) / g.SW;
        var dph = Scratch.Get(ref _ph, p.Count * p.Block);
        var dyq = Scratch.Get(ref _q, margin + p.Block);
        var rowOff = RowOffsets(g.H);
        Span<int> colOff = stackalloc int[Math.Min(g.SW, g.W)];
        Offsets(g, p, rowOff, colOff);
        dyq.Clear();
        Span<int> offsets = stackalloc int[kk];
        Span<int> tapOf = stackalloc int[kk];
        Span<int> first = stackalloc int[p.Count + 1];
        // taps grouped by phase: first[r] … first[r + 1] − 1, each read at margin − its offset
        for (int r = 0, n = 0; r < p.Count; r++)
        {
            first[r] = n;
            for (int ky = r / g.SW; ky < g.KH; ky += g.SH)
                for (int kx = r % g.SW; kx < g.KW; kx += g.SW, n++)
                {
                    tapOf[n] = ky * g.KW + kx;
                    offsets[n] = margin - ((ky / g.SH) * p.Wq + kx / g.SW);
                }
            first[r + 1] = n;
        }
        Span<float> wt = stackalloc float[kk];
        for (int i0 = 0; i0 < images; i0 += p.Images)
        {
            int count = Math.Min(p.Images, images - i0);
            for (int c = 0; c < channels; c++)
            {
                Spread(dy, channels, c, i0, g, p, dyq[margin..], count);
                for (int t = 0; t < kk; t++) wt[t] = w[c * kk + tapOf[t]];
                for (int r = 0; r < p.Count; r++)
                    TapSum(dyq, offsets[first[r]..first[r + 1]], wt[first[r]..first[r + 1]], dph.Slice(r * p.Block, count * p.Plane));
                Merge(dph, channels, c, i0, g, p, dx, count, accumulate, rowOff, colOff);
            }
        }
    }

    /// <summary>
    /// dst[r·dstStride + j] = src[r·srcStride + j] + add (or += when <paramref name="accumulate"/>) for r &lt; rows, j &lt; cols:
    /// the short rows the depthwise kernels move between planes and phase planes, without a call per row.
    /// </summary>
    public static void CopyRows(ReadOnlySpan<float> src, int srcStride, Span<float> dst, int dstStride, int rows, int cols, bool accumulate, float add)
    {
        if (rows <= 0 || cols <= 0) return;
        if ((long)(rows - 1) * srcStride + cols > src.Length || (long)(rows - 1) * dstStride + cols > dst.Length)
            throw new ArgumentOutOfRangeException(nameof(rows), $"CopyRows: {rows} rows of {cols} do not fit");
        int vec = 0;
        if (Vector512.IsHardwareAccelerated && cols >= 16)
        {
            vec = cols & ~15;
            ref float s0 = ref MemoryMarshal.GetReference(src);
            ref float d0 = ref MemoryMarshal.GetReference(dst);
            var a = Vector512.Create(add);
            for (int r = 0; r < rows; r++)
            {
                nuint so = (nuint)(r * srcStride), dof = (nuint)(r * dstStride);
                for (int j = 0; j < vec; j += 16)
                {
                    var v = Vector512.LoadUnsafe(ref s0, so + (nuint)j) + a;
                    if (accumulate) v += Vector512.LoadUnsafe(ref d0, dof + (nuint)j);
                    v.StoreUnsafe(ref d0, dof + (nuint)j);
                }
            }
        }
        if (vec < cols) CopyRowsScalar(src, srcStride, dst, dstStride, rows, cols, accumulate, add, vec);
    }

    /// <summary>Scalar twin of <see cref="CopyRows"/> (columns from <paramref name="fromCol"/> on).</summary>
    public static void CopyRowsScalar(ReadOnlySpan<float> src, int srcStride, Span<float> dst, int dstStride, int rows, int cols, bool accumulate,
        float add, int fromCol = 0)
    {
        for (int r = 0; r < rows; r++)
            for (int j = fromCol; j < cols; j++)
            {
                float v = src[r * srcStride + j] + add;
                dst[r * dstStride + j] = accumulate ? dst[r * dstStride + j] + v : v;
            }
    }

    /// <summary>
    /// dst[j] = Σ_t weights[t] · src[offsets[t] + j] for every j of dst (0 where there is no tap): the depthwise forward
    /// pass over a chunk's phase planes and, with the taps of one phase, its input gradient. Every offset + dst.Length
    /// must lie within src.
    /// </summary>
    public static void TapSum(ReadOnlySpan<float> src, ReadOnlySpan<int> offsets, ReadOnlySpan<float> weights, Span<float> dst)
    {
        int taps = offsets.Length, len = dst.Length;
        if (weights.Length != taps) throw new ArgumentException("TapSum: one weight per offset");
        foreach (int o in offsets)
            if (o < 0 || (long)o + len > src.Length) throw new ArgumentOutOfRangeException(nameof(offsets), $"TapSum: offset {o} + {len} is outside {src.Length}");
        int j = 0;
        if (Vector512.IsHardwareAccelerated && taps > 0)
        {
            Span<Vector512<float>> wv = stackalloc Vector512<float>[taps];
            for (int t = 0; t < taps; t++) wv[t] = Vector512.Create(weights[t]);
            ref float s0 = ref MemoryMarshal.GetReference(src);
            ref float d0 = ref MemoryMarshal.GetReference(dst);
            // four independent accumulators (64 outputs) hide the multiply-add latency of the tap chain
            for (; j + 64 <= len; j += 64)
            {
                var a0 = Vector512<float>.Zero;
                var a1 = Vector512<float>.Zero;
                var a2 = Vector512<float>.Zero;
                var a3 = Vector512<float>.Zero;
                for (int t = 0; t < taps; t++)
                {
                    var wt = wv[t];
                    nuint o = (nuint)(offsets[t] + j);
                    a0 = Vector512.FusedMultiplyAdd(wt, Vector512.LoadUnsafe(ref s0, o), a0);
                    a1 = Vector512.FusedMultiplyAdd(wt, Vector512.LoadUnsafe(ref s0, o + 16), a1);
                    a2 = Vector512.FusedMultiplyAdd(wt, Vector512.LoadUnsafe(ref s0, o + 32), a2);
                    a3 = Vector512.FusedMultiplyAdd(wt, Vector512.LoadUnsafe(ref s0, o + 48), a3);
                }
                a0.StoreUnsafe(ref d0, (nuint)j);
                a1.StoreUnsafe(ref d0, (nuint)j + 16);
                a2.StoreUnsafe(ref d0, (nuint)j + 32);
                a3.StoreUnsafe(ref d0, (nuint)j + 48);
            }
            for (; j + 16 <= len; j += 16)
            {
                var acc = wv[0] * Vector512.LoadUnsafe(ref s0, (nuint)(offsets[0] + j));
                for (int t = 1; t < taps; t++) acc = Vector512.FusedMultiplyAdd(wv[t], Vector512.LoadUnsafe(ref s0, (nuint)(offsets[t] + j)), acc);
                acc.StoreUnsafe(ref d0, (nuint)j);
            }
        }
        TapSumScalar(src, offsets, weights, dst, j);
    }

    /// <summary>Scalar twin of <see cref="TapSum"/> (from dst index <paramref name="from"/> on).</summary>
    public static void TapSumScalar(ReadOnlySpan<float> src, ReadOnlySpan<int> offsets, ReadOnlySpan<float> weights, Span<float> dst, int from = 0)
    {
        for (int j = from; j < dst.Length; j++)
        {
            float acc = 0f;
            for (int t = 0; t < offsets.Length; t++) acc = MathF.FusedMultiplyAdd(weights[t], src[offsets[t] + j], acc);
            dst[j] = acc;
        }
    }

    /// <summary>dw [C, 1, KH, KW] += the weight gradient of the depthwise conv for dy [n, C, OH, OW] and x [n, C, H, W].</summary>
    public static void WeightGrad(int images, int channels, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, in ConvGeometry g, Span<float> dw)
    {
        if (UseDirect && DepthwiseDirect.Applies(g))
        {
            DepthwiseDirect.WeightGrad(images, channels, dy, x, g, dw);
            return;
        }
        var p = Phases.Of(g, images);
        int kk = g.KH * g.KW;
        var ph = Scratch.Get(ref _ph, p.Count * p.Block);
        var dyq = Scratch.Get(ref _q, p.Block);
        var rowOff = RowOffsets(g.H);
        Span<int> colOff = stackalloc int[Math.Min(g.SW, g.W)];
        Offsets(g, p, rowOff, colOff);
        ph.Clear();
        dyq.Clear();
        for (int i0 = 0; i0 < images; i0 += p.Images)
        {
            int count = Math.Min(p.Images, images - i0), run = (count - 1) * p.Plane + p.L;
            for (int c = 0; c < channels; c++)
            {
                Split(x, channels, c, i0, g, p, ph, count, rowOff, colOff);
                Spread(dy, channels, c, i0, g, p, dyq, count);
                var dwc = dw.Slice(c * kk, kk);
                // dw[c, ky, kx] += dyq · ph[tap's run]
                for (int ky = 0, t = 0; ky < g.KH; ky++)
                    for (int kx = 0; kx < g.KW; kx++, t++)
                        dwc[t] += TensorPrimitives.Dot(dyq[..run], ph.Slice(p.Start(g, ky, kx), run));
            }
        }
    }

    // The definition's index triples, output by output and tap by tap in (ky, kx) order: (channel·KH·KW + tap, input
    // index, output index) for every tap that lands inside the unpadded plane.
    private static IEnumerable<(int W, int X, int Y)> Taps(int images, int channels, ConvGeometry g)
    {
        int kk = g.KH * g.KW, hw = g.H * g.W, ohw = g.OH * g.OW;
        for (int plane = 0; plane < images * channels; plane++)
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox = 0; ox < g.OW; ox++)
                    for (int ky = 0; ky < g.KH; ky++)
                        for (int kx = 0; kx < g.KW; kx++)
                        {
                            int r = oy * g.SH + ky - g.PH, col = ox * g.SW + kx - g.PW;
                            if ((uint)r < (uint)g.H && (uint)col < (uint)g.W)
                                yield return ((plane % channels) * kk + ky * g.KW + kx, plane * hw + r * g.W + col, plane * ohw + oy * g.OW + ox);
                        }
    }

    /// <summary>Scalar reference of <see cref="Forward"/>: the definition, one output at a time.</summary>
    public static void ForwardReference(int images, int channels, ReadOnlySpan<float> w, ReadOnlySpan<float> x, in ConvGeometry g,
        ReadOnlySpan<float> bias, Span<float> y)
    {
        int ohw = g.OH * g.OW;
        for (int plane = 0; plane < images * channels; plane++) y.Slice(plane * ohw, ohw).Fill(bias.IsEmpty ? 0f : bias[plane % channels]);
        foreach (var (wi, xi, yi) in Taps(images, channels, g)) y[yi] += w[wi] * x[xi];
    }

    /// <summary>Scalar reference of <see cref="InputGrad"/>.</summary>
    public static void InputGradReference(int images, int channels, ReadOnlySpan<float> w, ReadOnlySpan<float> dy, in ConvGeometry g,
        Span<float> dx, bool accumulate)
    {
        if (!accumulate) dx[..(images * channels * g.H * g.W)].Clear();
        foreach (var (wi, xi, yi) in Taps(images, channels, g)) dx[xi] += w[wi] * dy[yi];
    }

    /// <summary>Scalar reference of <see cref="WeightGrad"/>.</summary>
    public static void WeightGradReference(int images, int channels, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, in ConvGeometry g, Span<float> dw)
    {
        foreach (var (wi, xi, yi) in Taps(images, channels, g)) dw[wi] += dy[yi] * x[xi];
    }
}
