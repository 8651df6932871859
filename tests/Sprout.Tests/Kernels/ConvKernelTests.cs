using Sprout.Autograd;
using Sprout.Kernels;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Kernels;

[Collection("Workers")]
public class ConvKernelTests
{
    public static TheoryData<int, int, int, int, int, int> Geometries => new()
    {
        // c, h, w, k, stride, pad
        { 1, 5, 5, 3, 1, 1 }, { 3, 32, 32, 3, 1, 1 }, { 2, 7, 9, 3, 2, 0 }, { 4, 6, 5, 2, 3, 1 }, { 2, 13, 13, 5, 1, 2 }, { 1, 3, 3, 3, 1, 0 },
    };

    [Theory, MemberData(nameof(Geometries))]
    public void PackPanelMatchesIm2ColColumns(int c, int h, int w, int k, int s, int p)
    {
        var g = new ConvGeometry(c, h, w, k, k, s, s, p, p);
        var rng = new Rng((ulong)(c * 100 + h + k));
        var x = new float[c * h * w];
        rng.FillUniform(x, -1, 1);
        int ohw = g.OH * g.OW;
        var col = new float[g.K * ohw];
        Im2Col.Forward(x, g, col, ohw);
        var panel = new float[g.K * 64];
        for (int j0 = 0; j0 < ohw; j0 += 64)
        {
            int cols = Math.Min(64, ohw - j0);
            panel.AsSpan().Fill(float.NaN);
            ConvGemm.PackPanel(x, g, j0, cols, panel);
            for (int t = 0; t < g.K; t++)
                for (int j = 0; j < 64; j++)
                    Assert.Equal(j < cols ? col[t * ohw + j0 + j] : 0f, panel[t * 64 + j]);
        }
    }

    [Theory]
    [InlineData(16, 8, 8, 3, 1)]
    [InlineData(16, 4, 4, 3, 1)]
    [InlineData(3, 2, 2, 3, 1)]
    [InlineData(2, 5, 7, 3, 1)]
    [InlineData(2, 13, 13, 5, 2)]
    [InlineData(1, 20, 33, 3, 1)]
    [InlineData(2, 6, 6, 3, 0)]
    [InlineData(2, 9, 4, 5, 1)]
    public void PackColumnsPaddedMatchesScalarIm2Col(int c, int h, int w, int k, int p)
    {
        var g = new ConvGeometry(c, h, w, k, k, 1, 1, p, p);
        var rng = new Rng((ulong)(c * 17 + h * 5 + w + k));
        var x = new float[c * h * w];
        rng.FillUniform(x, -1, 1);
        int ohw = g.OH * g.OW, ld = 3 * ohw + 7; // as in a batch: this image's columns among others'
        var expected = new float[g.K * ld];
        var actual = new float[g.K * ld];
        expected.AsSpan().Fill(7f);
        actual.AsSpan().Fill(7f); // the other images' columns must stay untouched
        Im2Col.Forward(x, g, expected.AsSpan(ohw), ld);
        ConvGemm.PackColumnsPadded(x, g, actual.AsSpan(ohw), ld);
        Assert.Equal(expected, actual);
        // a second image through the same (reused) padded scratch
        rng.FillUniform(x, -1, 1);
        Im2Col.Forward(x, g, expected, ld);
        ConvGemm.PackColumnsPadded(x, g, actual, ld);
        Assert.Equal(expected, actual);
    }

    [Theory, MemberData(nameof(Geometries))]
    [InlineData(3, 4, 4, 3, 1, 1)]
    [InlineData(2, 2, 2, 3, 1, 1)]
    [InlineData(4, 8, 8, 1, 1, 0)]
    public void Col2ImIsTheAdjointOfIm2Col(int c, int h, int w, int k, int s, int p)
    {
        // <im2col(x), d> = <x, col2im(d)> for every x and d, with the rows at a stride past their length
        var g = new ConvGeometry(c, h, w, k, k, s, s, p, p);
        var rng = new Rng((ulong)(c * 7 + h * 11 + w + k * 3 + s));
        int ohw = g.OH * g.OW, ld = ohw + 3;
        var x = new float[c * h * w];
        var d = new float[g.K * ld];
        rng.FillUniform(x, -1, 1);
        rng.FillUniform(d, -1, 1);
        var col = new float[g.K * ld];
        Im2Col.Forward(x, g, col, ld);
        var dx = new float[c * h * w];
        dx.AsSpan().Fill(0.5f); // Backward adds
        Im2Col.Backward(d, g, dx, ld);
        double lhs = 0, rhs = 0;
        for (int t = 0; t < g.K; t++)
            for (int j = 0; j < ohw; j++) lhs += (double)col[t * ld + j] * d[t * ld + j];
        for (int i = 0; i < x.Length; i++) rhs += (double)x[i] * (dx[i] - 0.5f);
        Assert.Equal(lhs, rhs, 1e-4);
    }

    [Theory, MemberData(nameof(Geometries))]
    public void PackColumnsMatchesScalarIm2Col(int c, int h, int w, int k, int s, int p)
    {
        var g = new ConvGeometry(c, h, w, k, k, s, s, p, p);
        var rng = new Rng((ulong)(c * 31 + h * 3 + k));
        var x = new float[c * h * w];
        rng.FillUniform(x, -1, 1);
        int ohw = g.OH * g.OW, ld = ohw + 5;
        var expected = new float[g.K * ld];
        var actual = new float[g.K * ld];
        expected.AsSpan().Fill(7f);
        actual.AsSpan().Fill(7f); // the padding between rows must stay untouched
        Im2Col.Forward(x, g, expected, ld);
        ConvGemm.PackColumns(x, g, 0, ohw, actual, ld);
        Assert.Equal(expected, actual);
        // a window of columns in the middle
        int j0 = ohw / 3, cols = Math.Max(1, ohw / 2);
        var part = new float[g.K * cols];
        ConvGemm.PackColumns(x, g, j0, cols, part, cols);
        for (int t = 0; t < g.K; t++)
            for (int j = 0; j < cols; j++) Assert.Equal(expected[t * ld + j0 + j], part[t * cols + j]);
    }

    [Theory, MemberData(nameof(Geometries))]
    public void ImplicitGemmConvMatchesExplicitIm2Col(int c, int h, int w, int k, int s, int p)
    {
        var rng = new Rng((ulong)(c * 7 + w + s));
        foreach (int f in new[] { 1, 5, 16, 13 })
        {
            var x = Tensor.Uniform(rng, -1, 1, 3, c, h, w);
            var wt = Tensor.Uniform(rng, -1, 1, f, c, k, k);
            var b = Tensor.Uniform(rng, -1, 1, f);
            bool saved = Ops.UseImplicitGemm;
            try
            {
                Ops.UseImplicitGemm = true;
                var a = Ops.Conv2d(x, wt, b, s, s, p, p).ToArray();
                Ops.UseImplicitGemm = false;
                var e = Ops.Conv2d(x, wt, b, s, s, p, p).ToArray();
                for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - e[i]) <= 1e-4f * (1 + Math.Abs(e[i])), $"[{i}] {a[i]} vs {e[i]}");
            }
            finally { Ops.UseImplicitGemm = saved; }
        }
    }
}
