using Sprout.Growth;
using Sprout.Nn;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Tests.Cli;
using Sprout.Training;
using Xunit;
using static Sprout.Tests.Runs.ResumeFixtures;

namespace Sprout.Tests.Runs;

/// <summary>
/// A run whose loss becomes NaN stops with one line and exit 1, and keeps its last good checkpoint: the one from
/// before the divergence, loadable, finite, equal to what a healthy run of the same start saved at that point, and
/// left untouched by a resume that diverges again.
/// </summary>
[Collection("Workers")]
public class DivergenceTests
{
    // healthy initial training; SWE's adjustment phase with a learning rate of 1e30 blows up in stage 1's growth step
    private static GrowthRunConfig Config(double sweLearningRate) =>
        new([2, 16, 16, 2], GrowthSchedule.FromTotals(8, 8), (SweConfig)GrowthMethods.Extender("swe-plus") with
            {
                Options = SweOptions.Plus with { LearningRate = sweLearningRate, AdjustSteps = 20, BatchSize = 50 },
            },
            GrowthMethods.Distributor("svod"), InitialTraining: new StageTraining(2), StageTraining: new StageTraining(1), Seed: 5);

    [Fact]
    public void ANanLossStopsWithOneLineAndKeepsTheLastGoodCheckpoint()
    {
        using var tmp = new TempFolder();
        string dir = tmp.Sub("nan"), configFile = tmp.Sub("nan.json");
        File.WriteAllText(configFile, Config(1e30).ToJson());
        string[] grow = ["grow", "--config", configFile, "--dataset", "spirals", "--train-samples", "1000", "--threads", "1", "--no-progress", "--out", dir];
        var (code, _, err) = CliHarness.Run(grow);
        Assert.Equal(1, code);
        string last = RunFiles.LastCheckpoint(dir);
        CliHarness.AssertOneLineError(err, "in the SWE adjustment phase");
        Assert.Matches("loss became (NaN|-?∞|-?Infinity)", err);
        Assert.Contains($"the last good checkpoint is {last}", err);

        // the last good checkpoint: before stage 1's growth step, every tensor finite
        var ck = CheckpointFile.Load(last);
        var state = GrowthRunner.ReadState(ck);
        Assert.Equal((GrowthPhase.Grow, 0), (state.Phase, state.Stage));
        foreach (var name in ck.TensorNames) Assert.All(ck.Get(name).Data, v => Assert.True(float.IsFinite(v), name));
        Assert.Equal(2, File.ReadAllLines(Path.Combine(dir, RunFiles.Metrics)).Length - 1);   // the initial training's 2 epochs

        // it is the state a healthy run (the same start; only the adjustment phase differs) saves at that point
        var healthy = OneThread(() =>
        {
            var run = RunSession.Open(dir).Config;
            var session = RunSession.Create(run with { Growth = Config(1e-3) }, tmp.Sub("healthy"));
            var (full, test) = RunData.Load(run.Dataset, null);
            var (train, val) = RunData.TrainValidation(full, run.TrainSamples, run.ValidationFraction, new Rng(run.Growth.Seed).Fork("split"));
            session.Runner.Callbacks.Add(new StepHook((t, _) =>
            {
                if (t.Name == AdjustPhase) session.Runner.Stop.Request();
            }));
            Assert.Throws<TrainingInterruptedException>(() => session.Run(train, val, test));
            return CheckpointFile.Load(RunFiles.LastCheckpoint(session.Directory));
        });
        AssertSameTensors(healthy, ck);

        // a resume diverges the same way and leaves the checkpoint as it was, byte for byte
        var bytes = File.ReadAllBytes(last);
        (code, _, err) = CliHarness.Run("resume", dir, "--no-progress");
        Assert.Equal(1, code);
        CliHarness.AssertOneLineError(err, "in the SWE adjustment phase");
        Assert.Equal(bytes, File.ReadAllBytes(last));
        Assert.True(File.Exists(RunFiles.BestCheckpoint(dir)));
        CheckpointFile.Load(RunFiles.BestCheckpoint(dir));
    }
}
