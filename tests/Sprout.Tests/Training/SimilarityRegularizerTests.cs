using Sprout.Autograd;
using Sprout.Tensors;
using Sprout.Tests.Autograd;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Training;

/// <summary>
/// Paper 002's similarity regulariser: its gradient against central differences of an independent double-precision
/// reference, its effect when minimised, each ablation switch, and the near-zero guards.
/// </summary>
public class SimilarityRegularizerTests
{
    // independent double-precision reference of the whole term
    private static double Reference(double[] w, int n, double previous, bool cosine, bool sumRatio, double lambda, double eps)
    {
        int m = w.Length / n;
        double total = 0;
        if (cosine && n > 1)
        {
            var norm = new double[n];
            for (int i = 0; i < n; i++)
            {
                double q = 0;
                for (int k = 0; k < m; k++) q += w[i * m + k] * w[i * m + k];
                norm[i] = Math.Sqrt(q + eps * eps);
            }
            double sum = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    if (i == j) continue;
                    double d = 0;
                    for (int k = 0; k < m; k++) d += w[i * m + k] * w[j * m + k];
                    sum += Math.Abs(d / (norm[i] * norm[j]));
                }
            total += sum / (n * (n - 1.0));
        }
        if (sumRatio)
        {
            double s = w.Sum();
            total += lambda * Math.Log(Math.Sqrt(s * s + eps * eps) / Math.Sqrt(previous * previous + eps * eps));
        }
        return total;
    }

    private static Tensor Weight(ulong seed, params int[] shape)
    {
        var t = Tensor.Empty(shape);
        new Rng(seed).FillNormal(t.Span, 0, 1);
        t.RequiresGrad = true;
        return t;
    }

    private static float Value(Tensor t) => t.Item();

    [Theory]
    [InlineData(true, true, new[] { 6, 5 })]        // a Linear's [out, in]
    [InlineData(true, true, new[] { 4, 2, 2, 2 })]  // a conv's [out, in, k, k], rows of in·k·k
    [InlineData(true, false, new[] { 5, 3 })]
    [InlineData(false, true, new[] { 5, 3 })]
    public void GradientMatchesFiniteDifferencesOfADoubleReference(bool cosine, bool sumRatio, int[] shape)
    {
        const double previous = 0.7, lambda = 0.3, eps = 1e-3;
        int n = shape[0];
        GradCheck.Check(t => SimilarityRegularizer.Compute(t[0], previous, cosine, sumRatio, lambda, eps),
            d => new DT([Reference(d[0].Data, n, previous, cosine, sumRatio, lambda, eps)], [1]), seed: 31, shape);
    }

    [Fact]
    public void GradientDescentOnTheCosineTermLowersALayersMeanAbsCosine()
    {
        // rows sharing a common direction: strongly similar neurons, as a split or copy leaves them
        var w = Weight(5, 8, 6);
        var s = w.Span;
        for (int i = 0; i < 8; i++) for (int k = 0; k < 6; k++) s[i * 6 + k] = 0.3f * s[i * 6 + k] + 1f;
        double before;
        using (Graph.NoGrad()) before = Value(SimilarityRegularizer.MeanAbsCosine(w));
        for (int step = 0; step < 200; step++)
        {
            w.Grad?.Span.Clear();
            SimilarityRegularizer.Compute(w, 0, useCosine: true, useSumRatio: false).Backward();
            var g = w.Grad!.Span;
            for (int j = 0; j < s.Length; j++) s[j] -= 0.5f * g[j];
        }
        double after;
        using (Graph.NoGrad()) after = Value(SimilarityRegularizer.MeanAbsCosine(w));
        Assert.True(before > 0.8, $"the constructed rows start similar ({before})");
        Assert.True(after < 0.5 * before, $"mean |cos| {before} → {after}");
    }

    [Fact]
    public void EachSwitchTurnsItsTermOff()
    {
        var w = Weight(9, 5, 4);
        const double previous = 2.5, lambda = 0.2;
        float cos = Value(SimilarityRegularizer.MeanAbsCosine(w));
        float ratio = Value(SimilarityRegularizer.LogSumRatio(w, previous));
        Assert.Equal(cos + lambda * ratio, Value(SimilarityRegularizer.Compute(w, previous, true, true, lambda)), 5);
        Assert.Equal(cos, Value(SimilarityRegularizer.Compute(w, previous, true, false, lambda)), 6);
        Assert.Equal(lambda * ratio, Value(SimilarityRegularizer.Compute(w, previous, false, true, lambda)), 6);
        var none = SimilarityRegularizer.Compute(w, previous, false, false, lambda);
        Assert.Equal(0f, Value(none));
        Assert.False(none.RequiresGrad);

        // the cosine term ignores the weights' scale; the sum-ratio term sees it (λ·log 3)
        var scaled = Tensor.FromArray(w.ToArray().Select(v => 3f * v).ToArray(), 5, 4);
        Assert.Equal(cos, Value(SimilarityRegularizer.Compute(scaled, previous, true, false, lambda)), 5);
        Assert.Equal(lambda * (ratio + Math.Log(3)), Value(SimilarityRegularizer.Compute(scaled, previous, false, true, lambda)), 4);
    }

    [Fact]
    public void TheNearZeroGuardKeepsValueAndGradientFinite()
    {
        const double eps = 1e-3, lambda = 0.5;
        // ΣW = 0 now and before growth, and a row of zeros (a neuron added with zero incoming weights)
        var w = Tensor.FromArray([1f, -2f, 0.5f, -1f, 2f, -0.5f, 0f, 0f, 0f], 3, 3);
        w.RequiresGrad = true;
        var r = SimilarityRegularizer.Compute(w, previousSum: 0, lambda: lambda, epsilon: eps);
        r.Backward();
        Assert.True(float.IsFinite(r.Item()));
        // rows 0 and 1 are opposite (|cos| 1), row 2 has cosine 0 with both; the sum term is log(ε/ε) = 0
        Assert.Equal(2.0 / 6.0, r.Item(), 4);
        Assert.All(w.Grad!.ToArray(), g => Assert.True(float.IsFinite(g)));

        // a sum of ~0 against a normal one: the log is bounded by log ε, and each weight's gradient by λ/(2ε)
        var v = Tensor.FromArray([1e-7f, -2e-7f, 3e-7f, 0f], 2, 2);
        v.RequiresGrad = true;
        var t = SimilarityRegularizer.Compute(v, previousSum: 4, useCosine: false, lambda: lambda, epsilon: eps);
        t.Backward();
        Assert.True(t.Item() >= lambda * (Math.Log(eps) - Math.Log(4)) - 1e-4, $"{t.Item()}");
        Assert.All(v.Grad!.ToArray(), g => Assert.True(Math.Abs(g) <= lambda / (2 * eps) * 1.001, $"gradient {g}"));
        Assert.Throws<ArgumentException>(() => SimilarityRegularizer.Compute(v, 1, epsilon: 0));
    }

    [Fact]
    public void WeightSumIsTheSumOfAllWeights()
    {
        var w = Tensor.FromArray([1f, 2f, -0.5f, 4f], 2, 1, 2);
        Assert.Equal(6.5, SimilarityRegularizer.WeightSum(w));
    }

    [Fact]
    public void SquaredLogPullsTheSumBackFromEitherSideWhileThePapersLogAlwaysPushesItDown()
    {
        // one weight row [2, 3]: ΣW = 1 + 2 + 3 + 4 = 10; the gradient of the sum term is the same on every weight
        float Grad(float scale, SumPenalty penalty)
        {
            var w = Tensor.FromArray([1f * scale, 2f * scale, 3f * scale, 4f * scale], 2, 2);
            w.RequiresGrad = true;
            SimilarityRegularizer.Compute(w, previousSum: 10, useCosine: false, useSumRatio: true, lambda: 0.5, penalty: penalty).Backward();
            var g = w.Grad!.Span.ToArray();
            Assert.All(g, v => Assert.Equal(g[0], v, 6));
            return g[0];
        }
        // λ·(log r)²: d/dw = 2λ·log r / ΣW — zero at r = 1, positive above (the sum shrinks back), negative below
        Assert.Equal(0f, Grad(1f, SumPenalty.SquaredLog), 6);
        Assert.Equal((float)(2 * 0.5 * Math.Log(1.2) / 12), Grad(1.2f, SumPenalty.SquaredLog), 5);
        Assert.Equal((float)(2 * 0.5 * Math.Log(0.8) / 8), Grad(0.8f, SumPenalty.SquaredLog), 5);
        // the paper's λ·log r: d/dw = λ / ΣW > 0 whether the sum grew or shrank
        Assert.Equal(0.5f / 10, Grad(1f, SumPenalty.Log), 5);
        Assert.True(Grad(0.8f, SumPenalty.Log) > 0 && Grad(1.2f, SumPenalty.Log) > 0);
        // the value: (log r)² against log r
        var w2 = Tensor.FromArray([1.2f, 2.4f, 3.6f, 4.8f], 2, 2);
        Assert.Equal((float)(0.5 * Math.Log(1.2) * Math.Log(1.2)), SimilarityRegularizer.Compute(w2, 10, false, true, 0.5, penalty: SumPenalty.SquaredLog).Span[0], 5);
        Assert.Equal((float)(0.5 * Math.Log(1.2)), SimilarityRegularizer.Compute(w2, 10, false, true, 0.5).Span[0], 5);
    }
}
