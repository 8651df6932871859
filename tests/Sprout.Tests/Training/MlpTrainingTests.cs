using Sprout.Data;
using Sprout.Kernels;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Training;

[Collection("Workers")]
public class MlpTrainingTests
{
    private static (Module Model, InMemoryDataset Train, InMemoryDataset Test, Rng Rng) Spirals(ulong seed)
    {
        var rng = new Rng(seed);
        var (x, y) = Synthetic.TwoSpirals(2000, rng.Fork("train"));
        var (xt, yt) = Synthetic.TwoSpirals(1000, rng.Fork("test"));
        var model = SequentialConfig.Mlp([2, 64, 64, 2], ActivationConfig.Relu).Build(rng.Fork("init"));
        return (model, new InMemoryDataset(x, y, 2), new InMemoryDataset(xt, yt, 2), rng);
    }

    private static EpochStats Fit(Module model, InMemoryDataset train, Rng rng, int epochs)
    {
        var trainer = new Trainer(model, new Adam(model.Parameters(), 0.01));
        var shuffle = rng.Fork("shuffle");
        EpochStats last = default;
        for (int e = 0; e < epochs; e++) last = trainer.TrainEpoch(train, shuffle.Permutation(train.Count), 32);
        return last;
    }

    [Fact]
    public void MlpLearnsTwoSpirals()
    {
        var (model, train, test, rng) = Spirals(7);
        var eval = new Trainer(model);
        double before = eval.Evaluate(test).Accuracy;
        Fit(model, train, rng, 60);
        var after = eval.Evaluate(test);
        Assert.True(before < 0.75, $"an untrained net should not already solve it ({before:P1})");
        Assert.True(after.Accuracy >= 0.97, $"test accuracy {after.Accuracy:P2} (loss {after.Loss:F4})");
    }

    [Fact]
    public void SameSeedGivesBitIdenticalWeights()
    {
        float[] Run()
        {
            var (model, train, _, rng) = Spirals(42);
            Fit(model, train, rng, 3);
            return model.Parameters().SelectMany(p => p.ToArray()).ToArray();
        }
        var a = Run();
        var b = Run();
        Assert.Equal(a, b); // exact equality, not approximate
        var (m2, t2, _, r2) = Spirals(43);
        Fit(m2, t2, r2, 3);
        Assert.NotEqual(a, m2.Parameters().SelectMany(p => p.ToArray()).ToArray());
    }

    [Fact]
    public void SameSeedSameThreadsBitIdenticalOnWideNet()
    {
        float[] Run(int threads)
        {
            int saved = Workers.Threads;
            Workers.Threads = threads;
            try
            {
                var rng = new Rng(3);
                var x = new float[512 * 784];
                rng.FillUniform(x, 0, 1);
                var y = Enumerable.Range(0, 512).Select(i => i % 10).ToArray();
                var model = SequentialConfig.Mlp([784, 300, 10], ActivationConfig.Relu).Build(rng.Fork("init"));
                new Trainer(model, new Adam(model.Parameters(), 1e-3)).TrainEpoch(new InMemoryDataset(x, y, 784), rng.Fork("s").Permutation(512), 128);
                return model.Parameters().SelectMany(p => p.ToArray()).ToArray();
            }
            finally { Workers.Threads = saved; }
        }
        Assert.Equal(Run(2), Run(2));
        Assert.Equal(Run(1), Run(2)); // the partition never changes the summation order
    }

    [Fact]
    public void WarmTrainingStepAllocatesLittle()
    {
        var rng = new Rng(9);
        int n = 64 * 40;
        var x = new float[n * 784];
        rng.FillUniform(x, 0, 1);
        var y = Enumerable.Range(0, n).Select(i => i % 10).ToArray();
        var model = SequentialConfig.Mlp([784, 120, 10], ActivationConfig.Relu).Build(rng);
        var trainer = new Trainer(model, new Adam(model.Parameters(), 1e-3));
        var data = new InMemoryDataset(x, y, 784);
        var order = rng.Permutation(n);
        trainer.TrainEpoch(data, order, 64); // warm-up: pools and JIT
        long before = GC.GetAllocatedBytesForCurrentThread();
        trainer.TrainEpoch(data, order, 64);
        long perStep = (GC.GetAllocatedBytesForCurrentThread() - before) / 40;
        Assert.True(perStep < 64 * 1024, $"{perStep} bytes allocated per warm step");
    }

    [Fact]
    public void DivergenceIsReportedNotHidden()
    {
        var (model, train, _, rng) = Spirals(5);
        var trainer = new Trainer(model, new Sgd(model.Parameters(), 1e30));
        var e = Assert.Throws<TrainingDivergedException>(() =>
        {
            for (int i = 0; i < 5; i++) trainer.TrainEpoch(train, rng.Permutation(train.Count), 32);
        });
        Assert.Contains("loss became", e.Message);
    }
}
