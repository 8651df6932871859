using Sprout.Kernels;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Kernels;

/// <summary>The in-place depthwise 3×3 kernels against the scalar references of <see cref="DepthwiseConv"/>.</summary>
public class DepthwiseDirectTests
{
    public static TheoryData<int, int, int, int, int> Shapes => new()
    {
        // n, c, h, w, stride
        { 2, 3, 32, 32, 1 },   // MobileNetV1's 32×32 block
        { 3, 2, 16, 16, 1 },   // one vector per row
        { 1, 2, 5, 48, 1 },    // odd height, three vectors per row
        { 2, 1, 1, 16, 1 },    // a single row: no row above or below
        { 3, 5, 32, 32, 2 },   // the stride-2 block
        { 1, 2, 2, 32, 2 },    // one output row
        { 2, 3, 6, 64, 2 },    // two output vectors per row
    };

    [Theory, MemberData(nameof(Shapes))]
    public void ForwardMatchesScalarReference(int n, int c, int h, int w, int s)
    {
        var g = new ConvGeometry(1, h, w, 3, 3, s, s, 1, 1);
        Assert.True(DepthwiseDirect.Applies(g));
        var rng = new Rng((ulong)(n * 1000 + c * 100 + w + h + s));
        var x = Rand(rng, n * c * h * w);
        var wt = Rand(rng, c * 9);
        var bias = Rand(rng, c);
        foreach (bool withBias in new[] { false, true })
        {
            int ylen = n * c * g.OH * g.OW;
            var expected = Rand(rng, ylen);
            var actual = Rand(rng, ylen);   // different garbage: every output must be written
            var b = withBias ? bias : [];
            DepthwiseConv.ForwardReference(n, c, wt, x, g, b, expected);
            DepthwiseDirect.Forward(n, c, wt, x, g, b, actual);
            AssertClose(expected, actual, 9);
        }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void InputGradMatchesScalarReference(int n, int c, int h, int w, int s)
    {
        var g = new ConvGeometry(1, h, w, 3, 3, s, s, 1, 1);
        var rng = new Rng((ulong)(n * 31 + c * 7 + h * 3 + w + s));
        var dy = Rand(rng, n * c * g.OH * g.OW);
        var wt = Rand(rng, c * 9);
        foreach (bool acc in new[] { false, true })
        {
            var start = Rand(rng, n * c * h * w);
            var expected = (float[])start.Clone();
            var actual = acc ? (float[])start.Clone() : Rand(rng, start.Length);   // written, not added, when !acc
            DepthwiseConv.InputGradReference(n, c, wt, dy, g, expected, acc);
            DepthwiseDirect.InputGrad(n, c, wt, dy, g, actual, acc);
            AssertClose(expected, actual, 9);
        }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void WeightGradMatchesScalarReference(int n, int c, int h, int w, int s)
    {
        var g = new ConvGeometry(1, h, w, 3, 3, s, s, 1, 1);
        var rng = new Rng((ulong)(n * 17 + c * 5 + w * 3 + h + s));
        var x = Rand(rng, n * c * h * w);
        var dy = Rand(rng, n * c * g.OH * g.OW);
        var start = Rand(rng, c * 9);
        var expected = (float[])start.Clone();
        var actual = (float[])start.Clone();
        DepthwiseConv.WeightGradReference(n, c, dy, x, g, expected);
        DepthwiseDirect.WeightGrad(n, c, dy, x, g, actual);
        AssertClose(expected, actual, n * g.OH * g.OW);
    }

    [Theory]
    [InlineData(32, 32, 1, 1, 1)]   // the geometries it takes
    [InlineData(16, 64, 2, 1, 1)]
    [InlineData(8, 8, 1, 1, 1)]     // narrower than a vector
    [InlineData(32, 40, 1, 1, 1)]   // not whole vectors
    [InlineData(5, 32, 2, 1, 1)]    // odd height at stride 2
    [InlineData(32, 16, 2, 1, 1)]   // stride 2 needs two vectors per output vector
    [InlineData(32, 32, 1, 0, 1)]   // other padding
    [InlineData(32, 32, 1, 1, 5)]   // other kernel
    public void AppliesOnlyWhereItRuns(int h, int w, int s, int p, int k)
    {
        bool expected = h == 32 && w == 32 && s == 1 && p == 1 && k == 3 || h == 16 && w == 64 && s == 2 && p == 1 && k == 3;
        Assert.Equal(expected && System.Runtime.Intrinsics.X86.Avx512F.IsSupported, DepthwiseDirect.Applies(new ConvGeometry(1, h, w, k, k, s, s, p, p)));
    }

    private static float[] Rand(Rng rng, int n) => DepthwiseConvTests.Rand(rng, n);

    private static void AssertClose(float[] expected, float[] actual, int terms) => DepthwiseConvTests.AssertClose(expected, actual, terms);
}
