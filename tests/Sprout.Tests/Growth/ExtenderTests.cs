using Sprout.Optim;
using Sprout.Autograd;
using Sprout.Growth;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class ExtenderTests
{
    [Fact]
    public void SweEffectiveForwardEqualsMergedLayerForward()
    {
        // effective forward computed term by term: x·(w_new + Σ c) and x·(w_i − Σ_j c_{j,i}) as separate products
        int n = 4, N = 3, f = 5, d = f + 1, batch = 8;
        var rng = new Rng(21);
        var baseM = new float[(n + N) * d];
        var c = new float[N * n * d];
        rng.FillNormal(baseM, 0, 1);
        rng.FillNormal(c, 0, 0.3);
        var x = new float[batch * f];
        rng.FillNormal(x, 0, 1);
        var merged = SharedWeightsExtender.EffectiveIncoming(baseM, c, null, n, N, d);
        for (int b = 0; b < batch; b++)
            for (int r = 0; r < n + N; r++)
            {
                double viaMerged = merged[r * d + f], viaTerms = baseM[r * d + f];
                for (int k = 0; k < f; k++)
                {
                    viaMerged += merged[r * d + k] * x[b * f + k];
                    viaTerms += baseM[r * d + k] * x[b * f + k];
                }
                if (r >= n)
                    for (int i = 0; i < n; i++)
                    {
                        int o = ((r - n) * n + i) * d;
                        double t = c[o + f];
                        for (int k = 0; k < f; k++) t += c[o + k] * x[b * f + k];
                        viaTerms += t;
                    }
                else
                    for (int j = 0; j < N; j++)
                    {
                        int o = (j * n + r) * d;
                        double t = c[o + f];
                        for (int k = 0; k < f; k++) t += c[o + k] * x[b * f + k];
                        viaTerms -= t;
                    }
                Assert.Equal(viaTerms, viaMerged, 4);
            }
    }

    [Fact]
    public void SweCouplingsCancelInTheColumnSums()
    {
        // Σ over all rows of the effective matrix equals Σ over the base rows: each coupling is added once and subtracted once
        int n = 5, N = 4, d = 3;
        var rng = new Rng(2);
        var b = new float[(n + N) * d];
        var c = new float[N * n * d];
        rng.FillNormal(b, 0, 1);
        rng.FillNormal(c, 0, 1);
        var mask = new bool[N * n];
        for (int i = 0; i < mask.Length; i++) mask[i] = i % 3 != 0;
        var e = SharedWeightsExtender.EffectiveIncoming(b, c, mask, n, N, d);
        for (int k = 0; k < d; k++)
        {
            double sb = 0, se = 0;
            for (int r = 0; r < n + N; r++) { sb += b[r * d + k]; se += e[r * d + k]; }
            Assert.Equal(sb, se, 4);
        }
        // a masked-out pair contributes nothing
        var c2 = (float[])c.Clone();
        for (int k = 0; k < d; k++) c2[(0 * n + 0) * d + k] += 100f;   // mask[0] is false
        Assert.Equal(e, SharedWeightsExtender.EffectiveIncoming(b, c2, mask, n, N, d));
    }

    [Theory]
    [InlineData("kaiming")]
    [InlineData("swe-plus")]
    public void ZeroOutgoingExtendersAddNeuronsWithoutChangingOutputsWhenNoAdjustment(string name)
    {
        var model = GrowthFixtures.Mlp(8, 6, 10, 10, 3);
        var data = GrowthFixtures.Random(300, 6, 3, 8);
        var x = data.Head(100).X;
        var before = model.Logits(x);
        var ext = name == "kaiming" ? Extender.Create(name) : new SharedWeightsExtender(SweOptions.Plus with { AdjustSteps = 0, CenterNewBias = true }, name);
        var rep = ext.Extend(new GrowthContext(model, data, new Rng(3)), [3, 2]);
        Assert.Equal([13, 12], model.Widths());
        Assert.Equal(3, rep[0].Added);
        var after = model.Logits(x);
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i], after[i]);
    }

    [Fact]
    public void FrobeniusKeepsTheWeightNorm()
    {
        var model = GrowthFixtures.Mlp(4, 6, 10, 3);
        var data = GrowthFixtures.Random(50, 6, 3, 8);
        double Norm() => Math.Sqrt(model.Sites[0].InWeight.ToArray().Sum(v => (double)v * v));
        double before = Norm();
        Extender.Create("frobenius").Extend(new GrowthContext(model, data, new Rng(3)), [10]);
        Assert.Equal(20, model.Sites[0].Width);
        Assert.Equal(before, Norm(), 4);
    }

    [Fact]
    public void RandomGivesNonZeroOutgoingWeights()
    {
        var model = GrowthFixtures.Mlp(4, 6, 10, 3);
        var data = GrowthFixtures.Random(50, 6, 3, 8);
        Extender.Create("random").Extend(new GrowthContext(model, data, new Rng(3)), [2]);
        var o = new float[model.Sites[0].FanOut];
        model.Sites[0].GetOutgoing(11, o);
        Assert.Contains(o, v => v != 0);
    }

    [Fact]
    public void SwePlusRevivesDeadNeuronsAndBreaksSymmetry()
    {
        var model = GrowthFixtures.Mlp(12, 6, 8, 8, 3);
        var data = GrowthFixtures.Random(2000, 6, 3, 12);
        var plus = new SharedWeightsExtender(SweOptions.PlusFrozen with { AdjustSteps = 30 }, "swe-plus-frozen");
        var rep = plus.Extend(new GrowthContext(model, data, new Rng(5)), [8, 8]);
        var act = model.Activity(data);
        Assert.Equal(0, act[0].Inactive(8, 8));
        Assert.Equal(0, act[1].Inactive(8, 8));
        Assert.All(rep, r => Assert.Equal(30, r.AdjustSteps));
        var cos = model.Cosines(1, 8, 8);
        Assert.True(cos.Mean < 0.5, $"new neurons should not be collinear, mean cosine {cos.Mean:F3}");
    }

    private static (GrowableModel Model, InMemoryDataset Data) TrainedNet()
    {
        var model = GrowthFixtures.Mlp(21, 6, 16, 16, 3);
        var data = GrowthFixtures.Random(1000, 6, 3, 4);
        var trainer = new Trainer(model.Module, new Adam(model.Parameters(), 1e-2));
        for (int e = 0; e < 60; e++) trainer.TrainEpoch(data, new Rng((ulong)e).Permutation(data.Count), 50);
        return (model, data);
    }

    [Fact]
    public void SwePlusShrinksThenRecoversToWithinTheTolerance()
    {
        // a strong shrink (lr 1e-2 on the base decay) costs accuracy; the recovery epochs must win it back
        var shrink = SweOptions.Plus with { LearningRate = 1e-2, AdjustSteps = 20, RecoverTolerance = double.NaN };
        var (m1, data) = TrainedNet();
        double before = new Trainer(m1.Module).Evaluate(data).Accuracy;
        Assert.True(before > 0.9, $"fixture net should have learned its rule, {before:P1}");
        new SharedWeightsExtender(shrink, "shrink").Extend(new GrowthContext(m1, data, new Rng(7)), [4, 4]);
        double shrunk = new Trainer(m1.Module).Evaluate(data).Accuracy;
        Assert.True(before - shrunk > 0.02, $"the shrink alone should cost accuracy: {before:P2} → {shrunk:P2}");

        var (m2, _) = TrainedNet();
        var rep = new SharedWeightsExtender(shrink with { RecoverTolerance = 0.2, MaxRecoverEpochs = 50 }, "recover")
            .Extend(new GrowthContext(m2, data, new Rng(7)), [4, 4]);
        double recovered = new Trainer(m2.Module).Evaluate(data).Accuracy;
        Assert.True(before - recovered <= 0.002 + 1e-9, $"recovered to {recovered:P2} from {before:P2}");
        Assert.Contains(rep, r => r.AdjustSteps > 20);                 // recovery epochs ran beyond the planned steps
        Assert.Equal([20, 20], m2.Widths());
    }

    [Fact]
    public void UnknownNamesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => Extender.Create("nope"));
        Assert.Throws<ArgumentException>(() => Distributor.Create("nope"));
    }
}
