using System.Runtime.Intrinsics;
using Sprout.Kernels;
using Xunit;

namespace Sprout.Tests.Kernels;

public class FastExpTests
{
    [Fact]
    public void LanesEqualTheScalarTwinAndMathExpWithin2e7()
    {
        var rng = new Random(5);
        double worst = 0;
        for (int rep = 0; rep < 4000; rep++)
        {
            var v = new float[16];
            for (int i = 0; i < 16; i++) v[i] = (float)(rng.NextDouble() * 175.6 - 87.3);
            if (rep == 0) { v[0] = 0; v[1] = -87.3f; v[2] = 88.3f; v[3] = 1e-8f; v[4] = -1e-8f; v[5] = 0.3465736f; v[6] = -0.3465736f; }
            var e512 = FastExp.Exp(Vector512.Create(v));
            var e256 = FastExp.Exp(Vector256.Create(v.AsSpan(0, 8)));
            for (int i = 0; i < 16; i++)
            {
                float s = FastExp.Scalar(v[i]);
                Assert.Equal(s, e512[i]);                       // the lanes do exactly what the scalar twin does
                if (i < 8) Assert.Equal(s, e256[i]);
                double exact = Math.Exp(v[i]);
                worst = Math.Max(worst, Math.Abs(s - exact) / exact);
            }
        }
        Assert.True(worst < 2e-7, $"worst relative error {worst:E2}");
    }

    [Fact]
    public void OutOfRangeIsClampedToFiniteNormalsAndNaNPassesThrough()
    {
        var v = Vector512.Create(float.NegativeInfinity, -1000f, -88f, 89f, 1000f, float.PositiveInfinity, float.NaN, 0f,
            0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f);
        var e = FastExp.Exp(v);
        for (int i = 0; i < 3; i++) Assert.True(float.IsNormal(e[i]) && e[i] > 0 && e[i] < 1.3e-38f, $"lane {i}: {e[i]}");
        for (int i = 3; i < 6; i++) Assert.True(float.IsFinite(e[i]) && e[i] > 2e38f, $"lane {i}: {e[i]}");
        Assert.True(float.IsNaN(e[6]));
        Assert.True(float.IsNaN(FastExp.Scalar(float.NaN)));
        Assert.Equal(1f, e[7]);
        // swish of a huge negative input stays a (tiny) finite number, of a huge positive one the input itself
        Assert.Equal(0f, -1000f / (1f + FastExp.Scalar(1000f)), 1e-30f);
        Assert.Equal(1000f, 1000f / (1f + FastExp.Scalar(-1000f)));
    }
}
