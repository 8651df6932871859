using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sprout.Kernels;

/// <summary>Pooling kernels. Each SIMD kernel has a scalar twin (suffix Scalar) that tests compare it against.</summary>
public static class PoolKernels
{
    /// <summary>
    /// Input gradient of a 2×2, stride-2 max-pool whose windows tile one plane exactly: dx [2·oh, 2·ow] (+)= g at the
    /// window's maximum and 0 elsewhere, with g and arg [oh, ow] (arg = the maximum's index within the plane, as a float).
    /// Every input position is written, so dx needs no clearing first.
    /// </summary>
    public static unsafe void MaxPool2x2Backward(ReadOnlySpan<float> g, ReadOnlySpan<float> arg, Span<float> dx, int oh, int ow, bool accumulate)
    {
        int w = 2 * ow;
        if (g.Length < oh * ow || arg.Length < oh * ow || dx.Length < 4 * oh * ow) throw new ArgumentException("MaxPool2x2Backward: operand too short");
        if (!Avx512F.IsSupported)
        {
            MaxPool2x2BackwardScalar(g, arg, dx, oh, ow, accumulate);
            return;
        }
        // lanes 0..15 of the two row vectors interleave outputs 0..7 (resp. 8..15): even columns from the left cell
        var lo = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        var hi = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        var step2 = Vector512.Create(0f, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var one = Vector512.Create(1f);
        var wv = Vector512.Create((float)w);
        var w1 = Vector512.Create((float)w + 1);
        fixed (float* pg = g) fixed (float* pa = arg) fixed (float* pd = dx)
        {
            for (int oy = 0; oy < oh; oy++)
            {
                float* gr = pg + oy * ow, ar = pa + oy * ow;
                float* d0 = pd + 2 * oy * w, d1 = d0 + w;
                int ox = 0;
                for (; ox + 16 <= ow; ox += 16)
                {
                    var gv = Vector512.Load(gr + ox);
                    // position of the maximum inside its window: 0, 1, w or w + 1
                    var rel = Vector512.Load(ar + ox) - (Vector512.Create((float)(2 * oy * w + 2 * ox)) + step2);
                    var tl = gv & Vector512.Equals(rel, Vector512<float>.Zero);
                    var tr = gv & Vector512.Equals(rel, one);
                    var bl = gv & Vector512.Equals(rel, wv);
                    var br = gv & Vector512.Equals(rel, w1);
                    var r00 = Avx512F.PermuteVar16x32x2(tl, lo, tr);
                    var r01 = Avx512F.PermuteVar16x32x2(tl, hi, tr);
                    var r10 = Avx512F.PermuteVar16x32x2(bl, lo, br);
                    var r11 = Avx512F.PermuteVar16x32x2(bl, hi, br);
                    float* p0 = d0 + 2 * ox, p1 = d1 + 2 * ox;
                    if (accumulate)
                    {
                        r00 += Vector512.Load(p0); r01 += Vector512.Load(p0 + 16);
                        r10 += Vector512.Load(p1); r11 += Vector512.Load(p1 + 16);
                    }
                    Vector512.Store(r00, p0); Vector512.Store(r01, p0 + 16);
                    Vector512.Store(r10, p1); Vector512.Store(r11, p1 + 16);
                }
                for (; ox + 8 <= ow; ox += 8)
                {
                    // 8 outputs: the same with half-width loads; the interleaved rows are one vector each
                    var gv = Vector256.Load(gr + ox).ToVector512();
                    var rel = Vector256.Load(ar + ox).ToVector512() - (Vector512.Create((float)(2 * oy * w + 2 * ox)) + step2);
                    var tl = gv & Vector512.Equals(rel, Vector512<float>.Zero);
                    var tr = gv & Vector512.Equals(rel, one);
                    var bl = gv & Vector512.Equals(rel, wv);
                    var br = gv & Vector512.Equals(rel, w1);
                    var r0 = Avx512F.PermuteVar16x32x2(tl, lo, tr);
                    var r1 = Avx512F.PermuteVar16x32x2(bl, lo, br);
                    float* p0 = d0 + 2 * ox, p1 = d1 + 2 * ox;
                    if (accumulate) { r0 += Vector512.Load(p0); r1 += Vector512.Load(p1); }
                    Vector512.Store(r0, p0);
                    Vector512.Store(r1, p1);
                }
                if (ox < ow)
                    RowScalar(gr + ox, ar + ox, d0 + 2 * ox, d1 + 2 * ox, ow - ox, 2 * oy * w + 2 * ox, w, accumulate);
            }
        }
    }

    /// <summary>Scalar twin of <see cref="MaxPool2x2Backward"/>.</summary>
    public static unsafe void MaxPool2x2BackwardScalar(ReadOnlySpan<float> g, ReadOnlySpan<float> arg, Span<float> dx, int oh, int ow, bool accumulate)
    {
        int w = 2 * ow;
        if (g.Length < oh * ow || arg.Length < oh * ow || dx.Length < 4 * oh * ow) throw new ArgumentException("MaxPool2x2Backward: operand too short");
        fixed (float* pg = g) fixed (float* pa = arg) fixed (float* pd = dx)
            for (int oy = 0; oy < oh; oy++)
                RowScalar(pg + oy * ow, pa + oy * ow, pd + 2 * oy * w, pd + (2 * oy + 1) * w, ow, 2 * oy * w, w, accumulate);
    }

    // one output row: cnt outputs whose windows start at plane index first (top row d0, bottom row d1)
    private static unsafe void RowScalar(float* g, float* arg, float* d0, float* d1, int cnt, int first, int w, bool accumulate)
    {
        for (int j = 0; j < cnt; j++)
        {
            int rel = (int)arg[j] - (first + 2 * j);
            float gv = g[j];
            float a = rel == 0 ? gv : 0f, b = rel == 1 ? gv : 0f, c = rel == w ? gv : 0f, d = rel == w + 1 ? gv : 0f;
            if (accumulate) { d0[2 * j] += a; d0[2 * j + 1] += b; d1[2 * j] += c; d1[2 * j + 1] += d; }
            else { d0[2 * j] = a; d0[2 * j + 1] = b; d1[2 * j] = c; d1[2 * j + 1] = d; }
        }
    }
}
