using System.Text.Json;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class FireflyTests
{
    private static readonly FireflyOptions SplitsOnly = new(PoolFactor: 0, BatchSize: 32);

    /// <summary>
    /// 2 → 3 → 3 → 2 MLP on x ∈ [−1, 1]², label |x₁| &gt; 0.2. Every neuron but one sits in ReLU's linear region for
    /// every sample and any small perturbation, so a split of it computes the same function and its score is exactly
    /// 0. The planted neuron (site 1, neuron 0) has zero incoming weights and bias, so every sample sits at ReLU's
    /// kink: its split into ±v outputs |v·h| (h = site 0's outputs, which hold x₁ + 2, x₂ + 2 and 1), a new feature
    /// that raises the class-1 logit through its outgoing weights.
    /// </summary>
    private static (GrowableModel Model, InMemoryDataset Data) Planted()
    {
        var m = GrowthFixtures.Mlp(1, 2, 3, 3, 2);
        var s0 = m.Sites[0];
        var s1 = m.Sites[1];
        float[] w0 = [1, 0, 0, 1, 0, 0];                 // site 0: x₁ + 2, x₂ + 2, 1
        w0.CopyTo(s0.InWeight.Span);
        float[] b0 = [2, 2, 1];
        b0.CopyTo(s0.InBias!.Span);
        float[] w1 = [0, 0, 0, 0, 0, 1, 0, 0, 1];       // site 1: n0 = relu(0) (planted), n1 = n2 = relu(1 + 1)
        w1.CopyTo(s1.InWeight.Span);
        float[] b1 = [0, 1, 1];
        b1.CopyTo(s1.InBias!.Span);
        float[] w2 = [-2, 0.1f, 0.1f, 2, -0.1f, -0.1f];
        w2.CopyTo(s1.OutWeight.Span);
        s1.OutBias!.Span[0] = 1f;
        s1.OutBias.Span[1] = 0f;
        var rng = new Rng(2);
        var x = new float[2 * 512];
        rng.FillUniform(x, -1, 1);
        var y = Enumerable.Range(0, 512).Select(i => Math.Abs(x[2 * i]) > 0.2f ? 1 : 0).ToArray();
        return (m, new InMemoryDataset(x, y, 2));
    }

    [Fact]
    public void ThePlantedSplitWinsTheGlobalSelection()
    {
        var (m, data) = Planted();
        var ctx = new GrowthContext(m, data, new Rng(3));
        var dist = (FireflyDistributor)new FireflyDistributorConfig(SplitsOnly).Build();
        var alloc = dist.Allocate(ctx, 1);
        var plan = Assert.IsType<FireflyPlan>(ctx.Plan);
        Assert.True(alloc[1] == 1, string.Join("; ", plan.Sites.Select(s => string.Join(", ", s!.SplitScores))));
        Assert.Equal([0, 1], alloc);
        Assert.Equal([0], plan.Sites[1]!.Splits);
        Assert.All(plan.Sites[0]!.SplitScores, s => Assert.Equal(0.0, s));
        Assert.Equal(0.0, plan.Sites[1]!.SplitScores[1]);
        Assert.Equal(0.0, plan.Sites[1]!.SplitScores[2]);
        Assert.True(plan.Sites[1]!.SplitScores[0] < 0, $"planted score {plan.Sites[1]!.SplitScores[0]}");
        // one epoch of 512/32 training batches, then a scoring pass over half the data (scoreFraction 0.5)
        Assert.Equal(16 + 8, dist.Passes);

        // the extender commits the distributor's plan without passes of its own: the planted neuron is split
        var before = new Trainer(m.Module).Evaluate(data).Loss;
        var ext = (FireflyExtender)new FireflyConfig(SplitsOnly).Build();
        ext.Extend(ctx, alloc);
        Assert.Equal(0, ext.Passes);
        Assert.Same(plan, ext.LastPlan);
        Assert.Equal([3, 4], m.Widths());
        var w = new float[3];
        m.Sites[1].GetIncoming(0, w);
        var c = new float[3];
        m.Sites[1].GetIncoming(3, c);
        Assert.Equal(0.0, w[0] + c[0], 5);               // parent + v and copy − v average to the old weights
        Assert.NotEqual(w[0], c[0]);
        Assert.True(new Trainer(m.Module).Evaluate(data).Loss < before, "the split lowers the loss");
    }

    [Fact]
    public void WithAnotherDistributorTheExtenderScoresEachSiteAlone()
    {
        var (m, data) = Planted();
        var ext = (FireflyExtender)new FireflyConfig(SplitsOnly).Build();
        ext.Extend(new GrowthContext(m, data, new Rng(3)), [0, 1]);
        Assert.Equal([3, 4], m.Widths());
        Assert.Equal([0], ext.LastPlan!.Sites[1]!.Splits);
        Assert.Null(ext.LastPlan.Sites[0]);            // a site growing by 0 gets no candidates
        Assert.Equal(16 + 8, ext.Passes);
    }

    [Fact]
    public void WithAnotherDistributorTheExtenderGrowsAConvNetSiteBySite()
    {
        var m = ConvGrowthTests.Backbone(22);
        var data = Images(48, 23);
        var ext = (FireflyExtender)new FireflyConfig(new FireflyOptions(CandidatesPerLayer: 4, BatchSize: 16)).Build();
        var x = Tensor.Uniform(new Rng(24), -1, 1, 6, 3, 8, 8);
        var report = ext.Extend(new GrowthContext(m, data, new Rng(25)), [2, 0, 3, 1]);
        Assert.Equal([6, 4, 9, 6], m.Widths());
        Assert.Equal([2, 0, 3, 1], report.Select(r => r.Added).ToArray());
        var plan = ext.LastPlan!;
        Assert.Null(plan.Sites[1]);
        for (int k = 0; k < 4; k++)
            if (plan.Sites[k] is { } s) Assert.Equal(4, s.NewCandidates);
        Assert.Equal(3 + 2, ext.Passes);           // 48/16 training batches + ⌈24/16⌉ scoring batches (scoreFraction 0.5)
        Assert.All(m.Logits(x), v => Assert.True(float.IsFinite(v)));
    }

    private static InMemoryDataset Images(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var xs = new float[n * 3 * 8 * 8];
        rng.FillUniform(xs, -1, 1);
        return new InMemoryDataset(xs, Enumerable.Range(0, n).Select(i => i % 3).ToArray(), 3 * 8 * 8, [3, 8, 8]);
    }

    [Fact]
    public void ZeroDirectionsAndZeroOutgoingWeightsPreserveTheConvNetsOutputs()
    {
        var m = ConvGrowthTests.Backbone(4);
        var data = Images(48, 5);
        var x = Tensor.Uniform(new Rng(6), -1, 1, 10, 3, 8, 8);
        m.Module.Train();
        using (TensorScope.Begin()) m.Forward(x);     // non-trivial BatchNorm running statistics
        var before = m.Logits(x);
        var o = new FireflyOptions(Epochs: 0, SplitInit: 0, NewOutgoingInit: 0, BatchSize: 16);
        var ctx = new GrowthContext(m, data, new Rng(7));
        var alloc = new FireflyDistributorConfig(o).Build().Allocate(ctx, 12);
        Assert.Equal(12, alloc.Sum());
        new FireflyConfig(o).Build().Extend(ctx, alloc);
        Assert.Equal(new[] { 4, 4, 6, 5 }.Zip(alloc, (a, b) => a + b).ToArray(), m.Widths());
        var after = m.Logits(x);
        for (int i = 0; i < before.Length; i++) Assert.True(Math.Abs(before[i] - after[i]) <= 1e-5 * (1 + Math.Abs(before[i])), $"logit {i}: {before[i]} vs {after[i]}");
    }

    [Fact]
    public void SplitsWithTrainedDirectionsAndNewNeuronsGrowAConvNetThatStillTrains()
    {
        var m = ConvGrowthTests.Backbone(8);
        var data = Images(64, 9);
        var ctx = new GrowthContext(m, data, new Rng(10));
        var o = new FireflyOptions(BatchSize: 16);
        var dist = (FireflyDistributor)new FireflyDistributorConfig(o).Build();
        var alloc = dist.Allocate(ctx, 8);
        var plan = dist.LastPlan!;
        Assert.All(plan.Sites, s => Assert.Equal(10, s!.NewCandidates));  // ⌈5 · 8 / 4⌉
        Assert.Equal(alloc, plan.Counts());
        new FireflyConfig(o).Build().Extend(ctx, alloc);
        Assert.Equal(new[] { 4, 4, 6, 5 }.Zip(alloc, (a, b) => a + b).ToArray(), m.Widths());
        // the committed network is the candidate network restricted to the winners: still a working classifier
        var trainer = new Trainer(m.Module, new Sprout.Optim.Adam(m.Parameters(), 1e-2));
        var order = InMemoryDataset.Identity(64);
        float first = 0, last = 0;
        for (int step = 0; step < 20; step++)
        {
            last = trainer.Step(data.Gather(order, 0, 64));
            if (step == 0) first = last;
        }
        Assert.True(float.IsFinite(last) && last < first, $"loss {first} → {last}");
    }

    /// <summary>
    /// With every candidate chosen, the committed network computes what the candidate network computed (gates off):
    /// the splits' ± directions, the copies' BatchNorm state and every new neuron's trained incoming and outgoing
    /// weights (into the consumer's old neurons, the next site's split copies and its new neurons; per H·W block after
    /// a Flatten) land where the candidate network had them.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CommittingEveryCandidateReproducesTheCandidateNetwork(bool conv)
    {
        var m = conv ? ConvGrowthTests.Backbone(15) : GrowthFixtures.Mlp(15, 6, 7, 5, 3);
        var data = conv ? Images(48, 16) : GrowthFixtures.Random(96, 6, 3, 16);
        var x = conv ? Tensor.Uniform(new Rng(17), -1, 1, 8, 3, 8, 8) : Tensor.Uniform(new Rng(17), -1, 1, 8, 6);
        if (conv)
        {
            m.Module.Train();
            using (TensorScope.Begin()) m.Forward(x);  // non-trivial BatchNorm running statistics
        }
        var ctx = new GrowthContext(m, data, new Rng(18));
        var o = new FireflyOptions(CandidatesPerLayer: 3, BatchSize: 16, LearningRate: 1e-2);
        var widths = m.Widths();
        int all = widths.Sum() + 3 * widths.Length;
        var alloc = new FireflyDistributorConfig(o).Build().Allocate(ctx, all);
        var plan = (FireflyPlan)ctx.Plan!;
        Assert.Equal(widths.Select(w => w + 3).ToArray(), alloc);
        float[] expected;
        m.Module.Eval();
        using (Sprout.Autograd.Graph.NoGrad())
        using (TensorScope.Begin())
            expected = plan.Network!.Forward(x).ToArray();
        var plain = m.Logits(x);
        Assert.Contains(Enumerable.Range(0, plain.Length), i => Math.Abs(plain[i] - expected[i]) > 1e-3);  // the candidates matter
        new FireflyConfig(o).Build().Extend(ctx, alloc);
        Assert.Equal(widths.Select(w => 2 * w + 3).ToArray(), m.Widths());
        var after = m.Logits(x);
        for (int i = 0; i < after.Length; i++)
            Assert.True(Math.Abs(after[i] - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"logit {i}: committed {after[i]} vs candidate network {expected[i]}");
    }

    [Fact]
    public void ScoresAndGrownWeightsAreDeterministicForASeed()
    {
        float[][] Grow(ulong seed, out double[] scores)
        {
            var m = GrowthFixtures.Mlp(11, 6, 8, 8, 3);
            var data = GrowthFixtures.Random(160, 6, 3, 12);
            var ctx = new GrowthContext(m, data, new Rng(seed));
            var o = new FireflyOptions(BatchSize: 32);
            var alloc = new FireflyDistributorConfig(o).Build().Allocate(ctx, 5);
            var plan = (FireflyPlan)ctx.Plan!;
            scores = plan.Sites.SelectMany(s => s!.SplitScores.Concat(s.NewScores)).ToArray();
            new FireflyConfig(o).Build().Extend(ctx, alloc);
            Assert.Equal(16 + 5, m.Widths().Sum());
            return m.CopyWeights();
        }
        var a = Grow(1, out var sa);
        var b = Grow(1, out var sb);
        Assert.Equal(sa, sb);
        Assert.Contains(sa, s => s != 0);
        GrowthFixtures.AssertBitIdentical(a, b);
        Grow(2, out var sc);
        Assert.NotEqual(sa, sc);
    }

    [Fact]
    public void TheModelIsLeftUnchangedByScoring()
    {
        var m = ConvGrowthTests.Backbone(12);
        var before = m.CopyWeights();
        new FireflyDistributorConfig(new FireflyOptions(BatchSize: 16)).Build().Allocate(new GrowthContext(m, Images(32, 13), new Rng(14)), 6);
        GrowthFixtures.AssertBitIdentical(before, m.CopyWeights());
        Assert.True(m.Module.IsTraining);
        Assert.All(m.Parameters(), p => Assert.True(p.RequiresGrad));
    }

    [Fact]
    public void ConfigsRoundTripThroughJsonAndRejectBadSettings()
    {
        var e = new FireflyConfig(FireflyOptions.Reference with { Epochs = 2, ScoreFraction = 0.5 });
        Assert.Equal(e, ExtenderConfig.FromJson(e.ToJson()));
        var d = new FireflyDistributorConfig(new FireflyOptions(PoolFactor: 3));
        Assert.Equal(d, DistributorConfig.FromJson(d.ToJson()));
        Assert.Contains("\"type\": \"firefly\"", d.ToJson());
        Assert.Equal(70, ((FireflyConfig)GrowthMethods.Extender("firefly-reference")).Options.CandidatesPerLayer);
        Assert.Equal(5, ((FireflyDistributorConfig)GrowthMethods.Distributor("firefly")).Options.PoolFactor);
        Assert.Equal(FireflyOptions.Paper, ((FireflyConfig)ExtenderConfig.FromJson("{\"type\": \"firefly\"}")).Options);
        foreach (var bad in new[]
                 {
                     new FireflyOptions(PoolFactor: -1), new FireflyOptions(CandidatesPerLayer: 1 << 20), new FireflyOptions(BatchSize: 0),
                     new FireflyOptions(LearningRate: double.NaN), new FireflyOptions(Momentum: 1), new FireflyOptions(Alpha: 0),
                     new FireflyOptions(ScoreFraction: 0), new FireflyOptions(Epochs: -1), new FireflyOptions(NewIncomingStd: double.PositiveInfinity),
                     new FireflyOptions(PoolFactor: 0, SplitCandidates: false),
                 })
        {
            var ex = Assert.Throws<ArgumentException>(() => new FireflyConfig(bad).Build());
            Assert.StartsWith("firefly: ", ex.Message);
            Assert.Throws<ArgumentException>(() => new FireflyDistributorConfig(bad).Build());
        }
    }

    [Fact]
    public void TooFewCandidatesIsRejectedWithTheReason()
    {
        var (m, data) = Planted();
        var ex = Assert.Throws<ArgumentException>(() =>
            new FireflyDistributorConfig(SplitsOnly).Build().Allocate(new GrowthContext(m, data, new Rng(3)), 7));
        Assert.Contains("only 6 candidates", ex.Message);
    }

    [Fact]
    public void ADepthwiseSiteIsRejectedWithTheReasonAndTheModelIsLeftAlone()
    {
        var (m, data, _) = GrowthFixtures.DepthwiseSite();
        var widths = m.Widths();
        var ex = Assert.Throws<ArgumentException>(() =>
            new FireflyDistributorConfig().Build().Allocate(new GrowthContext(m, data, new Rng(3)), 2));
        Assert.Contains("depthwise", ex.Message);
        Assert.Equal(widths, m.Widths());
    }

    private static GrowthRunConfig RunConfig(GrowthRunConfig baseline) => baseline with
    {
        Extender = new FireflyConfig(new FireflyOptions(BatchSize: 50)),
        Distributor = new FireflyDistributorConfig(new FireflyOptions(BatchSize: 50)),
    };

    [Fact]
    public void GrowthRunnerRunsFireflyOnAnMlp()
    {
        var train = GrowthFixtures.Spirals(400, 1);
        var val = GrowthFixtures.Spirals(100, 2);
        var cfg = RunConfig(new GrowthRunConfig([2, 8, 8, 2], GrowthSchedule.FromTotals(4, 6), InitialTraining: new StageTraining(2),
            StageTraining: new StageTraining(1), BatchSize: 50, LearningRate: 0.01, Seed: 5, DiagnosticBatch: 100));
        var stages = new List<GrowthRunReport>();
        var runner = new GrowthRunner(cfg) { StageCompleted = stages.Add };
        var report = runner.Run(train, val, val);
        Assert.Equal(2, report.Stages.Count);
        Assert.Equal(16 + 4 + 6, report.FinalWidths.Sum());
        Assert.Equal([4, 6], report.Stages.Select(s => s.Allocation.Sum()).ToArray());
        Assert.NotEmpty(stages);
        var json = JsonSerializer.Serialize(report, GrowthRunConfig.JsonOptions);
        Assert.Contains("firefly", json);
    }

    [Fact]
    public void GrowthRunnerRunsFireflyOnAConvNet()
    {
        var model = new SequentialConfig([
            new Conv2dConfig(1, 4, 3, 1, 1, Bias: false), new BatchNormConfig(4), ActivationConfig.Relu,
            new PoolConfig(PoolKind.Max, 2),
            new Conv2dConfig(4, 4, 3, 1, 1, Bias: false), new BatchNormConfig(4), ActivationConfig.Relu,
            new PoolConfig(PoolKind.Max, 2),
            new FlattenConfig(), new LinearConfig(4 * 2 * 2, 3)]);
        var rng = new Rng(21);
        InMemoryDataset Data(int n)
        {
            var xs = new float[n * 64];
            rng.FillUniform(xs, -1, 1);
            var ys = new int[n];
            for (int i = 0; i < n; i++) ys[i] = xs[i * 64 + 9] > 0.3f ? 2 : xs[i * 64 + 54] > 0 ? 1 : 0;
            return new InMemoryDataset(xs, ys, 64, [1, 8, 8]);
        }
        var train = Data(200);
        var val = Data(60);
        var cfg = RunConfig(new GrowthRunConfig([], GrowthSchedule.FromTotals(3), InitialTraining: new StageTraining(1),
            StageTraining: new StageTraining(1), BatchSize: 50, LearningRate: 0.01, Seed: 6, DiagnosticBatch: 50, Model: model, InputShape: [1, 8, 8]));
        var runner = new GrowthRunner(cfg);
        var report = runner.Run(train, val, val);
        Assert.Single(report.Stages);
        Assert.Equal(8 + 3, report.FinalWidths.Sum());
        Assert.Equal(3, report.Stages[0].Allocation.Sum());
    }
}
