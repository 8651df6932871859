using Sprout.Autograd;
using Sprout.Kernels;
using Sprout.Tensors;
using Xunit;
using Layout = Sprout.Kernels.LocallyConnected.Layout;

namespace Sprout.Tests.Kernels;

/// <summary>The locally connected kernels (both layouts) against their scalar twins, on odd shapes, strides 1–2,
/// with and without bias, weight mask and accumulation, on one and two threads.</summary>
[Collection("Workers")]
public class LocallyConnectedKernelTests
{
    public static TheoryData<int, int, int, int, int, int, int, int, int> Shapes => new()
    {
        // n, c, h, w, kh, kw, sh, sw, f
        { 3, 1, 7, 9, 3, 3, 2, 2, 5 },        // 12 positions: one partial block of 16 lanes
        { 7, 2, 11, 13, 3, 2, 1, 2, 13 },     // 9×6 = 54 positions, rectangular kernel, mixed strides, odd F
        { 5, 3, 10, 10, 3, 3, 1, 1, 7 },      // 64 positions: whole blocks only
        { 13, 1, 28, 28, 3, 3, 2, 2, 32 },    // paper 003's first MNIST layer with 13 images
        { 9, 3, 17, 17, 5, 5, 2, 2, 11 },     // K = 75 (CIFAR's first layer shape), 49 positions
        { 3, 8, 6, 6, 3, 3, 1, 1, 6 },        // K = 72: two blocks of the tap sum
        { 2, 40, 5, 6, 3, 3, 1, 1, 9 },       // K = 360, 12 positions
        { 101, 2, 9, 9, 3, 3, 2, 2, 70 },     // N = 101 (two column blocks, two image blocks), F = 70 (two filter blocks)
        { 1, 1, 3, 3, 3, 3, 1, 1, 1 },        // one image, one position, one filter
        { 27, 1, 28, 28, 3, 3, 2, 2, 32 },    // the first MNIST layer with 27 images: blocks of 24 + 3 forward, 12 + 12 + 3 backward
        { 5, 1, 40, 37, 3, 3, 2, 3, 4 },      // 19×12 = 228 positions; stride 3 (runs of 11 outputs), rows of 37 (3 chunks)
        { 3, 2, 9, 50, 2, 4, 1, 1, 3 },       // 8×47 positions, stride 1: rows of 47 outputs (3 runs), rows of 50 inputs
        { 2, 1, 20, 40, 2, 2, 2, 5, 3 },      // stride 5 > kernel 2: pixels no tap reaches keep 0 (or their old gradient)
    };

    private static IEnumerable<Layout> Layouts() =>
        LocallyConnected.LanesSupported ? [Layout.Lanes, Layout.Rows] : [Layout.Rows];

    [Theory, MemberData(nameof(Shapes))]
    public void ForwardMatchesScalarTwin(int n, int c, int h, int w, int kh, int kw, int sh, int sw, int f)
    {
        var g = new ConvGeometry(c, h, w, kh, kw, sh, sw, 0, 0);
        int p = g.OH * g.OW, k = g.K;
        var rng = new Rng((ulong)(n * 1000 + c * 100 + h * 10 + f));
        var x = Rand(rng, n * c * h * w);
        var wt = Rand(rng, p * k * f);
        var bias = Rand(rng, p * f);
        foreach (bool withBias in new[] { false, true })
        {
            var expected = new float[n * f * p];
            LocallyConnected.ForwardScalar(x, g, n, wt, withBias ? bias : [], f, expected);
            foreach (var layout in Layouts())
            {
                float[]? oneThread = null;
                foreach (int threads in new[] { 1, 2 })
                {
                    var actual = Rand(rng, n * f * p);   // garbage: every output must be written
                    Forward(layout, x, g, n, wt, withBias ? bias : [], f, actual, threads);
                    AssertMatches(layout, expected, actual, k);
                    if (oneThread is null) oneThread = actual;
                    else Assert.Equal(oneThread, actual);   // the split never cuts a sum
                }
            }
        }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void BackwardMatchesScalarTwin(int n, int c, int h, int w, int kh, int kw, int sh, int sw, int f)
    {
        var g = new ConvGeometry(c, h, w, kh, kw, sh, sw, 0, 0);
        int p = g.OH * g.OW, k = g.K, xl = n * c * h * w, wl = p * k * f;
        var rng = new Rng((ulong)(n * 31 + c * 7 + h * 3 + sw + f));
        var x = Rand(rng, xl);
        var wt = Rand(rng, wl);
        var gy = Rand(rng, n * f * p);
        var mask = new float[wl];
        for (int i = 0; i < wl; i++) mask[i] = rng.NextDouble() < 0.4 ? 0f : 1f;
        foreach (bool acc in new[] { false, true })
            foreach (bool masked in new[] { false, true })
            {
                var start = (X: Rand(rng, xl), W: Rand(rng, wl), B: Rand(rng, p * f));
                float[] ex = (float[])start.X.Clone(), ew = (float[])start.W.Clone(), eb = (float[])start.B.Clone();
                LocallyConnected.BackwardScalar(gy, g, n, f, x, wt, masked ? mask : [], ex, acc, ew, acc, eb, acc);
                foreach (var layout in Layouts())
                    foreach (int threads in new[] { 1, 2 })
                    {
                        // when not accumulating, garbage must be overwritten
                        float[] ax = acc ? (float[])start.X.Clone() : Rand(rng, xl), aw = acc ? (float[])start.W.Clone() : Rand(rng, wl);
                        float[] ab = acc ? (float[])start.B.Clone() : Rand(rng, p * f);
                        Backward(layout, gy, g, n, f, x, wt, masked ? mask : [], ax, acc, aw, acc, ab, acc, threads);
                        AssertMatches(layout, ex, ax, f * kh * kw);
                        // on two threads the Lanes layout sums the weight and bias gradients per image range, then
                        // adds the ranges: another order than the twin's single chain
                        AssertMatches(threads == 1 ? layout : Layout.Rows, ew, aw, n);
                        if (threads == 1) Assert.Equal(eb, ab);   // the same add chain over the images in both layouts
                        else AssertMatches(Layout.Rows, eb, ab, n);
                        // and the same bits again with the same thread count
                        float[] ax2 = acc ? (float[])start.X.Clone() : Rand(rng, xl), aw2 = acc ? (float[])start.W.Clone() : Rand(rng, wl);
                        float[] ab2 = acc ? (float[])start.B.Clone() : Rand(rng, p * f);
                        Backward(layout, gy, g, n, f, x, wt, masked ? mask : [], ax2, acc, aw2, acc, ab2, acc, threads);
                        Assert.Equal(ax, ax2);
                        Assert.Equal(aw, aw2);
                        Assert.Equal(ab, ab2);
                        if (masked)
                            for (int i = 0; i < wl; i++)
                                if (mask[i] == 0) Assert.Equal(0f, aw[i]);
                    }
            }
    }

    [Theory]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    public void BackwardComputesOnlyTheGradientsAskedFor(bool dx, bool dw, bool db)
    {
        var g = new ConvGeometry(2, 9, 9, 3, 3, 2, 2, 0, 0);
        int n = 5, f = 6, p = g.OH * g.OW, k = g.K;
        var rng = new Rng(11);
        var x = Rand(rng, n * 2 * 81);
        var wt = Rand(rng, p * k * f);
        var gy = Rand(rng, n * f * p);
        foreach (var layout in Layouts())
        {
            var ex = new float[x.Length];
            var ew = new float[wt.Length];
            var eb = new float[p * f];
            LocallyConnected.BackwardScalar(gy, g, n, f, x, wt, [], ex, false, ew, false, eb, false);
            var ax = dx ? new float[x.Length] : [];
            var aw = dw ? new float[wt.Length] : [];
            var ab = db ? new float[p * f] : [];
            Backward(layout, gy, g, n, f, x, wt, [], ax, false, aw, false, ab, false, 1);
            if (dx) AssertMatches(layout, ex, ax, f * 9);
            if (dw) AssertMatches(layout, ew, aw, n);
            if (db) Assert.Equal(eb, ab);
        }
    }

    public static TheoryData<int, int, int, int, int, int, int> PackShapes => new()
    {
        // c, h, w, kh, kw, sh, sw
        { 1, 28, 28, 3, 3, 2, 2 },     // 13×13 = 169 positions
        { 2, 11, 13, 3, 2, 1, 2 },     // mixed strides
        { 1, 40, 37, 3, 3, 2, 3 },     // stride 3: runs of 11 outputs; rows of 37 pixels: 3 chunks
        { 3, 9, 50, 2, 4, 1, 1 },      // stride 1, 47 outputs a row: 3 runs
        { 1, 20, 40, 2, 2, 2, 5 },     // stride 5 > kernel: gaps no tap reaches
        { 1, 3, 3, 3, 3, 1, 1 },       // one position
        { 1, 70, 70, 1, 1, 1, 1 },     // 1×1 kernel: 4900 positions, rows of 70
        { 2, 9, 40, 3, 3, 3, 16 },     // stride 16: runs of 2 outputs, one tap per chunk
    };

    [Theory, MemberData(nameof(PackShapes))]
    public unsafe void Im2ColLanesEqualsIm2ColAndWritesOnlyThePositions(int c, int h, int w, int kh, int kw, int sh, int sw)
    {
        var g = new ConvGeometry(c, h, w, kh, kw, sh, sw, 0, 0);
        int p = g.OH * g.OW, k = g.K, ld = LocallyConnected.Vectors(p) * LocallyConnected.L + 3;
        var x = Rand(new Rng((ulong)(h * w + sw)), c * h * w);
        var expected = new float[k * ld];
        Im2Col.Forward(x, g, expected, ld);
        var actual = new float[k * ld];
        Array.Fill(actual, float.NaN);
        fixed (float* px = x, pa = actual) LocallyConnected.Im2ColLanes(px, g, pa, ld, 0, g.OH);
        for (int t = 0; t < k; t++)
            for (int j = 0; j < ld; j++)
                if (j < p) Assert.Equal(expected[t * ld + j], actual[t * ld + j]);
                else Assert.True(float.IsNaN(actual[t * ld + j]), $"tap {t} wrote column {j} past {p} positions");
        // a range of output rows writes those rows' positions only
        int oy0 = g.OH / 3, oy1 = Math.Max(oy0 + 1, 2 * g.OH / 3);
        Array.Fill(actual, float.NaN);
        fixed (float* px = x, pa = actual) LocallyConnected.Im2ColLanes(px, g, pa, ld, oy0, oy1);
        for (int t = 0; t < k; t++)
            for (int j = 0; j < ld; j++)
                if (j >= oy0 * g.OW && j < oy1 * g.OW) Assert.Equal(expected[t * ld + j], actual[t * ld + j]);
                else Assert.True(float.IsNaN(actual[t * ld + j]), $"tap {t} wrote column {j} outside rows [{oy0}, {oy1})");
    }

    [Theory, MemberData(nameof(PackShapes))]
    public unsafe void Col2ImLanesEqualsCol2ImBitForBit(int c, int h, int w, int kh, int kw, int sh, int sw)
    {
        var g = new ConvGeometry(c, h, w, kh, kw, sh, sw, 0, 0);
        int p = g.OH * g.OW, k = g.K, ld = LocallyConnected.Vectors(p) * LocallyConnected.L;
        var rng = new Rng((ulong)(h * 7 + w + kw));
        var dcol = Rand(rng, k * ld);
        var old = Rand(rng, c * h * w);
        var plan = new int[LocallyConnected.Col2ImPlanSize(g)];
        foreach (bool acc in new[] { false, true })
        {
            // the reference adds the column rows into gx in tap order, as the scalar twin does
            var expected = acc ? (float[])old.Clone() : new float[c * h * w];
            Im2Col.Backward(dcol, g, expected, ld);
            var actual = acc ? (float[])old.Clone() : Rand(rng, c * h * w);   // garbage: overwritten
            fixed (float* pd = dcol, pa = actual)
            fixed (int* pp = plan)
            {
                LocallyConnected.Col2ImPlan(g, pp);
                LocallyConnected.Col2ImLanes(pd, ld, g, pa, acc, pp);
            }
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void PaddingIsRefused()
    {
        var g = new ConvGeometry(1, 6, 6, 3, 3, 1, 1, 1, 1);
        int n = 2, f = 3, p = g.OH * g.OW, k = 9;
        foreach (var layout in Layouts())
            Assert.Throws<ArgumentException>(() => LocallyConnected.Forward(layout, new float[n * 36], g, n, new float[p * k * f], [], f,
                new float[n * f * p], new float[LocallyConnected.PatchesSize(layout, g, n)],
                new float[LocallyConnected.PackedWeightsSize(layout, p, k, f)], new float[LocallyConnected.ForwardWorkSize(layout, n, p, f)], 1));
    }

    [Fact]
    public void BuffersThatAreTooShortAreRefused()
    {
        var g = new ConvGeometry(1, 6, 6, 3, 3, 1, 1, 0, 0);
        int n = 2, f = 3, p = 16, k = 9;
        foreach (var layout in Layouts())
        {
            var patches = new float[LocallyConnected.PatchesSize(layout, g, n)];
            var packed = new float[LocallyConnected.PackedWeightsSize(layout, p, k, f)];
            var work = new float[LocallyConnected.ForwardWorkSize(layout, n, p, f)];
            Assert.Throws<ArgumentException>(() => LocallyConnected.Forward(layout, new float[n * 36], g, n, new float[p * k * f - 1], [], f,
                new float[n * f * p], patches, packed, work, 1));
            Assert.Throws<ArgumentException>(() => LocallyConnected.Forward(layout, new float[n * 36], g, n, new float[p * k * f], [], f,
                new float[n * f * p - 1], patches, packed, work, 1));
        }
    }

    [Fact]
    public void OpUsesTheKernelsOfItsLayout()
    {
        // the op equals the kernels' scalar twin: exactly where it takes the Lanes layout (the first MNIST layer)
        var rng = new Rng(5);
        var g = new ConvGeometry(1, 28, 28, 3, 3, 2, 2, 0, 0);
        int n = 4, f = 8, p = g.OH * g.OW, k = g.K;
        var x = Tensor.Uniform(rng, -1, 1, n, 1, 28, 28);
        var w = Tensor.Uniform(rng, -1, 1, p, k, f);
        var b = Tensor.Uniform(rng, -1, 1, p, f);
        var y = Ops.LocallyConnected2d(x, w, b, 3, 3, 2, 2);
        var expected = new float[n * f * p];
        LocallyConnected.ForwardScalar(x.Span, g, n, w.Span, b.Span, f, expected);
        if (LocallyConnected.Choose(p, k, f) == Layout.Lanes) Assert.Equal(expected, y.ToArray());
        else AssertMatches(Layout.Rows, expected, y.ToArray(), k);
    }

    private static void Forward(Layout layout, float[] x, in ConvGeometry g, int n, float[] w, float[] b, int f, float[] y, int threads)
    {
        int p = g.OH * g.OW, k = g.K;
        var patches = Rand(new Rng(1), LocallyConnected.PatchesSize(layout, g, n));
        var packed = Rand(new Rng(2), LocallyConnected.PackedWeightsSize(layout, p, k, f));
        var work = Rand(new Rng(3), LocallyConnected.ForwardWorkSize(layout, n, p, f));
        int saved = Workers.Threads;
        Workers.Threads = threads;
        try { LocallyConnected.Forward(layout, x, g, n, w, b, f, y, patches, packed, work, threads); }
        finally { Workers.Threads = saved; }
    }

    private static void Backward(Layout layout, float[] gy, in ConvGeometry g, int n, int f, float[] x, float[] w, float[] mask,
        float[] gx, bool gxAcc, float[] gw, bool gwAcc, float[] gb, bool gbAcc, int threads)
    {
        int p = g.OH * g.OW, k = g.K;
        var patches = new float[LocallyConnected.PatchesSize(layout, g, n)];
        var packed = new float[LocallyConnected.PackedWeightsSize(layout, p, k, f)];
        var fwork = new float[LocallyConnected.ForwardWorkSize(layout, n, p, f)];
        var y = new float[n * f * p];
        var work = Rand(new Rng(4), LocallyConnected.BackwardWorkSize(layout, g, n, f, gx.Length > 0, gw.Length > 0, gb.Length > 0));
        int saved = Workers.Threads;
        Workers.Threads = threads;
        try
        {
            LocallyConnected.Forward(layout, x, g, n, w, [], f, y, patches, packed, fwork, threads);
            LocallyConnected.Backward(layout, gy, g, n, f, x, w, patches, packed, mask, gx, gxAcc, gw, gwAcc, gb, gbAcc, work, threads);
        }
        finally { Workers.Threads = saved; }
    }

    // Lanes sums in the scalar twin's order: equal bit for bit. Rows sums in the GEMM's order: close, relative to the
    // size of a sum of `terms` products of values in [-1, 1].
    private static void AssertMatches(Layout layout, float[] expected, float[] actual, int terms)
    {
        Assert.Equal(expected.Length, actual.Length);
        if (layout == Layout.Lanes)
        {
            Assert.Equal(expected, actual);
            return;
        }
        float tol = 4e-6f * (terms + 4);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"[{i}] {expected[i]} vs {actual[i]}");
    }

    private static float[] Rand(Rng rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }
}
