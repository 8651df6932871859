using Sprout.Autograd;
using Sprout.Kernels;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Kernels;

/// <summary>The phase-plane depthwise kernels against their scalar references, and through <see cref="Ops.Conv2d"/>
/// against the per-channel GEMM they replace.</summary>
[Collection("Workers")]
public class DepthwiseConvTests
{
    public static TheoryData<int, int, int, int, int, int, int, int, int, int> Shapes => new()
    {
        // n, c, h, w, kh, kw, sh, sw, ph, pw
        { 2, 3, 32, 32, 3, 3, 1, 1, 1, 1 },   // MobileNetV1's stride-1 block
        { 3, 5, 32, 32, 3, 3, 2, 2, 1, 1 },   // its stride-2 block
        { 1, 4, 4, 4, 3, 3, 1, 1, 1, 1 },     // the 4×4 blocks
        { 2, 2, 2, 2, 3, 3, 2, 2, 1, 1 },     // 2×2 → 1×1
        { 1, 3, 1, 1, 3, 3, 1, 1, 1, 1 },     // a 1×1 plane
        { 2, 3, 7, 11, 5, 3, 1, 2, 2, 1 },    // rectangular kernel and strides, odd sizes
        { 1, 2, 9, 8, 3, 3, 3, 3, 0, 2 },     // stride 3
        { 2, 3, 6, 5, 1, 1, 2, 2, 0, 0 },     // 1×1 kernel, stride 2: inputs no output reads (their gradient is 0)
        { 1, 1, 5, 5, 3, 3, 1, 1, 3, 3 },     // padding wider than the kernel's half
        { 60, 2, 32, 32, 3, 3, 1, 1, 1, 1 },  // two chunks of images (56 planes of 34×34 fill a chunk), the second partial
        { 70, 1, 30, 30, 3, 3, 2, 2, 1, 1 },  // stride 2 over two chunks
    };

    [Theory, MemberData(nameof(Shapes))]
    public void ForwardMatchesScalarReference(int n, int c, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw)
    {
        var g = new ConvGeometry(1, h, w, kh, kw, sh, sw, ph, pw);
        var rng = new Rng((ulong)(n * 1000 + c * 100 + w + kh));
        var x = Rand(rng, n * c * h * w);
        var wt = Rand(rng, c * kh * kw);
        var bias = Rand(rng, c);
        foreach (bool withBias in new[] { false, true })
        {
            int ylen = n * c * g.OH * g.OW;
            var expected = Rand(rng, ylen);
            var actual = Rand(rng, ylen);   // different garbage: every output must be written
            var b = withBias ? bias : [];
            DepthwiseConv.ForwardReference(n, c, wt, x, g, b, expected);
            DepthwiseConv.UseDirect = false; // the phase planes (DepthwiseDirectTests cover the direct kernels)
            try { DepthwiseConv.Forward(n, c, wt, x, g, b, actual); } finally { DepthwiseConv.UseDirect = true; }
            AssertClose(expected, actual, kh * kw);
        }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void InputGradMatchesScalarReference(int n, int c, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw)
    {
        var g = new ConvGeometry(1, h, w, kh, kw, sh, sw, ph, pw);
        var rng = new Rng((ulong)(n * 31 + c * 7 + h * 3 + sw));
        var dy = Rand(rng, n * c * g.OH * g.OW);
        var wt = Rand(rng, c * kh * kw);
        foreach (bool acc in new[] { false, true })
        {
            var start = Rand(rng, n * c * h * w);
            var expected = (float[])start.Clone();
            var actual = acc ? (float[])start.Clone() : Rand(rng, start.Length);   // written, not added, when !acc
            DepthwiseConv.InputGradReference(n, c, wt, dy, g, expected, acc);
            DepthwiseConv.UseDirect = false; // the phase planes (DepthwiseDirectTests cover the direct kernels)
            try { DepthwiseConv.InputGrad(n, c, wt, dy, g, actual, acc); } finally { DepthwiseConv.UseDirect = true; }
            AssertClose(expected, actual, kh * kw);
        }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void WeightGradMatchesScalarReference(int n, int c, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw)
    {
        var g = new ConvGeometry(1, h, w, kh, kw, sh, sw, ph, pw);
        var rng = new Rng((ulong)(n * 17 + c * 5 + w * 3 + ph));
        var x = Rand(rng, n * c * h * w);
        var dy = Rand(rng, n * c * g.OH * g.OW);
        var start = Rand(rng, c * kh * kw);
        var expected = (float[])start.Clone();
        var actual = (float[])start.Clone();
        DepthwiseConv.WeightGradReference(n, c, dy, x, g, expected);
        DepthwiseConv.UseDirect = false; // the phase planes (DepthwiseDirectTests cover the direct kernels)
            try { DepthwiseConv.WeightGrad(n, c, dy, x, g, actual); } finally { DepthwiseConv.UseDirect = true; }
        AssertClose(expected, actual, n * g.OH * g.OW);
    }

    [Theory]
    [InlineData(0, 5)]
    [InlineData(1, 1)]
    [InlineData(4, 15)]
    [InlineData(9, 16)]
    [InlineData(9, 1091)]
    [InlineData(2, 33)]
    public void TapSumMatchesItsScalarTwin(int taps, int len)
    {
        var rng = new Rng((ulong)(taps * 100 + len));
        var src = Rand(rng, len + 40);
        var offsets = Enumerable.Range(0, taps).Select(_ => rng.NextInt(41)).ToArray();
        var weights = Rand(rng, taps);
        var fast = Rand(rng, len);
        var scalar = Rand(rng, len);
        DepthwiseConv.TapSum(src, offsets, weights, fast);
        DepthwiseConv.TapSumScalar(src, offsets, weights, scalar);
        Assert.Equal(scalar, fast);   // the same fused multiply-adds in the same order
        if (taps == 0) Assert.All(fast, v => Assert.Equal(0f, v));
        if (taps > 0)
        {
            offsets[^1] = 41;   // one float past the end of src
            Assert.Throws<ArgumentOutOfRangeException>(() => DepthwiseConv.TapSum(src, offsets, weights, new float[len]));
        }
    }

    [Theory]
    [InlineData(3, 32, 34, 32, false, 0f)]
    [InlineData(5, 7, 9, 7, true, 0f)]
    [InlineData(4, 37, 40, 37, true, 0.5f)]
    [InlineData(2, 16, 16, 18, false, -1.25f)]
    [InlineData(1, 1, 1, 1, false, 2f)]
    public void CopyRowsMatchesItsScalarTwin(int rows, int cols, int srcStride, int dstStride, bool accumulate, float add)
    {
        var rng = new Rng((ulong)(rows * 97 + cols));
        var src = Rand(rng, (rows - 1) * srcStride + cols);
        var fast = Rand(rng, (rows - 1) * dstStride + cols + 3);
        var scalar = (float[])fast.Clone();
        DepthwiseConv.CopyRows(src, srcStride, fast, dstStride, rows, cols, accumulate, add);
        DepthwiseConv.CopyRowsScalar(src, srcStride, scalar, dstStride, rows, cols, accumulate, add);
        Assert.Equal(scalar, fast);
        Assert.Throws<ArgumentOutOfRangeException>(() => DepthwiseConv.CopyRows(src, srcStride, new float[cols], dstStride, rows + 1, cols, false, 0f));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Conv2dMatchesTheGroupedGemmPath(int threads)
    {
        // MobileNetV1-like layers: forward, input and weight gradients with the kernel on and off
        var saved = (Workers.Threads, Ops.UseDepthwise);
        try
        {
            Workers.Threads = threads;
            foreach (var (c, size, stride) in new[] { (16, 32, 1), (24, 32, 2), (40, 4, 1), (7, 2, 2) })
            {
                float[][] Run(bool depthwise)
                {
                    Ops.UseDepthwise = depthwise;
                    var rng = new Rng(5);
                    var x = Tensor.Uniform(rng, -1, 1, 9, c, size, size);
                    var w = Tensor.Uniform(rng, -1, 1, c, 1, 3, 3);
                    var b = Tensor.Uniform(rng, -1, 1, c);
                    x.RequiresGrad = w.RequiresGrad = b.RequiresGrad = true;
                    var y = Ops.Conv2d(x, w, b, stride, stride, 1, 1, groups: c);
                    var gy = Tensor.Uniform(rng, -1, 1, y.ShapeArray());
                    y.Backward(gy);
                    return [y.Span.ToArray(), x.Grad!.Span.ToArray(), w.Grad!.Span.ToArray(), b.Grad!.Span.ToArray()];
                }
                var fast = Run(true);
                var gemm = Run(false);
                for (int i = 0; i < fast.Length; i++) AssertClose(gemm[i], fast[i], i == 2 ? 9 * size * size : 9);
            }
        }
        finally
        {
            (Workers.Threads, Ops.UseDepthwise) = saved;
        }
    }

    internal static float[] Rand(Rng rng, int n)
    {
        var a = new float[n];
        rng.FillUniform(a, -1, 1);
        return a;
    }

    internal static void AssertClose(float[] expected, float[] actual, int terms)
    {
        Assert.Equal(expected.Length, actual.Length);
        float tol = 4e-7f * terms;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"[{i}] expected {expected[i]}, got {actual[i]}");
    }
}
