using Xunit;
using static Sprout.Tests.Cli.CliHarness;

namespace Sprout.Tests.Cli;

/// <summary>The options of <c>experiment similarity-growth</c>: bad ones get one clear line and exit 2 before any training.</summary>
[Collection("Workers")]
public class SimilarityGrowthCliTests
{
    [Theory]
    [InlineData("unknown model 'resnet'", "--models", "vgg16,resnet")]
    [InlineData("unknown method 'swe'", "--methods", "random,swe")]
    [InlineData("--n", "--n", "10,zero")]
    [InlineData("--n", "--n", "0")]
    [InlineData("is not a number", "--lambda", "0.1,abc")]
    [InlineData("--lr must be in (0, 10]", "--lr", "-1")]
    [InlineData("--momentum must be in [0, 1)", "--momentum", "1")]
    [InlineData("--percent must be in (0, 1000]", "--percent", "0")]
    [InlineData("need ≥ 32×32 inputs (--pad 2)", "--pad", "0")]
    [InlineData("unknown data set 'imagenet'", "--dataset", "imagenet")]
    [InlineData("--epochs-per-stage", "--epochs-per-stage", "0")]
    public void BadOptionsGetOneClearLine(string message, params string[] args)
    {
        var (code, _, err) = Run(["experiment", "similarity-growth", .. args]);
        Assert.Equal(2, code);
        AssertOneLineError(err, message);
    }

    [Fact]
    public void HelpListsTheOptions()
    {
        var (code, output, _) = Run("experiment", "similarity-growth", "--help");
        Assert.Equal(0, code);
        foreach (var o in new[] { "--models", "--methods", "--n", "--lambda", "--ablation", "--epochs-per-stage", "--pad", "--scale", "--seeds", "--out" })
            Assert.Contains(o, output, StringComparison.Ordinal);
    }
}
