using Sprout.Diagnostics;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Diagnostics;

/// <summary>Activation statistics (paper 004's Figures 7–11) against a direct computation, and their recorder on a trainer.</summary>
[Collection("Workers")]
public class ActivationStatsTests
{
    // conv 3×3 (2 → 3, pad 1) → ReLU → max-pool 2 → flatten → Linear 12 → 4 → WIB-ReLU (post-ReLU batch mean)
    private static Sequential Net(ulong seed) => (Sequential)new SequentialConfig([
        new Conv2dConfig(2, 3, 3, 1, 1), ActivationConfig.Relu, new PoolConfig(PoolKind.Max, 2), new FlattenConfig(),
        new LinearConfig(12, 4), new ActivationConfig(ActivationKind.WibRelu, Wib: WibVariant.PostMean)]).Build(new Rng(seed));

    [Fact]
    public void MeanStdAndTheNearZeroShareEqualADirectComputation()
    {
        var model = Net(3);
        // a dead conv channel: zero weights and a negative bias, so its ReLU output is 0 for every sample and position
        var conv = (Conv2d)model.Layers[0];
        conv.Weight.Span.Slice(18, 18).Clear();
        conv.Bias!.Span[1] = -1;
        var x = Tensor.Normal(new Rng(9), 0, 1, 7, 2, 4, 4);
        var stats = ActivationStats.Measure(model, x, [1, 5], 0.05, ["conv1", "fc1"]);

        // direct: the layers' outputs by plain forwards, then the statistics by their definitions in double precision
        var h1 = model.Layers[1].Forward(model.Layers[0].Forward(x)).ToArray();
        var h2 = model.Layers[5].Forward(model.Layers[4].Forward(model.Layers[3].Forward(model.Layers[2].Forward(
            new Tensor(h1, 7, 3, 4, 4))))).ToArray();
        foreach (var (got, h, units, name) in new[] { (stats[0], h1, 48, "conv1"), (stats[1], h2, 4, "fc1") })
        {
            Assert.Equal(name, got.Layer);
            Assert.Equal(units, got.Units);
            double mean = h.Average(v => (double)v);
            double std = Math.Sqrt(h.Average(v => (v - mean) * (v - mean)));
            Assert.Equal(mean, got.Mean, 6);
            Assert.Equal(std, got.Std, 6);
            int flat = 0;
            for (int u = 0; u < units; u++)
            {
                var col = Enumerable.Range(0, 7).Select(r => (double)h[r * units + u]).ToArray();
                double m = col.Average();
                if (Math.Sqrt(col.Average(v => (v - m) * (v - m))) < 0.05) flat++;
            }
            Assert.Equal((double)flat / units, got.NearZeroStdShare, 12);
        }
        // the dead channel's 16 positions are among the flat units; WIB-ReLU's outputs average to 0 over the batch
        Assert.True(stats[0].NearZeroStdShare >= 16.0 / 48);
        Assert.Equal(0, stats[1].Mean, 5);
        // a threshold of 0 counts nothing; the model is back in training mode and unchanged
        Assert.Equal(0, ActivationStats.Measure(model, x, [1], 0)[0].NearZeroStdShare);
        Assert.True(model.IsTraining);
    }

    [Fact]
    public void TheRecorderMeasuresBeforeTheFirstStepAfterEveryEarlyStepAndThenEveryKth()
    {
        var model = Net(4);
        var rng = new Rng(5);
        var x = new float[40 * 32];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.Normal();
        var data = new InMemoryDataset(x, Enumerable.Range(0, 40).Select(i => i % 4).ToArray(), 32, [2, 4, 4]);
        var probe = new Tensor(x.AsSpan(0, 8 * 32).ToArray(), 8, 2, 4, 4);
        var initial = ActivationStats.Measure(model, probe, [1, 5], 0.05, ["conv1", "fc1"]);
        var rec = new ActivationStatsRecorder(probe, [1, 5], ["conv1", "fc1"], everyStepUntil: 3, thenEvery: 4);
        var trainer = new Trainer(model, new Adam(model.Parameters(), 1e-2)).Add(rec);
        trainer.Fit(data, new Rng(1), batchSize: 10, epochs: 3);   // 4 steps per epoch, 12 in all
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 8, 12 }, rec.Records.Select(r => r.Step));
        Assert.Equal(initial, rec.Records[0].Layers);
        // the last record is the trained model's statistics
        Assert.Equal(ActivationStats.Measure(model, probe, [1, 5], 0.05, ["conv1", "fc1"]), rec.Records[^1].Layers);
        Assert.NotEqual(initial[0].Std, rec.Records[^1].Layers[0].Std);
    }
}
