using Sprout.Kernels;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Kernels;

/// <summary>Batch-norm and pooling SIMD kernels against their scalar twins on odd sizes.</summary>
public class NormPoolKernelTests
{
    public static TheoryData<int> Lengths => new() { 0, 1, 7, 15, 16, 17, 31, 32, 33, 100, 1023 };

    private static float[] Rand(int n, Rng rng)
    {
        var a = new float[n];
        rng.FillUniform(a, -2, 2);
        return a;
    }

    private static readonly NormActivation[] Acts = [NormActivation.None, NormActivation.Relu, NormActivation.Swish];

    // bit for bit without Swish; Swish's vector exponential differs from MathF.Exp in the last bits
    private static void AssertMatch(float[] expected, float[] actual, NormActivation act)
    {
        if (act != NormActivation.Swish) { Assert.Equal(expected, actual); return; }
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(float.IsNaN(expected[i]) ? float.IsNaN(actual[i]) : Math.Abs(expected[i] - actual[i]) <= 2e-6f * (1 + Math.Abs(expected[i])),
                $"[{i}] {expected[i]} vs {actual[i]}");
    }

    [Theory, MemberData(nameof(Lengths))]
    public void ApplyMatchesScalar(int n)
    {
        var rng = new Rng((ulong)n + 11);
        var x = Rand(n, rng);
        if (n > 3) x[3] = float.NaN; // NaN must survive the fused activation (a NaN loss has to show)
        foreach (var act in Acts)
        {
            var a = new float[n];
            var b = new float[n];
            NormKernels.Apply(x, 0.7f, -0.3f, a, act);
            NormKernels.ApplyScalar(x, 0.7f, -0.3f, b, act);
            AssertMatch(b, a, act);
            if (act == NormActivation.Relu) Assert.All(a, v => Assert.True(float.IsNaN(v) || v >= 0f));
            if (act == NormActivation.Swish)
                for (int i = 0; i < n; i++)
                {
                    double z = Math.FusedMultiplyAdd(x[i], 0.7, -0.3);
                    double exact = z / (1 + Math.Exp(-z));
                    if (double.IsFinite(z)) Assert.True(Math.Abs(exact - a[i]) <= 1e-5 * (1 + Math.Abs(exact)), $"[{i}] {a[i]} vs {exact}");
                }
            if (n > 3) Assert.True(float.IsNaN(a[3]));
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void GradSumsMatchScalar(int n)
    {
        var rng = new Rng((ulong)n + 12);
        var dy = Rand(n, rng);
        var x = Rand(n, rng);
        foreach (var act in Acts)
        {
            var (sd, sdx) = NormKernels.GradSums(dy, x, act, 1.3f, 0.2f);
            var (td, tdx) = NormKernels.GradSumsScalar(dy, x, act, 1.3f, 0.2f);
            double exactD = 0, exactDx = 0;
            for (int i = 0; i < n; i++)
            {
                double z = MathF.FusedMultiplyAdd(x[i], 1.3f, 0.2f), sg = 1 / (1 + Math.Exp(-z));
                double d = act switch
                {
                    NormActivation.Relu => z > 0 ? dy[i] : 0,
                    NormActivation.Swish => dy[i] * sg * (1 + z * (1 - sg)),
                    _ => dy[i],
                };
                exactD += d;
                exactDx += d * x[i];
            }
            Assert.Equal(exactD, sd, 3);
            Assert.Equal(exactDx, sdx, 3);
            Assert.Equal(exactD, td, 3);
            Assert.Equal(exactDx, tdx, 3);
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void GradApplyMatchesScalar(int n)
    {
        var rng = new Rng((ulong)n + 13);
        var dy = Rand(n, rng);
        var x = Rand(n, rng);
        foreach (var act in Acts)
            foreach (bool acc in new[] { false, true })
            {
                var a = Rand(n, rng);
                var b = (float[])a.Clone();
                NormKernels.GradApply(dy, x, act, 0.9f, -0.1f, 0.5f, -0.25f, 0.125f, a, acc);
                NormKernels.GradApplyScalar(dy, x, act, 0.9f, -0.1f, 0.5f, -0.25f, 0.125f, b, acc);
                AssertMatch(b, a, act);
            }
    }

    [Theory]
    [InlineData(3, 16)]
    [InlineData(2, 8)]
    [InlineData(4, 21)]
    [InlineData(1, 5)]
    [InlineData(5, 40)]
    public void MaxPool2x2BackwardMatchesScalarAndRoutesToTheArgmax(int oh, int ow)
    {
        var rng = new Rng((ulong)(oh * 100 + ow));
        int w = 2 * ow;
        var g = Rand(oh * ow, rng);
        var arg = new float[oh * ow];
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                arg[oy * ow + ox] = 2 * oy * w + 2 * ox + rng.NextInt(2) + rng.NextInt(2) * w;
        foreach (bool acc in new[] { false, true })
        {
            var a = Rand(4 * oh * ow, rng);
            var b = (float[])a.Clone();
            var start = (float[])a.Clone();
            PoolKernels.MaxPool2x2Backward(g, arg, a, oh, ow, acc);
            PoolKernels.MaxPool2x2BackwardScalar(g, arg, b, oh, ow, acc);
            Assert.Equal(b, a);
            for (int i = 0; i < a.Length; i++)
            {
                int j = Array.IndexOf(arg, (float)i);
                float expected = (acc ? start[i] : 0f) + (j >= 0 ? g[j] : 0f);
                Assert.Equal(expected, a[i]);
            }
        }
    }
}
