using Sprout.Diagnostics;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Tests.Growth;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Diagnostics;

/// <summary>Inactive neurons, and the one pass that measures them together with the loss and accuracy.</summary>
[Collection("Workers")]
public class NeuronActivityTests
{
    [Fact]
    public void AUnitWithZeroWeightsAndANegativeBiasIsInactiveAndTheOthersAreActive()
    {
        var lin = new Linear(new LinearConfig(4, 3), new Rng(1));
        lin.Weight.Span.Slice(4, 4).Clear();      // unit 1: no input
        lin.Bias!.Span[1] = -1f;                   // … and a negative bias: ReLU keeps it at 0 on every sample
        lin.Bias.Span[0] = 5f;                     // unit 0: always positive on inputs in [-1, 1]
        var seq = new Sequential(lin, new Activation(ActivationConfig.Relu), new Linear(new LinearConfig(3, 2), new Rng(2)));
        var data = Data(37, 4, 3);
        var act = NeuronActivity.Measure(seq, [1], data, ["h"], batchSize: 10);
        Assert.Equal("h", act[0].Layer);
        Assert.False(act[0].Active[1]);
        Assert.True(act[0].Active[0]);
        Assert.Equal(1, act[0].InactiveAll);
    }

    [Theory]
    [InlineData("backbone", 7)]
    [InlineData("backbone", 1000)]
    [InlineData("depthwise", 5)]
    public void MeasuringWithTheLossGivesExactlyTheEvaluationAndTheActivityOfTwoSeparatePasses(string net, int batchSize)
    {
        GrowableModel m;
        InMemoryDataset data;
        if (net == "backbone")
        {
            m = ConvGrowthTests.Backbone(3);
            data = Data(23, 3 * 8 * 8, 3, [3, 8, 8]);
        }
        else
        {
            var cfg = GradMaxConvTests.DepthwiseNet();
            data = GradMaxConvTests.TeacherData(cfg, 23, [3, 8, 8], 4);
            m = new GrowableModel((Sequential)cfg.Build(new Rng(5)));
        }
        GradMaxConvTests.Warm(m, data, 9);     // BatchNorm with real running statistics: eval mode matters
        m.Module.Train();                       // the pass must switch to eval and back
        var expected = new Trainer(m.Module, optimizer: null, Loss.CrossEntropy).Evaluate(data, batchSize);
        var expectedActivity = m.Activity(data, batchSize);
        var activity = m.Activity(data, Loss.CrossEntropy, out var stats, batchSize);
        Assert.True(m.Module.IsTraining);
        Assert.Equal(expected.LossSum, stats.LossSum);     // bit for bit: the same batches through the same (fused) steps
        Assert.Equal(expected.Correct, stats.Correct);
        Assert.Equal(data.Count, stats.Samples);
        Assert.Equal(expectedActivity.Length, activity.Length);
        for (int k = 0; k < activity.Length; k++) Assert.Equal(expectedActivity[k].Active, activity[k].Active);
        Assert.Contains(activity, a => a.InactiveAll < a.Width);
    }

    [Fact]
    public void AMeasuredBatchNormInsideAFusedBatchNormReluPairIsMeasuredBeforeTheRelu()
    {
        // BatchNorm + ReLU run fused in Sequential.Forward; measuring the BatchNorm's own output must not see the ReLU
        var bn = new BatchNorm(new BatchNormConfig(3));
        var seq = new Sequential(new Linear(new LinearConfig(2, 3), new Rng(1)), bn, new Activation(ActivationConfig.Relu), new Linear(new LinearConfig(3, 2), new Rng(2)));
        bn.Beta!.Span.Fill(-100f);              // every BatchNorm output negative: after the ReLU every unit is 0
        var data = Data(11, 2, 2);
        var act = NeuronActivity.MeasureWithLoss(seq, [1, 2], data, Loss.CrossEntropy, out var stats, batchSize: 4);
        Assert.Equal(0, act[0].InactiveAll);    // the BatchNorm's outputs are non-zero
        Assert.Equal(3, act[1].InactiveAll);    // the ReLU's are all zero
        var expected = new Trainer(seq, optimizer: null, Loss.CrossEntropy).Evaluate(data, 4);
        Assert.Equal(expected.LossSum, stats.LossSum);
    }

    [Fact]
    public void BadArgumentsAreRejectedWithAReason()
    {
        var seq = new Sequential(new Linear(new LinearConfig(2, 3), new Rng(1)), new Activation(ActivationConfig.Relu));
        var data = Data(5, 2, 2);
        Assert.Contains("increasing", Assert.Throws<ArgumentException>(() => NeuronActivity.Measure(seq, [1, 0], data)).Message);
        Assert.Contains("positive", Assert.Throws<ArgumentException>(() => NeuronActivity.MeasureWithLoss(seq, [1], data, Loss.CrossEntropy, out _, batchSize: 0)).Message);
        Assert.Contains("names", Assert.Throws<ArgumentException>(() => NeuronActivity.Measure(seq, [1], data, ["a", "b"])).Message);
    }

    private static InMemoryDataset Data(int n, int features, int classes, int[]? shape = null)
    {
        var rng = new Rng(42);
        var x = new float[n * features];
        rng.FillUniform(x, -1, 1);
        var y = Enumerable.Range(0, n).Select(i => i % classes).ToArray();
        return new InMemoryDataset(x, y, features, shape ?? [features]);
    }
}
