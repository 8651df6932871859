using Sprout.Data;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Training;

/// <summary>
/// The data-parallel <see cref="Trainer"/> with BatchNorm, in one process: ranks as threads over an in-memory
/// communicator (the MPI runs are in ClusterTests), and the refusal of a batch that leaves a rank without rows.
/// </summary>
[Collection("Workers")]
public class DataParallelBatchNormTests
{
    private static readonly SequentialConfig BnMlp = new([
        new LinearConfig(2, 12, Bias: false), new BatchNormConfig(12), ActivationConfig.Relu,
        new LinearConfig(12, 12, Bias: false), new BatchNormConfig(12), ActivationConfig.Relu, new LinearConfig(12, 2)]);

    private static InMemoryDataset Spirals(int n)
    {
        var (x, y) = Synthetic.TwoSpirals(n, new Rng(11));
        return new InMemoryDataset(x, y, 2);
    }

    // two epochs over the same permutations; returns the trained model
    private static Module Train(InMemoryDataset data, int batch, ICommunicator? comm)
    {
        var model = BnMlp.Build(new Rng(3));
        var trainer = new Trainer(model, new Adam(model.Parameters(), 0.01)) { Communicator = comm };
        var shuffle = new Rng(4);
        for (int e = 0; e < 2; e++) trainer.TrainEpoch(data, shuffle.Permutation(data.Count), batch);
        // the synchronisation lasts one step: after it the model runs on its own (nothing here enters a collective)
        Assert.All(model.NamedModules().Select(m => m.Module).OfType<BatchNorm>(), bn => Assert.Null(bn.Sync));
        return model;
    }

    private static float[][] State(Module m) =>
        m.Parameters().Concat(m.NamedModules().Select(x => x.Module).OfType<BatchNorm>().SelectMany(b => new[] { b.RunningMean, b.RunningVar }))
            .Select(t => t.ToArray()).ToArray();

    [Fact]
    public void TwoThreadRanksOfABatchNormMlpEqualOneProcess()
    {
        // 300 rows in batches of 64: four of 64 and one of 44, split 32 + 32 and 22 + 22
        var one = State(Train(Spirals(300), 64, null));
        var world = new ThreadWorld(2);
        var ranks = new float[2][][];
        // each rank its own copy of the data (a data set reuses one batch buffer)
        var threads = Enumerable.Range(0, 2).Select(r => new Thread(() => ranks[r] = State(Train(Spirals(300), 64, world.Rank(r))))).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromMinutes(1)), "a rank did not finish");
        // per step: 2 BatchNorms forward, the loss sums, 2 BatchNorms backward, the gradients
        Assert.Equal(10 * 6, world.Collectives);
        // the ranks hold the same model, running statistics included, bit for bit
        for (int i = 0; i < one.Length; i++) Assert.Equal(ranks[0][i], ranks[1][i]);
        double diff = 0, norm = 0;
        for (int i = 0; i < one.Length; i++)
            for (int j = 0; j < one[i].Length; j++)
            {
                diff += Math.Pow((double)ranks[0][i][j] - one[i][j], 2);
                norm += Math.Pow(one[i][j], 2);
            }
        double rel = Math.Sqrt(diff / norm);
        TestContext.Current.SendDiagnosticMessage($"BatchNorm MLP, 2 thread ranks × 32 vs 1 × 64: relative difference {rel:G3}");
        Assert.True(rel <= 1e-6, $"relative difference {rel:G3}");
    }

    // requests a stop at the end of one step and keeps the running statistics it saw then
    private sealed class StopAfter(int step, bool request) : ITrainingCallback
    {
        public float[][]? Seen;

        public void OnStepEnd(Trainer trainer, in StepEnd end)
        {
            if (end.Batch != step) return;
            Seen = Statistics(trainer.Model);
            if (request) trainer.RequestStop();
        }
    }

    private static float[][] Statistics(Module m) =>
        m.NamedModules().Select(x => x.Module).OfType<BatchNorm>().SelectMany(b => new[] { b.RunningMean.ToArray(), b.RunningVar.ToArray() }).ToArray();

    [Fact]
    public void AStopOnOneRankLeavesTheRunningStatisticsOfTheLastStep()
    {
        // rank 1 asks to stop after batch 1: both ranks run batch 2's forward pass (its statistics) before they agree to
        // stop, then stand where one process stops — after batch 1, batch 2 untouched, running statistics included
        var world = new ThreadWorld(2);
        var results = new (int NextBatch, float[][] Seen, float[][] After)[2];
        var threads = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            var model = BnMlp.Build(new Rng(3));
            var stop = new StopAfter(1, request: r == 1);
            var trainer = new Trainer(model, new Adam(model.Parameters(), 0.01)) { Communicator = world.Rank(r) }.Add(stop);
            trainer.TrainEpoch(Spirals(300), InMemoryDataset.Identity(300), 64);
            results[r] = (trainer.NextBatch, stop.Seen!, Statistics(model));
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromMinutes(1)), "a rank did not finish");
        foreach (var (next, seen, after) in results)
        {
            Assert.Equal(2, next);
            Assert.Equal(seen.Length, after.Length);
            for (int i = 0; i < seen.Length; i++) Assert.Equal(seen[i], after[i]);
        }
    }

    [Theory]
    [InlineData(65, 64, "the epoch's last batch has 1 row(s) for 2 processes")]
    [InlineData(10, 1, "batches of 1 row(s) for 2 processes")]
    public void ABatchThatLeavesARankWithoutRowsIsRefusedBeforeAnyStep(int rows, int batch, string says)
    {
        // every rank sees the same sizes and refuses at the epoch's start: no rank waits in a collective
        var model = BnMlp.Build(new Rng(3));
        var before = State(model);
        var trainer = new Trainer(model, new Adam(model.Parameters(), 0.01)) { Communicator = new NoCollectives() };
        var e = Assert.Throws<NotSupportedException>(() => trainer.TrainEpoch(Spirals(rows), InMemoryDataset.Identity(rows), batch));
        Assert.Contains("needs at least one row per process in every batch", e.Message);
        Assert.Contains(says, e.Message);
        var after = State(model);
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i], after[i]);
        // without BatchNorm a rank without rows takes part with zeros: no refusal, the step's collectives are entered
        var mlp = new SequentialConfig([new LinearConfig(2, 4), ActivationConfig.Relu, new LinearConfig(4, 2)]).Build(new Rng(3));
        var plain = new Trainer(mlp, new Adam(mlp.Parameters(), 0.01)) { Communicator = new NoCollectives() };
        var entered = Assert.Throws<InvalidOperationException>(() => plain.TrainEpoch(Spirals(rows), InMemoryDataset.Identity(rows), batch));
        Assert.Equal("a collective was entered", entered.Message);
    }
}
