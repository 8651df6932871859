using Sprout.Kernels;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Kernels;

/// <summary>Every SIMD kernel against its scalar twin on random data of odd lengths.</summary>
public class ElementwiseKernelTests
{
    public static TheoryData<int> Lengths => new() { 0, 1, 7, 15, 16, 17, 31, 33, 100, 1023 };

    private static float[] Rand(int n, Rng rng, bool zeros = false)
    {
        var a = new float[n];
        rng.FillUniform(a, -2, 2);
        if (zeros) for (int i = 0; i < n; i += 5) a[i] = 0f; // exercise the x == 0 convention
        return a;
    }

    [Theory, MemberData(nameof(Lengths))]
    public void ReluBackward(int n)
    {
        var rng = new Rng((ulong)n + 1);
        var x = Rand(n, rng, zeros: true);
        var g = Rand(n, rng);
        foreach (bool acc in new[] { false, true })
            foreach (bool one in new[] { false, true })
            {
                var d0 = Rand(n, rng);
                var d1 = (float[])d0.Clone();
                Activations.ReluBackward(x, g, d0, acc, one);
                Activations.ReluBackwardScalar(x, g, d1, acc, one);
                Assert.Equal(d1, d0);
            }
        // convention at exactly zero
        var z = new float[] { 0f };
        var dz = new float[1];
        Activations.ReluBackward(z, [5f], dz, false, oneAtZero: false);
        Assert.Equal(0f, dz[0]);
        Activations.ReluBackward(z, [5f], dz, false, oneAtZero: true);
        Assert.Equal(5f, dz[0]);
    }

    [Theory, MemberData(nameof(Lengths))]
    public void LeakyRelu(int n)
    {
        var rng = new Rng((ulong)n + 2);
        var x = Rand(n, rng, zeros: true);
        var g = Rand(n, rng);
        var y0 = new float[n];
        var y1 = new float[n];
        Activations.LeakyRelu(x, y0, 0.07f);
        Activations.LeakyReluScalar(x, y1, 0.07f);
        Assert.Equal(y1, y0);
        foreach (bool acc in new[] { false, true })
        {
            var d0 = Rand(n, rng);
            var d1 = (float[])d0.Clone();
            Activations.LeakyReluBackward(x, g, d0, 0.07f, acc);
            Activations.LeakyReluBackwardScalar(x, g, d1, 0.07f, acc);
            Assert.Equal(d1, d0);
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    [InlineData(2500)]   // more than one 1,024-float chunk and a partial one
    public void Swish(int n)
    {
        var rng = new Rng((ulong)n + 11);
        var x = Rand(n, rng, zeros: true);
        for (int i = 3; i < n; i += 7) x[i] *= 20;   // saturated σ on both sides
        var g = Rand(n, rng);
        var y0 = new float[n];
        var y1 = new float[n];
        Activations.Swish(x, y0);
        Activations.SwishScalar(x, y1);
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(y0[i] - y1[i]) <= 1e-6f * (1 + Math.Abs(y1[i])), $"y[{i}]: {y0[i]} vs {y1[i]}");
        foreach (bool acc in new[] { false, true })
        {
            var d0 = Rand(n, rng);
            var d1 = (float[])d0.Clone();
            Activations.SwishBackward(x, g, d0, acc);
            Activations.SwishBackwardScalar(x, g, d1, acc);
            for (int i = 0; i < n; i++) Assert.True(Math.Abs(d0[i] - d1[i]) <= 2e-6f * (1 + Math.Abs(d1[i])), $"dx[{i}]: {d0[i]} vs {d1[i]}");
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void AdamMatchesScalar(int n)
    {
        var rng = new Rng((ulong)n + 3);
        var p0 = Rand(n, rng);
        var g = Rand(n, rng);
        var m0 = Rand(n, rng);
        var v0 = Rand(n, rng).Select(Math.Abs).ToArray();
        var (p1, m1, v1) = ((float[])p0.Clone(), (float[])m0.Clone(), (float[])v0.Clone());
        OptimKernels.Adam(p0, g, m0, v0, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, 1e-2f, 0.19f, 0.003f);
        OptimKernels.AdamScalar(p1, g, m1, v1, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, 1e-2f, 0.19f, 0.003f);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(m1[i], m0[i], 6);
            Assert.Equal(v1[i], v0[i], 6);
            Assert.True(Math.Abs(p1[i] - p0[i]) <= 1e-6f * (1 + Math.Abs(p1[i])), $"p[{i}] {p0[i]} vs {p1[i]}");
        }
    }

    [Fact]
    public void BroadcastCollapsesToSingleCallForSameShape()
    {
        var p = Broadcast.MakePlan([2, 3, 4, 5], [2, 3, 4, 5], [2, 3, 4, 5]);
        Assert.Equal(1, p.Rank);
        Assert.Equal(120, p.D3);
        var bias = Broadcast.MakePlan([8, 10], [8, 10], [10]);
        Assert.Equal(2, bias.Rank);
        Assert.Equal(0, bias.B2); // bias row repeats along the batch axis
    }
}
