using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sprout.Kernels;

/// <summary>
/// Depthwise 3×3 convolution with padding 1 computed in place on the planes, no copies: stride 1 on planes whose width
/// is a multiple of 16, stride 2 on planes whose width is a multiple of 32 and height even — MobileNetV1's 32×32 and
/// 16×16 layers, where <see cref="DepthwiseConv"/>'s phase-plane copies cost as much as the arithmetic.
/// <para>
/// A row is a run of 16-lane vectors. For stride 1 the left and right taps of a vector are the vector itself shifted by
/// one lane (<c>valignd</c>) with the neighbouring vector's edge lane, or zero at the row's ends; rows above and below
/// the plane are skipped. For stride 2 two input vectors are split into their even and odd columns (<c>vpermt2ps</c>):
/// output column c reads input columns 2c − 1 (the odd vector shifted by one lane), 2c (even) and 2c + 1 (odd). The
/// input gradient of stride 1 is the forward pass with the kernel turned 180°; that of stride 2 gathers each input row's
/// contributions as even and odd vectors and interleaves them back. The weight gradient keeps nine vector accumulators
/// per channel and reduces them once per call.
/// </para>
/// The scalar references are <see cref="DepthwiseConv.ForwardReference"/>, <see cref="DepthwiseConv.InputGradReference"/>
/// and <see cref="DepthwiseConv.WeightGradReference"/>; the sums run in another order, so they agree to rounding.
/// </summary>
public static unsafe class DepthwiseDirect
{
    private const int L = 16;

    /// <summary>Whether <paramref name="g"/> (one channel's plane) is a geometry these kernels run.</summary>
    public static bool Applies(in ConvGeometry g) =>
        Avx512F.IsSupported && g.KH == 3 && g.KW == 3 && g.PH == 1 && g.PW == 1 && g.H >= 1 && g.W >= L &&
        ((g.SH == 1 && g.SW == 1 && g.W % L == 0) || (g.SH == 2 && g.SW == 2 && g.W % (2 * L) == 0 && g.H % 2 == 0));

    /// <summary>y [n, C, OH, OW] = depthwise conv of x [n, C, H, W] with w [C, 1, 3, 3] (+ bias [C] when not empty).</summary>
    public static void Forward(int images, int channels, ReadOnlySpan<float> w, ReadOnlySpan<float> x, in ConvGeometry g,
        ReadOnlySpan<float> bias, Span<float> y)
    {
        Check(images, channels, w, x, g, y);
        int hw = g.H * g.W, ohw = g.OH * g.OW;
        fixed (float* pw = w) fixed (float* px = x) fixed (float* py = y)
            for (int plane = 0; plane < images * channels; plane++)
            {
                int c = plane % channels;
                float b = bias.IsEmpty ? 0f : bias[c];
                if (g.SH == 1) PlaneS1(px + (long)plane * hw, py + (long)plane * ohw, g.H, g.W, pw + c * 9, false, b, false);
                else PlaneS2(px + (long)plane * hw, py + (long)plane * ohw, g.H, g.W, pw + c * 9, b, false);
            }
    }

    /// <summary>dx [n, C, H, W] (+)= the input gradient for dy [n, C, OH, OW] (written when <paramref name="accumulate"/> is false).</summary>
    public static void InputGrad(int images, int channels, ReadOnlySpan<float> w, ReadOnlySpan<float> dy, in ConvGeometry g,
        Span<float> dx, bool accumulate)
    {
        Check(images, channels, w, dx, g, dy);
        int hw = g.H * g.W, ohw = g.OH * g.OW;
        fixed (float* pw = w) fixed (float* pdy = dy) fixed (float* pdx = dx)
            for (int plane = 0; plane < images * channels; plane++)
            {
                int c = plane % channels;
                // stride 1: the forward pass of dy with the kernel turned 180° (same size, padding 1)
                if (g.SH == 1) PlaneS1(pdy + (long)plane * ohw, pdx + (long)plane * hw, g.H, g.W, pw + c * 9, true, 0f, accumulate);
                else PlaneS2Grad(pdy + (long)plane * ohw, pdx + (long)plane * hw, g.H, g.W, pw + c * 9, accumulate);
            }
    }

    [ThreadStatic] private static Vector512<float>[]? _acc;

    /// <summary>dw [C, 1, 3, 3] += the weight gradient for dy [n, C, OH, OW] and x [n, C, H, W].</summary>
    public static void WeightGrad(int images, int channels, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, in ConvGeometry g, Span<float> dw)
    {
        Check(images, channels, dw, x, g, dy);
        int hw = g.H * g.W, ohw = g.OH * g.OW;
        // nine vector accumulators per channel; the planes are read in memory order (image by image), so the hardware
        // prefetcher streams them rather than starting cold on every plane
        var acc = _acc is { } a && a.Length >= channels * 9 ? a : _acc = GC.AllocateArray<Vector512<float>>(Math.Max(channels * 9, 64), pinned: true);
        Array.Clear(acc, 0, channels * 9);
        fixed (float* pdy = dy) fixed (float* px = x) fixed (Vector512<float>* pa = acc)
        {
            for (int plane = 0; plane < images * channels; plane++)
            {
                var ac = pa + (plane % channels) * 9;
                if (g.SH == 1) PlaneS1WeightGrad(pdy + (long)plane * ohw, px + (long)plane * hw, g.H, g.W, ac);
                else PlaneS2WeightGrad(pdy + (long)plane * ohw, px + (long)plane * hw, g.H, g.W, ac);
            }
            for (int c = 0; c < channels; c++)
                for (int t = 0; t < 9; t++) dw[c * 9 + t] += Vector512.Sum(pa[c * 9 + t]);
        }
    }

    private static void Check(int images, int channels, ReadOnlySpan<float> w, ReadOnlySpan<float> x, in ConvGeometry g, ReadOnlySpan<float> y)
    {
        if (!Applies(g)) throw new ArgumentException("DepthwiseDirect: geometry not supported");
        if (w.Length < channels * 9 || x.Length < (long)images * channels * g.H * g.W || y.Length < (long)images * channels * g.OH * g.OW)
            throw new ArgumentException("DepthwiseDirect: operand too short");
    }

    // [prev[15], v[0..14]]: the vector one column to the left
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Left(Vector512<float> v, Vector512<float> prev) =>
        Avx512F.AlignRight32(v.AsInt32(), prev.AsInt32(), 15).AsSingle();

    // [v[1..15], next[0]]: the vector one column to the right
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Right(Vector512<float> v, Vector512<float> next) =>
        Avx512F.AlignRight32(next.AsInt32(), v.AsInt32(), 1).AsSingle();

    private static readonly Vector512<int> EvenIdx = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> OddIdx = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    private static readonly Vector512<int> LowIdx = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static readonly Vector512<int> HighIdx = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

    // y [h, wd] (+)= conv3×3 pad 1 of x [h, wd] with k (turned 180° when `flip`) + bias
    private static void PlaneS1(float* x, float* y, int h, int wd, float* k, bool flip, float bias, bool accumulate)
    {
        int nv = wd / L;
        Span<float> kk = stackalloc float[9];
        for (int t = 0; t < 9; t++) kk[t] = k[flip ? 8 - t : t];
        Vector512<float> k00 = Vector512.Create(kk[0]), k01 = Vector512.Create(kk[1]), k02 = Vector512.Create(kk[2]);
        Vector512<float> k10 = Vector512.Create(kk[3]), k11 = Vector512.Create(kk[4]), k12 = Vector512.Create(kk[5]);
        Vector512<float> k20 = Vector512.Create(kk[6]), k21 = Vector512.Create(kk[7]), k22 = Vector512.Create(kk[8]);
        var vb = Vector512.Create(bias);
        for (int r = 0; r < h; r++)
        {
            float* yr = y + (long)r * wd;
            for (int v = 0; v < nv; v++)
            {
                var acc = accumulate ? Vector512.Load(yr + v * L) + vb : vb;
                // input row r − 1 + i against kernel row i
                if (r > 0) acc = Row(x + (long)(r - 1) * wd, v, nv, k00, k01, k02, acc);
                acc = Row(x + (long)r * wd, v, nv, k10, k11, k12, acc);
                if (r + 1 < h) acc = Row(x + (long)(r + 1) * wd, v, nv, k20, k21, k22, acc);
                Vector512.Store(acc, yr + v * L);
            }
        }
    }

    // acc + kl·x[c − 1] + kc·x[c] + kr·x[c + 1] for the 16 columns c of vector v of row xr
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Row(float* xr, int v, int nv, Vector512<float> kl, Vector512<float> kc, Vector512<float> kr, Vector512<float> acc)
    {
        var c = Vector512.Load(xr + v * L);
        var prev = v > 0 ? Vector512.Load(xr + (v - 1) * L) : Vector512<float>.Zero;
        var next = v + 1 < nv ? Vector512.Load(xr + (v + 1) * L) : Vector512<float>.Zero;
        acc = Vector512.FusedMultiplyAdd(Left(c, prev), kl, acc);
        acc = Vector512.FusedMultiplyAdd(c, kc, acc);
        return Vector512.FusedMultiplyAdd(Right(c, next), kr, acc);
    }

    // acc[3i + j] += dy · x[r − 1 + i, c − 1 + j] over the plane (the nine sums in registers)
    private static void PlaneS1WeightGrad(float* dy, float* x, int h, int wd, Vector512<float>* acc)
    {
        int nv = wd / L;
        Vector512<float> a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], a4 = acc[4], a5 = acc[5], a6 = acc[6], a7 = acc[7], a8 = acc[8];
        for (int r = 0; r < h; r++)
        {
            float* d = dy + (long)r * wd;
            float* xm = x + (long)r * wd;
            for (int v = 0; v < nv; v++)
            {
                var dv = Vector512.Load(d + v * L);
                var c = Vector512.Load(xm + v * L);
                var prev = v > 0 ? Vector512.Load(xm + (v - 1) * L) : Vector512<float>.Zero;
                var next = v + 1 < nv ? Vector512.Load(xm + (v + 1) * L) : Vector512<float>.Zero;
                a3 = Vector512.FusedMultiplyAdd(dv, Left(c, prev), a3);
                a4 = Vector512.FusedMultiplyAdd(dv, c, a4);
                a5 = Vector512.FusedMultiplyAdd(dv, Right(c, next), a5);
                if (r > 0)
                {
                    float* xu = xm - wd;
                    c = Vector512.Load(xu + v * L);
                    prev = v > 0 ? Vector512.Load(xu + (v - 1) * L) : Vector512<float>.Zero;
                    next = v + 1 < nv ? Vector512.Load(xu + (v + 1) * L) : Vector512<float>.Zero;
                    a0 = Vector512.FusedMultiplyAdd(dv, Left(c, prev), a0);
                    a1 = Vector512.FusedMultiplyAdd(dv, c, a1);
                    a2 = Vector512.FusedMultiplyAdd(dv, Right(c, next), a2);
                }
                if (r + 1 < h)
                {
                    float* xd = xm + wd;
                    c = Vector512.Load(xd + v * L);
                    prev = v > 0 ? Vector512.Load(xd + (v - 1) * L) : Vector512<float>.Zero;
                    next = v + 1 < nv ? Vector512.Load(xd + (v + 1) * L) : Vector512<float>.Zero;
                    a6 = Vector512.FusedMultiplyAdd(dv, Left(c, prev), a6);
                    a7 = Vector512.FusedMultiplyAdd(dv, c, a7);
                    a8 = Vector512.FusedMultiplyAdd(dv, Right(c, next), a8);
                }
            }
        }
        acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3; acc[4] = a4; acc[5] = a5; acc[6] = a6; acc[7] = a7; acc[8] = a8;
    }

    // the columns 2c − 1 (left), 2c (even) and 2c + 1 (odd) for the 16 outputs c of vector v, from input columns
    // 32v − 1 … 32v + 31 of row xr (column −1 is the zero padding)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Split(float* xr, int v, out Vector512<float> left, out Vector512<float> even, out Vector512<float> odd)
    {
        var a = Vector512.Load(xr + 2 * v * L);
        var b = Vector512.Load(xr + 2 * v * L + L);
        even = Avx512F.PermuteVar16x32x2(a, EvenIdx, b);
        odd = Avx512F.PermuteVar16x32x2(a, OddIdx, b);
        // lane 15 of the 16 floats before the pair is column 32v − 1
        left = Left(odd, v > 0 ? Vector512.Load(xr + 2 * v * L - L) : Vector512<float>.Zero);
    }

    // y [h/2, wd/2] = conv3×3 stride 2 pad 1 of x [h, wd] with k + bias
    private static void PlaneS2(float* x, float* y, int h, int wd, float* k, float bias, bool accumulate)
    {
        int oh = h / 2, ow = wd / 2, nv = ow / L;
        var vb = Vector512.Create(bias);
        Vector512<float> k00 = Vector512.Create(k[0]), k01 = Vector512.Create(k[1]), k02 = Vector512.Create(k[2]);
        Vector512<float> k10 = Vector512.Create(k[3]), k11 = Vector512.Create(k[4]), k12 = Vector512.Create(k[5]);
        Vector512<float> k20 = Vector512.Create(k[6]), k21 = Vector512.Create(k[7]), k22 = Vector512.Create(k[8]);
        for (int r = 0; r < oh; r++)
        {
            float* yr = y + (long)r * ow;
            for (int v = 0; v < nv; v++)
            {
                var acc = accumulate ? Vector512.Load(yr + v * L) + vb : vb;
                Vector512<float> left, even, odd;
                if (r > 0)
                {
                    Split(x + (long)(2 * r - 1) * wd, v, out left, out even, out odd);
                    acc = Vector512.FusedMultiplyAdd(left, k00, acc);
                    acc = Vector512.FusedMultiplyAdd(even, k01, acc);
                    acc = Vector512.FusedMultiplyAdd(odd, k02, acc);
                }
                Split(x + (long)(2 * r) * wd, v, out left, out even, out odd);
                acc = Vector512.FusedMultiplyAdd(left, k10, acc);
                acc = Vector512.FusedMultiplyAdd(even, k11, acc);
                acc = Vector512.FusedMultiplyAdd(odd, k12, acc);
                Split(x + (long)(2 * r + 1) * wd, v, out left, out even, out odd);
                acc = Vector512.FusedMultiplyAdd(left, k20, acc);
                acc = Vector512.FusedMultiplyAdd(even, k21, acc);
                acc = Vector512.FusedMultiplyAdd(odd, k22, acc);
                Vector512.Store(acc, yr + v * L);
            }
        }
    }

    // acc[3i + j] += dy[r, c] · x[2r − 1 + i, 2c − 1 + j] over the plane (the nine sums in registers)
    private static void PlaneS2WeightGrad(float* dy, float* x, int h, int wd, Vector512<float>* acc)
    {
        int oh = h / 2, ow = wd / 2, nv = ow / L;
        Vector512<float> a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], a4 = acc[4], a5 = acc[5], a6 = acc[6], a7 = acc[7], a8 = acc[8];
        for (int r = 0; r < oh; r++)
            for (int v = 0; v < nv; v++)
            {
                var d = Vector512.Load(dy + (long)r * ow + v * L);
                Vector512<float> left, even, odd;
                if (r > 0)
                {
                    Split(x + (long)(2 * r - 1) * wd, v, out left, out even, out odd);
                    a0 = Vector512.FusedMultiplyAdd(d, left, a0);
                    a1 = Vector512.FusedMultiplyAdd(d, even, a1);
                    a2 = Vector512.FusedMultiplyAdd(d, odd, a2);
                }
                Split(x + (long)(2 * r) * wd, v, out left, out even, out odd);
                a3 = Vector512.FusedMultiplyAdd(d, left, a3);
                a4 = Vector512.FusedMultiplyAdd(d, even, a4);
                a5 = Vector512.FusedMultiplyAdd(d, odd, a5);
                Split(x + (long)(2 * r + 1) * wd, v, out left, out even, out odd);
                a6 = Vector512.FusedMultiplyAdd(d, left, a6);
                a7 = Vector512.FusedMultiplyAdd(d, even, a7);
                a8 = Vector512.FusedMultiplyAdd(d, odd, a8);
            }
        acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3; acc[4] = a4; acc[5] = a5; acc[6] = a6; acc[7] = a7; acc[8] = a8;
    }

    // dx [h, wd] (+)= the input gradient of the stride-2 conv for dy [h/2, wd/2]. Input row 2m gets kernel row 1 from
    // output row m; row 2m + 1 gets kernel row 2 from output row m and kernel row 0 from output row m + 1. Within a row,
    // even column 2c gets k[·,1]·dy[c], odd column 2c + 1 gets k[·,2]·dy[c] + k[·,0]·dy[c + 1].
    private static void PlaneS2Grad(float* dy, float* dx, int h, int wd, float* k, bool accumulate)
    {
        int oh = h / 2, ow = wd / 2, nv = ow / L;
        for (int m = 0; m < oh; m++)
        {
            float* d0 = dy + (long)m * ow;
            float* d1 = m + 1 < oh ? dy + (long)(m + 1) * ow : null;
            for (int v = 0; v < nv; v++)
            {
                var a = Vector512.Load(d0 + v * L);
                var an = Right(a, v + 1 < nv ? Vector512.Load(d0 + (v + 1) * L) : Vector512<float>.Zero);
                // even input row 2m: kernel row 1
                var even = a * Vector512.Create(k[4]);
                var odd = Vector512.FusedMultiplyAdd(an, Vector512.Create(k[3]), a * Vector512.Create(k[5]));
                Store(dx + (long)(2 * m) * wd + 2 * v * L, even, odd, accumulate);
                // odd input row 2m + 1: kernel row 2 of output row m, kernel row 0 of output row m + 1
                even = a * Vector512.Create(k[7]);
                odd = Vector512.FusedMultiplyAdd(an, Vector512.Create(k[6]), a * Vector512.Create(k[8]));
                if (d1 is not null)
                {
                    var b = Vector512.Load(d1 + v * L);
                    var bn = Right(b, v + 1 < nv ? Vector512.Load(d1 + (v + 1) * L) : Vector512<float>.Zero);
                    even = Vector512.FusedMultiplyAdd(b, Vector512.Create(k[1]), even);
                    odd = Vector512.FusedMultiplyAdd(b, Vector512.Create(k[2]), odd);
                    odd = Vector512.FusedMultiplyAdd(bn, Vector512.Create(k[0]), odd);
                }
                Store(dx + (long)(2 * m + 1) * wd + 2 * v * L, even, odd, accumulate);
            }
        }
    }

    // dst[0 … 32) (+)= the interleaving even[0], odd[0], even[1], odd[1], …
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* dst, Vector512<float> even, Vector512<float> odd, bool accumulate)
    {
        var lo = Avx512F.PermuteVar16x32x2(even, LowIdx, odd);
        var hi = Avx512F.PermuteVar16x32x2(even, HighIdx, odd);
        if (accumulate)
        {
            lo += Vector512.Load(dst);
            hi += Vector512.Load(dst + L);
        }
        Vector512.Store(lo, dst);
        Vector512.Store(hi, dst + L);
    }
}
