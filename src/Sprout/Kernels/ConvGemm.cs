using System.Runtime.CompilerServices;

namespace Sprout.Kernels;

/// <summary>
/// Convolution as an implicit GEMM: y [M, OH·OW] (+)= A [M, K] · col [K, OH·OW] where col = im2col(image) is never
/// materialised. For each block of 64 output positions the K×64 panel the micro-kernel reads is packed straight from
/// the image (it stays in L1/L2), so the only memory traffic is the image, the weights and the output.
/// </summary>
public static unsafe class ConvGemm
{
    [ThreadStatic] private static float[]? _panel;
    [ThreadStatic] private static float[]? _apad;

    /// <summary>
    /// y [m, ohw] (+)= a [m, k] · im2col(x) for one image x [C, H, W] of geometry <paramref name="g"/> (k = g.K).
    /// Uses the Vector512 micro-kernel; falls back to explicit im2col + <see cref="Gemm.Multiply"/> elsewhere.
    /// </summary>
    public static void Forward(int m, ReadOnlySpan<float> a, ReadOnlySpan<float> x, in ConvGeometry g, Span<float> y, bool accumulate)
    {
        int k = g.K, ohw = g.OH * g.OW;
        if (a.Length < m * k || y.Length < m * ohw) throw new ArgumentException("ConvGemm: operand too short");
        var kind = Gemm.Kernel;
        if (kind != Gemm.KernelKind.Vector512)
        {
            var col = new float[k * ohw];
            Im2Col.Forward(x, g, col, ohw);
            Gemm.Multiply(m, ohw, k, a, k, false, col, ohw, false, y, ohw, accumulate);
            return;
        }
        const int nr = 64, mr = Gemm.MR;
        int mPad = (m + mr - 1) / mr * mr;
        var panel = _panel;
        if (panel is null || panel.Length < k * nr) _panel = panel = GC.AllocateUninitializedArray<float>(Math.Max(k * nr, 64 * 1024), pinned: true);
        // A padded to whole row tiles (zero rows), so every tile runs the full kernel
        var apad = _apad;
        if (apad is null || apad.Length < mPad * k) _apad = apad = GC.AllocateUninitializedArray<float>(Math.Max(mPad * k, 4096), pinned: true);
        a[..(m * k)].CopyTo(apad);
        apad.AsSpan(m * k, (mPad - m) * k).Clear();
        fixed (float* pPanel = panel) fixed (float* pa = apad) fixed (float* py = y)
        {
            float* tile = stackalloc float[mr * nr];
            for (int j0 = 0; j0 < ohw; j0 += nr)
            {
                int cols = Math.Min(nr, ohw - j0);
                PackPanel(x, g, j0, cols, new Span<float>(pPanel, k * nr));
                for (int i = 0; i < mPad; i += mr)
                {
                    int rows = Math.Min(mr, m - i);
                    float* cp = py + (long)i * ohw + j0;
                    if (rows == mr && cols == nr)
                    {
                        Gemm.MicroKernel(kind, k, pa + (long)i * k, k, 1, pPanel, nr, cp, ohw, accumulate);
                        continue;
                    }
                    Gemm.MicroKernel(kind, k, pa + (long)i * k, k, 1, pPanel, nr, tile, nr, false);
                    for (int r = 0; r < rows; r++)
                    {
                        float* crow = cp + (long)r * ohw;
                        float* trow = tile + r * nr;
                        if (accumulate) for (int j = 0; j < cols; j++) crow[j] += trow[j];
                        else for (int j = 0; j < cols; j++) crow[j] = trow[j];
                    }
                }
            }
        }
    }

    /// <summary>
    /// panel[t, j] = im2col(x)[t, j0 + j] for taps t in [0, K) and j in [0, cols ≤ 64); columns past cols are zero.
    /// Row t = (c, ki, kj); the panel has 64 columns.
    /// </summary>
    internal static void PackPanel(ReadOnlySpan<float> x, in ConvGeometry g, int j0, int cols, Span<float> panel)
    {
        PackColumns(x, g, j0, cols, panel, 64);
        for (int t = 0; t < g.K && cols < 64; t++) panel.Slice(t * 64 + cols, 64 - cols).Clear();
    }

    /// <summary>
    /// dst[t·ld + j] = im2col(x)[t, j0 + j] for taps t in [0, K) and j in [0, cols): a fast im2col (its scalar reference
    /// is <see cref="Im2Col.Forward"/>). The positions are split once into runs along output rows; for each tap, a run's
    /// in-image middle is copied with vector moves and only its edges are zeroed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackColumns(ReadOnlySpan<float> x, in ConvGeometry g, int j0, int cols, Span<float> dst, int ld)
    {
        int ow = g.OW, hw = g.H * g.W, H = g.H, W = g.W, sh = g.SH, sw = g.SW, ph = g.PH, pw = g.PW;
        if (ld < cols || dst.Length < (g.K - 1) * (long)ld + cols || x.Length < g.C * hw) throw new ArgumentException("PackColumns: buffer too short");
        // runs: (offset in the row, output row, first output column, length)
        int maxRuns = cols / Math.Max(1, ow) + 2;
        Span<int> rj = maxRuns <= 256 ? stackalloc int[maxRuns] : new int[maxRuns];
        Span<int> roy = maxRuns <= 256 ? stackalloc int[maxRuns] : new int[maxRuns];
        Span<int> rox = maxRuns <= 256 ? stackalloc int[maxRuns] : new int[maxRuns];
        Span<int> rlen = maxRuns <= 256 ? stackalloc int[maxRuns] : new int[maxRuns];
        int runs = 0;
        {
            int oy = j0 / ow, ox = j0 - oy * ow;
            for (int j = 0; j < cols; runs++)
            {
                int len = Math.Min(cols - j, ow - ox);
                rj[runs] = j; roy[runs] = oy; rox[runs] = ox; rlen[runs] = len;
                j += len; ox = 0; oy++;
            }
        }
        fixed (float* px = x) fixed (float* pp = dst)
        {
            float* d = pp;
            for (int c = 0; c < g.C; c++)
            {
                float* xc = px + (long)c * hw;
                for (int ki = 0; ki < g.KH; ki++)
                    for (int kj = 0; kj < g.KW; kj++, d += ld)
                    {
                        for (int r = 0; r < runs; r++)
                        {
                            int run = rlen[r];
                            float* dd = d + rj[r];
                            int iy = roy[r] * sh - ph + ki;
                            if ((uint)iy >= (uint)H)
                            {
                                for (int q = 0; q < run; q++) dd[q] = 0f;
                                continue;
                            }
                            float* src = xc + (long)iy * W;
                            int ix0 = rox[r] * sw - pw + kj;
                            if (sw == 1)
                            {
                                // q in [qs, qe) reads inside the image row
                                int qs = Math.Max(0, -ix0), qe = Math.Min(run, W - ix0);
                                if (qe < qs) qe = qs;
                                for (int q = 0; q < qs; q++) dd[q] = 0f;
                                if (qe - qs >= 16)
                                {
                                    int qq = qs;
                                    for (; qq + 16 <= qe; qq += 16)
                                        System.Runtime.Intrinsics.Vector512.Store(System.Runtime.Intrinsics.Vector512.Load(src + ix0 + qq), dd + qq);
                                    if (qq < qe) // last partial vector: overlap the previous one instead of a scalar tail
                                        System.Runtime.Intrinsics.Vector512.Store(System.Runtime.Intrinsics.Vector512.Load(src + ix0 + qe - 16), dd + qe - 16);
                                }
                                else if (qe - qs >= 8)
                                {
                                    // 8..15 values: two overlapping 8-wide moves
                                    System.Runtime.Intrinsics.Vector256.Store(System.Runtime.Intrinsics.Vector256.Load(src + ix0 + qs), dd + qs);
                                    System.Runtime.Intrinsics.Vector256.Store(System.Runtime.Intrinsics.Vector256.Load(src + ix0 + qe - 8), dd + qe - 8);
                                }
                                else
                                    for (int qq = qs; qq < qe; qq++) dd[qq] = src[ix0 + qq];
                                for (int q = qe; q < run; q++) dd[q] = 0f;
                            }
                            else
                            {
                                for (int q = 0; q < run; q++)
                                {
                                    int ix = ix0 + q * sw;
                                    dd[q] = (uint)ix < (uint)W ? src[ix] : 0f;
                                }
                            }
                        }
                    }
            }
        }
    }

    [ThreadStatic] private static float[]? _padded;

    /// <summary>
    /// dst[t·ld + j] = im2col(x)[t, j] for all taps t and output positions j of one image x [C, H, W], stride 1 only:
    /// each channel plane is first copied into a zero-padded plane, so every output row's run is one unmasked vector
    /// move (the small planes of VGG16 and MobileNetV1, 8×8 and below, where <see cref="PackColumns"/> pays a scalar
    /// edge per run). Same result as <see cref="PackColumns"/> (and <see cref="Im2Col.Forward"/>, its reference).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackColumnsPadded(ReadOnlySpan<float> x, in ConvGeometry g, Span<float> dst, int ld)
    {
        if (g.SH != 1 || g.SW != 1) throw new ArgumentException("PackColumnsPadded: stride 1 only");
        int oh = g.OH, ow = g.OW, H = g.H, W = g.W, hw = H * W, ph = g.PH, pw = g.PW;
        int hp = H + 2 * ph, wp = W + 2 * pw, planeP = hp * wp;
        if (ld < oh * ow || dst.Length < (g.K - 1) * (long)ld + oh * ow || x.Length < g.C * hw) throw new ArgumentException("PackColumnsPadded: buffer too short");
        var pad = _padded;
        if (pad is null || pad.Length < planeP + 16) _padded = pad = GC.AllocateUninitializedArray<float>(Math.Max(planeP + 16, 1024), pinned: true);
        // the border stays zero: only the interior is rewritten per channel
        pad.AsSpan(0, planeP).Clear();
        fixed (float* px = x) fixed (float* pd = dst) fixed (float* pp = pad)
        {
            float* d = pd;
            for (int c = 0; c < g.C; c++)
            {
                float* xc = px + (long)c * hw;
                // interior: pad[(r + ph)·wp + pw + col] = x[c, r, col]
                for (int r = 0; r < H; r++) Buffer.MemoryCopy(xc + r * W, pp + (r + ph) * wp + pw, (long)W * 4, (long)W * 4);
                for (int ki = 0; ki < g.KH; ki++)
                    for (int kj = 0; kj < g.KW; kj++, d += ld)
                    {
                        // output row oy reads pad[(oy + ki)·wp + kj …+ ow)
                        float* src = pp + ki * wp + kj;
                        float* dd = d;
                        for (int oy = 0; oy < oh; oy++, src += wp, dd += ow) CopyRun(src, dd, ow);
                    }
            }
        }
    }

    // dst[0 … n) = src[0 … n) with whole vector moves (overlapping at the end instead of a scalar tail)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRun(float* src, float* dst, int n)
    {
        if (n >= 16)
        {
            int q = 0;
            for (; q + 16 <= n; q += 16) System.Runtime.Intrinsics.Vector512.Store(System.Runtime.Intrinsics.Vector512.Load(src + q), dst + q);
            if (q < n) System.Runtime.Intrinsics.Vector512.Store(System.Runtime.Intrinsics.Vector512.Load(src + n - 16), dst + n - 16);
        }
        else if (n >= 8)
        {
            System.Runtime.Intrinsics.Vector256.Store(System.Runtime.Intrinsics.Vector256.Load(src), dst);
            System.Runtime.Intrinsics.Vector256.Store(System.Runtime.Intrinsics.Vector256.Load(src + n - 8), dst + n - 8);
        }
        else if (n >= 4)
        {
            System.Runtime.Intrinsics.Vector128.Store(System.Runtime.Intrinsics.Vector128.Load(src), dst);
            System.Runtime.Intrinsics.Vector128.Store(System.Runtime.Intrinsics.Vector128.Load(src + n - 4), dst + n - 4);
        }
        else
            for (int q = 0; q < n; q++) dst[q] = src[q];
    }
}
