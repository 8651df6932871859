using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

/// <summary>The measurement passes every growth method shares: which batches, and the model's mode around them.</summary>
public class BatchPassesTests
{
    [Theory]
    [InlineData(10, 3, 3, 3)]    // 3 full batches of 3 (9 samples), capped by the batch count
    [InlineData(10, 9, 3, 4)]    // all 10 samples: 3, 3, 3 and a short 1
    [InlineData(10, 9, 20, 1)]   // one short batch of 10
    public void TakesBatchesInTheGivenOrderUpToTheCap(int samples, int batches, int size, int expected)
    {
        var x = Enumerable.Range(0, samples).Select(i => (float)i).ToArray();
        var data = new InMemoryDataset(x, Enumerable.Range(0, samples).ToArray(), 1);
        var order = new Rng(3).Permutation(samples);
        var seen = new List<int>();
        int count = 0;
        foreach (var b in BatchPasses.Take(data, order, batches, size))
        {
            count++;
            Assert.True(b.Rows <= size);
            seen.AddRange(b.Labels.Take(b.Rows));
        }
        Assert.Equal(expected, count);
        Assert.Equal(BatchPasses.Count(samples, batches, size), count);
        Assert.Equal(order.Take(Math.Min(samples, batches * size)), seen);   // without replacement, in order
    }

    [Fact]
    public void MeasuringPutsTheModelInEvalModeAndRestoresItWithoutGradients()
    {
        var lin = new Linear(new LinearConfig(2, 2), new Rng(1));
        var m = new Sequential(lin);
        m.Train();
        using (BatchPasses.Measuring(m))
        {
            Assert.False(m.IsTraining);
            using var scope = TensorScope.Begin();
            Sprout.Autograd.Ops.Sum(m.Forward(new Tensor([1f, 2f], 1, 2))).Backward();
            Assert.NotNull(lin.Weight.Grad);
        }
        Assert.True(m.IsTraining);
        Assert.Null(lin.Weight.Grad);
        m.Eval();
        using (BatchPasses.Measuring(m)) { }
        Assert.False(m.IsTraining);   // a model in eval mode stays there
    }
}
