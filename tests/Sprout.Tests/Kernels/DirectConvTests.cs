using Sprout.Kernels;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Kernels;

[Collection("Workers")]
public class DirectConvTests
{
    public static TheoryData<int, int, int, int, int, int, int, int> Shapes => new()
    {
        // n, c, h, w, f, kh, kw, pad
        { 2, 3, 32, 32, 16, 3, 3, 1 },
        { 3, 7, 13, 13, 5, 3, 3, 1 },   // one partial segment per row, m not a multiple of 8
        { 7, 2, 9, 14, 13, 3, 3, 0 },   // OW 12, several images per chunk, partial last chunk
        { 1, 1, 6, 47, 1, 5, 3, 2 },    // rectangular kernel, OW 47 (two full segments and a partial one)
        { 4, 5, 16, 16, 9, 1, 3, 0 },   // 1×3 kernel, OW 14
        { 2, 4, 18, 29, 20, 3, 3, 2 },  // padding wider than the kernel's half, OW 31
        { 3, 16, 32, 32, 3, 3, 3, 1 },  // 3 output channels: the 4 × 6-segment tile (an input gradient into RGB)
        { 5, 6, 13, 13, 4, 3, 3, 1 },   // 4 output channels, partial segments, segment blocks across images
    };

    [Theory, MemberData(nameof(Shapes))]
    public void ForwardMatchesScalarReference(int n, int c, int h, int w, int f, int kh, int kw, int p)
    {
        var g = new ConvGeometry(c, h, w, kh, kw, 1, 1, p, p);
        Assert.True(DirectConv.Applies(g));
        var rng = new Rng((ulong)(n * 1000 + c * 100 + w));
        var x = Rand(rng, n * c * h * w);
        var wt = Rand(rng, f * g.K);
        var bias = Rand(rng, f);
        int ylen = n * f * g.OH * g.OW;
        foreach (bool acc in new[] { false, true })
            foreach (bool withBias in new[] { false, true })
            {
                var start = Rand(rng, ylen);
                var expected = (float[])start.Clone();
                var actual = (float[])start.Clone();
                var b = withBias ? bias : [];
                DirectConv.ForwardReference(n, f, wt, x, g, b, expected, acc);
                DirectConv.Forward(n, f, DirectConv.PackWeights(wt, f, g.K), x, g, b, actual, acc);
                AssertClose(expected, actual, g.K);
            }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void WeightGradMatchesScalarReference(int n, int c, int h, int w, int f, int kh, int kw, int p)
    {
        var g = new ConvGeometry(c, h, w, kh, kw, 1, 1, p, p);
        var rng = new Rng((ulong)(n * 7 + c * 5 + w * 3));
        var x = Rand(rng, n * c * h * w);
        var dy = Rand(rng, n * f * g.OH * g.OW);
        var start = Rand(rng, f * g.K);
        var expected = (float[])start.Clone();
        var actual = (float[])start.Clone();
        DirectConv.WeightGradReference(n, f, dy, x, g, expected);
        DirectConv.WeightGrad(n, f, dy, x, g, actual);
        AssertClose(expected, actual, n * g.OH * g.OW);
    }

    [Fact]
    public void AppliesOnlyToStrideOneAndWellFilledRows()
    {
        Assert.True(DirectConv.Applies(new ConvGeometry(16, 32, 32, 3, 3, 1, 1, 1, 1)));
        Assert.False(DirectConv.Applies(new ConvGeometry(16, 32, 32, 3, 3, 2, 2, 1, 1)));  // stride 2
        Assert.False(DirectConv.Applies(new ConvGeometry(16, 8, 8, 3, 3, 1, 1, 1, 1)));    // rows of 8 fill half a segment
        Assert.False(DirectConv.Applies(new ConvGeometry(16, 32, 32, 1, 1, 1, 1, 0, 0)));  // 1×1: a plain GEMM
    }

    private static float[] Rand(Rng rng, int n)
    {
        var a = new float[n];
        rng.FillUniform(a, -1, 1);
        return a;
    }

    private static void AssertClose(float[] expected, float[] actual, int terms)
    {
        float tol = 4e-7f * terms;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"[{i}] expected {expected[i]}, got {actual[i]}");
    }
}
