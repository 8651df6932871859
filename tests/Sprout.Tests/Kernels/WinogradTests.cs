using Sprout.Kernels;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Kernels;

[Collection("Workers")]
public class WinogradTests
{
    public static TheoryData<int, int, int, int, int, int, int> Shapes => new()
    {
        // n, c, h, w, f, padH, padW
        { 2, 16, 32, 32, 16, 1, 1 },  // the CIFAR backbone's conv2: 16 tiles per row, 4 blocks of 64 tiles per image
        { 3, 8, 16, 16, 8, 1, 1 },    // 8 tiles per row: each vector holds two tile rows; channel tiles of 4, 4
        { 2, 9, 16, 16, 13, 1, 1 },   // output channels in tiles of 5, 4, 4
        { 1, 8, 34, 34, 11, 0, 0 },   // no padding
        { 1, 8, 64, 64, 8, 1, 1 },    // 32 tiles per row: two vectors per row
        { 2, 10, 14, 30, 9, 2, 2 },   // rectangular image, padding 2 (output 16 × 32)
        { 1, 33, 16, 16, 32, 1, 1 },  // odd channel count, 32 output channels (six channel tiles)
    };

    [Theory, MemberData(nameof(Shapes))]
    public void ForwardMatchesScalarTwinExactlyAndDirectConvolutionClosely(int n, int c, int h, int w, int f, int ph, int pw)
    {
        var g = new ConvGeometry(c, h, w, 3, 3, 1, 1, ph, pw);
        Assert.True(Winograd.Applies(g, f));
        var rng = new Rng((ulong)(n * 1000 + c * 100 + w + f));
        var x = Rand(rng, n * c * h * w);
        var wt = Rand(rng, f * c * 9);
        var bias = Rand(rng, f);
        var u = Winograd.TransformWeights(wt, f, c);
        int ylen = n * f * g.OH * g.OW;
        foreach (bool acc in new[] { false, true })
            foreach (bool withBias in new[] { false, true })
            {
                var start = Rand(rng, ylen);
                var twin = (float[])start.Clone();
                var actual = (float[])start.Clone();
                var direct = (float[])start.Clone();
                var b = withBias ? bias : [];
                Winograd.ForwardReference(n, f, u, x, g, b, twin, acc);
                Winograd.Forward(n, f, u, x, g, b, actual, acc);
                DirectConv.ForwardReference(n, f, wt, x, g, b, direct, acc);
                for (int i = 0; i < ylen; i++)
                {
                    Assert.Equal(twin[i], actual[i]); // same transforms, same order of additions
                    // the transforms round differently from a direct sum: close, not equal
                    Assert.True(Math.Abs(direct[i] - actual[i]) <= 2e-5f * c * 9 * (1 + Math.Abs(direct[i])), $"[{i}] {direct[i]} vs {actual[i]}");
                }
            }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void WeightGradMatchesScalarReferenceAndDirectWeightGradient(int n, int c, int h, int w, int f, int ph, int pw)
    {
        f = (f + 15) / 16 * 16; // the weight gradient puts 16 output channels in a vector
        var g = new ConvGeometry(c, h, w, 3, 3, 1, 1, ph, pw);
        Assert.True(Winograd.AppliesToWeightGrad(g, f));
        var rng = new Rng((ulong)(n * 77 + c * 13 + w + f));
        var x = Rand(rng, n * c * h * w);
        var dy = Rand(rng, n * f * g.OH * g.OW);
        var start = Rand(rng, f * c * 9);
        var actual = (float[])start.Clone();
        var reference = (float[])start.Clone();
        var direct = (float[])start.Clone();
        Winograd.WeightGrad(n, f, dy, x, g, actual);
        Winograd.WeightGradReference(n, f, dy, x, g, reference);
        DirectConv.WeightGradReference(n, f, dy, x, g, direct);
        int terms = n * g.OH * g.OW;
        for (int i = 0; i < actual.Length; i++)
        {
            // float sums over many tiles against double ones: close, with a tolerance growing like √terms
            Assert.True(Math.Abs(reference[i] - actual[i]) <= 1e-5f * MathF.Sqrt(terms) * (1 + Math.Abs(reference[i])), $"[{i}] {reference[i]} vs {actual[i]}");
            Assert.True(Math.Abs(direct[i] - actual[i]) <= 2e-5f * MathF.Sqrt(terms) * (1 + Math.Abs(direct[i])), $"[{i}] {direct[i]} vs {actual[i]}");
        }
    }

    [Fact]
    public void AppliesOnlyToThreeByThreeStrideOneWithWholeVectorsOfTiles()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported) Assert.Skip("no AVX-512");
        Assert.True(Winograd.Applies(new ConvGeometry(16, 32, 32, 3, 3, 1, 1, 1, 1), 16));
        Assert.True(Winograd.Applies(new ConvGeometry(32, 16, 16, 3, 3, 1, 1, 1, 1), 16));
        Assert.False(Winograd.Applies(new ConvGeometry(16, 32, 32, 3, 3, 2, 2, 1, 1), 16));  // stride 2
        Assert.False(Winograd.Applies(new ConvGeometry(16, 32, 32, 5, 5, 1, 1, 2, 2), 16));  // 5×5
        Assert.False(Winograd.Applies(new ConvGeometry(3, 32, 32, 3, 3, 1, 1, 1, 1), 16));   // 3 input channels
        Assert.False(Winograd.Applies(new ConvGeometry(16, 32, 32, 3, 3, 1, 1, 1, 1), 3));   // 3 output channels
        Assert.False(Winograd.Applies(new ConvGeometry(16, 28, 28, 3, 3, 1, 1, 1, 1), 16));  // 14 tiles per row
        Assert.False(Winograd.Applies(new ConvGeometry(16, 8, 8, 3, 3, 1, 1, 1, 1), 16));    // 4 tiles per row
        Assert.False(Winograd.Applies(new ConvGeometry(16, 31, 32, 3, 3, 1, 1, 1, 1), 16));  // odd output height
    }

    [Fact]
    public void RejectsShortOperandsAndUnsupportedGeometry()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported) Assert.Skip("no AVX-512");
        var g = new ConvGeometry(8, 16, 16, 3, 3, 1, 1, 1, 1);
        var u = Winograd.TransformWeights(new float[8 * 8 * 9], 8, 8);
        Assert.Throws<ArgumentException>(() => Winograd.Forward(1, 8, u, new float[8 * 256 - 1], g, [], new float[8 * 256], false));
        Assert.Throws<ArgumentException>(() => Winograd.Forward(1, 8, u, new float[8 * 256], g with { SH = 2 }, [], new float[8 * 256], false));
    }

    private static float[] Rand(Rng rng, int n)
    {
        var a = new float[n];
        rng.FillUniform(a, -1, 1);
        return a;
    }
}
