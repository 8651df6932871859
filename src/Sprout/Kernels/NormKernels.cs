using System.Runtime.Intrinsics;

namespace Sprout.Kernels;

/// <summary>The activation fused into a batch normalisation's passes (<see cref="NormKernels"/>).</summary>
public enum NormActivation
{
    /// <summary>None: y = z.</summary>
    None,
    /// <summary>ReLU: y = max(z, 0).</summary>
    Relu,
    /// <summary>Swish / SiLU: y = z·σ(z).</summary>
    Swish,
}

/// <summary>
/// Batch-normalisation passes over one contiguous plane of a channel, optionally fused with the activation that
/// follows (z = x·scale + shift, y = max(z, 0) or z·σ(z)). The activation's derivative is recomputed from x with the
/// same fused multiply-add as the forward pass (for the ReLU exactly the mask y &gt; 0) instead of reading y back, so
/// the normalised tensor is never stored. Each SIMD kernel has a scalar twin (suffix Scalar) that tests compare it
/// against (bit for bit without Swish, whose exponential differs in the last bits).
/// </summary>
public static class NormKernels
{
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Activate(Vector512<float> z, NormActivation act) => act switch
    {
        NormActivation.Relu => Vector512.Max(z, Vector512<float>.Zero),
        NormActivation.Swish => z / (Vector512<float>.One + FastExp.Exp(-z)),
        _ => z,
    };

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Activate(Vector256<float> z, NormActivation act) => act switch
    {
        NormActivation.Relu => Vector256.Max(z, Vector256<float>.Zero),
        NormActivation.Swish => z / (Vector256<float>.One + FastExp.Exp(-z)),
        _ => z,
    };

    private static float ActivateScalar(float z, NormActivation act) => act switch
    {
        NormActivation.Relu => MathF.Max(z, 0f),
        NormActivation.Swish => z / (1f + MathF.Exp(-z)),
        _ => z,
    };

    // dy times the activation's derivative at z = x·scale + shift
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Gate(Vector512<float> d, Vector512<float> x, Vector512<float> s, Vector512<float> t, NormActivation act)
    {
        if (act == NormActivation.None) return d;
        var z = Vector512.FusedMultiplyAdd(x, s, t);
        if (act == NormActivation.Relu) return d & Vector512.GreaterThan(z, Vector512<float>.Zero);
        var one = Vector512<float>.One;
        var sg = one / (one + FastExp.Exp(-z));
        return d * sg * (one + z * (one - sg));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Gate(Vector256<float> d, Vector256<float> x, Vector256<float> s, Vector256<float> t, NormActivation act)
    {
        if (act == NormActivation.None) return d;
        var z = Vector256.FusedMultiplyAdd(x, s, t);
        if (act == NormActivation.Relu) return d & Vector256.GreaterThan(z, Vector256<float>.Zero);
        var one = Vector256<float>.One;
        var sg = one / (one + FastExp.Exp(-z));
        return d * sg * (one + z * (one - sg));
    }

    private static float GateScalar(float d, float x, float scale, float shift, NormActivation act)
    {
        if (act == NormActivation.None) return d;
        float z = MathF.FusedMultiplyAdd(x, scale, shift);
        if (act == NormActivation.Relu) return z > 0f ? d : 0f;
        float sg = 1f / (1f + MathF.Exp(-z));
        return d * sg * (1f + z * (1f - sg));
    }

    /// <summary>y = x·scale + shift, then the fused activation <paramref name="act"/>.</summary>
    public static void Apply(ReadOnlySpan<float> x, float scale, float shift, Span<float> y, NormActivation act)
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
                z = Activate(z, act);
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
                z = Activate(z, act);
                z.CopyTo(y.Slice(i, 8));
            }
        }
        ApplyScalar(x[i..], scale, shift, y[i..], act);
    }

    /// <summary>Scalar twin of <see cref="Apply"/>.</summary>
    public static void ApplyScalar(ReadOnlySpan<float> x, float scale, float shift, Span<float> y, NormActivation act)
    {
        for (int i = 0; i < x.Length; i++)
        {
            float z = MathF.FusedMultiplyAdd(x[i], scale, shift);
            y[i] = ActivateScalar(z, act);
        }
    }

    /// <summary>
    /// (Σ d, Σ d·x) with d = dy, or with a fused activation d = dy·act'(x·scale + shift).
    /// Accumulated in float lanes over the plane; callers sum planes in double.
    /// </summary>
    public static (float SumD, float SumDX) GradSums(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, NormActivation act, float scale, float shift)
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
                d0 = Gate(d0, x0, s, t, act);
                d1 = Gate(d1, x1, s, t, act);
                a0 += d0; a1 += d1;
                b0 = Vector512.FusedMultiplyAdd(d0, x0, b0);
                b1 = Vector512.FusedMultiplyAdd(d1, x1, b1);
            }
            for (; i + 16 <= dy.Length; i += 16)
            {
                var d0 = Vector512.Create(dy.Slice(i, 16));
                var x0 = Vector512.Create(x.Slice(i, 16));
                d0 = Gate(d0, x0, s, t, act);
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
                d0 = Gate(d0, x0, s, t, act);
                a0 += d0;
                b0 = Vector256.FusedMultiplyAdd(d0, x0, b0);
            }
            sd = Vector256.Sum(a0);
            sdx = Vector256.Sum(b0);
        }
        var (td, tdx) = GradSumsScalar(dy[i..], x[i..], act, scale, shift);
        return (sd + td, sdx + tdx);
    }

    /// <summary>Scalar twin of <see cref="GradSums"/>.</summary>
    public static (float SumD, float SumDX) GradSumsScalar(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, NormActivation act, float scale, float shift)
    {
        float sd = 0f, sdx = 0f;
        for (int i = 0; i < dy.Length; i++)
        {
            float d = GateScalar(dy[i], x[i], scale, shift, act);
            sd += d;
            sdx = MathF.FusedMultiplyAdd(d, x[i], sdx);
        }
        return (sd, sdx);
    }

    /// <summary>
    /// dx (+)= a·d + b·x + c with d as in <see cref="GradSums"/> (the input gradient of batch normalisation once
    /// its channel sums are known; b = c = 0 in evaluation mode).
    /// </summary>
    public static void GradApply(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, NormActivation act, float scale, float shift, float a, float b, float c,
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
                d = Gate(d, xv, s, t, act);
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
                d = Gate(d, xv, s, t, act);
                var r = Vector256.FusedMultiplyAdd(d, va, Vector256.FusedMultiplyAdd(xv, vb, vc));
                if (accumulate) r += Vector256.Create(dx.Slice(i, 8));
                r.CopyTo(dx.Slice(i, 8));
            }
        }
        GradApplyScalar(dy[i..], x[i..], act, scale, shift, a, b, c, dx[i..], accumulate);
    }

    /// <summary>Scalar twin of <see cref="GradApply"/>.</summary>
    public static void GradApplyScalar(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, NormActivation act, float scale, float shift, float a, float b, float c,
        Span<float> dx, bool accumulate)
    {
        for (int i = 0; i < dy.Length; i++)
        {
            float d = GateScalar(dy[i], x[i], scale, shift, act);
            float r = MathF.FusedMultiplyAdd(d, a, MathF.FusedMultiplyAdd(x[i], b, c));
            dx[i] = accumulate ? dx[i] + r : r;
        }
    }
}
