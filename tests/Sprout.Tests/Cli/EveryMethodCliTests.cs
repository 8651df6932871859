using System.Text.Json;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Runs;
using Xunit;

namespace Sprout.Tests.Cli;

/// <summary>
/// Every registered growth method runs from <c>sprout grow</c>: with options on an MLP and from a config file on a
/// conv net (conv → conv and conv → Flatten → Linear sites, BatchNorm), writing its events to the run folder.
/// </summary>
[Collection("Workers")]
public class EveryMethodCliTests
{
    // Firefly's and SSD's extenders pair with their own distributors (global selection); the others with RAS
    private static string DistributorFor(string extender) =>
        GrowthMethods.DistributorPresets.Contains(extender) ? extender : "ras";

    // the library's own presets (a test elsewhere registers one of its own, which the CLI's option list predates)
    public static TheoryData<string> Extenders => new(GrowthMethods.ExtenderPresets.Where(e => !e.StartsWith("test-", StringComparison.Ordinal)));

    public static TheoryData<string> Distributors => new(GrowthMethods.DistributorPresets.Where(d => d != "fixed" && !d.StartsWith("test-", StringComparison.Ordinal)));

    private static void AssertEvents(string run, string extender, string distributor, int sites)
    {
        var events = GrowthEvent.ReadAll(Path.Combine(run, RunFiles.Events));
        Assert.Equal(sites, events.Count);
        Assert.All(events, e =>
        {
            Assert.Equal((1, extender, distributor), (e.Stage, e.Extender, e.Distributor));
            Assert.True(e.ExtendSeconds >= 0 && e.DistributeSeconds >= 0);
        });
        Assert.True(events.Sum(e => e.Added) > 0);
    }

    [Theory]
    [MemberData(nameof(Extenders))]
    public void EachExtenderGrowsAnMlpFromOptions(string extender)
    {
        string dir = Directory.CreateTempSubdirectory("sprout-method-").FullName;
        try
        {
            string run = Path.Combine(dir, "run"), dist = DistributorFor(extender);
            var (code, _, err) = CliHarness.Run("grow", "--dataset", "spirals", "--widths", "2-6-6-2", "--extender", extender,
                "--distributor", dist, "--stages", "1", "--grow-percent", "50", "--epochs", "1", "--train-samples", "300",
                "--threads", "1", "--no-progress", "--out", run);
            Assert.True(code == 0, err);
            AssertEvents(run, extender, dist, 2);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [MemberData(nameof(Extenders))]
    public void EachExtenderGrowsAConvNetFromAConfigFile(string extender)
    {
        string dir = Directory.CreateTempSubdirectory("sprout-method-").FullName;
        try
        {
            // the two spiral coordinates as two 1×1 channels: conv1 → conv2 → Flatten → Linear, BatchNorm after each conv
            var model = new SequentialConfig([
                new Conv2dConfig(2, 4, 1, Bias: false), new BatchNormConfig(4), ActivationConfig.Relu,
                new Conv2dConfig(4, 4, 1, Bias: false), new BatchNormConfig(4), ActivationConfig.Relu,
                new FlattenConfig(), new LinearConfig(4, 6), ActivationConfig.Relu, new LinearConfig(6, 2)]);
            string dist = DistributorFor(extender);
            var cfg = new GrowthRunConfig([], GrowthSchedule.FromTotals(6), GrowthMethods.Extender(extender), GrowthMethods.Distributor(dist),
                new StageTraining(1), new StageTraining(1), BatchSize: 50, Seed: 3, DiagnosticBatch: 100, Model: model, InputShape: [2, 1, 1]);
            string file = Path.Combine(dir, "grow.json"), run = Path.Combine(dir, "run");
            File.WriteAllText(file, cfg.ToJson());
            var (code, _, err) = CliHarness.Run("grow", "--dataset", "spirals", "--config", file, "--train-samples", "300",
                "--threads", "1", "--no-progress", "--out", run);
            Assert.True(code == 0, err);
            AssertEvents(run, extender, dist, 3);
            using var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, RunFiles.Config)));
            Assert.Contains(extender, saved.RootElement.ToString());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [MemberData(nameof(Distributors))]
    public void EachDistributorAllocatesAnMlpsGrowth(string distributor)
    {
        string dir = Directory.CreateTempSubdirectory("sprout-method-").FullName;
        try
        {
            string run = Path.Combine(dir, "run");
            var (code, _, err) = CliHarness.Run("grow", "--dataset", "spirals", "--widths", "2-6-6-2", "--extender", "random",
                "--distributor", distributor, "--stages", "1", "--epochs", "1", "--train-samples", "300",
                "--threads", "1", "--no-progress", "--out", run);
            Assert.True(code == 0, err);
            AssertEvents(run, "random", distributor, 2);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
