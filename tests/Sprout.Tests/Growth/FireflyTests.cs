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

    [Fact]
    public void WithAnotherDistributorTheExtenderGrowsADepthwiseSite()
    {
        var (m, data, counts) = GrowthFixtures.DepthwiseSite();
        var widths = m.Widths();
        int k = Array.IndexOf(counts, 2);
        var ext = (FireflyExtender)new FireflyConfig(new FireflyOptions(CandidatesPerLayer: 4, BatchSize: 4)).Build();
        ext.Extend(new GrowthContext(m, data, new Rng(26)), counts);
        Assert.Equal(widths.Select((w, i) => w + counts[i]).ToArray(), m.Widths());
        Assert.Equal(4, ext.LastPlan!.Sites[k]!.NewCandidates);
        Assert.Equal(widths[k] + 2, ((DepthwiseRole)m.Module.Layers[m.ProducerLayer(k) + 3].GrowthRole).Weight.Dim(0));
        Assert.All(m.Logits(Tensor.Uniform(new Rng(27), -1, 1, 4, 3, 8, 8)), v => Assert.True(float.IsFinite(v)));
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

    // the fixtures: "mlp", "mlp-bn-after-act" (Linear → ReLU → BatchNorm → Linear: the BatchNorm sits between the
    // activation and the consumer), "conv" (conv → conv, conv → Flatten → Linear, max pooling), "depthwise" (two sites that grow a
    // depthwise conv with them, one with a strided depthwise conv, one with a depthwise bias) and "mobilenet" (MobileNetV1
    // at width 4, 32×32 inputs: 13 depthwise sites); BatchNorms with non-trivial running statistics, γ and β
    private static (GrowableModel Model, InMemoryDataset Data, Tensor X) Net(string net, ulong seed)
    {
        if (net == "mlp")
            return (GrowthFixtures.Mlp(seed, 6, 7, 5, 3), GrowthFixtures.Random(96, 6, 3, seed + 1), Tensor.Uniform(new Rng(seed + 2), -1, 1, 8, 6));
        if (net == "conv")
        {
            var c = ConvGrowthTests.Backbone(seed);
            var xc = Tensor.Uniform(new Rng(seed + 2), -1, 1, 8, 3, 8, 8);
            c.Module.Train();
            using (TensorScope.Begin()) c.Forward(xc);
            return (c, Images(48, seed + 1), xc);
        }
        if (net == "mlp-bn-after-act")
        {
            var b = new GrowableModel((Sequential)new SequentialConfig([
                new LinearConfig(6, 7), ActivationConfig.Relu, new BatchNormConfig(7),
                new LinearConfig(7, 5), ActivationConfig.Relu, new BatchNormConfig(5), new LinearConfig(5, 3)]).Build(new Rng(seed)));
            var bd = GrowthFixtures.Random(96, 6, 3, seed + 1);
            GradMaxConvTests.Warm(b, bd, seed + 3);
            b.Module.Train();
            return (b, bd, Tensor.Uniform(new Rng(seed + 2), -1, 1, 8, 6));
        }
        var cfg = net == "mobilenet" ? Models.MobileNetV1(4) : GradMaxConvTests.DepthwiseNet();
        int[] shape = net == "mobilenet" ? [3, 32, 32] : [3, 8, 8];
        var data = GradMaxConvTests.TeacherData(cfg, net == "mobilenet" ? 32 : 48, shape, seed + 1);
        var m = new GrowableModel((Sequential)cfg.Build(new Rng(seed)));
        GradMaxConvTests.Warm(m, data, seed + 3);
        m.Module.Train();
        return (m, data, Tensor.Uniform(new Rng(seed + 2), -1, 1, [8, .. shape]));
    }

    private static void AssertClose(float[] expected, float[] actual, double rel, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= rel * (1 + Math.Abs(expected[i])), $"logit {i}: {what} {actual[i]} vs {expected[i]}");
    }

    /// <summary>
    /// With every candidate chosen, the committed network computes what the candidate network computed (gates off):
    /// the splits' ± directions, the copies' BatchNorm state and every new neuron's trained incoming and outgoing
    /// weights (into the consumer's old neurons, the next site's split copies and its new neurons; per H·W block after
    /// a Flatten) land where the candidate network had them. Through a depthwise conv, each ± path passes its own copy
    /// of the parent's filter and second BatchNorm, and each new candidate a Dirac filter and an identity BatchNorm.
    /// </summary>
    [Theory]
    [InlineData("mlp")]
    [InlineData("mlp-bn-after-act")]
    [InlineData("conv")]
    [InlineData("depthwise")]
    [InlineData("mobilenet")]
    public void CommittingEveryCandidateReproducesTheCandidateNetwork(string net)
    {
        var (m, data, x) = Net(net, 15);
        var ctx = new GrowthContext(m, data, new Rng(18));
        var o = new FireflyOptions(CandidatesPerLayer: 3, BatchSize: 16, LearningRate: 1e-2);
        var widths = m.Widths();
        var tied = m.Sites.Select(s => s.Tied.Select(t => t.Tensor.ToArray()).ToArray()).ToArray();
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
        AssertClose(expected, m.Logits(x), 1e-5, "committed vs candidate network");
        // the depthwise filter, bias and second BatchNorm: old channels keep theirs (not trained), split copies (order
        // [old | copies | new]) take their parent's, new channels a new channel's entry (Dirac filter, identity BatchNorm)
        for (int k = 0; k < m.Sites.Count; k++)
            for (int t = 0; t < tied[k].Length; t++)
            {
                var before = tied[k][t];
                var now = m.Sites[k].Tied[t].Tensor.ToArray();
                int w = widths[k], e = before.Length / w;
                Assert.Equal(before, now[..before.Length]);
                Assert.Equal(before, now[before.Length..(2 * before.Length)]);
                for (int j = 2 * w; j < 2 * w + 3; j++)
                    Assert.Equal(m.Sites[k].Tied[t].NewEntry, now[(j * e)..((j + 1) * e)]);
            }
        Assert.Equal(net is "depthwise" or "mobilenet", tied.Any(t => t.Length > 0));
    }

    /// <summary>
    /// Firefly's promise at insertion: splits with zero directions (outgoing weights halved) and new neurons with zero
    /// outgoing weights leave the outputs unchanged — on MobileNetV1 too, where each split copy takes its parent's
    /// depthwise filter and BatchNorm and each new channel a Dirac filter and an identity BatchNorm.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ZeroDirectionsAndZeroOutgoingWeightsPreserveMobileNetV1sOutputs(bool splits)
    {
        var (m, data, x) = Net("mobilenet", 30);
        var before = m.Logits(x);
        var o = new FireflyOptions(SplitCandidates: splits, CandidatesPerLayer: splits ? 0 : 2, Epochs: 0, SplitInit: 0, NewOutgoingInit: 0, BatchSize: 16);
        var ctx = new GrowthContext(m, data, new Rng(31));
        var widths = m.Widths();
        var alloc = new FireflyDistributorConfig(o).Build().Allocate(ctx, 20);
        Assert.Equal(20, alloc.Sum());
        // every score is 0 (zero directions, zero outgoing weights): ties go to the lower site, splits before new
        // candidates, so with splits sites 0 and 1 take 4 splits each, site 0 its 8 new candidates and site 1 four
        var plan = (FireflyPlan)ctx.Plan!;
        Assert.All(plan.Sites, s => Assert.All(s!.SplitScores.Concat(s.NewScores), v => Assert.Equal(0.0, v)));
        Assert.Equal(splits ? [4, 4] : [0, 0], plan.Sites.Take(2).Select(s => s!.Splits.Length).ToArray());
        Assert.Equal(splits ? 12 : 20, plan.Sites.Sum(s => s!.News.Length));
        new FireflyConfig(o).Build().Extend(ctx, alloc);
        Assert.Equal(widths.Zip(alloc, (a, b) => a + b).ToArray(), m.Widths());
        AssertClose(before, m.Logits(x), 1e-5, "after vs before growth");
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

    [Theory]
    [InlineData("conv")]
    [InlineData("depthwise")]
    public void TheModelIsLeftUnchangedByScoring(string net)
    {
        var (m, data, _) = Net(net, 12);
        var before = m.CopyWeights();
        new FireflyDistributorConfig(new FireflyOptions(BatchSize: 16)).Build().Allocate(new GrowthContext(m, data, new Rng(14)), 6);
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

    /// <summary>
    /// MobileNetV1 (width 4, 32×32 inputs) grows with Firefly's extender and distributor end to end: global selection over
    /// its 14 sites, the depthwise convs grow with their producers. With zero directions and zero outgoing weights
    /// (no candidate training) the insertion keeps the function; with Firefly's defaults the trained directions and
    /// outgoing weights change it, as Firefly intends.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GrowthRunnerRunsFireflyOnMobileNetV1(bool preserving)
    {
        var cfg = Models.MobileNetV1(4);
        var rng = new Rng(41);
        InMemoryDataset Data(int n)
        {
            var xs = new float[n * 3 * 32 * 32];
            rng.FillUniform(xs, -1, 1);
            var ys = new int[n];
            for (int i = 0; i < n; i++) ys[i] = xs[i * 3072 + 5 * 32 + 5] > 0.3f ? 2 : xs[i * 3072 + 1024 + 20 * 32 + 20] > 0 ? 1 : 0;
            return new InMemoryDataset(xs, ys, 3072, [3, 32, 32]);
        }
        var train = Data(64);
        var val = Data(32);
        var o = preserving ? new FireflyOptions(Epochs: 0, SplitInit: 0, NewOutgoingInit: 0, BatchSize: 32) : new FireflyOptions(BatchSize: 32);
        var run = new GrowthRunConfig([], GrowthSchedule.FromTotals(6, 6), new FireflyConfig(o), new FireflyDistributorConfig(o),
            new StageTraining(1), new StageTraining(1), BatchSize: 32, LearningRate: 0.01, Seed: 8, DiagnosticBatch: 32,
            Model: cfg, InputShape: [3, 32, 32]);
        var runner = new GrowthRunner(run);
        var report = runner.Run(train, val, val);
        Assert.Equal(2, report.Stages.Count);
        Assert.Equal(14 * 4 + 12, report.FinalWidths.Sum());
        Assert.All(report.Stages, s => Assert.Equal(6, s.Allocation.Sum()));
        var widths = runner.Model!.Widths();
        var dws = runner.Model.Module.Layers.OfType<Conv2d>().Where(c => c.Groups > 1).ToArray();
        Assert.Equal(13, dws.Length);
        for (int k = 0; k < 13; k++) Assert.Equal(widths[k], dws[k].OutChannels);
        Assert.True(double.IsFinite(report.Stages[^1].ValLossEnd));
        if (preserving)
            Assert.All(report.Stages, s => Assert.True(s.MaxOutputChange < 1e-5, $"output change {s.MaxOutputChange} at insertion"));
        else
            Assert.All(report.Stages, s => Assert.True(s.MaxOutputChange > 1e-5, $"output change {s.MaxOutputChange} at insertion"));
    }
}
