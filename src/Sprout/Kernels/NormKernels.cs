using System.Runtime.Intrinsics;

namespace Sprout.Kernels;

/// <summary>
/// Batch-normalisation passes over one contiguous plane of a channel, optionally fused with the ReLU that follows
/// (z = x·scale + shift, y = max(z, 0)). The ReLU's gradient mask z &gt; 0 is recomputed from x with the same fused
/// multiply-add as the forward pass (so it is exactly y &gt; 0) instead of reading y back. Each SIMD kernel has a
/// scalar twin (suffix Scalar) that tests compare it against.
/// </summary>
public static class NormKernels
{
    /// <summary>y = x·scale + shift, then max(·, 0) when <paramref name="relu"/>.</summary>
    public static void Apply(ReadOnlySpan<float> x, float scale, float shift, Span<float> y, bool relu)
    {
        if (y.Length < x.Length) throw new ArgumentException("NormKernels.Apply: output too short");
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var s = Vector512.Create(scale);
            var t = Vector512.Create(shift);
            for (; i + 16 <= x.Length; i += 16)
            {
                var z = Vector512.FusedMultiplyAdd(Vector512.Create(x.Slice(i, 16)), s, t);
                if (relu) z = Vector512.Max(z, Vector512<float>.Zero);
                z.CopyTo(y.Slice(i, 16));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var s = Vector256.Create(scale);
            var t = Vector256.Create(shift);
            for (; i + 8 <= x.Length; i += 8)
            {
                var z = Vector256.FusedMultiplyAdd(Vector256.Create(x.Slice(i, 8)), s, t);
                if (relu) z = Vector256.Max(z, Vector256<float>.Zero);
                z.CopyTo(y.Slice(i, 8));
            }
        }
        ApplyScalar(x[i..], scale, shift, y[i..], relu);
    }

    /// <summary>Scalar twin of <see cref="Apply"/>.</summary>
    public static void ApplyScalar(ReadOnlySpan<float> x, float scale, float shift, Span<float> y, bool relu)
    {
        for (int i = 0; i < x.Length; i++)
        {
            float z = MathF.FusedMultiplyAdd(x[i], scale, shift);
            y[i] = relu ? MathF.Max(z, 0f) : z;
        }
    }

    /// <summary>
    /// (Σ d, Σ d·x) with d = dy, or with the fused ReLU d = dy where x·scale + shift &gt; 0 (else 0).
    /// Accumulated in float lanes over the plane; callers sum planes in double.
    /// </summary>
    public static (float SumD, float SumDX) GradSums(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, bool relu, float scale, float shift)
    {
        if (x.Length < dy.Length) throw new ArgumentException("NormKernels.GradSums: operand too short");
        int i = 0;
        float sd = 0f, sdx = 0f;
        if (Vector512.IsHardwareAccelerated && dy.Length >= 16)
        {
            var s = Vector512.Create(scale);
            var t = Vector512.Create(shift);
            Vector512<float> a0 = default, a1 = default, b0 = default, b1 = default;
            for (; i + 32 <= dy.Length; i += 32)
            {
                var d0 = Vector512.Create(dy.Slice(i, 16));
                var d1 = Vector512.Create(dy.Slice(i + 16, 16));
                var x0 = Vector512.Create(x.Slice(i, 16));
                var x1 = Vector512.Create(x.Slice(i + 16, 16));
                if (relu)
                {
                    d0 &= Vector512.GreaterThan(Vector512.FusedMultiplyAdd(x0, s, t), Vector512<float>.Zero);
                    d1 &= Vector512.GreaterThan(Vector512.FusedMultiplyAdd(x1, s, t), Vector512<float>.Zero);
                }
                a0 += d0; a1 += d1;
                b0 = Vector512.FusedMultiplyAdd(d0, x0, b0);
                b1 = Vector512.FusedMultiplyAdd(d1, x1, b1);
            }
            for (; i + 16 <= dy.Length; i += 16)
            {
                var d0 = Vector512.Create(dy.Slice(i, 16));
                var x0 = Vector512.Create(x.Slice(i, 16));
                if (relu) d0 &= Vector512.GreaterThan(Vector512.FusedMultiplyAdd(x0, s, t), Vector512<float>.Zero);
                a0 += d0;
                b0 = Vector512.FusedMultiplyAdd(d0, x0, b0);
            }
            sd = Vector512.Sum(a0 + a1);
            sdx = Vector512.Sum(b0 + b1);
        }
        else if (Vector256.IsHardwareAccelerated && dy.Length >= 8)
        {
            var s = Vector256.Create(scale);
            var t = Vector256.Create(shift);
            Vector256<float> a0 = default, b0 = default;
            for (; i + 8 <= dy.Length; i += 8)
            {
                var d0 = Vector256.Create(dy.Slice(i, 8));
                var x0 = Vector256.Create(x.Slice(i, 8));
                if (relu) d0 &= Vector256.GreaterThan(Vector256.FusedMultiplyAdd(x0, s, t), Vector256<float>.Zero);
                a0 += d0;
                b0 = Vector256.FusedMultiplyAdd(d0, x0, b0);
            }
            sd = Vector256.Sum(a0);
            sdx = Vector256.Sum(b0);
        }
        var (td, tdx) = GradSumsScalar(dy[i..], x[i..], relu, scale, shift);
        return (sd + td, sdx + tdx);
    }

    /// <summary>Scalar twin of <see cref="GradSums"/>.</summary>
    public static (float SumD, float SumDX) GradSumsScalar(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, bool relu, float scale, float shift)
    {
        float sd = 0f, sdx = 0f;
        for (int i = 0; i < dy.Length; i++)
        {
            float d = relu && !(MathF.FusedMultiplyAdd(x[i], scale, shift) > 0f) ? 0f : dy[i];
            sd += d;
            sdx = MathF.FusedMultiplyAdd(d, x[i], sdx);
        }
        return (sd, sdx);
    }

    /// <summary>
    /// dx (+)= a·d + b·x + c with d as in <see cref="GradSums"/> (the input gradient of batch normalisation once
    /// its channel sums are known; b = c = 0 in evaluation mode).
    /// </summary>
    public static void GradApply(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, bool relu, float scale, float shift, float a, float b, float c,
        Span<float> dx, bool accumulate)
    {
        if (x.Length < dy.Length || dx.Length < dy.Length) throw new ArgumentException("NormKernels.GradApply: operand too short");
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(a);
            var vb = Vector512.Create(b);
            var vc = Vector512.Create(c);
            var s = Vector512.Create(scale);
            var t = Vector512.Create(shift);
            for (; i + 16 <= dy.Length; i += 16)
            {
                var d = Vector512.Create(dy.Slice(i, 16));
                var xv = Vector512.Create(x.Slice(i, 16));
                if (relu) d &= Vector512.GreaterThan(Vector512.FusedMultiplyAdd(xv, s, t), Vector512<float>.Zero);
                var r = Vector512.FusedMultiplyAdd(d, va, Vector512.FusedMultiplyAdd(xv, vb, vc));
                if (accumulate) r += Vector512.Create(dx.Slice(i, 16));
                r.CopyTo(dx.Slice(i, 16));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            var vb = Vector256.Create(b);
            var vc = Vector256.Create(c);
            var s = Vector256.Create(scale);
            var t = Vector256.Create(shift);
            for (; i + 8 <= dy.Length; i += 8)
            {
                var d = Vector256.Create(dy.Slice(i, 8));
                var xv = Vector256.Create(x.Slice(i, 8));
                if (relu) d &= Vector256.GreaterThan(Vector256.FusedMultiplyAdd(xv, s, t), Vector256<float>.Zero);
                var r = Vector256.FusedMultiplyAdd(d, va, Vector256.FusedMultiplyAdd(xv, vb, vc));
                if (accumulate) r += Vector256.Create(dx.Slice(i, 8));
                r.CopyTo(dx.Slice(i, 8));
            }
        }
        GradApplyScalar(dy[i..], x[i..], relu, scale, shift, a, b, c, dx[i..], accumulate);
    }

    /// <summary>Scalar twin of <see cref="GradApply"/>.</summary>
    public static void GradApplyScalar(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, bool relu, float scale, float shift, float a, float b, float c,
        Span<float> dx, bool accumulate)
    {
        for (int i = 0; i < dy.Length; i++)
        {
            float d = relu && !(MathF.FusedMultiplyAdd(x[i], scale, shift) > 0f) ? 0f : dy[i];
            float r = MathF.FusedMultiplyAdd(d, a, MathF.FusedMultiplyAdd(x[i], b, c));
            dx[i] = accumulate ? dx[i] + r : r;
        }
    }
}
