using Sprout.Experiments;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Reporting;
using Sprout.Runs;
using Sprout.Tests.Reporting;
using Sprout.Training;
using Xunit;
using RunData = Sprout.Runs.RunData;

namespace Sprout.Tests.Experiments;

/// <summary>
/// <c>experiment swe-deep</c> at a tiny scale on the generated two-spirals set: one run group per extender, each member a
/// real run folder that reports, compares and continues.
/// </summary>
[Collection("Workers")]
public class SweDeepExperimentTests
{
    private static readonly string[] Extenders = ["swe", "random"];

    private static SweDeepOptions Tiny(int seeds = 2) => new("spirals", Extenders, "svod", seeds, 600, 4,
        GrowthSchedule.FromPercent(50, 2), new StageTraining(2), new StageTraining(0, true, 1, 2), ExperimentScale.Quick);

    private static (InMemoryDataset Full, InMemoryDataset Test) Data() => RunData.Load("spirals", null);

    [Fact]
    public void EachExtenderIsARunGroupOfValidRunFolders()
    {
        using var dir = new ReportDir("swe-deep-groups");
        var o = Tiny();
        var (full, test) = Data();
        var runs = SweDeepExperiment.Run(o, full, test, dir.Path);
        Assert.Equal(Extenders.Order(StringComparer.Ordinal), runs.Keys.Order(StringComparer.Ordinal));
        foreach (var e in Extenders)
        {
            string group = SweDeepExperiment.GroupFolder(dir.Path, e);
            Assert.Equal(new[] { "seed-0", "seed-1" }, RunFiles.GroupMembers(group).Select(Path.GetFileName));
            for (int seed = 0; seed < 2; seed++)
            {
                string run = ExperimentRuns.SeedFolder(group, seed);
                var rep = runs[e][seed];
                // config.json: the fully resolved config of this member, as the experiment made it
                var cfg = RunConfig.FromJson(File.ReadAllText(Path.Combine(run, RunFiles.Config)));
                Assert.Equal(SweDeepExperiment.RunConfigFor(o, e, seed, 2, 2).ToJson(), cfg.ToJson());
                Assert.Equal((ulong)seed, cfg.Growth.Seed);
                Assert.Equal(e, cfg.Growth.Extender.Label);

                var metrics = MetricsTable.Read(Path.Combine(run, RunFiles.Metrics));
                Assert.Equal(3, metrics.Layers.Count);
                Assert.Equal(2, metrics.Rows.Count(r => r.Phase == "initial"));
                Assert.Equal(rep.Stages.Sum(s => s.Epochs), metrics.Rows.Count(r => r.Phase == "stage"));
                Assert.Equal(rep.FinalWidths, metrics.Rows[^1].Widths);

                var events = GrowthEvent.ReadAll(Path.Combine(run, RunFiles.Events));
                Assert.Equal(2 * 3, events.Count);   // 2 stages × 3 layers
                Assert.All(events, ev => Assert.Equal(e, ev.Extender));
                Assert.Equal(rep.Stages.Sum(s => s.Total), events.Sum(ev => ev.Added));

                Assert.True(File.Exists(RunFiles.LastCheckpoint(run)));
                Assert.True(File.Exists(RunFiles.BestCheckpoint(run)));
                Assert.Equal(GrowthPhase.Done, GrowthRunner.ReadState(CheckpointFile.Load(RunFiles.LastCheckpoint(run))).Phase);
                string report = File.ReadAllText(Path.Combine(run, RunFiles.Report));
                Assert.Contains("finalTestAccuracy", report, StringComparison.Ordinal);
            }

            var files = RunReport.Write(group);
            var names = files.Charts.Select(c => c.Name).ToArray();
            foreach (var chart in new[] { "loss", "accuracy", "widths", "inactivity" }) Assert.Contains(chart, names);
            string md = File.ReadAllText(files.Markdown);
            Assert.Contains("(2 seeds)", md, StringComparison.Ordinal);
            Assert.Contains("mean ± std", md, StringComparison.Ordinal);
            Assert.DoesNotContain("Paper and ours", md, StringComparison.Ordinal);   // swe-deep has no published figures
        }

        var cmp = RunComparison.Write(Extenders.Select(e => SweDeepExperiment.GroupFolder(dir.Path, e)).ToArray(), dir.Sub("compare"));
        Assert.Contains(cmp.Charts, c => c.Name == "compare-loss");
        string cmd = File.ReadAllText(cmp.Markdown);
        foreach (var e in Extenders) Assert.Contains(e, cmd, StringComparison.Ordinal);

        // the summary table keeps working on the reports
        var summary = SweDeepExperiment.Summarise(runs);
        Assert.Equal(2, summary.Count);
        Assert.All(summary, s => Assert.InRange(s.FinalTestMean, 0, 100));
    }

    [Fact]
    public void AStoppedExperimentContinuesToTheSameRunsAsAnUninterruptedOne()
    {
        using var whole = new ReportDir("swe-deep-whole");
        using var split = new ReportDir("swe-deep-split");
        var o = Tiny(seeds: 1);
        var (full, test) = Data();
        var uninterrupted = SweDeepExperiment.Run(o, full, test, whole.Path);

        // stop during the second extender's first stage, then call the experiment again on the same folder
        var stop = new StopSignal();
        Assert.Throws<TrainingInterruptedException>(() => SweDeepExperiment.Run(o, full, test, split.Path, line =>
        {
            if (line.StartsWith("swe-deep-random-seed-0: initial", StringComparison.Ordinal)) stop.Request();
        }, stop));
        string random = ExperimentRuns.SeedFolder(SweDeepExperiment.GroupFolder(split.Path, "random"), 0);
        Assert.NotEqual(GrowthPhase.Done, GrowthRunner.ReadState(CheckpointFile.Load(RunFiles.LastCheckpoint(random))).Phase);
        var lines = new List<string>();
        var continued = SweDeepExperiment.Run(o, full, test, split.Path, lines.Add);
        Assert.Contains(lines, l => l.Contains("swe-deep-swe-seed-0: finished already", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("swe-deep-random-seed-0: continuing at", StringComparison.Ordinal));

        foreach (var e in Extenders)
        {
            Assert.Equal(uninterrupted[e][0].FinalWidths, continued[e][0].FinalWidths);
            Assert.Equal(uninterrupted[e][0].FinalTestAccuracy, continued[e][0].FinalTestAccuracy);
            string a = ExperimentRuns.SeedFolder(SweDeepExperiment.GroupFolder(whole.Path, e), 0);
            string b = ExperimentRuns.SeedFolder(SweDeepExperiment.GroupFolder(split.Path, e), 0);
            AssertSameWeights(a, b);
            // the logs were cut back to the checkpoint and continued: the same rows, none twice
            var ma = MetricsTable.Read(Path.Combine(a, RunFiles.Metrics)).Rows;
            var mb = MetricsTable.Read(Path.Combine(b, RunFiles.Metrics)).Rows;
            Assert.Equal(ma.Select(r => (r.Stage, r.Phase, r.Epoch, r.TrainLoss, r.ValLoss)), mb.Select(r => (r.Stage, r.Phase, r.Epoch, r.TrainLoss, r.ValLoss)));
            Assert.Equal(GrowthEvent.ReadAll(Path.Combine(a, RunFiles.Events)).Count, GrowthEvent.ReadAll(Path.Combine(b, RunFiles.Events)).Count);
        }
    }

    [Fact]
    public void AFolderHoldingARunOfAnotherConfigIsRefused()
    {
        using var dir = new ReportDir("swe-deep-other");
        var o = Tiny(seeds: 1) with { Extenders = ["random"] };
        var (full, test) = Data();
        SweDeepExperiment.Run(o, full, test, dir.Path);
        var other = o with { InitialWidth = 5 };
        var e = Assert.Throws<IOException>(() => SweDeepExperiment.Run(other, full, test, dir.Path));
        Assert.Contains("holds a run of another config", e.Message, StringComparison.Ordinal);
    }

    internal static void AssertSameWeights(string runA, string runB)
    {
        var a = CheckpointFile.Load(RunFiles.LastCheckpoint(runA));
        var b = CheckpointFile.Load(RunFiles.LastCheckpoint(runB));
        var names = a.TensorNames.Where(n => n.StartsWith("model/", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(names);
        Assert.Equal(names, b.TensorNames.Where(n => n.StartsWith("model/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        foreach (var n in names)
        {
            Assert.Equal(a.Get(n).Shape, b.Get(n).Shape);
            Assert.True(a.Get(n).Data.AsSpan().SequenceEqual(b.Get(n).Data), $"{n} differs between {runA} and {runB}");
        }
    }
}
