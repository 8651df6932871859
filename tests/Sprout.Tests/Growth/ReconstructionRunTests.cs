using Sprout.Growth;
using Sprout.Nn;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Reporting;
using Sprout.Tests.Reporting;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

/// <summary>
/// A growth run whose task is reconstruction (an autoencoder: MSE against the input): its losses reach the run folder
/// (metrics.csv, events.jsonl, report.json) with accuracy NaN, and early stopping ends every stage with its best weights.
/// </summary>
[Collection("Workers")]
public class ReconstructionRunTests
{
    // the generated two-spirals points (2 features) as their own targets; a 1-neuron autoencoder grows to 3
    private static (InMemoryDataset Train, InMemoryDataset Validation, InMemoryDataset Test) Data()
    {
        var (full, test) = RunData.Load("spirals", null);
        var (train, val) = RunData.TrainValidation(full, 600, 0.2, new Rng(5).Fork("split"));
        return (train, val, test);
    }

    private static RunConfig Run(GrowthRunConfig growth) => new("test", "recon", "spirals", growth);

    private static GrowthRunConfig Config(int patience = 2, int max = 6) => new([2, 1, 2], GrowthSchedule.FromTotals(1, 1),
        GrowthMethods.Extender("kaiming"), GrowthMethods.Distributor("ras"), new StageTraining(0, true, patience, max),
        new StageTraining(0, true, patience, max), BatchSize: 50, LearningRate: 1e-2, Seed: 3, Task: GrowthTask.Reconstruction);

    [Fact]
    public void LossesReachTheRunFolderAndAccuracyIsNaN()
    {
        using var dir = new ReportDir("recon-run");
        var (train, val, test) = Data();
        var session = RunSession.Create(Run(Config()), dir.Path, dir.Path);
        var report = session.Run(train, val, test);

        Assert.True(double.IsNaN(report.FinalTestAccuracy));
        Assert.True(report.FinalTestLoss > 0 && double.IsFinite(report.FinalTestLoss));
        Assert.True(double.IsFinite(report.InitialTestLoss) && double.IsFinite(report.InitialValLoss));
        // the final test loss is the MSE of the final model on the test set (measured in batches of the training batch)
        var module = session.Runner.Model!.Module;
        double mse = new Trainer(module, optimizer: null, Loss.Mse).Evaluate(test.WithInputAsTarget(), Config().BatchSize).Loss;
        Assert.Equal(mse, report.FinalTestLoss, 12);
        Assert.All(report.Stages, s =>
        {
            Assert.True(double.IsNaN(s.TestAccuracyEnd) && double.IsNaN(s.TrainAccuracyEnd) && double.IsNaN(s.TrainAccuracyBefore));
            Assert.True(double.IsFinite(s.TestLossEnd) && double.IsFinite(s.ValLossEnd) && double.IsFinite(s.TrainLossEnd));
            Assert.True(double.IsFinite(s.TrainLossBefore) && double.IsFinite(s.TrainLossAfterInsertion));
        });
        // growing helps a 1-neuron autoencoder of 2-D points
        Assert.True(report.Stages[^1].TestLossEnd < report.InitialTestLoss, $"{report.Stages[^1].TestLossEnd} vs {report.InitialTestLoss}");

        var metrics = MetricsTable.Read(Path.Combine(dir.Path, RunFiles.Metrics)).Rows;
        Assert.NotEmpty(metrics);
        Assert.All(metrics, r =>
        {
            Assert.True(double.IsNaN(r.TrainAccuracy) && double.IsNaN(r.ValAccuracy));
            Assert.True(r.TrainLoss > 0 && r.ValLoss > 0);
        });
        var events = GrowthEvent.ReadAll(Path.Combine(dir.Path, RunFiles.Events));
        Assert.Equal(2, events.Count);
        for (int s = 0; s < 2; s++)
        {
            Assert.Equal(report.Stages[s].TestLossEnd, events[s].TestLossEnd);
            Assert.Equal(report.Stages[s].ValLossEnd, events[s].ValLossEnd);
            Assert.True(double.IsNaN(events[s].TestAccuracyEnd));
        }
        string json = File.ReadAllText(Path.Combine(dir.Path, RunFiles.Report));
        Assert.Contains("\"finalTestLoss\"", json, StringComparison.Ordinal);
        Assert.Contains("\"testLossEnd\"", json, StringComparison.Ordinal);
        // sprout report shows the test loss beside the (meaningless, NaN) accuracies
        string md = File.ReadAllText(RunReport.Write(dir.Path).Markdown);
        Assert.Contains("test loss", md, StringComparison.Ordinal);
        Assert.Contains(report.FinalTestLoss.ToString("F4", System.Globalization.CultureInfo.InvariantCulture), md, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryStageEndsWithItsBestWeights()
    {
        using var dir = new ReportDir("recon-es");
        var (train, val, test) = Data();
        // small noisy steps: the validation loss goes up now and then, so patience 1 stops phases early
        var cfg = Config(patience: 1, max: 20) with { LearningRate = 0.1, BatchSize = 8 };
        var session = RunSession.Create(Run(cfg), dir.Path, dir.Path);
        var report = session.Run(train, val, test);
        var rows = MetricsTable.Read(Path.Combine(dir.Path, RunFiles.Metrics)).Rows;
        for (int s = 1; s <= 2; s++)
        {
            var stage = rows.Where(r => r.Stage == s && r.Phase == "stage").ToList();
            Assert.Equal(report.Stages[s - 1].Epochs, stage.Count);
            // the stage ended on the best epoch's weights: its validation loss is the stage's smallest, to the bit
            Assert.Equal(stage.Min(r => r.ValLoss), report.Stages[s - 1].ValLossEnd);
        }
        // the last stage's best weights are the final model's
        double final = new Trainer(session.Runner.Model!.Module, optimizer: null, Loss.Mse).Evaluate(val.WithInputAsTarget(), cfg.BatchSize).Loss;
        Assert.Equal(report.Stages[^1].ValLossEnd, final);
        // and in at least one stage the last epoch was not the best: the stage ended on restored weights
        Assert.Contains(Enumerable.Range(1, 2), s => rows.Last(r => r.Stage == s && r.Phase == "stage").ValLoss > report.Stages[s - 1].ValLossEnd);
    }

    [Fact]
    public void AReconstructionNetworkMustOutputItsInput()
    {
        var e = Assert.Throws<ArgumentException>(() => (Config() with { Widths = [2, 1, 3] }).Validate());
        Assert.Contains("must have the input's 2 features", e.Message, StringComparison.Ordinal);
        // classification configs are written without the new fields, as before
        Assert.DoesNotContain("\"task\"", (Config() with { Task = GrowthTask.Classification }).ToJson(), StringComparison.Ordinal);
        Assert.Contains("\"task\"", Config().ToJson(), StringComparison.Ordinal);
        Assert.Equal(GrowthTask.Reconstruction, GrowthRunConfig.FromJson(Config().ToJson()).Task);
    }
}
