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
    /// panel[t, j] = im2col(x)[t, j0 + j] for taps t in [0, K) and j in [0, cols); columns past cols are zero.
    /// Row t = (c, ki, kj); the panel has 64 columns. Runs along an output row are copied with vector moves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackPanel(ReadOnlySpan<float> x, in ConvGeometry g, int j0, int cols, Span<float> panel)
    {
        const int nr = 64;
        int ow = g.OW, hw = g.H * g.W, H = g.H, W = g.W, sh = g.SH, sw = g.SW, ph = g.PH, pw = g.PW;
        if (panel.Length < g.K * nr || x.Length < g.C * hw) throw new ArgumentException("PackPanel: buffer too short");
        fixed (float* px = x) fixed (float* pp = panel)
        {
            float* d = pp;
            for (int c = 0; c < g.C; c++)
            {
                float* xc = px + (long)c * hw;
                for (int ki = 0; ki < g.KH; ki++)
                    for (int kj = 0; kj < g.KW; kj++, d += nr)
                    {
                        int j = 0;
                        int pos = j0, oy = pos / ow, ox = pos - oy * ow;
                        while (j < cols)
                        {
                            int run = Math.Min(cols - j, ow - ox);
                            int iy = oy * sh - ph + ki;
                            float* dd = d + j;
                            if ((uint)iy >= (uint)H)
                            {
                                new Span<float>(dd, run).Clear();
                            }
                            else
                            {
                                float* src = xc + (long)iy * W;
                                int ix0 = ox * sw - pw + kj;
                                if (sw == 1 && ix0 >= 0 && ix0 + run <= W)
                                {
                                    int q = 0;
                                    for (; q + 16 <= run; q += 16)
                                        System.Runtime.Intrinsics.Vector512.Store(System.Runtime.Intrinsics.Vector512.Load(src + ix0 + q), dd + q);
                                    for (; q < run; q++) dd[q] = src[ix0 + q];
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
                            j += run;
                            ox = 0;
                            oy++;
                        }
                        for (int q = cols; q < nr; q++) d[q] = 0f;
                    }
            }
        }
    }
}
