using Xunit;
using static Sprout.Tests.Cli.CliHarness;

namespace Sprout.Tests.Cli;

/// <summary>The options of <c>experiment wib-relu</c>: bad ones get one clear line and exit 2 before any training.</summary>
[Collection("Workers")]
public class StudyCliTests
{
    [Theory]
    [InlineData("unknown activation 'gelu'", "--activations", "relu,gelu")]
    [InlineData("unknown model 'resnet'", "--models", "resnet")]
    [InlineData("unknown initialisation 'orthogonal'", "--inits", "pytorch,orthogonal")]
    [InlineData("--init must be", "--init", "xavier")]
    [InlineData("--lr must be in (0, 10]", "--lr", "0")]
    [InlineData("--epochs", "--epochs", "0")]
    [InlineData("--near-zero-std must be in [0, 100]", "--near-zero-std", "-1")]
    [InlineData("unknown data set 'imagenet'", "--dataset", "imagenet")]
    [InlineData("--stats-every", "--stats-every", "0")]
    public void WibReluBadOptionsGetOneClearLine(string message, params string[] args)
    {
        var (code, _, err) = Run(["experiment", "wib-relu", .. args]);
        Assert.Equal(2, code);
        AssertOneLineError(err, message);
    }

    [Fact]
    public void WibReluHelpListsTheOptions()
    {
        var (code, output, _) = Run("experiment", "wib-relu", "--help");
        Assert.Equal(0, code);
        foreach (var o in new[] { "--activations", "--inits", "--init-activations", "--models", "--epochs", "--stats-steps", "--near-zero-std", "--scale", "--out" })
            Assert.Contains(o, output, StringComparison.Ordinal);
    }
}
