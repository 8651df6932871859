using System.Runtime.Intrinsics;

namespace Sprout.Kernels;

/// <summary>
/// e^x in float lanes, for the activations that need it per element (swish, sigmoid, the fused BatchNorm + swish).
/// <c>Vector512.Exp</c> of .NET computes float lanes through double precision — about twice the cost of this
/// single-precision version, which is what keeps the elementwise kernels compute-bound. Cephes' expf scheme: x = n·ln2 + r
/// with n = round(x/ln2) and |r| ≤ ln2/2 (ln2 split in two parts so r is exact), e^r by a degree-7 polynomial, 2^n
/// put into the exponent bits. Relative error ≤ 2e-7 over [−87.3, 88.3]; x is clamped to that range (so e^x never
/// underflows to a denormal or overflows to ∞: ≥ 1.2e−38 and ≤ 2.2e38, which is what 1 + e^−z and z / (1 + e^−z)
/// need); NaN stays NaN.
/// <see cref="Scalar"/> is the reference the lanes are tested against.
/// </summary>
public static class FastExp
{
    private const float Lo = -87.3f, Hi = 88.3f;
    private const float Log2E = 1.44269504088896341f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f,
        P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    /// <summary>e^x in 16 lanes.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var c = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(Lo)), Vector512.Create(Hi));
        var n = Vector512.Round(c * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), c);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        var scale = ((Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23).AsSingle();
        var e = p * scale;
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), e, x);   // NaN lanes pass through
    }

    /// <summary>e^x in 8 lanes.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var c = Vector256.MinNative(Vector256.MaxNative(x, Vector256.Create(Lo)), Vector256.Create(Hi));
        var n = Vector256.Round(c * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), c);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256<float>.One);
        var scale = ((Vector256.ConvertToInt32(n) + Vector256.Create(127)) << 23).AsSingle();
        var e = p * scale;
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), e, x);
    }

    /// <summary>The same scheme on one float (the scalar twin of the lanes, step for step).</summary>
    public static float Scalar(float x)
    {
        if (float.IsNaN(x)) return x;
        float c = MathF.Min(MathF.Max(x, Lo), Hi);
        float n = MathF.Round(c * Log2E);
        float r = MathF.FusedMultiplyAdd(n, -Ln2Hi, c);
        r = MathF.FusedMultiplyAdd(n, -Ln2Lo, r);
        float p = MathF.FusedMultiplyAdd(P0, r, P1);
        p = MathF.FusedMultiplyAdd(p, r, P2);
        p = MathF.FusedMultiplyAdd(p, r, P3);
        p = MathF.FusedMultiplyAdd(p, r, P4);
        p = MathF.FusedMultiplyAdd(p, r, P5);
        p = MathF.FusedMultiplyAdd(p, r * r, r + 1f);
        return p * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }
}
