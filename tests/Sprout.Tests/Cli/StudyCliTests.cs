using Xunit;
using static Sprout.Tests.Cli.CliHarness;

namespace Sprout.Tests.Cli;

/// <summary>The options of <c>experiment wib-relu</c> and <c>experiment fcn-translation</c>: bad ones get one clear line and exit 2 before any training.</summary>
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

    [Theory]
    [InlineData("unknown data set 'fashion-mnist'", "--dataset", "fashion-mnist")]
    [InlineData("unknown architecture 'vit'", "--architectures", "cnn,vit")]
    [InlineData("is not a level in [0, 1]", "--translation", "0,1.5")]
    [InlineData("is not a level in [0, 0.999]", "--vcp", "1")]
    [InlineData("fold 7 is not in 0..4", "--run-folds", "0,7")]
    [InlineData("--folds", "--folds", "1")]
    [InlineData("--vcp-mask must be", "--vcp-mask", "random")]
    [InlineData("--pool-samples must be 0 (all) or ≥ 100", "--pool-samples", "10")]
    [InlineData("no run", "--translation", "none", "--edge-noise", "none", "--noise", "none", "--rotation", "none", "--vcp", "none")]
    public void FcnTranslationBadOptionsGetOneClearLine(string message, params string[] args)
    {
        var (code, _, err) = Run(["experiment", "fcn-translation", .. args]);
        Assert.Equal(2, code);
        AssertOneLineError(err, message);
    }

    [Fact]
    public void FcnTranslationHelpListsTheOptions()
    {
        var (code, output, _) = Run("experiment", "fcn-translation", "--help");
        Assert.Equal(0, code);
        foreach (var o in new[] { "--architectures", "--translation", "--edge-noise", "--noise", "--rotation", "--vcp", "--folds", "--run-folds", "--pool-samples", "--patience", "--radii" })
            Assert.Contains(o, output, StringComparison.Ordinal);
    }
}
