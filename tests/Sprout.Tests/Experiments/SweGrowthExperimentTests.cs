using Sprout.Data;
using Sprout.Experiments;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Runs;
using Sprout.Tests.Data;
using Sprout.Tests.Reporting;
using Sprout.Training;
using Xunit;
using RunData = Sprout.Runs.RunData;

namespace Sprout.Tests.Experiments;

/// <summary>
/// <c>experiment swe-reconstruction</c> and <c>swe-classification</c> at a tiny scale (the generated two-spirals set, a
/// generated CIFAR-10 of the real format): run groups per method, the static baseline, the report beside the paper's
/// numbers, methods that are not registered, and a stopped experiment that continues bit for bit.
/// </summary>
[Collection("Workers")]
public class SweGrowthExperimentTests
{
    private static SweGrowthOptions Tiny(GrowthTask task, IReadOnlyList<SwePart> parts, int seeds = 2) =>
        SweGrowthOptions.Quick(task, ["spirals"], seeds) with
        {
            Parts = parts, TrainSamples = 400, Percent = 50, Stages = 2, Patience = 1, MaxEpochs = 2,
        };

    private static (InMemoryDataset, InMemoryDataset) Load(string name, InputScaling scaling) => RunData.Load(name, null, null, scaling);

    [Fact]
    public void ReconstructionRunsEveryMethodBesideTheStaticBaselineAndReportsThePaper()
    {
        using var dir = new ReportDir("swe-recon");
        var o = Tiny(GrowthTask.Reconstruction, [new SwePart("one-hidden", 1, 2, ["baseline", "kaiming", "swe", "firefly-not-registered+ras"])]);
        var lines = new List<string>();
        var runs = SweGrowthExperiment.Run(o, Load, dir.Path, lines.Add);

        // an extender that is not registered is listed as not available, and the rest runs
        var missing = runs.Single(r => r.Method == "firefly-not-registered+ras");
        Assert.False(missing.Available);
        Assert.Empty(missing.Runs);
        Assert.Contains(lines, l => l.Contains("not available", StringComparison.Ordinal));
        Assert.False(Directory.Exists(SweGrowthExperiment.GroupFolder(dir.Path, "spirals", "one-hidden", "firefly-not-registered+ras")));

        foreach (var r in runs.Where(r => r.Available))
        {
            Assert.Equal(2, r.Runs.Count);
            string group = SweGrowthExperiment.GroupFolder(dir.Path, "spirals", "one-hidden", r.Method);
            Assert.Equal(new[] { "seed-0", "seed-1" }, RunFiles.GroupMembers(group).Select(Path.GetFileName));
            foreach (var rep in r.Runs)
            {
                Assert.Equal(GrowthTask.Reconstruction, rep.Config.Task);
                Assert.True(double.IsNaN(rep.FinalTestAccuracy));
                Assert.True(rep.FinalTestLoss > 0);
            }
        }
        // the static baseline: the final width (2 → 3 → 5) from scratch, no stage, the grown run's whole epoch cap
        var baseline = runs.Single(r => r.Method == "baseline").Runs[0];
        var grown = runs.Single(r => r.Method == "kaiming").Runs[0];
        Assert.Equal(grown.FinalWidths, baseline.FinalWidths);
        Assert.Equal(new[] { 5 }, baseline.FinalWidths);
        Assert.Empty(baseline.Stages);
        Assert.Equal(0, baseline.Config.Schedule.Count);
        Assert.Equal((o.Stages + 1) * o.MaxEpochs, baseline.Config.InitialTraining!.MaxEpochs);
        Assert.Equal(o.Patience, baseline.Config.InitialTraining.Patience);
        var perStage = SweGrowthExperiment.PerStage(GrowthTask.Reconstruction, baseline, o.Stages);
        Assert.All(perStage, v => Assert.Equal(baseline.FinalTestLoss, v));
        var grownStages = SweGrowthExperiment.PerStage(GrowthTask.Reconstruction, grown, o.Stages);
        Assert.Equal(grown.InitialTestLoss, grownStages[0]);
        Assert.Equal(grown.FinalTestLoss, grownStages[^1]);

        string md = SweGrowthReport.Write(o, runs, dir.Path, "experiment swe-reconstruction", 0.1);
        Assert.Contains("Final test loss ×1e-4", md, StringComparison.Ordinal);
        Assert.Contains("not available", md, StringComparison.Ordinal);
        Assert.Contains("--baseline-budget", md, StringComparison.Ordinal);
        Assert.Contains("--input-scaling", md, StringComparison.Ordinal);
        Assert.Contains("sigmoid", md, StringComparison.Ordinal);
        foreach (var ext in new[] { "png", "svg" }) Assert.True(new FileInfo(Path.Combine(dir.Path, "charts", "spirals-one-hidden." + ext)).Length > 1000);
        Assert.True(File.Exists(Path.Combine(dir.Path, "results.json")));
        // the ×1e-4 figure in the table is the mean of the seeds' final test losses
        var rows = SweGrowthReport.Rows(o, runs);
        var kaiming = rows.Single(r => r.Method == "kaiming");
        Assert.Equal(runs.Single(r => r.Method == "kaiming").Runs.Average(x => x.FinalTestLoss) * 1e4, kaiming.Mean, 9);
        Assert.Null(kaiming.PaperColumn);   // spirals is in no paper table
        Assert.Equal("Kaiming", SweGrowthReport.PaperColumn(GrowthTask.Reconstruction, 1, SweMethod.Parse("kaiming", 1)));
    }

    [Fact]
    public void MethodsAreNamedPresetPairsAndPaperColumns()
    {
        var swe1 = SweMethod.Parse("swe", 1);
        Assert.Equal(("swe", "ras"), (swe1.Extender, swe1.Distributor));
        var swe3 = SweMethod.Parse("swe", 3);
        Assert.Equal("svod", swe3.Distributor);
        var ff = SweMethod.Parse("firefly", 3);
        Assert.Equal(("firefly", "firefly"), (ff.Extender, ff.Distributor));
        Assert.Equal(GrowthMethods.ExtenderPresets.Contains("firefly") && GrowthMethods.DistributorPresets.Contains("firefly"), ff.IsAvailable);
        Assert.True(SweMethod.Parse("baseline", 1).IsBaseline);
        Assert.Throws<ArgumentException>(() => SweMethod.Parse("swe+", 3));
        Assert.Equal("SWE+SVoD", SweGrowthReport.PaperColumn(GrowthTask.Classification, 3, SweMethod.Parse("swe+svod", 3)));
        Assert.Equal("SWE+RAS", SweGrowthReport.PaperColumn(GrowthTask.Classification, 3, SweMethod.Parse("swe+ras", 3)));
        Assert.Equal("SWE", SweGrowthReport.PaperColumn(GrowthTask.Classification, 1, SweMethod.Parse("swe", 1)));
        Assert.Null(SweGrowthReport.PaperColumn(GrowthTask.Classification, 3, SweMethod.Parse("swe-plus+svod", 3)));
        Assert.Equal(98.10, SweGrowthReport.Table3ThreeHidden["mnist"]["SWE+SVoD"].Mean);
        Assert.Equal(424, SweGrowthReport.Table2["mnist"]["SWE"].Mean);
        // the paper's 7 × +30% from 16 neurons
        var paper = SweGrowthOptions.Paper(GrowthTask.Reconstruction, ["mnist"]);
        Assert.Equal(5, paper.Seeds);
        Assert.Equal(101, paper.FinalWidth(16));
        var stage = SweGrowthExperiment.RunConfigFor(paper with { Budget = BaselineBudget.Stage }, "mnist", paper.Parts[0], SweMethod.Parse("baseline", 1), 0, 784, 10);
        Assert.Equal(paper.MaxEpochs, stage.Growth.InitialTraining!.MaxEpochs);
        Assert.Equal(new[] { 784, 101, 784 }, stage.Growth.Widths);
        Assert.Equal(InputScaling.Unit, stage.InputScaling);
        Assert.Equal(TrainingOptimizer.Adam, stage.Growth.Optimizer);
        var l2 = SweGrowthExperiment.RunConfigFor(paper with { Optimizer = TrainingOptimizer.AdamL2, WeightDecay = 1e-4 }, "mnist", paper.Parts[0],
            SweMethod.Parse("swe", 1), 0, 784, 10);
        Assert.Equal((TrainingOptimizer.AdamL2, 1e-4), (l2.Growth.Optimizer, l2.Growth.WeightDecay));
        // the authors' script: patience 20, 30 in the last stage; the static baseline has no stages
        Assert.Equal((20, 30), (l2.Growth.StageTraining!.Patience, l2.Growth.LastStageTraining!.Patience));
        Assert.Null(stage.Growth.LastStageTraining);
        Assert.Contains(paper.Choices(), c => c.Value.Contains("30 in the last stage", StringComparison.Ordinal));
        var quick = SweGrowthOptions.Quick(GrowthTask.Reconstruction, ["mnist"]);
        Assert.Null(SweGrowthExperiment.RunConfigFor(quick, "mnist", quick.Parts[0], SweMethod.Parse("swe", 1), 0, 784, 10).Growth.LastStageTraining);
        Assert.Throws<ArgumentException>(() => (quick with { LastPatience = 0 }).Validate());
        Assert.Contains((paper with { Optimizer = TrainingOptimizer.AdamL2, WeightDecay = 1e-4 }).Choices(), c => c.Value.Contains("L2 weight decay", StringComparison.Ordinal));
        Assert.Throws<ArgumentException>(() => (paper with { Scaling = InputScaling.Standardize }).Validate());
        Assert.Throws<ArgumentException>(() => (paper with { Datasets = ["cifar10"] }).Validate());
    }

    [Fact]
    public void ClassificationGrowsOneAndThreeHiddenLayersAndReportsTheAllocation()
    {
        using var dir = new ReportDir("swe-class");
        var o = Tiny(GrowthTask.Classification,
            [new SwePart("one-hidden", 1, 2, ["baseline", "swe"]), new SwePart("three-hidden", 3, 2, ["baseline", "swe+ras", "swe+svod"])], seeds: 1);
        var runs = SweGrowthExperiment.Run(o, Load, dir.Path);
        Assert.Equal(5, runs.Count);
        Assert.All(runs, r => Assert.InRange(100 * r.Runs[0].FinalTestAccuracy, 0, 100));
        // the three-hidden baseline splits the final total width (6 → 9 → 14) evenly
        Assert.Equal(new[] { 5, 5, 4 }, runs.Single(r => r.Part == "three-hidden" && r.Method == "baseline").Runs[0].FinalWidths);
        Assert.Equal(14, runs.Single(r => r.Part == "three-hidden" && r.Method == "swe+svod").Runs[0].FinalWidths.Sum());
        string md = SweGrowthReport.Write(o, runs, dir.Path, "experiment swe-classification", 0.1);
        Assert.Contains("Final test accuracy %", md, StringComparison.Ordinal);
        Assert.Contains("## Allocation per stage", md, StringComparison.Ordinal);
        var alloc = SweGrowthReport.Allocations(o, runs);
        Assert.Equal(2, alloc.Count);   // the two growing three-hidden methods
        Assert.All(alloc, a => Assert.Equal(new[] { 3.0, 5.0 }, a.PerStage.Select(s => s.Sum())));
        Assert.True(File.Exists(Path.Combine(dir.Path, "charts", "spirals-three-hidden.svg")));
    }

    [Fact]
    public void AStoppedExperimentContinuesToTheSameRunsAsAnUninterruptedOne()
    {
        using var whole = new ReportDir("swe-recon-whole");
        using var split = new ReportDir("swe-recon-split");
        var o = Tiny(GrowthTask.Reconstruction, [new SwePart("one-hidden", 1, 2, ["swe", "baseline"])], seeds: 1) with { MaxEpochs = 3 };
        var uninterrupted = SweGrowthExperiment.Run(o, Load, whole.Path);

        // stop during the swe run's first stage, then call the experiment again on the same folder
        var stop = new StopSignal();
        Assert.Throws<TrainingInterruptedException>(() => SweGrowthExperiment.Run(o, Load, split.Path, line =>
        {
            if (line.Contains("stage 1: growth step", StringComparison.Ordinal)) stop.Request();
        }, stop));
        string swe = ExperimentRuns.SeedFolder(SweGrowthExperiment.GroupFolder(split.Path, "spirals", "one-hidden", "swe"), 0);
        Assert.NotEqual(GrowthPhase.Done, GrowthRunner.ReadState(CheckpointFile.Load(RunFiles.LastCheckpoint(swe))).Phase);
        var lines = new List<string>();
        var continued = SweGrowthExperiment.Run(o, Load, split.Path, lines.Add);
        Assert.Contains(lines, l => l.Contains("continuing at", StringComparison.Ordinal));
        foreach (var m in new[] { "swe", "baseline" })
        {
            var a = uninterrupted.Single(r => r.Method == m).Runs[0];
            var b = continued.Single(r => r.Method == m).Runs[0];
            Assert.Equal(a.FinalTestLoss, b.FinalTestLoss);
            Assert.Equal(a.Stages.Select(s => s.TestLossEnd), b.Stages.Select(s => s.TestLossEnd));
            SweDeepExperimentTests.AssertSameWeights(ExperimentRuns.SeedFolder(SweGrowthExperiment.GroupFolder(whole.Path, "spirals", "one-hidden", m), 0),
                ExperimentRuns.SeedFolder(SweGrowthExperiment.GroupFolder(split.Path, "spirals", "one-hidden", m), 0));
        }
    }

    [Fact]
    public void CifarRunsTheConvBackboneWithOnlyTheHeadGrowing()
    {
        using var data = Fixtures.Cifar10Folder();
        Assert.True(DataCatalog.IsPresent(DataCatalog.Cifar10, data.Path));

        using var dir = new ReportDir("swe-cifar");
        var o = SweGrowthOptions.Quick(GrowthTask.Classification, ["cifar10"], 1) with
        {
            Parts = [new SwePart("one-hidden", 1, 2, ["baseline", "swe"])], TrainSamples = 0, Stages = 1, Percent = 50, Patience = 1, MaxEpochs = 1,
        };
        var runs = SweGrowthExperiment.Run(o, (ds, scaling) => RunData.Load(ds, data.Path, null, scaling), dir.Path);
        var swe = runs.Single(r => r.Method == "swe").Runs[0];
        // the paper's backbone for CIFAR-10 (3→16→16, 16→32→32) with the MLP head; only the head grew (2 → 3)
        Assert.True(swe.Config.LinearOnly);
        var convs = swe.Config.Model!.Layers.OfType<Conv2dConfig>().Select(c => c.OutChannels).ToArray();
        Assert.Equal(new[] { 16, 16, 32, 32 }, convs);
        Assert.Equal(new[] { 3 }, swe.FinalWidths);
        Assert.Equal(new[] { 3 }, runs.Single(r => r.Method == "baseline").Runs[0].FinalWidths);
        var run = ExperimentRuns.SeedFolder(SweGrowthExperiment.GroupFolder(dir.Path, "cifar10", "one-hidden", "swe"), 0);
        var ck = CheckpointFile.Load(RunFiles.LastCheckpoint(run));
        var module = (Sequential)ck.BuildModule("model/");
        Assert.Equal(new[] { 16, 16, 32, 32 }, module.Layers.OfType<Conv2d>().Select(c => c.Config.OutChannels));
        Assert.InRange(swe.FinalTestAccuracy, 0, 1);
        string md = SweGrowthReport.Write(o, runs, dir.Path, "experiment swe-classification", 0.1);
        Assert.Contains("| cifar10 | one-hidden | swe | 1 |", md, StringComparison.Ordinal);
        Assert.Contains("83.72", md, StringComparison.Ordinal);   // the paper's SWE figure for CIFAR-10 beside ours
    }
}
