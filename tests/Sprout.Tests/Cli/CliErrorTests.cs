using Xunit;
using static Sprout.Tests.Cli.CliHarness;

namespace Sprout.Tests.Cli;

/// <summary>Bad input gets one clear line on stderr and a non-zero exit, never a stack trace.</summary>
// Cli.Run applies --threads (default: all cores) to the process-wide Workers.Threads: run with the tests that depend
// on it, never beside them, and restore it afterwards. The tests also swap Console.Out/Error.
[Collection("Workers")]
public class CliErrorTests
{
    [Fact]
    public void UnknownCommandAndOption()
    {
        var (code, _, err) = Run("frobnicate");
        Assert.Equal(2, code);
        AssertOneLineError(err, "unknown command 'frobnicate'");
        (code, _, err) = Run("run", "--bogus", "1");
        Assert.Equal(2, code);
        AssertOneLineError(err, "unknown option --bogus");
        (code, _, err) = Run("run", "--stages", "zero");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--stages must be an integer");
    }

    [Fact]
    public void SweDeepOptionsAreChecked()
    {
        var (code, _, err) = Run("experiment", "swe-deep", "--optimizer-on-growth", "lukewarm");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--optimizer-on-growth must be keep, reset or warm");
        (code, _, err) = Run("experiment", "swe-deep", "--optimizer-on-growth", "1");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--optimizer-on-growth");
        (code, _, err) = Run("experiment", "swe-deep", "--extenders", "swe-plus,nope");
        Assert.Equal(2, code);
        AssertOneLineError(err, "unknown extender 'nope'");
        (code, _, err) = Run("experiment", "swe-deep", "--weight-decay", "-1");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--weight-decay");
    }

    [Fact]
    public void SweInactiveProtocolOptionsAreChecked()
    {
        var (code, _, err) = Run("experiment", "swe-inactive", "--optimizer", "rmsprop");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--optimizer must be adam, adaml2 or sgd");
        (code, _, err) = Run("experiment", "swe-inactive", "--momentum", "0.9");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--momentum is an SGD setting");
        (code, _, err) = Run("experiment", "swe-inactive", "--new-init-std", "2");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--new-init-std needs --new-init normal or normal-all");
        (code, _, err) = Run("experiment", "swe-inactive", "--new-init", "xavier");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--new-init");
        (code, _, err) = Run("experiment", "swe-inactive", "--input-scaling", "minmax");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--input-scaling");
        (code, _, err) = Run("experiment", "swe-inactive", "--protocol", "paper");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--protocol must be default or raw-sgd");
        (code, _, err) = Run("experiment", "swe-inactive", "--pretrain-epochs", "0");
        Assert.Equal(2, code);
        AssertOneLineError(err, "--pretrain-epochs");
    }

    [Fact]
    public void MissingAndInvalidConfigs()
    {
        string missing = Path.Combine(Path.GetTempPath(), "sprout-no-such-" + Guid.NewGuid().ToString("N") + ".json");
        var (code, _, err) = Run("run", "--config", missing);
        Assert.Equal(1, code);
        AssertOneLineError(err, "does not exist");
        string bad = Path.GetTempFileName();
        try
        {
            File.WriteAllText(bad, "{\"widths\": [784, 0, 10], \"schedule\": {\"percent\": 50, \"stages\": 1}}");
            (code, _, err) = Run("experiment", "grow", "--config", bad);
            Assert.Equal(1, code);
            AssertOneLineError(err, "widths must be positive");
            File.WriteAllText(bad, "{ not json");
            (code, _, err) = Run("run", "--config", bad);
            Assert.Equal(1, code);
            AssertOneLineError(err, "sprout: error:");
        }
        finally { File.Delete(bad); }
    }

    [Fact]
    public void MissingDataSetIsNamed()
    {
        string empty = Directory.CreateTempSubdirectory("sprout-empty-").FullName;
        try
        {
            var (code, _, err) = Run("experiment", "swe-inactive", "--dataset", "mnist", "--data-dir", empty);
            Assert.Equal(1, code);
            AssertOneLineError(err, "mnist is not in the data folder");
        }
        finally { Directory.Delete(empty, recursive: true); }
    }
}
