using Xunit;

namespace Sprout.Tests.Cli;

/// <summary>Bad input gets one clear line on stderr and a non-zero exit, never a stack trace.</summary>
// Cli.Run applies --threads (default: all cores) to the process-wide Workers.Threads: run with the tests that depend
// on it, never beside them, and restore it afterwards. The tests also swap Console.Out/Error.
[Collection("Workers")]
public class CliErrorTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var outW = new StringWriter();
        var errW = new StringWriter();
        var (o, e) = (Console.Out, Console.Error);
        int threads = Sprout.Kernels.Workers.Threads;
        Console.SetOut(outW);
        Console.SetError(errW);
        try { return (Sprout.Cli.Cli.Run(args), outW.ToString(), errW.ToString()); }
        finally
        {
            Console.SetOut(o);
            Console.SetError(e);
            Sprout.Kernels.Workers.Threads = threads;
        }
    }

    private static void AssertOneLineError(string err, string contains)
    {
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("sprout", lines[0]);
        Assert.Contains(contains, lines[0]);
        Assert.DoesNotContain("   at ", err); // no stack trace
    }

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
    public void MissingAndInvalidConfigs()
    {
        string missing = Path.Combine(Path.GetTempPath(), "sprout-no-such-" + Guid.NewGuid().ToString("N") + ".json");
        var (code, _, err) = Run("run", "--config", missing);
        Assert.Equal(1, code);
        AssertOneLineError(err, "file is missing");
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
