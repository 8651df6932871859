using Xunit;
using static Sprout.Tests.Cli.CliHarness;

namespace Sprout.Tests.Cli;

/// <summary>The options of <c>experiment swe-reconstruction</c> and <c>swe-classification</c>: bad ones get one clear line.</summary>
[Collection("Workers")]
public class SweGrowthCliTests
{
    [Fact]
    public void BadOptionsGetOneClearLine()
    {
        var (code, _, err) = Run("experiment", "swe-reconstruction", "--methods", "swe,nope");
        Assert.Equal(2, code);
        AssertOneLineError(err, "unknown method 'nope'");
        (code, _, err) = Run("experiment", "swe-classification", "--methods", "swe+nope");
        Assert.Equal(2, code);
        AssertOneLineError(err, "distributor 'nope' is not a preset");
        (code, _, err) = Run("experiment", "swe-reconstruction", "--dataset", "cifar10");
        Assert.Equal(2, code);
        AssertOneLineError(err, "reconstruction experiment runs on mnist and fashion-mnist");
        (code, _, err) = Run("experiment", "swe-reconstruction", "--input-scaling", "standardize");
        Assert.Equal(2, code);
        AssertOneLineError(err, "a sigmoid output cannot reconstruct standardised inputs");
        (code, _, err) = Run("experiment", "swe-reconstruction", "--baseline-budget", "forever");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--baseline-budget must be total or stage");
        (code, _, err) = Run("experiment", "swe-classification", "--validation", "1.5");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--validation must be a number");
        (code, _, err) = Run("experiment", "swe-classification", "--layers", "two");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--layers must be");
        (code, _, err) = Run("experiment", "swe-classification", "--patience", "0");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--patience");
    }

    [Fact]
    public void EvalOfAReconstructionRunReportsItsMse()
    {
        string dir = Directory.CreateTempSubdirectory("sprout-recon-eval-").FullName;
        try
        {
            var growth = new Sprout.Growth.GrowthRunConfig([2, 2, 2], Sprout.Growth.GrowthSchedule.FromTotals(1),
                Sprout.Growth.GrowthMethods.Extender("kaiming"), Sprout.Growth.GrowthMethods.Distributor("ras"),
                new Sprout.Growth.StageTraining(2), new Sprout.Growth.StageTraining(1), Task: Sprout.Growth.GrowthTask.Reconstruction);
            var session = Sprout.Runs.RunSession.Create(new Sprout.Runs.RunConfig("test", "recon", "spirals", growth), dir);
            var (full, test) = Sprout.Runs.RunData.Load("spirals", null);
            var report = session.Run(full, test, test);
            var (code, output, err) = Run("eval", dir, "--json");
            Assert.True(code == 0, err);
            using var doc = System.Text.Json.JsonDocument.Parse(output);
            Assert.Equal(report.FinalTestLoss, doc.RootElement.GetProperty("loss").GetDouble(), 6);
            Assert.Equal(System.Text.Json.JsonValueKind.Null, doc.RootElement.GetProperty("accuracy").ValueKind);
            (code, output, _) = Run("eval", dir);
            Assert.Equal(0, code);
            Assert.Contains("reconstruction loss (MSE)", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void MissingDataIsOneLine()
    {
        string empty = Directory.CreateTempSubdirectory("sprout-no-data-").FullName;
        try
        {
            var (code, _, err) = Run("experiment", "swe-classification", "--dataset", "cifar100", "--data-dir", empty, "--out", Path.Combine(empty, "out"));
            Assert.Equal(1, code);
            AssertOneLineError(err, "cifar100 is not in the data folder");
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }
}
