using Sprout.Growth;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

/// <summary>A depthwise conv (and its BatchNorm) grows with its producer, so MobileNetV1 can grow.</summary>
[Collection("Workers")]
public class DepthwiseGrowthTests
{
    private static (GrowableModel Model, InMemoryDataset Data, int[] Shape) Setup(string net, ulong seed)
    {
        var cfg = net == "mobilenet" ? Models.MobileNetV1(8) : GradMaxConvTests.DepthwiseNet();
        int[] shape = net == "mobilenet" ? [3, 32, 32] : [3, 8, 8];
        var data = GradMaxConvTests.TeacherData(cfg, 8, shape, seed);
        var m = new GrowableModel((Sequential)cfg.Build(new Rng(seed + 1)));
        // non-trivial BatchNorm state: running statistics close to the data's, random γ and β
        m.Module.Train();
        var x = Input(data);
        for (int k = 0; k < 30; k++)
            using (TensorScope.Begin()) m.Forward(x);
        var rng = new Rng(seed + 2);
        foreach (var bn in m.Module.Layers.OfType<BatchNorm>())
        {
            rng.FillUniform(bn.Gamma!.Span, 0.5f, 1.5f);
            rng.FillUniform(bn.Beta!.Span, -0.2f, 0.2f);
        }
        m.Module.Eval();
        return (m, data, shape);
    }

    private static Tensor Input(InMemoryDataset data)
    {
        var b = data.Gather(InMemoryDataset.Identity(data.Count), 0, data.Count).X;
        return new Tensor(b.ToArray(), b.ShapeArray());
    }

    private static void AssertSameOutputs(float[] before, float[] after, double rel)
    {
        Assert.Equal(before.Length, after.Length);
        double scale = before.Max(v => Math.Abs(v));
        double mean = before.Average(v => (double)v), spread = before.Max(v => Math.Abs(v - mean));
        Assert.True(spread > 1e-3, "the outputs do not depend on the input: the test would prove little");
        for (int i = 0; i < before.Length; i++)
            Assert.True(Math.Abs(before[i] - after[i]) <= rel * scale, $"output {i}: {before[i]:R} vs {after[i]:R}");
    }

    private static int[] Counts(GrowableModel m, int each) => m.Sites.Select((_, i) => i % 3 == 2 ? 0 : each).ToArray();

    [Fact]
    public void MobileNetV1HasOneSitePerBlockWithTheDepthwiseConvTied()
    {
        var m = new GrowableModel((Sequential)Models.MobileNetV1(8).Build(new Rng(1)));
        Assert.Equal(14, m.Sites.Count);                    // the first conv and 13 pointwise convs
        for (int s = 0; s < 13; s++)
        {
            Assert.NotNull(m.Sites[s].Norm);
            Assert.Equal(5, m.Sites[s].Tied.Count);         // depthwise filter [C, 1, 3, 3] and its BatchNorm's four tensors
            Assert.Equal([8, 1, 3, 3], m.Sites[s].Tied[0].Tensor.ShapeArray());
        }
        Assert.Empty(m.Sites[13].Tied);                     // the last pointwise conv feeds the classifier
    }

    [Theory]
    [InlineData("mobilenet")]
    [InlineData("small")]
    public void Net2NetWideningThroughADepthwiseConvPreservesOutputsWithBatchNormInEvalMode(string net)
    {
        var (m, data, _) = Setup(net, 10);
        var x = Input(data);
        var before = m.Logits(x);
        Extender.Create("net2net").Extend(new GrowthContext(m, data, new Rng(3)), Counts(m, 3));
        var after = m.Logits(x);
        AssertSameOutputs(before, after, 1e-5);
        // each copy took its source's depthwise filter and BatchNorm entries
        var site = m.Sites[0];
        var dw = site.Tied[0].Tensor.ToArray();
        int first = site.Width - 3;
        for (int j = first; j < site.Width; j++)
        {
            var wj = new float[site.FanIn];
            site.GetIncoming(j, wj);
            int src = Enumerable.Range(0, first).Single(i =>
            {
                var wi = new float[site.FanIn];
                site.GetIncoming(i, wi);
                return wi.SequenceEqual(wj);
            });
            Assert.Equal(dw.AsSpan(src * 9, 9).ToArray(), dw.AsSpan(j * 9, 9).ToArray());
            for (int t = 1; t < site.Tied.Count; t++) Assert.Equal(site.Tied[t].Tensor.Span[src], site.Tied[t].Tensor.Span[j]);
        }
    }

    [Theory]
    [InlineData("mobilenet", "kaiming")]
    [InlineData("mobilenet", "gradmax")]
    [InlineData("small", "kaiming")]
    [InlineData("small", "gradmax")]
    public void ZeroOutgoingExtendersLeaveTheFunctionUnchanged(string net, string extender)
    {
        var (m, data, _) = Setup(net, 20);
        var x = Input(data);
        var before = m.Logits(x);
        Extender.Create(extender).Extend(new GrowthContext(m, data, new Rng(4)), Counts(m, 2));
        var after = m.Logits(x);
        AssertSameOutputs(before, after, 1e-6);
        // a fresh channel's depthwise filter is a Dirac (centre tap 1) and its BatchNorm the identity
        var site = m.Sites[0];
        int j = site.Width - 1;
        Assert.Equal([0, 0, 0, 0, 1, 0, 0, 0, 0], site.Tied[0].Tensor.ToArray()[(j * 9)..(j * 9 + 9)]);
        Assert.Equal([1f, 0f, 0f, 1f], site.Tied.Skip(1).Select(t => t.Tensor.Span[j]).ToArray());
    }

    [Fact]
    public void AZeroOffsetSplitThroughADepthwiseConvPreservesOutputsAndCopiesTheFilter()
    {
        var (m, data, _) = Setup("small", 30);
        var x = Input(data);
        var before = m.Logits(x);
        var site = m.Sites[1];
        int first = site.Split([0, 3], []);
        var after = m.Logits(x);
        AssertSameOutputs(before, after, 1e-5);
        var dw = site.Tied[0].Tensor.ToArray();
        Assert.Equal(dw[..9], dw[(first * 9)..(first * 9 + 9)]);
        Assert.Equal(dw[27..36], dw[((first + 1) * 9)..((first + 1) * 9 + 9)]);
        Assert.Equal(site.Tied[1].Tensor.Span[3], site.Tied[1].Tensor.Span[first + 1]);   // depthwise bias
    }

    [Theory]
    [InlineData("random")]
    [InlineData("swe")]
    public void OtherExtendersGrowTheDepthwiseSitesAndTheNetKeepsTraining(string extender)
    {
        var (m, data, _) = Setup("small", 40);
        var ext = extender == "swe" ? new SweConfig(SweOptions.Reference with { AdjustSteps = 5 }) { Name = extender } : GrowthMethods.Extender(extender);
        ext.Build().Extend(new GrowthContext(m, data, new Rng(5)), [2, 2, 1]);
        Assert.Equal([8, 10, 6], m.Widths());
        Assert.Equal([10, 1, 3, 3], m.Module.Layers[9].GrowthRole is DepthwiseRole d ? d.Weight.ShapeArray() : []);
        var trainer = new Trainer(m.Module, new Adam(m.Parameters(), 1e-2));
        var order = InMemoryDataset.Identity(data.Count);
        float first = 0, last = 0;
        for (int step = 0; step < 20; step++)
        {
            last = trainer.Step(data.Gather(order, 0, data.Count));
            if (step == 0) first = last;
        }
        Assert.True(float.IsFinite(last) && last < first, $"loss {first} → {last}");
    }

    [Fact]
    public void AGrownMobileNetRoundTripsThroughACheckpoint()
    {
        var (m, data, _) = Setup("mobilenet", 50);
        Extender.Create("net2net").Extend(new GrowthContext(m, data, new Rng(6)), Counts(m, 2));
        Extender.Create("gradmax").Extend(new GrowthContext(m, data, new Rng(7)), Counts(m, 1));
        var x = Input(data);
        var expected = m.Logits(x);
        string dir = Path.Combine(Path.GetTempPath(), "sprout-dw-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "grown.safetensors");
            new CheckpointFile().AddModule("model.", m.Module).Save(path);
            var loaded = CheckpointFile.Load(path);
            // the checkpoint alone rebuilds the grown network (depthwise groups at the grown width)
            var rebuilt = new GrowableModel((Sequential)loaded.BuildModule("model."));
            Assert.Equal(m.Widths(), rebuilt.Widths());
            Assert.Equal(expected, rebuilt.Logits(x));
            // and it loads into a fresh network of the original widths (as a resumed run does)
            var fresh = (Sequential)Models.MobileNetV1(8).Build(new Rng(99));
            loaded.LoadModule("model.", fresh);
            Assert.Equal(expected, new GrowableModel(fresh).Logits(x));
            Assert.Contains(fresh.Layers.OfType<Conv2d>(), c => c.Groups == 11 && c.InChannels == 11 && c.OutChannels == 11);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("gradmax")]
    [InlineData("net2net")]
    public void AGrowthRunOnADepthwiseSeparableNetRunsEndToEnd(string extender)
    {
        var cfg = GradMaxConvTests.DepthwiseNet();
        var train = GradMaxConvTests.TeacherData(cfg, 96, [3, 8, 8], 61);
        var val = GradMaxConvTests.TeacherData(cfg, 32, [3, 8, 8], 62);
        var run = new GrowthRunConfig([], GrowthSchedule.FromPercent(50, 2), GrowthMethods.Extender(extender), GrowthMethods.Distributor("ras"),
            new StageTraining(1), new StageTraining(1), BatchSize: 32, LearningRate: 0.01, Seed: 7, DiagnosticBatch: 32,
            Model: cfg, InputShape: [3, 8, 8]);
        var runner = new GrowthRunner(run);
        var report = runner.Run(train, val, val);
        Assert.Equal(2, report.Stages.Count);
        Assert.True(report.FinalWidths.Sum() > 6 + 8 + 5);
        var widths = runner.Model!.Widths();
        var dws = runner.Model.Module.Layers.OfType<Conv2d>().Where(c => c.Groups > 1).ToArray();
        Assert.Equal(widths[0], dws[0].OutChannels);
        Assert.Equal(widths[1], dws[1].OutChannels);
        Assert.True(double.IsFinite(report.Stages[^1].ValLossEnd));
        Assert.All(report.Stages, s => Assert.True(s.MaxOutputChange < 1e-4, $"output change {s.MaxOutputChange} at insertion"));
    }
}
