using System.Runtime.Intrinsics;

namespace Sprout.Kernels;

/// <summary>
/// Activation kernels that TensorPrimitives lacks. Each SIMD kernel has a scalar twin (suffix Scalar) that tests
/// compare it against; the public entry picks SIMD when available.
/// </summary>
public static class Activations
{
    /// <summary>dx (+)= g where x &gt; 0 (or x ≥ 0 when <paramref name="oneAtZero"/>), else 0.</summary>
    public static void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> dx, bool accumulate, bool oneAtZero = false)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= x.Length; i += 16)
            {
                var xv = Vector512.Create(x.Slice(i, 16));
                var gv = Vector512.Create(g.Slice(i, 16));
                var mask = oneAtZero ? Vector512.GreaterThanOrEqual(xv, Vector512<float>.Zero) : Vector512.GreaterThan(xv, Vector512<float>.Zero);
                var r = Vector512.BitwiseAnd(gv, mask);
                if (accumulate) r += Vector512.Create(dx.Slice(i, 16));
                r.CopyTo(dx.Slice(i, 16));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= x.Length; i += 8)
            {
                var xv = Vector256.Create(x.Slice(i, 8));
                var gv = Vector256.Create(g.Slice(i, 8));
                var mask = oneAtZero ? Vector256.GreaterThanOrEqual(xv, Vector256<float>.Zero) : Vector256.GreaterThan(xv, Vector256<float>.Zero);
                var r = Vector256.BitwiseAnd(gv, mask);
                if (accumulate) r += Vector256.Create(dx.Slice(i, 8));
                r.CopyTo(dx.Slice(i, 8));
            }
        }
        ReluBackwardScalar(x[i..], g[i..], dx[i..], accumulate, oneAtZero);
    }

    /// <summary>Scalar twin of <see cref="ReluBackward"/>.</summary>
    public static void ReluBackwardScalar(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> dx, bool accumulate, bool oneAtZero = false)
    {
        for (int i = 0; i < x.Length; i++)
        {
            bool on = oneAtZero ? x[i] >= 0f : x[i] > 0f;
            float r = on ? g[i] : 0f;
            dx[i] = accumulate ? dx[i] + r : r;
        }
    }

    /// <summary>y = x &gt; 0 ? x : slope·x.</summary>
    public static void LeakyRelu(ReadOnlySpan<float> x, Span<float> y, float slope)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var s = Vector512.Create(slope);
            for (; i + 16 <= x.Length; i += 16)
            {
                var xv = Vector512.Create(x.Slice(i, 16));
                Vector512.ConditionalSelect(Vector512.GreaterThan(xv, Vector512<float>.Zero), xv, xv * s).CopyTo(y.Slice(i, 16));
            }
        }
        LeakyReluScalar(x[i..], y[i..], slope);
    }

    /// <summary>Scalar twin of <see cref="LeakyRelu"/>.</summary>
    public static void LeakyReluScalar(ReadOnlySpan<float> x, Span<float> y, float slope)
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0f ? x[i] : slope * x[i];
    }

    /// <summary>dx (+)= g · (x &gt; 0 ? 1 : slope).</summary>
    public static void LeakyReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> dx, float slope, bool accumulate)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var s = Vector512.Create(slope);
            for (; i + 16 <= x.Length; i += 16)
            {
                var xv = Vector512.Create(x.Slice(i, 16));
                var gv = Vector512.Create(g.Slice(i, 16));
                var r = Vector512.ConditionalSelect(Vector512.GreaterThan(xv, Vector512<float>.Zero), gv, gv * s);
                if (accumulate) r += Vector512.Create(dx.Slice(i, 16));
                r.CopyTo(dx.Slice(i, 16));
            }
        }
        LeakyReluBackwardScalar(x[i..], g[i..], dx[i..], slope, accumulate);
    }

    /// <summary>Scalar twin of <see cref="LeakyReluBackward"/>.</summary>
    public static void LeakyReluBackwardScalar(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> dx, float slope, bool accumulate)
    {
        for (int i = 0; i < x.Length; i++)
        {
            float r = x[i] > 0f ? g[i] : slope * g[i];
            dx[i] = accumulate ? dx[i] + r : r;
        }
    }

    /// <summary>y = x·σ(x) (Swish / SiLU), σ(x) = 1/(1 + e^−x) with Vector512.Exp.</summary>
    public static void Swish(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var one = Vector512<float>.One;
            for (; i + 16 <= x.Length; i += 16)
            {
                var xv = Vector512.Create(x.Slice(i, 16));
                (xv / (one + FastExp.Exp(-xv))).CopyTo(y.Slice(i, 16));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256<float>.One;
            for (; i + 8 <= x.Length; i += 8)
            {
                var xv = Vector256.Create(x.Slice(i, 8));
                (xv / (one + FastExp.Exp(-xv))).CopyTo(y.Slice(i, 8));
            }
        }
        SwishScalar(x[i..], y[i..]);
    }

    /// <summary>Scalar twin of <see cref="Swish"/>.</summary>
    public static void SwishScalar(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] / (1f + MathF.Exp(-x[i]));
    }

    /// <summary>dx (+)= g · σ(x)·(1 + x·(1 − σ(x))), the derivative of x·σ(x) (σ recomputed, not stored).</summary>
    public static void SwishBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> dx, bool accumulate)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var one = Vector512<float>.One;
            for (; i + 16 <= x.Length; i += 16)
            {
                var xv = Vector512.Create(x.Slice(i, 16));
                var sg = one / (one + FastExp.Exp(-xv));
                var r = Vector512.Create(g.Slice(i, 16)) * sg * (one + xv * (one - sg));
                if (accumulate) r += Vector512.Create(dx.Slice(i, 16));
                r.CopyTo(dx.Slice(i, 16));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256<float>.One;
            for (; i + 8 <= x.Length; i += 8)
            {
                var xv = Vector256.Create(x.Slice(i, 8));
                var sg = one / (one + FastExp.Exp(-xv));
                var r = Vector256.Create(g.Slice(i, 8)) * sg * (one + xv * (one - sg));
                if (accumulate) r += Vector256.Create(dx.Slice(i, 8));
                r.CopyTo(dx.Slice(i, 8));
            }
        }
        SwishBackwardScalar(x[i..], g[i..], dx[i..], accumulate);
    }

    /// <summary>Scalar twin of <see cref="SwishBackward"/>.</summary>
    public static void SwishBackwardScalar(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> dx, bool accumulate)
    {
        for (int i = 0; i < x.Length; i++)
        {
            float sg = 1f / (1f + MathF.Exp(-x[i]));
            float r = g[i] * sg * (1f + x[i] * (1f - sg));
            dx[i] = accumulate ? dx[i] + r : r;
        }
    }
}
