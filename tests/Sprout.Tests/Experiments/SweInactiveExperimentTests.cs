using System.Text.Json;
using System.Text.Json.Nodes;
using Sprout.Experiments;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Reporting;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Tests.Growth;
using Sprout.Tests.Reporting;
using Sprout.Training;
using Xunit;
using RunData = Sprout.Runs.RunData;

namespace Sprout.Tests.Experiments;

/// <summary>
/// <c>experiment swe-inactive</c> at a tiny scale on MNIST-shaped data made in memory (784 features, 10 classes): one run
/// group per (data set, width, extender), members that share their pre-training bit for bit, and the paper's Table 1
/// figures beside ours in report.json and in the report.
/// </summary>
[Collection("Workers")]
public class SweInactiveExperimentTests
{
    private static readonly string[] Extenders = ["swe", "random", "kaiming"];

    private static SweInactiveOptions Tiny(int seeds = 2) =>
        new(["mnist"], [20], Extenders, seeds, 0, new StageTraining(0, true, 1, 3), 0.1, 2, 50, 1e-3, ExperimentScale.Quick);

    private static (InMemoryDataset Train, InMemoryDataset Test) Load(string name)
    {
        Assert.Equal("mnist", name);
        return (GrowthFixtures.Random(400, 784, 10, 1), GrowthFixtures.Random(100, 784, 10, 2));
    }

    private static IReadOnlyList<PaperNumber> Paper(string dir)
    {
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, RunFiles.Report)))!.AsObject();
        return report["paper"]?.Deserialize<List<PaperNumber>>(RunFiles.JsonOptions) ?? [];
    }

    [Fact]
    public void RunGroupsPerWidthAndExtenderWithThePapersFiguresBesideOurs()
    {
        using var dir = new ReportDir("swe-inactive-groups");
        var o = Tiny();
        var rows = SweInactiveExperiment.Run(o, Load, dir.Path);
        Assert.Equal(Extenders.Length * 2, rows.Count);

        for (int seed = 0; seed < 2; seed++)
        {
            string[]? pretraining = null;
            foreach (var e in Extenders)
            {
                string run = ExperimentRuns.SeedFolder(SweInactiveExperiment.GroupFolder(dir.Path, "mnist", 20, e), seed);
                var row = rows.Single(r => r.Extender == e && r.Seed == seed);
                var cfg = RunConfig.FromJson(File.ReadAllText(Path.Combine(run, RunFiles.Config)));
                Assert.Equal(SweInactiveExperiment.RunConfigFor(o, "mnist", 20, e, seed, 784, 10).ToJson(), cfg.ToJson());
                Assert.Equal(e, cfg.Growth.Extender.Label);
                Assert.Equal(GrowthStatePolicy.Reset, cfg.Growth.OptimizerOnGrowth);

                // metrics.csv: the pre-training, then the post-growth epochs at twice the width
                var metrics = MetricsTable.Read(Path.Combine(run, RunFiles.Metrics));
                var initial = metrics.Rows.Where(r => r.Phase == "initial").ToArray();
                Assert.Equal(row.PretrainEpochs, initial.Length);
                Assert.All(initial, r => Assert.Equal([20], r.Widths));
                var post = metrics.Rows.Where(r => r.Phase == "stage").ToArray();
                Assert.Equal([1, 2], post.Select(r => r.Epoch));
                Assert.All(post, r => Assert.Equal([40], r.Widths));

                // every extender of a seed starts from the same pre-training: the same lines, byte for byte
                var lines = File.ReadAllLines(Path.Combine(run, RunFiles.Metrics))[..(1 + initial.Length)];
                if (pretraining is null) pretraining = lines;
                else Assert.Equal(pretraining, lines);

                // events.jsonl: the doubling, one event
                var ev = Assert.Single(GrowthEvent.ReadAll(Path.Combine(run, RunFiles.Events)));
                Assert.Equal((1, 20, 20, e, "fixed"), (ev.Stage, ev.WidthBefore, ev.Added, ev.Extender, ev.Distributor));
                Assert.Equal(metrics.Layers[0], ev.Layer);
                Assert.Equal(100.0 * ev.InactiveAtStageEnd / 20, row.NewInactivePct, 9);
                Assert.Equal(100.0 * ev.InactiveAtInsertion / 20, row.NewInactiveAtInsertionPct, 9);
                // the method's own cost beside the whole step's: distribute and extend are timed alone, inside the step
                Assert.True(ev.DistributeSeconds >= 0 && ev.ExtendSeconds >= 0, $"{ev.DistributeSeconds} {ev.ExtendSeconds}");
                Assert.True(ev.DistributeSeconds + ev.ExtendSeconds <= ev.Seconds, $"{ev.DistributeSeconds} + {ev.ExtendSeconds} > {ev.Seconds}");

                // report.json: the run's own report, and the paper's figure beside this seed's
                var paper = Paper(run);
                if (e == "kaiming") Assert.Empty(paper);   // the paper did not run it
                else
                {
                    var p = Assert.Single(paper);
                    Assert.Equal(SweInactiveExperiment.PaperTable, p.Table);
                    Assert.Equal(SweInactiveExperiment.PaperTable1["mnist"][e][0], p.Paper);
                    Assert.Equal(row.NewInactivePct, p.Ours);
                    Assert.True(double.IsNaN(p.OursStd));
                }
                Assert.Contains("finalTestAccuracy", File.ReadAllText(Path.Combine(run, RunFiles.Report)), StringComparison.Ordinal);
            }
        }

        foreach (var e in Extenders)
        {
            string group = SweInactiveExperiment.GroupFolder(dir.Path, "mnist", 20, e);
            var seeds = rows.Where(r => r.Extender == e).Select(r => r.NewInactivePct).ToArray();
            var files = RunReport.Write(group);
            string md = File.ReadAllText(files.Markdown);
            foreach (var chart in new[] { "loss", "accuracy", "widths", "inactivity" }) Assert.Contains(files.Charts, c => c.Name == chart);
            if (e == "kaiming")
            {
                Assert.Empty(Paper(group));
                Assert.DoesNotContain("Paper and ours", md, StringComparison.Ordinal);
                continue;
            }
            // the group's figure: mean ± sample std over the seeds
            var p = Assert.Single(Paper(group));
            var (mean, std) = SweInactiveExperiment.MeanStd(seeds);
            Assert.Equal(mean, p.Ours, 9);
            Assert.Equal(std, p.OursStd, 9);
            Assert.Contains("Paper and ours", md, StringComparison.Ordinal);
            Assert.Contains("000 Table 1", md, StringComparison.Ordinal);
            Assert.Contains(e == "swe" ? "MNIST, 20→40 neurons, SWE" : "MNIST, 20→40 neurons, Random", md, StringComparison.Ordinal);
            Assert.Contains("new neurons inactive after 2 epochs (%)", File.ReadAllText(files.Html), StringComparison.Ordinal);
        }

        var cmp = RunComparison.Write(Extenders.Select(e => SweInactiveExperiment.GroupFolder(dir.Path, "mnist", 20, e)).ToArray(), dir.Sub("compare"));
        Assert.Contains(cmp.Charts, c => c.Name == "compare-accuracy");

        // the results table is still made from the rows, and a second call on the same folder reads the runs back
        Assert.Contains("| mnist | 20→40 |", SweInactiveExperiment.Markdown(o, rows), StringComparison.Ordinal);
        var again = SweInactiveExperiment.Run(o, Load, dir.Path);
        Assert.Equal(rows.Select(r => r with { Seconds = 0 }), again.Select(r => r with { Seconds = 0 }));
    }

    [Fact]
    public void ABranchedRunIsTheRunItsConfigMakesFromTheStart()
    {
        using var dir = new ReportDir("swe-inactive-branch");
        using var alone = new ReportDir("swe-inactive-alone");
        var o = Tiny(seeds: 1);

        // stopped before the first epoch: nothing branched yet; the second call pre-trains, branches and finishes
        var stop = new StopSignal();
        stop.Request();
        Assert.Throws<TrainingInterruptedException>(() => SweInactiveExperiment.Run(o, Load, dir.Path, stop: stop));
        Assert.False(RunFiles.IsRun(ExperimentRuns.SeedFolder(SweInactiveExperiment.GroupFolder(dir.Path, "mnist", 20, "random"), 0)));
        var rows = SweInactiveExperiment.Run(o, Load, dir.Path);
        Assert.Equal(Extenders.Length, rows.Count);

        // "random" ran from swe's pre-trained network; its config alone, from the start, gives the same run bit for bit
        var (full, test) = Load("mnist");
        var cfg = SweInactiveExperiment.RunConfigFor(o, "mnist", 20, "random", 0, 784, 10);
        var (train, val) = RunData.TrainValidation(full, cfg.TrainSamples, cfg.ValidationFraction, new Rng(cfg.Growth.Seed).Fork("split"));
        var report = RunSession.Create(cfg, alone.Path).Run(train, val, test);
        string branched = ExperimentRuns.SeedFolder(SweInactiveExperiment.GroupFolder(dir.Path, "mnist", 20, "random"), 0);
        SweDeepExperimentTests.AssertSameWeights(branched, alone.Path);
        Assert.Equal(SweInactiveExperiment.Row("mnist", 20, "random", 0, report) with { Seconds = 0 }, rows.Single(r => r.Extender == "random") with { Seconds = 0 });
        var a = MetricsTable.Read(Path.Combine(branched, RunFiles.Metrics)).Rows;
        var b = MetricsTable.Read(Path.Combine(alone.Path, RunFiles.Metrics)).Rows;
        Assert.Equal(b.Select(r => (r.Stage, r.Phase, r.Epoch, r.TrainLoss, r.ValLoss, r.ValAccuracy)), a.Select(r => (r.Stage, r.Phase, r.Epoch, r.TrainLoss, r.ValLoss, r.ValAccuracy)));
        var ea = Assert.Single(GrowthEvent.ReadAll(Path.Combine(branched, RunFiles.Events)));
        var eb = Assert.Single(GrowthEvent.ReadAll(Path.Combine(alone.Path, RunFiles.Events)));
        Assert.Equal((eb.InactiveAtInsertion, eb.InactiveAtStageEnd, eb.MaxOutputChange, eb.CosineMean), (ea.InactiveAtInsertion, ea.InactiveAtStageEnd, ea.MaxOutputChange, ea.CosineMean));
        // the branch's last checkpoint names its own config
        var ck = CheckpointFile.Load(RunFiles.LastCheckpoint(branched));
        Assert.Equal("random", GrowthRunConfig.FromJson(ck.GetMetadata(GrowthRunner.ConfigKey)).Extender.Label);
    }

    [Fact]
    public void ProtocolOptionsReachEveryRunConfigAndDefaultsLeaveThemAsBefore()
    {
        var d = Tiny();
        var plain = SweInactiveExperiment.RunConfigFor(d, "mnist", 20, "random", 0, 784, 10);
        Assert.Equal(InputScaling.Standardize, plain.InputScaling);
        Assert.Equal(TrainingOptimizer.Adam, plain.Growth.Optimizer);
        Assert.Null(((RandomConfig)plain.Growth.Extender).NormalStd);
        Assert.DoesNotContain("input", d.Describe(), StringComparison.Ordinal);
        var o = d with { Scaling = InputScaling.Raw, Optimizer = TrainingOptimizer.Sgd, Momentum = 0.9, LearningRate = 0.01, NewInitStd = 1 };
        var r = SweInactiveExperiment.RunConfigFor(o, "mnist", 20, "random", 0, 784, 10);
        Assert.Equal(InputScaling.Raw, r.InputScaling);
        Assert.Equal(TrainingOptimizer.Sgd, r.Growth.Optimizer);
        Assert.Equal(0.9, r.Growth.Momentum);
        Assert.Equal(1.0, ((RandomConfig)r.Growth.Extender).NormalStd);
        Assert.Equal(1.0, ((FrobeniusConfig)SweInactiveExperiment.RunConfigFor(o, "mnist", 20, "frobenius", 0, 784, 10).Growth.Extender).NormalStd);
        // the other extenders are not random inits: untouched
        Assert.Equal(GrowthMethods.Extender("swe-plus"), SweInactiveExperiment.RunConfigFor(o, "mnist", 20, "swe-plus", 0, 784, 10).Growth.Extender);
        r.Validate();
        Assert.Contains("raw pixels 0..255", o.Describe(), StringComparison.Ordinal);
        Assert.Contains("SGD (momentum 0.9)", o.Describe(), StringComparison.Ordinal);
        Assert.Contains("N(0, 1²)", o.Describe(), StringComparison.Ordinal);
        Assert.Contains("for 20 epochs (no early stopping)", (o with { Pretrain = new StageTraining(20) }).Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void BadProtocolOptionsFailBeforeAnyTraining()
    {
        string dir = Directory.CreateTempSubdirectory("sprout-swe-inactive-bad-").FullName;
        try
        {
            var e = Assert.Throws<ArgumentException>(() => SweInactiveExperiment.Run(Tiny() with { NewInitStd = 0 }, Load, dir));
            Assert.Contains("new-neuron init std must be in (0, 1000]", e.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => SweInactiveExperiment.Run(Tiny() with { Scaling = (InputScaling)9 }, Load, dir));
            Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void TheRawSgdProtocolSetsRawPixelsAndSgdAndTheDefaultChangesNothing()
    {
        var d = Tiny();
        Assert.Equal(d, d.WithProtocol("default"));
        var r = d.WithProtocol("raw-sgd");
        Assert.Equal((InputScaling.Raw, TrainingOptimizer.Sgd, 0.01, 0.0), (r.Scaling, r.Optimizer, r.LearningRate, r.Momentum));
        Assert.Equal(d with { Scaling = r.Scaling, Optimizer = r.Optimizer, LearningRate = r.LearningRate }, r);
        var e = Assert.Throws<ArgumentException>(() => d.WithProtocol("paper"));
        Assert.Equal("unknown swe-inactive protocol 'paper' (known: default, raw-sgd)", e.Message);
    }
}
