using System.Text.Json;
using Sprout.Growth;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Growth;

/// <summary>
/// The options added for "Table 1, explained" (paper 000): N(0, σ²) init of random/frobenius new neurons and the
/// training optimizer of a growth run (Adam, Adam with L2 weight decay, SGD). Their defaults change nothing.
/// </summary>
[Collection("Workers")]
public class TableOneOptionsTests
{
    private static (double Std, double MaxAbs, double BiasStd) NewIncoming(ExtenderConfig ext, int count)
    {
        var model = GrowthFixtures.Mlp(4, 6, 10, 3);
        var data = GrowthFixtures.Random(50, 6, 3, 8);
        ext.Build().Extend(new GrowthContext(model, data, new Rng(3)), [count]);
        var site = model.Sites[0];
        var w = Enumerable.Range(10, count).SelectMany(j => GrowthFixtures.Incoming(site, j)).ToArray();
        var b = site.InBias!.ToArray()[10..];
        double Std(IEnumerable<float> v) { var a = v.Select(x => (double)x).ToArray(); double m = a.Average(); return Math.Sqrt(a.Sum(x => (x - m) * (x - m)) / a.Length); }
        return (Std(w), w.Max(v => Math.Abs(v)), Std(b));
    }

    [Fact]
    public void RandomNormalStdDrawsTheNewIncomingWeightsAndBiasFromNormal()
    {
        // PyTorch default: U(±1/√6) (std 0.236, never beyond the bound); N(0, 2²): std ≈ 2
        var (std, max, _) = NewIncoming(new RandomConfig(), 400);
        Assert.True(max <= 1 / Math.Sqrt(6) + 1e-6, $"max {max}");
        Assert.InRange(std, 0.22, 0.25);
        var (nstd, nmax, bstd) = NewIncoming(new RandomConfig(NormalStd: 2), 400);
        Assert.InRange(nstd, 1.9, 2.1);
        Assert.True(nmax > 1, $"max {nmax}");
        Assert.InRange(bstd, 1.6, 2.4);
    }

    [Fact]
    public void NormalOutgoingDrawsTheOutgoingWeightsFromNormalToo()
    {
        double OutStd(ExtenderConfig ext)
        {
            var model = GrowthFixtures.Mlp(4, 6, 10, 3);
            ext.Build().Extend(new GrowthContext(model, GrowthFixtures.Random(50, 6, 3, 8), new Rng(3)), [300]);
            var o = Enumerable.Range(10, 300).SelectMany(j => GrowthFixtures.Outgoing(model.Sites[0], j)).Select(v => (double)v).ToArray();
            return Math.Sqrt(o.Sum(v => v * v) / o.Length);
        }
        // consumer fan-in 310: U(±1/√310) has std 0.033
        Assert.InRange(OutStd(new RandomConfig(NormalStd: 2)), 0.02, 0.04);
        Assert.InRange(OutStd(new RandomConfig(NormalStd: 2, NormalOutgoing: true)), 1.85, 2.15);
        Assert.InRange(OutStd(new FrobeniusConfig(NormalStd: 2, NormalOutgoing: true)), 1.85, 2.15);
        var e = Assert.Throws<ArgumentException>(() => new RandomConfig(NormalOutgoing: true).Build());
        Assert.Equal("random: normalOutgoing needs normalStd", e.Message);
        Assert.DoesNotContain("normalOutgoing", new RandomConfig(NormalStd: 1).ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void FrobeniusNormalStdStillKeepsTheWeightNorm()
    {
        var model = GrowthFixtures.Mlp(4, 6, 10, 3);
        var data = GrowthFixtures.Random(50, 6, 3, 8);
        double Norm() => Math.Sqrt(model.Sites[0].InWeight.ToArray().Sum(v => (double)v * v));
        double before = Norm();
        new FrobeniusConfig(NormalStd: 1).Build().Extend(new GrowthContext(model, data, new Rng(3)), [10]);
        Assert.Equal(before, Norm(), 4);
        // the new rows dominate: drawn with std 1 on fan-in 6 they carry most of the (rescaled) norm
        var site = model.Sites[0];
        double newSq = Enumerable.Range(10, 10).SelectMany(j => GrowthFixtures.Incoming(site, j)).Sum(v => (double)v * v);
        Assert.True(newSq > 0.8 * before * before, $"new rows' share {newSq / (before * before):F2}");
    }

    [Fact]
    public void DefaultInitIsTheOldOneAndIsNotWritten()
    {
        var a = GrowthFixtures.Mlp(4, 6, 10, 3);
        var b = GrowthFixtures.Mlp(4, 6, 10, 3);
        var data = GrowthFixtures.Random(50, 6, 3, 8);
        new RandomExtender().Extend(new GrowthContext(a, data, new Rng(3)), [5]);
        GrowthMethods.Extender("random").Build().Extend(new GrowthContext(b, data, new Rng(3)), [5]);
        GrowthFixtures.AssertBitIdentical(a.CopyWeights(), b.CopyWeights());
        Assert.DoesNotContain("normalStd", new RandomConfig().ToJson(), StringComparison.Ordinal);
        Assert.DoesNotContain("normalStd", new FrobeniusConfig().ToJson(), StringComparison.Ordinal);
        var read = (RandomConfig)ExtenderConfig.FromJson("{\"type\":\"random\",\"normalStd\":1.5}");
        Assert.Equal(1.5, read.NormalStd);
        Assert.Equal(read, ExtenderConfig.FromJson(read.ToJson()));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(1e9)]
    public void BadNormalStdIsOneClearError(double std)
    {
        var e = Assert.Throws<ArgumentException>(() => new RandomConfig(std).Build());
        Assert.StartsWith("random: normalStd must be in (0, 1000]", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => new FrobeniusConfig(std).Build());
        Assert.StartsWith("frobenius: normalStd must be", e.Message, StringComparison.Ordinal);
    }

    private static GrowthRunConfig Run(TrainingOptimizer opt = TrainingOptimizer.Adam, double momentum = 0, double wd = 0) => new(
        [2, 8, 2], GrowthSchedule.FromTotals(4), GrowthMethods.Extender("random"), new FixedConfig([4]),
        new StageTraining(2), new StageTraining(1), BatchSize: 50, LearningRate: 0.01, Seed: 42, DiagnosticBatch: 100,
        Optimizer: opt, Momentum: momentum, WeightDecay: wd);

    private static float[][] Train(GrowthRunConfig cfg)
    {
        var train = GrowthFixtures.Spirals(300, 1);
        var val = GrowthFixtures.Spirals(100, 2);
        var r = new GrowthRunner(cfg);
        r.Run(train, val);
        return r.Model!.CopyWeights();
    }

    private static bool Same(float[][] a, float[][] b) => a.Length == b.Length && a.Zip(b).All(p => p.First.AsSpan().SequenceEqual(p.Second));

    [Fact]
    public void TheOptimizerChoiceChangesTraining()
    {
        var adam = Train(Run());
        Assert.True(Same(adam, Train(Run())));
        // Adam with an L2 decay of 0 is Adam
        Assert.True(Same(adam, Train(Run(TrainingOptimizer.AdamL2))));
        Assert.False(Same(adam, Train(Run(TrainingOptimizer.AdamL2, wd: 0.1))));
        // coupled L2 is not AdamW's decoupled decay
        Assert.False(Same(Train(Run(wd: 0.1)), Train(Run(TrainingOptimizer.AdamL2, wd: 0.1))));
        var sgd = Train(Run(TrainingOptimizer.Sgd));
        Assert.False(Same(adam, sgd));
        Assert.False(Same(sgd, Train(Run(TrainingOptimizer.Sgd, momentum: 0.9))));
    }

    [Fact]
    public void SgdMovesTheWeightsLessWithASmallerLearningRate()
    {
        // plain SGD's step is lr × gradient: ten times smaller a learning rate moves the weights far less in the same
        // epochs (Adam's steps would not scale so, being ≈ lr per weight whatever the gradient)
        var init = Train(Run() with { InitialTraining = new StageTraining(0), StageTraining = new StageTraining(0) });
        double Moved(float[][] w) => w.Zip(init).Where(p => p.First.Length == p.Second.Length).Sum(p => p.First.Zip(p.Second).Sum(q => Math.Abs(q.First - q.Second)));
        double sgd = Moved(Train(Run(TrainingOptimizer.Sgd) with { StageTraining = new StageTraining(0) }));
        double sgdSmall = Moved(Train(Run(TrainingOptimizer.Sgd) with { StageTraining = new StageTraining(0), LearningRate = 0.001 }));
        Assert.True(sgd > 0);
        Assert.True(sgdSmall < 0.2 * sgd, $"lr 0.001 moved {sgdSmall}, lr 0.01 moved {sgd}");
    }

    [Fact]
    public void DefaultsAreNotWrittenAndOthersRoundTrip()
    {
        string json = Run().ToJson();
        Assert.DoesNotContain("\"optimizer\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("\"momentum\"", json, StringComparison.Ordinal);
        var sgd = Run(TrainingOptimizer.Sgd, momentum: 0.9);
        var back = GrowthRunConfig.FromJson(sgd.ToJson());
        Assert.Equal(TrainingOptimizer.Sgd, back.Optimizer);
        Assert.Equal(0.9, back.Momentum);
    }

    [Theory]
    [InlineData(TrainingOptimizer.Adam, 0.5, "momentum is an SGD setting")]
    [InlineData(TrainingOptimizer.Sgd, 1.0, "momentum must be in [0, 1)")]
    [InlineData(TrainingOptimizer.Sgd, -0.1, "momentum must be in [0, 1)")]
    [InlineData((TrainingOptimizer)7, 0.0, "unknown optimizer 7")]
    public void BadOptimizerSettingsAreOneClearError(TrainingOptimizer opt, double momentum, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Run(opt, momentum).Validate());
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }
}
