using Sprout.Autograd;
using Sprout.Data;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Training;

/// <summary>
/// The data-parallel <see cref="Trainer"/> with dropout, in one process: ranks as threads (<see cref="ThreadWorld"/>;
/// the MPI runs are in ClusterTests). Each rank draws the global batch's mask and keeps its rows' part, so the ranks
/// train as one process does and their dropout streams stay one process's, through growth steps too.
/// </summary>
[Collection("Workers")]
public class DataParallelDropoutTests
{
    private static readonly SequentialConfig DropoutMlp = new([
        new LinearConfig(2, 12), ActivationConfig.Relu, new DropoutConfig(0.2f),
        new LinearConfig(12, 12), ActivationConfig.Relu, new DropoutConfig(0.1f), new LinearConfig(12, 2)]);

    private static InMemoryDataset Spirals(int n)
    {
        var (x, y) = Synthetic.TwoSpirals(n, new Rng(11));
        return new InMemoryDataset(x, y, 2);
    }

    private static RngState[] Streams(Module m) => m.NamedRngs().Select(r => r.Rng.GetState()).ToArray();

    // two epochs over the same permutations; returns the weights and the dropout streams
    private static (float[][] Weights, RngState[] Streams) Train(InMemoryDataset data, int batch, ICommunicator? comm)
    {
        var model = DropoutMlp.Build(new Rng(3));
        var trainer = new Trainer(model, new Adam(model.Parameters(), 0.01)) { Communicator = comm };
        var shuffle = new Rng(4);
        for (int e = 0; e < 2; e++) trainer.TrainEpoch(data, shuffle.Permutation(data.Count), batch);
        // the placement lasts one step: afterwards each layer sees whole batches again
        Assert.All(model.NamedModules().Select(m => m.Module).OfType<Dropout>(), d => Assert.True(d.Shard.IsWhole));
        return (model.Parameters().Select(p => p.ToArray()).ToArray(), Streams(model));
    }

    private static double RelativeDifference(float[][] a, float[][] b)
    {
        double diff = 0, norm = 0;
        for (int i = 0; i < b.Length; i++)
            for (int j = 0; j < b[i].Length; j++)
            {
                diff += Math.Pow((double)a[i][j] - b[i][j], 2);
                norm += Math.Pow(b[i][j], 2);
            }
        return Math.Sqrt(diff / norm);
    }

    [Fact]
    public void TwoThreadRanksOfADropoutMlpEqualOneProcess()
    {
        // 300 rows in batches of 64: four of 64 and one of 44, split 32 + 32 and 22 + 22
        var one = Train(Spirals(300), 64, null);
        var ranks = new ThreadWorld(2).Run(comm => Train(Spirals(300), 64, comm));
        // the ranks hold the same model and the same streams, bit for bit, and the streams are one process's
        for (int i = 0; i < one.Weights.Length; i++) Assert.Equal(ranks[0].Weights[i], ranks[1].Weights[i]);
        Assert.Equal(ranks[0].Streams, ranks[1].Streams);
        Assert.Equal(one.Streams, ranks[0].Streams);
        Assert.NotEqual(Streams(DropoutMlp.Build(new Rng(3))), one.Streams);   // the training drew from them
        double rel = RelativeDifference(ranks[0].Weights, one.Weights);
        TestContext.Current.SendDiagnosticMessage($"dropout MLP, 2 thread ranks × 32 vs 1 × 64: relative difference {rel:G3}");
        Assert.True(rel <= 1e-6, $"relative difference {rel:G3}");
    }

    [Fact]
    public void ThreeThreadRanksOfAnUnevenSplitEqualOneProcess()
    {
        // batches of 64 as 21 + 21 + 22, the last batch of 44 as 14 + 15 + 15
        var one = Train(Spirals(300), 64, null);
        var ranks = new ThreadWorld(3).Run(comm => Train(Spirals(300), 64, comm));
        Assert.All(ranks, r => Assert.Equal(one.Streams, r.Streams));
        Assert.True(RelativeDifference(ranks[2].Weights, one.Weights) <= 1e-6);
    }

    // requests a stop at the end of one step and keeps the dropout streams it saw then
    private sealed class StopAfter(int step, bool request) : ITrainingCallback
    {
        public RngState[]? Seen;

        public void OnStepEnd(Trainer trainer, in StepEnd end)
        {
            if (end.Batch != step) return;
            Seen = Streams(trainer.Model);
            if (request) trainer.RequestStop();
        }
    }

    [Fact]
    public void AStopOnOneRankLeavesTheDropoutStreamsOfTheLastStep()
    {
        // rank 1 asks to stop after batch 1: both ranks draw batch 2's masks in its forward pass before they agree to
        // stop, then stand where one process stops — after batch 1, its streams included, so a resume draws batch 2's
        // masks again
        var results = new ThreadWorld(2).Run(comm =>
        {
            var model = DropoutMlp.Build(new Rng(3));
            var stop = new StopAfter(1, request: comm.Rank == 1);
            var trainer = new Trainer(model, new Adam(model.Parameters(), 0.01)) { Communicator = comm }.Add(stop);
            trainer.TrainEpoch(Spirals(300), InMemoryDataset.Identity(300), 64);
            return (trainer.NextBatch, stop.Seen!, After: Streams(model));
        });
        foreach (var (next, seen, after) in results)
        {
            Assert.Equal(2, next);
            Assert.Equal(seen, after);
        }
    }

    [Theory]
    [InlineData(65, 64, "the epoch's last batch has 1 row(s) for 2 processes")]
    [InlineData(10, 1, "batches of 1 row(s) for 2 processes")]
    public void ABatchThatLeavesARankWithoutRowsIsRefusedBeforeAnyStep(int rows, int batch, string says)
    {
        // a rank without rows would run no forward pass, and its streams would fall behind the others'
        var model = DropoutMlp.Build(new Rng(3));
        var before = Streams(model);
        var trainer = new Trainer(model, new Adam(model.Parameters(), 0.01)) { Communicator = new NoCollectives() };
        var e = Assert.Throws<NotSupportedException>(() => trainer.TrainEpoch(Spirals(rows), InMemoryDataset.Identity(rows), batch));
        Assert.Equal("data-parallel training of a network with dropout needs at least one row per process in every batch: " + says +
                     " (change the batch size or the number of training samples, or use fewer processes)", e.Message);
        Assert.Equal(before, Streams(model));
        // with BatchNorm as well the line names both
        var both = new SequentialConfig([new LinearConfig(2, 4), new BatchNormConfig(4), new DropoutConfig(0.5f), new LinearConfig(4, 2)]).Build(new Rng(3));
        var trainer2 = new Trainer(both, new Adam(both.Parameters(), 0.01)) { Communicator = new NoCollectives() };
        Assert.StartsWith("data-parallel training of a network with BatchNorm and dropout needs",
            Assert.Throws<NotSupportedException>(() => trainer2.TrainEpoch(Spirals(rows), InMemoryDataset.Identity(rows), batch)).Message);
        // a dropout that never drops (p = 0) draws nothing: no refusal, the step's collectives are entered
        var idle = new SequentialConfig([new LinearConfig(2, 4), new DropoutConfig(0f), new LinearConfig(4, 2)]).Build(new Rng(3));
        var plain = new Trainer(idle, new Adam(idle.Parameters(), 0.01)) { Communicator = new NoCollectives() };
        Assert.Equal("a collective was entered",
            Assert.Throws<InvalidOperationException>(() => plain.TrainEpoch(Spirals(rows), InMemoryDataset.Identity(rows), batch)).Message);
    }

    // a layer with a random stream of its own that is not dropout's
    private sealed class Noise : Module
    {
        private readonly Rng _rng;

        public Noise() => _rng = RegisterRng("noise", new Rng(1));

        public override Tensor Forward(Tensor x) => IsTraining ? Ops.AddScalar(x, (float)_rng.NextDouble()) : x;
    }

    [Fact]
    public void ALayersOwnRandomStreamOtherThanDropoutsIsRefused()
    {
        var model = new Sequential(DropoutMlp.Build(new Rng(3)), new Noise());
        var trainer = new Trainer(model, new Adam(model.Parameters(), 0.01)) { Communicator = new NoCollectives() };
        var e = Assert.Throws<NotSupportedException>(() => trainer.TrainEpoch(Spirals(128), InMemoryDataset.Identity(128), 64));
        Assert.Contains("does not support the random stream 1.noise", e.Message);
    }

    // MLP with dropout, grown in two stages by SWE (its adjustment phase trains the model itself, drawing from the
    // dropout streams) with SVoD's probe training
    private static readonly GrowthRunConfig GrowDropout = new([], GrowthSchedule.FromTotals(4, 4),
        Sprout.Tests.Runs.ResumeFixtures.Swe("swe-plus"), GrowthMethods.Distributor("svod"),
        InitialTraining: new StageTraining(2), StageTraining: new StageTraining(1), BatchSize: 50, LearningRate: 1e-2, Seed: 7,
        DiagnosticBatch: 100,
        Model: new SequentialConfig([
            new LinearConfig(2, 8), ActivationConfig.Relu, new DropoutConfig(0.2f),
            new LinearConfig(8, 8), ActivationConfig.Relu, new DropoutConfig(0.2f), new LinearConfig(8, 2)]), InputShape: [2]);

    // the growth run; each safe point's position and dropout streams
    private static List<(string At, RngState[] Streams)> Grow(ICommunicator? comm)
    {
        var seen = new List<(string, RngState[])>();
        var runner = new GrowthRunner(GrowDropout) { Communicator = comm };
        runner.SafePoint = r => seen.Add(($"{r.State.Phase} {r.State.Stage} {r.State.EpochsDone}", Streams(r.Model!.Module)));
        // each rank its own copy of the data (a data set reuses one batch buffer)
        runner.Run(Sprout.Tests.Growth.GrowthFixtures.Spirals(400, 11), Sprout.Tests.Growth.GrowthFixtures.Spirals(100, 12));
        return seen;
    }

    [Fact]
    public void EveryRanksDropoutStreamsStayOneProcessesThroughGrowthSteps()
    {
        var one = Grow(null);
        var ranks = new ThreadWorld(2).Run(Grow);
        Assert.Equal(one.Select(s => s.At), ranks[0].Select(s => s.At));
        for (int i = 0; i < one.Count; i++)
        {
            // every rank's streams at every safe point are the same (rank 0's checkpoint is every rank's) and one process's
            Assert.Equal(ranks[0][i].Streams, ranks[1][i].Streams);
            Assert.Equal(one[i].Streams, ranks[0][i].Streams);
        }
        // the growth steps' own training-mode passes drew from the streams, on every rank alike
        int grow = one.FindIndex(s => s.At == "Grow 0 0");
        Assert.Equal("Stage 0 0", one[grow + 1].At);
        Assert.NotEqual(one[grow].Streams, one[grow + 1].Streams);
    }

    // asks to stop after batch 3 of the initial training's second epoch (not the growth methods' own trainers)
    private sealed class StopInitialAt(bool request) : ITrainingCallback
    {
        public void OnStepEnd(Trainer trainer, in StepEnd end)
        {
            if (request && trainer.Name == "initial training" && end.Epoch == 1 && end.Batch == 3) trainer.RequestStop();
        }
    }

    private static (float[][] Weights, RngState[] Streams) Final(GrowthRunner r) =>
        (r.Model!.Module.Parameters().Select(p => p.ToArray()).ToArray(), Streams(r.Model.Module));

    [Fact]
    public void ADataParallelRunStoppedMidEpochResumesFromRankZerosCheckpointBitForBit()
    {
        // rank 1 stops inside an epoch (both ranks drew the next batch's masks before they agreed to stop, and put the
        // streams back); rank 0's checkpoint is every rank's, and the resumed ranks end where uninterrupted ones do
        var whole = new ThreadWorld(2).Run(comm =>
        {
            var r = new GrowthRunner(GrowDropout) { Communicator = comm };
            r.Run(Sprout.Tests.Growth.GrowthFixtures.Spirals(400, 11), Sprout.Tests.Growth.GrowthFixtures.Spirals(100, 12));
            return Final(r);
        });
        string file = Path.Combine(Path.GetTempPath(), $"sprout-dp-dropout-{Guid.NewGuid():N}.ckpt");
        try
        {
            var captured = new ThreadWorld(2).Run(comm =>
            {
                var r = new GrowthRunner(GrowDropout) { Communicator = comm };
                r.Callbacks.Add(new StopInitialAt(comm.Rank == 1));
                string? streams = null;
                r.SafePoint = x =>
                {
                    if (comm.Rank == 0) x.Capture().Save(file);
                    streams = string.Join(" | ", Streams(x.Model!.Module));
                };
                Assert.Throws<TrainingInterruptedException>(() =>
                    r.Run(Sprout.Tests.Growth.GrowthFixtures.Spirals(400, 11), Sprout.Tests.Growth.GrowthFixtures.Spirals(100, 12)));
                Assert.Equal(4, r.State.NextBatch);
                return streams!;
            });
            Assert.Equal(captured[0], captured[1]);   // the streams each rank stood at when rank 0 saved
            var resumed = new ThreadWorld(2).Run(comm =>
            {
                var r = new GrowthRunner(GrowDropout) { Communicator = comm };
                r.Run(Sprout.Tests.Growth.GrowthFixtures.Spirals(400, 11), Sprout.Tests.Growth.GrowthFixtures.Spirals(100, 12), null, CheckpointFile.Load(file));
                return Final(r);
            });
            for (int k = 0; k < 2; k++)
            {
                Assert.Equal(whole[k].Streams, resumed[k].Streams);
                Assert.Equal(whole[k].Weights.Length, resumed[k].Weights.Length);
                for (int i = 0; i < whole[k].Weights.Length; i++) Assert.Equal(whole[k].Weights[i], resumed[k].Weights[i]);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }
}
