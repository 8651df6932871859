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
