using System.Numerics.Tensors;

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

        // where input (r, col) of plane i of the chunk lands: phase ((r+PH) mod sh, (col+PW) mod sw), position ((r+PH)/sh, (col+PW)/sw)
        public int Position(in ConvGeometry g, int i, int r, int col)
        {
            int pr = r + g.PH, pc = col + g.PW;
            return ((pr % g.SH) * g.SW + pc % g.SW) * Block + i * Plane + (pr / g.SH) * Wq + pc / g.SW;
        }
    }

    private static Span<float> Buffer(ref float[]? cache, int size)
    {
        var b = cache is { } a && a.Length >= size ? a : cache = new float[size];
        return b.AsSpan(0, size);
    }

    // ph: the phase planes of plane (i0 + i, c) of x [n, C, H, W] for the chunk's images (interior positions only)
    private static void Split(ReadOnlySpan<float> x, int channels, int c, int i0, in ConvGeometry g, Phases p, Span<float> ph, int count)
    {
        int hw = g.H * g.W;
        for (int i = 0; i < count; i++)
        {
            var xp = x.Slice(((i0 + i) * channels + c) * hw, hw);
            for (int r = 0; r < g.H; r++)
            {
                var xr = xp.Slice(r * g.W, g.W);
                if (g.SW == 1) { xr.CopyTo(ph[p.Position(g, i, r, 0)..]); continue; }
                // columns col0, col0 + sw, … land in one phase at consecutive positions
                for (int col0 = 0; col0 < Math.Min(g.SW, g.W); col0++)
                {
                    var dst = ph[p.Position(g, i, r, col0)..];
                    for (int col = col0, j = 0; col < g.W; col += g.SW, j++) dst[j] = xr[col];
                }
            }
        }
    }

    // dx plane (i0 + i, c) (+)= the phase-plane gradients at the unpadded positions
    private static void Merge(ReadOnlySpan<float> dph, int channels, int c, int i0, in ConvGeometry g, Phases p, Span<float> dx, int count, bool accumulate)
    {
        int hw = g.H * g.W;
        for (int i = 0; i < count; i++)
        {
            var dp = dx.Slice(((i0 + i) * channels + c) * hw, hw);
            for (int r = 0; r < g.H; r++)
            {
                var dr = dp.Slice(r * g.W, g.W);
                if (g.SW == 1)
                {
                    var src = dph.Slice(p.Position(g, i, r, 0), g.W);
                    if (accumulate) TensorPrimitives.Add(dr, src, dr);
                    else src.CopyTo(dr);
                    continue;
                }
                for (int col0 = 0; col0 < Math.Min(g.SW, g.W); col0++)
                {
                    var src = dph[p.Position(g, i, r, col0)..];
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
        var p = Phases.Of(g, images);
        int kk = g.KH * g.KW, ohw = g.OH * g.OW;
        var ph = Buffer(ref _ph, p.Count * p.Block);
        var yq = Buffer(ref _q, p.Block);
        ph.Clear();
        for (int i0 = 0; i0 < images; i0 += p.Images)
        {
            int count = Math.Min(p.Images, images - i0), run = (count - 1) * p.Plane + p.L;
            for (int c = 0; c < channels; c++)
            {
                Split(x, channels, c, i0, g, p, ph, count);
                var wc = w.Slice(c * kk, kk);
                // yq [run] = Σ_taps w[c, ky, kx] · ph[tap's run]
                for (int ky = 0, t = 0; ky < g.KH; ky++)
                    for (int kx = 0; kx < g.KW; kx++, t++)
                    {
                        var src = ph.Slice(p.Start(g, ky, kx), run);
                        if (t == 0) TensorPrimitives.Multiply(src, wc[0], yq[..run]);
                        else TensorPrimitives.MultiplyAdd(src, wc[t], yq[..run], yq[..run]);
                    }
                float b = bias.IsEmpty ? 0f : bias[c];
                for (int i = 0; i < count; i++)
                {
                    var yp = y.Slice(((i0 + i) * channels + c) * ohw, ohw);
                    for (int oy = 0; oy < g.OH; oy++)
                    {
                        var src = yq.Slice(i * p.Plane + oy * p.Wq, g.OW);
                        var dst = yp.Slice(oy * g.OW, g.OW);
                        if (b == 0f) src.CopyTo(dst);
                        else TensorPrimitives.Add(src, b, dst);
                    }
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
            for (int oy = 0; oy < g.OH; oy++) dyp.Slice(oy * g.OW, g.OW).CopyTo(dyq.Slice(i * p.Plane + oy * p.Wq, g.OW));
        }
    }

    /// <summary>
    /// dx [n, C, H, W] (+)= the input gradient of the depthwise conv for dy [n, C, OH, OW] and w [C, 1, KH, KW]: written
    /// when <paramref name="accumulate"/> is false, added otherwise.
    /// </summary>
    public static void InputGrad(int images, int channels, ReadOnlySpan<float> w, ReadOnlySpan<float> dy, in ConvGeometry g,
        Span<float> dx, bool accumulate)
    {
        var p = Phases.Of(g, images);
        int kk = g.KH * g.KW;
        var dph = Buffer(ref _ph, p.Count * p.Block);
        var dyq = Buffer(ref _q, p.Block);
        dyq.Clear();
        for (int i0 = 0; i0 < images; i0 += p.Images)
        {
            int count = Math.Min(p.Images, images - i0), run = (count - 1) * p.Plane + p.L;
            for (int c = 0; c < channels; c++)
            {
                Spread(dy, channels, c, i0, g, p, dyq, count);
                dph.Clear();
                var wc = w.Slice(c * kk, kk);
                // dph[tap's run] += w[c, ky, kx] · dyq
                for (int ky = 0, t = 0; ky < g.KH; ky++)
                    for (int kx = 0; kx < g.KW; kx++, t++)
                    {
                        var dst = dph.Slice(p.Start(g, ky, kx), run);
                        TensorPrimitives.MultiplyAdd(dyq[..run], wc[t], dst, dst);
                    }
                Merge(dph, channels, c, i0, g, p, dx, count, accumulate);
            }
        }
    }

    /// <summary>dw [C, 1, KH, KW] += the weight gradient of the depthwise conv for dy [n, C, OH, OW] and x [n, C, H, W].</summary>
    public static void WeightGrad(int images, int channels, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, in ConvGeometry g, Span<float> dw)
    {
        var p = Phases.Of(g, images);
        int kk = g.KH * g.KW;
        var ph = Buffer(ref _ph, p.Count * p.Block);
        var dyq = Buffer(ref _q, p.Block);
        ph.Clear();
        dyq.Clear();
        for (int i0 = 0; i0 < images; i0 += p.Images)
        {
            int count = Math.Min(p.Images, images - i0), run = (count - 1) * p.Plane + p.L;
            for (int c = 0; c < channels; c++)
            {
                Split(x, channels, c, i0, g, p, ph, count);
                Spread(dy, channels, c, i0, g, p, dyq, count);
                var dwc = dw.Slice(c * kk, kk);
                // dw[c, ky, kx] += dyq · ph[tap's run]
                for (int ky = 0, t = 0; ky < g.KH; ky++)
                    for (int kx = 0; kx < g.KW; kx++, t++)
                        dwc[t] += TensorPrimitives.Dot(dyq[..run], ph.Slice(p.Start(g, ky, kx), run));
            }
        }
    }

    /// <summary>Scalar reference of <see cref="Forward"/>: the definition, one output at a time.</summary>
    public static void ForwardReference(int images, int channels, ReadOnlySpan<float> w, ReadOnlySpan<float> x, in ConvGeometry g,
        ReadOnlySpan<float> bias, Span<float> y)
    {
        int kk = g.KH * g.KW, hw = g.H * g.W, ohw = g.OH * g.OW;
        for (int plane = 0; plane < images * channels; plane++)
        {
            int c = plane % channels;
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox = 0; ox < g.OW; ox++)
                {
                    float s = bias.IsEmpty ? 0f : bias[c];
                    for (int ky = 0; ky < g.KH; ky++)
                        for (int kx = 0; kx < g.KW; kx++)
                        {
                            int r = oy * g.SH + ky - g.PH, col = ox * g.SW + kx - g.PW;
                            if ((uint)r < (uint)g.H && (uint)col < (uint)g.W) s += w[c * kk + ky * g.KW + kx] * x[plane * hw + r * g.W + col];
                        }
                    y[plane * ohw + oy * g.OW + ox] = s;
                }
        }
    }

    /// <summary>Scalar reference of <see cref="InputGrad"/>.</summary>
    public static void InputGradReference(int images, int channels, ReadOnlySpan<float> w, ReadOnlySpan<float> dy, in ConvGeometry g,
        Span<float> dx, bool accumulate)
    {
        int kk = g.KH * g.KW, hw = g.H * g.W, ohw = g.OH * g.OW;
        if (!accumulate) dx[..(images * channels * hw)].Clear();
        for (int plane = 0; plane < images * channels; plane++)
        {
            int c = plane % channels;
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox = 0; ox < g.OW; ox++)
                    for (int ky = 0; ky < g.KH; ky++)
                        for (int kx = 0; kx < g.KW; kx++)
                        {
                            int r = oy * g.SH + ky - g.PH, col = ox * g.SW + kx - g.PW;
                            if ((uint)r < (uint)g.H && (uint)col < (uint)g.W)
                                dx[plane * hw + r * g.W + col] += w[c * kk + ky * g.KW + kx] * dy[plane * ohw + oy * g.OW + ox];
                        }
        }
    }

    /// <summary>Scalar reference of <see cref="WeightGrad"/>.</summary>
    public static void WeightGradReference(int images, int channels, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, in ConvGeometry g, Span<float> dw)
    {
        int kk = g.KH * g.KW, hw = g.H * g.W, ohw = g.OH * g.OW;
        for (int plane = 0; plane < images * channels; plane++)
        {
            int c = plane % channels;
            for (int oy = 0; oy < g.OH; oy++)
                for (int ox = 0; ox < g.OW; ox++)
                    for (int ky = 0; ky < g.KH; ky++)
                        for (int kx = 0; kx < g.KW; kx++)
                        {
                            int r = oy * g.SH + ky - g.PH, col = ox * g.SW + kx - g.PW;
                            if ((uint)r < (uint)g.H && (uint)col < (uint)g.W)
                                dw[c * kk + ky * g.KW + kx] += dy[plane * ohw + oy * g.OW + ox] * x[plane * hw + r * g.W + col];
                        }
        }
    }
}
