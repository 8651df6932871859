using System.Xml.Linq;
using Sprout.Growth;
using Sprout.Reporting;
using Sprout.Runs;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Reporting;

/// <summary>A report of a real (tiny) growth run written by <see cref="RunSession"/>, not of fixture files.</summary>
public class RealRunReportTests
{
    [Fact]
    public void AReportOfARealGrowthRunHasEveryChart()
    {
        string dir = Directory.CreateTempSubdirectory("sprout-real-run-").FullName;
        try
        {
            var growth = new GrowthRunConfig([2, 6, 6, 2], GrowthSchedule.FromPercent(50, 2), GrowthMethods.Extender("swe-plus"),
                GrowthMethods.Distributor("svod"), InitialTraining: new StageTraining(2), StageTraining: new StageTraining(1), Seed: 3,
                DiagnosticBatch: 200);
            var session = RunSession.Create(new RunConfig("grow", "tiny", "spirals", growth, TrainSamples: 1000, Threads: 1), dir);
            var (full, test) = RunData.Load("spirals", null);
            var (train, val) = RunData.TrainValidation(full, 1000, 0.1, new Rng(3).Fork("split"));
            var report = session.Run(train, val, test);
            Assert.Equal(2, report.Stages.Count);

            // the run folder holds what docs/runs.md promises
            var metrics = MetricsTable.Read(Path.Combine(dir, RunFiles.Metrics));
            Assert.Equal(["fc1", "fc2"], metrics.Layers);   // the growable layers' names
            Assert.Equal(2 + 1 + 1, metrics.Rows.Count);   // initial epochs + one per stage
            Assert.Equal(report.FinalWidths, metrics.Rows[^1].Widths);
            Assert.All(metrics.Rows, r => Assert.False(double.IsNaN(r.ValLoss)));
            var events = GrowthEvent.ReadAll(Path.Combine(dir, RunFiles.Events));
            Assert.Equal(2 * 2, events.Count);             // two stages × two layers
            Assert.Equal(report.Stages.Sum(s => s.Total), events.Sum(e => e.Added));
            Assert.True(File.Exists(RunFiles.LastCheckpoint(dir)));
            Assert.True(File.Exists(RunFiles.BestCheckpoint(dir)));

            var files = RunReport.Write(dir);
            var names = files.Charts.Select(c => c.Name).ToHashSet();
            foreach (var expected in new[] { "loss", "accuracy", "widths", "inactivity" }) Assert.Contains(expected, names);
            Assert.Contains(names, n => n.StartsWith("cosine-", StringComparison.Ordinal));
            foreach (var chart in files.Charts)
            {
                var svg = XDocument.Load(chart.Svg);
                Assert.True(svg.Descendants().Count(e => e.Name.LocalName is "path" or "polyline" or "rect" or "line") > 10, chart.Name);
                Assert.True(new FileInfo(chart.Png).Length > 1000, chart.Name);
            }
            string html = File.ReadAllText(files.Html);
            Assert.Equal(files.Charts.Count, html.Split("<svg").Length - 1);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
