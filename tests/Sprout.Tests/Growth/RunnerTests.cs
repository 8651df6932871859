using System.Text.Json;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class RunnerTests
{
    [Fact]
    public void EarlyStoppingRestoresTheBestWeights()
    {
        var model = (Sequential)SequentialConfig.Mlp([2, 3, 2], ActivationConfig.Relu).Build(new Rng(1));
        var w = model.Parameters().First();
        var es = new EarlyStopping(model, patience: 2);
        double[] losses = [3.0, 2.0, 2.5, 2.1, 1.9];
        float[]? bestWeights = null;
        int stoppedAt = -1;
        for (int e = 0; e < losses.Length; e++)
        {
            w.Span.Fill(e + 10);              // "training" changes the weights every epoch
            if (e == 1) bestWeights = w.ToArray();
            if (es.Update(losses[e])) { stoppedAt = e; break; }
        }
        Assert.Equal(3, stoppedAt);          // epochs 2 and 3 did not improve on 2.0
        Assert.Equal(1, es.BestEpoch);
        es.RestoreBest();
        Assert.Equal(bestWeights, w.ToArray());
    }

    [Fact]
    public void EarlyStoppingPhaseEndsWithBestValidationWeights()
    {
        var train = GrowthFixtures.Random(300, 5, 3, 3);
        var val = GrowthFixtures.Random(200, 5, 3, 4);
        var model = GrowthFixtures.Mlp(2, 5, 6, 3);
        var opt = new Sprout.Optim.Adam(model.Parameters(), 0.05);
        // a phase with early stopping, as the runner trains one: patience 2, at most 12 epochs, best weights restored
        var trainer = new Trainer(model.Module, opt) { Validation = val };
        trainer.Add(new EarlyStopping(model.Module, 2));
        int epochs = trainer.Fit(train, new Rng(1), 50, 12);
        Assert.InRange(epochs, 1, 12);
        // rerun the same epochs while tracking the best validation loss by hand
        var model2 = GrowthFixtures.Mlp(2, 5, 6, 3);
        var trainer2 = new Trainer(model2.Module, new Sprout.Optim.Adam(model2.Parameters(), 0.05));
        var sh = new Rng(1);
        double best = double.PositiveInfinity;
        for (int e = 0; e < epochs; e++)
        {
            trainer2.TrainEpoch(train, sh.Permutation(train.Count), 50);
            best = Math.Min(best, trainer2.Evaluate(val).Loss);
        }
        Assert.Equal(best, new Trainer(model.Module).Evaluate(val).Loss, 6);
    }

    private static GrowthRunConfig Config(string extender, string distributor) => new(
        [2, 8, 8, 2], GrowthSchedule.FromPercent(50, 2),
        extender.StartsWith("swe", StringComparison.Ordinal)
            ? new SweConfig((extender == "swe-plus" ? SweOptions.Plus : SweOptions.Paper) with { AdjustSteps = 5, DeadCheckSamples = 500 }) { Name = extender }
            : GrowthMethods.Extender(extender),
        distributor == "svod-topn" ? new SvodConfig(SvodOptions.TopN with { BatchSize = 50 }) { Name = distributor } : GrowthMethods.Distributor(distributor),
        new StageTraining(3), new StageTraining(2),
        BatchSize: 50, LearningRate: 0.01, Seed: 42, DiagnosticBatch: 100);

    [Theory]
    [InlineData("swe-plus", "svod")]
    [InlineData("swe-reference", "svod-topn")]
    [InlineData("random", "ras")]
    public void SameSeedGivesAnIdenticalGrowthRun(string extender, string distributor)
    {
        var train = GrowthFixtures.Spirals(600, 1);
        var val = GrowthFixtures.Spirals(200, 2);
        var cfg = Config(extender, distributor);
        var r1 = new GrowthRunner(cfg);
        var a = r1.Run(train, val, val);
        var r2 = new GrowthRunner(cfg);
        var b = r2.Run(train, val, val);
        GrowthFixtures.AssertBitIdentical(r1.Model!.CopyWeights(), r2.Model!.CopyWeights());
        Assert.Equal(JsonSerializer.Serialize(a with { Stages = a.Stages.Select(s => s with { Seconds = 0, GrowSeconds = 0, DistributeSeconds = 0, ExtendSeconds = 0 }).ToArray() }, GrowthRunConfig.JsonOptions),
                     JsonSerializer.Serialize(b with { Stages = b.Stages.Select(s => s with { Seconds = 0, GrowSeconds = 0, DistributeSeconds = 0, ExtendSeconds = 0 }).ToArray() }, GrowthRunConfig.JsonOptions));
        Assert.Equal(2, a.Stages.Count);
        Assert.Equal(8, a.Stages[0].Total);                 // 50% of 16
        Assert.Equal(a.Stages[0].WidthsAfter, a.Stages[1].WidthsBefore);
        Assert.Equal(16 + 8 + 12, a.FinalWidths.Sum());     // +50% of 24 in stage 2
        var r3 = new GrowthRunner(cfg with { Seed = 43 });
        r3.Run(train, val, val);
        Assert.NotEqual(r1.Model!.CopyWeights()[0], r3.Model!.CopyWeights()[0]);
    }

    [Fact]
    public void EveryFinishedStageIsReportedBeforeTheRunEnds()
    {
        var train = GrowthFixtures.Spirals(600, 1);
        var val = GrowthFixtures.Spirals(200, 2);
        var partial = new List<GrowthRunReport>();
        var runner = new GrowthRunner(Config("kaiming", "ras")) { StageCompleted = partial.Add };
        var final = runner.Run(train, val, val);
        Assert.Equal(2, partial.Count);
        Assert.Single(partial[0].Stages);
        Assert.Equal(final.Stages[0].WidthsAfter, partial[0].Stages[0].WidthsAfter);
        Assert.Equal(final.Stages.Count, partial[1].Stages.Count);
        Assert.True(double.IsNaN(partial[1].FinalTestAccuracy)); // only the finished run has the final evaluation
    }

    [Fact]
    public void ConfigRoundTripsThroughJson()
    {
        var cfg = Config("swe-plus", "svod") with { Schedule = GrowthSchedule.FromTotals(4, 6), Distributor = new FixedConfig([1, 2]) };
        var back = GrowthRunConfig.FromJson(cfg.ToJson());
        Assert.Equal(cfg.ToJson(), back.ToJson());
        Assert.Equal(cfg.Extender, back.Extender);
        Assert.Equal(cfg.Distributor, back.Distributor);
        Assert.Contains("\"type\": \"swe\"", cfg.ToJson());   // written in full, the preset's name kept as its label
        Assert.Contains("\"name\": \"swe-plus\"", cfg.ToJson());
        Assert.Throws<ArgumentException>(() => GrowthMethods.Extender("bogus"));
        Assert.Throws<ArgumentException>(() => new GrowthRunner(cfg with { Distributor = new FixedConfig() }));   // no counts
    }

    [Fact]
    public void TheLastStageTrainsWithItsOwnSettingsAndTheConfigKeepsThem()
    {
        var train = GrowthFixtures.Spirals(300, 1);
        var val = GrowthFixtures.Spirals(100, 2);
        var cfg = Config("kaiming", "ras") with { Schedule = GrowthSchedule.FromPercent(50, 3), LastStageTraining = new StageTraining(4) };
        var report = new GrowthRunner(cfg).Run(train, val, val);
        Assert.Equal([2, 2, 4], report.Stages.Select(s => s.Epochs));
        Assert.Contains("\"lastStageTraining\"", cfg.ToJson());
        Assert.Equal(cfg.ToJson(), GrowthRunConfig.FromJson(cfg.ToJson()).ToJson());
        Assert.DoesNotContain("lastStageTraining", Config("kaiming", "ras").ToJson());   // not written when unset
        Assert.Equal(2, Config("kaiming", "ras").StageTrainingFor(1).Epochs);
        Assert.Contains("lastStageTraining", Assert.Throws<ArgumentException>(() => new GrowthRunner(cfg with { LastStageTraining = new StageTraining(1, true, 0) })).Message);
    }

    private sealed class Rates : ITrainingCallback
    {
        public List<double> Seen { get; } = [];
        public void OnEpochEnd(Trainer trainer, in EpochEnd epoch) => Seen.Add(epoch.LearningRate);
    }

    [Fact]
    public void ALearningRateScheduleRunsOverTheWholeRunAcrossGrowthSteps()
    {
        var train = GrowthFixtures.Spirals(200, 1);
        var val = GrowthFixtures.Spirals(100, 2);
        var cfg = Config("kaiming", "ras") with
        {
            Schedule = GrowthSchedule.FromTotals(2, 2), InitialTraining = new StageTraining(2), StageTraining = new StageTraining(2),
            LearningRateSchedule = new Sprout.Optim.LrScheduleConfig(Sprout.Optim.LrScheduleKind.Cosine, Epochs: 6),
        };
        var rates = new Rates();
        var runner = new GrowthRunner(cfg);
        runner.Callbacks.Add(rates);
        runner.Run(train, val, val);
        // one half cosine over the 6 epochs of the run (2 initial + 2 per stage), not restarted by the growth steps
        Assert.Equal(6, rates.Seen.Count);
        for (int e = 0; e < 6; e++) Assert.Equal(0.01 * 0.5 * (1 + Math.Cos(Math.PI * e / 6)), rates.Seen[e], 12);
        Assert.Equal(cfg.ToJson(), GrowthRunConfig.FromJson(cfg.ToJson()).ToJson());
        Assert.Contains("\"kind\": \"Cosine\"", cfg.ToJson());
        Assert.Contains("epochs", Assert.Throws<ArgumentException>(() => new GrowthRunner(cfg with { LearningRateSchedule = new Sprout.Optim.LrScheduleConfig() })).Message);
        Assert.Contains("milestones", Assert.Throws<ArgumentException>(() => new GrowthRunner(cfg with
            { LearningRateSchedule = new Sprout.Optim.LrScheduleConfig(Sprout.Optim.LrScheduleKind.MultiStep, Milestones: [5, 3]) })).Message);
    }

    [Fact]
    public void SchedulesComputeStageTotals()
    {
        Assert.Equal(7, GrowthSchedule.FromTotals(5, 7).TotalFor(1, 100));
        var p = GrowthSchedule.FromPercent(30, 7);
        Assert.Equal(7, p.Count);
        Assert.Equal(9, p.TotalFor(0, 30));
        Assert.Equal(1, p.TotalFor(0, 1));
        Assert.Throws<ArgumentException>(() => GrowthSchedule.FromPercent(-5, 2).Validate());
    }
}
