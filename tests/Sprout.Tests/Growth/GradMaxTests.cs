using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class GradMaxTests
{
    private static GrowableModel Mlp(ulong seed, params int[] widths) =>
        new((Sequential)SequentialConfig.Mlp(widths, new ActivationConfig(ActivationKind.ReluOne)).Build(new Rng(seed)));

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<float> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    private static double Norm(ReadOnlySpan<float> a)
    {
        double s = 0;
        foreach (float v in a) s += (double)v * v;
        return Math.Sqrt(s);
    }

    /// <summary>
    /// G = Σ_n δ_nᵀ·x_n for a 1-hidden-layer MLP under mean cross-entropy, in plain doubles from the explicit formula:
    /// δ_n = (softmax(z_n) − onehot(y_n)) / N, z_n = W2·relu(W1·x_n + b1) + b2. Shape [outputs, inputs].
    /// </summary>
    private static double[,] ExplicitGradient(GrowableModel m, InMemoryDataset data)
    {
        var site = m.Sites[0];
        var w1 = site.InWeight.ToArray();
        var b1 = site.InBias!.ToArray();
        var w2 = site.OutWeight.ToArray();
        var b2 = site.OutBias!.ToArray();
        int inF = site.FanIn, hid = site.Width, outF = site.OutWeight.Dim(0), n = data.Count;
        var x = data.X;
        var y = data.Labels!;
        var g = new double[outF, inF];
        var h = new double[hid];
        var z = new double[outF];
        for (int s = 0; s < n; s++)
        {
            for (int j = 0; j < hid; j++)
            {
                double v = b1[j];
                for (int i = 0; i < inF; i++) v += (double)w1[j * inF + i] * x[s * inF + i];
                h[j] = Math.Max(0, v);
            }
            double max = double.NegativeInfinity;
            for (int o = 0; o < outF; o++)
            {
                double v = b2[o];
                for (int j = 0; j < hid; j++) v += (double)w2[o * hid + j] * h[j];
                z[o] = v;
                max = Math.Max(max, v);
            }
            double sum = 0;
            for (int o = 0; o < outF; o++) sum += Math.Exp(z[o] - max);
            for (int o = 0; o < outF; o++)
            {
                double delta = (Math.Exp(z[o] - max) / sum - (y[s] == o ? 1 : 0)) / n;
                for (int i = 0; i < inF; i++) g[o, i] += delta * x[s * inF + i];
            }
        }
        return g;
    }

    /// <summary>The top <paramref name="k"/> eigenvectors of G·Gᵀ (= left singular vectors of G) by power iteration with deflation.</summary>
    private static (double[][] Vectors, double[] Values) TopLeftSingular(double[,] g, int k)
    {
        int r = g.GetLength(0), c = g.GetLength(1);
        var a = new double[r, r];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++)
                for (int t = 0; t < c; t++) a[i, j] += g[i, t] * g[j, t];
        var vecs = new double[k][];
        var vals = new double[k];
        for (int q = 0; q < k; q++)
        {
            var v = new double[r];
            for (int i = 0; i < r; i++) v[i] = 1 + 0.1 * i * (q + 1);
            double lambda = 0;
            for (int it = 0; it < 5000; it++)
            {
                var w = new double[r];
                for (int i = 0; i < r; i++)
                    for (int j = 0; j < r; j++) w[i] += a[i, j] * v[j];
                double nn = Math.Sqrt(w.Sum(t => t * t));
                lambda = nn;
                for (int i = 0; i < r; i++) v[i] = w[i] / nn;
            }
            vecs[q] = v;
            vals[q] = lambda;
            for (int i = 0; i < r; i++)
                for (int j = 0; j < r; j++) a[i, j] -= lambda * v[i] * v[j];
        }
        return (vecs, vals);
    }

    [Fact]
    public void OutgoingWeightsAreTheTopSingularVectorsOfTheAuxiliaryGradient()
    {
        var m = Mlp(11, 6, 5, 4);
        var data = GrowthFixtures.Random(96, 6, 4, 12);   // a linear teacher labels the data
        var g = ExplicitGradient(m, data);
        var (u, s) = TopLeftSingular(g, 2);
        Assert.True(s[0] > 1.5 * s[1] && s[1] > 1e-8, "the test needs distinct singular values");
        // one batch holding the whole set: the extender's gradient is the full-data one computed above
        var ext = new GradMaxConfig(Scale: 0.7, Batches: 1, BatchSize: 96).Build();
        ext.Extend(new GrowthContext(m, data, new Rng(3)), [2]);
        var site = m.Sites[0];
        Assert.Equal(7, site.Width);
        for (int k = 0; k < 2; k++)
        {
            var o = GrowthFixtures.Outgoing(site, 5 + k);
            Assert.Equal(0.7, Norm(o), 5);
            Assert.True(Math.Abs(Math.Abs(Dot(u[k], o)) - 0.7) < 1e-4, $"new neuron {k}: |⟨u_{k}, w⟩| = {Math.Abs(Dot(u[k], o))}, expected 0.7");
        }
    }

    [Fact]
    public void WithZeroEpsilonTheFunctionIsUnchangedAndNewIncomingWeightsAreZero()
    {
        var m = Mlp(21, 6, 10, 10, 3);
        var data = GrowthFixtures.Random(200, 6, 3, 22);
        var x = Tensor.Uniform(new Rng(4), -2, 2, 100, 6);
        var before = m.Logits(x);
        Extender.Create("gradmax").Extend(new GrowthContext(m, data, new Rng(5)), [4, 6]);
        Assert.Equal([14, 16], m.Widths());
        var after = m.Logits(x);
        for (int i = 0; i < before.Length; i++) Assert.True(Math.Abs(before[i] - after[i]) <= 1e-6 * (1 + Math.Abs(before[i])));
        foreach (var (site, old) in new[] { (m.Sites[0], 10), (m.Sites[1], 10) })
        {
            var w = new float[site.FanIn];
            for (int j = old; j < site.Width; j++)
            {
                site.GetIncoming(j, w);
                Assert.All(w, v => Assert.Equal(0f, v));
                Assert.Equal(0f, site.GetBias(j));
                // 0.5 = the default scale; past the consumer's output count there is no direction left
                Assert.Equal(j - old < site.OutWeight.Dim(0) ? 0.5 : 0, Norm(GrowthFixtures.Outgoing(site, j)), 5);
            }
        }
    }

    [Fact]
    public void EpsilonSetsTheNormOfTheNewIncomingWeights()
    {
        var m = Mlp(31, 6, 8, 3);
        var data = GrowthFixtures.Random(100, 6, 3, 32);
        new GradMaxConfig(Epsilon: 1e-2).Build().Extend(new GrowthContext(m, data, new Rng(6)), [3]);
        var w = new float[6];
        for (int j = 8; j < 11; j++)
        {
            m.Sites[0].GetIncoming(j, w);
            Assert.Equal(1e-2, Norm(w), 6);
        }
    }

    // (norm of the new neurons' incoming-weight gradient right after insertion, norm of their outgoing weights)
    private static (double Grad, double Out) NewIncomingGradNorm(string extender, int count)
    {
        var m = Mlp(41, 6, 8, 4);
        var data = GrowthFixtures.Random(256, 6, 4, 42);
        Extender.Create(extender).Extend(new GrowthContext(m, data, new Rng(7)), [count]);
        var site = m.Sites[0];
        new Trainer(m.Module).Backward(data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count));
        var grad = new float[site.Width * site.IncomingLength];
        site.IncomingGradient(grad);
        double out2 = 0;
        for (int j = 8; j < site.Width; j++) out2 += Math.Pow(Norm(GrowthFixtures.Outgoing(site, j)), 2);
        return (Norm(grad.AsSpan(8 * site.IncomingLength)), Math.Sqrt(out2));
    }

    [Fact]
    public void NewNeuronsGetALargerIncomingGradientThanRandomOrKaimingOnes()
    {
        var gm = NewIncomingGradNorm("gradmax", 3);
        var random = NewIncomingGradNorm("random", 3);
        var kaiming = NewIncomingGradNorm("kaiming", 3);
        Assert.True(gm.Grad > 0);
        Assert.True(gm.Grad > random.Grad, $"gradmax {gm} vs random {random}");
        // also per unit of outgoing norm (the default scales differ)
        Assert.True(gm.Grad / gm.Out > random.Grad / random.Out, $"gradmax {gm} vs random {random}");
        // Kaiming's new neurons have zero outgoing weights, hence no incoming gradient
        Assert.True(gm.Grad > kaiming.Grad, $"gradmax {gm} vs kaiming {kaiming}");
    }

    [Fact]
    public void NeuronsBeyondTheRankGetTheRemainingSingularVectorsThenZeroOutgoingWeights()
    {
        // 2 inputs, 3 outputs: G is 3×2, rank ≤ 2; 5 new neurons
        var m = Mlp(51, 2, 6, 3);
        var data = GrowthFixtures.Random(120, 2, 3, 52);
        var g = ExplicitGradient(m, data);
        var (u, _) = TopLeftSingular(g, 2);
        new GradMaxConfig(Scale: 1, Batches: 1, BatchSize: 120).Build().Extend(new GrowthContext(m, data, new Rng(8)), [5]);
        var site = m.Sites[0];
        var o = Enumerable.Range(6, 5).Select(j => GrowthFixtures.Outgoing(site, j)).ToArray();
        for (int k = 0; k < 2; k++) Assert.True(Math.Abs(Math.Abs(Dot(u[k], o[k])) - 1) < 1e-4);
        // the third: a unit vector orthogonal to the first two, in the null space of Gᵀ
        Assert.Equal(1, Norm(o[2]), 5);
        for (int k = 0; k < 2; k++) Assert.True(Math.Abs(Dot(u[k], o[2])) < 1e-5);
        for (int i = 0; i < 2; i++)
        {
            double gi = 0;
            for (int r = 0; r < 3; r++) gi += g[r, i] * o[2][r];
            Assert.True(Math.Abs(gi) < 1e-5 * (1 + Math.Abs(g[0, 0])));
        }
        // no direction left for the last two
        Assert.All(o[3], v => Assert.Equal(0f, v));
        Assert.All(o[4], v => Assert.Equal(0f, v));
    }

    [Fact]
    public void APlainReluAfterAGrownLayerBecomesReluOneSoTheNewNeuronsGetAGradient()
    {
        var m = GrowthFixtures.Mlp(71, 6, 8, 4);    // plain ReLU
        var data = GrowthFixtures.Random(256, 6, 4, 72);
        var x = Tensor.Uniform(new Rng(4), -2, 2, 50, 6);
        var before = m.Logits(x);
        Extender.Create("gradmax").Extend(new GrowthContext(m, data, new Rng(7)), [3]);
        var act = Assert.IsType<Activation>(m.Module.Layers[1]);
        Assert.Equal(ActivationKind.ReluOne, act.Config.Kind);
        Assert.Equal(ActivationKind.ReluOne, ((ActivationConfig)((SequentialConfig)m.Module.ToConfig()).Layers[1]).Kind);
        var after = m.Logits(x);
        for (int i = 0; i < before.Length; i++) Assert.True(Math.Abs(before[i] - after[i]) <= 1e-6 * (1 + Math.Abs(before[i])));
        var site = m.Sites[0];
        new Trainer(m.Module).Backward(data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count));
        var grad = new float[site.Width * site.IncomingLength];
        site.IncomingGradient(grad);
        Assert.True(Norm(grad.AsSpan(8 * site.IncomingLength)) > 1e-3);
    }

    [Fact]
    public void ItRunsOneForwardBackwardPassPerBatchAndGrownSite()
    {
        var m = Mlp(61, 6, 8, 8, 3);
        var ext = (GradMaxExtender)new GradMaxConfig(Batches: 4, BatchSize: 10).Build();
        ext.Extend(new GrowthContext(m, GrowthFixtures.Random(200, 6, 3, 62), new Rng(9)), [2, 2]);
        Assert.Equal(8, ext.Passes);
        // fewer samples than batches × batch size: ⌈25/10⌉ = 3 per site; a site growing by 0 costs nothing
        ext.Extend(new GrowthContext(m, GrowthFixtures.Random(25, 6, 3, 63), new Rng(9)), [0, 2]);
        Assert.Equal(3, ext.Passes);
    }

    [Fact]
    public void ConfigRoundTripsThroughJsonAndRejectsBadSettings()
    {
        var c = new GradMaxConfig(Epsilon: 1e-4, Scale: 0.25, MeanNorm: true, Batches: 2, BatchSize: 64);
        Assert.Equal(c, ExtenderConfig.FromJson(c.ToJson()));
        Assert.Equal(new GradMaxConfig(), ExtenderConfig.FromJson("\"gradmax\""));
        Assert.IsType<GradMaxExtender>(Extender.Create("gradmax"));
        Assert.Throws<ArgumentException>(() => new GradMaxConfig(Epsilon: -1).Build());
        Assert.Throws<ArgumentException>(() => new GradMaxConfig(Scale: 0).Build());
        Assert.Throws<ArgumentException>(() => new GradMaxConfig(Batches: 0).Build());
    }
}
